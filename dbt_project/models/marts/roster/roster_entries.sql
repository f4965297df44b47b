{#- One row per roster entry (项目编码 + 公民身份号码), with its payments and rule outcomes. -#}
{#- A view: computed from its intermediate table where it is read (an as-of rule sees the run date). -#}
{{ config(materialized='view') }}
with

roster_entries as (
    select * from {{ ref('int_roster_entries_paid') }}
),

rules as (
    select
        roster_key as subject_key,
        -- the key with the ID number masked: what GX samples and other shared pages show
        project_code || '|' || {{ mask_id('id_number') }} as subject_label,
        project_code,
        unit_code,
        name,
        id_number,
        person_category,
        account_no,
        bank_name,
        approved_amount,
        report_date,
        publicity_start,
        publicity_end,
        has_project,
        pay_deadline,
        required_publicity_days,
        publicity_days_posted,
        payment_count,
        paid_amount,
        first_pay_date,
        payment_txn_refs,
        case
            when {{ fw_run_date() }} > pay_deadline and payment_count = 0 then approved_amount
        end as rule_roster_unpaid,
        case
            when
                publicity_start is null
                or publicity_end is null
                or publicity_days_posted < required_publicity_days
                then approved_amount
        end as rule_roster_publicity_short,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from roster_entries
)

select * from rules
