{#-
  The run date (Airflow logical date) as a DATE literal. As-of rules compare deadlines with it;
  the wall clock is never used. `dbt build`/`run`/`test` and `docs generate` (whose compiled SQL
  auditors read) refuse to start without --vars run_date; compile and sqlfluff lint fall back to a
  harmless placeholder.
-#}
{% macro fw_run_date() -%}
    {%- set value = var('run_date', none) -%}
    {%- if value is none -%}
        {%- if flags.WHICH in ['run', 'build', 'test', 'generate'] -%}
            {{ exceptions.raise_compiler_error(
                "run_date is required: dbt " ~ ('docs generate' if flags.WHICH == 'generate' else flags.WHICH)
                ~ " --vars '{run_date: YYYY-MM-DD}'"
            ) }}
        {%- endif -%}
        {%- set value = var('fundwatch_placeholder_run_date') -%}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}
