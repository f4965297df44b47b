"""Hand-built inbox for the payment (PAY_*) and roster (ROSTER_*) rules of rules.md.

Written independently of fundwatch.generator: every file follows source-files.md, choosing the
variations it allows (title rows, blank rows, 合计 lines, columns in another order, header brackets,
money/date/ID/account/name forms, xlsx with a hidden first sheet, Excel number and date cells, CSV in
UTF-8, UTF-8 with BOM and GB18030). The expected findings are written by hand, case by case, from
rules.md; this script only fills in the row numbers where each subject lands.

Run it once (``python make_inbox.py``); the inbox and expected_findings.csv are committed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
INBOX = HERE / "inbox"
RUN_DATE = "2021-04-30"

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_char(body17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, WEIGHTS, strict=True)) % 11]


def make_id(area: str, birth: str, seq: int, want_x: bool = False) -> str:
    """A valid 18-character ID; with want_x, the first sequence from seq whose check char is X."""
    while True:
        body = f"{area}{birth}{seq:03d}"
        c = check_char(body)
        if not want_x or c == "X":
            return body + c
        seq += 1


def upgrade15(old: str) -> str:
    body = old[:6] + "19" + old[6:]
    return body + check_char(body)


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in s)


def luhn_account(prefix: str, length: int, n: int) -> str:
    body = prefix + str(n).zfill(length - len(prefix) - 1)
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


def spaced(acc: str, k: int = 4, sep: str = " ") -> str:
    return sep.join(acc[i:i + k] for i in range(0, len(acc), k))


# ---------------------------------------------------------------- projects and units
P1 = "JQZX-2020-430121"   # 金秋助学, 长沙县; standard 3000; 公示天数 blank (7); 发放截止 2020-10-31
P2 = "HLBT-2021-430121"   # 特殊家庭住院护理补贴, 长沙县; no standard; 公示天数 10; 发放截止 2021-04-30 = run date
P3 = "SYGH-2020-430181"   # 生育关怀慰问, 浏阳市: NO project document
CSX, LYS = "430121", "430181"

# ---------------------------------------------------------------- people (all invented)
# name, canonical 18-char ID
P: dict[str, tuple[str, str]] = {}


def person(key: str, name: str, ident: str) -> None:
    P[key] = (name, ident)


person("A1", "张三", make_id(CSX, "20020512", 13))
person("A2", "阿依古丽·买买提", make_id(CSX, "20020707", 24, want_x=True))
person("A3", "王芳", make_id(CSX, "20011103", 42))
person("A4", "李建国", make_id(CSX, "20020219", 51))
person("A5", "赵敏", make_id(CSX, "20021030", 62))
person("A6", "陈晓东", make_id(CSX, "20020601", 73))
person("A7", "周婷", make_id(CSX, "20010925", 84))
person("A9", "吴昊", make_id(CSX, "20020118", 95))
person("A10", "郑丽", make_id(CSX, "20020303", 106))
person("A11", "孙浩然", make_id(CSX, "20020808", 117))
person("A12", "钱多多", make_id(CSX, "20020909", 128))
person("A13", "冯雪", make_id(CSX, "20011212", 139, want_x=True))
person("A14", "何秀兰", make_id(CSX, "19750416", 140))         # spouse of staff S1 (430121)
person("A15", "罗志强", make_id(LYS, "19780530", 151))         # staff S2 of 430181 (本人)
person("A16", "胡斌", make_id(CSX, "20020414", 161))
person("A17", "胡晶", make_id(CSX, "20020414", 172))           # paid into A16's account
person("A18", "邓佳怡", make_id(CSX, "20021111", 183))         # unpaid
person("A19", "曹宇", make_id(CSX, "20020227", 195))           # paid under a 17-digit ID
person("A20", "彭程", make_id(CSX, "20020606", 206))           # wrong check digit (below)
person("A21", "蒋欣", "")                                      # birth 2001-02-29 (below)
person("A22", "韩梅", make_id(CSX, "20000229", 228))           # 2000-02-29 exists
person("A23", "杨帆", make_id(CSX, "20201001", 239))           # born after the payment
person("A24", "朱琳", make_id(CSX, "20200918", 240))           # born on the payment day
person("A25", "秦岚", make_id(CSX, "20020120", 251))           # roster: no 公示开始日期
person("A26", "许诺", make_id(CSX, "20020215", 262))           # roster: 6-day posting
person("A27", "沈冰", make_id(CSX, "20020325", 273))           # roster: no 公示结束日期
person("A28", "韦国平", make_id(CSX, "19560822", 284))         # on P2's roster only
person("A29", "马骁", make_id(CSX, "20020728", 295))           # paid with full-width ID
person("A31", "欧阳娜", make_id(CSX, "20021005", 306))         # account as Excel number cell
person("A33", "谢天", make_id(CSX, "20020811", 317))           # paid twice, later date has smaller ref
person("A34", "梁静", make_id(CSX, "20020917", 328))           # roster: 公示 dates swapped (end before start)
person("A35", "努尔·艾力", make_id(CSX, "20020403", 339))      # paid as 努尔艾力 (dot dropped)
person("A36", "龙飞", make_id(CSX, "20020622", 340))           # only payment row has no date: rejected
# A20: correct body, wrong check character
_a20 = P["A20"][1]
P["A20"] = ("彭程", _a20[:17] + ("1" if _a20[17] != "1" else "2"))
# A21: 2001-02-29 does not exist; the check character is computed over the digits as they are
_b = f"{CSX}20010229218"
P["A21"] = ("蒋欣", _b + check_char(_b))

OLD_B1 = "432401480512021"        # 15-digit, old 常德地区 code, born 1948
OLD_B2 = "430121520304052"        # 15-digit, born 1952
OLD_B3 = "430121461020063"        # 15-digit, born 1946
OLD_B11 = "430121510229071"       # 15-digit, 1951-02-29 does not exist
person("B1", "刘桂英", upgrade15(OLD_B1))
person("B2", "黄德明", upgrade15(OLD_B2))
person("B3", "易春华", upgrade15(OLD_B3))
person("B4", "熊国庆", make_id(CSX, "19491001", 71))
person("B5", "龚淑珍", make_id(CSX, "19530614", 82))           # unpaid, deadline = run date
person("B6", "石爱民", make_id(CSX, "19550202", 93))           # paid on the deadline
person("B7", "谭秀英", make_id(CSX, "19480909", 104))          # 9-day posting, 公示天数 10
person("B9", "廖建华", make_id(CSX, "19500505", 115))          # 8000, project has no standard
person("B10", "古丽·热合曼", make_id(CSX, "19570707", 126))    # roster lists A16's account
person("B11", "毛淑贞", upgrade15(OLD_B11))

person("C1", "潘红", make_id(LYS, "19900301", 21))
person("C2", "戴玉", make_id(LYS, "19910412", 32))
person("C3", "夏雨", make_id(LYS, "19920523", 43))
person("C5", "田甜", make_id(LYS, "19930116", 54))             # not on P3's roster
person("C6", "万芳", make_id(LYS, "19940220", 65))             # 补报, 5-day posting, unpaid

person("S1", "何建军", make_id(CSX, "19730320", 11))           # staff of 430121 (not a payee)
person("S2C", "罗小雨", make_id(LYS, "20050101", 22))           # child of S2 (not a payee)
person("D1", "贺老汉", make_id(CSX, "19380101", 33))            # in the death register, never paid


def nm(k: str) -> str:
    return P[k][0]


def idn(k: str) -> str:
    return P[k][1]


ACC: dict[str, str] = {}
for i, k in enumerate(sorted(P)):
    prefix = "621519" if k.startswith("A") else "622188"
    ACC[k] = luhn_account(prefix, 19, 1000 + i * 37)
ACC["A31"] = luhn_account("622848", 16, 1234567)              # 16 digits (text cells in the main inbox)
ACC["A10"] = luhn_account("621519", 15, 4321)                 # 15 digits: an Excel number cell keeps them
ACC["A4_PAID"] = luhn_account("621519", 19, 99991)

# ---------------------------------------------------------------- writers
written: dict[str, list[list]] = {}
ROOT = [INBOX]


def write_csv(rel: str, rows: list[list], encoding: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    path = ROOT[0] / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode(encoding))
    written[rel] = rows


def write_xlsx(rel: str, rows: list[list], hidden_first: list[list] | None = None,
               formats: dict[int, str] | None = None) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    if hidden_first is not None:
        ws.title = "填表说明"
        for r in hidden_first:
            ws.append(r)
        ws.sheet_state = "hidden"
        ws = wb.create_sheet("名册")
        wb.active = 1
    else:
        ws.title = "Sheet1"
    for i, r in enumerate(rows, start=1):
        for j, v in enumerate(r, start=1):
            if v is None or v == "":
                continue
            c = ws.cell(row=i, column=j, value=v)
            if isinstance(v, dt.date):
                c.number_format = "yyyy-mm-dd"
            elif isinstance(v, str):
                c.number_format = "@"
    path = ROOT[0] / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    written[rel] = rows


def rowno(rel: str, pred) -> int:
    """1-based row (xlsx row / CSV line) of the only data row for which pred(row) holds."""
    hits = [i for i, r in enumerate(written[rel], start=1) if pred(r)]
    assert len(hits) == 1, (rel, hits)
    return hits[0]


D = dt.date

shutil.rmtree(INBOX, ignore_errors=True)

# ---------------------------------------------------------------- 1. 项目文本 (xlsx, reordered, header variants)
F_PROJ = "项目文本/2020-2021年项目文本汇总.xlsx"
write_xlsx(F_PROJ, [
    ["湖南省计划生育协会 项目文本汇总表"],
    ["填报单位：长沙市计划生育协会", None, None, "填报日期：2021年1月8日"],
    [None],
    ["序号", "项目编码", "项目名称", " 项目类型 ", "实施单位", "实施单位代码", "预算金额(元)",
     " 补助标准（元/人）", "项目开始日期", "项目结束日期", "发放截止日期", "公示天数",
     "终期报告截止日期", "允许支出类别", "大额资金标准(元)", "备注"],
    [1, P1, "长沙县2020年金秋助学", "金秋助学", "长沙县计划生育协会", 430121, "150,000.00",
     3000, D(2020, 7, 1), D(2020, 12, 31), "2020年10月31日", None, D(2021, 1, 31),
     "补助发放、宣传费", None, "一次性资助"],
    [2, P2, "长沙县2021年计生特殊家庭住院护理补贴", "计生特殊家庭住院护理补贴", "长沙县计划生育协会",
     "430121", "￥50,000.00", None, "2021/1/1", "2021.12.31", "20210430", "10", "2022年1月31日",
     "补助发放;宣传费", "50000", None],
])

# ---------------------------------------------------------------- 2/3. 资金指标 and 资金到账 (clean)
F_ALLOC = "资金/指标/湘财社指〔2020〕36号.csv"
write_csv(F_ALLOC, [
    ["文号", "发文日期", "发文单位", "资金年度", "收款单位代码", "收款单位", "项目编码", "金额（元）",
     "拨付时限（天）"],
    ["湘财社指【2020】36号", "2020.6.15", "湖南省财政厅", "2020", "430121", "长沙县计划生育协会", P1,
     "20,000.00", ""],
], "utf-8")
F_CREDIT = "资金/到账/长沙县计生协2020年到账流水.csv"
write_csv(F_CREDIT, [
    ["中国农业银行长沙县支行 对公账户交易明细"],
    ["流水号", "到账日期", "付款单位", "收款单位代码", "收款单位", "金额（元）", "文号", "摘要", "项目编码"],
    ["BK20200710000123", "20200710", "湖南省计划生育协会", "430121", "长沙县计划生育协会", "￥20,000.00",
     "", "湘财社指[2020]36号 长沙县金秋助学资金", P1],
], "gb18030")

# ---------------------------------------------------------------- 4. 上报名单 P1 (xlsx, 合计 line)
F_R1 = "名单/长沙县2020年金秋助学上报名单.xlsx"
POST_S, POST_E = D(2020, 8, 20), D(2020, 8, 26)          # 7 days: exactly the default
r1_people = ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A9", "A10", "A11", "A12", "A13", "A14", "A15",
             "A16", "A17", "A18", "A19", "A20", "A21", "A22", "A23", "A24", "A25", "A26", "A27", "A29",
             "A31", "A33", "A34", "A35", "A36"]
R1_NAME = {"A1": "张　三", "A2": "阿依古丽·买买提", "A12": "钱 多多"}
R1_ID = {"A2": idn("A2").lower(), "A13": idn("A13")}
R1_ACC = {"A1": spaced(ACC["A1"]), "A5": None, "A16": ACC["A16"], "A17": ACC["A17"],
          "A31": ACC["A31"], "A10": spaced(ACC["A10"]), "A9": spaced(ACC["A9"], 4, "-")}
R1_AMT = {"A7": 3500, "A3": "3,000.00", "A10": "3000元"}
R1_POST = {"A25": (None, POST_E), "A26": (D(2020, 8, 21), POST_E), "A27": (POST_S, None),
           "A34": (POST_E, POST_S)}
rows = [["长沙县2020年金秋助学资助对象名单"],
        ["填报单位：长沙县计划生育协会", None, None, None, None, "填报日期：2020年8月18日"],
        ["序号", "姓名", "公民身份号码", "人员类别", "核定金额（元）", "银行账号", "开户银行", "项目编码",
         "上报单位代码", "上报日期", "公示开始日期", "公示结束日期"]]
total = Decimal(0)
for i, k in enumerate(r1_people, start=1):
    amt = R1_AMT.get(k, 3000)
    total += Decimal(str(amt).replace(",", "").replace("元", ""))
    s, e = R1_POST.get(k, (POST_S, POST_E))
    rows.append([i, R1_NAME.get(k, nm(k)), R1_ID.get(k, idn(k)), "计生家庭子女", amt,
                 R1_ACC.get(k, ACC[k]), "长沙农村商业银行", P1, 430121, "2020年8月18日", s,
                 e.strftime("%Y/%m/%d").replace("/0", "/") if e else None])
    if i == 10:
        rows.append([None])                                   # a blank row inside the data
rows.append(["合计", None, None, None, float(total)])
write_xlsx(F_R1, rows)

# ---------------------------------------------------------------- 5. 上报名单 P2 (CSV GB18030, blank lines)
F_R2 = "名单/特殊家庭护理补贴名单（2021）.csv"
r2_people = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B9", "B10", "A13", "A28", "B11"]
R2_ID = {"B1": OLD_B1, "A13": idn("A13").lower(), "B11": OLD_B11}
R2_ACC = {"B10": spaced(ACC["A16"]), "A13": ACC["A13"]}
R2_AMT = {"B9": "8,000.00"}
R2_NAME = {"B1": "刘 桂英", "B10": "古丽・热合曼"}
rows = [["长沙县2021年计生特殊家庭住院护理补贴对象名单"], [],
        ["项目编码", "姓名", "公民身份号码", "人员类别", "银行账号", "开户银行", "核定金额(元)",
         "上报单位代码", "上报日期", "公示开始日期", "公示结束日期"]]
for i, k in enumerate(r2_people):
    end = "2021.2.9" if k == "B7" else "2021.2.10"
    rows.append([P2, R2_NAME.get(k, nm(k)), R2_ID.get(k, idn(k)), "独生子女死亡家庭",
                 R2_ACC.get(k, ACC[k]), "中国邮政储蓄银行", R2_AMT.get(k, "1200"), "430121", "2021/1/25",
                 "2021/2/1", end])
    if i == 4:
        rows.append([])
write_csv(F_R2, rows, "gb18030")

# ---------------------------------------------------------------- 6. 上报名单 P3 (UTF-8 BOM; no document)
F_R3 = "名单/浏阳市生育关怀慰问名单.csv"
rows = [["浏阳市2020年生育关怀慰问对象名单"], ["填报单位：浏阳市计划生育协会"], [],
        ["姓名", "公民身份号码", "核定金额（元）", "项目编码", "上报单位代码", "公示开始日期", "公示结束日期",
         "银行账号"]]
for k in ["C1", "C2", "C3", "A15"]:
    start = "2020年10月2日" if k == "C2" else "2020年10月1日"   # C2: 6 days, the rest exactly 7
    rows.append([nm(k), idn(k), "500", P3, "430181", start, "2020年10月7日", ACC[k]])
write_csv(F_R3, rows, "utf-8-sig")
# A later supplement (补报) whose path sorts first ("2" < "浏" in any order): it repeats C2's entry with
# the same values (other written forms) and adds C6. C2's record takes this file's lineage.
F_R3B = "名单/2020-10/浏阳市生育关怀慰问名单（补报）.csv"
write_csv(F_R3B, [
    ["姓名", "公民身份号码", "核定金额（元）", "项目编码", "上报单位代码", "公示开始日期", "公示结束日期", "银行账号"],
    ["戴　玉", idn("C2"), "500.00", P3, "430181", "2020-10-02", "2020/10/7", spaced(ACC["C2"])],
    [nm("C6"), idn("C6"), "500.00", P3, "430181", "2020-10-03", "2020-10-07", ACC["C6"]],
], "utf-8")

# ---------------------------------------------------------------- 7. 发放明细 P1 第一批 (CSV UTF-8 BOM)
F_PAY1 = "发放/2020-09/长沙县2020年金秋助学发放明细（第一批）.csv"
HDR1 = ["序号", "交易流水号", "发放批次", "姓名", "公民身份号码", "银行账号", "开户银行", " 金额(元) ",
        "发放日期", "项目编码", "发放单位代码", "备注"]
# ref, person, amount text, date text, overrides
pay1 = [
    ("CSJQ-1", "A1", "3,000.00", "2020-09-15", {"name": "张三", "acc": ACC["A1"]}),
    ("CSJQ-3", "A2", "3000元", "2020/9/15", {"name": "阿依古丽•买买提"}),
    ("CSJQ-4", "A3", "3000", "2020.9.15", {"name": "王方"}),
    ("CSJQ-5", "A4", "3000", "2020年9月15日", {"acc": ACC["A4_PAID"]}),
    ("CSJQ-6", "A5", "3000", "20200915", {"acc": spaced(ACC["A5"], 4, "-")}),
    ("CSJQ-7", "A7", "3500.00", "2020-09-15", {}),
    ("CSJQ-8", "A9", "3000", "2020-08-26", {"acc": ACC["A9"]}),
    ("CSJQ-9", "A12", "3000", "2020-09-16", {"name": "钱多多"}),
    ("CSJQ-10", "A12", "3000", "2020-09-16", {"name": "钱多多"}),
    ("CSJQ-11", "A13", "3000", "2020-09-16", {}),
    ("CSJQ-12", "A14", "3000", "2020-09-16", {}),
    ("CSJQ-13", "A15", "3000", "2020-09-16", {}),
    ("CSJQ-14", "A16", "3000", "2020-09-17", {}),
    ("CSJQ-15", "A17", "3000", "2020-09-17", {"acc": spaced(ACC["A16"])}),
    ("CSJQ-16", "A19", "3000", "2020-09-17", {"id": idn("A19")[:17]}),
    ("CSJQ-17", "A20", "3000", "2020-09-17", {}),
    ("CSJQ-18", "A21", "3000", "2020-09-18", {}),
    ("CSJQ-19", "A22", "3000", "2020-09-18", {}),
    ("CSJQ-20", "A23", "3000", "2020-09-20", {}),
    ("CSJQ-21", "A24", "3000", "2020-09-18", {}),
    ("CSJQ-22", "A25", "3000", "2020-09-15", {}),
    ("CSJQ-23", "A26", "3000", "2020-09-15", {}),
    ("CSJQ-24", "A27", "3000", "2020-08-20", {}),
    ("CSJQ-25", "A28", "3000", "2020-09-20", {}),
    ("CSJQ-26", "A29", "￥3,000.00", "2020-09-20",
     {"id": fullwidth(idn("A29")[:6]) + " " + fullwidth(idn("A29")[6:14]) + " " + fullwidth(idn("A29")[14:])}),
    ("CSJQ-30", "A33", "３０００", "2020-09-15", {}),
    ("CSJQ-27", "A6", "2,500.00", "2020/9/15", {}),         # repeated in 第二批 with the same values
    ("CSJQ-28", "A34", "3000", "2020-09-15", {}),
    ("CSJQ-29", "A35", "3000", "2020-09-15", {"name": "努尔艾力"}),
    ("CSJQ-34", "A36", "3000", "", {}),                    # no 发放日期: ROW_REJECTED, not loaded
]
rows = [["长沙县2020年金秋助学资金发放明细（第一批）"],
        ["填报单位：长沙县计划生育协会", "", "", "", "", "", "", "", "填报日期：2020年9月30日"],
        [], HDR1]
for n, (ref, k, amt, day, ov) in enumerate(pay1, start=1):
    rows.append([n, ref, "第一批", ov.get("name", nm(k)), ov.get("id", idn(k)), ov.get("acc", ACC[k]),
                 "长沙农村商业银行", amt, day, P1, "430121", ""])
write_csv(F_PAY1, rows, "utf-8-sig")

# ---------------------------------------------------------------- 8. 发放明细 P1 第二批 (xlsx, other column order)
F_PAY2 = "发放/2020-10/金秋助学发放明细（第二批）.xlsx"
HDR2 = ["项目编码", "发放单位代码", "交易流水号", "姓名", "公民身份号码", "金额（元）", "发放日期", "银行账号",
        "开户银行", "发放批次"]
pay2 = [
    ("CSJQ-27", "A6", 2500, D(2020, 9, 15), "第一批", {}),   # same values as in 第一批 (one record)
    ("CSJQ-31", "A10", 3000, D(2020, 10, 31), "第二批", {"acc": int(ACC["A10"])}),
    ("CSJQ-32", "A11", 3000, D(2020, 11, 1), "第二批", {}),
    ("CSJQ-33", "A31", 3000, D(2020, 10, 12), "第二批", {"acc": spaced(ACC["A31"])}),
    ("CSJQ-2", "A33", 3000, D(2020, 10, 10), "第二批", {}),
]
rows = [["金秋助学发放明细（第二批）"], [None], HDR2]
for ref, k, amt, day, batch, ov in pay2:
    rows.append([P1, 430121, ref, nm(k), idn(k), amt, day, ov.get("acc", ACC[k]), "长沙农村商业银行", batch])
write_xlsx(F_PAY2, rows)

# ---------------------------------------------------------------- 9. 发放明细 P3 (xlsx, 浏阳; no project document)
F_PAY3 = "发放/2020-10/浏阳市生育关怀慰问金发放.xlsx"
rows = [["交易流水号", "项目编码", "姓名", "公民身份号码", "银行账号", "金额（元）", "发放日期", "发放单位代码"]]
for ref, k, day in [("LY2020102001", "C1", D(2020, 10, 20)), ("LY2020100701", "C2", D(2020, 10, 7)),
                    ("LY2020102002", "A15", D(2020, 10, 20)), ("LY2020102003", "C5", D(2020, 10, 20))]:
    rows.append([ref, P3, nm(k), idn(k), ACC[k], 500, day, "430181"])
write_xlsx(F_PAY3, rows)

# ---------------------------------------------------------------- 10. 发放明细 P2 (CSV GB18030, 合计 line)
F_PAY4 = "发放/2021-03/护理补贴发放明细.csv"
pay4 = [
    ("HL202103100001", "B1", "1200", "2021-03-10", {}),
    ("HL202103100002", "B2", "1200", "2021-03-10", {"id": OLD_B2}),
    ("HL202103100003", "B3", "1200", "2021-03-10", {}),
    ("HL202103100004", "B4", "1200", "2021-03-10", {}),
    ("HL202104300001", "B6", "1200", "2021-04-30", {}),
    ("HL202103100005", "B7", "1200", "2021-03-10", {}),
    ("HL202103100006", "B9", "8000.00", "2021-03-10", {}),
    ("HL202103100007", "B10", "1,200.00", "2021-03-11", {"acc": ACC["A16"], "name": "古丽･热合曼"}),
    ("HL202103100008", "A13", "1200", "2021-03-11",
     {"id": " ".join([idn("A13")[:6], idn("A13")[6:14], idn("A13")[14:].lower()])}),
    ("HL202103100009", "A28", "1200", "2021-03-11", {}),
    ("HL202104010001", "B1", "1200", "2021-04-01", {"id": OLD_B1}),   # B1 again, under the old number
    ("HL202103110001", "B11", "1200", "2021-03-11", {"id": OLD_B11}),
]
rows = [["交易流水号", "发放批次", "项目编码", "姓名", "公民身份号码", "银行账号", "开户银行", "金额（元）",
         "发放日期", "发放单位代码", "备注"]]
tot = Decimal(0)
for ref, k, amt, day, ov in pay4:
    tot += Decimal(amt.replace(",", ""))
    rows.append([ref, "2021年第一批", P2, ov.get("name", nm(k)), ov.get("id", idn(k)), ov.get("acc", ACC[k]),
                 "中国邮政储蓄银行", amt, day, "430121", ""])
rows.append(["合计", "", "", "", "", "", "", f"{tot:.2f}", "", "", ""])
write_csv(F_PAY4, rows, "gb18030")

# ---------------------------------------------------------------- 11. 死亡登记 (CSV UTF-8)
F_DEATH = "登记/死亡登记（民政）.csv"
write_csv(F_DEATH, [
    ["姓名", "公民身份号码", "死亡日期", "数据来源"],
    [nm("B3"), OLD_B3, "2021-02-20", "民政殡葬系统"],                       # died before the payment
    ["熊 国庆", " ".join([idn("B4")[:6], idn("B4")[6:14], idn("B4")[14:]]), "2021/3/10", "公安户籍"],  # same day
    [nm("D1"), idn("D1"), "2019-12-01", "公安户籍"],
], "utf-8")

# ---------------------------------------------------------------- 12. 工作人员及亲属名册 (xlsx, hidden first sheet)
F_STAFF = "登记/工作人员及亲属名册.xlsx"
write_xlsx(F_STAFF, [
    ["工作人员及亲属名册"],
    ["序号", "姓名", "公民身份号码", "工作单位代码", "工作单位", "职务", "关系", "关联工作人员身份号码"],
    [1, nm("S1"), idn("S1"), 430121, "长沙县计划生育协会", "秘书长", "本人", idn("S1")],
    [2, nm("A14"), idn("A14"), 430121, "长沙县计划生育协会", "", "配偶", idn("S1")],
    [3, nm("A15"), idn("A15"), "430181", "浏阳市计划生育协会", "办公室主任", "本人", idn("A15")],
    [4, nm("S2C"), idn("S2C"), "430181", "浏阳市计划生育协会", "", "子女", idn("A15")],
], hidden_first=[["填表说明：本名册按季度更新，只填写第二张工作表。"]])

# ---------------------------------------------------------------- 13. 公示记录 (CSV UTF-8)
F_POST = "公示/项目公示记录.csv"
write_csv(F_POST, [
    ["项目编码", "公示类型", "开始日期", "结束日期", "公示地点", "证明材料编号"],
    [P1, "项目挂牌", "2020-07-01", "", "长沙县计生协公示栏", "GS-2020-011"],
    [P1, "名单公示", "2020-08-20", "2020-08-26", "各乡镇公示栏", "GS-2020-031"],
    [P2, "项目挂牌", "2021-01-05", "", "长沙县计生协公示栏", "GS-2021-002"],
    [P2, "名单公示", "2021-02-01", "2021-02-10", "各乡镇公示栏", "GS-2021-009"],
    [P3, "项目挂牌", "2020-09-01", "", "浏阳市计生协公示栏", "LY-GS-2020-07"],
    [P3, "名单公示", "2020-10-01", "2020-10-07", "各乡镇公示栏", "LY-GS-2020-12"],
], "utf-8")

# ---------------------------------------------------------------- 14. 支出明细 (CSV UTF-8)
F_EXP = "支出/长沙县计生协支出凭证.csv"
write_csv(F_EXP, [
    ["凭证号", "项目编码", "支出日期", "支出类别", "金额（元）", "收款方", "摘要", "决策文号"],
    ["CSZC-2020-081", P1, "2020-08-18", "宣传费", "800.00", "长沙县星城图文广告部", "名单公示栏制作", ""],
], "utf-8")

# ---------------------------------------------------------------- 15. 终期报告 (xlsx): P1 on time and exact
spent_p1 = Decimal("800")
seen = set()
for ref, _k, amt, day, _ in pay1:
    if not day:
        continue
    seen.add(ref)
    spent_p1 += Decimal(amt.replace(",", "").replace("元", "").replace("￥", "").translate(
        {0xFF10 + d: str(d) for d in range(10)}))
for ref, _k, amt, *_ in pay2:
    if ref not in seen:
        spent_p1 += Decimal(amt)
F_REPORT = "报告/终期报告.xlsx"
write_xlsx(F_REPORT, [
    ["项目编码", "报告编号", "提交日期", "实际支出（元）", "受益人数"],
    [P1, "CSX-ZQ-2020-01", D(2021, 1, 20), float(spent_p1), 30],
])

# ---------------------------------------------------------------- expected findings (by hand, per rules.md)
# unit_code: a payment's 发放单位代码 (浏阳市's file pays as 430181, every other as 430121), a roster
# entry's 上报单位代码 (P3's rosters 430181, the others 430121), a rejected row's own 单位代码 cell.
EXP: list[dict] = []
pay_files = (F_PAY1, F_PAY2, F_PAY3, F_PAY4)


def pay(rule: str, ref: str, amount, note: str) -> None:
    for rel in pay_files:
        hits = [i for i, r in enumerate(written[rel], start=1) if ref in r]
        if hits:
            row = hits[0]
            break
    EXP.append(dict(rule_id=rule, subject_type="payment", subject_key=ref, amount_at_risk=f"{Decimal(amount):.2f}",
                    source_file=rel, source_row=row, unit_code=LYS if rel == F_PAY3 else CSX, case=note))


def roster(rule: str, project: str, k: str, amount, rel: str, note: str) -> None:
    raw_ids = {idn(k), idn(k).lower(), OLD_B1 if k == "B1" else None}
    row = rowno(rel, lambda r: len(r) > 2 and any(v in raw_ids for v in r if isinstance(v, str)))
    EXP.append(dict(rule_id=rule, subject_type="roster_entry", subject_key=f"{project}|{idn(k)}",
                    amount_at_risk=f"{Decimal(amount):.2f}", source_file=rel, source_row=row,
                    unit_code=LYS if project == P3 else CSX, case=note))


# P1 payments (paid by 430121; standard 3000; posting ends 2020-08-26; deadline 2020-10-31)
pay("PAY_NAME_MISMATCH", "CSJQ-4", 3000, "roster 王芳, paid 王方")
pay("PAY_ACCOUNT_MISMATCH", "CSJQ-5", 3000, "paid into another account than the roster's")
pay("PAY_OVER_STANDARD", "CSJQ-7", 500, "3500 paid, 核定 3500, standard 3000")
pay("PAY_BEFORE_PUBLICITY", "CSJQ-8", 3000, "paid on 公示结束日期 itself (on or before)")
pay("PAY_DUPLICATE", "CSJQ-9", 3000, "same day as CSJQ-10; 'CSJQ-10' < 'CSJQ-9' as text")
pay("PAY_DUPLICATE", "CSJQ-2", 3000, "dated after CSJQ-30 although its ref sorts first")
pay("PAY_STAFF_RELATED", "CSJQ-12", 3000, "spouse of a 430121 staff member, paid by 430121")
pay("PAY_SHARED_ACCOUNT", "CSJQ-14", 3000, "A16's account also paid A17 (P1) and B10 (P2)")
pay("PAY_SHARED_ACCOUNT", "CSJQ-15", 3000, "A17 paid into A16's account (written with spaces)")
pay("PAY_ACCOUNT_MISMATCH", "CSJQ-15", 3000, "roster gives A17's own account")
pay("PAY_NOT_ON_ROSTER", "CSJQ-16", 3000, "17-digit ID is on no roster")
pay("PAY_INVALID_ID", "CSJQ-16", 3000, "not 18 characters")
pay("PAY_INVALID_ID", "CSJQ-17", 3000, "wrong check digit (same on the roster)")
pay("PAY_INVALID_ID", "CSJQ-18", 3000, "birth date 2001-02-29 does not exist")
pay("PAY_INVALID_ID", "CSJQ-20", 3000, "born 2020-10-01, paid 2020-09-20")
pay("PAY_NOT_ON_ROSTER", "CSJQ-25", 3000, "on P2's roster, not on P1's")
pay("PAY_AMOUNT_MISMATCH", "CSJQ-27", 500, "2500 vs 3000; row delivered twice, lineage = 第一批 file")
pay("PAY_LATE", "CSJQ-32", 3000, "paid 2020-11-01, deadline 2020-10-31")
pay("PAY_NAME_MISMATCH", "CSJQ-29", 3000, "roster 努尔·艾力, paid 努尔艾力: dots are unified, not removed")
pay("PAY_DUPLICATE", "HL202104010001", 1200, "B1 paid 2021-03-10 under the 18-digit ID, again under the 15-digit one")
# P2 payments (paid by 430121; no standard; posting ends 2021-02-10; deadline 2021-04-30)
pay("PAY_DECEASED", "HL202103100003", 1200, "died 2021-02-20 (register has the 15-digit ID)")
pay("PAY_SHARED_ACCOUNT", "HL202103100007", 1200, "A16's account, roster lists it too")
# P3 payments (paid by 430181; no project document)
pay("PAY_NO_PROJECT", "LY2020102001", 500, "no project document")
pay("PAY_NO_PROJECT", "LY2020100701", 500, "no project document")
pay("PAY_BEFORE_PUBLICITY", "LY2020100701", 500, "paid on 公示结束日期")
pay("PAY_NO_PROJECT", "LY2020102002", 500, "no project document")
pay("PAY_STAFF_RELATED", "LY2020102002", 500, "430181 staff member paid by 430181")
pay("PAY_NO_PROJECT", "LY2020102003", 500, "no project document")
pay("PAY_NOT_ON_ROSTER", "LY2020102003", 500, "not on P3's roster")
# roster entries
roster("ROSTER_UNPAID", P1, "A18", 3000, F_R1, "never paid, deadline passed")
roster("ROSTER_UNPAID", P1, "A19", 3000, F_R1, "only paid under a 17-digit ID")
roster("ROSTER_PUBLICITY_SHORT", P1, "A25", 3000, F_R1, "no 公示开始日期")
roster("ROSTER_PUBLICITY_SHORT", P1, "A26", 3000, F_R1, "6 days < default 7")
roster("ROSTER_PUBLICITY_SHORT", P1, "A27", 3000, F_R1, "no 公示结束日期")
roster("ROSTER_PUBLICITY_SHORT", P1, "A34", 3000, F_R1, "end before start: period of -5 days")
roster("ROSTER_PUBLICITY_SHORT", P2, "B7", 1200, F_R2, "9 days < 公示天数 10")
roster("ROSTER_PUBLICITY_SHORT", P3, "C2", 500, F_R3B,
       "6 days < 7 (no document: default); same entry in two files, lineage = the smaller path")
roster("ROSTER_PUBLICITY_SHORT", P3, "C6", 500, F_R3B, "5 days < 7")
roster("ROSTER_UNPAID", P1, "A36", 3000, F_R1, "its only payment row was rejected (not loaded)")
pay("PAY_INVALID_ID", "HL202103110001", 1200, "15-digit ID upgraded: 1951-02-29 does not exist")
EXP.append(dict(rule_id="ROW_REJECTED", subject_type="row",
                subject_key=f"{F_PAY1}|{rowno(F_PAY1, lambda r: 'CSJQ-34' in r)}", amount_at_risk="0.00",
                source_file="", source_row="", unit_code=CSX,
                case="payment row without 发放日期 (its 发放单位代码 430121)"))



def write_expected(name: str) -> None:
    with (HERE / name).open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["rule_id", "subject_type", "subject_key", "amount_at_risk",
                                           "source_file", "source_row", "unit_code", "case"])
        w.writeheader()
        w.writerows(EXP)


write_expected("expected_findings.csv")
N_MAIN = len(EXP)

# ================================================================ second inbox: account number cells
# source-files.md accepts for 银行账号 "an Excel number cell that lost nothing". The 16-digit account is
# written as an exact integer and must be read; openpyxl writes the 19-digit ints as floats
# (6.2...e+18), which lose the last digits, so those rows must be rejected with the reason.
# Kept apart so that the main inbox is not entangled with it.
INBOX_NC = HERE / "inbox_account_number_cell"
shutil.rmtree(INBOX_NC, ignore_errors=True)
ROOT[0] = INBOX_NC
EXP.clear()
P5 = "JQZX-2021-430121"
person("E1", "高远", make_id(CSX, "20030115", 11))
person("E2", "宋佳", make_id(CSX, "20030226", 22))
person("E3", "白露", make_id(CSX, "20030309", 33))


def nonzero_tail(prefix: str, length: int, n: int) -> str:
    while (acc := luhn_account(prefix, length, n))[-1] == "0":
        n += 1
    return acc


E_ACC = {"E1": nonzero_tail("622848", 16, 7654321), "E2": nonzero_tail("621519", 19, 24680),
         "E2_PAID": nonzero_tail("621519", 19, 13579), "E3": nonzero_tail("623090", 19, 97531)}
write_xlsx("项目文本/长沙县2021年金秋助学项目文本.xlsx", [
    ["项目编码", "项目名称", "项目类型", "实施单位代码", "项目开始日期", "项目结束日期", "预算金额（元）",
     "补助标准（元/人）", "发放截止日期", "终期报告截止日期", "允许支出类别"],
    [P5, "长沙县2021年金秋助学", "金秋助学", "430121", D(2021, 1, 1), D(2021, 12, 31), 100000, 3000,
     D(2021, 6, 30), D(2022, 1, 31), "补助发放"],
])
write_csv("公示/2021年项目挂牌.csv", [
    ["项目编码", "公示类型", "开始日期", "结束日期"],
    [P5, "项目挂牌", "2021-01-05", ""],
], "utf-8")
F_R5 = "名单/长沙县2021年金秋助学名单.xlsx"
write_xlsx(F_R5, [
    ["项目编码", "姓名", "公民身份号码", "银行账号", "核定金额（元）", "上报单位代码", "公示开始日期", "公示结束日期"],
    [P5, nm("E1"), idn("E1"), int(E_ACC["E1"]), 3000, 430121, D(2021, 3, 1), D(2021, 3, 7)],
    [P5, nm("E2"), idn("E2"), int(E_ACC["E2"]), 3000, 430121, D(2021, 3, 1), D(2021, 3, 7)],
    [P5, nm("E3"), idn("E3"), spaced(E_ACC["E3"]), 3000, 430121, D(2021, 3, 1), D(2021, 3, 7)],
])
F_PAY5 = "发放/长沙县2021年金秋助学发放明细.xlsx"
write_xlsx(F_PAY5, [
    ["交易流水号", "项目编码", "姓名", "公民身份号码", "银行账号", "金额（元）", "发放日期", "发放单位代码"],
    ["CS21JQ-1", P5, nm("E1"), idn("E1"), int(E_ACC["E1"]), 3000, D(2021, 3, 15), 430121],
    ["CS21JQ-2", P5, nm("E2"), idn("E2"), E_ACC["E2_PAID"], 3000, D(2021, 3, 15), 430121],
    ["CS21JQ-3", P5, nm("E3"), idn("E3"), int(E_ACC["E3"]), 3000, D(2021, 3, 15), 430121],
])
pay_files = (F_PAY5,)
# expected_findings_account_number_cell.csv is written by hand (tests/spec_cases/payments_roster):
# the two 19-digit rows are ROW_REJECTED and CS21JQ-2 is PAY_NOT_ON_ROSTER, all of unit 430121 (the rows'
# own 发放/上报单位代码 number cells).


if __name__ == "__main__":
    print(f"{len(written)} files, {N_MAIN} + {len(EXP)} expected findings, P1 spent {spent_p1}")
