{#-
  Defensive normalisation of IDs and accounts (source-files.md "Value tolerance"): ingestion
  already delivers them normalised; this keeps matching exact if a full-width digit, a lower-case
  x or a space slips through. (A 15-digit number is upgraded by ingestion, not here.)
  The twin of ingestion/normalise.py: tests/shared_cases/normalise.csv runs both; on ingestion's
  output these macros change nothing.
  A value already in its normal form (as ingestion delivers nearly all) is recognised by one match and
  kept as it is, which the normalisation would also give: the replacements, each a new string, cost
  4-5 times as much (at 1M roster entries 0.39 against 0.08 s for the ID numbers, as much again for
  the accounts: README, Measurements).
-#}
{% macro normalise_id(expression) -%}
    case when regexp_full_match({{ expression }}, '[0-9]{17}[0-9X]') then {{ expression }} else
    nullif(upper(translate(regexp_replace({{ expression }}, '[\s　]', '', 'g'), '０１２３４５６７８９ｘＸ', '0123456789XX')), '')
    end
{%- endmacro %}

{% macro normalise_account(expression) -%}
    case when regexp_full_match({{ expression }}, '[0-9]+') then {{ expression }} else
    nullif(regexp_replace(translate({{ expression }}, '０１２３４５６７８９', '0123456789'), '[\s　-]', '', 'g'), '')
    end
{%- endmacro %}

{% macro normalise_name(expression) -%}
    case when {{ expression }} <> '' and not regexp_matches({{ expression }}, '[\s　•・･‧]') then {{ expression }} else
    nullif(translate(regexp_replace({{ expression }}, '[\s　]', '', 'g'), '•・･‧', '····'), '')
    end
{%- endmacro %}
