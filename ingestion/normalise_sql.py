"""The value normalisers of :mod:`ingestion.normalise` as DuckDB SQL, for text cells (CSV).

For each cell SQL gives ``(v, ok)``: ``ok`` means ``v`` is exactly what the Python normaliser
returns for that text (``NULL`` for an empty cell). Only forms that are certainly accepted are
decided here — the usual ones, nearly all of a file; anything else (a value Python would refuse, a
rare form such as a 15-digit ID number, a digit that is not ASCII, a minus sign) is not ``ok``, and
its row goes through the Python normalisers, which decide it and word the reason. So SQL never
words a reason and never refuses a value.

Python's ``str.strip`` and ``re``'s ``\\s`` and ``\\d`` are Unicode-wide while RE2's are ASCII, so
the classes below list Python's own whitespace and digits (``tests/ingestion/test_ingest_csv_duckdb.py``
holds both sides equal on every accepted form and on generated values).

Each value type is a short list of steps ``(name, SQL)`` over the cell ``{s}`` and earlier steps;
:func:`select` nests them level by level, so no SQL expression is computed twice.
"""

from __future__ import annotations

import re
import sys

from ingestion.kinds import VType


def _class(codes: list[int]) -> str:
    """An RE2 character class of these code points, as ranges."""
    parts, start = [], None
    for i, c in enumerate(codes):
        start = c if start is None else start
        if i + 1 == len(codes) or codes[i + 1] != c + 1:
            parts.append(f"\\x{{{start:06x}}}" + (f"-\\x{{{c:06x}}}" if c != start else ""))
            start = None
    return "[" + "".join(parts) + "]"


#: Python's whitespace (``str.isspace``, also what ``re``'s ``\s`` matches), as an RE2 class.
WS = _class([c for c in range(sys.maxunicode + 1) if chr(c).isspace()])
#: The digits ``re``'s ``\d`` matches beyond 0-9 (Arabic-Indic and the like): left to Python.
OTHER_DIGITS = _class([c for c in range(128, sys.maxunicode + 1) if re.match(r"\d", chr(c))])
_FW_FROM = "".join(chr(0xFF10 + i) for i in range(10)) + "．，－＋／：Ｘｘ\u3000"  # normalise._FULLWIDTH
_FW_TO = "0123456789.,-+/:Xx "
# The patterns of ingestion.normalise, with ASCII digits and Python's whitespace.
_ACCOUNT_DROP = WS[:-1] + "\\-‐–—]+"
_NAME_FIX = WS[:-1] + "•・･‧]"
_MONEY = "^(?:[￥¥]|RMB|人民币)?[￥¥]?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\\.([0-9]+))?元?$"  # no minus sign
_INT = "^([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\\.0+)?(?:天|人|年|个)?$"
_DATE_SEP = (f"^([0-9]{{4}}){WS}*([-/.年]){WS}*([0-9]{{1,2}}){WS}*([-/.月]){WS}*([0-9]{{1,2}}){WS}*日?"
             "(?:[ T]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]+)?)?)?$")
_DATE_COMPACT = "^([0-9]{4})([0-9]{2})([0-9]{2})$"
_DOCNO = f"^([^0-9]*?){WS}*[〔\\[【(（［]{WS}*([0-9]{{4}}){WS}*[〕\\]】)）］]{WS}*([0-9]+){WS}*号$"


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# Helper macros (their argument is used once or is a plain column, so nothing is computed twice).
MACROS = {
    "empty": f"s IS NULL OR s = '' OR (regexp_matches(s, {_q('^' + WS)}) AND regexp_full_match(s, {_q(WS + '+')}))",
    "strip": f"""CASE WHEN regexp_matches(s, {_q(f'^{WS}|{WS}$')})
        THEN regexp_replace(s, {_q(f'^{WS}+|{WS}+$')}, '', 'g') ELSE s END""",
    "nows": f"regexp_replace(s, {_q(WS + '+')}, '', 'g')",
    "halfwidth": f"CASE WHEN strlen(s) = length(s) THEN s ELSE translate(s, {_q(_FW_FROM)}, {_q(_FW_TO)}) END",
    "blank_line": f"regexp_full_match(s, {_q('[,' + WS[1:-1] + ']*')})",
    "other_digit": f"strlen(s) <> length(s) AND regexp_matches(s, {_q(OTHER_DIGITS)})",
}

_EMPTY = ("e", "fw_empty({s})")
_SURE = ("ok", "{e} OR {v} IS NOT NULL")

STEPS: dict[VType, tuple[tuple[str, str], ...]] = {
    VType.TEXT: (("v", "nullif(fw_strip({s}), '')"), ("ok", "true")),
    VType.NAME: (
        ("v", f"""CASE WHEN {{s}} IS NULL OR NOT regexp_matches({{s}}, {_q(_NAME_FIX)}) THEN nullif({{s}}, '')
            ELSE nullif(translate(fw_nows({{s}}), '•・･‧', '····'), '') END"""),
        ("ok", "true")),
    VType.ID: (
        _EMPTY, ("fast", "regexp_full_match({s}, '[0-9]{{17}}[0-9X]')"),
        ("t", "CASE WHEN NOT {fast} AND NOT {e} THEN ltrim(fw_nows(fw_halfwidth({s})), '''') END"),
        ("v", """CASE WHEN {fast} THEN {s}
            WHEN {t} <> '' AND strlen({t}) = length({t}) AND NOT regexp_full_match({t}, '[0-9]{{15}}') THEN upper({t})
            END"""),
        ("ok", "{e} OR {v} IS NOT NULL OR {t} = ''")),
    VType.ACCOUNT: (
        _EMPTY, ("fast", "regexp_full_match({s}, '[0-9]+')"),
        ("t", f"""CASE WHEN NOT {{fast}} AND NOT {{e}}
            THEN ltrim(regexp_replace(fw_halfwidth({{s}}), {_q(_ACCOUNT_DROP)}, '', 'g'), '''') END"""),
        ("v", "CASE WHEN {fast} THEN {s} WHEN regexp_full_match({t}, '[0-9]+') THEN {t} END"),
        _SURE),
    VType.CODE: (
        _EMPTY, ("t", "fw_nows(fw_halfwidth({s}))"),
        ("v", "CASE WHEN NOT {e} AND regexp_full_match({t}, '[0-9]{{6}}') THEN {t} END"),
        _SURE),
    VType.MONEY: (
        _EMPTY, ("fast", "regexp_full_match({s}, '[0-9]{{1,16}}(?:\\.[0-9]{{1,2}})?')"),
        ("m", f"""CASE WHEN NOT {{fast}} AND NOT {{e}}
            THEN regexp_extract(fw_nows(fw_halfwidth({{s}})), {_q(_MONEY)}, ['i', 'f']) END"""),
        ("i", "replace({m}.i, ',', '')"),
        ("v", """CASE WHEN {fast} THEN CAST({s} AS DECIMAL(18, 2))
            WHEN {i} <> '' AND length(ltrim({i}, '0')) <= 16 AND ltrim({m}.f[3:], '0') = ''
            THEN try_cast({i} || '.' || rpad({m}.f[1:2], 2, '0') AS DECIMAL(18, 2)) END"""),
        _SURE),
    VType.INT: (
        _EMPTY,
        ("g", f"""CASE WHEN NOT {{e}}
            THEN replace(regexp_extract(fw_nows(fw_halfwidth({{s}})), {_q(_INT)}, 1), ',', '') END"""),
        ("v", "CASE WHEN {g} <> '' AND length(ltrim({g}, '0')) <= 10 THEN try_cast({g} AS INTEGER) END"),
        _SURE),
    VType.DATE: (
        _EMPTY, ("t", "CASE WHEN NOT {e} THEN fw_strip(fw_halfwidth({s})) END"),
        ("p", f"""CASE WHEN NOT fw_other_digit({{t}})
            THEN regexp_extract({{t}}, {_q(_DATE_SEP)}, ['y', 'a', 'm', 'b', 'd']) END"""),
        ("c", f"CASE WHEN {{p}}.y = '' THEN regexp_extract({{t}}, {_q(_DATE_COMPACT)}, ['y', 'm', 'd']) END"),
        ("ymd", """CASE
            WHEN {p}.y <> '' AND ({p}.a, {p}.b) IN (('-', '-'), ('/', '/'), ('.', '.'), ('年', '月'))
                AND ({p}.a <> '年' OR split_part(split_part({t}, ' ', 1), 'T', 1) LIKE '%日')
                THEN [CAST({p}.y AS INTEGER), CAST({p}.m AS INTEGER), CAST({p}.d AS INTEGER)]
            WHEN {c}.y <> '' THEN [CAST({c}.y AS INTEGER), CAST({c}.m AS INTEGER), CAST({c}.d AS INTEGER)] END"""),
        ("v", "CASE WHEN {ymd}[1] BETWEEN 1900 AND 2099 THEN try(make_date({ymd}[1], {ymd}[2], {ymd}[3])) END"),
        _SURE),
    VType.DOCNO: (
        _EMPTY, ("t", "CASE WHEN NOT {e} THEN fw_strip({s}) END"),
        ("h", "replace(fw_halfwidth({t}), ' ', '')"),
        ("od", "fw_other_digit({h})"),
        ("m", f"CASE WHEN NOT {{od}} THEN regexp_extract({{h}}, {_q(_DOCNO)}, ['p', 'y', 'n']) END"),
        ("v", "CASE WHEN {m}.p <> '' THEN {m}.p || '〔' || {m}.y || '〕' || {m}.n || '号' ELSE {t} END"),
        ("ok", "{e} OR NOT {od}")),
}

_REF = re.compile(r"\{([a-z]\w*)\}")  # a step's name; {17} and \x{00000a} are not


def create_macros(con) -> None:  # noqa: ANN001 - a DuckDB connection
    """Create the helper macros ``fw_<name>`` on this connection (idempotent)."""
    for name, body in MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO fw_{name}(s) AS {body}")


def select(source: str, cells: dict[str, VType], keep: str) -> str:
    """A query over ``source`` (which has a column ``<p>_s`` for each ``p`` in ``cells``) giving the
    columns ``keep`` and, for each ``p``, ``<p>_v`` and ``<p>_ok``: the cell normalised as its type.
    Steps are nested level by level, each level one projection."""
    levels: dict[int, list[str]] = {}
    for p, vtype in cells.items():
        level = {"s": 0}
        for name, sql in STEPS[vtype]:
            refs = _REF.findall(sql)
            level[name] = 1 + max((level[r] for r in refs), default=0)
            expr = _REF.sub(lambda m, p=p: f"{p}_{m.group(1)}", sql).replace("{{", "{").replace("}}", "}")
            levels.setdefault(level[name], []).append(f"{expr} AS {p}_{name}")
    query = source
    for n in sorted(levels):
        query = f"SELECT *, {', '.join(levels[n])} FROM ({query})"
    outs = ", ".join(f"{p}_v, {p}_ok" for p in cells)
    return f"SELECT {keep}, {outs} FROM ({query})"
