-- Every rule of the catalogue has its rule_<id> DECIMAL(18,2) column in its mart, and every
-- rule_* column of a mart is a catalogued rule of that mart (ARCHITECTURE.md, "Marts").
-- It reads the marts' columns from information_schema, so it runs only after every mart that holds
-- rule columns is built (without these, a first build could run it before some mart exists):
-- depends_on: {{ ref('allocations') }}
-- depends_on: {{ ref('transfers') }}
-- depends_on: {{ ref('projects') }}
-- depends_on: {{ ref('expenditures') }}
-- depends_on: {{ ref('roster_entries') }}
-- depends_on: {{ ref('source_files') }}
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
