with

source as (
    select * from {{ source('raw', 'allocations') }}
),

renamed as (
    select
        {{ normalise_doc_no('doc_no') }} as doc_no,
        issue_date,
        trim(issuer) as issuer,
        fiscal_year,
        recipient_code,
        trim(recipient_name) as recipient_name,
        trim(project_code) as project_code,
        {{ money('amount') }} as amount,
        deadline_days,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
),

keyed as (
    select
        doc_no || '|' || recipient_code || '|' || project_code as allocation_key,
        *
    from renamed
)

select * from keyed
