{#-
  Evidence per finding (fct_finding_evidence).

  finding_id is computed exactly as fundwatch.state does: the first 16 hex characters of
  sha256("rule_id|subject_type|subject_key") (UTF-8).
-#}
{% macro finding_id(rule_id, subject_type, subject_key) -%}
    left(sha256({{ rule_id }} || '|' || {{ subject_type }} || '|' || {{ subject_key }}), 16)
{%- endmacro %}

{#- Money inside evidence JSON: 2-decimal text, never a JSON number (JSON readers make numbers floats). -#}
{% macro evidence_money(expression) -%}
    cast(cast({{ expression }} as decimal(18, 2)) as varchar)
{%- endmacro %}

{#-
  A record's JSON text from a relation alias whose columns start with source_file, source_row:
  every column becomes a key, in order (dates ISO text, NULL as null).
-#}
{% macro evidence_json(relation_alias) -%}
    cast(to_json({{ relation_alias }}) as varchar)
{%- endmacro %}

{#-
  The records of one relation as JSON, keyed: record_key (an expression over `record.`), the
  columns named in `also` (for joins and ordering), source_file, source_row and record_json.
  Every column of the relation is a field but the `technical` ones and `exclude`; `money` columns
  become 2-decimal text; `replace` maps a column to an expression; `rename` maps a staging name
  back to the raw layer's (the renamed field comes last).
-#}
{% macro evidence_records(
    relation, key, money=[], replace={}, exclude=[], rename={}, also=[], where=none,
    technical=['file_sha256', 'load_run_id']
) -%}
    {%- set replacements = [] -%}
    {%- for column in money -%}
        {%- do replacements.append(evidence_money(column) ~ ' as ' ~ column) -%}
    {%- endfor -%}
    {%- for column, expression in replace.items() -%}
        {%- do replacements.append(expression ~ ' as ' ~ column) -%}
    {%- endfor -%}
    select
        {{ key }} as record_key,
        {%- for column in also %}
        record.{{ column }},
        {%- endfor %}
        record.source_file,
        record.source_row,
        {{ evidence_json('record') }} as record_json
    from (
        select
            source_file,
            source_row,
            * exclude ({{ (['source_file', 'source_row'] + technical + exclude + (rename | list)) | join(', ') }})
            {%- if replacements %}
            replace ({{ replacements | join(', ') }})
            {%- endif %}
            {%- for old, new in rename.items() %},
            {{ old }} as {{ new }}
            {%- endfor %}
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ) as record
{%- endmacro %}

{#- A list kind's columns: its name, the record's position and the list's length before the cut. -#}
{% macro evidence_list(kind, partition_by, order_by) -%}
    '{{ kind }}' as evidence_kind,
    row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as record_seq,
    count(*) over (partition by {{ partition_by }}) as records_total
{%- endmacro %}
