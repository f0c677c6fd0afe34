"""web.input: the checks behind every parser, form and filter."""

from __future__ import annotations

import pytest

from exports.http import RangeNotSatisfiable, parse_range
from web.input import MAX_DEPTH, BadInput, json_loads, strict_int, text_problem, tree_check


@pytest.mark.parametrize("value", ["0", "42", "-7", " 12 ", 5, -3, "9" * 18])
def test_strict_int_takes_ascii_digits_and_ints(value):
    assert strict_int(value, "n") == int(value)


@pytest.mark.parametrize(
    "value", ["²", "\u0661", "1.0", "", "1e3", "9" * 19, "9" * 5000, True, 1.0, None, 10**30]
)
def test_strict_int_refuses_everything_else_naming_the_field(value):
    with pytest.raises(BadInput, match=r"^page: "):
        strict_int(value, "page")


def test_strict_int_bounds():
    with pytest.raises(BadInput, match="at least 1"):
        strict_int("0", "n", minimum=1)
    with pytest.raises(BadInput, match="at most 3"):
        strict_int(4, "n", maximum=3)


def test_text_problem_names_nul_and_surrogates():
    assert text_problem("fine ✓ text") is None
    assert "NUL" in text_problem("a\x00b")
    assert "surrogate" in text_problem("a\udfffb")


def test_tree_check_names_the_path():
    with pytest.raises(BadInput, match=r"^values\.q\[1\]: contains a NUL"):
        tree_check({"values": {"q": ["ok", "b\x00d"]}})
    with pytest.raises(BadInput, match=r"^meta: has a key that contains a NUL"):
        tree_check({"meta": {"k\x00": 1}})


def test_depth_limit_is_exact():
    ok = [1]
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert tree_check(ok) is ok
    with pytest.raises(BadInput, match=f"nested deeper than {MAX_DEPTH} levels"):
        tree_check([ok])


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64 levels"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"a": "\\u0000"}', "NUL"),
        (b"NaN", "not valid JSON"),
        (b"{", "not valid JSON"),
    ],
)
def test_json_loads_refuses(raw, problem):
    with pytest.raises(BadInput, match=problem):
        json_loads(raw)


@pytest.mark.parametrize(
    "header", ["bytes=²-", "bytes=0-²", "bytes=-\u0661", "bytes=" + "9" * 5000 + "-"]
)
def test_range_with_odd_digits_is_not_satisfiable(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_range_with_an_endless_end_is_the_rest_of_the_file():
    assert parse_range("bytes=10-" + "9" * 5000, 100) == (10, 99)
    assert parse_range("bytes=-" + "9" * 5000, 100) == (0, 99)
