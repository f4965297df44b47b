{#- Built alone (meta fw_exclusive, fundwatch/dbt_cli.py): never beside the other models that read every
    payment or roster entry; side by side they share DuckDB's memory and the two cores. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ fw_rows_pre(source('raw', 'payments'), ['int_payments_matched', 'int_roster_entries_paid', 'fct_finding_evidence'], 'payments', ['project_code', 'id_number', 'account_no', 'txn_ref']) }}",
    post_hook="{{ fw_rows_post(['int_payments_matched', 'int_roster_entries_paid', 'fct_finding_evidence'], 'payments', ['project_code', 'id_number', 'account_no', 'txn_ref']) }}",
    meta={'fw_exclusive': true}
) }}
with

source as (
    select * from {{ source('raw', 'payments') }}
    {{ fw_rows_new() }}
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
),

keyed as (
    select
        *,
        {{ person_hash('project_code', 'id_number') }} as person_hash
    from renamed
)

select * from keyed
