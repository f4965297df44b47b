-- Amounts at risk are absolute values (rules.md "Differences ... are absolute values").
select
    rule_id,
    subject_key,
    amount_at_risk
from {{ ref('fct_findings') }}
where amount_at_risk < 0
