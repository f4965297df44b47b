{#-
  文号 handling (rules.md "Matching credits to allocations"): the form is
  <Chinese prefix><open bracket><4-digit year><close bracket><number>号 with brackets
  〔〕 [] 【】 () （）, normalised to 〔〕.
-#}
{% macro doc_no_pattern() -%}
    '(\p{Han}+)[〔\[【(（]([0-9]{4})[〕\]】)）]([0-9]+)号'
{%- endmacro %}

{#-
  A 文号 column value normalised to 〔〕 (ingestion already does this, more leniently; kept idempotent:
  tests/shared_cases/normalise.csv runs it beside ingestion/normalise.py's norm_docno).
-#}
{% macro normalise_doc_no(expression) -%}
    case
        when regexp_full_match(trim({{ expression }}), {{ doc_no_pattern() }})
            then regexp_replace(trim({{ expression }}), {{ doc_no_pattern() }}, '\1〔\2〕\3号')
        else nullif(trim({{ expression }}), '')
    end
{%- endmacro %}
