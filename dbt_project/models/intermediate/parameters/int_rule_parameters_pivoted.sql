{{ config(post_hook="{{ fw_dim_changed(['int_roster_entries_paid']) }}") }}
with

rule_parameters as (
    select * from {{ ref('rule_parameters') }}
),

pivoted as (
    select
        cast(max(case when parameter = 'default_deadline_days' then value end) as integer)
            as default_deadline_days,
        cast(max(case when parameter = 'default_publicity_days' then value end) as integer)
            as default_publicity_days,
        {{ money("max(case when parameter = 'default_large_amount_threshold' then value end)") }}
            as default_large_amount_threshold,
        cast(max(case when parameter = 'funds_idle_days' then value end) as integer)
            as funds_idle_days,
        cast(max(case when parameter = 'evidence_list_limit' then value end) as integer)
            as evidence_list_limit,
        cast(max(case when parameter = 'evidence_decision_window_days' then value end) as integer)
            as evidence_decision_window_days
    from rule_parameters
)

select * from pivoted
