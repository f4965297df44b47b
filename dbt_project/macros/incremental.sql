{#-
  Daily cost that follows what arrived: the person-level models (payments and roster entries, up to
  10M rows) are built incrementally, and exactly: what a day recomputes is every row whose inputs
  may have changed, so the result is the full build's, row for row
  (tests/dbt/test_dbt_incremental.py compares them).

  How changes travel, in the schema `incremental` (bookkeeping, not a model):

  - `incremental.changes(consumer, kind, project_code, id_number, account_no, txn_ref)`: what each
    consumer model has yet to take in. A row-wise staging model (fw_rows_*) writes there the keys of
    every row it added or dropped, old and new alike, for each of its consumers; a small upstream
    model (fw_dim_changed) writes kind 'all' for its consumers when its content differs from what
    they last saw (`incremental.snap_<model>`). A consumer reads its rows (fw_changes), recomputes
    what they reach and deletes them in the same transaction as its own rows (fw_consumed), so a
    failed run leaves them for the next one.
  - A staging model compares the raw rows with its own by lineage (file, row, SHA-256, load run):
    rows that went are deleted, rows that came are normalised and added; nothing else is touched.
  - Any model built from scratch (first run, a full refresh) tells its consumers 'all'.
-#}

{#- is_incremental(), also where there is no relation at all (a unit test builds none). -#}
{% macro fw_is_incremental() -%}
    {{ return(this is not none and is_incremental()) }}
{%- endmacro %}

{% macro fw_changes_ddl() %}
    create schema if not exists incremental;
    create table if not exists incremental.changes (
        consumer varchar, kind varchar, project_code varchar, id_number varchar, account_no varchar,
        txn_ref varchar
    )
{% endmacro %}

{%- macro _fw_lineage_match(a, b) -%}
    {{ a }}.file_sha256 = {{ b }}.file_sha256 and {{ a }}.source_row = {{ b }}.source_row
    and {{ a }}.source_file = {{ b }}.source_file and {{ a }}.load_run_id = {{ b }}.load_run_id
{%- endmacro -%}

{%- macro _fw_push(consumers, kind, keys, from_sql) -%}
    {%- for consumer in consumers %}
    insert into incremental.changes (consumer, kind{% for k in keys %}, {{ k }}{% endfor %})
        select '{{ consumer }}', '{{ kind }}'{% for k in keys %}, {{ k }}{% endfor %} from {{ from_sql }};
    {%- endfor %}
{%- endmacro -%}

{#- pre_hook of a row-wise staging model: the lineage of raw rows not yet in it, and its rows whose
    raw row went (their keys pushed to the consumers, then deleted). -#}
{% macro fw_rows_pre(source_relation, consumers, kind, keys) %}
    {% if fw_is_incremental() %}
    create or replace temp table fw_new_{{ this.name }} as
        select file_sha256, source_row, source_file, load_run_id from {{ source_relation }}
        except
        select file_sha256, source_row, source_file, load_run_id from {{ this }};
    create or replace temp table fw_gone_{{ this.name }} as
        select * from {{ this }} as t
        where not exists (select 1 from {{ source_relation }} as s where {{ _fw_lineage_match('s', 't') }});
    {{ _fw_push(consumers, kind, keys, 'fw_gone_' ~ this.name) }}
    delete from {{ this }} as t
        where exists (select 1 from fw_gone_{{ this.name }} as g where {{ _fw_lineage_match('g', 't') }});
    {% endif %}
{% endmacro %}

{#- In the staging model's SQL: only the raw rows that came (all of them when built from scratch). -#}
{% macro fw_rows_new() -%}
    {%- if fw_is_incremental() -%}
    where (file_sha256, source_row, source_file, load_run_id) in (select * from fw_new_{{ this.name }})
    {%- endif -%}
{%- endmacro %}

{#- post_hook of a row-wise staging model: the keys of the rows that came, or 'all'. -#}
{% macro fw_rows_post(consumers, kind, keys) %}
    {% if fw_is_incremental() %}
    {{ _fw_push(consumers, kind, keys,
        '(select t.* from ' ~ this ~ ' as t semi join fw_new_' ~ this.name ~ ' as n on '
        ~ _fw_lineage_match('n', 't') ~ ')') }}
    drop table fw_new_{{ this.name }};
    drop table fw_gone_{{ this.name }};
    {% else %}
    {{ _fw_push(consumers, 'all', [], '(select 1)') }}
    {% endif %}
{% endmacro %}

{#- post_hook of a small model others depend on: 'all' for its consumers when its content changed. -#}
{% macro fw_dim_changed(consumers) %}
    {% set snap = 'incremental.snap_' ~ this.name %}
    {% set known = adapter.get_relation(database=this.database, schema='incremental', identifier='snap_' ~ this.name) %}
    {% if known is none %}
    {{ _fw_push(consumers, 'all', [], '(select 1)') }}
    {% else %}
    {{ _fw_push(consumers, 'all', [], '(select 1) as one where exists ((select * from ' ~ this ~ ' except all select * from '
        ~ snap ~ ') union all (select * from ' ~ snap ~ ' except all select * from ' ~ this ~ '))') }}
    {% endif %}
    create or replace table {{ snap }} as select * from {{ this }};
{% endmacro %}

{#- In a consumer's SQL: its pending changes (a relation with the changes table's columns). -#}
{% macro fw_changes() -%}
    (select * from incremental.changes where consumer = '{{ this.name }}')
{%- endmacro %}

{#- In a consumer's SQL, decided when it runs: whether it recomputes everything (built from scratch or
    told 'all'); it then renders its plain SQL, with no scope to compute. -#}
{% macro fw_recompute_all() %}
    {%- if not fw_is_incremental() -%}
        {{ return(true) }}
    {%- elif not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set told = run_query("select count(*) from " ~ fw_changes() ~ " where kind = 'all'") -%}
    {{ return(told.columns[0].values()[0] > 0) }}
{% endmacro %}

{#- In a consumer's hooks: the same, in SQL. -#}
{% macro fw_everything() -%}
    {%- if fw_is_incremental() -%}
    exists (select 1 from {{ fw_changes() }} where kind = 'all')
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of a consumer: delete its rows whose key was touched, so that a key that went is gone
    (the keys it recomputes are replaced by the delete+insert strategy). -#}
{% macro fw_consume_pre(this_key, change_key) %}
    {% if fw_is_incremental() %}
    delete from {{ this }} where {{ fw_everything() }} or {{ this_key }} in (
        select {{ change_key }} from {{ fw_changes() }} where kind <> 'all');
    {% endif %}
{% endmacro %}

{#- post_hook of a consumer: its changes are taken in (same transaction as its rows). -#}
{% macro fw_consumed() %}
    delete from incremental.changes where consumer = '{{ this.name }}';
{% endmacro %}
