{#-
  GB 11643-1999 validity of a 公民身份号码 paid on `paid_on`:
  18 characters (17 digits + digit or X), ISO 7064 MOD 11-2 check character, a birth date that
  exists and is not after the payment. Area codes are deliberately NOT checked (domain.md:
  elderly people carry codes that no longer exist).
  Returns a Chinese reason (VARCHAR) when invalid, NULL when valid.
-#}
{% macro gb11643_invalid_reason(id_number, paid_on) -%}
    {%- set weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] -%}
    case
        when {{ id_number }} is null then '号码为空'
        when length({{ id_number }}) != 18 then '长度为' || cast(length({{ id_number }}) as varchar) || '位，应为18位'
        when not regexp_full_match({{ id_number }}, '[0-9]{17}[0-9X]') then '含有非法字符'
        when substr('10X98765432', cast((
            {%- for w in weights %}
            {{ w }} * cast(substr({{ id_number }}, {{ loop.index }}, 1) as integer){{ ' +' if not loop.last }}
            {%- endfor %}
        ) % 11 as integer) + 1, 1) != substr({{ id_number }}, 18, 1) then '校验码错误'
        when try_strptime(substr({{ id_number }}, 7, 8), '%Y%m%d') is null then '出生日期不存在'
        when cast(try_strptime(substr({{ id_number }}, 7, 8), '%Y%m%d') as date) > {{ paid_on }}
            then '出生日期晚于发放日期'
    end
{%- endmacro %}
