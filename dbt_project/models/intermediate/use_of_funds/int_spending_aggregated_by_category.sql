{#-
  One row per 项目编码 + spending category: vouchers by their 支出类别, payments to individuals
  under the category 个人补助发放 (发放明细). Amounts in 元.
-#}
with

payments as (
    select * from {{ ref('stg_raw__payments') }}
),

expenditures as (
    select * from {{ ref('stg_raw__expenditures') }}
),

spending as (
    select
        project_code,
        '个人补助发放' as category,
        amount
    from payments
    union all
    select
        project_code,
        category,
        amount
    from expenditures
),

aggregated as (
    select
        project_code,
        category,
        count(*) as spending_count,
        {{ money('sum(amount)') }} as spent_amount
    from spending
    group by project_code, category
)

select * from aggregated
