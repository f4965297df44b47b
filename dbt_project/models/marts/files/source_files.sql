{#-
  One row per current inbox file (subject_type file, key = path) and one per rejected data row
  of a current file (subject_type row, key = path|row). source_file is the path for both;
  source_row is the row number for row subjects and NULL for files.
  unit_code: a row's own 单位代码 (the kind's 发放/上报/收款/实施/决策/工作单位代码 cell) when it reads
  as 6 digits, else the division named by the deepest folder of the path (its name or its code,
  seed hunan_divisions_2020), else NULL.
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

divisions as (
    select * from {{ ref('hunan_divisions_2020') }}
),

paths as (
    select source_file from files
    union
    select source_file from rejected_rows
    union
    select source_file from total_mismatches
),

path_folders as (
    select
        split_paths.source_file,
        split_paths.folder_depth,
        trim(string_split(split_paths.source_file, '/')[split_paths.folder_depth]) as folder_name
    from (
        select
            source_file,
            unnest(range(1, len(string_split(source_file, '/')))) as folder_depth
        from paths
    ) as split_paths
),

folder_units as (
    select
        path_folders.source_file,
        arg_max(divisions.code, path_folders.folder_depth) as unit_code
    from path_folders
    inner join divisions
        on path_folders.folder_name in (divisions.name, divisions.code)
    group by path_folders.source_file
),

unit_headers as (
    select unnest([
        '发放单位代码', '上报单位代码', '收款单位代码', '实施单位代码', '决策单位代码', '工作单位代码'
    ]) as header_text
),

row_unit_cells as (
    select
        row_cells.source_file,
        row_cells.source_row,
        regexp_extract(
            translate(trim(row_cells.cell_value), '０１２３４５６７８９', '0123456789'), '^([0-9]{6})(\.0+)?$', 1
        ) as unit_code
    from (
        select
            source_file,
            source_row,
            unnest(map_keys(json_transform(raw_values, '"MAP(VARCHAR, VARCHAR)"'))) as cell_header,
            unnest(map_values(json_transform(raw_values, '"MAP(VARCHAR, VARCHAR)"'))) as cell_value
        from rejected_rows
        where json_valid(raw_values) and json_type(raw_values) = 'OBJECT'
    ) as row_cells
    inner join unit_headers
        on regexp_replace(row_cells.cell_header, '\s', '', 'g') = unit_headers.header_text
),

row_units as (
    select
        source_file,
        source_row,
        min(unit_code) as unit_code
    from row_unit_cells
    where unit_code != ''
    group by source_file, source_row
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
        folder_units.unit_code,
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
    left join folder_units
        on coalesce(current_files.source_file, mismatches_per_file.source_file) = folder_units.source_file
),

row_subjects as (
    select
        'row' as subject_type,
        rejected_rows.source_file || '|' || cast(rejected_rows.source_row as varchar) as subject_key,
        rejected_rows.source_file || '|' || cast(rejected_rows.source_row as varchar) as subject_label,
        cast(null as varchar) as project_code,
        coalesce(row_units.unit_code, folder_units.unit_code) as unit_code,
        rejected_rows.kind,
        cast(null as varchar) as status,
        rejected_rows.reason,
        cast(null as integer) as rows_loaded,
        cast(null as integer) as rows_rejected,
        0 as mismatch_count,
        cast(null as varchar) as mismatch_text,
        cast(null as decimal(18, 2)) as rule_file_rejected,
        cast(null as decimal(18, 2)) as rule_file_total_mismatch,
        {{ money('0') }} as rule_row_rejected,
        rejected_rows.source_file,
        rejected_rows.source_row,
        rejected_rows.file_sha256,
        rejected_rows.load_run_id
    from rejected_rows
    left join row_units
        on rejected_rows.source_file = row_units.source_file and rejected_rows.source_row = row_units.source_row
    left join folder_units
        on rejected_rows.source_file = folder_units.source_file
    window
        latest_reason as (
            partition by rejected_rows.source_file, rejected_rows.source_row
            order by rejected_rows.loaded_at desc, rejected_rows.reason asc
        )
    qualify row_number() over latest_reason = 1
),

unioned as (
    select * from file_subjects
    union all
    select * from row_subjects
)

select * from unioned
