"""GB 11643 identity numbers and bank account numbers (synthetic, but well-formed)."""

from __future__ import annotations

from datetime import date
from operator import mul

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


_ZERO_OFFSET = 48 * sum(_WEIGHTS)


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return _CHECK[(sum(map(mul, first17.encode("ascii"), _WEIGHTS)) - _ZERO_OFFSET) % 11]


def make_id(area: str, birth: date, seq: int) -> str:
    """An 18-character 公民身份号码 with the right check character."""
    first17 = f"{area}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq:03d}"
    return first17 + check_char(first17)


def to_15(id18: str) -> str:
    """The old 15-digit form of an ID born in the 1900s (no century, no check character)."""
    return id18[:6] + id18[8:17]


def upgrade_15(id15: str) -> str:
    first17 = id15[:6] + "19" + id15[6:15]
    return first17 + check_char(first17)


def id_birth(idn: str) -> date | None:
    try:
        return date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14]))
    except ValueError:
        return None


def id_is_valid(idn: str, on: date | None = None) -> bool:
    """GB 11643: 18 characters, digits then a digit or X, right check character, real birth date
    (not after ``on`` when given). Area codes are deliberately not checked (see domain.md)."""
    if len(idn) != 18 or not idn[:17].isascii() or not idn[:17].isdigit() or idn[17] not in "0123456789X":
        return False
    if check_char(idn[:17]) != idn[17]:
        return False
    birth = id_birth(idn)
    if birth is None:
        return False
    return on is None or birth <= on


_LUHN_DOUBLE = tuple((2 * d - 9 if 2 * d > 9 else 2 * d) for d in range(10))


def luhn_digit(body: str) -> str:
    """The Luhn check digit to append to ``body``."""
    digits = body.encode("ascii")[::-1]
    total = sum(_LUHN_DOUBLE[d - 48] for d in digits[0::2]) + sum(digits[1::2]) - 48 * len(digits[1::2])
    return str((10 - total % 10) % 10)


def make_account(bin_: str, length: int, serial: int, luhn_ok: bool = True) -> str:
    """A unique account for ``serial`` under a 6-digit BIN: the body is an affine permutation of the
    serial (so different serials never collide), then the Luhn digit (deliberately wrong for some
    rural passbooks, which genuinely fail it)."""
    width = length - len(bin_) - 1
    modulus = 10**width
    body = str((serial * 7_919_317 + 104_729) % modulus).zfill(width)
    digit = luhn_digit(bin_ + body)
    if not luhn_ok:
        digit = str((int(digit) + 5) % 10)
    return bin_ + body + digit


def make_passbook(serial: int) -> str:
    """A 15-digit rural-credit passbook (存折) account: short enough to survive as an Excel number."""
    return "81" + str((serial * 7_919_317 + 104_729) % 10**13).zfill(13)
