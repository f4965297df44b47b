"""xlsx column by column (ingestion.xlsx_bulk) gives exactly what the row-by-row path gives: the same
values, rejected rows with the same reasons and row numbers, the same 合计 checks and lineage, on
usual, odd and hostile cells; and the comparison notices when the column-wise path is broken."""

from __future__ import annotations

import random
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import openpyxl
import pytest
import xlsxwriter
from ingest_helpers import ID1, ID2, Warehouse

import ingestion.xlsx_bulk as xlsx_bulk
from ingestion import normalise as nz
from ingestion.kinds import KINDS_BY_TABLE, Column, VType
from ingestion.parse import NORMALISERS
from ingestion.xlsx_reader import XlsxSheet

# ---------------------------------------------------------------- cells, per value type
# USUAL: what clerks' files hold (each read, never left to the row-by-row path); OTHER: odd and hostile.
USUAL: dict[VType, list[object]] = {
    VType.TEXT: ["第一批", "P2020001", " 中国银行 ", "\u3000备注\u3000", 2020.0, 123456789012345.0],
    VType.NAME: ["张三", "欧阳娜", "张 三", "买买提•艾力"],
    VType.ID: [ID1, ID2, "43012119850315003x", "430102 19900101 1238", "４３０１０２１９９００１０１１２３８"],
    VType.ACCOUNT: ["6217000011112222", "6217 0000 1111 2222", "'6217000011112222", 6217000011112.0],
    VType.CODE: ["430121", " 430121 ", "４３０１２１", 430121.0],
    VType.MONEY: [1200.0, 1200.5, 300.25, "1200", "1,200.00", "￥5,000.00", 0.1 + 0.2, 12345678901234.56],
    VType.INT: ["30", "30天", 30.0, 2020.0],
    VType.DATE: ["2020-06-30", "2020/6/30", "2020年6月30日", "20200630", 20200630.0, date(2020, 6, 30),
                 datetime(2020, 6, 30, 8, 0, 5), datetime(2020, 7, 1)],
    VType.DOCNO: ["湘财社指〔2020〕36号", "湘财社指[2020]36号", " 湘财社指 【2020】 36 号 ", "会议纪要2020-3", 2020.0],
}
ODD: list[object] = [
    None, "", "  ", "\u3000", "x\ny", "#N/A", "A#1", "-5", "1200.505", "2020-02-30", "62a7", "4301", "٢٠٢٠-06-30",
    12.5, -5.0, 0.0, -0.0, 1e15, 1e16, 4301021990010112, 430102900101123, 6217000011112222, 9007199254740993,
    2147483648.0, 43982.0, True, False, date(2100, 1, 1), time(8, 0), timedelta(hours=30),
    datetime(2020, 6, 30, 8, 0, 0, 500), "430102900101123", "'", "1.2万",
]
_ALPHABET = "0123456789０１２３-/.,，．年月日号元￥¥ \u3000\u00a0\t'ＸxX〔〕[]（）()T:٣湘财社指张•#\n"


def _cells(vtype: VType, rnd: random.Random, n: int) -> list[object]:
    generated = ["".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(1, 12))) for _ in range(n)]
    numbers = [rnd.choice([rnd.randint(-10, 10**6) / 100, float(rnd.randint(0, 10**9)), rnd.random() * 10**15])
               for _ in range(n)]
    return [*USUAL[vtype], *(v for vals in USUAL.values() for v in vals), *ODD, *generated, *numbers]


def _as_duckdb_reads(con: duckdb.DuckDBPyConnection, texts: list[object], vtype: VType) -> list[object]:
    sql_type = {VType.DATE: "DATE", VType.MONEY: "DECIMAL(18, 2)", VType.INT: "INTEGER"}.get(vtype, "VARCHAR")
    return [v for (v,) in con.execute(f"""SELECT CASE WHEN t = chr(29) THEN NULL ELSE CAST(t AS {sql_type}) END
        FROM (SELECT unnest(?::VARCHAR[]) AS t, generate_subscripts(?, 1) AS i) ORDER BY i""",
                                       [texts, texts]).fetchall()]


@pytest.mark.parametrize("vtype", list(VType))
@pytest.mark.parametrize("required", [False, True])
def test_a_column_reads_each_cell_as_its_normaliser_does(vtype: VType, required: bool):
    """Every cell not left to the row-by-row path reaches the table as the normaliser's value."""
    rnd = random.Random(f"{vtype}{required}")
    cells = _cells(vtype, rnd, 2000)
    column = xlsx_bulk._Column(cells, Column("x", "x", vtype, required))
    left = set(column.left)
    got = _as_duckdb_reads(duckdb.connect(), [None if i in left else t for i, t in enumerate(column.texts)], vtype)
    wrong = []
    for i, cell in enumerate(cells):
        if i in left:
            continue
        try:
            expected = NORMALISERS[vtype](cell)
        except nz.BadValue as exc:
            expected = exc
        if got[i] != expected or type(got[i]) is not type(expected) or (required and expected is None):
            wrong.append((cell, got[i], expected))
    assert wrong == []
    assert not left & set(range(len(USUAL[vtype])))  # the usual cells are read here, not row by row
    # and column by column too, as a whole column of one kind of cell takes the shortcuts
    for usual in USUAL[vtype]:
        same = [usual] * 50
        assert xlsx_bulk._Column(same, Column("x", "x", vtype, required)).left == []


SHORTCUTS = {  # columns of texts the normaliser's own first test reads as they are (empty: None)
    VType.TEXT: ["第一批", " 中国银行 ", "\u3000备注", "", "  "],
    VType.NAME: ["张三", "欧阳娜", ""],
    VType.ACCOUNT: ["6217000011112222", "6217", ""],
    VType.ID: [ID1, ID2, "430102199001011238"],
}


@pytest.mark.parametrize("vtype", list(SHORTCUTS))
@pytest.mark.parametrize("required", [False, True])
def test_a_column_of_texts_is_read_by_the_normalisers_first_test(vtype: VType, required: bool):
    cells = SHORTCUTS[vtype] * 20
    column = xlsx_bulk._Column(cells, Column("x", "x", vtype, required))
    assert column.values == {}  # no cell went to the normaliser one by one
    expected = [NORMALISERS[vtype](c) for c in cells]
    assert [None if t == "\x1d" else t for t in column.texts] == expected
    assert column.left == ([i for i, v in enumerate(expected) if v is None] if required else [])


# ---------------------------------------------------------------- whole files, both paths
def _unique(vtype: VType, n: int, file: int) -> object:
    """A key value of its own for row ``n`` of file ``file`` (clean rows do not collide on their keys)."""
    if vtype is VType.ID:
        first17 = f"43010219{file:02d}{n:07d}"
        return first17 + nz.id_check_char(first17)
    return f"湘财社指〔2020〕{file}-{n}号" if vtype is VType.DOCNO else f"T{file}-{n:04d}"


def _row(kind: str, n: int, rnd: random.Random, *, messy: bool, file: int) -> list[object]:
    k = KINDS_BY_TABLE[kind]
    if messy:
        return [rnd.choice([*USUAL[c.vtype], *ODD]) for c in k.columns]
    return [_unique(c.vtype, n, file) if c.name in k.key and c.vtype is not VType.CODE
            else rnd.choice(USUAL[c.vtype][:3]) for c in k.columns]


def _plain(v: object) -> object:
    """Amounts kept small: rows summing beyond DECIMAL(18,2) reject a file with a 合计 line (alike in both
    paths, tests/ingestion/test_ingest_load.py), which would leave no rows to compare here."""
    return 1e12 + 0.5 if isinstance(v, int | float) and abs(v) >= 1e12 else v


def _openpyxl_payments(path: Path, rnd: random.Random) -> None:
    """Title rows above the header, merged ranges, a formula without a result, blank rows, a 合计
    line in the middle and one at the end, followed by a row of spaces."""
    kind = KINDS_BY_TABLE["payments"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2020年补助资金发放明细"])
    ws.append(["填报单位：长沙县"])
    ws.append([c.header for c in kind.columns])
    clean = {60, 61, 62, 63, 64, 82, 83}  # rows valid but for the cell set below (none ends a chunk)
    for n in range(4, 300):
        if n in (40, 41, 42):
            ws.append([None])
        elif n == 50:
            ws.append(["合计", None, None, None, None, None, None, 99999.0])
        else:
            ws.append(list(map(_plain, _row("payments", n, rnd, messy=n not in clean and rnd.random() < 0.3, file=0))))
    ws.append(["合计", None, None, None, None, None, None, 123456.78])
    ws.append(["  ", None, "\u3000"])
    ws["K60"] = "=SUM(1,2)"  # optional 备注: no stored result
    ws.merge_cells("B10:B14")  # optional 发放批次
    ws.merge_cells("C20:C22")  # required 项目编码
    ws.merge_cells("D30:F30")
    ws["A61"] = ws["D62"] = ws["E63"] = ws["F64"] = None  # required, empty
    ws["K82"], ws["K83"] = "#N/A", "A#1"  # an Excel error value as text; a text with #
    ws["K82"].data_type = "s"
    wb.save(path)


def _exact_integers(path: Path, rnd: random.Random) -> None:
    """Number cells of 16 digits a program wrote exactly (openpyxl writes the float's digits, so the
    XML is changed after): read from the XML, not from the float."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([c.header for c in KINDS_BY_TABLE["payments"].columns])
    for n in range(2, 40):
        ws.append(_row("payments", n, rnd, messy=False, file=9))
    ws["H10"], ws["E11"] = 9999999999999996, 4301021990010112
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    cell = b'<c r="H10" t="n"><v>9999999999999996</v>'
    assert cell in parts[sheet]
    parts[sheet] = parts[sheet].replace(cell, cell.replace(b"996<", b"997<"))  # the float is ...996
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def _xlsxwriter_file(path: Path, kind_name: str, rnd: random.Random, rows: int, file: int) -> None:
    """Header in row 1, IDs as doubles, Excel error cells, control characters, date formats."""
    kind = KINDS_BY_TABLE[kind_name]
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, [c.header for c in kind.columns])
    for r in range(1, rows):
        for c, v in enumerate(_row(kind_name, r, rnd, messy=rnd.random() < 0.3, file=file)):
            if isinstance(v, datetime | date):
                ws.write_datetime(r, c, v if isinstance(v, datetime) else datetime(v.year, v.month, v.day), day)
            elif isinstance(v, time | timedelta):
                ws.write_string(r, c, str(v))
            elif v is not None:
                ws.write(r, c, v)
    ws.write_formula(5, 7, "=1/0", None, "#DIV/0!")
    ws.write_formula(6, len(kind.columns) - 1, "=NA()", None, "#N/A")
    for r, text in ((8, "a\x1fb"), (9, "c\x1dd"), (10, "e\x00f"), (11, "g\rh")):
        ws.write_string(r, 1, text)
    ws.write_number(12, 4, float(ID1))  # an 18-digit ID as Excel holds it
    ws.write_number(13, 8, 43982, day)  # a date serial
    wb.close()


def _hostile_inbox(inbox: Path) -> Path:
    rnd = random.Random(17)
    (inbox / "a").mkdir(parents=True)
    _openpyxl_payments(inbox / "a" / "发放明细.xlsx", rnd)
    _exact_integers(inbox / "a" / "exact.xlsx", rnd)
    for file, (kind, rows) in enumerate((("payments", 260), ("allocations", 120), ("roster", 150), ("projects", 90),
                                         ("staff", 40)), 1):
        _xlsxwriter_file(inbox / "a" / f"{kind}.xlsx", kind, rnd, rows, file)
    wb = openpyxl.Workbook()  # a header and nothing below it
    wb.active.append([c.header for c in KINDS_BY_TABLE["deaths"].columns])
    wb.save(inbox / "a" / "empty.xlsx")
    return inbox


def _load(inbox: Path, path: Path, *, fast: bool, mp: pytest.MonkeyPatch) -> tuple[dict, int]:
    mp.setattr(xlsx_bulk, "MIN_ROWS", 0 if fast else 10**9)
    mp.setattr(xlsx_bulk, "CHUNK_ROWS", 7)  # many chunks: the rows held back at each chunk's end too
    written, real = [], xlsx_bulk._Chunks._insert

    def spy(self, size):  # noqa: ANN001, ANN202
        written.append(real(self, size))
        return written[-1]

    mp.setattr(xlsx_bulk._Chunks, "_insert", spy)
    wh = Warehouse(inbox, path)
    wh.load()
    return wh.snapshot(), sum(written)


@pytest.fixture(scope="module")
def row_by_row(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    inbox = _hostile_inbox(tmp_path_factory.mktemp("xlsx") / "inbox")
    with pytest.MonkeyPatch.context() as mp:
        expected, written = _load(inbox, inbox.parent / "slow.duckdb", fast=False, mp=mp)
    assert written == 0
    return inbox, expected


def test_xlsx_column_wise_equals_row_by_row(row_by_row: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch):
    inbox, expected = row_by_row
    got, written = _load(inbox, inbox.parent / "fast.duckdb", fast=True, mp=monkeypatch)
    assert got == expected
    # the cases did arrive as meant: most rows written column-wise, many rejected, both 合计 kinds
    loaded = sum(len(got[k]) for k in KINDS_BY_TABLE)
    assert written > 0.6 * loaded and len(got["rejected"]) > 150
    reasons = " ".join(r[3] for r in got["rejected"])
    for words in ("合并单元格 C20:C22", "Excel 错误值 #DIV/0!", "Excel 错误值 #N/A", "单元格是公式", "合计/总计",
                  "超过15位", "公民身份号码写成了数值单元格", "不存在这一天", "金额不能为负数"):
        assert words in reasons, words
    assert len(got["totals"]) >= 1 and len(got["total_checks"]) >= 1
    assert ("a/empty.xlsx", "deaths") in [(f[0], f[2]) for f in got["files"]]


def _no_strip(cells, joined, vtype):  # noqa: ANN001, ANN202
    return cells if vtype is VType.TEXT else real_shortcut(cells, joined, vtype)


real_shortcut = xlsx_bulk._shortcut
MUTATIONS = {
    "text not stripped": ("_shortcut", _no_strip),
    "no row around hidden cells left to Python": ("special_rows", lambda self: set()),
    "a '#' text read as it is": ("_MARKED", "\uffff"),
    "a float of 1e15 or more read as the float": ("_EXACT_LIMIT", float("inf")),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_a_broken_column_wise_path_is_noticed(row_by_row: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch,
                                              mutation: str):
    inbox, expected = row_by_row
    name, broken = MUTATIONS[mutation]
    monkeypatch.setattr(XlsxSheet if name == "special_rows" else xlsx_bulk, name, broken)
    got, _ = _load(inbox, inbox.parent / f"broken-{hash(mutation)}.duckdb", fast=True, mp=monkeypatch)
    assert got != expected
