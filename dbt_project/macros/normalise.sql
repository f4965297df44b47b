{#-
  Defensive normalisation of IDs and accounts (source-files.md "Value tolerance"): ingestion
  already delivers them normalised; this keeps matching exact if a full-width digit, a lower-case
  x or a space slips through. (A 15-digit number is upgraded by ingestion, not here.)
  The twin of ingestion/normalise.py: tests/shared_cases/normalise.csv runs both; on ingestion's
  output these macros change nothing.
-#}
{% macro normalise_id(expression) -%}
    nullif(upper(translate(regexp_replace({{ expression }}, '[\s　]', '', 'g'), '０１２３４５６７８９ｘＸ', '0123456789XX')), '')
{%- endmacro %}

{% macro normalise_account(expression) -%}
    nullif(regexp_replace(translate({{ expression }}, '０１２３４５６７８９', '0123456789'), '[\s　-]', '', 'g'), '')
{%- endmacro %}

{% macro normalise_name(expression) -%}
    nullif(translate(regexp_replace({{ expression }}, '[\s　]', '', 'g'), '•・･‧', '····'), '')
{%- endmacro %}
