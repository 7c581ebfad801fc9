"""The JSON wire protocol between the grader and a child: plain data, no pickle, no eval.

The grader writes one request to the child's stdin: the notebook to run and, per exercise, the
function to call and the check inputs, encoded as the learners' catalogue encodes them
(:mod:`lossmod.exercises._data`).

The child answers with one JSON object per line (:func:`message_line`) on a pipe of its own:

- ``{"t": "sandbox", ...}``: the confinement applied, before any learner code runs;
- ``{"t": "cell", "cell": i, "error": "..."}``: a cell that raised;
- ``{"t": "ready"}``: the notebook has run, the checks start;
- ``{"t": "answer", "case": k, "value": {...}}`` (see :func:`encode_answer`), or with
  ``"raised"`` (and ``"not_implemented"``), ``"problem"`` or ``"missing"`` instead of a value;
- ``{"t": "reference", "case": k, "name": "..."}``: the function called a forbidden reference;
- ``{"t": "done"}``.

An answer is numbers only: ``{"dtype": "float64", "shape": [3], "values": [1.0, "nan", -0.0]}``,
NaN and infinities spelled as strings. :func:`decode_answer` rebuilds it in the grader after
checking every field, so nothing the child sends is ever executed or trusted as a verdict.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from lossmod.exercises._data import DataError, decode, encode, float_in, float_out
from numpy.typing import NDArray

MAX_ELEMENTS = 1 << 20  # of one answer
MAX_LINE = 32 << 20  # bytes of one message
_DTYPES = frozenset(
    ["bool", "float16", "float32", "float64"]
    + [f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)]
)
encode_input, decode_input = encode, decode  # check inputs, grader to child


class WireError(DataError):
    """A message or a value that does not follow the protocol."""


# ---------------------------------------------------------------------------------------------
# Answers, child to grader


def encode_answer(value: Any) -> dict[str, Any]:
    """The numbers of a returned value (in the child). Raises WireError, with a sentence for the
    learner, when the value is None, not numeric or too large."""
    if value is None:
        raise WireError("returned None (is a `return` missing?)")
    try:
        array = np.asarray(value)
    except Exception as error:
        raise WireError(
            f"returned {_type_name(value)}, which is not a number or an array"
        ) from error
    kind = array.dtype.kind
    if kind == "c":
        raise WireError("returned complex numbers")
    if kind not in "biuf":
        raise WireError(f"returned {_type_name(value)}, which is not a number or an array")
    if array.size > MAX_ELEMENTS:
        raise WireError(f"returned an array of {array.size} values, too many to check")
    if kind == "f" and array.dtype.itemsize > 8:
        array = array.astype(np.float64)
    flat = array.ravel().tolist()
    values = [float_out(v) for v in flat] if kind == "f" else flat
    return {"dtype": str(array.dtype), "shape": list(array.shape), "values": values}


def _wire_float(value: Any) -> float:
    try:
        return float_in(value)
    except DataError as error:
        raise WireError(str(error)) from error


def _type_name(value: Any) -> str:
    return type(value).__name__[:60]


def decode_answer(data: Any) -> NDArray[Any]:
    """The array an answer describes (in the grader), after checking every field."""
    if not isinstance(data, dict) or set(data) != {"dtype", "shape", "values"}:
        raise WireError("an answer must have exactly dtype, shape and values")
    dtype_name, shape, values = data["dtype"], data["shape"], data["values"]
    if not isinstance(dtype_name, str) or dtype_name not in _DTYPES:
        raise WireError(f"unknown dtype {str(dtype_name)[:40]!r}")
    if not isinstance(shape, list) or len(shape) > 32:
        raise WireError("a shape is a list of at most 32 sizes")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape):
        raise WireError("a shape holds non-negative integers")
    size = math.prod(shape)
    if size > MAX_ELEMENTS or not isinstance(values, list) or len(values) != size:
        raise WireError("the values do not match the shape")
    dtype = np.dtype(dtype_name)
    if dtype.kind == "f":
        numbers: list[Any] = [_wire_float(v) for v in values]
    elif dtype.kind == "b":
        if not all(isinstance(v, bool) for v in values):
            raise WireError("a boolean answer holds true and false only")
        numbers = values
    else:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise WireError("an integer answer holds integers only")
        numbers = values
    try:
        return np.array(numbers, dtype=dtype).reshape(shape)
    except (OverflowError, ValueError) as error:
        raise WireError(f"values out of range for {dtype_name}") from error


# ---------------------------------------------------------------------------------------------
# Messages


def message_line(message: Mapping[str, Any]) -> bytes:
    """One message, as the bytes of one line."""
    text = json.dumps(message, allow_nan=False, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii") + b"\n"


def _refuse_constant(name: str) -> Any:
    raise WireError(f"{name} is not allowed; NaN and infinities are spelled as strings")


def parse_message(line: bytes) -> dict[str, Any]:
    """A message line, as a dict with a string ``"t"``; WireError for anything else."""
    if len(line) > MAX_LINE:
        raise WireError("message too long")
    try:
        message = json.loads(line, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise WireError(f"not JSON: {str(error)[:80]}") from error
    if not isinstance(message, dict) or not isinstance(message.get("t"), str):
        raise WireError("a message is a JSON object with a string 't'")
    return message
