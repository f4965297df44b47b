# ruff: noqa: E501  -- wide data tables (CJK counts double) read better one record per line
"""A hand-made raw layer (ARCHITECTURE.md) with one firing and one near-miss case per rule.

All people, IDs and accounts are synthetic. Run date: 2021-04-30.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from ingestion.kinds import KINDS
from ingestion.load import ensure_schema

RUN_DATE = date(2021, 4, 30)

U1, U2 = "430102", "430103"
PA, PB, PC, PD, PE, PF = "JQ2020-01", "QJ2020-02", "QJ2020-03", "HY2020-04", "NX2020-05", "NX2020-06"

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def make_id(body17: str) -> str:
    """Append the GB 11643 check character to 17 digits."""
    total = sum(int(c) * w for c, w in zip(body17, _WEIGHTS, strict=True))
    return body17 + "10X98765432"[total % 11]


def wrong_check(valid: str) -> str:
    last = valid[-1]
    return valid[:-1] + ("0" if last != "0" else "1")


ID1 = make_id("43010219800101001")
ID2 = make_id("43010219800101002")
ID3 = make_id("43010219800101003")
ID4 = make_id("43010219800101004")
ID5 = make_id("43010219800101005")
ID6 = make_id("43010219800101006")
ID7 = make_id("43010219800101007")
ID8 = make_id("43010219800101008")
ID9 = make_id("43010219800101009")
ID_BAD_CHECK = wrong_check(make_id("43010219800101010"))
ID_BAD_DATE = make_id("43010219900230011")  # 30 February
ID_UNBORN = make_id("43010220210101012")  # born after the payment
ID_SHORT = make_id("43010219800101013")[:17]
ID10 = make_id("43242119400101014")  # 4324xx: a code that no longer exists, still valid
ID11 = make_id("43010219800101015")
ID12 = make_id("43010219800101016")
ID13 = make_id("43010219800101017")
ID14 = make_id("43010219800101018")
ID_X = make_id("43010219800101029")  # ends in X
assert ID_X.endswith("X")
ID15 = make_id("43010219800101030")
SHARED_IDS = [make_id(f"43010219850101{n:03d}") for n in range(1, 53)]  # 52 payees of one account
SHARED_ACCOUNT = "6228480000009999"
BIG_AMOUNT = "98765432109876.54"  # 16 digits: a float cannot hold it

F_ALLOC, F_CREDIT, F_PROJ = "funds/指标.xlsx", "funds/到账.csv", "docs/项目文本.xlsx"
F_ROSTER, F_PAY, F_EXP = "roster/名单.xlsx", "pay/发放明细.xlsx", "exp/支出.xlsx"
F_POST, F_REPORT, F_DEC = "docs/公示.xlsx", "docs/终期报告.xlsx", "docs/决策.xlsx"
F_DEATH, F_STAFF = "reg/死亡.csv", "reg/名册.csv"
F_UNIT_ROWS = "长沙县/发放/补发明细.csv"

D = date.fromisoformat


def _rows(file: str, rows: list[tuple], start: int = 3) -> list[tuple]:
    return [(*r, file, start + i, "sha-" + file, "run-1", None) for i, r in enumerate(rows)]


ALLOCATIONS = _rows(F_ALLOC, [
    # doc_no, issue_date, issuer, fiscal_year, recipient_code, recipient_name, project_code, amount, deadline_days
    ("湘财社指〔2020〕36号", D("2020-03-01"), "湖南省财政厅", 2020, U1, "芙蓉区计生协", PA, "50000.00", None),  # row 3
    ("湘财社指〔2020〕37号", D("2020-03-01"), "湖南省财政厅", 2020, U1, "芙蓉区计生协", PA, "10000.00", 60),  # row 4
    ("湘财社指〔2021〕5号", D("2021-04-01"), "湖南省财政厅", 2021, U2, "天心区计生协", PB, "8000.00", None),  # row 5
    ("湘财社指〔2020〕50号", D("2020-06-01"), "湖南省财政厅", 2020, U2, "天心区计生协", PE, "1000.00", None),  # row 6
    ("湘财社指〔2020〕51号", D("2020-06-01"), "湖南省财政厅", 2020, U2, "天心区计生协", PF, "1000.00", None),  # row 7
    ("湘财社指〔2020〕60号", D("2020-06-01"), "湖南省财政厅", 2020, U1, "芙蓉区计生协", PA, "500.00", None),  # row 8
    ("湘财社指〔2020〕60号", D("2020-06-01"), "湖南省财政厅", 2020, U1, "芙蓉区计生协", PB, "500.00", None),  # row 9
])

CREDITS = _rows(F_CREDIT, [
    # txn_ref, value_date, payer, recipient_code, recipient_name, amount, doc_no, memo, project_code
    ("C01", D("2020-03-31"), "省财政厅", U1, "芙蓉区计生协", "30000.00", "湘财社指〔2020〕36号", None, None),  # deadline day
    ("C02", D("2020-04-01"), "省财政厅", U1, "芙蓉区计生协", "20000.00", None, "湘财社指【2020】36号金秋助学", None),
    ("C03", D("2020-04-30"), "省财政厅", U1, "芙蓉区计生协", "6000.00", None, "拨付湘财社指(2020)37号资金", PA),
    ("C04", D("2020-06-10"), "省财政厅", U2, "天心区计生协", "1200.00", "湘财社指〔2020〕50号", None, PE),
    ("C05", D("2020-07-01"), "省财政厅", U2, "天心区计生协", "1000.00", None, "湘财社指[2020]51号", None),
    ("C06", D("2020-06-05"), "省财政厅", U1, "芙蓉区计生协", "500.00", "湘财社指〔2020〕60号", None, None),  # 2 candidates
    ("C07", D("2020-06-05"), "省财政厅", U1, "芙蓉区计生协", "500.00", None, "湘财社指〔2020〕60号", PB),  # narrowed
    ("C08", D("2020-06-05"), "省财政厅", U1, "芙蓉区计生协", "99.00", None, "湘财社指〔2020〕99号", None),  # none
    ("C09", D("2020-06-05"), "省财政厅", U1, "芙蓉区计生协", "88.00", None, "往来款", None),  # no doc no
    ("C10", D("2020-03-05"), "省财政厅", U2, "天心区计生协", "77.00", "湘财社指〔2020〕36号", None, None),  # other unit
    ("C11", D("2020-04-02"), "省财政厅", U1, "芙蓉区计生协", "1000.00", None, "湘财社指（2020）37号第二笔", None),
])

PROJECTS = _rows(F_PROJ, [
    # project_code, name, type, unit_code, unit_name, start, end, budget, standard, pay_deadline, publicity_days,
    # report_deadline, allowed_categories, large_amount_threshold
    (PA, "2020年金秋助学", "金秋助学", U1, "芙蓉区计生协", D("2020-01-01"), D("2021-03-31"), "1000000.00",
     "3000.00", D("2020-09-30"), 7, D("2021-06-30"), "补助发放、宣传费；培训费", None),  # row 3
    (PB, "青春健康教育甲", "青春健康教育", U1, "芙蓉区计生协", D("2020-01-01"), D("2021-03-31"), "1000.00",
     None, None, None, D("2021-04-29"), "宣传费", "10000.00"),  # row 4
    (PC, "青春健康教育乙", "青春健康教育", U2, "天心区计生协", D("2020-01-01"), D("2021-03-31"), "1000.00",
     None, None, None, D("2021-04-30"), "宣传费", None),  # row 5
    (PD, "会员之家", "会员之家建设", U2, "天心区计生协", D("2020-01-01"), D("2020-12-31"), "10000.00",
     None, None, None, D("2021-01-31"), "宣传费", None),  # row 6
    (PE, "暖心家园甲", "暖心家园建设", U2, "天心区计生协", D("2020-01-01"), D("2021-01-29"), "10000.00",
     None, None, None, D("2021-03-31"), "宣传费", None),  # row 7
    (PF, "暖心家园乙", "暖心家园建设", U2, "天心区计生协", D("2020-01-01"), D("2021-01-30"), "10000.00",
     None, None, None, D("2021-03-31"), "宣传费", None),  # row 8
])

ROSTER = _rows(F_ROSTER, [
    # project_code, name, id_number, person_category, account_no, bank_name, approved_amount, unit_code,
    # report_date, publicity_start, publicity_end
    (PA, "张三", ID1, "计生家庭子女", "6217990000000001", "邮储银行", "3000.00", U1, None,
     D("2020-05-04"), D("2020-05-10")),  # row 3: 7 days exactly
    (PA, "李四", ID2, "计生家庭子女", "6217990000000002", "邮储银行", "3000.00", U1, None,
     D("2020-05-05"), D("2020-05-10")),  # row 4: 6 days
    (PA, "王五", ID3, "计生家庭子女", None, None, "2000.00", U1, None, None, D("2020-05-10")),  # row 5
    (PA, "赵六", ID4, "计生家庭子女", "6217990000000004", "邮储银行", "3000.00", U1, None,
     D("2020-05-04"), D("2020-05-10")),  # row 6: never paid
    (PB, "钱七", ID5, None, None, None, "100.00", U1, None, D("2020-05-01"), D("2020-05-10")),  # row 7
    ("PX-NODOC", "孙八", ID6, None, None, None, "50.00", U2, None, D("2020-05-01"), D("2020-05-06")),  # row 8
    ("PX-NODOC", "吴九", ID7, None, None, None, "50.00", U2, None, D("2020-05-01"), D("2020-05-07")),  # row 9
])

PAYMENTS = _rows(F_PAY, [
    # txn_ref, batch, project_code, name, id_number, account_no, bank_name, amount, pay_date, unit_code, remark
    ("P001", "1", PA, "张三", ID1, "6217990000000001", "邮储银行", "3000.00", D("2020-05-11"), U1, None),  # row 3
    ("P002", "1", PA, "张三", ID1, "6217990000000001", "邮储银行", "3000.00", D("2020-05-11"), U1, None),  # row 4
    ("P003", "1", PA, "李肆", ID2, "6217990000000009", "邮储银行", "3500.00", D("2020-05-10"), U1, None),  # row 5
    ("P004", "1", PA, "王五", ID3, "6228480000000003", "农业银行", "2000.00", D("2020-09-30"), U1, None),  # row 6
    ("P005", "2", PA, "周十", ID8, "6228480000000008", "农业银行", "1000.00", D("2020-10-01"), U1, None),  # row 7
    ("P006", "2", "PZ-NODOC", "郑一", ID9, "6228480000000010", "农业银行", "100.00", D("2020-06-01"), U2,
     None),  # row 8
    ("P007", "2", PA, "甲", ID_BAD_CHECK, "6228480000000011", "农业银行", "200.00", D("2020-06-01"), U1, None),
    ("P008", "2", PA, "乙", ID_BAD_DATE, "6228480000000012", "农业银行", "200.00", D("2020-06-01"), U1, None),
    ("P009", "2", PA, "丙", ID_UNBORN, "6228480000000013", "农业银行", "200.00", D("2020-06-01"), U1, None),
    ("P010", "2", PA, "丁", ID_SHORT, "6228480000000014", "农业银行", "200.00", D("2020-06-01"), U1, None),
    ("P011", "2", PA, "戊", ID10, "6228480000000015", "农业银行", "100.00", D("2020-06-02"), U1, None),  # row 13
    ("P012", "2", PA, "己", ID11, "6228480000000016", "农业银行", "100.00", D("2020-06-02"), U1, None),  # row 14
    ("P013", "2", PA, "庚", ID12, "6228480000000017", "农业银行", "100.00", D("2020-06-02"), U1, None),  # row 15
    ("P014", "2", PA, "辛", ID13, "6228480000000099", "农业银行", "100.00", D("2020-06-02"), U1, None),  # row 16
    ("P015", "2", PA, "壬", ID14, "6228480000000099", "农业银行", "100.00", D("2020-06-02"), U1, None),  # row 17
    ("P016", "2", PA, "癸", ID_X, "6228480000000018", "农业银行", "100.00", D("2020-06-02"), U1, None),  # row 18
    # 赵六 (ROSTER_UNPAID in PA) was paid under a project code that has no document
    ("P017", "3", "PZ-NODOC", "赵六", ID4, "6228480000000019", "农业银行", "3000.00", D("2020-06-03"), U1,
     None),  # row 19
    ("P018", "3", "PZ-NODOC", "钱多", ID15, "6228480000000020", "农业银行", BIG_AMOUNT, D("2020-06-03"), U1,
     None),  # row 20
    # rows 21-72: one account, 52 payees (PAY_SHARED_ACCOUNT's evidence is cut at 50)
    *((f"S{n:03d}", "4", "PZ-NODOC", "共" + "一二三四五六七八九十"[n % 10], idn, SHARED_ACCOUNT, "农业银行", "10.00",
       D("2020-07-01"), U2, None) for n, idn in enumerate(SHARED_IDS, start=1)),
])

EXPENDITURES = _rows(F_EXP, [
    # voucher_no, project_code, spend_date, category, amount, payee, memo, decision_no
    ("V01", PA, D("2020-06-01"), "宣传费", "1000.00", "印刷厂", None, None),  # row 3
    ("V02", PA, D("2020-06-01"), "培训费", "50000.00", "培训中心", None, "D1"),  # row 4 decided that day
    ("V03", PA, D("2020-06-02"), "餐费", "300.00", "饭店", None, None),  # row 5
    ("V04", PA, D("2021-04-01"), "宣传费", "100.00", "印刷厂", None, None),  # row 6 after the end
    ("V05", PA, D("2021-03-31"), "宣传费", "100.00", "印刷厂", None, None),  # row 7 on the end day
    ("V06", PA, D("2020-07-01"), "宣传费", "60000.00", "广告公司", None, "D2"),  # row 8 other unit
    ("V07", PA, D("2020-07-01"), "宣传费", "50000.00", "广告公司", None, "D3"),  # row 9 decided later
    ("V08", PA, D("2020-07-01"), "宣传费", "49999.99", "广告公司", None, None),  # row 10 under threshold
    ("V09", "PQ-NODOC", D("2020-07-01"), "宣传费", "10.00", "印刷厂", None, None),  # row 11
    ("V10", PB, D("2020-03-01"), "宣传费", "1200.00", "印刷厂", None, None),  # row 12
    ("V11", PC, D("2020-03-01"), "宣传费", "1000.00", "印刷厂", None, None),  # row 13
    ("V12", PD, D("2020-05-01"), "宣传费", "400.00", "印刷厂", None, None),  # row 14
    ("V13", PE, D("2020-05-01"), "宣传费", "300.00", "印刷厂", None, None),  # row 15
    ("V14", PF, D("2020-05-01"), "宣传费", "300.00", "印刷厂", None, None),  # row 16
])

POSTINGS = _rows(F_POST, [
    # project_code, posting_type, start_date, end_date, location, evidence_no
    (PA, "项目挂牌", D("2020-01-05"), None, "芙蓉区", "Z1"),
    (PB, "项目挂牌", D("2020-03-02"), None, "芙蓉区", "Z2"),  # one day after the first spending
    (PC, "项目挂牌", D("2020-03-01"), None, "天心区", "Z3"),  # on the day of the first spending
    (PD, "名单公示", D("2020-04-01"), D("2020-04-10"), "天心区", "Z4"),  # not a signboard
    (PE, "项目挂牌", D("2020-04-01"), None, "天心区", "Z5"),
    (PF, "项目挂牌", D("2020-04-01"), None, "天心区", "Z6"),
])

FINAL_REPORTS = _rows(F_REPORT, [
    # project_code, report_no, submit_date, actual_spent, beneficiaries
    (PD, "R4", D("2021-02-01"), "500.00", None),  # one day late, 100 more than spent
    (PE, "R5", D("2021-03-31"), "300.00", None),  # on the deadline day, equal
    (PF, "R6", D("2021-03-01"), "300.00", None),
])

DECISIONS = _rows(F_DEC, [
    # decision_no, unit_code, meeting_date, meeting_type, matter, amount, project_code
    ("D1", U1, D("2020-06-01"), "会长办公会", "培训", "50000.00", PA),
    ("D2", U2, D("2020-06-01"), "会长办公会", "宣传", "60000.00", PA),
    ("D3", U1, D("2020-07-02"), "会长办公会", "宣传", "50000.00", PA),
])

DEATHS = _rows(F_DEATH, [
    # name, id_number, death_date, data_source
    ("戊", ID10, D("2020-06-01"), "民政"),  # the day before the payment
    ("王五", ID3, D("2020-09-30"), "公安"),  # the day of the payment: not before
], start=2)

STAFF = _rows(F_STAFF, [
    # name, id_number, unit_code, position, relation, staff_id_number
    ("己", ID11, U1, None, "配偶", ID1),  # relative of staff of the paying unit
    ("庚", ID12, U2, "会计", "本人", ID12),  # staff of another unit
], start=2)

FILES = [
    # source_file, file_sha256, size_bytes, kind, status, reason, rows_loaded, rows_rejected, is_current,
    # load_run_id, loaded_at
    *[(f, "sha-" + f, 100, None, "loaded", None, 1, 0, True, "run-1", None)
      for f in (F_ALLOC, F_CREDIT, F_PROJ, F_ROSTER, F_PAY, F_EXP, F_POST, F_REPORT, F_DEC, F_DEATH, F_STAFF)],
    ("inbox/未知.xlsx", "sha-u", 10, None, "rejected", "表头不属于任何一类文件", 0, 0, True, "run-1", None),
    ("inbox/旧.xlsx", "sha-o1", 10, None, "rejected", "表头不属于任何一类文件", 0, 0, False, "run-1", None),
    ("inbox/旧.xlsx", "sha-o2", 10, "payments", "loaded", None, 0, 0, True, "run-2", None),
    # units of file findings come from the deepest folder named after a division (name or code)
    ("长沙县/坏文件.xlsx", "sha-b1", 10, None, "rejected", "文件已损坏", 0, 0, True, "run-1", None),
    ("430103/其他/坏.csv", "sha-b2", 10, None, "rejected", "文件已损坏", 0, 0, True, "run-1", None),
    ("长沙市/长沙县/坏.csv", "sha-b3", 10, None, "rejected", "文件已损坏", 0, 0, True, "run-1", None),
    (F_UNIT_ROWS, "sha-r", 10, "payments", "loaded", None, 0, 3, True, "run-1", None),
]

REJECTED_ROWS = [
    # source_file, source_row, file_sha256, kind, reason, raw_values, load_run_id, loaded_at
    (F_PAY, 40, "sha-" + F_PAY, "payments", "金额（元）：“abc”不是金额", "{}", "run-1", None),
    (F_PAY, 41, "sha-" + F_PAY, "payments", f"交易流水号P001与 {F_PAY} 第3行冲突，身份号码{ID1}", "{}", "run-1", None),
    # units of row findings: the row's own 单位代码 when it reads as 6 digits, else the folder's
    (F_UNIT_ROWS, 3, "sha-r", "payments", "金额（元）：“abc”不是金额",
     '{"交易流水号": "R1", "金额（元）": "abc", "发放单位代码": "430103"}', "run-1", None),
    (F_UNIT_ROWS, 4, "sha-r", "payments", "发放单位代码：“43010”应为6位数字",
     '{"交易流水号": "R2", "发放单位代码": "43010"}', "run-1", None),
    (F_UNIT_ROWS, 5, "sha-r", "payments", "发放日期：“待定”不是日期",
     '{"交易流水号": "R3", "发放 单位代码": "430102.0"}', "run-1", None),
]

TOTAL_MISMATCHES = [
    # source_file, file_sha256, source_row, column_name, stated_total, computed_total, difference
    (F_CREDIT, "sha-" + F_CREDIT, 14, "金额（元）", "59376.00", "59366.00", "10.00"),
    (F_CREDIT, "sha-" + F_CREDIT, 14, "金额（元）", "5.50", "0.00", "5.50"),
]

TABLES = {
    "allocations": ALLOCATIONS, "credits": CREDITS, "projects": PROJECTS, "roster": ROSTER,
    "payments": PAYMENTS, "expenditures": EXPENDITURES, "postings": POSTINGS, "final_reports": FINAL_REPORTS,
    "decisions": DECISIONS, "deaths": DEATHS, "staff": STAFF, "files": FILES, "rejected_rows": REJECTED_ROWS,
    "total_mismatches": TOTAL_MISMATCHES,
}


def store_raw(con: duckdb.DuckDBPyConnection, table: str, source: str) -> None:
    """Rows shaped like ``raw.<table>`` (the kind's columns, then the lineage), from the relation
    ``source``, stored as ingestion stores them: the parsed rows of file versions in force
    (``raw_history``), of which ``raw.<table>`` is a view (ingestion/schema.py)."""
    kind = next(k for k in KINDS if k.table == table)
    cols = ", ".join(c.name for c in kind.columns)
    con.execute(f"insert into raw_history.rows_{table} select file_sha256, source_row, {cols} from {source}")
    con.execute(f"""insert into raw_history.loaded_files
        select distinct file_sha256, source_file, 1, load_run_id, loaded_at from {source}
        where file_sha256 not in (select file_sha256 from raw_history.loaded_files)""")


def insert_raw(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Insert ``rows`` (shaped like ``raw.<table>``): a kind's rows through :func:`store_raw`."""
    if table not in {k.table for k in KINDS}:
        con.executemany(f"insert into raw.{table} values ({', '.join('?' * len(rows[0]))})", rows)
        return
    con.execute(f"create or replace temp table fixture_rows as select * from raw.{table} limit 0")
    con.executemany(f"insert into fixture_rows values ({', '.join('?' * len(rows[0]))})", rows)
    store_raw(con, table, "fixture_rows")
    con.execute("drop table fixture_rows")


def write_raw(path: Path) -> None:
    """Create the raw schema in a fresh DuckDB file and fill it with the rows above."""
    con = duckdb.connect(str(path))
    try:
        ensure_schema(con)  # the raw layer exactly as ingestion creates it
        for table, rows in TABLES.items():
            if rows:
                insert_raw(con, table, rows)
        con.execute("update raw.files set loaded_at = timestamp '2021-04-30 08:00:00'")
    finally:
        con.close()


def money(text: str) -> Decimal:
    return Decimal(text)
