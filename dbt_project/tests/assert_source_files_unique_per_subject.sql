-- source_files grain: one row per (subject_type, subject_key).
select
    subject_type,
    subject_key,
    count(*) as rows_per_subject
from {{ ref('source_files') }}
group by subject_type, subject_key
having count(*) > 1
