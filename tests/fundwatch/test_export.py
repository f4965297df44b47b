"""The findings export: columns of rules.md, BOM, exact money, formula safety, same values in both files."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from decimal import Decimal

import openpyxl
import pytest

from fundwatch.export import safe_text, unguard, write_export
from fundwatch.state import EXPORT_COLUMNS

ROWS = [
    {
        "finding_id": "0123456789abcdef", "rule_id": "PAY_NOT_ON_ROSTER", "rule_name": "名单外发放",
        "severity": "error", "subject_type": "payment", "subject_key": "=HYPERLINK(\"http://x\")",
        "project_code": "+JSX2020", "unit_code": "430102", "amount_at_risk": Decimal("1234567.89"),
        "source_file": "@长沙/发放.xlsx", "source_row": 7, "detail": "-收款人不在名单中", "first_seen": "2021-04-30",
        "status": "open",
    },
    {
        "finding_id": "fedcba9876543210", "rule_id": "FILE_REJECTED", "rule_name": "文件无法识别或读取",
        "severity": "error", "subject_type": "file", "subject_key": "\t坏文件.pdf", "project_code": None,
        "unit_code": None, "amount_at_risk": Decimal("0"), "source_file": None, "source_row": None,
        "detail": "\r格式不受支持", "first_seen": "2021-04-29", "status": "dismissed",
    },
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("=1+1", "'=1+1", id="equals"),
        pytest.param("+86", "'+86", id="plus"),
        pytest.param("-5", "'-5", id="minus"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("\tx", "'\tx", id="tab"),
        pytest.param("\rx", "'\rx", id="cr"),
        pytest.param("长沙市", "长沙市", id="plain-chinese"),
        pytest.param("a=b", "a=b", id="equals-inside"),
        pytest.param(None, "", id="none"),
    ],
)
def test_safe_text(value, expected):
    assert safe_text(value) == expected
    assert unguard(safe_text(value)) == (value or ""), "readers of the export get the value back"


def test_unguard_leaves_an_apostrophe_the_guard_did_not_add():
    assert unguard("'s-Hertogenbosch") == "'s-Hertogenbosch"
    assert unguard("''=x") == "''=x"
    assert unguard("'") == "'"


@pytest.fixture
def exported(tmp_path):
    return write_export(ROWS, tmp_path / "out")


def test_csv_has_bom_the_contract_columns_and_exact_money(exported):
    csv_path, _ = exported
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[1][EXPORT_COLUMNS.index("amount_at_risk")] == "1234567.89"
    assert rows[2][EXPORT_COLUMNS.index("amount_at_risk")] == "0.00"
    assert rows[1][EXPORT_COLUMNS.index("subject_key")].startswith("'=")
    assert rows[2][EXPORT_COLUMNS.index("source_row")] == ""


def test_xlsx_holds_the_same_values_and_no_formula(exported):
    csv_path, xlsx_path = exported
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        csv_rows = list(csv.reader(fh))
    ws = openpyxl.load_workbook(xlsx_path).worksheets[0]
    xlsx_rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert tuple(xlsx_rows[0]) == EXPORT_COLUMNS
    for c_row, x_row in zip(csv_rows[1:], xlsx_rows[1:], strict=True):
        for name, c, x in zip(EXPORT_COLUMNS, c_row, x_row, strict=True):
            if name == "amount_at_risk":
                assert Decimal(str(x)).quantize(Decimal("0.01")) == Decimal(c)
            elif name == "source_row":
                assert (str(x) if x is not None else "") == c
            else:  # openpyxl leaves the xlsx escape of a carriage return (_x000D_) as it is
                assert (x or "").replace("_x000D_", "\r") == c
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula"


def test_an_export_is_current_only_for_the_same_rows_and_untouched_files(tmp_path):
    from fundwatch.export import is_current

    out = tmp_path / "out"
    write_export(ROWS, out)
    assert not is_current(out, "rows-1")  # written without a fingerprint: never taken as current
    write_export(ROWS, out, "rows-1")
    assert is_current(out, "rows-1") and not is_current(out, "rows-2")
    with (out / "findings.csv").open("a", encoding="utf-8") as fh:  # somebody edited the export
        fh.write("x")
    assert not is_current(out, "rows-1")
    write_export(ROWS, out, "rows-1")
    (out / "findings.xlsx").unlink()
    assert not is_current(out, "rows-1")


def test_the_export_is_written_again_only_when_its_rows_changed(tmp_path):
    from fundwatch.export import refresh_export

    out = tmp_path / "out"
    csv_path, xlsx_path, written = refresh_export(ROWS, out, "rows-1")
    assert written and csv_path.exists() and xlsx_path.exists()
    stamps = [(p.stat().st_mtime_ns, p.read_bytes()) for p in (csv_path, xlsx_path)]
    assert refresh_export(ROWS, out, "rows-1") == (csv_path, xlsx_path, False)  # the same rows: untouched
    assert [(p.stat().st_mtime_ns, p.read_bytes()) for p in (csv_path, xlsx_path)] == stamps
    changed = [{**ROWS[0], "detail": "另一句说明"}, *ROWS[1:]]
    assert refresh_export(changed, out, "rows-2")[2]
    assert "另一句说明" in csv_path.read_text(encoding="utf-8-sig")


def test_a_column_is_guarded_as_each_cell_alone():
    from fundwatch.export import _safe_texts

    class Text(str):
        pass

    values = [None, "", "=1+1", "+86", "-5", "@x", "\tx", "\rx", "'=x", "普通文字", 12, -3, Decimal("-1.50"),
              Text("=sub"), " =lead"]
    assert _safe_texts(values) == [safe_text(v) for v in values]
    assert _safe_texts(values)[2:4] == ["'=1+1", "'+86"] and _safe_texts([-3]) == ["'-3"]


def test_a_big_export_writes_its_csv_in_a_child_process_with_the_same_bytes(tmp_path, monkeypatch):
    """From BESIDE_MIN_ROWS rows on, the CSV is written by a forked child while the xlsx is written
    here: the files are byte for byte those written one after the other (the workbook part by part,
    as stored and compressed, but for the time of writing in its properties and its sheet's entry)."""
    import zipfile

    import fundwatch.export as export

    rows = [{**r, "finding_id": f"{r['finding_id']}-{i}"} for i in range(40) for r in ROWS]
    one_after_other = write_export(rows, tmp_path / "serial")
    monkeypatch.setattr(export, "BESIDE_MIN_ROWS", len(rows))
    children = []
    real = export._start
    monkeypatch.setattr(export, "_start", lambda *a: children.append(a[1]) or real(*a))
    beside = write_export(rows, tmp_path / "beside")
    assert children == [tmp_path / "beside" / "findings.csv"]
    assert one_after_other[0].read_bytes() == beside[0].read_bytes()

    def parts(z: zipfile.ZipFile) -> list[tuple]:
        return [(i.filename, i.CRC, i.compress_size, i.file_size, z.read(i)) for i in z.infolist()
                if i.filename != "docProps/core.xml"]

    with zipfile.ZipFile(one_after_other[1]) as a, zipfile.ZipFile(beside[1]) as b:
        assert parts(a) == parts(b) and len(parts(a)) == len(a.infolist()) - 1


def test_a_failing_csv_child_fails_the_export(tmp_path, monkeypatch):
    import fundwatch.export as export

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(export, "BESIDE_MIN_ROWS", 1)
    monkeypatch.setattr(export, "_write_csv", broken)
    with pytest.raises(RuntimeError, match="findings.csv"):
        write_export(ROWS, tmp_path / "out", "rows-1")
    assert not (tmp_path / "out" / export.STAMP).exists()  # never taken as current


def _payment_findings(n: int, start: int = 0) -> list[dict]:
    return [{
        "rule_id": "PAY_LATE", "rule_name": "超期发放", "severity": "error", "subject_type": "payment",
        "subject_key": f"{'=' if i % 7 == 0 else ''}TX{i:05d}", "project_code": None if i % 5 == 0 else "P2020-001",
        "unit_code": "430121", "amount_at_risk": None if i % 11 == 0 else Decimal(f"{i}.{i % 100:02d}"),
        "source_file": "changsha/pay.xlsx", "source_row": None if i % 13 == 0 else i + 2,
        "detail": f"{'-' if i % 3 == 0 else ''}应在2020-12-31前发放，实际2021-01-05发放。", "evidence": {},
    } for i in range(start, start + n)]


def _sheet_contents(path) -> list[tuple[str, bytes]]:
    import zipfile

    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        return [(i.filename, z.read(i)) for i in z.infolist() if i.filename != "docProps/core.xml"]


def test_the_daily_export_from_the_rows_as_read_is_the_export_of_the_rows(tmp_path):
    """The pipeline builds the export from the state's rows as read (``ExportRows`` over
    ``state.export_parts``, no dict per row): the same rows, columns, fingerprint and files (the
    workbook's parts as read), as from ``state.export_snapshot``'s dicts, over several parts, each
    ending where a finding's id ends in 000, 400, 800 or c00 (or at EXPORT_PART_MAX rows)."""
    from datetime import date

    from fundwatch import export, state
    from fundwatch.export import ExportRows

    db = tmp_path / "state.sqlite"
    state.record_run(db, run_id="r1", run_date=date(2021, 4, 30), findings=_payment_findings(3 * state.EXPORT_PART))
    rows, fingerprint = state.export_snapshot(db)
    read = state.export_parts(db)
    parts, table = read.parts, ExportRows(read)
    assert read.fingerprint == fingerprint and sum(map(len, parts)) == len(rows) and len(parts) > 1
    ends = ("000", "400", "800", "c00")
    assert all(p[-1][0].endswith(ends) or len(p) == state.EXPORT_PART_MAX for p in parts[:-1])
    assert not any(r[0].endswith(ends) for p in parts for r in p[:-1])
    assert len(table) == len(rows) and list(table) == rows and table[-1] == rows[-1]
    cut = len(parts[0])
    assert table[cut - 1:cut + 1] == rows[cut - 1:cut + 1]
    joined = [{name: [v for block in blocks for v in block[name]] for name in EXPORT_COLUMNS}
              for blocks in (table.columns(), export._columns(rows))]
    assert joined[0] == joined[1]
    from_dicts, from_table = write_export(rows, tmp_path / "dicts"), write_export(table, tmp_path / "table")
    assert from_dicts[0].read_bytes() == from_table[0].read_bytes()
    assert _sheet_contents(from_dicts[1]) == _sheet_contents(from_table[1])
    with pytest.raises(ValueError, match="at least one row"):
        ExportRows(dataclasses.replace(read, parts=[parts[0], []], sizes=[len(parts[0]), 0], digests=read.digests[:2]))


def _fingerprinted(findings: list[dict]) -> list[dict]:
    """The findings with a ``content_hash`` of their attributes, as the pipeline gives them."""
    def attributes(f: dict) -> str:
        return repr([f[k] for k in sorted(f) if k not in ("evidence", "content_hash")])

    return [{**f, "content_hash": hashlib.md5(attributes(f).encode()).hexdigest() + ":e"} for f in findings]


@pytest.mark.parametrize("fingerprints", [False, True], ids=["attributes", "content_hash"])
def test_a_day_writes_again_only_the_parts_of_the_export_that_changed(tmp_path, monkeypatch, fingerprints):
    """The next day's export copies the parts whose rows did not change from the files the day before
    wrote (the CSV's lines, the sheet's deflated rows) and builds only the others, reading only their
    rows from the state: its files hold what an export of the same rows into an empty folder holds.
    A part's rows are known by their findings' fingerprints (content_hash, as the pipeline records
    them), else by their attributes; by first_seen and status too. Files changed by hand since, or a
    stamp that does not fit them, are never copied from."""
    from datetime import date

    from fundwatch import export, state
    from fundwatch.export import ExportRows

    db = tmp_path / "state.sqlite"
    monkeypatch.setattr(export, "BESIDE_MIN_ROWS", 1)  # the CSV by its child process, as at scale
    mark = _fingerprinted if fingerprints else list
    findings = _payment_findings(12 * state.EXPORT_PART)
    state.record_run(db, run_id="r1", run_date=date(2021, 4, 30), findings=mark(findings))
    out = tmp_path / "out"

    def export_now(folder):
        read = state.export_parts(db, export.reusable(folder))
        rows = ExportRows(read, lambda: state.export_parts(db))
        return export.refresh_export(rows, folder, read.fingerprint), read.parts

    built = []
    real = export._rows_xml
    monkeypatch.setattr(export, "_rows_xml", lambda block, xf: built.append(len(block["rule_id"])) or real(block, xf))
    (csv_path, xlsx_path, written), parts = export_now(out)
    assert written and len(built) == len(parts) > 4
    # The next day: one finding closes, two new ones fire, one amount moves: a few parts change.
    # The next day: one finding closes, two new ones fire, one amount moves, one is confirmed: a few
    # parts change, and only their rows are read.
    findings = [f for f in findings if f["subject_key"] != "TX00100"] + _payment_findings(2, start=90_000)
    findings[3000]["amount_at_risk"] = Decimal("1.23")
    state.record_run(db, run_id="r2", run_date=date(2021, 5, 1), findings=mark(findings))
    state.add_decision(db, finding_id=state.finding_id("PAY_LATE", "payment", findings[5000]["subject_key"]),
                       action="confirmed", comment="已核实", username="li")
    built.clear()
    (_, _, written), parts = export_now(out)
    assert written and 1 <= len(built) <= 5 and len(parts) > 4
    assert sum(p is not None for p in parts) == len(built)
    fresh, _ = export_now(tmp_path / "fresh")
    assert csv_path.read_bytes() == fresh[0].read_bytes()
    assert _sheet_contents(xlsx_path) == _sheet_contents(fresh[1])
    wb = openpyxl.load_workbook(xlsx_path, read_only=True)
    got = [r for r in wb.worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert [r[0] for r in got] == [row["finding_id"] for row in state.export_rows(db)]
    # Touched by hand (a clerk saved it): the next export copies nothing from it.
    findings[10]["amount_at_risk"] = Decimal("4.56")
    state.record_run(db, run_id="r3", run_date=date(2021, 5, 2), findings=mark(findings))
    with xlsx_path.open("ab") as fh:
        fh.write(b"\0")
    built.clear()
    export_now(out)
    assert len(built) == len(state.export_parts(db).parts)
    assert _sheet_contents(xlsx_path) == _sheet_contents(export_now(tmp_path / "fresh3")[0][1])


def test_a_part_not_read_is_read_again_when_needed_and_only_from_the_same_findings(tmp_path):
    """A part the files there hold is not read (``reusable``); when the export needs it after all (the
    first amount of the day changes the workbook's styles, so no deflated row can be copied), every
    part is read again, and the export is that of the rows. A state changed in between stops it."""
    from datetime import date

    from fundwatch import export, state
    from fundwatch.export import ExportRows

    db = tmp_path / "state.sqlite"
    findings = [{**f, "amount_at_risk": None} for f in _payment_findings(3 * state.EXPORT_PART)]
    state.record_run(db, run_id="r1", run_date=date(2021, 4, 30), findings=_fingerprinted(findings))
    out = tmp_path / "out"
    read = state.export_parts(db)
    export.refresh_export(ExportRows(read), out, read.fingerprint)
    findings[7]["amount_at_risk"] = Decimal("8.00")
    state.record_run(db, run_id="r2", run_date=date(2021, 5, 1), findings=_fingerprinted(findings))
    read = state.export_parts(db, export.reusable(out))
    assert read.has_amounts and None in read.parts
    rereads = []

    def reread():
        rereads.append(1)
        return state.export_parts(db)

    export.refresh_export(ExportRows(read, reread), out, read.fingerprint)
    assert rereads == [1]
    fresh = state.export_parts(db)
    export.refresh_export(ExportRows(fresh), tmp_path / "fresh", fresh.fingerprint)
    assert (out / "findings.csv").read_bytes() == (tmp_path / "fresh" / "findings.csv").read_bytes()
    assert _sheet_contents(out / "findings.xlsx") == _sheet_contents(tmp_path / "fresh" / "findings.xlsx")
    # Between the two reads a finding was dismissed: nothing is written from rows of two states.
    read = state.export_parts(db, frozenset(read.digests))
    assert all(p is None for p in read.parts)
    state.add_decision(db, finding_id=state.finding_id("PAY_LATE", "payment", findings[9]["subject_key"]),
                       action="dismissed", comment="已补发", username="li")
    with pytest.raises(RuntimeError, match="run again"):
        ExportRows(read, lambda: state.export_parts(db)).columns([0])


def test_crc32_combine_is_zlibs():
    """The workbook's CRC-32 joins those of parts copied from an earlier file (zlib's crc32_combine)."""
    import random
    import zlib

    from fundwatch.export import crc32_combine

    rnd = random.Random(17)
    for n in [*range(40), 4_096, 65_537, *(rnd.randrange(1, 10**7) for _ in range(10))]:
        a, b = rnd.randbytes(rnd.randrange(0, 100)), rnd.randbytes(n)
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
