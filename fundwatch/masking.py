"""Masking of personal data (ID numbers, bank accounts) wherever a person does not need it.

One module for every place that shows or writes such data: the review page (``mask_text``,
``mask_subject_key``, ``mask_evidence``), log lines of dbt and Airflow (``mask_line``), test output.
"""

from __future__ import annotations

import re
from typing import Any

# A run of 15-19 digits standing on its own (an ID may end in X; full-width digits count too):
# 18-digit IDs, old 15-digit IDs, bank cards and passbooks. Longer runs are bank transaction
# references (22 digits), which a clerk needs to see.
_LONG_NUMBER = re.compile(r"(?<![\dA-Za-zＡ-Ｚａ-ｚ])(\d{17}[XxＸｘ]|\d{15,19})(?![\dA-Za-zＡ-Ｚａ-ｚ])")
_SENSITIVE_KEY = re.compile(r"id_number|account|身份|证件|账号|帐号|卡号", re.IGNORECASE)


def mask_value(value: str) -> str:
    """Keep the first 6 and last 4 characters, star the rest (short values: keep the last 2)."""
    value = str(value)
    if len(value) >= 12:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    if len(value) > 2:
        return "*" * (len(value) - 2) + value[-2:]
    return "*" * len(value)


def mask_text(text: Any) -> Any:
    """Mask every long number (ID, account) inside free text; other values unchanged."""
    if not isinstance(text, str):
        return text
    return _LONG_NUMBER.sub(lambda m: mask_value(m.group(1)), text)


def mask_subject_key(subject_type: str, key: str) -> str:
    """Only roster_entry keys (``项目编码|公民身份号码``) hold personal data: mask the ID part.

    The other keys are document numbers, transaction references, voucher numbers and file paths,
    which a clerk needs in full to find the record.
    """
    if subject_type == "roster_entry" and "|" in key:
        code, _, person = key.partition("|")
        return f"{code}|{mask_value(person)}"
    return key


def mask_evidence(value: Any, key: str = "") -> Any:
    """Mask a JSON-like evidence structure: sensitive keys whole, long numbers anywhere."""
    if isinstance(value, dict):
        return {k: mask_evidence(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_evidence(v, key) for v in value]
    if value is None or value == "":
        return value
    if key and _SENSITIVE_KEY.search(key):
        return mask_value(str(value))
    return mask_text(value)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ID_LIKE = re.compile(r"(\d{6})\d{8}(\d{3}[\dXx])")
_LONG_DIGITS = re.compile(r"\d{5,}(\d{4})")


def mask_line(line: str) -> str:
    """Mask anything that looks like an ID number or an account in a log line (stricter than display)."""
    line = _ANSI.sub("", line)
    line = _ID_LIKE.sub(lambda m: f"{m.group(1)}********{m.group(2)}", line)
    return _LONG_DIGITS.sub(lambda m: f"****{m.group(1)}", line)
