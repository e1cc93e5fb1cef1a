"""ID numbers by type: published test vectors, property tests, and the Excel-float case."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.domain.idcard import PROVINCES, check_id, id_text, mask_id, mod11_2_check

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    "number, birth, gender",
    [
        ("11010519491231002X", date(1949, 12, 31), "女"),  # GB 11643-1999 example
        ("440524188001010014", date(1880, 1, 1), "男"),  # GB 11643-1999 example
        ("11010519491231002x", date(1949, 12, 31), "女"),  # lower-case x read as X
        ("１１０１０５１９４９１２３１００２Ｘ", date(1949, 12, 31), "女"),  # full-width
        (" 110105 19491231 002X ", date(1949, 12, 31), "女"),  # spaces
    ],
)
def test_resident_vectors_pass_with_birth_and_gender(number, birth, gender):
    result = check_id("身份证", number, TODAY)
    assert result.ok, result
    assert (result.birth, result.gender) == (birth, gender)


@pytest.mark.parametrize(
    "number, code",
    [
        ("110105194912310021", "id.checksum"),
        ("110105491231002", "id.old15"),
        ("99010519491231002X", "id.region"),
        ("110105194902300025", "id.birth"),  # 30 February
        ("110105203001010015", "id.birth_future"),
        ("11010519491231002", "id.length"),
        ("1101051949123100A2", "id.chars"),
        ("810000199001010016", "id.region_is_permit"),
        ("", "id.required"),
    ],
)
def test_resident_refusals(number, code):
    assert check_id("身份证", number, TODAY).error == code


@pytest.mark.parametrize("raw", [4.40106198001011e17, "4.40106E+17", "4.40106198001011E+17", 4.4e17])
def test_a_number_excel_turned_into_a_float_is_refused_as_such(raw):
    assert check_id("身份证", raw, TODAY).error == "id.excel_float"


def test_short_numbers_stored_as_numbers_are_read_as_digits():
    assert id_text(12345678.0) == ("12345678", False)
    assert check_id("台湾居民来往大陆通行证", 12345678.0, TODAY).ok


def test_a_number_cell_that_lost_its_leading_zeros_is_said_as_such():
    """A 台湾居民来往大陆通行证 01234567 typed into a General cell is the number 1234567: the clerk was told only
    that the format is wrong, not that Excel dropped the zero and the column must be text."""
    found = check_id("台湾居民来往大陆通行证", 1234567.0, TODAY)
    assert found.error == "id.excel_number" and found.number == "1234567"
    assert check_id("台湾居民来往大陆通行证", "1234567", TODAY).error == "id.format"  # typed so: just wrong
    assert check_id("台湾居民来往大陆通行证", 12345678901.0, TODAY).error == "id.format"  # too long: no zero lost
    assert check_id("台湾居民来往大陆通行证", 123.0, TODAY).error == "id.format"  # a stub, not zeros lost


def _resident(prefix: str, birth: date, seq: int) -> str:
    body = f"{prefix}{birth:%Y%m%d}{seq:03d}"
    return body + mod11_2_check(body)


def test_hmt_residence_permit_needs_its_region_prefix():
    assert check_id("港澳台居民居住证", _resident("810000", date(1990, 1, 1), 1), TODAY).ok
    assert check_id("港澳台居民居住证", _resident("830000", date(1990, 1, 1), 2), TODAY).ok
    assert check_id("港澳台居民居住证", _resident("440106", date(1990, 1, 1), 1), TODAY).error == "id.region_permit"


def test_foreign_permanent_residence_cards_new_and_old():
    new = _resident("911840", date(1985, 6, 1), 12)
    result = check_id("外国人永久居留身份证", new, TODAY)
    assert result.ok and result.birth == date(1985, 6, 1) and result.gender == "女"
    old = check_id("外国人永久居留身份证", "USA318506010010", TODAY)  # 3 letters + 12 digits, YYMMDD inside
    assert old.ok and old.birth == date(1985, 6, 1) and old.gender is None
    assert check_id("外国人永久居留身份证", "USA311302300010", TODAY).error == "id.birth"
    assert not check_id("外国人永久居留身份证", _resident("811840", date(1985, 6, 1), 1), TODAY).ok


@pytest.mark.parametrize(
    "id_type, good, bad",
    [
        (
            "护照",
            ["E12345678", "EA1234567", "DE1234567", "SE1234567", "PE1234567", "X1234", "AB12345678901234C"],
            ["E12", "A" * 18, "E1234-678"],
        ),
        ("港澳居民来往内地通行证", ["H12345678", "M1234567890"], ["H1234567", "C12345678", "H123456789"]),
        ("台湾居民来往大陆通行证", ["12345678", "A123456789"], ["1234567", "123456789", "A1234567"]),
        ("其他", ["ABCD", "12-34-AB", "A" * 30], ["ABC", "A" * 31, "AB_CD"]),
    ],
)
def test_document_formats(id_type, good, bad):
    for number in good:
        assert check_id(id_type, number, TODAY).ok, number
    for number in bad:
        assert check_id(id_type, number, TODAY).error == "id.format", number


def test_a_checked_types_number_under_other_is_refused_with_the_type_to_choose():
    """The same traveller as 其他 was another person: a second policy for the same group and period, and a
    duplicate row, went unseen. A number that passes as 身份证, 港澳台居民居住证 or 外国人永久居留身份证 is that."""
    for number, wanted in (
        ("11010519491231002X", "身份证"),
        (_resident("810000", date(1990, 1, 1), 1), "港澳台居民居住证"),
        (_resident("911840", date(1985, 6, 1), 12), "外国人永久居留身份证"),
    ):
        result = check_id("其他", number, TODAY)
        assert result.error == "id.other_is_checked" and result.values["id_type"] == wanted, (number, result)
    assert check_id("其他", "110105194912310021", TODAY).ok, "failing every check: some other document's number"


def test_documents_without_birth_or_gender_return_none_for_both():
    result = check_id("护照", "E12345678", TODAY)
    assert result.birth is None and result.gender is None


residents = st.builds(
    _resident,
    st.sampled_from(sorted(PROVINCES)).map(lambda p: p + "0101"),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(min_value=0, max_value=999),
)


@settings(max_examples=300)
@given(residents)
def test_every_generated_valid_resident_number_passes(number):
    result = check_id("身份证", number, TODAY)
    assert result.ok
    assert result.gender == ("男" if int(number[16]) % 2 else "女")


@settings(max_examples=500)
@given(residents, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_every_single_character_change_of_a_resident_number_fails(number, position, replacement):
    if number[position] == replacement:
        replacement = "0" if replacement != "0" else "1"
    changed = number[:position] + replacement + number[position + 1 :]
    assert not check_id("身份证", changed, TODAY).ok


def test_no_message_says_what_would_make_a_wrong_number_pass():
    """A clerk told "the last character should be 3" types 3, and a mistyped number passes."""
    from watcher.domain.person import PersonCells, check_person
    from watcher.messages import say

    for number in ("110105194912310021", "44052419800101001X", "440524198001010014"):
        check = check_id("身份证", number, TODAY)
        assert check.error == "id.checksum"
        message = say(check.error, **check.values)
        assert not any(ch.isdigit() or ch == "X" for ch in message), message
    # Nor which gender or birth date the number encodes, when the row disagrees with it.
    _, errors = check_person(
        PersonCells.of(
            {
                "姓名": "王芳",
                "证件类型": "身份证",
                "证件号码": "440524198001010013",
                "性别": "女",
                "出生日期": "1980-01-02",
            }
        ),
        TODAY,
    )
    for err in errors:
        message = say(err.code, **err.values)
        assert "男" not in message and "1980-01-01" not in message, message


def test_masking_keeps_only_the_ends():
    assert mask_id("11010519491231002X") == "110***********002X"
    assert mask_id("E12345678") == "E******78"
