{#-
  One row per 项目编码 that has any loaded payment or expenditure (whatever findings they carry;
  rejected rows are not loaded, so not spent): spent = payments + expenditures, in 元.
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
        'payment' as spending_kind,
        amount,
        pay_date as spent_on
    from payments
    union all
    select
        project_code,
        'expenditure' as spending_kind,
        amount,
        spend_date as spent_on
    from expenditures
),

aggregated as (
    select
        project_code,
        count(*) filter (where spending_kind = 'payment') as payment_count,
        {{ money("coalesce(sum(amount) filter (where spending_kind = 'payment'), 0)") }} as payment_amount,
        count(*) filter (where spending_kind = 'expenditure') as expenditure_count,
        {{ money("coalesce(sum(amount) filter (where spending_kind = 'expenditure'), 0)") }}
            as expenditure_amount,
        {{ money('sum(amount)') }} as spent_amount,
        min(spent_on) as first_spent_on,
        min(spent_on) filter (where spending_kind = 'payment') as first_payment_on,
        max(spent_on) filter (where spending_kind = 'payment') as last_payment_on
    from spending
    group by project_code
)

select * from aggregated
