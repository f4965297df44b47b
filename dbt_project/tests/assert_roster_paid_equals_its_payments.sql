-- Per roster entry, paid = every loaded payment with its 项目编码 and 公民身份号码.
-- Checked on the entries whose row, or one of whose payments, was written since the data tests last
-- passed (every entry after a build from scratch): no other entry's totals can have changed.
with

roster_entries as (
    select * from {{ ref('roster_entries') }}
    where {{ fw_untested([
        ('subject_key', 'int_roster_entries_paid', 'roster_key'),
        ('subject_key', 'int_payments_matched', 'roster_key'),
    ]) }}
),

paid as (
    select
        roster_key,
        sum(amount) as amount,
        count(*) as payments
    from {{ ref('payments') }}
    where roster_key in (select roster_entries.subject_key from roster_entries)
    group by roster_key
)

select
    roster_entries.subject_key,
    roster_entries.paid_amount,
    paid.amount
from roster_entries
left join paid on roster_entries.subject_key = paid.roster_key
where
    roster_entries.paid_amount != coalesce(paid.amount, 0)
    or roster_entries.payment_count != coalesce(paid.payments, 0)
