"""One roster row checked on its own (pure): names, gender and birth date against the ID."""

from datetime import date

import pytest

from watcher.domain.person import PersonCells, check_name, check_person

TODAY = date(2026, 11, 25)


def codes(values):
    facts, errors = check_person(PersonCells.of(values), TODAY)
    return facts, sorted((e.column, e.code) for e in errors)


@pytest.mark.parametrize(
    "raw, folded",
    [
        ("  张   三 ", "张三"),
        ("李　雷", "李雷"),
        ("李 雷", "李雷"),
        ("Anna   Maria  Lee", "Anna Maria Lee"),
        ("李 Anna", "李 Anna"),
        ("ＡＢＣ　Ｌｅｅ", "ABC Lee"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),
        ("阿依古丽 ‧ 买买提", "阿依古丽·买买提"),
        ("O'Neil-Smith", "O'Neil-Smith"),
    ],
)
def test_names_are_folded(raw, folded):
    name, error = check_name(raw)
    assert error is None and name == folded


@pytest.mark.parametrize(
    "raw, code",
    [
        ("", "name.required"),
        ("张三1", "name.invalid"),
        ("<b>", "name.invalid"),
        ("···", "name.invalid"),
        ("张" * 61, "name.too_long"),
    ],
)
def test_bad_names(raw, code):
    assert check_name(raw)[1].code == code


def test_a_resident_id_gives_gender_and_birth_and_they_must_agree_if_given():
    facts, errors = codes({"姓名": "王芳", "证件类型": "身份证", "证件号码": "11010519491231002X"})
    assert errors == [] and facts.gender == "女" and facts.birth == date(1949, 12, 31)
    _, errors = codes(
        {"姓名": "王芳", "证件类型": "身份证", "证件号码": "11010519491231002X", "性别": "男", "出生日期": "1950-01-01"}
    )
    assert errors == [("出生日期", "birth.mismatch"), ("性别", "gender.mismatch")]
    facts, errors = codes(
        {
            "姓名": "王芳",
            "证件类型": "身份证",
            "证件号码": "11010519491231002X",
            "性别": "F",
            "出生日期": date(1949, 12, 31),
        }
    )
    assert errors == [] and facts.gender == "女"


@pytest.mark.parametrize(
    "id_type, number",
    [
        ("其他", "AB-1234"),
        ("护照", "E12345678"),
        ("港澳居民来往内地通行证", "H12345678"),
        ("台湾居民来往大陆通行证", "12345678"),
    ],
)
def test_documents_that_encode_nothing_need_gender_and_birth(id_type, number):
    _, errors = codes({"姓名": "李四", "证件类型": id_type, "证件号码": number})
    assert errors == [("出生日期", "birth.required"), ("性别", "gender.required")]
    facts, errors = codes(
        {"姓名": "李四", "证件类型": id_type, "证件号码": number, "性别": "男", "出生日期": "1990/5/1"}
    )
    assert errors == [] and facts.birth == date(1990, 5, 1)


@pytest.mark.parametrize(
    "id_type, number",
    [("其他", "ABC"), ("护照", "E1"), ("港澳居民来往内地通行证", ""), ("台湾居民来往大陆通行证", "1")],
)
def test_a_wrong_number_of_a_document_that_encodes_nothing_does_not_hide_missing_gender_and_birth(id_type, number):
    """A passport number too short, its 性别 and 出生日期 blank: only the number was named, and the clerk
    who fixed it was told the other two in a second round."""
    _, errors = codes({"姓名": "李四", "证件类型": id_type, "证件号码": number})
    assert [column for column, _ in errors] == ["出生日期", "性别", "证件号码"], errors
    assert errors[:2] == [("出生日期", "birth.required"), ("性别", "gender.required")]
    _, errors = codes({"姓名": "李四", "证件类型": "身份证", "证件号码": "110105"})  # its number would say them
    assert [column for column, _ in errors] == ["证件号码"]


def test_every_problem_of_a_row_is_reported_not_only_the_first():
    _, errors = codes({"姓名": "", "证件类型": "驾照", "证件号码": "", "性别": "X", "出生日期": "明年"})
    assert errors == [
        ("出生日期", "birth.invalid"),
        ("姓名", "name.required"),
        ("性别", "gender.invalid"),
        ("证件号码", "id.required"),
        ("证件类型", "id_type.invalid"),
    ]


def test_id_type_synonyms_and_future_birth():
    facts, errors = codes(
        {"姓名": "李四", "证件类型": "台胞证", "证件号码": "12345678", "性别": "女", "出生日期": "2030-01-01"}
    )
    assert errors == [("出生日期", "birth.future")]


@pytest.mark.parametrize(
    "typed",
    [
        "'11010519491231002X",  # Excel's keep-as-text apostrophe, kept by a CSV
        "\u202d11010519491231002X\u202c",  # the marks a phone wraps a copied number in
        "11010519491231002X\u200b",  # a zero-width space
        "\ufeff110105 19491231002x",
    ],
)
def test_an_id_with_characters_nobody_sees_is_read_as_the_clerk_sees_it(typed):
    """Before, each was '应为 18 位，实际为 19 位' (20 with the marks): 18 characters on the clerk's screen."""
    facts, errors = codes({"姓名": "王\u200b芳", "证件类型": "身份证", "证件号码": typed})
    assert errors == [] and facts.id_no == "11010519491231002X" and facts.name == "王芳"


def test_a_logical_cell_is_shown_as_excel_shows_it():
    """天数 typed as TRUE came back as 天数“True”无效: Python's word, not what the clerk sees in the cell."""
    from watcher.domain.text import clean

    assert (clean(True), clean(False), clean(1.0), clean(None)) == ("TRUE", "FALSE", "1", "")


def test_a_birth_year_and_month_under_a_header_named_for_them():
    """A roster whose column is 出生年月 (a synonym of 出生日期) holds 1990-01: refused as unreadable even
    where the ID number gives the day. It is taken when it agrees with the number, said to disagree when
    it does not, and asked for in full where the document gives no date."""
    resident = "11010519491231002X"
    facts, errors = codes({"姓名": "王芳", "证件类型": "身份证", "证件号码": resident, "出生日期": "1949-12"})
    assert errors == [] and facts.birth == date(1949, 12, 31)
    assert codes({"姓名": "王芳", "证件类型": "身份证", "证件号码": resident, "出生日期": "1949年12月"})[1] == []
    _, errors = codes({"姓名": "王芳", "证件类型": "身份证", "证件号码": resident, "出生日期": "1950-01"})
    assert errors == [("出生日期", "birth.mismatch")]
    cells = {"姓名": "李四", "证件类型": "护照", "证件号码": "E12345678", "性别": "男", "出生日期": "1990-01"}
    assert codes(cells)[1] == [("出生日期", "birth.month_only")]
    assert codes({**cells, "出生日期": "1990-13"})[1] == [("出生日期", "birth.invalid")]


def test_common_roster_headers_are_known():
    """证件类别 (as several agency systems name the column) was not taken for 证件类型: the roster was refused
    for a missing column the clerk can see."""
    from watcher.domain.text import label_key
    from watcher.kinds.common import ROSTER_COLUMNS

    assert ROSTER_COLUMNS[label_key("证件类别")] == "证件类型" and ROSTER_COLUMNS[label_key("出生年月")] == "出生日期"


def test_a_year_and_month_typed_as_a_number_is_not_a_date_serial():
    """1990.01 typed under 出生年月 was read as Excel's date serial 1990.01, 1905-06-12, and the clerk told
    that date does not match the ID. A number from 1900 to 2099 is a year (and month), never a serial."""
    resident = "11010519491231002X"
    facts, errors = codes({"姓名": "王芳", "证件类型": "身份证", "证件号码": resident, "出生日期": 1949.12})
    assert errors == [] and facts.birth == date(1949, 12, 31)
    assert codes({"姓名": "王芳", "证件类型": "身份证", "证件号码": resident, "出生日期": 1949.0})[1] == []
    _, errors = codes({"姓名": "王芳", "证件类型": "身份证", "证件号码": resident, "出生日期": 1950.01})
    assert errors == [("出生日期", "birth.mismatch")]
    cells = {"姓名": "李四", "证件类型": "护照", "证件号码": "E12345678", "性别": "男", "出生日期": 1990.01}
    assert codes(cells)[1] == [("出生日期", "birth.month_only")]
    assert codes({**cells, "出生日期": 32874.0})[0].birth == date(1990, 1, 1), "a real date serial still reads"


def test_a_resident_number_under_other_is_refused_only_where_the_birth_date_typed_is_its_own():
    """Under 其他, a number that passes as 身份证 is that traveller's 身份证 (refused, to be chosen as such) when
    the birth date typed is the one it encodes; typed otherwise, it is another document's number that
    happens to pass the check, and stands."""
    row = {"姓名": "王芳", "证件类型": "其他", "证件号码": "11010519491231002X", "性别": "女"}
    _, errors = codes({**row, "出生日期": "1949-12-31"})
    assert errors == [("证件号码", "id.other_is_checked")]
    _, errors = codes(row)
    assert ("证件号码", "id.other_is_checked") in errors, "no date typed: the number's own"
    facts, errors = codes({**row, "出生日期": "1975-03-02"})
    assert errors == [] and facts is not None and facts.id_type == "其他"
