"""Hostile CSV files built byte by byte: each refused file or row names the real cause and the line."""

from __future__ import annotations

import codecs
from decimal import Decimal
from pathlib import Path

import pytest
from ingest_helpers import ID1, PAY_HEADER, Warehouse

P = pytest.param
HEADER = ",".join(PAY_HEADER).encode()


def _line(*cells: str) -> bytes:
    return ",".join(cells).encode() + b"\r\n"


def _row(ref: str, amount: str = "1200.00", remark: str = "") -> bytes:
    return _line(ref, "第一批", "P2020001", "张三", ID1, "6217000011112222", "农行", amount, "2020-06-30",
                 "430121", remark)


def _load(wh: Warehouse, inbox: Path, data: bytes, name: str = "p.csv"):
    (inbox / name).write_bytes(data)
    report = wh.load()
    return report, wh.files()[name]


def test_a_quote_that_never_closes_rejects_the_file_naming_the_line(wh: Warehouse, inbox: Path):
    data = HEADER + b"\r\n" + _row("T1") + _row("T2")[:-2] + b',"\xe8\xa1\xa5\xe5\x8f\x91\r\n' + _row("T3") + _row("T4")
    report, (status, reason, *_) = _load(wh, inbox, data)
    assert status == "rejected"
    assert "第3行的引号（\"）一直没有结束" in reason and "第4–5行都会被并进这一个单元格" in reason
    assert report.rows_loaded == 0 and wh.q("SELECT count(*) FROM raw.payments") == [(0,)]


def test_a_quote_that_runs_past_the_cell_limit_names_its_line(wh: Warehouse, inbox: Path):
    from ingestion import Limits

    data = HEADER + b"\r\n" + _row("T1") + _row("T2", remark='"x') + b"".join(_row(f"T{i}") for i in range(3, 60))
    (inbox / "p.csv").write_bytes(data)
    wh.load(limits=Limits(max_csv_field=2000))
    status, reason = wh.files()["p.csv"][:2]
    assert status == "rejected" and "第3行的引号（\"）一直到第" in reason and "超过2000个字符仍没有结束" in reason


def test_a_quote_opened_on_the_last_line_is_named_too(wh: Warehouse, inbox: Path):
    data = HEADER + b"\r\n" + _row("T1") + _row("T2", remark='"note')
    _, (status, reason, *_) = _load(wh, inbox, data)
    assert status == "rejected" and "第3行的引号" in reason and "并进" not in reason


def test_a_quote_that_swallows_rows_into_a_remark_rejects_that_row(wh: Warehouse, inbox: Path):
    """The quote closes at the end of a later line: the record has the header's width, so only the
    rows it swallowed tell that it is not a real multi-line remark."""
    data = (HEADER + b"\r\n" + _row("T1") + _row("T2", remark='"pending')
            + _row("T3") + _row("T4", remark='done"') + _row("T5"))
    report, (status, *_rest) = _load(wh, inbox, data)
    assert status == "loaded"
    assert wh.q("SELECT txn_ref FROM raw.payments ORDER BY 1") == [("T1",), ("T5",)]
    [(_, row, reason)] = wh.rejected()
    assert row == 3 and "直到第5行才结束" in reason and "把第4–5行并进了这一个单元格" in reason
    assert report.rows_rejected == 1


def test_a_real_multi_line_remark_still_loads(wh: Warehouse, inbox: Path):
    data = HEADER + b"\r\n" + _row("T1", remark='"first line\r\nsecond, line"') + _row("T2")
    _load(wh, inbox, data)
    assert wh.q("SELECT txn_ref, remark FROM raw.payments ORDER BY 1") == [
        ("T1", "first line\r\nsecond, line"), ("T2", None)]
    assert wh.rejected() == []


def test_a_row_wider_than_the_header_is_rejected_never_loaded_shifted(wh: Warehouse, inbox: Path):
    data = HEADER + b"\r\n" + _row("T1") + _row("T2", amount="550,000.00") + _row("T3", amount="300")
    report, (status, *_rest) = _load(wh, inbox, data)
    assert status == "loaded" and report.rows_loaded == 2
    assert wh.q("SELECT txn_ref, amount FROM raw.payments ORDER BY 1") == [
        ("T1", Decimal("1200.00")), ("T3", Decimal("300.00"))]
    [(_, row, reason)] = wh.rejected()
    assert row == 3 and "本行有12个单元格，比表头（第1行，11列）多1个" in reason and "1,200.00" in reason


def test_a_wider_row_at_the_end_is_rejected_not_taken_for_a_total(wh: Warehouse, inbox: Path):
    data = HEADER + b"\r\n" + _row("T1") + _row("T2", amount="1,000.00")
    _load(wh, inbox, data)
    assert [r[1] for r in wh.rejected()] == [3]


@pytest.mark.parametrize("sep, name", [P(b";", "分号（;）", id="semicolon"), P(b"\t", "制表符（Tab）", id="tab")])
def test_a_file_separated_by_something_else_says_so(wh: Warehouse, inbox: Path, sep: bytes, name: str):
    data = sep.join(h.encode() for h in PAY_HEADER) + b"\r\n" + _row("T1").replace(b",", sep)
    _, (status, reason, *_) = _load(wh, inbox, data)
    assert status == "rejected" and f"文件用{name}分隔各列，不是逗号" in reason and "“发放明细”" in reason


def test_a_header_below_row_6_names_its_row(wh: Warehouse, inbox: Path):
    data = b"".join(_line(f"title {i}") for i in range(8)) + HEADER + b"\r\n" + _row("T1")
    _, (status, reason, *_) = _load(wh, inbox, data)
    assert status == "rejected" and "表头（“发放明细”）在第9行，上方有8行" in reason


@pytest.mark.parametrize("data, fragment", [
    P(b"", "文件是空的（0 字节）", id="zero-bytes"),
    P(b"\r\n\r\n , ,\r\n", "没有任何内容（只有空行", id="blank-lines-only"),
])
def test_an_empty_file_says_it_is_empty(wh: Warehouse, inbox: Path, data: bytes, fragment: str):
    _, (status, reason, *_) = _load(wh, inbox, data)
    assert status == "rejected" and fragment in reason


def test_a_bad_byte_in_a_utf8_file_names_its_line(wh: Warehouse, inbox: Path):
    data = HEADER + b"\r\n" + _row("T1") + _row("T2") + _row("T3")[:-2] + b"\xe5\xa4\x87\xe6\xb3\r\n"  # cut off
    _, (status, reason, *_) = _load(wh, inbox, data)
    assert status == "rejected" and "文件是 UTF-8 编码，但第4行有不是 UTF-8 的字节" in reason


def test_a_bad_byte_after_a_utf8_bom_names_its_line(wh: Warehouse, inbox: Path):
    data = codecs.BOM_UTF8 + _line("交易流水号", "x") + b"\xff\r\n"
    _, (status, reason, *_) = _load(wh, inbox, data)
    assert status == "rejected" and "第2行有不是 UTF-8 的字节" in reason


def test_a_bad_byte_in_a_gb18030_file_names_its_line(wh: Warehouse, inbox: Path):
    body = "\r\n".join([",".join(PAY_HEADER)] + [_row(f"T{i}").decode().strip() for i in range(5)])
    data = body.encode("gb18030") + b"\r\nT9,\x81\x20\r\n"  # 0x81 0x20 is no GB18030 character
    _, (status, reason, *_) = _load(wh, inbox, data)
    assert status == "rejected" and "GB18030/GBK 编码读取，但第7行有无法识别的字节" in reason


def test_a_gb18030_file_still_loads(wh: Warehouse, inbox: Path):
    """The UTF-8 evidence rule must not take a GBK file for broken UTF-8 (说 = CB B5 is valid UTF-8)."""
    data = ("说明,,\r\n" + ",".join(PAY_HEADER) + "\r\n" + _row("T1").decode()).encode("gb18030")
    _, (status, *_rest) = _load(wh, inbox, data)
    assert status == "loaded" and wh.q("SELECT name FROM raw.payments") == [("张三",)]


@pytest.mark.parametrize("head, fragment", [
    P(b"PK\x03\x04" + b"\x00" * 40, "内容是 Excel 工作簿（.xlsx），扩展名却是 .csv", id="xlsx-named-csv"),
    P(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "旧版 Excel（.xls）", id="xls-named-csv"),
])
def test_a_workbook_under_a_csv_name_is_named(wh: Warehouse, inbox: Path, head: bytes, fragment: str):
    _, (status, reason, *_) = _load(wh, inbox, head)
    assert status == "rejected" and fragment in reason


@pytest.mark.parametrize("value", ["#N/A", "#DIV/0!", " #VALUE! "])
def test_an_excel_error_exported_as_text_rejects_the_row_even_in_an_optional_column(
        wh: Warehouse, inbox: Path, value: str):
    data = HEADER + b"\r\n" + _row("T1", remark=value) + _row("T2", amount=value.strip()) + _row("T3")
    _load(wh, inbox, data)
    assert wh.q("SELECT txn_ref FROM raw.payments") == [("T3",)]
    (_, r1, why1), (_, r2, why2) = wh.rejected()
    assert (r1, r2) == (2, 3)
    assert f"列“备注”的值“{value.strip()}”无法读取：单元格是 Excel 错误值" in why1
    assert "列“金额（元）”" in why2 and "Excel 错误值" in why2 and "必填列" not in why2


def test_a_hash_in_ordinary_text_is_kept(wh: Warehouse, inbox: Path):
    _load(wh, inbox, HEADER + b"\r\n" + _row("T1", remark="#3 batch #N/A-free"))
    assert wh.q("SELECT remark FROM raw.payments") == [("#3 batch #N/A-free",)]
