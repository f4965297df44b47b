{#- Built alone (meta fw_exclusive, fundwatch/dbt_cli.py): never beside the other models that read every
    payment or roster entry; side by side they share DuckDB's memory and the two cores. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ fw_rows_pre(source('raw', 'roster'), ['int_payments_matched', 'int_roster_entries_paid', 'fct_finding_evidence'], 'roster', ['project_code', 'id_number']) }}",
    post_hook="{{ fw_rows_post(['int_payments_matched', 'int_roster_entries_paid', 'fct_finding_evidence'], 'roster', ['project_code', 'id_number']) }}",
    meta={'fw_exclusive': true}
) }}
with

source as (
    select * from {{ source('raw', 'roster') }}
    {{ fw_rows_new() }}
),

renamed as (
    select
        trim(project_code) as project_code,
        {{ normalise_name('name') }} as name,
        {{ normalise_id('id_number') }} as id_number,
        trim(person_category) as person_category,
        {{ normalise_account('account_no') }} as account_no,
        trim(bank_name) as bank_name,
        {{ money('approved_amount') }} as approved_amount,
        unit_code,
        report_date,
        publicity_start,
        publicity_end,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
),

keyed as (
    select
        project_code || '|' || id_number as roster_key,
        *,
        {{ person_hash('project_code', 'id_number') }} as person_hash
    from renamed
)

select * from keyed
