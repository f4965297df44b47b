-- Per roster entry, paid = every loaded payment with its 项目编码 and 公民身份号码.
with

paid as (
    select
        roster_key,
        sum(amount) as amount,
        count(*) as payments
    from {{ ref('payments') }}
    where roster_key is not null
    group by roster_key
)

select
    roster_entries.subject_key,
    roster_entries.paid_amount,
    paid.amount
from {{ ref('roster_entries') }} as roster_entries
left join paid on roster_entries.subject_key = paid.roster_key
where
    roster_entries.paid_amount != coalesce(paid.amount, 0)
    or roster_entries.payment_count != coalesce(paid.payments, 0)
