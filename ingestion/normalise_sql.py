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

from ingestion.kinds import VType
from ingestion.normalise import _ID_WEIGHTS

# Python's whitespace (``str.isspace``, also what ``re``'s ``\\s`` matches) and the digits ``re``'s
# ``\\d`` matches beyond 0-9 (Arabic-Indic and the like: left to Python), as code point ranges.
# Written out (working them out at import costs seconds); a test derives them from Python again.
WS_RANGES = (
    (0x9, 0xD), (0x1C, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
    (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
)
OTHER_DIGIT_RANGES = (
    (0x660, 0x669), (0x6F0, 0x6F9), (0x7C0, 0x7C9), (0x966, 0x96F), (0x9E6, 0x9EF), (0xA66, 0xA6F),
    (0xAE6, 0xAEF), (0xB66, 0xB6F), (0xBE6, 0xBEF), (0xC66, 0xC6F), (0xCE6, 0xCEF), (0xD66, 0xD6F),
    (0xDE6, 0xDEF), (0xE50, 0xE59), (0xED0, 0xED9), (0xF20, 0xF29), (0x1040, 0x1049), (0x1090, 0x1099),
    (0x17E0, 0x17E9), (0x1810, 0x1819), (0x1946, 0x194F), (0x19D0, 0x19D9), (0x1A80, 0x1A89),
    (0x1A90, 0x1A99), (0x1B50, 0x1B59), (0x1BB0, 0x1BB9), (0x1C40, 0x1C49), (0x1C50, 0x1C59),
    (0xA620, 0xA629), (0xA8D0, 0xA8D9), (0xA900, 0xA909), (0xA9D0, 0xA9D9), (0xA9F0, 0xA9F9),
    (0xAA50, 0xAA59), (0xABF0, 0xABF9), (0xFF10, 0xFF19), (0x104A0, 0x104A9), (0x10D30, 0x10D39),
    (0x11066, 0x1106F), (0x110F0, 0x110F9), (0x11136, 0x1113F), (0x111D0, 0x111D9), (0x112F0, 0x112F9),
    (0x11450, 0x11459), (0x114D0, 0x114D9), (0x11650, 0x11659), (0x116C0, 0x116C9), (0x11730, 0x11739),
    (0x118E0, 0x118E9), (0x11950, 0x11959), (0x11C50, 0x11C59), (0x11D50, 0x11D59), (0x11DA0, 0x11DA9),
    (0x16A60, 0x16A69), (0x16AC0, 0x16AC9), (0x16B50, 0x16B59), (0x1D7CE, 0x1D7FF), (0x1E140, 0x1E149),
    (0x1E2F0, 0x1E2F9), (0x1E950, 0x1E959), (0x1FBF0, 0x1FBF9),
)


def _class(ranges: tuple[tuple[int, int], ...]) -> str:
    """An RE2 character class of these code point ranges."""
    return "[" + "".join(f"\\x{{{a:06x}}}" + (f"-\\x{{{b:06x}}}" if b != a else "") for a, b in ranges) + "]"


WS = _class(WS_RANGES)
OTHER_DIGITS = _class(OTHER_DIGIT_RANGES)
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


_FIRST17 = "(s[1:6] || '19' || s[7:15])"


def _solid() -> str:
    """SQL: the code point ``s`` is certainly not whitespace (printable ASCII, or above every space)."""
    ascii_ws = max(b for a, b in WS_RANGES if b < 128)
    other_ws = min(a for a, b in WS_RANGES if a >= 128)
    return f"s BETWEEN {ascii_ws + 1} AND {other_ws - 1} OR s > {max(b for _, b in WS_RANGES)}"


# Helper macros (over a plain column, so nothing is computed twice; on the rare paths a macro may
# take an expression, which DuckDB then computes once per use).
# A test that reads the whole cell (a regular expression, some 50 ns) is reached only, through a
# CASE (DuckDB evaluates a branch only for the rows it takes), by cells that a cheaper test (a usual
# form, the code point of the first and last character) leaves open.
MACROS = {
    "solid": _solid(),  # over a code point (ord('') is -1)
    "empty": f"""CASE WHEN s IS NULL OR s = '' THEN true WHEN fw_solid(ord(s)) THEN false
        ELSE regexp_full_match(s, {_q(WS + '+')}) END""",
    "strip": f"""CASE WHEN fw_solid(ord(s)) AND fw_solid(ord(s[-1])) OR s = '' THEN s
        ELSE regexp_replace(s, {_q(f'^{WS}+|{WS}+$')}, '', 'g') END""",
    "nows": f"regexp_replace(s, {_q(WS + '+')}, '', 'g')",
    "halfwidth": f"CASE WHEN strlen(s) = length(s) THEN s ELSE translate(s, {_q(_FW_FROM)}, {_q(_FW_TO)}) END",
    "other_digit": f"strlen(s) <> length(s) AND regexp_matches(s, {_q(OTHER_DIGITS)})",
    # normalise.upgrade_id15 over 15 ASCII digits: "19" before the year, then the check character
    "id15": f"""{_FIRST17} || substr('10X98765432', CAST(list_sum(list_transform(range(17),
        lambda i: CAST(substr({_FIRST17}, i + 1, 1) AS INTEGER) * {list(_ID_WEIGHTS)}[i + 1])) % 11
        AS INTEGER) + 1, 1)""",
}

# The usual forms, each read by one regular expression and a cast (RE2's [0-9] is ASCII, as it must be).
_MONEY_PLAIN = "[0-9]{1,16}(?:\\.[0-9]{1,2})?"
_MONEY_MARKED = "[￥¥]?(?:[0-9]{1,3}(?:,[0-9]{3}){1,4}|[0-9]{1,16})(?:\\.[0-9]{1,2})?元?"  # plain once unmarked
_DATE_USUAL = ("(?:19|20)[0-9]{2}(?:-[0-9]{1,2}-[0-9]{1,2}|/[0-9]{1,2}/[0-9]{1,2}|\\.[0-9]{1,2}\\.[0-9]{1,2}"
               "|年[0-9]{1,2}月[0-9]{1,2}日|[0-9]{4})")

# Sure of a value it read, and of an empty cell (the rare all-whitespace cell looked at last).
_SURE = ("ok", "CASE WHEN {v} IS NOT NULL OR {s} IS NULL OR {s} = '' THEN true ELSE fw_empty({s}) END")

STEPS: dict[VType, tuple[tuple[str, str], ...]] = {
    VType.TEXT: (("v", "nullif(fw_strip({s}), '')"), ("ok", "true")),
    VType.NAME: (
        ("v", f"""CASE WHEN NOT regexp_matches({{s}}, {_q(_NAME_FIX)}) THEN nullif({{s}}, '')
            ELSE nullif(translate(fw_nows({{s}}), '•・･‧', '····'), '') END"""),
        ("ok", "true")),
    VType.ID: (
        ("fast", "regexp_full_match({s}, '[0-9]{{17}}[0-9X]')"),
        ("t", "CASE WHEN NOT {fast} THEN ltrim(fw_nows(fw_halfwidth({s})), '''') END"),
        ("v", """CASE WHEN {fast} THEN {s} WHEN regexp_full_match({t}, '[0-9]{{15}}') THEN fw_id15({t})
            WHEN {t} <> '' AND strlen({t}) = length({t}) THEN upper({t}) END"""),
        ("ok", "CASE WHEN {s} IS NULL OR {fast} OR {t} = '' OR {v} IS NOT NULL THEN true ELSE false END")),
    VType.ACCOUNT: (
        ("d", "replace({s}, ' ', '')"),  # the usual forms: digits, or digits in groups with spaces
        ("fast", "regexp_full_match({d}, '[0-9]+')"),
        ("t", f"""CASE WHEN NOT {{fast}}
            THEN ltrim(regexp_replace(fw_halfwidth({{s}}), {_q(_ACCOUNT_DROP)}, '', 'g'), '''') END"""),
        ("v", "CASE WHEN {fast} THEN {d} WHEN regexp_full_match({t}, '[0-9]+') THEN {t} END"),
        _SURE),
    VType.CODE: (
        ("fast", "regexp_full_match({s}, '[0-9]{{6}}')"),
        ("t", "CASE WHEN NOT {fast} THEN fw_nows(fw_halfwidth({s})) END"),
        ("v", "CASE WHEN {fast} THEN {s} WHEN regexp_full_match({t}, '[0-9]{{6}}') THEN {t} END"),
        ("ok", "CASE WHEN {s} IS NULL OR {fast} OR {t} = '' OR {v} IS NOT NULL THEN true ELSE false END")),
    VType.MONEY: (
        ("f", f"""CASE WHEN regexp_full_match({{s}}, {_q(_MONEY_PLAIN)}) THEN CAST({{s}} AS DECIMAL(18, 2))
            WHEN regexp_full_match({{s}}, {_q(_MONEY_MARKED)}) THEN CAST(CASE
                WHEN ord({{s}}) < 128 AND NOT ends_with({{s}}, '元') THEN replace({{s}}, ',', '')
                ELSE regexp_replace({{s}}, '[￥¥,元]', '', 'g') END AS DECIMAL(18, 2)) END"""),
        ("m", f"""CASE WHEN {{f}} IS NULL AND {{s}} <> ''
            THEN regexp_extract(fw_nows(fw_halfwidth({{s}})), {_q(_MONEY)}, ['i', 'f']) END"""),
        ("i", "replace({m}.i, ',', '')"),
        ("v", """CASE WHEN {f} IS NOT NULL THEN {f}
            WHEN {i} <> '' AND length(ltrim({i}, '0')) <= 16 AND ltrim({m}.f[3:], '0') = ''
            THEN try_cast({i} || '.' || rpad({m}.f[1:2], 2, '0') AS DECIMAL(18, 2)) END"""),
        _SURE),
    VType.INT: (
        ("f", "CASE WHEN regexp_full_match({s}, '[0-9]{{1,9}}') THEN CAST({s} AS INTEGER) END"),
        ("g", f"""CASE WHEN {{f}} IS NULL AND {{s}} <> ''
            THEN replace(regexp_extract(fw_nows(fw_halfwidth({{s}})), {_q(_INT)}, 1), ',', '') END"""),
        ("v", """CASE WHEN {f} IS NOT NULL THEN {f}
            WHEN {g} <> '' AND length(ltrim({g}, '0')) <= 10 THEN try_cast({g} AS INTEGER) END"""),
        _SURE),
    VType.DATE: (
        ("f", f"""CASE WHEN regexp_full_match({{s}}, {_q(_DATE_USUAL)}) THEN CAST(CASE
            WHEN contains({{s}}, '-') THEN try_strptime({{s}}, '%Y-%m-%d')
            WHEN contains({{s}}, '.') THEN try_strptime({{s}}, '%Y.%m.%d')
            WHEN contains({{s}}, '/') THEN try_strptime({{s}}, '%Y/%m/%d')
            WHEN contains({{s}}, '年') THEN try_strptime({{s}}, '%Y年%m月%d日')
            ELSE try_strptime({{s}}, '%Y%m%d') END AS DATE) END"""),
        ("t", "CASE WHEN {f} IS NULL AND {s} <> '' THEN fw_strip(fw_halfwidth({s})) END"),
        ("p", f"""CASE WHEN NOT fw_other_digit({{t}})
            THEN regexp_extract({{t}}, {_q(_DATE_SEP)}, ['y', 'a', 'm', 'b', 'd']) END"""),
        ("c", f"CASE WHEN {{p}}.y = '' THEN regexp_extract({{t}}, {_q(_DATE_COMPACT)}, ['y', 'm', 'd']) END"),
        ("ymd", """CASE
            WHEN {p}.y <> '' AND ({p}.a, {p}.b) IN (('-', '-'), ('/', '/'), ('.', '.'), ('年', '月'))
                AND ({p}.a <> '年' OR split_part(split_part({t}, ' ', 1), 'T', 1) LIKE '%日')
                THEN [CAST({p}.y AS INTEGER), CAST({p}.m AS INTEGER), CAST({p}.d AS INTEGER)]
            WHEN {c}.y <> '' THEN [CAST({c}.y AS INTEGER), CAST({c}.m AS INTEGER), CAST({c}.d AS INTEGER)] END"""),
        ("v", """CASE WHEN {f} IS NOT NULL THEN {f}
            WHEN {ymd}[1] BETWEEN 1900 AND 2099 THEN try(make_date({ymd}[1], {ymd}[2], {ymd}[3])) END"""),
        _SURE),
    VType.DOCNO: (
        ("fast", "NOT regexp_matches({s}, '[〔\\[【(（［]')"),  # no opening bracket: the text stripped
        ("t", "CASE WHEN NOT {fast} THEN fw_strip({s}) END"),
        ("h", "replace(fw_halfwidth({t}), ' ', '')"),
        ("od", "fw_other_digit({h})"),
        ("m", f"CASE WHEN NOT {{od}} THEN regexp_extract({{h}}, {_q(_DOCNO)}, ['p', 'y', 'n']) END"),
        ("v", """CASE WHEN {fast} THEN nullif(fw_strip({s}), '')
            WHEN {m}.p <> '' THEN {m}.p || '〔' || {m}.y || '〕' || {m}.n || '号' ELSE {t} END"""),
        ("ok", "CASE WHEN {s} IS NULL OR {fast} OR NOT {od} THEN true ELSE false END")),
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
