"""The SQL of the batches the GX suites validate, without GX (the benchmark's plain-DuckDB side runs
the very same queries, and must not pay GX's import to build them).

One batch per suite: every mart of the suite, one row per subject, its ``mart`` (GX counts each mart's
rows apart), and per rule two columns: the label ``"<RULE_ID>"`` and the amount at risk in 分
``rule_<rule_id>_fen``, both NULL where the rule does not fire (see ``expectations.suites``).

The label is the mart's ``subject_label`` (the subject key with personal data masked by dbt's
``mask_id``: no masking is written here), the amount, and the source file and row of the subject's
defining row where it has one.
"""

from __future__ import annotations

from fundwatch.catalog import Rule, by_suite

# Subjects whose key already is the file (path, or path|row): no source appended to their label.
_KEY_IS_SOURCE = ("file", "row")


def suite_name(suite: str) -> str:
    return f"fundwatch_{suite}"


def masked_label_sql(rule: Rule) -> str:
    """SQL for the masked subject label of one rule, NULL where the rule does not fire:
    ``<subject_label>：¥<amount>（<source_file> 第<source_row>行）``."""
    col = rule.column
    row = "coalesce(' 第' || cast(source_row as varchar) || '行', '')"
    source = "" if rule.subject_type in _KEY_IS_SOURCE else f" || coalesce('（' || source_file || {row} || '）', '')"
    return f"case when {col} is not null then subject_label || '：¥' || cast({col} as varchar){source} end"


def fen_column(rule: Rule) -> str:
    """The batch column with the rule's amount at risk in 分 (integer, exact; summed by GX without
    the lossy Decimal-to-float conversion GX applies to DECIMAL sums)."""
    return f"{rule.column}_fen"


def batch_query(suite: str) -> str:
    """One query over all marts of a suite; rules of another mart are NULL on its rows."""
    rules = by_suite()[suite]
    marts = sorted({r.mart for r in rules})
    parts = []
    for mart in marts:
        cols = [f"'{mart}' as mart", "subject_key"]
        for r in rules:
            if r.mart == mart:
                cols.append(f'{masked_label_sql(r)} as "{r.rule_id}"')
                cols.append(f"cast({r.column} * 100 as bigint) as {fen_column(r)}")
            else:
                cols.append(f'cast(null as varchar) as "{r.rule_id}"')
                cols.append(f"cast(null as bigint) as {fen_column(r)}")
        parts.append("select " + ",\n       ".join(cols) + f"\nfrom marts.{mart}")
    return "\nunion all\n".join(parts)
