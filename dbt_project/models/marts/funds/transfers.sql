{#- One row per bank credit (流水号), with the allocation it matched. -#}
with

credits as (
    select * from {{ ref('int_credits_matched_to_allocations') }}
),

rules as (
    select
        txn_ref as subject_key,
        txn_ref as subject_label,
        coalesce(project_code, matched_project_code) as project_code,
        recipient_code as unit_code,
        txn_ref,
        value_date,
        payer,
        recipient_code,
        recipient_name,
        amount,
        doc_no,
        memo,
        project_code as credit_project_code,
        doc_no_origin,
        found_doc_no,
        candidate_count,
        candidate_allocation_keys,
        matched_allocation_key,
        case
            when matched_allocation_key is null then amount
        end as rule_transfer_unmatched,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from credits
)

select * from rules
