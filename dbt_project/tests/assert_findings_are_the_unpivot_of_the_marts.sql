-- fct_findings is exactly the unpivot of the non-NULL rule_* columns (count and amount per rule).
{%- set marts = ['allocations', 'transfers', 'payments', 'roster_entries', 'expenditures', 'projects', 'source_files'] %}
with

outcomes as (
    {%- for mart in marts %}
    select
        upper(substr(rule_column, 6)) as rule_id,
        amount_at_risk
    from (
        unpivot {{ ref(mart) }}
        on columns('^rule_')
        into name rule_column value amount_at_risk
    )
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
),

expected as (
    select
        rule_id,
        count(*) as findings,
        sum(amount_at_risk) as amount
    from outcomes
    group by rule_id
),

actual as (
    select
        rule_id,
        count(*) as findings,
        sum(amount_at_risk) as amount
    from {{ ref('fct_findings') }}
    group by rule_id
)

select
    coalesce(expected.rule_id, actual.rule_id) as rule_id,
    expected.findings as expected_findings,
    actual.findings as actual_findings
from expected
full outer join actual on expected.rule_id = actual.rule_id
where expected.findings is distinct from actual.findings or expected.amount is distinct from actual.amount
