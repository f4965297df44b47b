"""CSV through DuckDB's reader (ingestion.csv_duckdb) gives exactly what the Python reader gives: the
same values, rejected rows with the same reasons and row numbers, the same 合计 checks; the SQL
normalisers are only ever sure of what the Python normalisers return."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from ingest_helpers import ID1, ID2, PAY_HEADER, Warehouse, pay_row, write_csv

import ingestion.csv_duckdb as csv_duckdb
import ingestion.load as load
from ingestion import normalise as nz
from ingestion.kinds import VType
from ingestion.normalise_sql import create_macros, select
from ingestion.parse import NORMALISERS

# ---------------------------------------------------------------- the normalisers, SQL beside Python
USUAL = {  # forms the generator and the clerks' files use: SQL must be sure of each
    VType.TEXT: [" 第一批 ", "中国银行", "P2020001", "\u3000备注\u3000", "备注\x85", "\x1c备注", "é\u0301 "],
    VType.NAME: ["张三", "张 三", "买买提•艾力", "阿依古丽\u3000买买提", " 李子凤 ", "帕提古丽・热合曼"],
    VType.ID: [ID1, ID2, "43012119850315003x", "430102 19900101 1238", "４３０１０２１９９００１０１１２３８",
               "4301021990", "430102900101123", "430121850315003",  # 15 digits: upgraded
               "４３０１０２９００１０１１２３"],
    VType.ACCOUNT: ["6217000011112222", "6217 0000 1111 2222", "6217-0000-1111-2222", "'6217000011112222",
                    "6217 0000 1111 2222 ", "621285-000015-943363-6"],
    VType.CODE: ["430121", " 430121 ", "４３０１２１"],
    VType.MONEY: ["1200", "1200.5", "1,200.00", "￥5,000.00", "¥1200", "1200元", "人民币 1,200", "１２００．５０",
                  "1200.500", "0", "5,000.00", "５０００.００", "1,234,567.89"],
    VType.INT: ["30", "30天", "1,000人", "12.0", "00012"],
    VType.DATE: ["2020-06-30", "2020/6/30", "2020.8.21", "2020年6月30日", "20200630", " 2020-06-30 ",
                 "２０２０-０６-３０", "2020-06-30 00:00:00", "2020-06-30T08:00", "2020/8/13", "2020.8.1",
                 "2020年8月10日", "19000101", "2099-12-31"],
    VType.DOCNO: ["湘财社指〔2020〕36号", "湘财社指[2020]36号", "湘财社指（2020）36号", " 湘财社指 【2020】 36 号 ",
                  "会议纪要2020-3", "〔2020〕36号"],
}
ODD = ["", " ", "\u3000", "-5", "-0", "1.2万", "12O0", "1,20,0", "1200.505", "99999999999999999", "2020-02-30",
       "2020-06/30", "2020年6月30", "1020-06-30", "٢٠٢٠-06-30", "４３０１０２９００１０１１２３", "430102900101123",
       "ßx", "62a7", "'", "4301", "2147483648", "12.5", "#N/A", "湘财社指〔٢٠٢٠〕36号", "a\u2003b", "x\u00a0",
       ID1 + "\n", "\n" + ID1, "2020-06-30\n", "20200630\n", "1200\n", "30\n", "430121\n", "湘财社指〔2020〕36号\n"]
_ALPHABET = "0123456789０１２３-/.,，．年月日号元￥¥RMB人民币天 \u3000\u00a0\t'ＸxX〔〕[]（）()【】T:٣湘财社指张•"


def _python(vtype: VType, value: str) -> tuple[bool, object]:
    try:
        return True, NORMALISERS[vtype](value)
    except nz.BadValue:
        return False, None


def _sql(con: duckdb.DuckDBPyConnection, vtype: VType, values: list[str]) -> list[tuple[object, bool]]:
    con.execute("CREATE OR REPLACE TEMP TABLE v AS SELECT unnest(?::VARCHAR[]) AS x_s, generate_subscripts(?, 1) AS i",
                [values, values])
    return [(v, ok) for _, v, ok in con.execute(
        f"SELECT * FROM ({select('SELECT i, x_s FROM v', {'x': vtype}, 'i')}) ORDER BY i").fetchall()]


def _near_usual(rnd: random.Random, vtype: VType) -> str:
    """A value near the usual forms SQL decides by itself (mostly those of ``vtype``), each part taken
    from the edge of what it accepts, with a space of some kind before or after it now and then."""
    def num(n: int) -> str:
        return str(rnd.randrange(10**n)).zfill(n)

    def date() -> str:
        year = rnd.choice(["1899", "1900", "1999", "2000", "2020", "2099", "2100", "0999", "202", "20201"])
        month = rnd.choice(["0", "1", "01", "2", "02", "9", "12", "13", "001", ""])
        day = rnd.choice(["0", "1", "01", "28", "29", "30", "31", "32", "010", ""])
        if rnd.random() < 0.2:
            return year + rnd.choice([month.zfill(2)[-2:], num(2)]) + rnd.choice([day.zfill(2)[-2:], num(2)])
        sep = rnd.choice(["-", "/", ".", "-", "/", ".", "年", "月", "日", " ", "．", ","])
        return (year + sep + month + (sep if rnd.random() < 0.8 else rnd.choice("-/.月")) + day
                + rnd.choice(["", "", "", "日", " 00:00:00", "T08:00"]))

    def money() -> str:
        if rnd.random() < 0.3:
            return num(rnd.randint(1, 18)) + rnd.choice(["", ".5", ".05", ".555"])
        groups = "".join("," + num(rnd.choice([3, 3, 3, 2, 4])) for _ in range(rnd.randint(0, 6)))
        return (rnd.choice(["", "", "", "￥", "¥", "RMB", "-"]) + num(rnd.randint(1, 3)) + groups
                + rnd.choice(["", ".5", ".50", ".500", ".505", ".", ".0"]) + rnd.choice(["", "", "元", "万"]))

    forms = {
        VType.DATE: date,
        VType.MONEY: money,
        VType.INT: lambda: num(rnd.randint(1, 11)) + rnd.choice(["", "", ".0", ".00", ".5", "天", "人", "个"]),
        VType.ID: lambda: num(rnd.randint(14, 19)) + rnd.choice(["", "X", "x", "Ｘ"]),
        VType.ACCOUNT: lambda: num(6) + rnd.choice(["", " ", "-", "—"]) + num(rnd.randint(1, 13)),
        VType.CODE: lambda: num(rnd.randint(5, 7)),
        VType.DOCNO: lambda: (rnd.choice(["湘财社指", "", "会议纪要"]) + rnd.choice("〔[【(（［")
                              + rnd.choice(["2020", "٢٠٢٠"]) + rnd.choice("〕]】)）］") + num(2) + "号"),
        VType.TEXT: lambda: rnd.choice(["张三", "P2020001", "中国银行", "é"]),
        VType.NAME: lambda: rnd.choice(["张三", "买买提•艾力", "李 四", "é"]),
    }
    value = forms[vtype if rnd.random() < 0.7 else rnd.choice(list(forms))]()
    space = rnd.choice(["", " ", "\u3000", "\t", "\x85", "\x1c", "\xa0", "\u2003", "\u200b", "\u0301"])
    where = rnd.random()
    return space + value if where < 0.15 else value + space if where < 0.3 else value


@pytest.mark.parametrize("vtype", list(VType))
def test_sql_normalisers_are_sure_only_of_what_python_returns(vtype: VType):
    rnd = random.Random(int.from_bytes(vtype.encode(), "big") % 10_000)
    generated = ["".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(1, 14))) for _ in range(3000)]
    generated += [_near_usual(rnd, vtype) for _ in range(6000)]
    values = USUAL[vtype] + [v for vals in USUAL.values() for v in vals] + ODD + generated
    con = duckdb.connect()
    create_macros(con)
    got = _sql(con, vtype, values)
    wrong = []
    for value, (v, ok) in zip(values, got, strict=True):
        if ok and _python(vtype, value) != (True, v):
            wrong.append((value, v, _python(vtype, value)))
    assert wrong == []
    unsure = [value for value, (_, ok) in zip(values[:len(USUAL[vtype])], got, strict=False) if not ok]
    assert unsure == []  # the usual forms are decided in SQL, not left to Python row by row


# ---------------------------------------------------------------- whole files, both readers
def _hostile_inbox(inbox: Path) -> None:
    """Files the DuckDB path takes (one record per line), full of rows it must leave to Python."""
    rows = [pay_row(f"T{i:03d}", amount=a, date=d, id_number=idn, account=acc, unit=u)
            for i, (a, d, idn, acc, u) in enumerate([
                ("1200.00", "2020-06-30", ID1, "6217000011112222", "430121"),
                ("￥1,200.00", "2020.6.30", ID2, "6217 0000 1111 2222", "４３０１２１"),
                ("-5", "2020-06-30", ID1, "6217000011112222", "430121"),  # negative: refused
                ("1200.505", "2020-02-30", ID1, "6217000011112222", "430121"),  # two refusals
                ("1200", "2020-06-30", "", "6217000011112222", "430121"),  # required ID missing
                ("1200", "2020-06-30", "430102900101123", "6217000011112222", "430121"),  # 15 digits: Python
                ("1200", "2020-06-30", ID1, "62a7", "430121"),  # account refused
                ("#N/A", "2020-06-30", ID1, "6217000011112222", "430121"),  # Excel error text
                ("1200", "٢٠٢٠-06-30", ID1, "6217000011112222", "4301"),  # other digits, bad code
                ("1200", "2020-06-30", ID1, "6217000011112222", "430121"),
            ])]
    rows[9][10] = "备注，含逗号"
    wide = pay_row("T100")
    wide[7:8] = ["1", "200.00"]  # an unquoted thousands comma: one cell too many
    body = [["2020年补助资金发放明细"], ["填报单位：长沙县"], [], PAY_HEADER, *rows, wide, [], ["", "", ""],
            pay_row('T101 "quoted" text', amount="1,500.00"), ["合计", "", "", "", "", "", "", "9999.00"]]
    write_csv(inbox / "a" / "发放明细.csv", body)
    write_csv(inbox / "a" / "gbk.csv", [PAY_HEADER, pay_row("G1", name="欧阳 娜"), pay_row("G2", amount="abc")],
              encoding="gb18030")
    write_csv(inbox / "a" / "bom.csv", [PAY_HEADER, pay_row("B1"), pay_row("T000", amount="1300"),
                                        ["合计", "", "", "", "", "", "", "1,300.00"]], encoding="utf-8-sig")
    (inbox / "a" / "lf.csv").write_text(",".join(PAY_HEADER) + "\n" + ",".join(map(str, pay_row("L1"))) + "\n\n",
                                        encoding="utf-8")
    write_csv(inbox / "b" / "copy.csv", [PAY_HEADER, pay_row("B1")], encoding="utf-8-sig")  # a key seen twice
    # Lines written by hand: quoted fields as SQL splits them, the value forms SQL reads by itself and
    # their neighbours just outside (each row's reference says what it holds).
    def line(ref: str, amount: str = "1200", date: str = "2020-06-30", name: str = "张三",
             account: str = "6217000011112222", remark: str = "") -> str:
        return ",".join([ref, "第一批", "P2020001", name, ID1, account, "农行", amount, date, "430121", remark])
    lines = [",".join(PAY_HEADER),
             line("F1", amount='"5,000.00"', date="2020.8.21"),
             line("F2", amount='"1,234,567.89"', date="2020/8/1"),
             line("F3", amount='"1,20,0"'), line("F4", amount='"￥5,000.00"', date="2020年8月10日"),
             line("F5", amount="5000元", date="20200810"), line("F6", amount="１２００.００", date="2020年8月10"),
             line("F7", date="2020.2.30"), line("F8", date="2100-01-01"), line("F9", date="1899/12/31"),
             line("F10", date="19000101"), line("F11", remark='"含""引号"",和逗号"'), line("F12", remark='x"y'),
             line("F13", remark='"a"b'), line('"F14"', amount='""'),
             line("F15", name=" 李子凤 ", remark="备注\x85"),
             line("F16", name="帕提古丽・热合曼", remark="\u3000备注\x1c"),
             line("F17", account="621285-000015-943363-6", remark="#1"), line("F18", amount='"#N/A"'),
             line("F19", account="6255 1902 3862 6806 "), ',"",\u3000,, ,,,,,,', '"",,,,,,,,,,',
             line("F20", amount='"9,999.99"'), line("F21", date="2020-8-1", remark='"甲,乙"'),
             line("F22") + ',"多,一格"', line("F23", remark=" #DIV/0! "),
             ",,,,,,,,,,", ",,,,,,,,,,,,,,,,", line("F24"),  # blank rows of commas alone (one wider than the header)
             '"合计",,,,,,,"1,234,567.89",,,'] + [",,,,,,,,,,"] * 150  # the 合计 line, 150 blank lines above the end
    (inbox / "d").mkdir()
    (inbox / "d" / "forms.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    # Lines ending in LF, then one in CR LF (which DuckDB's line reader, having met LF first, reads as
    # two line ends), then a refused row: the Python reader numbers such a file.
    (inbox / "e").mkdir()
    (inbox / "e" / "mixed.csv").write_text("\n".join([",".join(PAY_HEADER), line("E1"), line("E2")]) + "\n"
                                           + line("E3") + "\r\n" + line("E4", amount="-5") + "\n", encoding="utf-8")
    # Records over several lines: numbered by the Python reader (these two do not go through DuckDB).
    multiline = pay_row("M1")
    multiline[10] = "第一行\n第二行"
    write_csv(inbox / "c" / "multiline.csv", [PAY_HEADER, multiline, pay_row("M2")])
    (inbox / "c" / "unclosed.csv").write_text(
        ",".join(PAY_HEADER) + "\r\n" + ",".join(pay_row("U1")) + '"\r\n' + ",".join(pay_row("U2")) + "\r\n",
        encoding="utf-8")


def test_csv_through_duckdb_equals_the_python_reader(tmp_path: Path, monkeypatch):
    inbox = tmp_path / "inbox"
    _hostile_inbox(inbox)
    monkeypatch.setattr(csv_duckdb, "MIN_BYTES", 0)
    real, used = csv_duckdb.prepare, []

    def spy(*args, **kwargs):
        got = real(*args, **kwargs)
        used.append((str(args[1]), got is not None))  # by path: two files are recorded at once
        return got

    monkeypatch.setattr(csv_duckdb, "prepare", spy)
    fast = Warehouse(inbox, tmp_path / "fast.duckdb")
    fast.load()
    # every file with one record per line and one line end
    assert [ok for _, ok in sorted(used)] == [True] * 5 + [False] * 2 + [True, False]
    monkeypatch.setattr(csv_duckdb, "prepare", lambda *a, **k: None)
    slow = Warehouse(inbox, tmp_path / "slow.duckdb")
    slow.load()
    got, expected = fast.snapshot(), slow.snapshot()
    assert got == expected
    assert len(got["rejected"]) >= 9 and got["totals"]  # the cases above did arrive as meant
    forms = {r[0]: r[1:] for r in fast.q("SELECT txn_ref, amount, pay_date, name, account_no, remark FROM raw.payments "
                                          "WHERE source_file = 'd/forms.csv'")}
    assert forms["F1"][:2] == (Decimal("5000.00"), date(2020, 8, 21)) and forms["F11"][4] == '含"引号",和逗号'
    assert forms["F21"][4] == "甲,乙" and forms["F15"][2:] == ("李子凤", "6217000011112222", "备注")
    assert {r[1] for r in got["rejected"] if r[0] == "d/forms.csv"} == {4, 7, 8, 9, 10, 15, 19, 25, 26}


def test_line_numbers_hold_across_duckdb_read_buffers(wh: Warehouse, inbox: Path):
    """DuckDB reads a file in parallel buffers of some 32 MB, into row groups of 122,880 lines: each row
    keeps the number of its line (the lines table's rowid)."""
    pad = "x" * 400
    lines = [",".join(PAY_HEADER)] + [
        ",".join(map(str, pay_row(f"L{n}", amount=f"{n % 997}.00")[:10])) + "," + pad for n in range(2, 130_002)]
    lines[5_000] = lines[5_000].replace("-06-30", "-02-30")  # line 5001: a day that does not exist
    lines[125_000] = lines[125_000].replace("-06-30", "-02-30")  # line 125001, in the second row group
    (inbox / "big.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (inbox / "big.csv").stat().st_size > 40_000_000
    wh.load()
    assert wh.q("SELECT count(*) FROM raw.payments WHERE txn_ref <> 'L' || source_row") == [(0,)]
    assert wh.q("SELECT count(*), min(source_row), max(source_row) FROM raw.payments") == [(129_998, 2, 130_001)]
    assert [r[:2] for r in wh.rejected()] == [("big.csv", 5001), ("big.csv", 125_001)]
    assert wh.q("SELECT sum(amount) FROM raw.payments")[0][0] == sum(
        Decimal(n % 997) for n in range(2, 130_002) if n not in (5001, 125_001))
    assert wh.q("SELECT min(pay_date) FROM raw.payments") == [(date(2020, 6, 30),)]


def _wal_sizes_at_rebuild(wh: Warehouse, monkeypatch) -> list[int]:
    """The WAL's size when each load has recorded its files (before the rebuild and the checkpoint)."""
    wal = Path(f"{wh.path}.wal")
    logged: list[int] = []
    real = load.finish_run

    def finish_run(con, say):
        logged.append(wal.stat().st_size if wal.exists() else 0)
        return real(con, say)

    monkeypatch.setattr(load, "finish_run", finish_run)
    return logged


def test_a_file_of_many_rows_goes_into_the_warehouse_file_not_its_log(wh: Warehouse, inbox: Path, monkeypatch):
    """More rows than a row group (122,880), two of them left to the Python normalisers: the rows SQL
    wrote are never deleted again in the file's transaction, so DuckDB writes them straight into the
    warehouse file. A delete there made it log every row the file appended to the WAL and write them
    all again at the checkpoint (at 10M payments a 2.5 GB WAL and a 10 s checkpoint)."""
    lines = [",".join(PAY_HEADER)] + [",".join(map(str, pay_row(f"L{n}")[:10])) + "," for n in range(2, 130_002)]
    lines[5_000] = lines[5_000].replace("-06-30", "-02-30")  # line 5001: rejected (no such day)
    lines[90_000] += "#补发"  # line 90001: a '#' in a cell, which SQL leaves to Python: loaded
    (inbox / "big.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    logged = _wal_sizes_at_rebuild(wh, monkeypatch)
    wh.load()
    assert wh.q("SELECT count(*), min(source_row), max(source_row) FROM raw.payments") == [(129_999, 2, 130_001)]
    assert [r[:2] for r in wh.rejected()] == [("big.csv", 5001)]
    assert wh.q("SELECT remark FROM raw.payments WHERE source_row = 90001") == [("#补发",)]
    assert logged and logged[0] < 1_000_000, f"the file's rows went through the WAL ({logged[0]:,} bytes)"


def test_a_file_smaller_than_duckdbs_row_group_skips_the_log_too(wh: Warehouse, inbox: Path, monkeypatch):
    """A file of 40,000 rows arriving when the raw tables hold rows already: a load of small files writes
    row groups of SMALL_ROW_GROUP rows, so the file's rows go into the warehouse file as whole compressed
    row groups. With DuckDB's default row group (122,880 rows) all of them went through the WAL and were
    written again at the checkpoint (at 1M payments, files of 35,000-75,000 rows: a 483 MB WAL)."""
    (inbox / "first.csv").write_text("\n".join(
        [",".join(PAY_HEADER)] + [",".join(map(str, pay_row(f"F{n}")[:10])) + "," for n in range(2, 12)]) + "\n",
        encoding="utf-8")
    wh.load()
    lines = [",".join(PAY_HEADER)] + [",".join(map(str, pay_row(f"L{n}")[:10])) + "," for n in range(2, 40_002)]
    (inbox / "second.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    logged = _wal_sizes_at_rebuild(wh, monkeypatch)
    wh.load()
    assert wh.q("SELECT count(*) FROM raw.payments WHERE source_file = 'second.csv'") == [(40_000,)]
    assert wh.q("SELECT count(*) FROM raw.payments") == [(40_010,)]
    assert logged and logged[0] < 1_000_000, f"the file's rows went through the WAL ({logged[0]:,} bytes)"


def test_small_row_groups_only_for_a_load_of_small_files(tmp_path: Path):
    """Row groups of SMALL_ROW_GROUP rows when the files to read average under SMALL_FILES_BYTES; DuckDB's
    default otherwise (big files skip the WAL anyway, and DuckDB would merge their small row groups
    later), and when nothing is to be read."""
    from ingestion.inbox import Entry

    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small.write_bytes(b"x" * 1000)
    with big.open("wb") as fh:
        fh.truncate(3 * load.SMALL_FILES_BYTES)
    files = [Entry("small.csv", small), Entry("big.csv", big)]
    assert load.row_group_size(files[:1]) == load.SMALL_ROW_GROUP
    assert load.row_group_size(files) is None
    assert load.row_group_size([*files[:1] * 3, files[1]]) == load.SMALL_ROW_GROUP  # the mean: 12 MB
    assert load.row_group_size([Entry("gone.csv", tmp_path / "gone.csv"), files[1].refused("坏")]) is None


def test_sql_splits_lines_of_plain_fields_as_the_csv_module_does(tmp_path: Path):
    """Every line whose quotes close on it: SQL splits the lines of plain fields as the csv module does,
    and leaves exactly the others (quotes inside a field, text after a closing quote) to it."""
    import csv

    from ingestion.csv_reader import open_quote_line
    from ingestion.readers import Limits

    rnd = random.Random(5)
    lines = ['a,"5,000.00",x', '"a""b",c', '"",a,""', ",a,,b,", '"x\ty"', '"甲，乙",丙', "  ", ",", '""""',
             '"é́😀",x', 'a"b,c', '"a"b,c', ' "a",b'] + [
        "".join(rnd.choice('ab,"，é ') for _ in range(rnd.randint(1, 10))) for _ in range(20_000)]
    lines = [line for line in lines if open_quote_line([line], 1) is None]
    path = tmp_path / "lines.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    odd = csv_duckdb._read_lines(con, path, Limits())
    assert odd is not None
    got = con.execute(f"""SELECT n, l, list_transform({csv_duckdb.CELLS}, lambda f: {csv_duckdb.unquoted('f')})
        FROM fw_csv_lines ORDER BY n""").fetchall()
    assert [line for _, line, _ in got] == lines
    expected = {n: next(csv.reader([line])) for n, line in enumerate(lines, 1)}
    plain = {n: cells for n, _, cells in got if n not in odd}
    assert len(plain) > 3000 and len(odd) > 3000 and {2, 3, 9, 10} <= set(plain) and {11, 12, 13} <= set(odd)
    assert plain == {n: expected[n] for n in plain}
    assert {n for n, _, cells in got if cells != expected[n]} <= set(odd)  # what SQL would split wrongly


def test_the_written_out_character_classes_are_pythons():
    import re
    import sys

    from ingestion.normalise_sql import OTHER_DIGIT_RANGES, WS_RANGES

    def codes(ranges):
        return [c for a, b in ranges for c in range(a, b + 1)]

    assert codes(WS_RANGES) == [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert codes(OTHER_DIGIT_RANGES) == [c for c in range(128, sys.maxunicode + 1) if re.match(r"\d", chr(c))]


@pytest.mark.parametrize(("data", "plain"), [
    (b"a,b\r\nc,d\r\n", True), (b"a,b\nc,d\n\n", True), (b"a,b\r\nc\r\n\r\nd\r\n", True),
    (b"a,b\rc,d\r\n", False), (b"a,b\r\nc,d\r", False), (b"a,b\r\r\nc", False), (b"a\x1eb\n", False),
    (b"abc\r\ndef\r\n", True), (b"abc\rdef\r\n", False), (b"ab\r\r\ndef\r\n", False),  # around the chunk's end
    (b"a,b\nc,d\r\n", False), (b"a,b\r\nc,d\n", False), (b"abc\n\r\nd", False), (b"abc\n\ndef\n", True),  # mixed ends
])
def test_plain_lines_are_lines_ending_in_lf_or_crlf_without_rs(tmp_path: Path, monkeypatch, data: bytes, plain: bool):
    """Whether DuckDB's line reader may read a file (readers.FileScan.plain_lines), also across chunks."""
    from ingestion import readers

    monkeypatch.setattr(readers, "CHUNK", 4)  # "abc\r" | "\ndef" ...: a CR at a chunk's end, its LF next
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert readers.scan_file(path).plain_lines is plain


def test_plain_lines_over_random_bytes_and_chunk_sizes(tmp_path: Path, monkeypatch):
    """plain_lines, counted chunk by chunk, is what the whole file says: no RS, no CR without its LF,
    and not both CR LF and bare LF line ends; whatever the chunk size."""
    import random
    import re

    from ingestion import readers

    def whole(data: bytes) -> bool:
        return (b"\x1e" not in data and not re.search(b"\r(?!\n)", data)
                and not (b"\r\n" in data and re.search(b"(?<!\r)\n", data)))

    rnd = random.Random(17)
    path = tmp_path / "x.csv"
    seen = set()
    for _ in range(1000):
        alphabet = b"ab\r\n\n\x1e" if rnd.random() < 0.05 else b"ab\r\n\n"
        data = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        path.write_bytes(data)
        for chunk in (1, 2, 3, 5, 1024):
            monkeypatch.setattr(readers, "CHUNK", chunk)
            assert readers.scan_file(path).plain_lines is whole(data), (data, chunk)
        seen.add(whole(data))
    assert seen == {True, False}


def test_utf8_is_pythons_strict_decoder_over_random_bytes_and_chunk_sizes(tmp_path: Path, monkeypatch):
    """FileScan.utf8 (Arrow validates, Python decides a piece Arrow refuses) is what Python's strict
    decoder says of the whole file, whatever the chunk size: characters cut at a chunk's end,
    surrogates, overlong forms, beyond U+10FFFF, a file ending inside a character."""
    import random

    from ingestion import readers

    pieces = [b"a", b"\n", "中".encode(), "é".encode(), "😀".encode(), b"\xed\xa0\x80", b"\xc0\x80",
              b"\xe0\x80\x80", b"\xf4\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf8\x88\x80\x80\x80",
              b"\x80", b"\xff", b"\xe5", b"\xe5\xad", b"\xf0\x9f"]

    def strict(data: bytes) -> bool:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    rnd = random.Random(5)
    path = tmp_path / "x.csv"
    seen = set()
    for _ in range(600):
        data = b"".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8)))
        path.write_bytes(data)
        for chunk in (1, 2, 3, 4, 5, 1024):
            monkeypatch.setattr(readers, "CHUNK", chunk)
            assert readers.scan_file(path).utf8 is strict(data), (data, chunk)
        seen.add(strict(data))
    assert seen == {True, False}


def test_utf8_evidence_before_a_bad_byte(tmp_path: Path, monkeypatch):
    """Several CJK characters decoded as UTF-8 before the first bad byte are evidence of a UTF-8 file
    (then rejected with the bad byte's line), however the file is cut into chunks; a GB18030 file has none."""
    from ingestion import readers

    utf8_then_bad = "姓名,金额\n张三,100\n".encode() + b"\xd5\xc5\n"
    gb = "姓名,金额\n张三,100\n".encode("gb18030")
    for chunk in (1, 3, 7, 1024):
        monkeypatch.setattr(readers, "CHUNK", chunk)
        for data, evidence in ((utf8_then_bad, True), (gb, False)):
            path = tmp_path / "x.csv"
            path.write_bytes(data)
            scan = readers.scan_file(path)
            assert (scan.utf8, scan.utf8_text_before_error) == (False, evidence), (data, chunk)


def test_filter_pushdown_is_off_while_any_thread_inserts_and_on_again_after():
    """DuckDB's filter pushdown is one setting of the database: off from the first insert that starts to
    the last that ends (two recorder threads overlap), on again after, also when an insert fails."""
    from ingestion.csv_duckdb import _without_filter_pushdown

    con = duckdb.connect()
    other = con.cursor()

    def setting() -> str:
        return other.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0]

    assert setting() == ""
    with _without_filter_pushdown(con):
        assert setting() == "filter_pushdown"
        with pytest.raises(duckdb.Error), _without_filter_pushdown(other):
            other.execute("INSERT INTO no_such_table VALUES (1)")
        assert setting() == "filter_pushdown"  # the first is still inserting
    assert setting() == ""
