-- Accounting identity: per allocation, credited = sum of the credits matched to it.
with

matched as (
    select
        matched_allocation_key,
        sum(amount) as matched_amount,
        count(*) as matched_count
    from {{ ref('transfers') }}
    where matched_allocation_key is not null
    group by matched_allocation_key
)

select
    allocations.subject_key,
    allocations.credited_amount,
    matched.matched_amount
from {{ ref('allocations') }} as allocations
left join matched
    on allocations.subject_key = matched.matched_allocation_key
where
    allocations.credited_amount != coalesce(matched.matched_amount, 0)
    or allocations.credit_count != coalesce(matched.matched_count, 0)
