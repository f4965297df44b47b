{#-
  One row per current inbox file (subject_type file, key = path) and one per rejected data row
  of a current file (subject_type row, key = path|row). source_file is the path for both;
  source_row is the row number for row subjects and NULL for files.
-#}
with

files as (
    select * from {{ ref('stg_raw__files') }}
),

rejected_rows as (
    select * from {{ ref('stg_raw__rejected_rows') }}
),

total_mismatches as (
    select * from {{ ref('stg_raw__total_mismatches') }}
),

current_files as (
    select *
    from files
    where is_current
    qualify row_number() over (partition by source_file order by loaded_at desc, file_sha256 asc) = 1
),

mismatches_per_file as (
    select
        source_file,
        count(*) as mismatch_count,
        {{ money('sum(difference)') }} as mismatch_amount,
        string_agg(
            '第' || cast(source_row as varchar) || '行“' || column_name || '”合计'
            || cast(stated_total as varchar) || '元、明细之和' || cast(computed_total as varchar) || '元',
            '；' order by source_row, column_name
        ) as mismatch_text
    from total_mismatches
    group by source_file
),

file_subjects as (
    select
        'file' as subject_type,
        coalesce(current_files.source_file, mismatches_per_file.source_file) as subject_key,
        coalesce(current_files.source_file, mismatches_per_file.source_file) as subject_label,
        cast(null as varchar) as project_code,
        cast(null as varchar) as unit_code,
        current_files.kind,
        current_files.status,
        current_files.reason,
        current_files.rows_loaded,
        current_files.rows_rejected,
        coalesce(mismatches_per_file.mismatch_count, 0) as mismatch_count,
        mismatches_per_file.mismatch_text,
        case when current_files.status = 'rejected' then {{ money('0') }} end as rule_file_rejected,
        mismatches_per_file.mismatch_amount as rule_file_total_mismatch,
        cast(null as decimal(18, 2)) as rule_row_rejected,
        coalesce(current_files.source_file, mismatches_per_file.source_file) as source_file,
        cast(null as integer) as source_row,
        coalesce(current_files.file_sha256, '') as file_sha256,
        current_files.load_run_id
    from current_files
    full outer join mismatches_per_file
        on current_files.source_file = mismatches_per_file.source_file
),

row_subjects as (
    select
        'row' as subject_type,
        source_file || '|' || cast(source_row as varchar) as subject_key,
        source_file || '|' || cast(source_row as varchar) as subject_label,
        cast(null as varchar) as project_code,
        cast(null as varchar) as unit_code,
        kind,
        cast(null as varchar) as status,
        reason,
        cast(null as integer) as rows_loaded,
        cast(null as integer) as rows_rejected,
        0 as mismatch_count,
        cast(null as varchar) as mismatch_text,
        cast(null as decimal(18, 2)) as rule_file_rejected,
        cast(null as decimal(18, 2)) as rule_file_total_mismatch,
        {{ money('0') }} as rule_row_rejected,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from rejected_rows
    qualify row_number() over (partition by source_file, source_row order by loaded_at desc, reason asc) = 1
),

unioned as (
    select * from file_subjects
    union all
    select * from row_subjects
)

select * from unioned
