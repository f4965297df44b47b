{#-
  One row per (rule_id, subject_type, subject_key) that fires: the unpivot of the non-NULL
  rule_* columns of the subject marts, with the rule's name and severity from the rule_catalog
  seed and one Chinese sentence (expected vs found; personal data masked).
  source_file/source_row: the subject's defining row for allocation, transfer, payment,
  roster_entry and expenditure subjects (rules.md); NULL for project, file and row subjects
  (a row subject's key is path|row).
  Each mart is read only where a rule fires (any_rule_fires): the unpivot of the other rows is empty.
  No sentence names the run date: an as-of finding says that its deadline has passed (期限已过), so
  its text is the same every day until something about it changes, and a new date alone records
  nothing new for it (state history, export).

  Incremental: a payment's findings depend on its own row of the payments mart only, so a day
  computes those of the payments int_payments_matched wrote or deleted since (their 交易流水号, in
  incremental.changes: meta fw_rows_to there), and every other subject's findings again (small
  marts, and roster entries read where a rule fires); everything when built from scratch or told
  'all'. tests/dbt/test_dbt_incremental.py compares it with a full rebuild.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ fw_findings_pre() }}",
    post_hook="{{ fw_consumed() }}"
) }}
{% set everything = fw_recompute_all() %}

with

allocations as (
    select * from {{ ref('allocations') }}
    where {{ any_rule_fires(ref('allocations')) }}
),

transfers as (
    select * from {{ ref('transfers') }}
    where {{ any_rule_fires(ref('transfers')) }}
),

payments as (
    select * from {{ ref('payments') }}
    where {{ any_rule_fires(ref('payments')) }} and {{ fw_payments_told(everything) }}
),

roster_entries as (
    select * from {{ ref('roster_entries') }}
    where {{ any_rule_fires(ref('roster_entries')) }}
),

expenditures as (
    select * from {{ ref('expenditures') }}
    where {{ any_rule_fires(ref('expenditures')) }}
),

projects as (
    select * from {{ ref('projects') }}
    where {{ any_rule_fires(ref('projects')) }}
),

source_files as (
    select * from {{ ref('source_files') }}
    where {{ any_rule_fires(ref('source_files')) }}
),

rule_catalog as (
    select * from {{ ref('rule_catalog') }}
),

allocation_outcomes as (
    unpivot allocations
    on columns('^rule_')
    into name rule_column value amount_at_risk
),

allocation_findings as (
    select
        'allocation' as subject_type,
        subject_key,
        project_code,
        unit_code,
        amount_at_risk,
        source_file,
        source_row,
        upper(substr(rule_column, 6)) as rule_id,
        case rule_column
            when 'rule_alloc_short'
                then '资金指标' || doc_no || '应于' || cast(deadline_date as varchar) || '前足额到账'
                    || {{ money_text('allocated_amount') }} || '，期限已过，仅到账' || {{ money_text('credited_amount') }}
                    || '，差' || {{ money_text('amount_at_risk') }} || '。'
            when 'rule_alloc_over'
                then '资金指标' || doc_no || '金额为' || {{ money_text('allocated_amount') }} || '，实际到账'
                    || {{ money_text('credited_amount') }} || '，超出' || {{ money_text('amount_at_risk') }} || '。'
            when 'rule_alloc_late'
                then '资金指标' || doc_no || '应于' || cast(deadline_date as varchar) || '（发文日期'
                    || cast(issue_date as varchar) || '加' || cast(effective_deadline_days as varchar)
                    || '天）前到账，但有' || cast(late_credit_count as varchar) || '笔共'
                    || {{ money_text('amount_at_risk') }} || '晚于该日到账（最晚' || cast(last_credit_date as varchar) || '）。'
        end as detail
    from allocation_outcomes
),

transfer_outcomes as (
    unpivot transfers
    on columns('^rule_')
    into name rule_column value amount_at_risk
),

transfer_findings as (
    select
        'transfer' as subject_type,
        subject_key,
        project_code,
        unit_code,
        amount_at_risk,
        source_file,
        source_row,
        upper(substr(rule_column, 6)) as rule_id,
        case
            when found_doc_no is null
                then '到账资金' || {{ money_text('amount') }} || '应能对应一份资金指标，但文号和摘要中均未找到文号。'
            when candidate_count = 0
                then '到账资金' || {{ money_text('amount') }} || '应能对应一份资金指标，但按文号' || found_doc_no
                    || '（来自' || doc_no_origin || '）、收款单位代码' || recipient_code
                    || coalesce('、项目编码' || credit_project_code, '') || '未找到对应指标。'
            else '到账资金' || {{ money_text('amount') }} || '应只对应一份资金指标，但按文号' || found_doc_no
                || '（来自' || doc_no_origin || '）找到' || cast(candidate_count as varchar) || '份候选指标（'
                || candidate_allocation_keys || '），无法确定归属。'
        end as detail
    from transfer_outcomes
),

payment_outcomes as (
    unpivot payments
    on columns('^rule_')
    into name rule_column value amount_at_risk
),

payment_findings as (
    select
        'payment' as subject_type,
        subject_key,
        project_code,
        unit_code,
        amount_at_risk,
        source_file,
        source_row,
        upper(substr(rule_column, 6)) as rule_id,
        case rule_column
            when 'rule_pay_no_project'
                then '发放应有项目文本依据，但项目编码' || project_code || '没有对应的项目文本。'
            when 'rule_pay_not_on_roster'
                then '收款人应在项目' || project_code || '的上报名单内，但' || {{ mask_name('name') }}
                    || '（' || {{ mask_id('id_number') }} || '）不在名单中。'
            when 'rule_pay_name_mismatch'
                then '收款人' || {{ mask_id('id_number') }} || '的姓名应与名单登记的' || {{ mask_name('roster_name') }}
                    || '一致，实际发放姓名为' || {{ mask_name('name') }} || '，两者不同（姓名已脱敏，完整姓名见审核页面）。'
            when 'rule_pay_account_mismatch'
                then '应发放至名单登记的账户' || {{ mask_account('roster_account_no') }} || '，实际发放至账户'
                    || {{ mask_account('account_no') }} || '。'
            when 'rule_pay_amount_mismatch'
                then '发放金额应等于核定金额' || {{ money_text('roster_approved_amount') }} || '，实际发放'
                    || {{ money_text('amount') }} || '，相差' || {{ money_text('amount_at_risk') }} || '。'
            when 'rule_pay_over_standard'
                then '发放金额不应超过补助标准' || {{ money_text('standard_amount') }} || '，实际发放'
                    || {{ money_text('amount') }} || '，超出' || {{ money_text('amount_at_risk') }} || '。'
            when 'rule_pay_before_publicity'
                then '应在名单公示结束日期' || cast(roster_publicity_end as varchar) || '之后发放，实际发放日期为'
                    || cast(pay_date as varchar) || '。'
            when 'rule_pay_late'
                then '应在发放截止日期' || cast(pay_deadline as varchar) || '前发放，实际发放日期为'
                    || cast(pay_date as varchar) || '。'
            when 'rule_pay_duplicate'
                then '同一项目同一人只应发放一次，但' || {{ mask_id('id_number') }} || '此前已由交易'
                    || person_first_txn_ref || '发放，本笔为第' || cast(person_payment_seq as varchar) || '笔。'
            when 'rule_pay_invalid_id'
                then '公民身份号码应符合GB 11643，但' || {{ mask_id('id_number') }} || id_invalid_reason || '。'
            when 'rule_pay_deceased'
                then '不应向已死亡人员发放，但收款人' || {{ mask_id('id_number') }} || '死亡登记日期为'
                    || cast(death_date as varchar) || '，发放日期为' || cast(pay_date as varchar) || '。'
            when 'rule_pay_staff_related'
                then '收款人' || {{ mask_id('id_number') }} || '在发放单位' || unit_code || '的工作人员及亲属名册中（'
                    || staff_relations || '），应重点核查。'
            when 'rule_pay_shared_account'
                then '一个账户应只对应一名受益人，但账户' || {{ mask_account('account_no') }} || '收到了'
                    || cast(account_person_count as varchar) || '个不同公民身份号码的发放。'
        end as detail
    from payment_outcomes
),

roster_outcomes as (
    unpivot roster_entries
    on columns('^rule_')
    into name rule_column value amount_at_risk
),

roster_findings as (
    select
        'roster_entry' as subject_type,
        subject_key,
        project_code,
        unit_code,
        amount_at_risk,
        source_file,
        source_row,
        upper(substr(rule_column, 6)) as rule_id,
        case
            when rule_column = 'rule_roster_unpaid'
                then '名单人员' || {{ mask_id('id_number') }} || '应在发放截止日期' || cast(pay_deadline as varchar)
                    || '前获得发放（核定金额' || {{ money_text('approved_amount') }} || '），期限已过，未见发放记录。'
            when publicity_start is null or publicity_end is null
                then '名单应公示至少' || cast(required_publicity_days as varchar) || '天，但公示'
                    || case when publicity_start is null then '开始日期' else '结束日期' end || '缺失。'
            else '名单应公示至少' || cast(required_publicity_days as varchar) || '天，实际公示'
                || cast(publicity_days_posted as varchar) || '天（' || cast(publicity_start as varchar) || '至'
                || cast(publicity_end as varchar) || '）。'
        end as detail
    from roster_outcomes
),

expenditure_outcomes as (
    unpivot expenditures
    on columns('^rule_')
    into name rule_column value amount_at_risk
),

expenditure_findings as (
    select
        'expenditure' as subject_type,
        subject_key,
        project_code,
        unit_code,
        amount_at_risk,
        source_file,
        source_row,
        upper(substr(rule_column, 6)) as rule_id,
        case rule_column
            when 'rule_exp_no_project'
                then '支出应有项目文本依据，但项目编码' || project_code || '没有对应的项目文本。'
            when 'rule_exp_category_not_allowed'
                then '支出类别应在允许支出类别（' || allowed_categories_text || '）内，实际为“'
                    || coalesce(category, '（空）') || '”。'
            when 'rule_exp_outside_period'
                then '支出日期应在项目期间' || cast(project_start_date as varchar) || '至'
                    || cast(project_end_date as varchar) || '内，实际为' || cast(spend_date as varchar) || '。'
            when 'rule_exp_no_decision'
                then '支出' || {{ money_text('amount') }} || '达到大额资金标准' || {{ money_text('large_amount_threshold') }}
                    || '，应有集体决策记录，但'
                    || case
                        when decision_no is null then '未填写决策文号'
                        when not has_decision_record then '决策文号' || decision_no || '没有对应的决策记录'
                        when decision_unit_code != unit_code
                            then '决策' || decision_no || '的决策单位' || decision_unit_code || '不是实施单位' || unit_code
                        else '决策' || decision_no || '的会议日期' || cast(decision_meeting_date as varchar)
                            || '晚于支出日期' || cast(spend_date as varchar)
                    end || '。'
        end as detail
    from expenditure_outcomes
),

project_outcomes as (
    unpivot projects
    on columns('^rule_')
    into name rule_column value amount_at_risk
),

project_findings as (
    select
        'project' as subject_type,
        subject_key,
        project_code,
        unit_code,
        amount_at_risk,
        cast(null as varchar) as source_file,
        cast(null as integer) as source_row,
        upper(substr(rule_column, 6)) as rule_id,
        case rule_column
            when 'rule_proj_over_budget'
                then '支出合计不应超过预算金额' || {{ money_text('budget') }} || '，实际发放' || {{ money_text('payment_amount') }}
                    || '加支出' || {{ money_text('expenditure_amount') }} || '共' || {{ money_text('spent_amount') }}
                    || '，超出' || {{ money_text('amount_at_risk') }} || '。'
            when 'rule_proj_not_posted'
                then '项目应在首笔支出（' || cast(first_spent_on as varchar) || '）前挂牌公示，但'
                    || coalesce('最早的项目挂牌日期为' || cast(first_signboard_date as varchar), '没有项目挂牌记录') || '。'
            when 'rule_proj_report_missing'
                then '终期报告应于' || cast(report_deadline as varchar) || '前提交，期限已过，仍未提交。'
            when 'rule_proj_report_late'
                then '终期报告应于' || cast(report_deadline as varchar) || '前提交，实际提交日期为'
                    || cast(report_submit_date as varchar) || '。'
            when 'rule_proj_report_mismatch'
                then '终期报告的实际支出应等于发放加支出合计' || {{ money_text('spent_amount') }} || '，报告为'
                    || {{ money_text('report_actual_spent') }} || '，相差' || {{ money_text('amount_at_risk') }} || '。'
            when 'rule_proj_funds_idle'
                then '项目结束日期' || cast(end_date as varchar) || '后' || cast(funds_idle_days as varchar)
                    || '天到账资金应已使用，但到账' || {{ money_text('credited_amount') }} || '、支出'
                    || {{ money_text('spent_amount') }} || '，闲置' || {{ money_text('amount_at_risk') }} || '。'
        end as detail
    from project_outcomes
),

source_file_outcomes as (
    unpivot source_files
    on columns('^rule_')
    into name rule_column value amount_at_risk
),

source_file_findings as (
    select
        subject_type,
        subject_key,
        project_code,
        unit_code,
        amount_at_risk,
        -- rules.md fills source_file/source_row only for the record subjects; a row subject's
        -- key already is path|row.
        cast(null as varchar) as source_file,
        cast(null as integer) as source_row,
        upper(substr(rule_column, 6)) as rule_id,
        case rule_column
            when 'rule_file_rejected'
                then '文件应能识别和读取，但未能载入：' || {{ mask_text("coalesce(reason, '未说明原因')") }} || '。'
            when 'rule_file_total_mismatch'
                then '合计行应等于明细之和，但' || mismatch_text || '。'
            when 'rule_row_rejected'
                then '第' || cast(source_row as varchar) || '行应完整可读，但未能载入：'
                    || {{ mask_text("coalesce(reason, '未说明原因')") }} || '。'
        end as detail
    from source_file_outcomes
),

unioned as (
    select * from allocation_findings
    union all by name
    select * from transfer_findings
    union all by name
    select * from payment_findings
    union all by name
    select * from roster_findings
    union all by name
    select * from expenditure_findings
    union all by name
    select * from project_findings
    union all by name
    select * from source_file_findings
),

findings as (
    select
        unioned.rule_id,
        rule_catalog.rule_name,
        rule_catalog.severity,
        unioned.subject_type,
        unioned.subject_key,
        unioned.project_code,
        unioned.unit_code,
        {{ money('unioned.amount_at_risk') }} as amount_at_risk,
        unioned.source_file,
        cast(unioned.source_row as integer) as source_row,
        unioned.detail
    from unioned
    left join rule_catalog
        on unioned.rule_id = rule_catalog.rule_id
),

-- the findings state's key and the fingerprint of the attributes it keeps of a finding
-- (fundwatch.pipeline.FINGERPRINT_SQL): computed once, where the finding is written, not by the
-- export for every finding every day
fingerprinted as (
    select
        *,
        {{ finding_id('rule_id', 'subject_type', 'subject_key') }} as finding_id,
        md5(cast(to_json([
            rule_name, severity, project_code, unit_code, cast(amount_at_risk as varchar), source_file,
            cast(source_row as varchar), detail
        ]) as varchar)) as attributes_md5
    from findings
)

select * from fingerprinted
