with

source as (
    select * from {{ source('raw', 'postings') }}
),

renamed as (
    select
        trim(project_code) as project_code,
        trim(posting_type) as posting_type,
        start_date,
        end_date,
        trim(location) as posting_location,
        trim(evidence_no) as evidence_no,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
