{#-
  One row per voucher (凭证号) with its project document and whether a collective decision
  covers it: a decision record with the voucher's 决策文号, the project's 实施单位代码 and a
  会议日期 on or before the 支出日期.
-#}
with

expenditures as (
    select * from {{ ref('stg_raw__expenditures') }}
),

projects as (
    select * from {{ ref('int_projects_defaulted') }}
),

decisions as (
    select * from {{ ref('stg_raw__decisions') }}
),

matched as (
    select
        expenditures.voucher_no,
        expenditures.project_code,
        expenditures.spend_date,
        expenditures.category,
        expenditures.amount,
        expenditures.payee,
        expenditures.memo,
        expenditures.decision_no,
        projects.project_code is not null as has_project,
        projects.unit_code as project_unit_code,
        projects.start_date as project_start_date,
        projects.end_date as project_end_date,
        projects.allowed_categories_text,
        case
            -- a missing 允许支出类别 is a missing value: the rule does not fire (rules.md)
            when nullif(trim(projects.allowed_categories_text), '') is not null
                then list_contains(projects.allowed_categories, expenditures.category)
        end as is_category_allowed,
        projects.effective_large_amount_threshold as large_amount_threshold,
        decisions.decision_no is not null as has_decision_record,
        decisions.unit_code as decision_unit_code,
        decisions.meeting_date as decision_meeting_date,
        coalesce(
            decisions.unit_code = projects.unit_code and decisions.meeting_date <= expenditures.spend_date,
            false
        ) as has_valid_decision,
        expenditures.source_file,
        expenditures.source_row,
        expenditures.file_sha256,
        expenditures.load_run_id
    from expenditures
    left join projects
        on expenditures.project_code = projects.project_code
    left join decisions
        on expenditures.decision_no = decisions.decision_no
)

select * from matched
