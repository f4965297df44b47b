with

source as (
    select * from {{ source('raw', 'projects') }}
),

renamed as (
    select
        trim(project_code) as project_code,
        trim(project_name) as project_name,
        trim(project_type) as project_type,
        unit_code,
        trim(unit_name) as unit_name,
        start_date,
        end_date,
        {{ money('budget') }} as budget,
        {{ money('standard_amount') }} as standard_amount,
        pay_deadline,
        publicity_days,
        report_deadline,
        allowed_categories as allowed_categories_text,
        string_split(
            trim(regexp_replace(coalesce(allowed_categories, ''), '\s*[、,，;；]\s*', '、', 'g')), '、'
        ) as allowed_categories,
        {{ money('large_amount_threshold') }} as large_amount_threshold,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
