"""The rule catalogue: id, Chinese name, severity, subject, suite, mart and requirement of every rule.

The one place for rule metadata is the dbt seed ``dbt_project/seeds/rule_catalog.csv``: dbt joins it
into ``marts.fct_findings``, and the GX suites (``expectations``), the benchmark and the review page
read it through here. It lives in ``fundwatch`` (stdlib only) so that every package can import it
without reaching into another (ARCHITECTURE.md, "Package imports").
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from fundwatch.paths import RULE_CATALOG_CSV

SUITES: dict[str, str] = {
    "funds": "资金拨付（funds reaching the associations）",
    "payments": "个人发放（payments to individuals）",
    "roster": "上报名单（the roster）",
    "use_of_funds": "资金使用（use of funds against the project document）",
    "files": "报送文件（the files themselves）",
}


@dataclass(frozen=True)
class Rule:
    rule_id: str
    rule_name: str
    severity: str
    subject_type: str
    suite: str
    mart: str
    requirement: str

    @property
    def column(self) -> str:
        """The mart column holding this rule's amount at risk (NULL where it does not fire)."""
        return f"rule_{self.rule_id.lower()}"


@cache
def rules() -> tuple[Rule, ...]:
    """All rules, in catalogue order."""
    with RULE_CATALOG_CSV.open(encoding="utf-8", newline="") as fh:
        return tuple(Rule(**row) for row in csv.DictReader(fh))


def by_id() -> dict[str, Rule]:
    return {r.rule_id: r for r in rules()}


def by_suite() -> dict[str, list[Rule]]:
    out: dict[str, list[Rule]] = {s: [] for s in SUITES}
    for r in rules():
        out[r.suite].append(r)
    return out
