{#- One row per allocation with its deadline and what arrived (matched credits only). -#}
with

allocations as (
    select * from {{ ref('stg_raw__allocations') }}
),

credits as (
    select * from {{ ref('int_credits_matched_to_allocations') }}
    where matched_allocation_key is not null
),

parameters as (
    select * from {{ ref('int_rule_parameters_pivoted') }}
),

with_deadline as (
    select
        allocations.*,
        coalesce(allocations.deadline_days, parameters.default_deadline_days) as effective_deadline_days,
        allocations.issue_date
        + coalesce(allocations.deadline_days, parameters.default_deadline_days) as deadline_date
    from allocations
    cross join parameters
),

credited as (
    select
        with_deadline.allocation_key,
        count(credits.txn_ref) as credit_count,
        {{ money('coalesce(sum(credits.amount), 0)') }} as credited_amount,
        count(credits.txn_ref) filter (where credits.value_date > with_deadline.deadline_date)
            as late_credit_count,
        {{ money('sum(credits.amount) filter (where credits.value_date > with_deadline.deadline_date)') }}
            as late_amount,
        min(credits.value_date) as first_credit_date,
        max(credits.value_date) as last_credit_date,
        string_agg(credits.txn_ref, '；' order by credits.value_date, credits.txn_ref) as credit_txn_refs,
        string_agg(
            credits.source_file || '|' || cast(credits.source_row as varchar), '；'
            order by credits.value_date, credits.txn_ref
        ) as credit_sources
    from with_deadline
    left join credits
        on with_deadline.allocation_key = credits.matched_allocation_key
    group by with_deadline.allocation_key
),

joined as (
    select
        with_deadline.*,
        credited.credit_count,
        credited.credited_amount,
        credited.late_credit_count,
        credited.late_amount,
        credited.first_credit_date,
        credited.last_credit_date,
        credited.credit_txn_refs,
        credited.credit_sources
    from with_deadline
    inner join credited
        on with_deadline.allocation_key = credited.allocation_key
)

select * from joined
