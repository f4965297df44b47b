"""Masking of ID numbers and bank accounts for display (430102********123X)."""

from __future__ import annotations

import re
from typing import Any

# A run of 15-25 digits (an ID may end in X) standing on its own: IDs, old 15-digit IDs, accounts.
_LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{14,24}[\dXx])(?![0-9A-Za-z])")
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
    """roster_entry keys are ``项目编码|公民身份号码``: mask the ID part; others as free text."""
    if subject_type == "roster_entry" and "|" in key:
        code, _, person = key.partition("|")
        return f"{code}|{mask_value(person)}"
    return mask_text(key)


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
