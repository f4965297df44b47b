"""The SQL of the batches the GX suites validate, without GX (the benchmark's plain-DuckDB side runs
the very same queries, and must not pay GX's import to build them).

One batch per suite: every mart of the suite, one row per subject, and per rule two columns: the masked
label ``"<RULE_ID>"`` and the amount at risk in 分 ``rule_<rule_id>_fen``, both NULL where the rule
does not fire (see ``expectations.suites``).
"""

from __future__ import annotations

from expectations.catalog import Rule, by_suite

# The ID number that ends a roster-entry key (项目编码|公民身份号码): keep area code and last four.
# Other keys (流水号, 凭证号, 文号, paths) hold no personal data and stay readable for tracing.
_ID_PATTERN = r"\|(\d{6})\d{8}(\d{3}[0-9Xx])$"


def suite_name(suite: str) -> str:
    return f"fundwatch_{suite}"


def masked_label_sql(rule: Rule) -> str:
    """SQL for the masked subject label of one rule, NULL where the rule does not fire."""
    col = rule.column
    return (
        f"case when {col} is not null then "
        f"regexp_replace(subject_key, '{_ID_PATTERN}', '|\\1********\\2') "
        f"|| '：¥' || cast({col} as varchar) end"
    )


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
