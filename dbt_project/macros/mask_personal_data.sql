{#-
  Masking of personal data, by field: the one definition in SQL. Its twin in Python is
  fundwatch/masking.py (its docstring states the rules); both are run through the same table of
  cases, tests/shared_cases/masking.csv. These macros are plain Jinja (no dbt context), so that test
  renders them as they are. NULL stays NULL.

  id       公民身份号码: from 15 characters on the first 6 and last 4 are kept, else only the tail
  account  银行账号: only the tail is kept
  name     姓名: the first character kept, the others starred except the · of minority names
  text     free text: each run of 9-21 digits standing alone masked as an id (ID shape) or account;
           an account in groups of 4 digits keeps only its last group
  The tail kept is least(4, length // 3) characters; one * per hidden character.
-#}
{% macro mask_id(expression) -%}
    case
        when length({{ expression }}) >= 15
            then left({{ expression }}, 6) || repeat('*', length({{ expression }}) - 10) || right({{ expression }}, 4)
        else {{ mask_account(expression) }}
    end
{%- endmacro %}

{% macro mask_account(expression) -%}
    repeat('*', length({{ expression }}) - least(4, length({{ expression }}) // 3))
    || right({{ expression }}, least(4, length({{ expression }}) // 3))
{%- endmacro %}

{% macro mask_name(expression) -%}
    case
        when length({{ expression }}) <= 1 then repeat('*', length({{ expression }}))
        else left({{ expression }}, 1) || regexp_replace(substr({{ expression }}, 2), '[^·]', '*', 'g')
    end
{%- endmacro %}

{#-
  Free text is cut into words (an account in groups of 4 digits; letters and digits with a joined
  decimal part) and the rest; RE2 has no look-around, so a word is masked only when it is wholly a
  number of an ID's or account's shape.
-#}
{% macro mask_text(expression) -%}
    case
        when {{ expression }} is not null
            then array_to_string(
                list_transform(
                    regexp_extract_all(
                        {{ expression }},
                        '[0-9０-９]{4}(?:[ -][0-9０-９]{4}){2,}(?:[ -][0-9０-９]{1,4})?|[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]+(?:[.．][0-9０-９]+)*|[^0-9A-Za-z０-９Ａ-Ｚａ-ｚ]+'
                    ),
                    lambda word: case
                        when regexp_full_match(word, '[0-9０-９]{4}(?:[ -][0-9０-９]{4}){2,}(?:[ -][0-9０-９]{1,4})?')
                            then regexp_replace(
                                left(word, length(word) - length(regexp_extract(word, '[0-9０-９]+$'))),
                                '[0-9０-９]', '*', 'g'
                            ) || regexp_extract(word, '[0-9０-９]+$')
                        when regexp_full_match(word, '[0-9０-９]{15}|[0-9０-９]{17}[0-9０-９XxＸｘ]')
                            then {{ mask_id('word') }}
                        when regexp_full_match(word, '[0-9０-９]{9,21}')
                            then {{ mask_account('word') }}
                        else word
                    end
                ),
                ''
            )
    end
{%- endmacro %}
