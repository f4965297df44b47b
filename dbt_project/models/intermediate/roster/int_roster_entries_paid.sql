{#-
  One row per roster entry (项目编码 + 公民身份号码) with its project's deadlines and every loaded
  payment with the same 项目编码 and 公民身份号码 (whatever its amount, date or account).
-#}
with

roster_entries as (
    select * from {{ ref('stg_raw__roster_entries') }}
),

projects as (
    select * from {{ ref('int_projects_defaulted') }}
),

payments as (
    select * from {{ ref('stg_raw__payments') }}
),

parameters as (
    select * from {{ ref('int_rule_parameters_pivoted') }}
),

payments_per_person as (
    select
        project_code,
        id_number,
        count(*) as payment_count,
        {{ money('sum(amount)') }} as paid_amount,
        min(pay_date) as first_pay_date,
        string_agg(txn_ref, '；' order by pay_date, txn_ref) as payment_txn_refs
    from payments
    group by project_code, id_number
),

joined as (
    select
        roster_entries.*,
        projects.project_code is not null as has_project,
        projects.pay_deadline,
        coalesce(projects.effective_publicity_days, parameters.default_publicity_days) as required_publicity_days,
        roster_entries.publicity_end - roster_entries.publicity_start + 1 as publicity_days_posted,
        coalesce(payments_per_person.payment_count, 0) as payment_count,
        {{ money('coalesce(payments_per_person.paid_amount, 0)') }} as paid_amount,
        payments_per_person.first_pay_date,
        payments_per_person.payment_txn_refs
    from roster_entries
    cross join parameters
    left join projects
        on roster_entries.project_code = projects.project_code
    left join payments_per_person
        on
            roster_entries.project_code = payments_per_person.project_code
            and roster_entries.id_number = payments_per_person.id_number
)

select * from joined
