from __future__ import annotations

from datetime import date

import pytest

from fundwatch.generator.ids import id_is_valid, luhn_digit, make_account, make_id, to_15, upgrade_15


@pytest.mark.parametrize(
    ("idn", "on", "valid"),
    [
        pytest.param("11010519491231002X", None, True, id="gb11643-standard-example"),
        pytest.param("110105194912310021", None, False, id="wrong-check-character"),
        pytest.param("11010519491231002", None, False, id="17-characters"),
        pytest.param(make_id("432401", date(1950, 2, 28), 11), None, True, id="retired-area-code-still-valid"),
        pytest.param(make_id("430121", date(2021, 1, 1), 12), date(2020, 10, 1), False, id="born-after-payment"),
    ],
)
def test_id_validity(idn: str, on: date | None, valid: bool) -> None:
    assert id_is_valid(idn, on) is valid


def test_15_digit_number_upgrades_to_the_18_digit_one() -> None:
    idn = "11010519491231002X"
    assert to_15(idn) == "110105491231002"
    assert upgrade_15(to_15(idn)) == idn


def test_impossible_birth_date_is_invalid_even_with_right_check_character() -> None:
    first17 = "43012119800230123"
    from fundwatch.generator.ids import check_char

    assert not id_is_valid(first17 + check_char(first17))


def test_accounts_are_unique_and_pass_luhn() -> None:
    accounts = [make_account("621799", 19, n) for n in range(1, 20001)]
    assert len(set(accounts)) == len(accounts)
    assert all(len(a) == 19 and a.startswith("621799") for a in accounts)
    assert all(luhn_digit(a[:-1]) == a[-1] for a in accounts)
    assert (
        luhn_digit(make_account("621519", 19, 5, luhn_ok=False)[:-1])
        != make_account("621519", 19, 5, luhn_ok=False)[-1]
    )
