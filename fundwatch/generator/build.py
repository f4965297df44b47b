"""Builds the demo inbox: plans the province, writes every file and feeds the expected-findings engine."""

from __future__ import annotations

import csv
import random
import shutil
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from fundwatch.generator.expected import UNIT_FIELDS, Engine, Row, six_digit_code, write_findings
from fundwatch.generator.ids import check_char, make_id
from fundwatch.generator.names import MINORITY_NAMES, make_name, misspell
from fundwatch.generator.schema import field_index
from fundwatch.generator.world import (
    DOC36,
    DOC36_DATE,
    DOC37,
    DOC37_DATE,
    ISSUER,
    PAYEES,
    PAYER,
    People,
    Project,
    Unit,
    distribute,
    load_reference,
    plan_projects,
)
from fundwatch.generator.writer import FORMATS, FileInfo, TableWriter, csv_bytes, write_raw_file

XLSX_MAX_ROWS = 20_000  # above this a file is written as CSV (a sheet holds at most 1,048,576 rows)
D0 = Decimal("0.00")
CENT = Decimal("0.01")

# Planted payment/roster violations: (name, share of payments, minimum count). Each case uses its
# own extra person(s), so the ordinary payments stay clean and the planted volume stays modest.
PAYMENT_PLANTS: tuple[tuple[str, float, int], ...] = (
    ("not_on_roster", 0.003, 2),
    ("name", 0.002, 2),
    ("account", 0.002, 2),
    ("amount", 0.002, 2),
    ("over_std", 0.0015, 2),
    ("before_pub", 0.002, 2),
    ("late", 0.003, 2),
    ("dup", 0.002, 2),
    ("invalid_check", 0.001, 1),
    ("invalid_date", 0.0005, 1),
    ("invalid_len", 0.0005, 1),
    ("invalid_future", 0.0002, 1),
    ("deceased", 0.002, 2),
    ("deceased_same_day", 0.0, 1),
    ("staff", 0.001, 2),
    ("staff_other_unit", 0.0, 1),
    ("shared", 0.0005, 1),
    ("shared_cross", 0.0, 1),
    ("unpaid", 0.004, 2),
    ("pub_short", 0.001, 1),
    ("pub_missing", 0.0005, 1),
    ("no_project", 0.001, 1),
    ("combo", 0.0, 1),
    ("edge_deadline", 0.0, 1),
    ("edge_pub", 0.0, 1),
    ("same_values", 0.0, 1),
    ("rej_date", 0.0003, 1),
    ("rej_amount", 0.0003, 1),
    ("rej_key", 0.0002, 1),
    ("rej_account_cell", 0.0001, 1),
    ("rej_roster_key", 0.0002, 1),
    ("conflict", 0.0002, 1),
)


class Builder:
    def __init__(
        self, out_dir: Path, seed: int, payments: int, as_of: date, progress: Callable[[str], None] | None
    ) -> None:
        self.out_dir = out_dir
        self.inbox = out_dir / "inbox"
        self.seed = seed
        self.n_payments = payments
        self.rng = random.Random(seed)  # noqa: S311 (demo data)
        self.progress = progress or (lambda _msg: None)
        self.engine = Engine(as_of)
        self.ref = load_reference()
        self.people = People(self.ref)
        self.writers: dict[str, TableWriter] = {}
        self._by_base: dict[str, TableWriter] = {}
        self.files: list[FileInfo] = []
        self.small_rows: dict[str, list[Row]] = defaultdict(list)
        self.truth_spent: dict[str, Decimal] = defaultdict(lambda: D0)
        self.beneficiaries: dict[str, int] = defaultdict(int)
        self.first_spend: dict[str, date] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.txn_serial = 0
        self._day_text: dict[date, str] = {}
        fmts = list(FORMATS) * 40
        self.rng.shuffle(fmts)
        self._fmt_cycle = iter(fmts)

    # -- files -------------------------------------------------------------------------------------
    def writer(self, path: str, kind: str, rows: int = 0, fmt: str | None = None, **opts: object) -> TableWriter:
        w = self.writers.get(path) or self._by_base.get(path)
        if w is not None:
            return w
        base = path
        if fmt is None:
            fmt = next(self._fmt_cycle)
            if rows > XLSX_MAX_ROWS and fmt == "xlsx":
                fmt = self.rng.choice(FORMATS[1:])
        ext = "xlsx" if fmt == "xlsx" else "csv"
        if not path.endswith("." + ext):
            path = f"{path}.{ext}"
        wrng = random.Random(f"{self.seed}|file|{path}")  # noqa: S311 (demo data)
        defaults: dict[str, object] = {
            "titles": self._titles(wrng, kind, path),
            "shuffle": wrng.random() < 0.3,
            "label_style": wrng.choice((0, 0, 1, 2, 3)),
            "total": "ok" if wrng.random() < 0.5 else None,
            "mess": 0.08 if rows < 5000 else 0.03,
            "serial_col": wrng.random() < 0.2,
            "blank_every": wrng.choice((0, 0, 0, 7, 23)),
            "notes_sheet": wrng.random() < 0.2,
        }
        defaults.update(opts)
        w = TableWriter(self.inbox, path, kind, fmt, wrng, **defaults)  # type: ignore[arg-type]
        self.writers[path] = w
        self._by_base[base] = w
        return w

    @staticmethod
    def _titles(rng: random.Random, kind: str, path: str) -> list[str | None]:
        n = rng.choice((0, 0, 1, 2, 3))
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        rows: list[str | None] = [
            stem,
            f"填报单位：（盖章）    填报日期：2020年{rng.randint(6, 12)}月{rng.randint(1, 28)}日",
            "金额单位：元",
        ]
        out = rows[:n]
        if n and rng.random() < 0.4:
            out.append(None)
        return out

    def put(
        self,
        w: TableWriter,
        rec: tuple,
        override: dict[str, object] | None = None,
        special: bool = False,
        reason: str | None = None,
    ) -> Row:
        row = w.add(rec, override, special)
        if not override:
            return Row(w.kind, w.info.lineage, row, rec, reason)
        unit_field = UNIT_FIELDS.get(w.kind)  # a row that cannot be read still shows its 单位代码
        unit = six_digit_code(override.get(unit_field, rec[field_index(w.kind)[unit_field]])) if unit_field else None
        return Row(w.kind, w.info.lineage, row, None, reason, unit)

    def put_small(
        self, w: TableWriter, rec: tuple, override: dict[str, object] | None = None, special: bool = False
    ) -> None:
        self.small_rows[w.kind].append(self.put(w, rec, override, special))

    def txn(self, d: date, unit: str) -> str:
        self.txn_serial += 1
        day = self._day_text.get(d)
        if day is None:
            day = self._day_text[d] = f"{d:%Y%m%d}"
        return f"{day}{unit}{self.txn_serial:08d}"

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> tuple[Path, Path, dict[str, int]]:
        if self.inbox.exists():
            shutil.rmtree(self.inbox)
        self.inbox.mkdir(parents=True)
        rng = self.rng
        units = self.ref.units
        self.projects = plan_projects(rng, self.ref, ambiguous_unit=rng.randrange(14, len(units)))
        self.by_code = {p.code: p for p in self.projects}
        self.ind = [p for p in self.projects if p.type.individual]
        self.progress(f"planned {len(self.projects)} projects for {len(units)} associations")
        self.plan_plants()
        self.write_registers()
        self.engine.set_projects([(p.record(), "", 0) for p in self.projects])
        self.write_payments()
        self.write_expenditures()
        self.write_postings()
        self.write_funds()
        self.write_projects()
        self.write_reports()
        self.write_rejected_files()
        for w in self.writers.values():
            self.files.append(w.close())
        self.progress("files written; computing expected findings")
        eng = self.engine
        eng.set_projects(eng.resolve("projects", self.small_rows["projects"]))
        findings = eng.finish(
            eng.resolve("allocations", self.small_rows["allocations"]),
            eng.resolve("credits", self.small_rows["credits"]),
            eng.resolve("expenditures", self.small_rows["expenditures"]),
            eng.resolve("postings", self.small_rows["postings"]),
            eng.resolve("final_reports", self.small_rows["final_reports"]),
            eng.resolve("decisions", self.small_rows["decisions"]),
            self.files,
        )
        expected = self.out_dir / "expected_findings.csv"
        write_findings(expected, findings)
        self.write_manifest()
        counts = dict(self.counts)
        counts["payments"] = counts["payment_rows"]
        counts["files"] = sum(1 + len(f.copies) for f in self.files)
        counts["rejected_files"] = sum(1 for f in self.files if f.reject_reason)
        counts["expected_findings"] = len(findings)
        for kind, n in sorted(eng.loaded_counts.items()):
            counts[f"loaded_{kind}"] = n
        by_rule: dict[str, int] = defaultdict(int)
        for f in findings:
            by_rule[f[0]] += 1
        for rule, n in sorted(by_rule.items()):
            counts[f"findings_{rule}"] = n
        self.progress(f"{counts['files']} files, {len(findings)} expected findings")
        return self.inbox, expected, dict(sorted(counts.items()))

    def write_manifest(self) -> None:
        with open(self.out_dir / "manifest.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(("path", "kind", "format", "status", "lineage", "rows", "total_row", "sha256"))
            for f in sorted(self.files, key=lambda f: f.path):
                status = "rejected" if f.reject_reason else "data"
                w.writerow((f.path, f.kind or "", f.fmt, status, f.lineage, f.rows, f.total_row or "", f.sha256))
                for cp in f.copies:
                    w.writerow((cp, f.kind or "", f.fmt, "duplicate", f.lineage, f.rows, f.total_row or "", f.sha256))

    # -- planting plan -------------------------------------------------------------------------------
    def plan_plants(self) -> None:
        rng = self.rng
        n = self.n_payments
        self.plants: dict[str, list[tuple[str, dict]]] = defaultdict(list)
        planted = 0
        for name, share, minimum in PAYMENT_PLANTS:
            for _ in range(max(minimum, round(n * share))):
                p = rng.choice(self.ind)
                self.plants[p.code].append((name, {}))
                planted += 1
        # Bulk payments: what is left of the size knob, spread by allocation weight.
        bulk = max(0, n - planted)
        for p, k in zip(self.ind, distribute(bulk, [p.alloc for p in self.ind]), strict=True):
            p.payments = k
        # Persons that registers must know before payments are evaluated.
        self.deaths: list[tuple] = []
        self.staff: list[tuple] = []
        self.staff_by_unit: dict[str, list[tuple]] = {}
        for unit in self.ref.units:
            members = []
            for j in range(rng.randint(2, 4)):
                name, idn = self.people.person(rng, unit, date(1965, 1, 1), date(1995, 12, 31))
                pos = ("秘书长", "副会长", "干事", "会计", "出纳")[j % 5] if j else "常务副会长"
                members.append((name, idn, unit.code, pos, "本人", idn))
                for rel, lo, hi in (
                    ("配偶", date(1963, 1, 1), date(1995, 12, 31)),
                    ("子女", date(1990, 1, 1), date(2006, 12, 31)),
                    ("父母", date(1938, 1, 1), date(1970, 12, 31)),
                ):
                    if rng.random() < 0.35:
                        rn, ri = self.people.person(rng, unit, lo, hi)
                        members.append((rn, ri, unit.code, None, rel, idn))
            self.staff_by_unit[unit.code] = members
            self.staff.extend(members)
        for code in sorted(self.plants):
            p = self.by_code[code]
            for name, data in self.plants[code]:
                self._prepare(p, name, data)
        filler = max(40, min(3000, n // 200))
        for _ in range(filler):
            unit = rng.choice(self.ref.units)
            name, idn = self.people.person(rng, unit, date(1925, 1, 1), date(1960, 12, 31))
            died = date(2019, 1, 1) + timedelta(days=rng.randrange(700))
            self.deaths.append((name, idn, died, rng.choice(("民政殡葬信息", "公安户籍注销"))))

    def _pay_date(self, rng: random.Random, p: Project) -> date:
        lo = p.pub_end + timedelta(days=1)
        span = (p.pay_deadline - lo).days + 1
        return lo + timedelta(days=rng.randrange(max(1, span)))

    def _prepare(self, p: Project, name: str, data: dict) -> None:
        """Registers (death, staff) and cross-project accounts are decided before payments."""
        rng = self.rng
        t = p.type
        if name in ("deceased", "deceased_same_day", "combo"):
            pname, idn = self.people.person(rng, p.unit, *t.birth)
            pay = self._pay_date(rng, p)
            if name == "combo":
                pay = p.pay_deadline + timedelta(days=rng.randint(5, 30))
            died = pay if name == "deceased_same_day" else pay - timedelta(days=rng.randint(20, 300))
            data.update(person=(pname, idn), pay_date=pay)
            self.deaths.append((pname, idn, died, rng.choice(("民政殡葬信息", "公安户籍注销"))))
        elif name in ("staff", "staff_other_unit"):
            pname, idn = self.people.person(rng, p.unit, *t.birth)
            unit_code = p.unit.code
            if name == "staff_other_unit":
                unit_code = next(u.code for u in self.ref.units if u.code != p.unit.code)
            staff_member = self.staff_by_unit[unit_code][0]
            rel = "子女" if t.name == "金秋助学" else rng.choice(("配偶", "兄弟姐妹", "父母"))
            self.staff.append((pname, idn, unit_code, None, rel, staff_member[1]))
            data.update(person=(pname, idn))
        elif name == "shared_cross":
            other = rng.choice([q for q in self.ind if q.code != p.code])
            acct = self.people.account(rng)
            owner = self.people.person(rng, other.unit, *other.type.birth)
            data.update(account=acct)
            self.plants[other.code].append(("account_owner", {"person": owner, "account": acct}))

    # -- registers -------------------------------------------------------------------------------------
    def write_registers(self) -> None:
        w = self.writer(
            "外部数据/民政/2020年死亡人员信息比对数据",
            "deaths",
            len(self.deaths),
            fmt="csv-gb18030",
            titles=["湖南省民政厅 2020年度死亡人员信息（供计生协比对）"],
            showcase=6,
        )
        for rec in self.deaths:
            self.put_small(w, rec)
        w = self.writer(
            "外部数据/纪委/计生协工作人员及亲属名册",
            "staff",
            len(self.staff),
            fmt="xlsx",
            hidden_first_sheet=True,
        )
        for rec in self.staff:
            self.put_small(w, rec)
        self.engine.set_deaths(self.engine.resolve("deaths", self.small_rows.pop("deaths")))
        self.engine.set_staff(self.engine.resolve("staff", self.small_rows.pop("staff")))
        self.counts["deaths"] = len(self.deaths)
        self.counts["staff"] = len(self.staff)

    # -- roster and payments ------------------------------------------------------------------------
    def _pref_files(self) -> None:
        rows_by_pref: dict[str, int] = defaultdict(int)
        for p in self.ind:
            rows_by_pref[p.unit.pref_code] += p.payments
        self.w_roster: dict[str, TableWriter] = {}
        self.w_pay: dict[str, TableWriter] = {}
        for u in self.ref.units:
            if u.level != "prefecture":
                continue
            n = rows_by_pref[u.code]
            roster_path = f"{u.name}/名单/{u.name}2020年补助对象上报名单汇总"
            pay_path = f"{u.name}/发放/{u.name}2020年补助资金发放明细"
            if u.code == "430100":  # misleading file names: the kind comes from the header row only
                roster_path = f"{u.name}/长沙县2020年金秋助学发放明细（第二批）"
            if u.code == "430200":
                pay_path = f"{u.name}/上报材料/终稿/上报名单（定稿）"
            show = 12 if u.code in ("430100", "430200") else 0
            self.w_roster[u.code] = self.writer(roster_path, "roster", n, showcase=show)
            self.w_pay[u.code] = self.writer(pay_path, "payments", n, showcase=show)
        # The supplements are showcases: their first rows walk through every value variant.
        self.w_roster_sup = self.writer(
            "补报材料/2020年补充上报名单",
            "roster",
            fmt="xlsx",
            showcase=12,
            styles={"account": "cell", "code": "cell"},
        )
        self.w_pay_sup = self.writer(
            "补报材料/2020年补充发放明细",
            "payments",
            fmt="xlsx",
            showcase=12,
            styles={"date": "cell", "money": "cell"},
        )

    def write_payments(self) -> None:
        self._pref_files()
        total = len(self.ind)
        for i, p in enumerate(self.ind):
            self._block(p)
            if (i + 1) % 20 == 0 or i + 1 == total:
                self.progress(f"payments: {i + 1}/{total} projects")

    def _block(self, p: Project) -> None:
        rng = random.Random(f"{self.seed}|block|{p.code}")  # noqa: S311 (demo data)
        people = self.people
        t = p.type
        unit = p.unit
        wr = self.w_roster[unit.pref_code]
        wp = self.w_pay[unit.pref_code]
        used: set[str] = set()
        for _, data in self.plants.get(p.code, ()):
            if "person" in data:
                used.add(data["person"][1])
        std = p.standard
        roster: list[tuple] = []  # (rec, writer, override, special)
        pays: list[tuple] = []
        batch = "2020年第一批"
        cats = t.categories
        b_lo, b_hi = t.birth

        def approved_for(cat: str) -> Decimal:
            if cat == "独生子女伤残家庭":
                return Decimal("1000.00")
            if t.name == "创业贷款贴息":
                return Decimal(rng.choice((1500, 2000, 2500, 3000))).quantize(CENT)
            return std

        def new_person() -> tuple[str, str, str, str, str, Decimal]:
            name, idn = people.person(rng, unit, b_lo, b_hi, used)
            acct, bank = people.account(rng)
            cat = cats[int(rng.random() * len(cats))]
            return name, idn, acct, bank, cat, approved_for(cat)

        def roster_rec(
            name: str,
            idn: str,
            cat: str,
            acct: str | None,
            bank: str | None,
            amount: Decimal,
            pub: tuple[date | None, date | None] = (p.pub_start, p.pub_end),
        ) -> tuple:
            return (p.code, name, idn, cat, acct, bank, amount, unit.code, p.report_date, pub[0], pub[1])

        def pay_rec(
            name: str,
            idn: str,
            acct: str,
            bank: str,
            amount: Decimal,
            d: date,
            code: str = p.code,
            remark: str | None = None,
        ) -> tuple:
            return (self.txn(d, unit.code), batch, code, name, idn, acct, bank, amount, d, unit.code, remark)

        for _ in range(p.payments):
            name, idn, acct, bank, cat, amount = new_person()
            roster.append((roster_rec(name, idn, cat, acct, bank, amount), wr, None, False))
            pays.append(
                (
                    pay_rec(
                        name,
                        idn,
                        acct,
                        bank,
                        amount,
                        self._pay_date(rng, p),
                        remark="一卡通" if rng.random() < 0.1 else None,
                    ),
                    wp,
                    None,
                    False,
                )
            )
        for plant, data in self.plants.get(p.code, ()):
            self._plant(plant, data, p, rng, new_person, roster_rec, pay_rec, roster, pays, wr, wp)
        pays.sort(key=lambda x: (x[0][8], x[0][0]))
        roster_rows = [self.put(w, rec, ov, sp) for rec, w, ov, sp in roster]
        pay_rows = [self.put(w, rec, ov, sp) for rec, w, ov, sp in pays]
        self.counts["roster_rows"] += len(roster_rows)
        self.counts["payment_rows"] += len(pay_rows)
        self.beneficiaries[p.code] = len(roster)
        for rec, *_ in pays:
            if rec[-1] != "冲突副本":  # the clerk's books hold the payment once, not the clashing copy
                self.truth_spent[p.code] += rec[7]
        first = min((rec[8] for rec, *_ in pays), default=None)
        if first is not None:
            self.first_spend[p.code] = first
        self.engine.payment_block(roster_rows, pay_rows)

    def _plant(
        self,
        plant: str,
        data: dict,
        p: Project,
        rng: random.Random,
        new_person,
        roster_rec,
        pay_rec,
        roster: list,
        pays: list,
        wr: TableWriter,
        wp: TableWriter,
    ) -> None:
        """One planted case (see the package docstring)."""
        sup_r, sup_p = self.w_roster_sup, self.w_pay_sup
        name, idn, acct, bank, cat, amount = new_person()
        if "person" in data:
            name, idn = data["person"]
        d = data.get("pay_date") or self._pay_date(rng, p)
        std = p.standard

        def both(
            r_name=name,
            r_idn=idn,
            r_acct=acct,
            r_amount=amount,
            pub=(p.pub_start, p.pub_end),
            p_name=name,
            p_idn=idn,
            p_acct=acct,
            p_amount=amount,
            p_date=d,
            code=p.code,
        ) -> None:
            roster.append((roster_rec(r_name, r_idn, cat, r_acct, bank, r_amount, pub), wr, None, False))
            pays.append((pay_rec(p_name, p_idn, p_acct, bank, p_amount, p_date, code), wp, None, False))

        if plant in ("deceased", "deceased_same_day", "staff", "staff_other_unit", "edge_pub"):
            both(p_date=p.pub_end + timedelta(days=1) if plant == "edge_pub" else d)
        elif plant == "not_on_roster":
            pays.append((pay_rec(name, idn, acct, bank, amount, d), wp, None, False))
        elif plant == "name":
            both(p_name=misspell(name))
        elif plant == "account":
            other, _ = self.people.account(rng)
            both(p_acct=other)
        elif plant == "amount":
            both(p_amount=amount - Decimal(rng.choice((100, 200, 300))))
        elif plant == "over_std":
            over = std + Decimal(500)
            both(r_amount=over + Decimal(rng.choice((0, 0, 500))), p_amount=over)
        elif plant == "before_pub":
            both(p_date=p.pub_end if rng.random() < 0.5 else p.pub_start + timedelta(days=2))
        elif plant == "late":
            both(p_date=p.pay_deadline + timedelta(days=rng.randint(1, 45)))
        elif plant == "edge_deadline":
            both(p_date=p.pay_deadline)
        elif plant == "dup":
            both()
            later = d + timedelta(days=rng.choice((0, 3, 30)))
            pays.append((pay_rec(name, idn, acct, bank, amount, later, remark="补发"), wp, None, False))
        elif plant in ("invalid_check", "invalid_date", "invalid_future"):
            if plant == "invalid_check":
                bad = idn[:17] + ("0" if idn[17] != "0" else "1")
            else:
                birth = "19800230" if plant == "invalid_date" else f"{d.year + 1}0101"
                first17 = idn[:6] + birth + idn[14:17]
                bad = first17 + check_char(first17)
            both(r_idn=bad, p_idn=bad)
        elif plant == "invalid_len":
            both(p_idn=idn[:10] + idn[11:])
        elif plant == "shared":
            holder_acct = acct
            both()
            for k in range(2):
                n2, i2, a2, b2, c2, m2 = new_person()
                r_acct = holder_acct if k == 0 else a2  # the second roster line still shows his own card
                roster.append((roster_rec(n2, i2, c2, r_acct, bank, m2), wr, None, False))
                pays.append((pay_rec(n2, i2, holder_acct, bank, m2, d + timedelta(days=k)), wp, None, False))
        elif plant == "shared_cross":
            shared_acct, shared_bank = data["account"]
            roster.append((roster_rec(name, idn, cat, shared_acct, shared_bank, amount), wr, None, False))
            pays.append((pay_rec(name, idn, shared_acct, shared_bank, amount, d), wp, None, False))
        elif plant == "account_owner":
            (oname, oidn), (oacct, obank) = data["person"], data["account"]
            roster.append((roster_rec(oname, oidn, cat, oacct, obank, amount), wr, None, False))
            pays.append((pay_rec(oname, oidn, oacct, obank, amount, d), wp, None, False))
        elif plant == "unpaid":
            roster.append((roster_rec(name, idn, cat, acct, bank, amount), wr, None, False))
        elif plant == "pub_short":
            both(pub=(p.pub_start, p.pub_start + timedelta(days=p.effective_publicity - 3)))
        elif plant == "pub_missing":
            both(pub=(p.pub_start, None))
        elif plant == "no_project":
            both(code=p.code[:-2] + p.code[-1] + p.code[-2])
        elif plant == "combo":
            both(p_name=misspell(name), p_date=d)
        elif plant == "same_values":
            # A minority name and a passbook account (a number cell in the xlsx supplement).
            name = MINORITY_NAMES[int(rng.random() * len(MINORITY_NAMES))]
            acct, bank = self.people.passbook()
            rec = roster_rec(name, idn, cat, acct, bank, amount)
            roster.append((rec, wr, None, True))
            roster.append((rec, sup_r, None, True))
            pays.append((pay_rec(name, idn, acct, bank, amount, d), sup_p, None, False))
        elif plant in ("rej_date", "rej_amount", "rej_key"):
            roster.append((roster_rec(name, idn, cat, acct, bank, amount), wr, None, False))
            override = {
                "rej_date": {"pay_date": rng.choice(("2020-13-05", "待定", "2020-02-30"))},
                "rej_amount": {"amount": rng.choice(("1O00.00", "壹仟元", "1,2OO"))},
                "rej_key": {"txn_ref": ""},
            }[plant]
            w = wp if rng.random() < 0.5 else sup_p
            pays.append((pay_rec(name, idn, acct, bank, amount, d), w, override, True))
        elif plant == "rej_account_cell":
            # A 19-digit account typed as an Excel number: only 15 digits survive, the row is unreadable.
            roster.append((roster_rec(name, idn, cat, acct, bank, amount), wr, None, False))
            lost = ("n", float(f"{float(acct):.15g}"))
            pays.append((pay_rec(name, idn, acct, bank, amount, d), sup_p, {"account_no": lost}, True))
        elif plant == "rej_roster_key":
            roster.append((roster_rec(name, idn, cat, acct, bank, amount), sup_r, {"id_number": ""}, True))
            pays.append((pay_rec(name, idn, acct, bank, amount, d), wp, None, False))
        elif plant == "conflict":
            roster.append((roster_rec(name, idn, cat, acct, bank, amount), wr, None, False))
            rec = pay_rec(name, idn, acct, bank, amount, d)
            pays.append((rec, wp, None, True))
            clash = rec[:7] + (amount + Decimal(100),) + rec[8:10] + ("冲突副本",)
            pays.append((clash, sup_p, None, True))
        else:
            raise ValueError(f"unknown plant {plant}")

    # -- vouchers and decisions ---------------------------------------------------------------------
    def write_expenditures(self) -> None:
        rng = self.rng
        self.voucher_serial: dict[str, int] = defaultdict(int)
        self.decision_serial: dict[str, int] = defaultdict(int)
        self.exp_plants = self._pick_projects(
            [
                "exp_no_project",
                "exp_no_project",
                "exp_category",
                "exp_category",
                "exp_before",
                "exp_after",
                "exp_no_decision",
                "exp_decision_late",
                "exp_decision_other_unit",
                "exp_edge_threshold",
                "exp_conflict",
                "exp_rejected",
                "over_budget",
                "over_budget",
                "idle",
                "idle",
            ]
        )
        for p in self.projects:
            pref = p.unit.pref_name
            w = self.writer(
                f"{pref}/支出/{pref}2020年项目支出明细",
                "expenditures",
                50,
                **({"total": "wrong", "total_delta": Decimal("1000.00")} if p.unit.pref_code == "430300" else {}),
            )
            wd = self.writer(
                f"{pref}/三重一大/{pref}计生协集体决策记录",
                "decisions",
                20,
                **(
                    {"copies": ("补报材料/重复报送/会议纪要汇总（重复）.xlsx",), "fmt": "xlsx"}
                    if p.unit.pref_code == "430100"
                    else {}
                ),
            )
            plants = self.exp_plants.get(p.code, [])
            remainder = Decimal(p.alloc) - self.truth_spent[p.code]
            if "idle" in plants:
                remainder = (Decimal(p.alloc) * Decimal("0.8")).quantize(CENT) - self.truth_spent[p.code]
            cats = [c for c in p.type.allowed if c not in ("补助发放", "贷款贴息")] or list(p.type.allowed)
            lo = p.start + timedelta(days=7)
            hi = p.end - timedelta(days=5)
            if remainder > 0:
                m = max(1, min(6, int(remainder // 70000) + 1))
                parts = [Decimal(x) for x in _split_amount(rng, int(remainder * 100), m)]
                dates = sorted(lo + timedelta(days=rng.randrange((hi - lo).days)) for _ in parts)
                for cents, dd in zip(parts, dates, strict=True):
                    amount = (cents / 100).quantize(CENT)
                    self._voucher(p, w, wd, dd, rng.choice(cats), amount)
            elif p.type.individual:
                self._voucher(p, w, wd, lo + timedelta(days=3), cats[-1], Decimal("2680.00"))
            for plant in plants:
                self._exp_plant(plant, p, w, wd, cats, lo, hi)

    def _pick_projects(self, names: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        pool = [p for p in self.projects if not p.type.individual]
        for name in names:
            p = self.rng.choice(pool)
            if name in ("exp_conflict",) and p.unit.pref_code in ("430300", "430100"):
                p = next(q for q in pool if q.unit.pref_code not in ("430300", "430100"))
            out[p.code].append(name)
        return out

    def _voucher(
        self,
        p: Project,
        w: TableWriter,
        wd: TableWriter,
        d: date,
        cat: str,
        amount: Decimal,
        decision: str = "auto",
        code: str | None = None,
        special: bool = False,
        override: dict[str, object] | None = None,
        other_writer: TableWriter | None = None,
    ) -> tuple:
        rng = self.rng
        unit = p.unit
        self.voucher_serial[unit.code] += 1
        voucher = f"{unit.code}-2020-记{self.voucher_serial[unit.code]:04d}"
        threshold = p.threshold if p.threshold is not None else Decimal("50000")
        decision_no = None
        if decision == "auto" and (amount >= threshold or rng.random() < 0.05):
            decision_no = self._decision(p, wd, d - timedelta(days=rng.randint(2, 20)), amount, cat)
        elif decision not in ("auto", "none"):
            decision_no = decision
        payee = rng.choice(PAYEES.get(cat, ("{county}计划生育协会", "湖南星城文化传媒有限公司")))
        payee = payee.format(county=unit.name, city=unit.pref_name)
        rec = (voucher, code or p.code, d, cat, amount, payee, f"{p.type.name}项目{cat}", decision_no)
        self.put_small(other_writer or w, rec, override, special)
        if override is None and rec[1] == p.code:
            self.truth_spent[p.code] += amount
            if p.code not in self.first_spend or d < self.first_spend[p.code]:
                self.first_spend[p.code] = d
        self.counts["expenditure_rows"] += 1
        return rec

    def _decision(
        self, p: Project, wd: TableWriter, d: date, amount: Decimal | None, cat: str, unit: Unit | None = None
    ) -> str:
        unit = unit or p.unit
        self.decision_serial[unit.code] += 1
        no = f"{unit.name}计生协决〔2020〕{self.decision_serial[unit.code]}号"
        meeting = self.rng.choice(("会长办公会", "党组会", "秘书长办公会"))
        self.put_small(wd, (no, unit.code, d, meeting, f"研究{p.name}{cat}支出事项", amount, p.code))
        self.counts["decision_rows"] += 1
        return no

    def _exp_plant(
        self, plant: str, p: Project, w: TableWriter, wd: TableWriter, cats: list[str], lo: date, hi: date
    ) -> None:
        rng = self.rng
        d = lo + timedelta(days=rng.randrange((hi - lo).days))
        small = Decimal(rng.randint(30, 450) * 100).quantize(CENT)
        threshold = p.threshold if p.threshold is not None else Decimal("50000.00")
        big = threshold + Decimal(rng.randint(1, 40) * 500)
        if plant == "exp_no_project":
            self._voucher(p, w, wd, d, cats[0], small, code=f"JSX2020-{p.unit.code}-QT{rng.randint(1, 9)}")
        elif plant == "exp_category":
            self._voucher(p, w, wd, d, rng.choice(("招待费", "公务用车运行维护费")), small)
        elif plant == "exp_before":
            self._voucher(p, w, wd, p.start - timedelta(days=rng.randint(3, 20)), cats[0], small)
        elif plant == "exp_after":
            self._voucher(p, w, wd, p.end + timedelta(days=rng.randint(1, 25)), cats[0], small)
        elif plant == "exp_no_decision":
            self._voucher(p, w, wd, d, cats[0], big, decision="none")
        elif plant == "exp_decision_late":
            no = self._decision(p, wd, d + timedelta(days=rng.randint(1, 15)), big, cats[0])
            self._voucher(p, w, wd, d, cats[0], big, decision=no)
        elif plant == "exp_decision_other_unit":
            other = next(u for u in self.ref.units if u.code != p.unit.code)
            no = self._decision(p, wd, d - timedelta(days=5), big, cats[0], unit=other)
            self._voucher(p, w, wd, d, cats[0], big, decision=no)
        elif plant == "exp_edge_threshold":
            self._voucher(p, w, wd, d, cats[0], threshold)  # exactly the threshold, with its decision
        elif plant == "exp_conflict":
            rec = self._voucher(p, w, wd, d, cats[0], small, special=True)
            clash = rec[:4] + (rec[4] + Decimal("1000.00"),) + rec[5:]
            self.put_small(self.writer("补报材料/补充支出凭证", "expenditures", fmt="csv-gb18030"), clash, special=True)
        elif plant == "exp_rejected":
            self._voucher(
                p,
                w,
                wd,
                d,
                cats[0],
                small,
                override={"amount": "壹万贰仟元整"},
                other_writer=self.writer("补报材料/补充支出凭证", "expenditures", fmt="csv-gb18030"),
            )
            self.truth_spent[p.code] += small
        elif plant == "over_budget":
            p.budget = _round_up(max(Decimal(p.alloc), self.truth_spent[p.code]), 1000)
            self._voucher(p, w, wd, d, cats[0], Decimal(rng.randint(80, 300) * 100).quantize(CENT))
        elif plant == "idle":
            pass
        else:
            raise ValueError(plant)

    # -- postings, funds, projects, reports -----------------------------------------------------------
    def write_postings(self) -> None:
        rng = self.rng
        w1 = self.writer("公示/2020年项目挂牌公示登记", "postings", len(self.projects))
        w2 = self.writer("公示/2020年补助对象名单公示登记", "postings", len(self.ind))
        missing = {p.code for p in rng.sample(self.projects, 2)}
        late = rng.choice([p for p in self.projects if p.code not in missing]).code
        for p in self.projects:
            first = self.first_spend.get(p.code, p.start + timedelta(days=7))
            start = min(p.start + timedelta(days=rng.randrange(5)), first)
            if p.code in missing:
                continue
            if p.code == late:
                start = first + timedelta(days=rng.randint(1, 30))
            self.put_small(
                w1,
                (p.code, "项目挂牌", start, None, f"{p.unit.assoc}办公楼公示栏", f"GS-{p.unit.code}-2020-01"),
            )
        for p in self.ind:
            self.put_small(
                w2,
                (
                    p.code,
                    "名单公示",
                    p.pub_start,
                    p.pub_end,
                    rng.choice(("各乡镇（街道）政务公开栏", "村（社区）公示栏", "协会网站")),
                    f"GS-{p.unit.code}-2020-02",
                ),
            )

    def write_funds(self) -> None:
        rng = self.rng
        w36 = self.writer(
            f"省财政厅/{DOC36} 资金分配表",
            "allocations",
            fmt="xlsx",
            total="ok",
            titles=["湖南省财政厅关于下达2020年计划生育协会项目补助资金的通知", f"{DOC36}附件", None],
        )
        w37 = self.writer(
            "省财政厅/湘财社指[2020]37号附件",
            "allocations",
            fmt="csv-gb18030",
            total="ok",
            copies=("省财政厅/备份/37号文附件（副本）.csv",),
        )
        amb_unit = next(u for u, n in _count_units(self.projects).items() if n > 1)
        amb = [p for p in self.projects if p.unit.code == amb_unit and p.doc == DOC37]
        picks = rng.sample([p for p in self.projects if p not in amb], 9)
        short, over, late, edge, wrong_doc, wrong_unit = (
            picks[:2],
            picks[2],
            picks[3:5],
            picks[5],
            picks[6],
            picks[7],
        )
        long_deadline = picks[8]
        for p in self.projects:
            days = 60 if p is long_deadline else None
            w = w36 if p.doc == DOC36 else w37
            self.put_small(
                w,
                (
                    p.doc,
                    DOC36_DATE if p.doc == DOC36 else DOC37_DATE,
                    ISSUER,
                    2020,
                    p.unit.code,
                    p.unit.assoc,
                    p.code,
                    Decimal(p.alloc).quantize(CENT),
                    days,
                ),
            )
        serial = 0

        def credit(
            p: Project,
            d: date,
            amount: Decimal,
            doc: str | None = None,
            with_code: bool | None = None,
            unit: Unit | None = None,
        ) -> None:
            nonlocal serial
            serial += 1
            unit = unit or p.unit
            doc = doc or p.doc
            if with_code is None:
                with_code = rng.random() < 0.7 or sum(1 for q in self.projects if q.unit is unit) > 2
            in_column = rng.random() < 0.6
            memo = (
                f"{p.type.name}项目资金"
                if in_column
                else rng.choice((f"{doc} {p.type.name}资金", f"拨付：{doc}资金", f"2020年项目资金 {doc}"))
            )
            if not in_column and rng.random() < 0.5:
                op, cl = rng.choice((("[", "]"), ("【", "】"), ("(", ")"), ("（", "）")))
                memo = memo.replace("〔", op).replace("〕", cl)
            rec = (
                f"ZJ{d:%Y%m%d}{serial:06d}",
                d,
                PAYER,
                unit.code,
                unit.assoc,
                amount,
                doc if in_column else None,
                memo,
                p.code if with_code else None,
            )
            w = self.writer(
                f"银行到账/2020年{d.month:02d}月到账明细",
                "credits",
                60,
                **({"total": "wrong", "total_delta": Decimal("-500.00"), "fmt": "csv-utf8"} if d.month == 5 else {}),
            )
            self.put_small(w, rec)
            self.counts["credit_rows"] += 1

        for p in self.projects:
            issued = DOC36_DATE if p.doc == DOC36 else DOC37_DATE
            deadline = issued + timedelta(days=60 if p is long_deadline else 30)
            amount = Decimal(p.alloc).quantize(CENT)
            d = issued + timedelta(days=rng.randint(3, 25))
            if p in amb:
                credit(p, d, amount, with_code=p is amb[1])
            elif p in short:
                credit(p, d, (amount * Decimal("0.9")).quantize(CENT))
            elif p is over:
                credit(p, d, amount)
                credit(p, d + timedelta(days=2), Decimal(50000).quantize(CENT))
            elif p in late:
                credit(p, deadline + timedelta(days=rng.randint(1, 40)), amount)
            elif p is edge:
                credit(p, deadline, amount)
            elif p is long_deadline:
                credit(p, issued + timedelta(days=45), amount)
            elif rng.random() < 0.1:
                half = (amount / 2).quantize(Decimal("1")).quantize(CENT)
                credit(p, d, half)
                credit(p, d + timedelta(days=rng.randint(1, 4)), amount - half)
            else:
                credit(p, d, amount)
        credit(
            wrong_doc,
            DOC37_DATE + timedelta(days=9),
            Decimal("120000.00"),
            doc="湘财社指〔2020〕38号",
            with_code=False,
        )
        other = next(q for q in self.projects if q.unit.code != wrong_unit.unit.code)
        credit(wrong_unit, DOC36_DATE + timedelta(days=12), Decimal("80000.00"), with_code=True, unit=other.unit)

    def write_projects(self) -> None:
        rng = self.rng
        w1 = self.writer(
            "项目文本/2020年个人补助类项目汇总表",
            "projects",
            fmt="xlsx",
            titles=["湖南省计划生育协会2020年项目汇总表（个人补助类）"],
        )
        w2 = self.writer("项目文本/2020年其他项目汇总表", "projects", fmt="csv-bom")
        for p in self.projects:
            if p.budget is None:
                base = max(Decimal(p.alloc), self.truth_spent[p.code])
                p.budget = _round_up(base * (Decimal("1.1") if rng.random() < 0.2 else 1), 1000)
            self.put_small(w1 if p.type.individual else w2, p.record())

    def write_reports(self) -> None:
        rng = self.rng
        w = self.writer("终期报告/2020年项目终期报告汇总", "final_reports", len(self.projects))
        picks = rng.sample(self.projects, 6)
        missing, late, mismatch = picks[:2], picks[2:4], picks[4:6]
        for p in self.projects:
            if p in missing:
                continue
            submit = min(p.report_deadline, p.end + timedelta(days=rng.randint(5, 40)))
            if p in late:
                submit = p.report_deadline + timedelta(days=rng.randint(3, 25))
            spent = self.truth_spent[p.code]
            if p in mismatch:
                spent += Decimal(rng.randint(10, 50) * 100)
            people = self.beneficiaries[p.code] if p.type.individual else rng.randint(200, 3000)
            self.put_small(w, (p.code, f"ZQBG-{p.unit.code}-2020-{p.type.abbr}", submit, spent, people))

    def write_rejected_files(self) -> None:
        self.files.append(
            write_raw_file(
                self.inbox,
                "其他材料/2020年工作台账.csv",
                csv_bytes(
                    [
                        ["序号", "日期", "工作内容", "责任人"],
                        ["1", "2020-06-01", "召开项目推进会", "刘伟"],
                        ["2", "2020-07-15", "督导金秋助学发放", "陈芳"],
                    ],
                    "utf-8-sig",
                ),
                "表头不属于任何已知文件类型（unknown header）",
            )
        )
        w = TableWriter(
            self.inbox,
            "衡阳市/发放/衡阳市补发明细（表头错位）.csv",
            "payments",
            "csv-utf8",
            random.Random(f"{self.seed}|low-header"),  # noqa: S311
            titles=[
                "衡阳市2020年补发明细",
                "填报单位：衡阳市计划生育协会",
                "审核人：",
                "联系电话：",
                "备注：本表为补发",
                "（以下为明细）",
            ],
        )
        name, idn = make_name(self.rng, True), make_id("430405", date(1960, 3, 8), 123)
        w.add(
            (
                "X20201201000001",
                "补发",
                "JSX2020-430400-JQZX",
                name,
                idn,
                "6217991234567890123",
                "中国邮政储蓄银行",
                Decimal("1200.00"),
                date(2020, 12, 1),
                "430400",
                None,
            )
        )
        info = w.close()
        info.reject_reason = "前6行内未找到表头（header row below the 5 allowed title rows）"
        info.kind = None
        self.files.append(info)
        for path, data in (
            ("岳阳市/发放明细（旧格式）.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504),
            ("长沙市/2020年工作总结.docx", b"PK\x03\x04" + "2020年工作总结（略）".encode() + b"\x00" * 64),
            ("其他材料/公示照片扫描件.pdf", b"%PDF-1.4\n% synthetic demo file\n%%EOF\n"),
        ):
            self.files.append(write_raw_file(self.inbox, path, data, "不支持的文件格式（unsupported extension）"))


def _split_amount(rng: random.Random, cents: int, m: int) -> list[int]:
    """Split an amount in cents into m positive parts, rounded to whole 元 except the last."""
    if m == 1:
        return [cents]
    weights = [0.5 + rng.random() for _ in range(m)]
    total = sum(weights)
    parts = [int(cents * w / total) // 100 * 100 for w in weights[:-1]]
    parts.append(cents - sum(parts))
    return parts


def _round_up(v: Decimal, step: int) -> Decimal:
    return ((v / step).to_integral_value(rounding=ROUND_CEILING) * step).quantize(CENT)


def _count_units(projects: list[Project]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for p in projects:
        if p.doc == DOC37:
            out[p.unit.code] += 1
    return out
