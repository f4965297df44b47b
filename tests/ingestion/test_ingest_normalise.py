"""Every accepted value form of source-files.md "Value tolerance", and the forms that are refused."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from ingestion import normalise as nz

P = pytest.param


@pytest.mark.parametrize("raw, expected", [
    P("2020-06-30", date(2020, 6, 30), id="iso"),
    P("2020/6/30", date(2020, 6, 30), id="slashes"),
    P("2020.6.30", date(2020, 6, 30), id="dots"),
    P("2020年6月30日", date(2020, 6, 30), id="chinese"),
    P("20200630", date(2020, 6, 30), id="compact"),
    P(" 2020-06-30 ", date(2020, 6, 30), id="padded"),
    P("２０２０-０６-３０", date(2020, 6, 30), id="full-width-digits"),
    P("2020-06-30 00:00:00", date(2020, 6, 30), id="with-midnight-time"),
    P(date(2020, 6, 30), date(2020, 6, 30), id="excel-date-cell"),
    P(datetime(2020, 6, 30, 0, 0), date(2020, 6, 30), id="excel-datetime-cell"),
    P(20200630, date(2020, 6, 30), id="number-cell-yyyymmdd"),
    P(20200630.0, date(2020, 6, 30), id="float-cell-yyyymmdd"),
    P("", None, id="empty"),
    P(None, None, id="none"),
])
def test_date_accepted(raw, expected):
    assert nz.norm_date(raw) == expected


@pytest.mark.parametrize("raw", [
    P("2020-02-30", id="no-such-day"),
    P("2020-6", id="no-day"),
    P("六月三十日", id="words"),
    P("2020-06/30", id="mixed-separators"),
    P("30/06/2020", id="day-first"),
    P("1020-06-30", id="year-out-of-range"),
    P(44012, id="excel-serial-number"),
    P(True, id="boolean"),
])
def test_date_refused(raw):
    with pytest.raises(nz.BadValue, match="应为日期"):
        nz.norm_date(raw)


@pytest.mark.parametrize("raw, expected", [
    P("1200", "1200.00", id="integer-text"),
    P("1200.5", "1200.50", id="one-decimal"),
    P("1,200.00", "1200.00", id="thousands"),
    P("1200元", "1200.00", id="yuan-suffix"),
    P("￥1,200.00", "1200.00", id="yen-full-width"),
    P("¥1200", "1200.00", id="yen-half-width"),
    P("１２００．５０", "1200.50", id="full-width-digits"),
    P("1,234,567.89", "1234567.89", id="millions"),
    P(" 1200 元 ", "1200.00", id="spaces"),
    P("1200.500", "1200.50", id="trailing-zero-third-decimal"),
    P(1200, "1200.00", id="int-cell"),
    P(1200.5, "1200.50", id="float-cell"),
    P(0.1 + 0.2, "0.30", id="float-binary-tail"),
    P(1200.3000000000002, "1200.30", id="float-tail-excel-shows-15-digits"),
    P(12345678901234.56, "12345678901234.56", id="large-float-exact-via-repr"),
    P("0", "0.00", id="zero"),
])
def test_money_accepted(raw, expected):
    v = nz.norm_money(raw)
    assert isinstance(v, Decimal) and str(v) == expected


@pytest.mark.parametrize("raw, fragment", [
    P("12O0", "应为金额", id="letter-o"),
    P("abc", "应为金额", id="letters"),
    P("1,20,0", "应为金额", id="bad-grouping"),
    P("1200.505", "两位小数", id="three-decimals"),
    P("-100", "负数", id="negative"),
    P(-5.0, "负数", id="negative-cell"),
    P("1.2万", "应为金额", id="wan-unit"),
    P(True, "应为金额", id="boolean"),
    P(date(2020, 1, 1), "应为金额", id="date-cell"),
])
def test_money_refused(raw, fragment):
    with pytest.raises(nz.BadValue, match=fragment):
        nz.norm_money(raw)


@pytest.mark.parametrize("raw, expected", [
    P("430102199001011238", "430102199001011238", id="clean"),
    P("43012119850315003x", "43012119850315003X", id="lowercase-x"),
    P("430121 19850315 003X", "43012119850315003X", id="spaces-inside"),
    P("４３０１２１１９８５０３１５００３Ｘ", "43012119850315003X", id="full-width"),
    P("４３０１０２１９９００１０１１２３８", "430102199001011238", id="full-width-digits-only"),
    P("430102900101123", "430102199001011238", id="15-digit-upgraded"),
    P("430102 900101 123", "430102199001011238", id="15-digit-with-spaces"),
    P(430102900101123, "430102199001011238", id="15-digit-number-cell"),
    P("430102199001011239", "430102199001011239", id="wrong-check-digit-kept"),
    P("4301021990010112", "4301021990010112", id="wrong-length-kept"),
    P("", None, id="empty"),
])
def test_id(raw, expected):
    assert nz.norm_id(raw) == expected


@pytest.mark.parametrize("first17, check", [
    P("11010519491231002", "X", id="gb11643-example"),
    P("43010219900101123", "8", id="digit"),
    P("43012119850315003", "X", id="x"),
])
def test_id_check_char(first17, check):
    assert nz.id_check_char(first17) == check


@pytest.mark.parametrize("raw, expected", [
    P("6217 0000 1111 2222", "6217000011112222", id="spaces"),
    P("6217-0000-1111-2222", "6217000011112222", id="dashes"),
    P("６２１７０００", "6217000", id="full-width"),
    P(62170000111122, "62170000111122", id="number-cell-14-digits"),
    P(621700001111222.0, "621700001111222", id="float-cell-15-digits"),
    P("", None, id="empty"),
])
def test_account_accepted(raw, expected):
    assert nz.norm_account(raw) == expected


@pytest.mark.parametrize("raw, fragment", [
    P(6.217000011112222e15, "超过15位", id="number-cell-lost-digits"),
    P("6217000011112222A", "只含数字", id="letter"),
    P("6.21700E+15", "只含数字", id="scientific-text"),
])
def test_account_refused(raw, fragment):
    with pytest.raises(nz.BadValue, match=fragment):
        nz.norm_account(raw)


@pytest.mark.parametrize("raw, expected", [
    P("张三", "张三", id="plain"),
    P("张　三", "张三", id="full-width-space"),
    P(" 张 三 ", "张三", id="spaces"),
    P("阿依古丽·买买提", "阿依古丽·买买提", id="middle-dot"),
    P("阿依古丽•买买提", "阿依古丽·买买提", id="bullet"),
    P("阿依古丽・买买提", "阿依古丽·买买提", id="katakana-dot"),
    P("阿依古丽･买买提", "阿依古丽·买买提", id="half-width-katakana-dot"),
    P("", None, id="empty"),
])
def test_name(raw, expected):
    assert nz.norm_name(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    P("430121", "430121", id="text"),
    P(430121, "430121", id="int-cell"),
    P(430121.0, "430121", id="float-cell"),
    P(" ４３０１２１ ", "430121", id="full-width"),
])
def test_code_accepted(raw, expected):
    assert nz.norm_code(raw) == expected


@pytest.mark.parametrize("raw", [P("43012", id="five-digits"), P("43012A", id="letter"),
                                 P(430121.5, id="fraction"), P("4301210", id="seven-digits")])
def test_code_refused(raw):
    with pytest.raises(nz.BadValue, match="6位数字"):
        nz.norm_code(raw)


@pytest.mark.parametrize("raw, expected", [
    P("湘财社指〔2020〕36号", "湘财社指〔2020〕36号", id="already"),
    P("湘财社指[2020]36号", "湘财社指〔2020〕36号", id="square"),
    P("湘财社指【2020】36号", "湘财社指〔2020〕36号", id="lenticular"),
    P("湘财社指(2020)36号", "湘财社指〔2020〕36号", id="round-half"),
    P("湘财社指（2020）36号", "湘财社指〔2020〕36号", id="round-full"),
    P("湘财社指 [2020] 36 号", "湘财社指〔2020〕36号", id="spaces"),
    P("会议纪要第3期", "会议纪要第3期", id="other-form-kept"),
])
def test_docno(raw, expected):
    assert nz.norm_docno(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    P("P2020001", "P2020001", id="text"),
    P(2020001.0, "2020001", id="code-from-float-cell"),
    P(2020001, "2020001", id="code-from-int-cell"),
    P("  备注 ", "备注", id="trimmed"),
    P("", None, id="empty"),
])
def test_text(raw, expected):
    assert nz.norm_text(raw) == expected


def test_text_refuses_number_cell_that_lost_digits():
    with pytest.raises(nz.BadValue, match="丢失末尾数字"):
        nz.norm_text(1.2345678901234567e19)


@pytest.mark.parametrize("raw, expected", [
    P("30", 30, id="text"), P(30.0, 30, id="float-cell"), P("30天", 30, id="with-unit"),
    P("１２", 12, id="full-width"), P("1,200", 1200, id="thousands"), P("", None, id="empty"),
])
def test_int_accepted(raw, expected):
    assert nz.norm_int(raw) == expected


@pytest.mark.parametrize("raw", [P("三十", id="words"), P("-3", id="negative"), P(2.5, id="fraction")])
def test_int_refused(raw):
    with pytest.raises(nz.BadValue, match="非负整数"):
        nz.norm_int(raw)


@pytest.mark.parametrize("vtype, raw, expected", [
    P("id", "430102 199001011238", "430102********1238", id="id"),
    P("account", "6217 0000 1111 2222", "************2222", id="account"),
    P("account", "62170000111122", "**********1122", id="account-14-digits"),
    P("name", "张", "*", id="one-character-name"),
    P("text", "x" * 50, "x" * 40 + "…", id="long-text-shortened"),
])
def test_a_value_quoted_in_a_reason_is_masked_by_its_field(vtype, raw, expected):
    """The masking itself is fundwatch.masking's (tests/shared_cases); ingestion strips spaces first."""
    assert nz.mask_value(vtype, raw) == expected
