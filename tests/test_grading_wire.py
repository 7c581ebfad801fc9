"""The wire protocol (lossmod_instructor.grading.wire): inputs and answers survive the trip
exactly, NaN, infinities and -0.0 included; anything that is not plain, well-formed data is
refused, at a cost bounded by the line's length (never by a multitude of tiny objects); every
string the grader reads is valid Unicode."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import numpy as np
import pytest
from lossmod_instructor.grading import wire


def trip(value: Any) -> Any:
    return wire.decode_input(json.loads(json.dumps(wire.encode_input(value), allow_nan=False)))


def test_inputs_round_trip_exactly() -> None:
    array = np.array([[1.5, -0.0], [np.nan, -np.inf]])
    back = trip((array, np.arange(3), np.array([True, False]), 2, "sum", None, [1.0, np.inf]))
    assert isinstance(back, tuple)
    assert back[0].dtype == np.float64 and back[0].shape == (2, 2)
    np.testing.assert_array_equal(back[0], array)
    assert np.signbit(back[0][0, 1])
    assert back[1].dtype == np.int64 and back[2].dtype == np.bool_
    assert back[3:6] == (2, "sum", None) and back[6][1] == np.inf
    with pytest.raises(TypeError, match="cannot encode a value of type object"):
        wire.encode_input(object())


@pytest.mark.parametrize(
    "value",
    [np.float32(2.5), [1, 2, 3], np.array([[np.nan, -0.0]]), True, 3.0, np.arange(6.0)[::2]],
)
def test_answers_round_trip_exactly(value: Any) -> None:
    message = wire.parse_message(
        wire.message_line({"t": "answer", "value": wire.encode_answer(value)})
    )
    back = wire.decode_answer(message["value"])
    np.testing.assert_array_equal(back, np.asarray(value))
    assert back.dtype == np.asarray(value).dtype
    assert np.signbit(back).tolist() == np.signbit(np.asarray(value)).tolist()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "returned None"),
        ("text", "returned str"),
        (1j, "complex"),
        (np.zeros(wire.MAX_ELEMENTS + 1), "too many"),
        (object(), "returned object"),
        (10**400, "returned int"),
    ],
)
def test_unreadable_answers_are_explained(value: Any, problem: str) -> None:
    with pytest.raises(wire.WireError, match=problem):
        wire.encode_answer(value)


@pytest.mark.parametrize(
    "data",
    [
        {"dtype": "object", "shape": [1], "data": ""},
        {"dtype": "float64", "shape": [2], "data": "AAAAAAAA8D8="},  # one value for two
        {"dtype": "float64", "shape": [-1], "data": ""},
        {"dtype": "float64", "shape": [10**400], "data": ""},
        {"dtype": "float64", "shape": [True], "data": "AAAAAAAA8D8="},
        {"dtype": "float64", "shape": [1], "data": "not base64!"},
        {"dtype": "float64", "shape": [1], "data": 10**400},
        {"dtype": "float64", "shape": [1], "values": [10**400]},
        {"dtype": "float64", "shape": [1], "data": "AAAAAAAA8D8=", "verdict": "passed"},
        [1.0],
    ],
)
def test_malformed_answers_are_refused(data: Any) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_answer(data)


@pytest.mark.parametrize(
    "line",
    [
        b"NaN",
        b'{"t": 1}',
        b'{"t": "answer", "x": Infinity}',
        b"[" * 10_000,
        b"\xff",
        b'{"t": "answer", "case": ' + b"9" * 5000 + b"}",
        b'{"t": "x", "a": [' + b"{}," * 10 + b"{}]}",
    ],
)
def test_malformed_messages_are_refused(line: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.parse_message(line)


def test_a_line_of_tiny_objects_costs_no_memory() -> None:
    """A megabyte of tiny objects (which json.loads would turn into a hundred megabytes of
    dicts), or of keys, or of array items, is refused before it is parsed."""
    lines = [
        b"[" + b"{}," * 350_000 + b"{}]",
        b'{"t": "x", ' + b'"k": 1, ' * 120_000 + b'"z": 0}',
        b'{"t": "x", "v": "' + b"a" * 100 + b'", "w": [' + b"0," * 400_000 + b"0]}",
    ]
    tracemalloc.start()
    try:
        for line in lines:
            with pytest.raises(wire.WireError, match="too many"):
                wire.parse_message(line)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_strings_are_escaped_on_the_way_out_and_valid_on_the_way_in() -> None:
    """The child's text with braces, colons and commas keeps the line's structure countable;
    a lone surrogate the child sends becomes U+FFFD in the grader."""
    text = "KeyError: {'a': [1, 2]}, " * 20 + chr(0xD800)
    line = wire.message_line({"t": "cell", "cell": 1, "error": text})
    assert line.count(b"{") == 1 and line.count(b"[") == 0 and line.count(b",") == 2
    message = wire.parse_message(line)
    assert message["error"] == text[:-1] + "\ufffd"
    message["error"].encode("utf-8")
    forged = wire.parse_message(b'{"t": "cell", "\\udc80": "\\ud800x"}')
    assert forged == {"t": "cell", "\ufffd": "\ufffdx"}
