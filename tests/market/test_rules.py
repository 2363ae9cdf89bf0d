from decimal import Decimal

import pytest

from market.validation import rules


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000802100433B"])
def test_valid_credit_codes(code):
    assert rules.check_credit_code(code) is None


@pytest.mark.parametrize(
    "code, message",
    [
        ("91350100M000100Y4", "18 位"),
        ("91350100M000100Y44", "校验位"),
        ("91350100M0001O0Y43", "不允许的字符"),
        ("91ABCDEFM000100Y43", "行政区划代码"),
    ],
)
def test_invalid_credit_codes(code, message):
    assert message in rules.check_credit_code(code)


def test_region_codes():
    assert rules.check_region_code("410105") is None
    assert rules.check_region_code("410173") is None
    assert rules.check_region_code("330100") is None
    assert "6 位数字" in rules.check_region_code("4101")
    assert "区县" in rules.check_region_code("410199")
    assert "省级代码" in rules.check_region_code("990100")
    assert rules.region_name("410105") == "金水区"
    assert rules.is_local("410172") and not rules.is_local("410300")


def test_patent_numbers():
    assert rules.patent_check_digit("202110356789") == "4"
    assert rules.check_ip_number("发明专利", "ZL202110356789.4") is None
    assert rules.check_ip_number("发明专利", "202110356789.4") is None
    assert "校验位" in rules.check_ip_number("发明专利", "ZL202110356789.5")
    assert "实用新型" in rules.check_ip_number("发明专利", "ZL202120356789." + rules.patent_check_digit("202120356789"))
    assert "格式" in rules.check_ip_number("发明专利", "专利一号")
    assert rules.check_ip_number("软件著作权", "2023SR0123456") is None
    assert "格式" in rules.check_ip_number("软件著作权", "SR123")


@pytest.mark.parametrize(
    "text, value",
    [
        ("500000", "500000.00"),
        ("50万", "500000.00"),
        ("1.2亿元", "120000000.00"),
        ("３０万", "300000.00"),
        ("1,234.5", "1234.50"),
        (250000, "250000.00"),
    ],
)
def test_amounts(text, value):
    assert rules.parse_amount(text) == Decimal(value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("-5", "负数"),
        ("abc", "不是有效金额"),
        ("2000亿", "1000 亿元"),
        ("1.234", "两位小数"),
        ("NaN", "有效金额"),
    ],
)
def test_bad_amounts(text, message):
    with pytest.raises(ValueError, match=message):
        rules.parse_amount(text)


def test_dates_and_phones():
    assert str(rules.parse_date("2027年6月30日")) == "2027-06-30"
    assert str(rules.parse_date("2027/06/30")) == "2027-06-30"
    with pytest.raises(ValueError, match="有效日期"):
        rules.parse_date("2027-02-30")
    assert rules.check_phone("13803711234") is None
    assert rules.check_phone("0371-67781234") is None
    assert rules.check_phone("12345") is not None
    assert rules.format_amount(Decimal("12345678")) == "1,234.57万元"
