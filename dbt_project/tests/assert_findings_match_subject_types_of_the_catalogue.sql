-- Each finding's subject_type is the one its rule is catalogued with.
select
    findings.rule_id,
    findings.subject_type,
    rule_catalog.subject_type as catalogued_subject_type
from {{ ref('fct_findings') }} as findings
inner join {{ ref('rule_catalog') }} as rule_catalog
    on findings.rule_id = rule_catalog.rule_id
where findings.subject_type != rule_catalog.subject_type
