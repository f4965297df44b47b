{#-
  Personal data in finding details is always masked (details end up in exports, logs and pages):
  ID 430102********123X, account ****1234, name 张*.
-#}
{% macro mask_id(expression) -%}
    case
        when {{ expression }} is null then '（空）'
        when length({{ expression }}) >= 10
            then left({{ expression }}, 6) || repeat('*', length({{ expression }}) - 10) || right({{ expression }}, 4)
        else repeat('*', length({{ expression }}))
    end
{%- endmacro %}

{% macro mask_account(expression) -%}
    case
        when {{ expression }} is null then '（空）'
        when length({{ expression }}) > 4 then '****' || right({{ expression }}, 4)
        else '****'
    end
{%- endmacro %}

{% macro mask_name(expression) -%}
    case
        when {{ expression }} is null then '（空）'
        else left({{ expression }}, 1) || repeat('*', greatest(length({{ expression }}) - 1, 1))
    end
{%- endmacro %}

{#- Free text from ingestion (rejection reasons) may quote an ID or account: mask digit runs. -#}
{% macro mask_free_text(expression) -%}
    regexp_replace(
        regexp_replace({{ expression }}, '([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])', '\1********\2', 'g'),
        '[0-9]{5,}([0-9]{4})', '****\1', 'g'
    )
{%- endmacro %}
