{#-
  The run date (Airflow logical date) as a DATE literal. As-of rules compare deadlines with it;
  the wall clock is never used.

  The pipeline passes it in the environment variable FUNDWATCH_RUN_DATE, read only when dbt
  executes (`execute`), never while it parses: so a new date does not make dbt re-parse the project
  (a `--vars` change does: dbt then throws its partial parse away). `--vars '{run_date: ...}'` is
  still accepted and wins. The compiled SQL (also in the docs) shows the date itself.
  `dbt build`/`run`/`test` and `docs generate` (whose compiled SQL auditors read) refuse to run
  without a run date; compile and sqlfluff lint fall back to a harmless placeholder.
-#}
{% macro fw_run_date() -%}
    {%- set value = var('run_date', none) -%}
    {%- if value is none and execute -%}
        {%- set value = env_var('FUNDWATCH_RUN_DATE', '') or none -%}
    {%- endif -%}
    {%- if value is none -%}
        {%- if execute and flags.WHICH in ['run', 'build', 'test', 'generate'] -%}
            {{ exceptions.raise_compiler_error(
                "run_date is required: FUNDWATCH_RUN_DATE=YYYY-MM-DD dbt "
                ~ ('docs generate' if flags.WHICH == 'generate' else flags.WHICH)
                ~ " (or --vars '{run_date: YYYY-MM-DD}')"
            ) }}
        {%- endif -%}
        {%- set value = var('fundwatch_placeholder_run_date') -%}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}
