{#- One row per project document with the rule defaults applied (seed rule_parameters). -#}
{{ config(post_hook="{{ fw_dim_changed(['int_payments_matched', 'int_roster_entries_paid']) }}") }}
with

projects as (
    select * from {{ ref('stg_raw__projects') }}
),

parameters as (
    select * from {{ ref('int_rule_parameters_pivoted') }}
),

defaulted as (
    select
        projects.*,
        coalesce(projects.publicity_days, parameters.default_publicity_days) as effective_publicity_days,
        coalesce(projects.large_amount_threshold, parameters.default_large_amount_threshold)
            as effective_large_amount_threshold
    from projects
    cross join parameters
)

select * from defaulted
