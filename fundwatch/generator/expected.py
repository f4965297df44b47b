"""An independent, straightforward implementation of rules.md over the generated records.

It sees the records the way the pipeline should see them after ingestion: rejected rows are not
loaded (ROW_REJECTED), byte-identical copies are loaded once under the smallest path, a key met twice
with equal values is one record (smallest path, then row) and a key met with different values is a
conflict (both rows ROW_REJECTED, neither loaded). Findings are then computed from those records,
so interactions between planted violations are included, not merely the planted list.

Payments and roster entries are evaluated project by project (``payment_block``) so that 10 million
payments never sit in memory at once; every other kind is evaluated once at the end (``finish``).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from fundwatch.divisions import divisions
from fundwatch.generator.ids import id_is_valid
from fundwatch.generator.schema import KEYS, field_index
from fundwatch.generator.writer import FileInfo

ZERO = Decimal("0.00")
DEFAULT_DEADLINE_DAYS = 30
DEFAULT_PUBLICITY_DAYS = 7
DEFAULT_LARGE_AMOUNT = Decimal("50000")
IDLE_DAYS = 90
HEADER = ("rule_id", "subject_type", "subject_key", "amount_at_risk", "source_file", "source_row", "unit_code")
_DOC_RE = re.compile(r"([\u4e00-\u9fff]+)[〔\[【(（](\d{4})[〕\]】)）](\d+)号")
_CATEGORY_SPLIT = re.compile(r"[、,;；]")


class Row(NamedTuple):
    """One data row as written: ``rec`` is None when the row cannot be read (``reason`` says why)."""

    kind: str
    path: str  # lineage path (smallest among byte-identical copies)
    row: int
    rec: tuple | None
    reason: str | None = None
    unit: str | None = None  # the row's 单位代码 cell when it reads as 6 digits (rejected rows too)


Finding = tuple[str, str, str, Decimal, str, int | None, str | None]  # ..., source_row, unit_code
Loaded = tuple[tuple, str, int]  # (record, source_file, source_row)


#: The column holding a kind's 单位代码 (发放/上报/收款/实施/决策/工作单位代码), where it has one.
UNIT_FIELDS = {"allocations": "recipient_code", "credits": "recipient_code", "projects": "unit_code",
               "roster": "unit_code", "payments": "unit_code", "decisions": "unit_code", "staff": "unit_code"}
_SIX_DIGITS = re.compile(r"[0-9]{6}")


def six_digit_code(value: object) -> str | None:
    """A 单位代码 cell as written (text, or a number cell) when it reads as 6 digits, else None."""
    if isinstance(value, tuple):  # a typed cell ("n", 430121.0)
        value = value[1]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "" if value is None else str(value).strip()
    return text if _SIX_DIGITS.fullmatch(text) else None


def _division_codes() -> dict[str, str]:
    """Folder names that name a division (its name or its code) -> its code."""
    return {name: d.code for d in divisions().values() for name in (d.name, d.code)}


def folder_unit(path: str, divisions: dict[str, str]) -> str | None:
    """The division named by the deepest folder of an inbox path, else None."""
    for folder in reversed(path.split("/")[:-1]):
        code = divisions.get(folder.strip())
        if code:
            return code
    return None


def doc_from_memo(memo: str | None) -> str | None:
    m = _DOC_RE.search(memo or "")
    return f"{m.group(1)}〔{m.group(2)}〕{m.group(3)}号" if m else None


class Engine:
    """Collects loaded records and findings; ``as_of`` is the run date of the as-of rules."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.findings: list[Finding] = []
        self.spent: dict[str, Decimal] = defaultdict(lambda: ZERO)
        self.first_spend: dict[str, date] = {}
        self.file_sums: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        self.accounts: dict[str, str] = {}
        self._paths: list[str] = []
        self._path_ids: dict[str, int] = {}
        self.shared_accounts: set[str] = set()
        self.projects: dict[str, tuple] = {}
        self.deaths: dict[str, date] = {}
        self.staff_units: dict[str, set[str]] = defaultdict(set)
        self.loaded_counts: dict[str, int] = defaultdict(int)
        self.divisions = _division_codes()

    # -- ingestion view ----------------------------------------------------------------------------
    def resolve(self, kind: str, rows: Iterable[Row]) -> list[Loaded]:
        """Rejected rows -> ROW_REJECTED; key groups -> one record or a conflict."""
        idx = field_index(kind)
        key_idx = [idx[f] for f in KEYS[kind]]
        groups: dict[tuple, list[tuple[str, int, tuple]]] = {}
        unit_at = idx.get(UNIT_FIELDS.get(kind, ""))
        for r in rows:
            if r.rec is None:
                self._row_rejected(r.path, r.row, r.unit)
                continue
            key = tuple(r.rec[i] for i in key_idx)
            groups.setdefault(key, []).append((r.path, r.row, r.rec))
        out: list[Loaded] = []
        for places in groups.values():
            if len(places) == 1:
                path, row, rec = places[0]
                out.append((rec, path, row))
            elif all(p[2] == places[0][2] for p in places):
                path, row, rec = min(places, key=lambda p: (p[0], p[1]))
                out.append((rec, path, row))
            else:
                for path, row, rec in places:
                    self._row_rejected(path, row, None if unit_at is None else six_digit_code(rec[unit_at]))
        for col in ("amount", "approved_amount", "actual_spent"):
            if col in idx:
                i = idx[col]
                for rec, path, _ in out:
                    if rec[i] is not None:
                        self.file_sums[(path, col)] += rec[i]
        self.loaded_counts[kind] += len(out)
        return out

    def _path_id(self, path: str) -> int:
        pid = self._path_ids.get(path)
        if pid is None:
            pid = self._path_ids[path] = len(self._paths)
            self._paths.append(path)
        return pid

    def _row_rejected(self, path: str, row: int, unit: str | None) -> None:
        """A rejected row's unit: its own 单位代码 when it reads as 6 digits, else the folder's division."""
        unit = unit or folder_unit(path, self.divisions)
        self.findings.append(("ROW_REJECTED", "row", f"{path}|{row}", ZERO, "", None, unit))

    def _add(self, rule: str, stype: str, key: str, amount: Decimal, src: tuple[str, int] | None,
             unit: str | None) -> None:
        self.findings.append(
            (rule, stype, key, abs(amount), src[0] if src else "", src[1] if src else None, unit))

    # -- registers -------------------------------------------------------------------------------
    def set_projects(self, loaded: list[Loaded]) -> None:
        self.projects = {rec[0]: rec for rec, _, _ in loaded}

    def set_deaths(self, loaded: list[Loaded]) -> None:
        i_id, i_date = field_index("deaths")["id_number"], field_index("deaths")["death_date"]
        self.deaths = {rec[i_id]: rec[i_date] for rec, _, _ in loaded}

    def set_staff(self, loaded: list[Loaded]) -> None:
        i_id, i_unit = field_index("staff")["id_number"], field_index("staff")["unit_code"]
        for rec, _, _ in loaded:
            self.staff_units[rec[i_id]].add(rec[i_unit])

    # -- payments and roster, one project partition at a time --------------------------------------
    def payment_block(self, roster_rows: list[Row], payment_rows: list[Row]) -> None:
        """All roster rows and payment rows whose 项目编码 belong to one partition (a project, plus
        payments written under codes that exist nowhere else)."""
        roster = self.resolve("roster", roster_rows)
        payments = self.resolve("payments", payment_rows)
        as_of = self.as_of
        projects = self.projects
        by_key: dict[tuple[str, str], Loaded] = {(r[0][0], r[0][2]): r for r in roster}
        paid: set[tuple[str, str]] = set()
        per_person: dict[tuple[str, str], list[tuple[date, str]]] = defaultdict(list)
        for rec, path, row in payments:
            txn, _b, code, name, idn, acct, _bank, amount, pay_date, unit, _r = rec
            src = (path, row)
            person = (code, idn)
            paid.add(person)
            per_person[person].append((pay_date, txn))
            self.spent[code] += amount
            first = self.first_spend.get(code)
            if first is None or pay_date < first:
                self.first_spend[code] = pay_date
            proj = projects.get(code)
            if proj is None:
                self._add("PAY_NO_PROJECT", "payment", txn, amount, src, unit)
            else:
                std, deadline = proj[8], proj[9]
                if std is not None and amount > std:
                    self._add("PAY_OVER_STANDARD", "payment", txn, amount - std, src, unit)
                if deadline is not None and pay_date > deadline:
                    self._add("PAY_LATE", "payment", txn, amount, src, unit)
            entry = by_key.get(person)
            if entry is None:
                self._add("PAY_NOT_ON_ROSTER", "payment", txn, amount, src, unit)
            else:
                r = entry[0]
                if r[1] != name:
                    self._add("PAY_NAME_MISMATCH", "payment", txn, amount, src, unit)
                if r[4] is not None and r[4] != acct:
                    self._add("PAY_ACCOUNT_MISMATCH", "payment", txn, amount, src, unit)
                if r[6] != amount:
                    self._add("PAY_AMOUNT_MISMATCH", "payment", txn, amount - r[6], src, unit)
                if r[10] is not None and pay_date <= r[10]:
                    self._add("PAY_BEFORE_PUBLICITY", "payment", txn, amount, src, unit)
            if not id_is_valid(idn, pay_date):
                self._add("PAY_INVALID_ID", "payment", txn, amount, src, unit)
            died = self.deaths.get(idn)
            if died is not None and died < pay_date:
                self._add("PAY_DECEASED", "payment", txn, amount, src, unit)
            if unit in self.staff_units.get(idn, ()):
                self._add("PAY_STAFF_RELATED", "payment", txn, amount, src, unit)
            if acct in self.shared_accounts:
                self._add("PAY_SHARED_ACCOUNT", "payment", txn, amount, src, unit)
                continue
            # One compact ASCII string per account keeps 10 million payments within a few GB.
            payload = f"{idn}\t{txn}\t{amount}\t{self._path_id(path)}\t{row}\t{unit}"
            seen = self.accounts.get(acct)
            if seen is None:
                self.accounts[acct] = payload
                continue
            earlier = seen.split("\n")
            if any(p.split("\t", 1)[0] != idn for p in earlier):
                # Every payment into an account shared by two or more ID numbers is a finding.
                self.shared_accounts.add(acct)
                for p in [*earlier, payload]:
                    _i, p_txn, p_amount, p_path, p_row, p_unit = p.split("\t")
                    src_p = (self._paths[int(p_path)], int(p_row))
                    self._add("PAY_SHARED_ACCOUNT", "payment", p_txn, Decimal(p_amount), src_p, p_unit)
                del self.accounts[acct]
            else:
                self.accounts[acct] = seen + "\n" + payload
        # PAY_DUPLICATE: every payment after the first, by date then 交易流水号 as text.
        amounts = {rec[0]: (rec[7], path, row, rec[9]) for rec, path, row in payments}
        for events in per_person.values():
            if len(events) > 1:
                for _, txn in sorted(events)[1:]:
                    amount, path, row, unit = amounts[txn]
                    self._add("PAY_DUPLICATE", "payment", txn, amount, (path, row), unit)
        for rec, path, row in roster:
            code, idn = rec[0], rec[2]
            key = f"{code}|{idn}"
            proj = projects.get(code)
            deadline = proj[9] if proj is not None else None
            if deadline is not None and as_of > deadline and (code, idn) not in paid:
                self._add("ROSTER_UNPAID", "roster_entry", key, rec[6], (path, row), rec[7])
            days = (proj[10] if proj is not None else None) or DEFAULT_PUBLICITY_DAYS
            start, end = rec[9], rec[10]
            if start is None or end is None or (end - start).days + 1 < days:
                self._add("ROSTER_PUBLICITY_SHORT", "roster_entry", key, rec[6], (path, row), rec[7])

    # -- everything else ---------------------------------------------------------------------------
    def finish(
        self,
        allocations: list[Loaded],
        credits: list[Loaded],
        expenditures: list[Loaded],
        postings: list[Loaded],
        reports: list[Loaded],
        decisions: list[Loaded],
        files: list[FileInfo],
    ) -> list[Finding]:
        as_of = self.as_of
        # Funds: match credits to allocations.
        alloc_by: dict[tuple[str, str], list[Loaded]] = defaultdict(list)
        for a in allocations:
            alloc_by[(a[0][0], a[0][4])].append(a)
        matched: dict[tuple, list[tuple]] = defaultdict(list)
        received: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for rec, path, row in credits:
            txn, value_date, _payer, code, _name, amount, doc_no, memo, project = rec
            doc = doc_no or doc_from_memo(memo)
            cands = alloc_by.get((doc, code), []) if doc else []
            if project:
                cands = [a for a in cands if a[0][6] == project]
            if len(cands) != 1:
                self._add("TRANSFER_UNMATCHED", "transfer", txn, amount, (path, row), code)
                continue
            akey = (cands[0][0][0], cands[0][0][4], cands[0][0][6])
            matched[akey].append(rec)
            received[cands[0][0][6]] += amount
        for rec, path, row in allocations:
            doc, issued, _i, _y, code, _n, project, amount, days = rec
            key = f"{doc}|{code}|{project}"
            deadline = issued + timedelta(days=days if days is not None else DEFAULT_DEADLINE_DAYS)
            got = matched.get((doc, code, project), [])
            total = sum((c[5] for c in got), ZERO)
            if as_of > deadline and total < amount:
                self._add("ALLOC_SHORT", "allocation", key, amount - total, (path, row), code)
            if total > amount:
                self._add("ALLOC_OVER", "allocation", key, total - amount, (path, row), code)
            late = [c[5] for c in got if c[1] > deadline]
            if late:
                self._add("ALLOC_LATE", "allocation", key, sum(late, ZERO), (path, row), code)
        # Use of funds.
        decision_by_no = {d[0][0]: d[0] for d in decisions}
        for rec, path, row in expenditures:
            voucher, code, spend_date, category, amount, _payee, _memo, decision_no = rec
            src = (path, row)
            self.spent[code] += amount
            first = self.first_spend.get(code)
            if first is None or spend_date < first:
                self.first_spend[code] = spend_date
            proj = self.projects.get(code)
            if proj is None:
                self._add("EXP_NO_PROJECT", "expenditure", voucher, amount, src, None)
                continue
            allowed = {p.strip() for p in _CATEGORY_SPLIT.split(proj[12]) if p.strip()}
            if category not in allowed:
                self._add("EXP_CATEGORY_NOT_ALLOWED", "expenditure", voucher, amount, src, proj[3])
            if spend_date < proj[5] or spend_date > proj[6]:
                self._add("EXP_OUTSIDE_PERIOD", "expenditure", voucher, amount, src, proj[3])
            threshold = proj[13] if proj[13] is not None else DEFAULT_LARGE_AMOUNT
            if amount >= threshold:
                d = decision_by_no.get(decision_no) if decision_no else None
                if d is None or d[1] != proj[3] or d[2] > spend_date:
                    self._add("EXP_NO_DECISION", "expenditure", voucher, amount, src, proj[3])
        signboards: dict[str, list[date]] = defaultdict(list)
        for rec, _, _ in postings:
            if rec[1] == "项目挂牌":
                signboards[rec[0]].append(rec[2])
        report_by = {r[0][0]: r[0] for r in reports}
        for code in sorted(self.projects):
            proj = self.projects[code]
            spent = self.spent.get(code, ZERO)
            if spent > proj[7]:
                self._add("PROJ_OVER_BUDGET", "project", code, spent - proj[7], None, proj[3])
            first = self.first_spend.get(code)
            if spent > 0 and first is not None and not any(s <= first for s in signboards.get(code, ())):
                self._add("PROJ_NOT_POSTED", "project", code, spent, None, proj[3])
            report = report_by.get(code)
            if report is None:
                if as_of > proj[11]:
                    self._add("PROJ_REPORT_MISSING", "project", code, spent, None, proj[3])
            else:
                if report[2] > proj[11]:
                    self._add("PROJ_REPORT_LATE", "project", code, ZERO, None, proj[3])
                if report[3] != spent:
                    self._add("PROJ_REPORT_MISMATCH", "project", code, report[3] - spent, None, proj[3])
            got = received.get(code, ZERO)
            if as_of > proj[6] + timedelta(days=IDLE_DAYS) and got > spent:
                self._add("PROJ_FUNDS_IDLE", "project", code, got - spent, None, proj[3])
        # The files themselves.
        for info in files:
            if info.reject_reason is not None:
                self._add("FILE_REJECTED", "file", info.path, ZERO, None, folder_unit(info.path, self.divisions))
            elif info.total_row is not None:
                diff = sum(
                    (
                        abs(stated - self.file_sums.get((info.lineage, col), ZERO))
                        for col, stated in info.stated_totals.items()
                    ),
                    ZERO,
                )
                if diff:
                    self._add("FILE_TOTAL_MISMATCH", "file", info.lineage, diff, None,
                              folder_unit(info.lineage, self.divisions))
        return sorted(self.findings, key=lambda f: (f[0], f[1], f[2]))


def write_findings(path: Path, findings: list[Finding]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        for rule, stype, key, amount, src_file, src_row, unit in findings:
            w.writerow((rule, stype, key, f"{amount:.2f}", src_file, "" if src_row is None else src_row, unit or ""))
