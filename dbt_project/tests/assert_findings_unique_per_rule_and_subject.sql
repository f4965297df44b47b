-- fct_findings grain: one row per (rule_id, subject_type, subject_key).
select
    rule_id,
    subject_type,
    subject_key,
    count(*) as rows_per_finding
from {{ ref('fct_findings') }}
group by rule_id, subject_type, subject_key
having count(*) > 1
