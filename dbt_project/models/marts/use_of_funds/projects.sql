{#- One row per project document (项目编码), with budget, spend, postings, report and credits. -#}
with

projects as (
    select * from {{ ref('int_projects_defaulted') }}
),

spending as (
    select * from {{ ref('int_spending_aggregated_by_project') }}
),

postings as (
    select * from {{ ref('stg_raw__postings') }}
),

final_reports as (
    select * from {{ ref('stg_raw__final_reports') }}
),

credits as (
    select * from {{ ref('int_credits_matched_to_allocations') }}
),

parameters as (
    select * from {{ ref('int_rule_parameters_pivoted') }}
),

signboards as (
    select
        project_code,
        count(*) as posting_count,
        min(start_date) filter (where posting_type = '项目挂牌') as first_signboard_date
    from postings
    group by project_code
),

credits_per_project as (
    select
        matched_project_code as project_code,
        count(*) as credit_count,
        {{ money('sum(amount)') }} as credited_amount
    from credits
    where matched_project_code is not null
    group by matched_project_code
),

joined as (
    select
        projects.project_code as subject_key,
        projects.project_code,
        projects.unit_code,
        projects.project_name,
        projects.project_type,
        projects.unit_name,
        projects.start_date,
        projects.end_date,
        projects.budget,
        projects.standard_amount,
        projects.pay_deadline,
        projects.effective_publicity_days,
        projects.report_deadline,
        projects.allowed_categories_text,
        projects.effective_large_amount_threshold,
        coalesce(spending.payment_count, 0) as payment_count,
        {{ money('coalesce(spending.payment_amount, 0)') }} as payment_amount,
        coalesce(spending.expenditure_count, 0) as expenditure_count,
        {{ money('coalesce(spending.expenditure_amount, 0)') }} as expenditure_amount,
        {{ money('coalesce(spending.spent_amount, 0)') }} as spent_amount,
        spending.first_spent_on,
        coalesce(signboards.posting_count, 0) as posting_count,
        signboards.first_signboard_date,
        final_reports.project_code is not null as has_final_report,
        final_reports.report_no,
        final_reports.submit_date as report_submit_date,
        final_reports.actual_spent as report_actual_spent,
        final_reports.source_file as report_source_file,
        final_reports.source_row as report_source_row,
        coalesce(credits_per_project.credit_count, 0) as credit_count,
        {{ money('coalesce(credits_per_project.credited_amount, 0)') }} as credited_amount,
        parameters.funds_idle_days,
        projects.source_file,
        projects.source_row,
        projects.file_sha256,
        projects.load_run_id
    from projects
    cross join parameters
    left join spending
        on projects.project_code = spending.project_code
    left join signboards
        on projects.project_code = signboards.project_code
    left join final_reports
        on projects.project_code = final_reports.project_code
    left join credits_per_project
        on projects.project_code = credits_per_project.project_code
),

rules as (
    select
        subject_key,
        subject_key as subject_label,
        project_code,
        unit_code,
        project_name,
        project_type,
        unit_name,
        start_date,
        end_date,
        budget,
        standard_amount,
        pay_deadline,
        effective_publicity_days,
        report_deadline,
        allowed_categories_text,
        effective_large_amount_threshold,
        payment_count,
        payment_amount,
        expenditure_count,
        expenditure_amount,
        spent_amount,
        first_spent_on,
        posting_count,
        first_signboard_date,
        has_final_report,
        report_no,
        report_submit_date,
        report_actual_spent,
        report_source_file,
        report_source_row,
        credit_count,
        credited_amount,
        funds_idle_days,
        case when spent_amount > budget then {{ money('spent_amount - budget') }} end as rule_proj_over_budget,
        case
            when
                payment_count + expenditure_count > 0
                and (first_signboard_date is null or first_signboard_date > first_spent_on)
                then spent_amount
        end as rule_proj_not_posted,
        case
            when {{ fw_run_date() }} > report_deadline and not has_final_report then spent_amount
        end as rule_proj_report_missing,
        case
            when report_submit_date > report_deadline then {{ money('0') }}
        end as rule_proj_report_late,
        case
            when has_final_report and report_actual_spent != spent_amount
                then {{ money('abs(report_actual_spent - spent_amount)') }}
        end as rule_proj_report_mismatch,
        case
            when
                {{ fw_run_date() }} - end_date > funds_idle_days
                and credited_amount > spent_amount
                then {{ money('credited_amount - spent_amount') }}
        end as rule_proj_funds_idle,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from joined
)

select * from rules
