"""Compare a findings export with an expected-findings file: recall, precision, amounts, lineage.

The expected file has the columns ``rule_id, subject_type, subject_key, amount_at_risk, source_file,
source_row`` and, optionally, ``unit_code`` (the generator writes all seven; other people's tools can
too). Where the expected file has ``unit_code``, every finding's unit is compared as well. Run it as
``fundwatch compare --expected expected_findings.csv --actual out/findings.csv``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from fundwatch.export import unguard
from fundwatch.masking import mask_subject_key

Key = tuple[str, str, str]


def read_findings(path: Path, duplicates: list[Key] | None = None) -> dict[Key, dict]:
    """Findings by (rule_id, subject_type, subject_key); ``unit_code`` is None when the file has no such
    column; a key listed twice goes to ``duplicates``."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[Key, dict] = {}
    for r in rows:
        key = (r["rule_id"], r["subject_type"], unguard(r["subject_key"]))
        if key in out and duplicates is not None:
            duplicates.append(key)
        out[key] = {
            "amount": Decimal(r.get("amount_at_risk") or "0").quantize(Decimal("0.01")),
            "source_file": unguard(r.get("source_file")),
            "source_row": (r.get("source_row") or "").strip(),
            "unit_code": None if "unit_code" not in r else unguard(r["unit_code"]).strip(),
        }
    return out


@dataclass
class Comparison:
    per_rule: dict[str, dict[str, float]] = field(default_factory=dict)
    missing: list[Key] = field(default_factory=list)
    unexpected: list[Key] = field(default_factory=list)
    amount_diffs: list[tuple[Key, Decimal, Decimal]] = field(default_factory=list)
    lineage_diffs: list[tuple[Key, str, str]] = field(default_factory=list)
    unit_diffs: list[tuple[Key, str, str]] = field(default_factory=list)
    duplicates: list[Key] = field(default_factory=list)  # a finding the export lists more than once

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.amount_diffs or self.lineage_diffs or self.unit_diffs
                    or self.duplicates)

    def report(self, limit: int = 15) -> str:
        lines = [f"{'rule_id':28} {'expected':>8} {'found':>8} {'recall':>7} {'precision':>9}"]
        for rule, m in sorted(self.per_rule.items()):
            lines.append(
                f"{rule:28} {int(m['expected']):8d} {int(m['found']):8d} {m['recall']:7.3f} {m['precision']:9.3f}"
            )
        for title, items in (("missing", self.missing), ("unexpected", self.unexpected),
                             ("amount differs", self.amount_diffs), ("lineage differs", self.lineage_diffs),
                             ("unit differs", self.unit_diffs), ("listed twice", self.duplicates)):
            if items:
                lines.append(f"{title}: {len(items)}")
                lines += [f"  {_masked(item)}" for item in items[:limit]]
        lines.append("EXACT MATCH" if self.exact else "DIFFERENCES FOUND")
        return "\n".join(lines)


def _masked(item: tuple) -> str:
    """A difference line with the ID number of a roster-entry key masked (test output is shared)."""
    key, rest = (item, ()) if isinstance(item[0], str) else (item[0], item[1:])
    rule, subject_type, subject_key = key
    return str(((rule, subject_type, mask_subject_key(subject_type, subject_key)), *rest))


def compare(expected_csv: Path, actual_csv: Path) -> Comparison:
    cmp = Comparison()
    exp, act = read_findings(expected_csv), read_findings(actual_csv, cmp.duplicates)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"expected": 0, "found": 0, "hit": 0})
    for k in exp:
        counts[k[0]]["expected"] += 1
    for k in act:
        counts[k[0]]["found"] += 1
    for k in sorted(set(exp) | set(act)):
        if k not in act:
            cmp.missing.append(k)
            continue
        if k not in exp:
            cmp.unexpected.append(k)
            continue
        counts[k[0]]["hit"] += 1
        e, a = exp[k], act[k]
        if e["amount"] != a["amount"]:
            cmp.amount_diffs.append((k, e["amount"], a["amount"]))
        if (e["source_file"], e["source_row"]) != (a["source_file"], a["source_row"]):
            cmp.lineage_diffs.append(
                (k, f"{e['source_file']}|{e['source_row']}", f"{a['source_file']}|{a['source_row']}")
            )
        if e["unit_code"] is not None and e["unit_code"] != a["unit_code"]:
            cmp.unit_diffs.append((k, e["unit_code"], a["unit_code"] or ""))
    for rule, c in counts.items():
        cmp.per_rule[rule] = {
            "expected": c["expected"],
            "found": c["found"],
            "recall": c["hit"] / c["expected"] if c["expected"] else 1.0,
            "precision": c["hit"] / c["found"] if c["found"] else 1.0,
        }
    return cmp
