"""The wire protocol (lossmod_instructor.grading.wire): inputs and answers survive the trip exactly, NaN,
infinities and -0.0 included; anything that is not plain, well-formed data is refused."""

from __future__ import annotations

import json
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
    "value", [np.float32(2.5), [1, 2, 3], np.array([[np.nan, -0.0]]), True, 3.0]
)
def test_answers_round_trip_exactly(value: Any) -> None:
    message = json.loads(wire.message_line({"t": "answer", "value": wire.encode_answer(value)}))
    back = wire.decode_answer(message["value"])
    np.testing.assert_array_equal(back, np.asarray(value))
    assert back.dtype == np.asarray(value).dtype


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "returned None"),
        ("text", "returned str"),
        (1j, "complex"),
        (np.zeros(wire.MAX_ELEMENTS + 1), "too many"),
        (object(), "returned object"),
    ],
)
def test_unreadable_answers_are_explained(value: Any, problem: str) -> None:
    with pytest.raises(wire.WireError, match=problem):
        wire.encode_answer(value)


@pytest.mark.parametrize(
    "data",
    [
        {"dtype": "object", "shape": [1], "values": [1]},
        {"dtype": "float64", "shape": [2], "values": [1.0]},
        {"dtype": "float64", "shape": [-1], "values": []},
        {"dtype": "float64", "shape": [1], "values": ["1e3"]},
        {"dtype": "int64", "shape": [1], "values": [1.5]},
        {"dtype": "int8", "shape": [1], "values": [1000]},
        {"dtype": "bool", "shape": [1], "values": [1]},
        {"dtype": "float64", "shape": [1], "values": [1.0], "verdict": "passed"},
        [1.0],
    ],
)
def test_malformed_answers_are_refused(data: Any) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_answer(data)


@pytest.mark.parametrize(
    "line", [b"NaN", b'{"t": 1}', b'{"t": "answer", "x": Infinity}', b"[" * 10_000, b"\xff"]
)
def test_malformed_messages_are_refused(line: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.parse_message(line)
