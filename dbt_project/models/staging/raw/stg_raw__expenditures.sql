with

source as (
    select * from {{ source('raw', 'expenditures') }}
),

renamed as (
    select
        trim(voucher_no) as voucher_no,
        trim(project_code) as project_code,
        spend_date,
        trim(category) as category,
        {{ money('amount') }} as amount,
        trim(payee) as payee,
        memo,
        nullif(trim(decision_no), '') as decision_no,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
