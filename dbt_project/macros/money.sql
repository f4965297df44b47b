{#- Exact money: every amount is DECIMAL(18,2) in 元; sums and abs() widen, so cast back. -#}
{% macro money(expression) -%}
    cast({{ expression }} as decimal(18, 2))
{%- endmacro %}

{#- Money as Chinese text for details, e.g. 1200.00元. -#}
{% macro money_text(expression) -%}
    coalesce(cast(cast({{ expression }} as decimal(18, 2)) as varchar) || '元', '（空）')
{%- endmacro %}
