"""Masking of personal data, by field: the one definition in Python.

Its twin for SQL is ``dbt_project/macros/mask_personal_data.sql`` (``mask_id``, ``mask_account``,
``mask_name``, ``mask_text``); both are run through the same table of cases,
``tests/shared_cases/masking.csv``. Every place that shows or writes personal data masks through
these two: the review page (``mask_text``, ``mask_subject_key``, ``mask_evidence``), rejection
reasons of ingestion (``mask``), log lines of dbt and Airflow (``mask_line``), test output, and in
dbt the finding details and the masked subject label the GX samples show.

The fields (any length; one ``*`` per hidden character, so a wrong length stays visible):

- ``id`` 公民身份号码: 15 characters or more keep the first 6 (the area code) and the last 4
  (``430102********123X``, old 15-digit ``430102*****0123``); shorter values keep only their tail.
- ``account`` 银行账号: only the tail is kept (``************2222``).
- ``name`` 姓名: the first character is kept, every other one starred except the ``·`` of minority
  names (``张*``, ``买**·**``); a one-character name is ``*``.
- ``text`` free text: each number that could be an ID or an account is masked — a run of 9 to 21
  digits (ASCII or full-width) standing alone: not joined to letters or other digits, not the
  integer part of a decimal amount. A run with an ID's shape (15 digits, or 17 digits and a digit
  or ``X``) is masked as an ``id``, any other as an ``account``. Shorter runs are dates, codes and
  amounts; runs of 22 or more digits are bank transaction references a clerk needs to see. An
  account written in groups (``6217 0000 1111 2222``: three or more groups of 4 digits joined by a
  space or hyphen, and maybe a shorter last group) keeps only its last group.

The tail kept is ``min(4, length // 3)`` characters: never more than a third of a value, so 1–2
character values are starred whole.
"""

from __future__ import annotations

import json
import re
from typing import Any

FIELDS = ("id", "account", "name", "text")

# A word: an account written in groups of 4 digits, or letters and digits (ASCII and full-width)
# with a decimal part joined to them, so that the digits of an amount (550000000.00) or of a
# letter-prefixed reference (ZJ2020...) are one word. Tried in this order (as RE2 does in dbt).
_GROUPED = re.compile(r"[0-9０-９]{4}(?:[ -][0-9０-９]{4}){2,}(?:[ -][0-9０-９]{1,4})?")
_WORD = re.compile(_GROUPED.pattern + r"|[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]+(?:[.．][0-9０-９]+)*")
_LAST_GROUP = re.compile(r"[0-9０-９]+$")
_ID_SHAPE = re.compile(r"[0-9０-９]{15}|[0-9０-９]{17}[0-9０-９XxＸｘ]")
_NUMBER = re.compile(r"[0-9０-９]{9,21}")


def _tail(n: int) -> int:
    return min(4, n // 3)


def mask_id(value: str) -> str:
    """公民身份号码: first 6 and last 4 kept from 15 characters on, else only the tail."""
    n = len(value)
    if n >= 15:
        return value[:6] + "*" * (n - 10) + value[-4:]
    return mask_account(value)


def mask_account(value: str) -> str:
    """银行账号: only the last ``min(4, length // 3)`` characters kept."""
    keep = _tail(len(value))
    return "*" * (len(value) - keep) + (value[-keep:] if keep else "")


def mask_name(value: str) -> str:
    """姓名: the first character kept, the others starred except ``·``; one character: ``*``."""
    if len(value) <= 1:
        return "*" * len(value)
    return value[0] + re.sub(r"[^·]", "*", value[1:])


def _mask_word(m: re.Match) -> str:
    word = m.group(0)
    if _GROUPED.fullmatch(word):
        last = _LAST_GROUP.search(word).group(0)
        return re.sub(r"[0-9０-９]", "*", word[: -len(last)]) + last
    if _ID_SHAPE.fullmatch(word):
        return mask_id(word)
    if _NUMBER.fullmatch(word):
        return mask_account(word)
    return word


def mask_text(text: Any) -> Any:
    """Free text: every number that could be an ID or account masked; other values unchanged."""
    if not isinstance(text, str):
        return text
    return _WORD.sub(_mask_word, text)


_MASKERS = {"id": mask_id, "account": mask_account, "name": mask_name, "text": mask_text}


def mask(field: str, value: Any) -> Any:
    """Mask ``value`` as ``field`` (one of :data:`FIELDS`); ``None`` stays ``None``."""
    if value is None:
        return None
    return _MASKERS[field](str(value))


def mask_subject_key(subject_type: str, key: str) -> str:
    """Only roster_entry keys (``项目编码|公民身份号码``) hold personal data: mask the ID part.

    The other keys are document numbers, transaction references, voucher numbers and file paths,
    which a clerk needs in full to find the record. (dbt's twin: the marts' ``subject_label``.)
    """
    if subject_type == "roster_entry" and "|" in key:
        code, _, person = key.partition("|")
        return f"{code}|{mask_id(person)}"
    return key


# Evidence keys (raw column names and the Chinese headers of a rejected row's raw values) that hold
# an ID number or an account. Names stay readable on the review page (README, "Names in detail").
_ID_KEY = re.compile(r"id_number|身份|证件", re.IGNORECASE)
_ACCOUNT_KEY = re.compile(r"account|账号|帐号|卡号", re.IGNORECASE)


def field_of_key(key: str) -> str:
    """The field an evidence value is masked as, judged by its key: ``id``, ``account`` or ``text``."""
    if _ID_KEY.search(key):
        return "id"
    if _ACCOUNT_KEY.search(key):
        return "account"
    return "text"


def mask_evidence(value: Any, key: str = "") -> Any:
    """Mask a JSON-like evidence structure: ID and account keys by their field, numbers in free text
    anywhere, and the JSON object of a rejected row's raw values key by key."""
    if isinstance(value, dict):
        return {k: mask_evidence(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_evidence(v, key) for v in value]
    if value is None or value == "" or isinstance(value, bool | float):
        return value
    field = field_of_key(key) if key else "text"
    if field != "text":
        return mask(field, value)
    if isinstance(value, int):  # a number cell under a harmless header may still be an account
        masked = mask_text(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, str) and value.startswith("{"):
        try:
            inner = json.loads(value)
        except ValueError:
            inner = None
        if isinstance(inner, dict):
            return json.dumps(mask_evidence(inner), ensure_ascii=False)
    return mask_text(value)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOG_NUMBER = re.compile(r"[0-9０-９]{9,}[XxＸｘ]?")


def mask_line(line: str) -> str:
    """A log line: stricter than display — every run of 9 or more digits is masked wherever it
    stands (also inside references and next to letters); ID shapes as ``id``, others as ``account``."""
    line = _ANSI.sub("", line)

    def one(m: re.Match) -> str:
        run = m.group(0)
        if _ID_SHAPE.fullmatch(run):
            return mask_id(run)
        if not run[-1].isdigit():  # digits + X without an ID's shape: mask the digits only
            return mask_account(run[:-1]) + run[-1]
        return mask_account(run)

    return _LOG_NUMBER.sub(one, line)
