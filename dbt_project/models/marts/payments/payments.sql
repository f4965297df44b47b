{#- One row per payment to an individual (交易流水号), with its roster match and rule outcomes. -#}
{#- A view: computed from its intermediate table where it is read (an as-of rule sees the run date). -#}
{{ config(materialized='view') }}
with

payments as (
    select * from {{ ref('int_payments_matched') }}
),

rules as (
    select
        txn_ref as subject_key,
        txn_ref as subject_label,
        project_code,
        unit_code,
        txn_ref,
        batch,
        name,
        id_number,
        account_no,
        bank_name,
        amount,
        pay_date,
        remark,
        has_project,
        standard_amount,
        pay_deadline,
        is_on_roster,
        roster_key,
        roster_name,
        roster_account_no,
        roster_approved_amount,
        roster_publicity_end,
        roster_source_file,
        roster_source_row,
        id_invalid_reason,
        death_date,
        staff_relations,
        account_person_count,
        person_payment_seq,
        person_first_txn_ref,
        case when not has_project then amount end as rule_pay_no_project,
        case when not is_on_roster then amount end as rule_pay_not_on_roster,
        case when roster_name_differs then amount end as rule_pay_name_mismatch,
        case when roster_account_differs then amount end as rule_pay_account_mismatch,
        case
            when is_on_roster and amount != roster_approved_amount
                then {{ money('abs(amount - roster_approved_amount)') }}
        end as rule_pay_amount_mismatch,
        case
            when amount > standard_amount then {{ money('amount - standard_amount') }}
        end as rule_pay_over_standard,
        case when is_on_roster and pay_date <= roster_publicity_end then amount end as rule_pay_before_publicity,
        case when pay_date > pay_deadline then amount end as rule_pay_late,
        case when person_payment_seq > 1 then amount end as rule_pay_duplicate,
        case when id_invalid_reason is not null then amount end as rule_pay_invalid_id,
        case when death_date < pay_date then amount end as rule_pay_deceased,
        case when staff_relations is not null then amount end as rule_pay_staff_related,
        case when account_person_count >= 2 then amount end as rule_pay_shared_account,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from payments
)

select * from rules
