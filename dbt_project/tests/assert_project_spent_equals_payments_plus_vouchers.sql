-- Accounting identity: per project, spent = its payments + its vouchers (every loaded row).
with

paid as (
    select
        project_code,
        sum(amount) as amount
    from {{ ref('payments') }}
    group by project_code
),

vouchers as (
    select
        project_code,
        sum(amount) as amount
    from {{ ref('expenditures') }}
    group by project_code
)

select
    projects.project_code,
    projects.spent_amount,
    projects.payment_amount,
    projects.expenditure_amount
from {{ ref('projects') }} as projects
left join paid on projects.project_code = paid.project_code
left join vouchers on projects.project_code = vouchers.project_code
where
    projects.payment_amount != coalesce(paid.amount, 0)
    or projects.expenditure_amount != coalesce(vouchers.amount, 0)
    or projects.spent_amount != projects.payment_amount + projects.expenditure_amount
