{#- One row per allocation (文号 + 收款单位代码 + 项目编码), with what arrived and when. -#}
with

allocations as (
    select * from {{ ref('int_allocations_credited') }}
),

rules as (
    select
        allocation_key as subject_key,
        allocation_key as subject_label,
        project_code,
        recipient_code as unit_code,
        doc_no,
        issue_date,
        issuer,
        fiscal_year,
        recipient_code,
        recipient_name,
        amount as allocated_amount,
        effective_deadline_days,
        deadline_date,
        credit_count,
        credited_amount,
        late_credit_count,
        late_amount,
        first_credit_date,
        last_credit_date,
        credit_txn_refs,
        credit_sources,
        case
            when {{ fw_run_date() }} > deadline_date and credited_amount < amount
                then {{ money('amount - credited_amount') }}
        end as rule_alloc_short,
        case
            when credited_amount > amount then {{ money('credited_amount - amount') }}
        end as rule_alloc_over,
        case
            when late_credit_count > 0 then late_amount
        end as rule_alloc_late,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from allocations
)

select * from rules
