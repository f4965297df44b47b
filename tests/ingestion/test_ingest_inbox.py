"""No file stops the inbox: every entry ends loaded, rejected or skipped with a Chinese reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_helpers import PAY_HEADER, Warehouse, pay_row, write_csv

from ingestion import load_inbox

FUNDWATCH = str(Path(sys.executable).with_name("fundwatch"))
GBK_NAME = "长沙县发放明细.csv".encode("gb18030")  # what a Windows zip unpacked on Linux leaves


def _hostile_inbox(inbox: Path, tmp_path: Path) -> None:
    write_csv(inbox / "good.csv", [PAY_HEADER, pay_row("T1")])
    write_csv(inbox / "sub/good2.csv", [PAY_HEADER, pay_row("T2")])
    with open(os.fsencode(inbox) + b"/" + GBK_NAME, "wb") as f:
        f.write((inbox / "good.csv").read_bytes().replace(b"T1", b"T9"))
    os.mkdir(os.fsencode(inbox) + b"/" + "备份".encode("gb18030"))
    (inbox / "loop1.csv").symlink_to("loop2.csv")
    (inbox / "loop2.csv").symlink_to("loop1.csv")
    (inbox / "dirloop").symlink_to("dirloop", target_is_directory=True)
    write_csv(tmp_path / "outside.csv", [PAY_HEADER, pay_row("OUT")])
    (inbox / "out.csv").symlink_to(tmp_path / "outside.csv")
    (inbox / "dangling.csv").symlink_to(inbox / "nowhere.csv")
    (inbox / "~$发放明细.xlsx").write_bytes(b"\x06\xe7\x8e\x8b\xe5\xae\xa1\xe6\xa0\xb8" + b" " * 150)


def test_a_hostile_inbox_loads_the_rest_and_accounts_for_every_entry(wh: Warehouse, inbox: Path, tmp_path: Path):
    _hostile_inbox(inbox, tmp_path)
    report = wh.load()
    assert wh.q("SELECT txn_ref FROM raw.payments ORDER BY 1") == [("T1",), ("T2",)]
    files = wh.files()
    bad_file = GBK_NAME.decode("utf-8", "backslashreplace")  # bytes that are not UTF-8 shown as \\xNN
    assert bad_file.startswith("\\xb3\\xa4")
    assert files[bad_file][0] == "skipped"  # source-files.md "Delivery": skipped with a reason
    assert "文件名不是 UTF-8 编码" in files[bad_file][1] and "按 GBK 读作“长沙县发放明细.csv”" in files[bad_file][1]
    bad_dir = "备份".encode("gb18030").decode("utf-8", "backslashreplace")
    assert files[bad_dir][0] == "skipped" and "文件夹名不是 UTF-8" in files[bad_dir][1]
    for name in ("loop1.csv", "loop2.csv"):
        assert files[name][:2] == ("skipped", "这是一个循环链接（符号链接最终指回自身），已跳过；"
                                               "请把文件本身放入收件箱")
    assert files["dirloop"][0] == "skipped" and "循环链接" in files["dirloop"][1]
    assert files["out.csv"][0] == "skipped" and "收件箱之外" in files["out.csv"][1]
    assert files["dangling.csv"][0] == "skipped" and "指向的文件不存在" in files["dangling.csv"][1]
    assert files["~$发放明细.xlsx"][0] == "skipped" and "临时锁定文件" in files["~$发放明细.xlsx"][1]
    assert all(reason for status, reason, *_ in files.values() if status != "loaded")
    assert (report.files_loaded, report.files_rejected, report.files_skipped) == (2, 0, 8)
    assert "跳过 8 个" in report.summary_zh()
    assert wh.load().files_unchanged == report.files_seen  # a second run: nothing new, nothing breaks


def test_fundwatch_ingest_succeeds_on_a_hostile_inbox(inbox: Path, tmp_path: Path):
    _hostile_inbox(inbox, tmp_path)
    proc = subprocess.run([FUNDWATCH, "ingest", "--inbox", str(inbox), "--home", str(tmp_path / "home")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "新载入 2 个" in proc.stdout + proc.stderr and "循环链接" in proc.stdout + proc.stderr


def test_the_daily_ingest_stage_succeeds_on_a_hostile_inbox(inbox: Path, tmp_path: Path):
    from datetime import date

    from fundwatch import pipeline
    from fundwatch.paths import Home

    _hostile_inbox(inbox, tmp_path)
    res = pipeline.run_day(Home(tmp_path / "home"), inbox, "t20210430", date(2021, 4, 30), tmp_path / "out",
                           stages=("ingest",))["ingest"]
    assert res.detail["files_loaded"] == 2 and res.detail["rows_loaded"] == 2


def test_renaming_a_badly_named_file_takes_its_record_away(wh: Warehouse, inbox: Path):
    bad = os.fsencode(inbox) + b"/" + GBK_NAME
    write_csv(Path(os.fsdecode(bad)), [PAY_HEADER, pay_row("T1")])
    wh.load()
    assert [s for s, *_ in wh.files().values()] == ["skipped"]
    os.rename(bad, inbox / "长沙县发放明细.csv")
    wh.load()
    assert {k: v[0] for k, v in wh.files().items()} == {"长沙县发放明细.csv": "loaded"}
    assert wh.q("SELECT count(*) FROM raw.files") == [(1,)]


def test_an_unexpected_error_reading_one_file_rejects_it_with_the_error_and_retries_next_run(
        wh: Warehouse, inbox: Path, monkeypatch):
    import ingestion.history as history

    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1")])
    write_csv(inbox / "b.csv", [PAY_HEADER, pay_row("T2")])
    write_csv(inbox / "c.csv", [PAY_HEADER, pay_row("T3")])
    real = history.iter_csv

    def broken(path, scan, limits):
        if path.name == "b.csv":
            raise RuntimeError("reader bug")
        return real(path, scan, limits)

    monkeypatch.setattr(history, "iter_csv", broken)
    report = wh.load()
    assert wh.q("SELECT txn_ref FROM raw.payments ORDER BY 1") == [("T1",), ("T3",)]
    status, reason = wh.files()["b.csv"][:2]
    assert status == "rejected" and "读取时程序出错（RuntimeError: reader bug）" in reason
    assert (report.files_loaded, report.files_rejected) == (2, 1)

    monkeypatch.setattr(history, "iter_csv", real)  # the bug is fixed: the same bytes are read again
    wh.load()
    assert wh.files()["b.csv"][0] == "loaded"
    assert wh.q("SELECT txn_ref FROM raw.payments ORDER BY 1") == [("T1",), ("T2",), ("T3",)]


def test_a_file_that_vanishes_or_cannot_be_read_is_accounted_for(wh: Warehouse, inbox: Path, monkeypatch):
    import ingestion.history as history

    for name in ("a.csv", "gone.csv", "locked.csv", "z.csv"):
        write_csv(inbox / name, [PAY_HEADER, pay_row(name)])
    real = history.scan_file

    def scan(path):
        if path.name == "gone.csv":
            path.unlink()  # moved away between the listing and the reading
        if path.name == "locked.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(history, "scan_file", scan)
    report = wh.load()
    files = wh.files()
    assert files["gone.csv"][0] == "skipped" and "已被移走或删除" in files["gone.csv"][1]
    assert files["locked.csv"][0] == "rejected" and "没有读取该文件的权限" in files["locked.csv"][1]
    assert wh.q("SELECT txn_ref FROM raw.payments ORDER BY 1") == [("a.csv",), ("z.csv",)]
    assert (report.files_loaded, report.files_rejected, report.files_skipped) == (2, 1, 1)

    monkeypatch.setattr(history, "scan_file", real)  # readable again: loaded, its reason gone
    wh.load()
    assert "locked.csv" in {r[0] for r in wh.q("SELECT txn_ref FROM raw.payments")}
    assert "gone.csv" not in wh.files()


def test_a_loaded_file_that_cannot_be_read_today_stays_loaded(wh: Warehouse, inbox: Path, monkeypatch):
    import ingestion.history as history

    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1")])
    wh.load()
    write_csv(inbox / "a.csv", [PAY_HEADER, pay_row("T1", "999")])  # a corrected version, unreadable today

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(history, "scan_file", denied)
    wh.load()
    assert wh.files()["a.csv"][0] == "loaded"
    assert wh.q("SELECT amount FROM raw.payments") == [(1200,)]


def test_check_file_and_load_use_the_same_entry_rules(tmp_path: Path):
    from ingestion import check_file

    lock = tmp_path / "~$x.xlsx"
    lock.write_bytes(b"\x06owner")
    got = check_file(lock, "长沙县/~$x.xlsx")
    assert (got.status, got.kind) == ("skipped", None) and "临时锁定文件" in (got.reason or "")


def test_load_inbox_refuses_a_missing_inbox(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        load_inbox(tmp_path / "nope", tmp_path / "w.duckdb", run_id="r")
