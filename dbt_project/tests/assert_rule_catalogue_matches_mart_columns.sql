-- Every rule of the catalogue has its rule_<id> DECIMAL(18,2) column in its mart, and every
-- rule_* column of a mart is a catalogued rule of that mart (ARCHITECTURE.md, "Marts").
-- It reads the columns of every table in the marts schema, so it runs after every mart is built:
-- dbt builds two models at a time, and a mart rebuilt beside it shows a <mart>__dbt_backup table
-- (the previous day's, with its rule_* columns) until its build drops it; on a first build, a mart
-- not built yet would be missing.
-- depends_on: {{ ref('source_files') }}
-- depends_on: {{ ref('allocations') }}
-- depends_on: {{ ref('transfers') }}
-- depends_on: {{ ref('projects') }}
-- depends_on: {{ ref('expenditures') }}
-- depends_on: {{ ref('roster_entries') }}
-- depends_on: {{ ref('fct_findings') }}
-- depends_on: {{ ref('fct_finding_evidence') }}
with

catalogue as (
    select
        mart,
        'rule_' || lower(rule_id) as column_name
    from {{ ref('rule_catalog') }}
),

mart_columns as (
    select
        table_name as mart,
        column_name,
        data_type
    from information_schema.columns
    where
        table_schema = '{{ ref("payments").schema }}'
        and column_name like 'rule\_%' escape '\'
        and column_name != 'rule_id'  -- fct_findings, fct_finding_evidence: the rule's id, not a rule
        and table_name != 'fct_findings'
)

select
    coalesce(catalogue.mart, mart_columns.mart) as mart,
    coalesce(catalogue.column_name, mart_columns.column_name) as column_name,
    mart_columns.data_type
from catalogue
full outer join mart_columns
    on catalogue.mart = mart_columns.mart and catalogue.column_name = mart_columns.column_name
where catalogue.mart is null or mart_columns.mart is null or mart_columns.data_type != 'DECIMAL(18,2)'
