"""Value normalisers: pure functions from a raw cell to the raw layer's typed value.

Every function takes what a reader produced (``str`` from CSV; ``str``/``int``/``float``/``bool``/
``date``/``datetime`` from xlsx) and returns the normalised value, ``None`` for an empty cell, or
raises :class:`BadValue` whose message says, in Chinese, what was expected (the caller adds the
column name and the value).

Decisions the spec leaves open (决定及理由):

- 金额为负数：拒收该行（ROW_REJECTED）。理由：各类文件中的金额均应为非负；负数多为冲正、退款或
  录入错误，直接载入会让“已支出”“超预算”等规则算错，拒收后经办人可据理由更正再报。零可载入。
- 金额超过两位小数（如 1200.505）：拒收。理由：“精确到分”，不做四舍五入。Excel 数值单元格的
  二进制浮点尾差（如 1200.3000000000002）按 Excel 的 15 位有效数字读为 1200.30，不视为三位小数。
- 数值单元格超过 15 位（账号、流水号、身份证号等写成了数字）：Excel 只保留 15 位有效数字，末尾
  已丢失。账号、文本列拒收并提示改为文本格式（文件中存的是未丢位的整数时照读，见 xlsx_reader）；
  身份证号写成超过 15 位的数值单元格一律拒收并提示改为文本格式（规范：不编造末尾数字）。
- 公民身份号码：为空或写成超过 15 位的数值单元格时拒收；长度、校验位、出生日期错误的文本照样载入
  （由 PAY_INVALID_ID 判断）。15 位旧号码（文本或数值单元格）升为 18 位（插入“19”并计算校验位）。
- 日期：只接受规范列出的写法（另外接受带“00:00:00”之类时间的写法，时间部分舍去）；
  纯数字只接受 8 位 yyyymmdd；年份须在 1900–2099；不存在的日期（2020-02-30）拒收。
- 整数列（资金年度、拨付时限、公示天数、受益人数）：接受数字及“30天”“12人”这类带单位的写法，
  负数拒收。
- 可选列的值无法读取（如“上报日期”写成“六月”）：拒收整行并写明原因，而不是悄悄置空——
  悄悄置空会让“公示不足”等规则在错误的数据上作出判断。
- 单位代码：必须是 6 位数字，否则拒收。
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from fundwatch import masking
from ingestion.cells import NumberText

__all__ = [
    "BadValue", "norm_text", "norm_docno", "norm_date", "norm_money", "norm_int", "norm_id",
    "norm_account", "norm_name", "norm_code", "upgrade_id15", "id_check_char", "mask_value",
]


class BadValue(ValueError):
    """A cell that cannot be read as its column's type; ``str(exc)`` is the Chinese expectation."""


_FULLWIDTH = {chr(0xFF10 + i): str(i) for i in range(10)}
_FULLWIDTH.update({"．": ".", "，": ",", "－": "-", "＋": "+", "／": "/", "：": ":",
                   "Ｘ": "X", "ｘ": "x", "\u3000": " "})
_FW_TRANS = str.maketrans(_FULLWIDTH)
_WS = re.compile(r"\s+")
_MAX_EXACT_DIGITS = 15  # Excel keeps 15 significant digits of a number cell


def _halfwidth(s: str) -> str:
    return s.translate(_FW_TRANS)


def _is_empty(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _number_cell_text(v: int | float, what: str) -> str:
    """The digits of an integral number cell, refusing ones whose trailing digits Excel lost."""
    if isinstance(v, float):
        if not v.is_integer():
            raise BadValue(f"{what}应为文本，不应是带小数的数值")
        v = int(v)
    s = str(v)
    if len(s.lstrip("-")) > _MAX_EXACT_DIGITS:
        raise BadValue(f"{what}写成了超过15位的数值单元格，Excel 已丢失末尾数字；"
                       "请把该列设为文本格式后重新导出")
    return s


# ---------------------------------------------------------------- text and document numbers
def norm_text(v: object) -> str | None:
    """Plain text: trimmed; integral number cells become their digits (codes typed as numbers)."""
    if type(v) is str:
        return v.strip() or None
    if _is_empty(v):
        return None
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, int | float):
        return _number_cell_text(v, "该值")
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    return str(v).strip()


_OPEN = "〔[【(（［"
_CLOSE = "〕]】)）］"
_DOCNO = re.compile(rf"^(\D*?)\s*[{re.escape(_OPEN)}]\s*(\d{{4}})\s*[{re.escape(_CLOSE)}]\s*(\d+)\s*号$")


def norm_docno(v: object) -> str | None:
    """文号 / 决策文号: text; the ``<prefix><bracket>yyyy<bracket>n号`` form gets 〔〕 brackets."""
    s = norm_text(v)
    if s is None:
        return None
    m = _DOCNO.match(_halfwidth(s).replace(" ", ""))
    if m and m.group(1):
        return f"{m.group(1)}〔{m.group(2)}〕{m.group(3)}号"
    return s


# ---------------------------------------------------------------- dates
_DATE_SEP = re.compile(r"^(\d{4})\s*([-/.年])\s*(\d{1,2})\s*([-/.月])\s*(\d{1,2})\s*日?"
                       r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATE_EXPECT = "应为日期，如 2020-06-30、2020/6/30、2020.6.30、2020年6月30日 或 20200630"


def _mk_date(y: str | int, m: str | int, d: str | int) -> date:
    y, m, d = int(y), int(m), int(d)
    if not 1900 <= y <= 2099:
        raise BadValue(f"年份 {y} 不合理；{_DATE_EXPECT}")
    try:
        return date(y, m, d)
    except ValueError:
        raise BadValue(f"不存在这一天；{_DATE_EXPECT}") from None


def norm_date(v: object) -> date | None:
    """Any accepted date form -> ``date``."""
    if _is_empty(v):
        return None
    if isinstance(v, datetime):
        return _mk_date(v.year, v.month, v.day)
    if isinstance(v, date):
        return _mk_date(v.year, v.month, v.day)
    if isinstance(v, bool):
        raise BadValue(_DATE_EXPECT)
    if isinstance(v, int | float):
        if isinstance(v, float) and not v.is_integer():
            raise BadValue(_DATE_EXPECT)
        v = str(int(v))
        if not _DATE_COMPACT.match(v):
            raise BadValue(_DATE_EXPECT)
    s = _halfwidth(str(v)).strip()
    m = _DATE_SEP.match(s)
    if m:
        seps = (m.group(2), m.group(4))
        if seps not in (("-", "-"), ("/", "/"), (".", "."), ("年", "月")):
            raise BadValue(_DATE_EXPECT)
        if seps == ("年", "月") and not s.split(" ")[0].split("T")[0].endswith("日"):
            raise BadValue(_DATE_EXPECT)
        return _mk_date(m.group(1), m.group(3), m.group(5))
    m = _DATE_COMPACT.match(s)
    if m:
        return _mk_date(*m.groups())
    raise BadValue(_DATE_EXPECT)


# ---------------------------------------------------------------- money and integers
_MONEY = re.compile(r"^(?:[￥¥]|RMB|人民币)?\s*(-)?\s*(?:[￥¥])?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*元?$")
_MONEY_EXPECT = "应为金额，如 1200、1200.50、1,200.00、1200元 或 ￥1,200.00"
_CENT = Decimal("0.01")
MONEY_MAX = Decimal("10000000000000000")  # DECIMAL(18,2) holds less


def norm_money(v: object) -> Decimal | None:
    """Any accepted money form -> ``Decimal`` with exactly 2 places (never via float arithmetic)."""
    if _is_empty(v):
        return None
    if isinstance(v, bool) or isinstance(v, date):
        raise BadValue(_MONEY_EXPECT)
    if isinstance(v, int):
        d = Decimal(v)
    elif isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise BadValue(_MONEY_EXPECT)
        d = Decimal(repr(v))
        if d.as_tuple().exponent < -2:  # type: ignore[operator]
            # binary tail of a number cell: read it as Excel shows it (15 significant digits)
            d = Decimal(format(v, ".15g"))
    else:
        s = _WS.sub("", _halfwidth(str(v)))
        m = _MONEY.match(s)
        if not m:
            raise BadValue(_MONEY_EXPECT)
        try:
            d = Decimal((m.group(1) or "") + m.group(2).replace(",", "") + (m.group(3) or ""))
        except InvalidOperation:
            raise BadValue(_MONEY_EXPECT) from None
    if d.as_tuple().exponent < -2 and d != d.quantize(_CENT):  # type: ignore[operator]
        raise BadValue("金额最多两位小数（精确到分）")
    if d < 0:
        raise BadValue("金额不能为负数；冲正或退款请更正原文件后重新报送")
    if d >= MONEY_MAX:
        raise BadValue("金额过大")
    return d.quantize(_CENT)


_INT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?(?:天|人|年|个)?$")
_INT_EXPECT = "应为非负整数，如 30"


def norm_int(v: object) -> int | None:
    """Integer columns (年度, 天数, 人数) -> ``int``."""
    if _is_empty(v):
        return None
    if isinstance(v, bool) or isinstance(v, date):
        raise BadValue(_INT_EXPECT)
    if isinstance(v, float):
        if not v.is_integer():
            raise BadValue(_INT_EXPECT)
        v = int(v)
    if isinstance(v, int):
        n = v
    else:
        m = _INT.match(_WS.sub("", _halfwidth(str(v))))
        if not m:
            raise BadValue(_INT_EXPECT)
        n = int(m.group(1).replace(",", ""))
    if not 0 <= n <= 2_147_483_647:
        raise BadValue(_INT_EXPECT)
    return n


# ---------------------------------------------------------------- IDs, accounts, names, codes
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# fullmatch: a $ would match before a final line end; ASCII: \d also matches full-width digits
_ID18_FAST = re.compile(r"[0-9]{17}[0-9X]")


def id_check_char(first17: str) -> str:
    """GB 11643 / ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def upgrade_id15(id15: str) -> str:
    """15-digit old number -> 18: insert ``19`` before the 2-digit year, append the check digit."""
    first17 = id15[:6] + "19" + id15[6:]
    return first17 + id_check_char(first17)


_ID_NUMBER_CELL = ("公民身份号码写成了数值单元格：Excel 数值只保留15位有效数字，18位号码的末尾几位已丢失"
                   "（或被改成0）；请把该列设为文本格式、重新录入号码后导出")


def norm_id(v: object) -> str | None:
    """公民身份号码: spaces removed, half-width, upper-case X, 15 digits upgraded; never validated,
    except that a number cell of more than 15 digits is refused (its last digits are lost)."""
    if type(v) is str and _ID18_FAST.fullmatch(v):
        return v
    if _is_empty(v):
        return None
    if isinstance(v, bool):
        raise BadValue("应为身份证号码")
    if isinstance(v, NumberText | int) or (isinstance(v, float) and v.is_integer()):
        s = str(int(v)) if isinstance(v, float) else str(v)
        if len(s.lstrip("-")) > _MAX_EXACT_DIGITS:
            raise BadValue(_ID_NUMBER_CELL)
    elif isinstance(v, float):
        s = str(v)
    else:
        s = _WS.sub("", _halfwidth(str(v))).lstrip("'").upper()
    if len(s) == 15 and s.isascii() and s.isdigit():
        return upgrade_id15(s)
    return s or None


_ACCOUNT_DROP = re.compile(r"[\s\-‐–—]+")


def norm_account(v: object) -> str | None:
    """银行账号: digits only; spaces and dashes removed."""
    if type(v) is str and v.isdigit() and v.isascii():
        return v
    if _is_empty(v):
        return None
    if isinstance(v, bool):
        raise BadValue("应为银行账号（只含数字）")
    if isinstance(v, int | float):
        s = _number_cell_text(v, "银行账号")
    else:
        s = _ACCOUNT_DROP.sub("", _halfwidth(str(v))).lstrip("'")
    if not (s.isascii() and s.isdigit()):
        raise BadValue("银行账号应只含数字（可带空格或横线）")
    return s


_NAME_FIX = re.compile(r"[\s•・･‧]")
_NAME_DOTS = str.maketrans({"•": "·", "・": "·", "･": "·", "‧": "·"})


def norm_name(v: object) -> str | None:
    """姓名: every space (also full-width) removed; the dot of minority names written ``·``."""
    if type(v) is str and v and not _NAME_FIX.search(v):
        return v
    if _is_empty(v):
        return None
    s = _WS.sub("", str(v)).translate(_NAME_DOTS)
    return s or None


_CODE_EXPECT = "单位代码应为6位数字，如 430102"


def norm_code(v: object) -> str | None:
    """单位代码: 6-digit text, also from a number cell."""
    if _is_empty(v):
        return None
    if isinstance(v, bool):
        raise BadValue(_CODE_EXPECT)
    if isinstance(v, float):
        if not v.is_integer():
            raise BadValue(_CODE_EXPECT)
        v = int(v)
    s = str(v) if isinstance(v, int) else _WS.sub("", _halfwidth(str(v)))
    if len(s) != 6 or not (s.isascii() and s.isdigit()):
        raise BadValue(_CODE_EXPECT)
    return s


# ---------------------------------------------------------------- masking for reasons and logs
def mask_value(vtype: str, v: object) -> str:
    """A cell quoted in a reason: personal data masked by its field (``fundwatch.masking``, the one
    definition), long values shortened."""
    s = "" if v is None else str(v)
    if vtype in ("id", "account", "name"):
        return masking.mask(vtype, _WS.sub("", s))
    if len(s) > 40:
        return s[:40] + "…"
    return s
