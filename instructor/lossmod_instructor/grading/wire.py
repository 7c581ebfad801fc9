"""The JSON wire protocol between the grader and a child: plain data, no pickle, no eval.

The grader writes JSON lines to the child's stdin, in two phases, so that no check input exists in
the child while the notebook's cells run:

- ``{"t": "setup", ...}``: the notebook to run, the functions to call, what to confine;
- then, once the child said it is ready, one check at a time, each sent when the previous one
  was answered: ``{"t": "check", "case": k, "function": "...", "args": [...], "kwargs": {...}}``
  (inputs encoded as the learners' catalogue encodes them, :mod:`lossmod.exercises._data`);
- ``{"t": "end"}``.

The child answers with one JSON object per line (:func:`message_line`) on a pipe of its own:

- ``{"t": "sandbox", ...}``: the confinement applied, before any learner code runs;
- ``{"t": "cell", "cell": i, "error": "...", "unavailable": name | null}``: a cell that raised;
- ``{"t": "ready"}``: the notebook has run, checks may come;
- ``{"t": "answer", "case": k, "value": {...}}`` (see :func:`encode_answer`), or with
  ``"raised"`` (and ``"not_implemented"``, ``"unavailable"``), ``"problem"`` or ``"missing"``
  instead of a value.

An answer is numbers only, as raw little-endian bytes: ``{"dtype": "float64", "shape": [3],
"data": "<base64>"}``; NaN, infinities and -0.0 travel bit for bit, and a value is never parsed
from decimal text. :func:`decode_answer` rebuilds it in the grader after checking every field.

The grader treats every byte from the child as hostile. :func:`parse_message` refuses a line
longer than :data:`MAX_LINE` or with more than :data:`MAX_CONTAINERS` objects and arrays,
:data:`MAX_KEYS` keys or :data:`MAX_ITEMS` items, counted on the raw bytes before parsing (the
child escapes ``{ [ : ,`` inside strings, so an honest message has exactly its structural ones):
parsing a line costs memory in proportion to its length, never to a multitude of tiny objects.
Every string it returns is valid Unicode (a lone surrogate becomes U+FFFD).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from lossmod.exercises._data import DataError, decode, encode
from numpy.typing import NDArray

MAX_ELEMENTS = 1 << 20  # of one answer
MAX_LINE = 16 << 20  # bytes of one message: an answer of MAX_ELEMENTS float64 takes 11 MB
MAX_CONTAINERS = 8  # objects and arrays in one message
MAX_KEYS = 32  # keys in one message, all objects together
MAX_ITEMS = 96  # commas in one message: keys and array items together
MAX_DIMENSIONS = 32
_DTYPES = frozenset(
    ["bool", "float16", "float32", "float64"]
    + [f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)]
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPES = str.maketrans({"{": "\\u007b", "[": "\\u005b", ":": "\\u003a", ",": "\\u002c"})
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
    plain = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    data = base64.b64encode(plain.tobytes()).decode("ascii")
    return {"dtype": array.dtype.name, "shape": list(array.shape), "data": data}


def _type_name(value: Any) -> str:
    return type(value).__name__[:60]


def decode_answer(data: Any) -> NDArray[Any]:
    """The array an answer describes (in the grader), after checking every field; WireError for
    anything else, whatever the child sent."""
    if not isinstance(data, dict) or set(data) != {"dtype", "shape", "data"}:
        raise WireError("an answer must have exactly dtype, shape and data")
    dtype_name, shape, text = data["dtype"], data["shape"], data["data"]
    if not isinstance(dtype_name, str) or dtype_name not in _DTYPES:
        raise WireError(f"unknown dtype {str(dtype_name)[:40]!r}")
    if not isinstance(shape, list) or len(shape) > MAX_DIMENSIONS:
        raise WireError(f"a shape is a list of at most {MAX_DIMENSIONS} sizes")
    if not all(type(n) is int and 0 <= n <= MAX_ELEMENTS for n in shape):
        raise WireError("a shape holds non-negative integers")
    size = math.prod(shape)
    if size > MAX_ELEMENTS or not isinstance(text, str):
        raise WireError("the data do not match the shape")
    dtype = np.dtype(dtype_name).newbyteorder("<")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, binascii.Error) as error:
        raise WireError("the data are not base64") from error
    if len(raw) != size * dtype.itemsize:
        raise WireError("the data do not match the shape")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return array.astype(array.dtype.newbyteorder("="))


# ---------------------------------------------------------------------------------------------
# Messages


def message_line(message: Mapping[str, Any]) -> bytes:
    """One message, as the bytes of one ASCII line; inside strings ``{ [ : ,`` are escaped, so
    that the line's structure can be counted on its bytes (see :func:`parse_message`)."""
    return _dump(message).encode("ascii") + b"\n"


def _dump(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True).translate(_ESCAPES)
    if isinstance(value, Mapping):
        items = (f"{_dump(str(k))}:{_dump(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return json.dumps(value, allow_nan=False)


def _refuse_constant(name: str) -> Any:
    raise WireError(f"{name} is not allowed")


def parse_message(line: bytes) -> dict[str, Any]:
    """A message line, as a dict with a string ``"t"`` and only valid Unicode in its strings;
    WireError for anything else. Its cost is bounded before it is parsed (see the module)."""
    if len(line) > MAX_LINE:
        raise WireError("message too long")
    if line.count(b"{") + line.count(b"[") > MAX_CONTAINERS:
        raise WireError("too many objects in one message")
    if line.count(b":") > MAX_KEYS or line.count(b",") > MAX_ITEMS:
        raise WireError("too many values in one message")
    try:
        message = json.loads(line, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise WireError(f"not JSON: {valid_text(str(error))[:80]}") from error
    if not isinstance(message, dict) or not isinstance(message.get("t"), str):
        raise WireError("a message is a JSON object with a string 't'")
    valid: dict[str, Any] = _valid_strings(message)
    return valid


def valid_text(text: str) -> str:
    """``text`` with every lone surrogate (which no UTF-8 file can hold) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def _valid_strings(value: Any) -> Any:
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_text(str(k)): _valid_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid_strings(v) for v in value]
    return value
