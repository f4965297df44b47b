"""The demo province of 2020: reference data, projects, allocations and the planting plan."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from fundwatch.generator.ids import make_account, make_id, make_passbook
from fundwatch.generator.names import MINORITY_NAMES, make_name
from fundwatch.paths import REFERENCE_DIR

DOC36 = "湘财社指〔2020〕36号"
DOC37 = "湘财社指〔2020〕37号"
DOC36_DATE = date(2020, 4, 10)
DOC37_DATE = date(2020, 4, 24)
TOTAL36 = 31_000_000  # 元; 36号 + 37号 = 5166万元 (domain.md)
TOTAL37 = 20_660_000
ISSUER = "湖南省财政厅"
PAYER = "湖南省计划生育协会"


@dataclass(frozen=True)
class TypeSpec:
    name: str
    abbr: str
    individual: bool
    allowed: tuple[str, ...]
    standard: int | None = None
    birth: tuple[date, date] | None = None
    categories: tuple[str, ...] = ()
    pay_deadline: date | None = None
    report_date: date | None = None


TYPES: dict[str, TypeSpec] = {
    t.name: t
    for t in (
        TypeSpec(
            "金秋助学",
            "JQZX",
            True,
            ("补助发放", "宣传费", "工作经费"),
            3000,
            (date(2000, 1, 1), date(2003, 8, 31)),
            ("计生家庭子女",),
            date(2020, 10, 31),
            date(2020, 8, 10),
        ),
        TypeSpec(
            "计生特殊家庭住院护理补贴",
            "TSJT",
            True,
            ("补助发放", "慰问品", "工作经费"),
            1200,
            (date(1946, 1, 1), date(1972, 12, 31)),
            ("独生子女死亡家庭", "独生子女伤残家庭"),
            date(2020, 12, 20),
            date(2020, 6, 15),
        ),
        TypeSpec(
            "生育关怀慰问",
            "SYGH",
            True,
            ("补助发放", "慰问品", "宣传费"),
            800,
            (date(1975, 1, 1), date(1998, 12, 31)),
            ("计生困难家庭",),
            date(2020, 12, 20),
            date(2020, 7, 10),
        ),
        TypeSpec(
            "三结合帮扶",
            "SJH",
            True,
            ("补助发放", "培训费", "工作经费"),
            1000,
            (date(1955, 1, 1), date(1985, 12, 31)),
            ("农村独生子女家庭", "农村二女家庭"),
            date(2020, 12, 20),
            date(2020, 7, 1),
        ),
        TypeSpec(
            "创业贷款贴息",
            "CYDK",
            True,
            ("贷款贴息", "工作经费"),
            3000,
            (date(1970, 1, 1), date(1998, 12, 31)),
            ("计生家庭",),
            date(2020, 12, 20),
            date(2020, 6, 20),
        ),
        TypeSpec("青春健康教育", "QCJK", False, ("培训费", "宣传费", "印刷费", "场地租赁费")),
        TypeSpec("农村中老年妇女生殖健康促进", "NCFN", False, ("体检费", "宣传费", "培训费")),
        TypeSpec("优生优育进万家", "YSYY", False, ("宣传费", "印刷费", "培训费", "咨询服务费")),
        TypeSpec("会员之家建设", "HYZJ", False, ("设备购置费", "维修费", "宣传费")),
        TypeSpec("暖心家园建设", "NXJY", False, ("活动经费", "设备购置费", "心理咨询服务费")),
        TypeSpec("流动人口服务", "LDRK", False, ("宣传费", "培训费", "工作经费")),
        TypeSpec("计生家庭意外伤害保险", "YWSH", False, ("保险费",)),
    )
}
COUNTY_INDIVIDUAL = (
    ("金秋助学", 4),
    ("计生特殊家庭住院护理补贴", 3),
    ("生育关怀慰问", 1),
    ("三结合帮扶", 1),
    ("创业贷款贴息", 1),
)
NON_INDIVIDUAL = tuple(t.name for t in TYPES.values() if not t.individual)
PAYEES = {
    "保险费": ("中国人寿保险股份有限公司湖南省分公司", "中国太平洋人寿保险股份有限公司湖南分公司"),
    "体检费": ("{county}人民医院", "{county}妇幼保健院"),
    "印刷费": ("{city}新华印务有限公司", "湖南天闻印务有限公司"),
    "宣传费": ("湖南潇湘文化传播有限公司", "{city}广电传媒有限公司"),
    "培训费": ("{county}党校", "{city}职业技术学院"),
}


@dataclass(frozen=True)
class Unit:
    code: str
    name: str  # division name, e.g. 长沙县
    level: str  # prefecture | county
    pref_code: str
    pref_name: str

    @property
    def assoc(self) -> str:
        return f"{self.name}计划生育协会"


@dataclass
class Project:
    code: str
    name: str
    type: TypeSpec
    unit: Unit
    start: date
    end: date
    standard: Decimal | None
    pay_deadline: date | None
    publicity_days: int | None
    report_deadline: date
    allowed: str
    threshold: Decimal | None
    doc: str
    alloc: int = 0  # 元, allocated by the document
    payments: int = 0  # bulk payments planned
    budget: Decimal | None = None
    report_date: date | None = None  # roster reported, then posted publicly from pub_start to pub_end
    pub_start: date | None = None
    pub_end: date | None = None

    @property
    def effective_publicity(self) -> int:
        return self.publicity_days or 7

    def record(self) -> tuple:
        return (
            self.code,
            self.name,
            self.type.name,
            self.unit.code,
            self.unit.assoc,
            self.start,
            self.end,
            self.budget,
            self.standard,
            self.pay_deadline,
            self.publicity_days,
            self.report_deadline,
            self.allowed,
            self.threshold,
        )


@dataclass(frozen=True)
class Reference:
    units: tuple[Unit, ...]
    counties_by_pref: dict[str, tuple[str, ...]]
    old_codes_by_year: dict[int, tuple[str, ...]]
    banks: tuple[tuple[str, int, str, float], ...]  # (bin, length, bank name, weight)


def load_reference(ref_dir: Path = REFERENCE_DIR) -> Reference:
    with open(ref_dir / "hunan_divisions_2020.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    units = tuple(
        Unit(r["code"], r["name"], r["level"], r["prefecture_code"], r["prefecture_name"])
        for r in rows
        if r["level"] in ("prefecture", "county")
    )
    by_pref: dict[str, list[str]] = {}
    for u in units:
        if u.level == "county":
            by_pref.setdefault(u.pref_code, []).append(u.code)
    current = {u.code for u in units}
    old: dict[int, list[str]] = {y: [] for y in range(1940, 1990)}
    with open(ref_dir / "hunan_codes_history_1981_2024.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            code = r["code"]
            if code in current or code.endswith("00"):
                continue
            first, last = int(r["first_year_listed"]), int(r["last_year_listed"])
            for y in range(1940, 1990):
                # Codes listed 1981-... are the ones elderly people's IDs carry (issued in the 1980s).
                if first <= max(y, 1981) <= last or (first == 1981 and y < 1981):
                    old[y].append(code)
    weights = {"HNRCC": 45.0, "PSBC": 20.0, "ABC": 12.0, "CCB": 8.0, "ICBC": 8.0, "BOC": 4.0, "CSCB": 3.0}
    banks: list[tuple[str, int, str, float]] = []
    with open(ref_dir / "bank_bins.csv", encoding="utf-8") as fh:
        bins = [r for r in csv.DictReader(fh) if r["card_type"] == "DC" and len(r["bin"]) == 6]
    for code, w in weights.items():
        mine = [r for r in bins if r["bank_code"] == code]
        for r in mine:
            banks.append((r["bin"], int(r["length"]), r["bank_name"], w / len(mine)))
    return Reference(
        units,
        {k: tuple(v) for k, v in by_pref.items()},
        {y: tuple(sorted(set(v))) for y, v in old.items()},
        tuple(banks),
    )


class People:
    """Makes persons (name, ID, account, bank) with deterministic, collision-free numbers."""

    def __init__(self, ref: Reference) -> None:
        self.ref = ref
        self.account_serial = 0
        self._bank_cum: list[float] = []
        total = 0.0
        for b in ref.banks:
            total += b[3]
            self._bank_cum.append(total)
        self._bank_total = total

    def area_for(self, rng: random.Random, unit: Unit, birth: date) -> str:
        if birth.year < 1988 and rng.random() < 0.12:
            old = self.ref.old_codes_by_year.get(birth.year, ())
            if old:
                return old[int(rng.random() * len(old))]
        if unit.level == "prefecture":
            counties = self.ref.counties_by_pref[unit.code]
            return counties[int(rng.random() * len(counties))]
        return unit.code

    def person(
        self,
        rng: random.Random,
        unit: Unit,
        lo: date,
        hi: date,
        used: set[str] | None = None,
    ) -> tuple[str, str]:
        """(name, ID number) born between lo and hi, with an area code of ``unit`` (or an old one)."""
        lo_o, span = lo.toordinal(), hi.toordinal() - lo.toordinal() + 1
        while True:
            birth = date.fromordinal(lo_o + int(rng.random() * span))
            male = rng.random() < 0.5
            seq = int(rng.random() * 500) * 2 + (1 if male else 0)
            idn = make_id(self.area_for(rng, unit, birth), birth, seq)
            if used is None or idn not in used:
                break
        if used is not None:
            used.add(idn)
        name = (
            MINORITY_NAMES[int(rng.random() * len(MINORITY_NAMES))] if rng.random() < 0.002 else (make_name(rng, male))
        )
        return name, idn

    def passbook(self) -> tuple[str, str]:
        """A rural-credit passbook account (15 digits)."""
        self.account_serial += 1
        return make_passbook(self.account_serial), "湖南省农村信用社"

    def account(self, rng: random.Random) -> tuple[str, str]:
        """(account number, bank name): unique for the whole run."""
        x = rng.random() * self._bank_total
        lo, hi = 0, len(self._bank_cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self._bank_cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        bin_, length, bank, _ = self.ref.banks[lo]
        self.account_serial += 1
        if bank == "湖南省农村信用社" and rng.random() < 0.05:
            return make_passbook(self.account_serial), bank
        luhn_ok = not (bank == "湖南省农村信用社" and rng.random() < 0.03)
        return make_account(bin_, length, self.account_serial, luhn_ok), bank


def split_int(total: int, weights: list[float], step: int) -> list[int]:
    """Split ``total`` into parts proportional to ``weights``, multiples of ``step``, summing exactly."""
    wsum = sum(weights)
    parts = [int(total * w / wsum) // step * step for w in weights]
    parts[max(range(len(parts)), key=lambda i: weights[i])] += total - sum(parts)
    return parts


def distribute(n: int, weights: list[float]) -> list[int]:
    """Largest-remainder split of n items."""
    wsum = sum(weights)
    raw = [n * w / wsum for w in weights]
    out = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - out[i]), i))
    for i in order[: n - sum(out)]:
        out[i] += 1
    return out


def plan_projects(rng: random.Random, ref: Reference, ambiguous_unit: int) -> list[Project]:
    """One individual-payment project (36号) and one other project (37号) per association; the
    association at index ``ambiguous_unit`` gets a second 37号 project (for an ambiguous credit)."""
    projects: list[Project] = []
    county_types = [t for t, _ in COUNTY_INDIVIDUAL]
    county_w = [w for _, w in COUNTY_INDIVIDUAL]
    seps = ["、"] * 6 + [",", ";", "；"]
    for i, unit in enumerate(ref.units):
        ind_type = TYPES["金秋助学"] if unit.level == "prefecture" else TYPES[rng.choices(county_types, county_w)[0]]
        others = [TYPES[rng.choice(NON_INDIVIDUAL)]]
        if i == ambiguous_unit:
            others.append(TYPES[next(t for t in NON_INDIVIDUAL if t != others[0].name)])
        for t, doc in [(ind_type, DOC36)] + [(o, DOC37) for o in others]:
            start = (date(2020, 5, 6) if t.individual else date(2020, 5, 11)) + timedelta(days=rng.randrange(21))
            end = date(2020, 11, 30) if rng.random() < 0.15 else date(2020, 12, 31)
            standard = None
            if t.individual:
                standard = Decimal(5000 if (t.name == "金秋助学" and unit.level == "prefecture") else t.standard)
            sep = rng.choice(seps)
            projects.append(
                Project(
                    code=f"JSX2020-{unit.code}-{t.abbr}",
                    name=f"{unit.name}2020年{t.name}项目",
                    type=t,
                    unit=unit,
                    start=start,
                    end=end,
                    standard=standard.quantize(Decimal("0.01")) if standard is not None else None,
                    pay_deadline=min(t.pay_deadline, end) if t.pay_deadline else None,
                    publicity_days=rng.choices([None, 7, 10], [6, 3, 1])[0],
                    report_deadline=date(2021, 3, 31) if rng.random() < 0.7 else date(2021, 1, 31),
                    allowed=sep.join(t.allowed),
                    threshold=rng.choices([None, Decimal("50000.00"), Decimal("100000.00")], [15, 2, 3])[0],
                    doc=doc,
                )
            )
    for p in projects:
        if p.type.individual:
            p.report_date = max(p.type.report_date, p.start + timedelta(days=14))
            p.pub_start = p.report_date + timedelta(days=1 + rng.randrange(3))
            p.pub_end = p.pub_start + timedelta(days=p.effective_publicity - 1 + rng.randrange(4))
    for doc, total in ((DOC36, TOTAL36), (DOC37, TOTAL37)):
        mine = [p for p in projects if p.doc == doc]
        weights = [(2.5 if p.unit.level == "prefecture" else 0.6 + 0.8 * rng.random()) for p in mine]
        for p, amount in zip(mine, split_int(total, weights, 1000), strict=True):
            p.alloc = amount
    return projects
