{#-
  The rows of a subject mart where at least one rule fires (a `rule_*` column is not NULL), as a SQL
  predicate over the mart's own columns: what `unpivot ... on columns('^rule_')` keeps, said before
  the unpivot, so that a million payments are not first turned into 13 million NULLs. The columns
  are read from the built relation when dbt executes; `true` before that (parsing, an empty lint
  warehouse).
-#}
{% macro any_rule_fires(relation) -%}
    {%- set rules = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) if column.name.startswith('rule_') -%}
            {%- do rules.append(column.name ~ ' is not null') -%}
        {%- endfor -%}
    {%- endif -%}
    ({{ rules | join(' or ') if rules else 'true' }})
{%- endmacro %}
