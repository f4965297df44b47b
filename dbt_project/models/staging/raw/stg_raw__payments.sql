with

source as (
    select * from {{ source('raw', 'payments') }}
),

renamed as (
    select
        trim(txn_ref) as txn_ref,
        trim(batch) as batch,
        trim(project_code) as project_code,
        {{ normalise_name('name') }} as name,
        {{ normalise_id('id_number') }} as id_number,
        {{ normalise_account('account_no') }} as account_no,
        trim(bank_name) as bank_name,
        {{ money('amount') }} as amount,
        pay_date,
        unit_code,
        remark,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
