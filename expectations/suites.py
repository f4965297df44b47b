"""The GX suites, built in code from the rule catalogue (the one source of truth; no committed gx JSON).

Suites are grouped as the supervision office thinks (``catalog.SUITES``). Each suite validates one
batch: a query over the marts of that suite (``marts.allocations`` + ``marts.transfers`` for the
funds suite, ...). For every rule the batch carries two columns:

* ``"<RULE_ID>"`` — a masked label of the subject (ID numbers shown as ``430102********123X``) and its
  amount at risk where the rule fires, NULL where it does not. The expectation
  ``ExpectColumnValuesToBeNull`` on it gives the number of failing subjects and a bounded, masked
  sample (``partial_unexpected_list``) that Data Docs show;
* ``rule_<rule_id>`` — the amount at risk (元); ``ExpectColumnSumToBeBetween(0, 0)`` shows the total.

GX never builds Python objects for an unbounded number of failing rows: the result format is SUMMARY
with a fixed sample size (see ../shared/stack-notes.md for why COMPLETE costs minutes).
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.catalog import SUITES, Rule, by_suite

SAMPLE_SIZE = 20
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}

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
                cols.append(f"{r.column}")
            else:
                cols.append(f'cast(null as varchar) as "{r.rule_id}"')
                cols.append(f"cast(null as decimal(18, 2)) as {r.column}")
        parts.append("select " + ",\n       ".join(cols) + f"\nfrom marts.{mart}")
    return "\nunion all\n".join(parts)


def build_suite(suite: str) -> gx.ExpectationSuite:
    """The expectation suite of one office group, two expectations per rule.

    Expectations are passed to the constructor: ``add_expectation`` on a suite the context already
    knows writes the store once per expectation (seconds per run for nothing).
    """
    expectations: list = []
    for r in by_suite()[suite]:
        meta = {
            "rule_id": r.rule_id,
            "rule_name": r.rule_name,
            "severity": r.severity,
            "subject_type": r.subject_type,
            "requirement": r.requirement,
            "mart": f"marts.{r.mart}",
        }
        expectations.append(
            gxe.ExpectColumnValuesToBeNull(
                column=r.rule_id,
                description=(
                    f"【{r.rule_id}】{r.rule_name}（{'错误' if r.severity == 'error' else '警告'}）"
                    f"：{r.requirement} 不应有违规对象（样本已脱敏）。"
                ),
                meta={**meta, "measure": "subjects"},
            )
        )
        expectations.append(
            gxe.ExpectColumnSumToBeBetween(
                column=r.column,
                min_value=0,
                max_value=0,
                description=f"【{r.rule_id}】{r.rule_name}：涉及风险金额合计（元）应为 0。",
                meta={**meta, "measure": "amount_at_risk"},
            )
        )
    return gx.ExpectationSuite(name=suite_name(suite), expectations=expectations, meta={"title_zh": SUITES[suite]})
