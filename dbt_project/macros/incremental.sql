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
  - A consumer tells the models its config names in meta `fw_rows_to` the keys of the rows it
    replaced or wrote, or 'all' (fw_row_listeners): int_payments_matched tells fct_findings, which
    computes again only those payments' findings (fw_findings_pre, fw_payments_told).

  The data tests of these models are consumers too (`data_tests:<model>`): each model also writes
  there the keys of every row it added or deleted (or 'all' when built from scratch or told 'all'),
  and the tests of its rows read only the rows whose keys are listed (fw_untested, through the
  `where` placeholder `__fw_untested__(...)`, see get_where_subquery below): a row nobody wrote since
  the tests last passed is the row they passed on. A model's list is emptied at the end of a run
  where every data test downstream of the model passed (fw_data_tests_consumed, on-run-end), so a
  failed or partial run leaves it for the next. fundwatch.warehouse rebuilds everything (--full-refresh, so 'all')
  when the dbt project changed: rows computed by an older model or checked by an older test are
  never kept.
-#}

{#- A person (项目编码 + 公民身份号码, NULL alike as `is not distinct from`), hashed into one column:
    stored by the two staging models that hold people, it lets a day's scope be one equality, which
    DuckDB turns into a filter inside the scan itself (a Bloom filter of the few people touched) instead
    of reading every column of 10M rows into a two-column join (at 10M payments the day after's two int
    models 5.3 -> 3.3 s: README, Measurements). Only ever a filter of what a day recomputes, never a
    match: a hash shared by two people (a chance of 2^-64 per pair) lets in rows the exact joins then
    leave alone, or recomputes a row as it was, with all its person's rows beside it. -#}
{% macro person_hash(project_code, id_number) -%}
    hash({{ project_code }}, {{ id_number }})
{%- endmacro %}

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

{#- on-run-start: the record of the last build that succeeded (fundwatch.warehouse: _LAST_BUILD, written
    after a build that succeeded, read to build only what changed since) is dropped by every run: a run
    that fails, or any run by hand (another date, a selection), leaves no record to trust. -#}
{% macro fw_forget_last_build() %}
    drop table if exists incremental.fw_last_build
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
    raw row went (their keys pushed to the consumers and its own data tests, then deleted). Rows are
    compared only in the lineage groups (file, version, load run) whose row numbers may differ; a
    group's row numbers are compared by blocks of 64 (fw_row_blocks): a group is the same on both
    sides when every block is on both sides with the same count and the same 64-bit set of row
    numbers, and its count is that set's size (no row number twice). Exact: such a block holds
    exactly the rows of its set on each side, once each; a block with a row number twice always
    counts as changed, and a changed group is compared row by row. Without sorting or listing the
    rows (about half the cost of comparing sorted lists at 10M rows). -#}
{% macro fw_rows_pre(source_relation, consumers, kind, keys) %}
    {% if fw_is_incremental() %}
    create or replace temp table fw_groups_{{ this.name }} as
        with
        came as ({{ fw_row_blocks(source_relation) }}),
        have as ({{ fw_row_blocks(this) }})
        select distinct source_file, file_sha256, load_run_id
        from came full join have using (source_file, file_sha256, load_run_id, fw_block)
        where
            came.fw_rows is distinct from have.fw_rows or came.fw_bits is distinct from have.fw_bits
            or came.fw_rows <> bit_count(came.fw_bits);
    create or replace temp table fw_new_{{ this.name }} as
        select file_sha256, source_row, source_file, load_run_id
        from {{ source_relation }} semi join fw_groups_{{ this.name }} using (source_file, file_sha256, load_run_id)
        except
        select file_sha256, source_row, source_file, load_run_id
        from {{ this }} semi join fw_groups_{{ this.name }} using (source_file, file_sha256, load_run_id);
    {#- The raw side limited to the changed groups too (a row of the same lineage is in the same group):
        else the anti-join builds its table from every raw row (0.9-1.2 s at 10M payments). -#}
    create or replace temp table fw_gone_{{ this.name }} as
        select * from {{ this }} as t
        where
            (t.source_file, t.file_sha256, t.load_run_id) in (select * from fw_groups_{{ this.name }})
            and not exists (
                select 1 from {{ source_relation }} as s
                where
                    (s.source_file, s.file_sha256, s.load_run_id) in (select * from fw_groups_{{ this.name }})
                    and {{ _fw_lineage_match('s', 't') }}
            );
    {{ _fw_push(consumers + [fw_tests_consumer()], kind, keys, 'fw_gone_' ~ this.name) }}
    delete from {{ this }} as t
        where exists (select 1 from fw_gone_{{ this.name }} as g where {{ _fw_lineage_match('g', 't') }});
    {% endif %}
{% endmacro %}

{#- The row numbers of a relation's lineage groups by blocks of 64: row number r is bit r & 63 of
    block r >> 6 (two's complement: one block and bit for every integer); per block, how many rows
    and the set of their row numbers. -#}
{% macro fw_row_blocks(relation) -%}
    select
        source_file, file_sha256, load_run_id, source_row >> 6 as fw_block, count(*) as fw_rows,
        bit_or(1::ubigint << (source_row & 63)::ubigint) as fw_bits
    from {{ relation }} group by source_file, file_sha256, load_run_id, fw_block
{%- endmacro %}

{#- In the staging model's SQL: only the raw rows that came (all of them when built from scratch). -#}
{% macro fw_rows_new() -%}
    {%- if fw_is_incremental() -%}
    where (file_sha256, source_row, source_file, load_run_id) in (select * from fw_new_{{ this.name }})
    {%- endif -%}
{%- endmacro %}

{#- post_hook of a row-wise staging model: the keys of the rows that came, or 'all'. -#}
{% macro fw_rows_post(consumers, kind, keys) %}
    {% if fw_is_incremental() %}
    {{ _fw_push(consumers + [fw_tests_consumer()], kind, keys,
        '(select t.* from ' ~ this ~ ' as t semi join fw_new_' ~ this.name ~ ' as n on '
        ~ _fw_lineage_match('n', 't') ~ ')') }}
    drop table fw_new_{{ this.name }};
    drop table fw_gone_{{ this.name }};
    drop table fw_groups_{{ this.name }};
    {% else %}
    {{ _fw_push(consumers + [fw_tests_consumer()], 'all', [], '(select 1)') }}
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

{#- The columns of a row that name it in the data tests' lists (fw_untested), of those the model has. -#}
{% macro _fw_row_keys(column_names) -%}
    {{ return(['project_code', 'id_number', 'account_no', 'txn_ref'] | select('in', column_names) | list) }}
{%- endmacro %}

{#- The consumer name under which a model lists the rows its data tests have yet to see. -#}
{% macro fw_tests_consumer(model_name=none) -%}
    data_tests:{{ model_name or this.name }}
{%- endmacro %}

{#- pre_hook of a consumer: delete its rows whose key was touched, so that a key that went is gone
    (the keys it recomputes are replaced by the fw_delete_insert strategy); its data tests are told
    which rows went, or 'all'. The rows are found once (their row ids) and deleted by row id. -#}
{% macro fw_consume_pre(this_key, change_key) %}
    {% if fw_is_incremental() %}
    {% set keys = _fw_row_keys(adapter.get_columns_in_relation(this) | map(attribute='name') | list) %}
    create or replace temp table fw_touched_{{ this.name }} as
        select rowid as fw_rowid, {{ keys | join(', ') }} from {{ this }}
        where not {{ fw_everything() }} and {{ this_key }} in (
            select {{ change_key }} from {{ fw_changes() }} where kind <> 'all');
    {{ _fw_push(fw_row_listeners(), 'all', [], '(select 1) as one where ' ~ fw_everything()) }}
    {{ _fw_push(fw_row_listeners(), 'rows', keys, 'fw_touched_' ~ this.name) }}
    delete from {{ this }}
        where {{ fw_everything() }} or rowid in (select fw_rowid from fw_touched_{{ this.name }});
    drop table fw_touched_{{ this.name }};
    {% endif %}
{% endmacro %}

{#- post_hook of a consumer: its changes are taken in (same transaction as its rows); built from
    scratch, its data tests see every row. -#}
{% macro fw_consumed() %}
    delete from incremental.changes where consumer = '{{ this.name }}';
    {% if not fw_is_incremental() %}
    {{ _fw_push(fw_row_listeners(), 'all', [], '(select 1)') }}
    {% endif %}
{% endmacro %}

{#- Who is told the keys of the rows a consumer replaces (or 'all'): its data tests, and the models
    its config names in meta `fw_rows_to` (fct_findings takes in only the payments int_payments_matched
    wrote or deleted). -#}
{% macro fw_row_listeners() -%}
    {{ return([fw_tests_consumer()] + ((config.get('meta') or {}).get('fw_rows_to') or [])) }}
{%- endmacro %}

{#- incremental_strategy='fw_delete_insert' of a consumer: delete+insert by its unique key (the
    rows it replaces found once, deleted by row id), and its listeners (fw_row_listeners) are told the
    keys of the rows it replaced and of those it wrote (each unless it already takes in every row). -#}
{% macro get_incremental_fw_delete_insert_sql(arg_dict) %}
    {%- set target, temp = arg_dict['target_relation'], arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='name') | list -%}
    {%- set keys = _fw_row_keys(columns) -%}
    {%- set replaced = 'fw_replaced_' ~ this.name -%}
    create or replace temp table {{ replaced }} as
        select rowid as fw_rowid, {{ keys | join(', ') }} from {{ target }}
        where {{ key }} in (select {{ key }} from {{ temp }});
    {%- for listener in fw_row_listeners() %}
    {%- set pending = " where not exists (select 1 from incremental.changes where consumer = '"
        ~ listener ~ "' and kind = 'all')" %}
    {{ _fw_push([listener], 'rows', keys, '(select * from ' ~ replaced ~ pending ~ ')') }}
    {{ _fw_push([listener], 'rows', keys, '(select * from ' ~ temp ~ pending ~ ')') }}
    {%- endfor %}
    delete from {{ target }} where rowid in (select fw_rowid from {{ replaced }});
    insert into {{ target }} ({{ get_quoted_csv(columns) }})
        select {{ get_quoted_csv(columns) }} from {{ temp }};
    drop table {{ replaced }}
{% endmacro %}

{#- In a data test's `where`: the rows of the tested relation its tests have not yet seen, as a SQL
    predicate. `checks` lists (column, model, key): the rows whose `column` is the key of a row that
    `model` wrote since the tests last passed (key 'txn_ref', or 'roster_key' for 项目编码|公民身份号码);
    every row when one of the models was built from scratch; and every row whose first `column` (the
    row's own key) is NULL, as no list can name it. -#}
{% macro fw_untested(checks) -%}
    {%- set consumers = [] -%}
    {%- for column, model, key in checks -%}
        {%- if key not in ['txn_ref', 'roster_key'] -%}
            {{ exceptions.raise_compiler_error("fw_untested: key " ~ key ~ " of " ~ model ~ " is neither txn_ref nor roster_key") }}
        {%- endif -%}
        {%- do consumers.append("'" ~ fw_tests_consumer(model) ~ "'") -%}
    {%- endfor -%}
    (
        exists (select 1 from incremental.changes where kind = 'all' and consumer in ({{ consumers | join(', ') }}))
        or {{ checks[0][0] }} is null
    {%- for column, model, key in checks %}
        or {{ column }} in (
            select {{ 'txn_ref' if key == 'txn_ref' else "project_code || '|' || id_number" }}
            from incremental.changes where consumer = '{{ fw_tests_consumer(model) }}'
        )
    {%- endfor %}
    )
{%- endmacro %}

{#- dbt's hook for a generic test's `where` config, overridden for one placeholder:
    `__fw_untested__(column = model.key, ...)` becomes fw_untested([(column, model, key), ...]);
    any other `where` is dbt's. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and where.strip().startswith('__fw_untested__(') -%}
        {%- set checks = [] -%}
        {%- for check in where.strip()[16:-1].split(',') -%}
            {%- set column, target = check.split('=') -%}
            {%- set model, key = target.strip().split('.') -%}
            {%- do checks.append((column.strip(), model, key)) -%}
        {%- endfor -%}
        {%- set where = fw_untested(checks) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#- on-run-end: a model's list for its data tests is emptied when every data test downstream of the
    model passed in this run (every test that reads the list is downstream: it tests the model or
    what is built from it). Not after one of them failed, was skipped or was not selected: the rows
    stay listed for the next run. A build of what changed (fundwatch.warehouse) selects every node
    downstream of what it builds, so the lists its models write are emptied when all is well. -#}
{% macro fw_data_tests_consumed(results) %}
    {%- if execute -%}
    {%- set passed = [] -%}
    {%- for result in results if result.node.resource_type == 'test' and result.status == 'pass' -%}
        {%- do passed.append(result.node.unique_id) -%}
    {%- endfor -%}
    {#- the ancestors of every data test that did not pass -#}
    {%- set reach = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'test' and node.unique_id not in passed -%}
        {%- for parent in node.depends_on.nodes if parent not in reach -%}
            {%- do reach.append(parent) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set walk = namespace(done=not reach) -%}
    {%- for _ in range(graph.nodes | length) if not walk.done -%}
        {%- set more = [] -%}
        {%- for uid in reach if uid in graph.nodes -%}
            {%- for parent in graph.nodes[uid].depends_on.nodes if parent not in reach and parent not in more -%}
                {%- do more.append(parent) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- do reach.extend(more) -%}
        {%- set walk.done = not more -%}
    {%- endfor -%}
    {%- set kept = [] -%}
    {%- for uid in reach if uid in graph.nodes and graph.nodes[uid].resource_type == 'model' -%}
        {%- do kept.append("'" ~ fw_tests_consumer(graph.nodes[uid].name) ~ "'") -%}
    {%- endfor -%}
    delete from incremental.changes where starts_with(consumer, 'data_tests:')
    {%- if kept %} and consumer not in ({{ kept | join(', ') }}){% endif %}
    {%- endif -%}
{% endmacro %}

{#-
  The evidence (fct_finding_evidence) is built for the findings a day can change, not for all of
  them: a finding's evidence depends only on its identity (rule, subject), its project_code and
  unit_code, and the records below; so a day recomputes the evidence of
  - every finding that is new, or whose project_code/unit_code moved (against
    incremental.evidence_subjects, what the evidence was last built for), and drops the evidence of
    findings that went;
  - every finding whose person-level records may have changed (the keys stg_raw__payments and
    stg_raw__roster_entries list for it in incremental.changes): a payment subject whose payment,
    person (项目编码|公民身份号码, its roster entry and other payments) or account was touched; a
    roster subject whose entry or whose ID number's payments were touched; a project subject whose
    spending by category includes a touched payment;
  - every file and row subject when the file register, the rejected rows or the total mismatches
    changed;
  - everything when any other input changed (allocations, credits, projects, vouchers, postings,
    reports, decisions, the death and staff registers, the rule parameters: small tables, each
    signed by its row count and the sum of its rows' hashes, against the signatures stored when the
    evidence was last built, incremental.evidence_inputs), when it was told 'all', or when any of
    that bookkeeping is missing.
  A scope taken too wide only costs time; tests/dbt/test_dbt_incremental.py compares the result
  with a full rebuild.
-#}
{% macro fw_evidence_inputs() -%}
    {{ return({
        'everything': [
            'stg_raw__allocations', 'int_allocations_credited', 'stg_raw__credits',
            'int_credits_matched_to_allocations', 'stg_raw__projects', 'stg_raw__expenditures',
            'stg_raw__postings', 'stg_raw__final_reports', 'stg_raw__decisions', 'stg_raw__deaths',
            'stg_raw__staff_members', 'int_rule_parameters_pivoted'
        ],
        'files': ['stg_raw__files', 'stg_raw__rejected_rows', 'stg_raw__total_mismatches'],
    }) }}
{%- endmacro %}

{#- A signature of each evidence input: its row count and the sum of its rows' 64-bit hashes (equal
    signatures, equal rows up to a hash collision, as ingestion.schema.raw_signatures). -#}
{% macro _fw_evidence_signatures() -%}
    {%- set inputs = fw_evidence_inputs() -%}
    {%- for name in inputs.everything + inputs.files %}
    select '{{ name }}' as name, count(*) as row_count, sum(hash(t))::hugeint as row_hashes from {{ ref(name) }} as t
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- The evidence inputs whose signature differs from the one stored at the last build, and '*all' when
    the evidence was told 'all' or that bookkeeping is missing. -#}
{% macro _fw_evidence_changed() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set known = [] -%}
    {%- for name in ['evidence_subjects', 'evidence_inputs'] -%}
        {%- if adapter.get_relation(database=this.database, schema='incremental', identifier=name) is not none -%}
            {%- do known.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if known | length < 2 -%}
        {{ return(['*all']) }}
    {%- endif -%}
    {%- set changed = run_query(
        "select now.name from (" ~ _fw_evidence_signatures() ~ ") as now left join incremental.evidence_inputs as stored"
        ~ " using (name) where stored.row_hashes is distinct from now.row_hashes"
        ~ " or stored.row_count is distinct from now.row_count"
        ~ " union all select '*all' where " ~ fw_everything()
    ) -%}
    {{ return(changed.columns[0].values() | list) }}
{% endmacro %}

{#- The fingerprint of each finding's evidence as the findings state keeps it, `evidence_md5` (the part
    after the colon of fundwatch.pipeline.FINGERPRINT_SQL's content_hash): an MD5 of the number of its
    records, of their kinds and texts counted, and of two sums of 64-bit hashes of each record (kind,
    order, text; summed, so that no list of records is built), for every finding in fw_ev_subjects
    (with no record: n = 0), or only those in fw_ev_scope. Kept by fct_finding_evidence's post_hook
    where the evidence is computed, so that the export reads one row per finding instead of
    hashing 1.06M records (400 MB of JSON at 10M payments) every day. A changed record goes unnoticed
    only if its 64-bit hash is the old one's (a chance of 2^-64 per change). hash() is DuckDB's own,
    stable within a version: a DuckDB whose hash() differs makes every stored evidence part differ once
    (that day reads and writes every finding's evidence again). -#}
{% macro _fw_evidence_fingerprints(in_scope) %}
    select
        subjects.finding_id,
        md5(cast(to_json([
            cast(coalesce(sums.n, 0) as varchar), cast(sums.kinds as varchar), cast(sums.records as varchar),
            cast(sums.hi as varchar), cast(sums.lo as varchar)
        ]) as varchar)) as evidence_md5
    from fw_ev_subjects as subjects
    left join (
        select
            finding_id, count(*) as n, count(evidence_kind) as kinds, count(record_json) as records,
            sum(hash(evidence_kind, record_seq, record_json)) as hi,
            sum(hash(record_json, record_seq, evidence_kind, 'fw')) as lo
        from {{ this }}
        {%- if in_scope %}
        where finding_id in (select finding_id from fw_ev_scope)
        {%- endif %}
        group by finding_id
    ) as sums on subjects.finding_id = sums.finding_id
    {%- if in_scope %}
    where subjects.finding_id in (select finding_id from fw_ev_scope)
    {%- endif %}
{% endmacro %}

{#- pre_hook of fct_finding_evidence: the findings (fw_ev_subjects, also what the post_hook records)
    and, built incrementally, those whose evidence is computed again (fw_ev_scope); the evidence of
    those and of the findings gone deleted. -#}
{% macro fw_evidence_pre() %}
    create or replace temp table fw_ev_subjects as
        select
            finding_id, rule_id, subject_type, subject_key, project_code, unit_code
        from {{ ref('fct_findings') }};
    {% if fw_is_incremental() %}
    {%- set inputs = fw_evidence_inputs() -%}
    {%- set changed = _fw_evidence_changed() -%}
    {%- set everything = '*all' in changed or (changed | select('in', inputs.everything) | list | length > 0) -%}
    {%- set files = changed | select('in', inputs.files) | list | length > 0 -%}
    create or replace temp table fw_ev_scope as
    {%- if everything %}
        select finding_id from fw_ev_subjects;
    delete from {{ this }};
    {%- else %}
        with
        changes as (select * from {{ fw_changes() }} where kind <> 'all'),
        persons as (select project_code || '|' || id_number as person_key from changes),
        payment_subjects as (
            select s.finding_id, p.txn_ref, p.project_code || '|' || p.id_number as person_key, p.account_no
            from fw_ev_subjects as s
            inner join {{ ref('stg_raw__payments') }} as p on s.subject_key = p.txn_ref
            where s.subject_type = 'payment'
        ),
        roster_subjects as (
            select s.finding_id, r.roster_key, r.id_number
            from fw_ev_subjects as s
            inner join {{ ref('stg_raw__roster_entries') }} as r on s.subject_key = r.roster_key
            where s.subject_type = 'roster_entry'
        )
        select finding_id from payment_subjects
        where
            txn_ref in (select txn_ref from changes)
            or person_key in (select person_key from persons)
            or account_no in (select account_no from changes)
        union
        select finding_id from roster_subjects
        where
            roster_key in (select person_key from persons)
            or id_number in (select id_number from changes)
        union
        select finding_id from fw_ev_subjects
        where
            subject_type = 'project' and rule_id in ('PROJ_OVER_BUDGET', 'PROJ_REPORT_MISMATCH')
            and subject_key in (select project_code from changes)
        union
        select finding_id from (
            select finding_id, project_code, unit_code from fw_ev_subjects
            except
            select finding_id, project_code, unit_code from incremental.evidence_subjects
        )
        {%- if files %}
        union
        select finding_id from fw_ev_subjects where subject_type in ('file', 'row')
        {%- endif %};
    delete from {{ this }}
        where finding_id in (
            select finding_id from fw_ev_scope
            union all
            (select finding_id from incremental.evidence_subjects except select finding_id from fw_ev_subjects)
        );
    {%- endif %}
    {% endif %}
{% endmacro %}

{#- post_hook of fct_finding_evidence: what it was built for and from (the findings, the inputs'
    signatures), the fingerprint of each finding's evidence (incremental.evidence_fingerprints: of the
    findings whose evidence it computed again, of every finding when built whole), its changes taken
    in (same transaction as its rows). -#}
{% macro fw_evidence_post() %}
    create or replace table incremental.evidence_subjects as
        select finding_id, project_code, unit_code from fw_ev_subjects;
    create or replace table incremental.evidence_inputs as {{ _fw_evidence_signatures() }};
    {%- set kept = fw_is_incremental() and adapter.get_relation(
        database=this.database, schema='incremental', identifier='evidence_fingerprints') is not none %}
    {%- if kept %}
    delete from incremental.evidence_fingerprints
        where finding_id in (select finding_id from fw_ev_scope)
        or finding_id not in (select finding_id from fw_ev_subjects);
    insert into incremental.evidence_fingerprints {{ _fw_evidence_fingerprints(true) }};
    {%- else %}
    create or replace table incremental.evidence_fingerprints as {{ _fw_evidence_fingerprints(false) }};
    {%- endif %}
    drop table fw_ev_subjects;
    drop table if exists fw_ev_scope;
    delete from incremental.changes where consumer = '{{ this.name }}';
{% endmacro %}

{#- pre_hook of fct_findings, built incrementally: its rows that the build computes again are deleted
    (the findings of every subject but payments, those of the payments whose 交易流水号 it was told,
    and of any payment without one; every row when told 'all'). -#}
{% macro fw_findings_pre() %}
    {% if fw_is_incremental() %}
    delete from {{ this }}
        where
            {{ fw_everything() }} or subject_type <> 'payment' or subject_key is null
            or subject_key in {{ _fw_told_txn_refs() }};
    {% endif %}
{% endmacro %}

{#- In fct_findings' SQL: the payments whose findings it computes (all of them, or those it was told
    of and any without a 交易流水号), as a predicate on the payments mart. -#}
{% macro fw_payments_told(everything) -%}
    {%- if everything -%}
    true
    {%- else -%}
    (txn_ref is null or txn_ref in {{ _fw_told_txn_refs() }})
    {%- endif -%}
{%- endmacro %}

{#- The 交易流水号 of the payments fct_findings was told of (its pending changes). -#}
{% macro _fw_told_txn_refs() -%}
    (select txn_ref from {{ fw_changes() }} where kind <> 'all')
{%- endmacro %}
