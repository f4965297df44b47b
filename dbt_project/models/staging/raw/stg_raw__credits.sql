with

source as (
    select * from {{ source('raw', 'credits') }}
),

renamed as (
    select
        trim(txn_ref) as txn_ref,
        value_date,
        trim(payer) as payer,
        recipient_code,
        trim(recipient_name) as recipient_name,
        {{ money('amount') }} as amount,
        {{ normalise_doc_no('doc_no') }} as doc_no,
        memo,
        nullif(trim(project_code), '') as project_code,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
