with

source as (
    select * from {{ source('raw', 'final_reports') }}
),

renamed as (
    select
        trim(project_code) as project_code,
        trim(report_no) as report_no,
        submit_date,
        {{ money('actual_spent') }} as actual_spent,
        beneficiaries,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
