{#- One row per spending voucher (凭证号), checked against its project document. -#}
with

expenditures as (
    select * from {{ ref('int_expenditures_matched_to_projects') }}
),

rules as (
    select
        voucher_no as subject_key,
        voucher_no as subject_label,
        project_code,
        project_unit_code as unit_code,
        voucher_no,
        spend_date,
        category,
        amount,
        payee,
        memo,
        decision_no,
        has_project,
        project_start_date,
        project_end_date,
        allowed_categories_text,
        is_category_allowed,
        large_amount_threshold,
        has_decision_record,
        decision_unit_code,
        decision_meeting_date,
        has_valid_decision,
        case when not has_project then amount end as rule_exp_no_project,
        case when has_project and not is_category_allowed then amount end as rule_exp_category_not_allowed,
        case
            when spend_date < project_start_date or spend_date > project_end_date then amount
        end as rule_exp_outside_period,
        case
            when has_project and amount >= large_amount_threshold and not has_valid_decision then amount
        end as rule_exp_no_decision,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from expenditures
)

select * from rules
