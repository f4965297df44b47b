"""The GX suites, built in code from the rule catalogue (the one source of truth; no committed gx JSON).

Suites are grouped as the supervision office thinks (``catalog.SUITES``). Each suite validates one
batch: a query over the marts of that suite (``marts.allocations`` + ``marts.transfers`` for the
funds suite, ...), with a ``mart`` column naming the mart of each row. For every rule the batch
carries two columns:

* ``"<RULE_ID>"`` — a masked label of the subject (ID numbers shown as ``430102********123X``), its
  amount at risk and its source file and row where the rule fires, NULL where it does not;
* ``rule_<rule_id>_fen`` — the amount at risk in 分 (an exact integer), NULL where the rule does not fire.

Every rule is **one** expectation, :class:`ExpectRuleNotToFire`: GX's ``ExpectColumnValuesToBeNull``
on the label, with its rendering and its result shape (``unexpected_count``, ``partial_unexpected_list``),
plus ``amount_at_risk``. Its numbers come from aggregate metrics over the suite's batch — the count
of labels, the 20 smallest labels (``ColumnFirstNonNull``), the sum of the amount in 分 and the rows of
the rule's own mart (``element_count``: the rows of ``marts.allocations`` for ALLOC_SHORT, not
those of the whole funds batch) — which GX bundles, for all rules of a suite, into **one** query.
GX's own map-metric route would scan the batch again for the counts and once more per rule for the
sample (47 queries instead of 15 at 1M payments, 0.40 s instead of 0.31 s; README, "Speed").

GX never builds Python objects for an unbounded number of failing rows: the result format is BASIC
with a fixed sample size (see ../shared/stack-notes.md for why COMPLETE costs minutes).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
    column_aggregate_partial,
)
from great_expectations.expectations.registry import get_metric_kwargs
from great_expectations.render import LegacyDiagnosticRendererType
from great_expectations.render.renderer.renderer import renderer
from great_expectations.validator.metric_configuration import MetricConfiguration

from expectations.batches import MART_ROWS_COLUMN, fen_column, suite_name
from fundwatch.catalog import SUITES, by_suite

SAMPLE_SIZE = 20
# BASIC: count and the first SAMPLE_SIZE failing labels; SUMMARY would add a GROUP BY over every failing
# row (partial_unexpected_counts) that nothing here shows.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": SAMPLE_SIZE}


SAMPLE_METRIC = "column.fundwatch_first_non_null"
COUNT_METRIC = "column.fundwatch_non_null_count"
MART_ROWS_METRIC = "column.fundwatch_rows_of_mart"
SUM_METRIC = "column.fundwatch_sum"
_ROW_COUNT = "table.row_count"
_UNEXPECTED_COUNT = "column_values.null.unexpected_count"


class _BatchAggregate(ColumnAggregateMetricProvider):
    """An aggregate of this project's batches, without GX's count of the batch's rows beside it: GX
    makes every column aggregate depend on ``table.row_count``, which is a query of its own (``count(*)``
    over the batch: its filter evaluated again, 0.62 s of the payments suite at 10M payments). Nothing
    here reads it: a rule's row total is its mart's (``ColumnRowsOfMart``)."""

    @classmethod
    def _get_evaluation_dependencies(cls, metric, configuration=None, execution_engine=None,
                                     runtime_configuration=None):
        deps = super()._get_evaluation_dependencies(
            metric=metric, configuration=configuration, execution_engine=execution_engine,
            runtime_configuration=runtime_configuration,
        )
        deps.pop(_ROW_COUNT, None)
        return deps


class ColumnSumOfBatch(_BatchAggregate):
    """The sum of a column (a rule's amount in 分), as GX's ``column.sum`` computes it."""

    metric_name = SUM_METRIC

    @column_aggregate_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sa.func.sum(column)


class ColumnNonNullCount(_BatchAggregate):
    """The number of non-NULL values of a column, as an aggregate: bundled into the same query as the
    sums and samples (GX's own ``unexpected_count`` is a map metric, resolved in a second scan)."""

    metric_name = COUNT_METRIC

    @column_aggregate_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sa.func.count(column)


class ColumnFirstNonNull(_BatchAggregate):
    """The SAMPLE_SIZE smallest non-NULL values of a column, in order, as an aggregate: GX bundles it into the
    one query per suite that already counts and sums, instead of one ``LIMIT`` scan per rule.

    DuckDB's ``min(x, n)`` keeps n values while it scans: the same sample every run (the first values in
    scan order differ from run to run on a parallel scan) and nothing held per failing row (a list of every
    failing label, sliced afterwards, cost 0.28 s of the payments suite's 0.53 s at 1M payments)."""

    metric_name = SAMPLE_METRIC

    @column_aggregate_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sa.func.min(column, sa.literal_column(str(SAMPLE_SIZE)))


class ColumnRowsOfMart(_BatchAggregate):
    """The rows of one mart of a suite's batch (the domain column is the batch's ``mart``): the sum of
    its ``fw_mart_rows`` (``expectations.batches``: its rows counted on one row of the batch), as an
    aggregate bundled into the suite's one query: a rule's row total is its own mart's."""

    metric_name = MART_ROWS_METRIC
    value_keys = ("mart",)

    @column_aggregate_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, mart, **kwargs):
        return sa.func.coalesce(sa.func.sum(sa.column(MART_ROWS_COLUMN)).filter(column == mart), 0)


class ExpectRuleNotToFire(gxe.ExpectColumnValuesToBeNull):
    """A rule of rules.md: no subject may fail it (its label column is NULL on every row).

    The result is GX's count of failing subjects and masked sample, plus ``amount_at_risk``: the sum
    of ``amount_column`` (in 分), as 元 with two decimals in a string, computed by GX in the same
    aggregate query.
    """

    amount_column: str
    mart: str

    def get_validation_dependencies(self, execution_engine=None, runtime_configuration=None, **kwargs):
        # The result format from GX's Expectation, and none of the metrics its column map expectations
        # ask for: count and sample come from aggregates GX bundles with the sums into one query per suite,
        # not from a second scan (the map metric's count) and a LIMIT query per rule (its sample); nor the
        # batch's own rows (a count over the batch: its filter again), as the rule's row total is its
        # mart's rows, from the same query (``_validate``). Asking for those only to take them out cost
        # more than the queries at 1M payments: each reads ``self.configuration``, a fresh copy of the
        # expectation, twice per rule and run.
        deps = Expectation.get_validation_dependencies(self, execution_engine, runtime_configuration)
        table = get_metric_kwargs(metric_name=_ROW_COUNT, configuration=self.configuration,
                                  runtime_configuration=runtime_configuration)
        label = {**table["metric_domain_kwargs"], "column": self.column}
        for name in (COUNT_METRIC, SAMPLE_METRIC):
            deps.set_metric_configuration(name, MetricConfiguration(name, metric_domain_kwargs=label))
        deps.set_metric_configuration(
            MART_ROWS_METRIC,
            MetricConfiguration(
                MART_ROWS_METRIC,
                metric_domain_kwargs={**table["metric_domain_kwargs"], "column": "mart"},
                metric_value_kwargs={"mart": self.mart},
            ),
        )
        deps.set_metric_configuration(
            SUM_METRIC,
            MetricConfiguration(
                SUM_METRIC, metric_domain_kwargs={**table["metric_domain_kwargs"], "column": self.amount_column}
            ),
        )
        return deps

    def _validate(self, metrics: dict, runtime_configuration=None, execution_engine=None) -> dict[str, Any]:
        metrics = {
            **metrics,
            _UNEXPECTED_COUNT: int(metrics.get(COUNT_METRIC) or 0),
            _ROW_COUNT: int(metrics.get(MART_ROWS_METRIC) or 0),  # the rule's mart, not the whole batch
        }
        out = super()._validate(metrics, runtime_configuration, execution_engine)
        fen = metrics.get(SUM_METRIC)
        out["result"]["partial_unexpected_list"] = [str(v) for v in (metrics.get(SAMPLE_METRIC) or [])]
        out["result"]["amount_at_risk"] = str((Decimal(int(fen or 0)) / 100).quantize(Decimal("0.01")))
        return out

    @classmethod
    @renderer(renderer_type=LegacyDiagnosticRendererType.OBSERVED_VALUE)
    def _diagnostic_observed_value_renderer(cls, configuration=None, result=None, runtime_configuration=None,
                                            **kwargs) -> str:
        res = (result.result if result else None) or {}
        if "unexpected_count" not in res:
            return "--"
        amount = Decimal(res.get("amount_at_risk") or "0.00")
        return f"{res['unexpected_count']:,} 个违规对象，风险金额 ¥{amount:,.2f}"


def build_suite(suite: str) -> gx.ExpectationSuite:
    """The expectation suite of one office group, one expectation per rule.

    Expectations are passed to the constructor: ``add_expectation`` on a suite the context already
    knows writes the store once per expectation (seconds per run for nothing).
    """
    expectations: list = []
    for r in by_suite()[suite]:
        expectations.append(
            ExpectRuleNotToFire(
                column=r.rule_id,
                amount_column=fen_column(r),
                mart=r.mart,
                description=(
                    f"【{r.rule_id}】{r.rule_name}（{'错误' if r.severity == 'error' else '警告'}）"
                    f"：{r.requirement} 不应有违规对象（样本已脱敏，含风险金额）。"
                ),
                # Short: GX copies an expectation's meta many times per run. Name and requirement
                # are in the description; the catalogue has the rest.
                meta={"rule_id": r.rule_id, "mart": f"marts.{r.mart}"},
            )
        )
    return gx.ExpectationSuite(name=suite_name(suite), expectations=expectations, meta={"title_zh": SUITES[suite]})
