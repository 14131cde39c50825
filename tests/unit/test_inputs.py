"""Reading typed input: dates in the ways Danes write them, and text without control characters."""

from __future__ import annotations

from datetime import date

import pytest

from bot.flow.inputs import FormReader, clean, parse_date
from bot.i18n import Translator


@pytest.mark.parametrize("text", ["30-06-2027", "30/6/2027", "30.06.2027", "2027-06-30", " 30-06-2027 "])
def test_common_date_forms_are_read(text: str) -> None:
    assert parse_date(text) == date(2027, 6, 30)


@pytest.mark.parametrize("text", ["31/02/2027", "2027-13-01", "30-06-27", "i morgen", "", "00-00-0000"])
def test_impossible_or_unclear_dates_are_not_guessed(text: str) -> None:
    assert parse_date(text) is None


def test_control_and_invisible_characters_are_dropped_but_line_breaks_kept_where_allowed() -> None:
    assert clean("  a\x00b\u202ec\tz ") == "abcz"
    assert clean("one\r\ntwo\n", multiline=True) == "one\ntwo"
    assert clean("one\ntwo") == "onetwo"


def test_a_form_collects_every_error_at_once_in_the_workshops_language() -> None:
    form = FormReader(Translator("en"), {"a": "", "b": "x" * 11, "c": "31/02/2027", "d": "7"})
    form.text("a", 10, required=True)
    form.text("b", 10)
    form.date("c", today=date(2026, 11, 27))
    form.integer("d", 1, 5)
    assert form.errors == {
        "a": "Please fill in this field.",
        "b": "The text is too long: 11 characters. There is room for 10.",
        "c": "“31/02/2027” is not a valid date. Write the date as dd-mm-yyyy, e.g. 31-12-2027.",
        "d": "Write a whole number from 1 to 5.",
    }
