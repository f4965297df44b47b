{#-
  One row per payment (交易流水号) matched to its roster entry (项目编码 + 公民身份号码), its
  project document, the death register and the staff register of the paying association, with
  its position among the person's payments in the project and the people paid on its account.

  Incremental (macros/incremental.sql): a day recomputes the payments of every person whose payments
  or roster entry changed and every payment on an account a changed payment used (before or after);
  everything when a project document, the death or the staff register changed. It tells fct_findings
  (meta fw_rows_to) which payments it wrote or deleted: their findings are the ones computed again.

  Built alone (meta fw_exclusive, fundwatch/dbt_cli.py): never beside int_roster_entries_paid or the two
  staging models, which also read every payment or roster entry (at 10M payments the two int
  models took 3 min side by side, 2 min one after the other).
-#}
{{ config(
    materialized='incremental',
    unique_key='txn_ref',
    incremental_strategy='fw_delete_insert',
    pre_hook="{{ fw_consume_pre('txn_ref', 'txn_ref') }}",
    post_hook="{{ fw_consumed() }}",
    meta={'fw_exclusive': true, 'fw_rows_to': ['fct_findings']}
) }}
{% set everything = fw_recompute_all() %}

with

{% if everything %}
-- read where used, never copied whole (DuckDB would materialise a CTE read this often: at 10M payments
-- 11 GB spilled, the model alone 91 s, 70 s so)
payments as not materialized (
    select * from {{ ref('stg_raw__payments') }}
),

{% else %}
-- read where used, never copied whole (DuckDB would materialise a CTE read this often: every payment)
all_payments as not materialized (
    select * from {{ ref('stg_raw__payments') }}
),

changes as (
    select * from {{ fw_changes() }}
),

-- the payments recomputed: of the people touched, and on the accounts touched (their keys, kept);
-- each part one equality on a stored column, filtered in the scan (macros/incremental.sql, person_hash)
scope as materialized (
    select
        all_payments.txn_ref,
        all_payments.person_hash
    from all_payments
    where all_payments.person_hash in (
        select {{ person_hash('changes.project_code', 'changes.id_number') }} from changes
    )
    union
    select
        all_payments.txn_ref,
        all_payments.person_hash
    from all_payments
    where all_payments.account_no in (select changes.account_no from changes)
),

-- their people's payments whole (for the order among them)
scope_people as (
    select distinct scope.person_hash
    from scope
),

payments as (
    select all_payments.*
    from all_payments
    semi join scope_people
        on all_payments.person_hash = scope_people.person_hash
),

{% endif %}
roster_entries as (
    select all_entries.*
    from {{ ref('stg_raw__roster_entries') }} as all_entries
    {% if not everything %}
    -- only the entries the payments recomputed can match (matched on the codes below)
    semi join scope_people
        on all_entries.person_hash = scope_people.person_hash
    {% endif %}
),

projects as (
    select * from {{ ref('int_projects_defaulted') }}
),

deaths as (
    select * from {{ ref('stg_raw__deaths') }}
),

staff_members as (
    select * from {{ ref('stg_raw__staff_members') }}
),

earliest_deaths as (
    select
        id_number,
        min(death_date) as death_date
    from deaths
    group by id_number
),

staff_links as (
    select
        id_number,
        unit_code,
        string_agg(distinct relation, '、' order by relation) as staff_relations
    from staff_members
    group by id_number, unit_code
),

people_per_account as (
    select
        account_no,
        count(distinct id_number) as account_person_count
    {% if everything %}
    from payments
    where account_no is not null
    {% else %}
    from all_payments
    where account_no in (select payments.account_no from payments)
    {% endif %}
    group by account_no
    -- only the accounts not used by exactly one person: an account of one person is 1 below, and the
    -- join's table holds a few thousand accounts instead of every account (at 10M payments 5 s less)
    having count(distinct id_number) <> 1
),

sequenced as (
    select
        txn_ref,
        row_number() over person_payments as person_payment_seq,
        first_value(txn_ref) over person_payments as person_first_txn_ref
    from payments
    window person_payments as (
        partition by project_code, id_number
        order by pay_date, txn_ref
        rows between unbounded preceding and current row
    )
),

matched as (
    select
        payments.txn_ref,
        payments.batch,
        payments.project_code,
        payments.name,
        payments.id_number,
        payments.account_no,
        payments.bank_name,
        payments.amount,
        payments.pay_date,
        payments.unit_code,
        payments.remark,
        projects.project_code is not null as has_project,
        projects.unit_code as project_unit_code,
        projects.standard_amount,
        projects.pay_deadline,
        roster_entries.roster_key is not null as is_on_roster,
        roster_entries.roster_key,
        roster_entries.name as roster_name,
        roster_entries.account_no as roster_account_no,
        roster_entries.approved_amount as roster_approved_amount,
        roster_entries.publicity_end as roster_publicity_end,
        roster_entries.source_file as roster_source_file,
        roster_entries.source_row as roster_source_row,
        -- compared once, where the payment is written: every reader of the payments mart (GX's check of
        -- every payment, the findings) reads two booleans instead of four texts per payment
        roster_entries.roster_key is not null and payments.name <> roster_entries.name as roster_name_differs,
        roster_entries.roster_key is not null
        and roster_entries.account_no is not null
        and coalesce(payments.account_no <> roster_entries.account_no, true) as roster_account_differs,
        {{ gb11643_invalid_reason('payments.id_number', 'payments.pay_date') }} as id_invalid_reason,
        earliest_deaths.death_date,
        staff_links.staff_relations,
        coalesce(
            people_per_account.account_person_count, case when payments.account_no is not null then 1 else 0 end
        ) as account_person_count,
        sequenced.person_payment_seq,
        sequenced.person_first_txn_ref,
        payments.source_file,
        payments.source_row,
        payments.file_sha256,
        payments.load_run_id
    from payments
    inner join sequenced
        on payments.txn_ref = sequenced.txn_ref
    left join projects
        on payments.project_code = projects.project_code
    left join roster_entries
        on
            payments.project_code = roster_entries.project_code
            and payments.id_number = roster_entries.id_number
    left join earliest_deaths
        on payments.id_number = earliest_deaths.id_number
    left join staff_links
        on
            payments.id_number = staff_links.id_number
            and payments.unit_code = staff_links.unit_code
    left join people_per_account
        on payments.account_no = people_per_account.account_no
)

select * from matched
{% if not everything %}
    where txn_ref in (select scope.txn_ref from scope)
{% endif %}
