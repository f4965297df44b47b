with

source as (
    select * from {{ source('raw', 'decisions') }}
),

renamed as (
    select
        trim(decision_no) as decision_no,
        unit_code,
        meeting_date,
        trim(meeting_type) as meeting_type,
        matter,
        {{ money('amount') }} as amount,
        nullif(trim(project_code), '') as project_code,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
