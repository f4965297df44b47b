"""The SQL of the batches the GX suites validate, without GX (the benchmark's plain-DuckDB side runs
the very same queries, and must not pay GX's import to build them).

One batch per suite: every mart of the suite, one row per subject where one of the mart's rules fires,
its ``mart``, and per rule two columns: the label ``"<RULE_ID>"`` and the amount at risk in 分
``rule_<rule_id>_fen``, both NULL where the rule does not fire (see ``expectations.suites``); and one
row per mart holding its number of rows, ``fw_mart_rows`` (0 on the subjects' rows), every rule's
columns NULL. A subject where no rule fires has every label NULL: it adds nothing to a rule's count,
sample or amount, only to its mart's rows, which its mart's row gives whole. So the batch holds what
GX judges, counted exactly, without a row per passing subject: at 10M payments the payments mart's
10M labels were built and read to find 256,000 that fire (the payments and roster suites 1.65 s of
the checkpoint's 2.0 s; README, Measurements).

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


# The batch column with a mart's rows (on its one row apart; 0 on its subjects' rows).
MART_ROWS_COLUMN = "fw_mart_rows"


def fen_column(rule: Rule) -> str:
    """The batch column with the rule's amount at risk in 分 (integer, exact; summed by GX without
    the lossy Decimal-to-float conversion GX applies to DECIMAL sums)."""
    return f"{rule.column}_fen"


def batch_query(suite: str) -> str:
    """One query over all marts of a suite: each mart's subjects where one of its rules fires (rules of
    another mart are NULL on its rows), and its row with its number of rows."""
    rules = by_suite()[suite]
    marts = sorted({r.mart for r in rules})
    parts = []
    for mart in marts:
        cols = [f"'{mart}' as mart", "subject_key"]
        counted = [f"'{mart}' as mart", "cast(null as varchar) as subject_key"]
        for r in rules:
            if r.mart == mart:
                cols.append(f'{masked_label_sql(r)} as "{r.rule_id}"')
                cols.append(f"cast({r.column} * 100 as bigint) as {fen_column(r)}")
            else:
                cols.append(f'cast(null as varchar) as "{r.rule_id}"')
                cols.append(f"cast(null as bigint) as {fen_column(r)}")
            counted.append(f'cast(null as varchar) as "{r.rule_id}"')
            counted.append(f"cast(null as bigint) as {fen_column(r)}")
        fires = " or ".join(f"{r.column} is not null" for r in rules if r.mart == mart)
        parts.append("select " + ",\n       ".join([*cols, f"cast(0 as bigint) as {MART_ROWS_COLUMN}"])
                     + f"\nfrom marts.{mart}\nwhere {fires}")
        parts.append("select " + ",\n       ".join([*counted, f"count(*) as {MART_ROWS_COLUMN}"])
                     + f"\nfrom marts.{mart}")
    return "\nunion all\n".join(parts)
