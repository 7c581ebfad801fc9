"""The JSON wire protocol between the grader and a child: plain data, no pickle, no eval.

The grader writes one request to the child's stdin: the notebook to run and, per exercise, the
function to call and the check inputs. Inputs are encoded by :func:`encode_input`: arrays as
``{"array": {"dtype", "shape", "values"}}``, tuples as ``{"tuple": [...]}``, non-finite floats as
``{"float": "nan" | "inf" | "-inf"}``; ints, finite floats, strings, booleans, None and lists as
themselves.

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
from numpy.typing import NDArray

MAX_ELEMENTS = 1 << 20  # of one answer
MAX_LINE = 32 << 20  # bytes of one message
_DTYPES = frozenset(
    ["bool", "float16", "float32", "float64"]
    + [f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)]
)
_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class WireError(ValueError):
    """A message or a value that does not follow the protocol."""


def _float_out(x: float) -> float | str:
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _float_in(x: Any) -> float:
    if isinstance(x, str) and x in _SPECIAL:
        return _SPECIAL[x]
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    raise WireError(f"not a number: {str(x)[:40]!r}")


# ---------------------------------------------------------------------------------------------
# Check inputs, grader to child


def encode_input(value: Any) -> Any:
    """A JSON-able form of a check input (raises TypeError for anything else)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot send an array of dtype {value.dtype}")
        flat = value.ravel().tolist()
        values = [_float_out(v) for v in flat] if value.dtype.kind == "f" else flat
        return {"array": {"dtype": str(value.dtype), "shape": list(value.shape), "values": values}}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        out = _float_out(float(value))
        return out if isinstance(out, float) else {"float": out}
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return {"tuple": [encode_input(v) for v in value]}
    if isinstance(value, list):
        return [encode_input(v) for v in value]
    raise TypeError(f"cannot send a check input of type {type(value).__name__}")


def decode_input(data: Any) -> Any:
    """The check input :func:`encode_input` encoded; arrays are new, writable copies."""
    if isinstance(data, list):
        return [decode_input(v) for v in data]
    if isinstance(data, dict):
        if "array" in data:
            spec = data["array"]
            dtype = np.dtype(spec["dtype"])
            values = [_float_in(v) for v in spec["values"]] if dtype.kind == "f" else spec["values"]
            return np.array(values, dtype=dtype).reshape(spec["shape"])
        if "tuple" in data:
            return tuple(decode_input(v) for v in data["tuple"])
        if "float" in data:
            return _float_in(data["float"])
        raise WireError(f"unknown input encoding {sorted(data)}")
    return data


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
    values = [_float_out(v) for v in flat] if kind == "f" else flat
    return {"dtype": str(array.dtype), "shape": list(array.shape), "values": values}


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
        numbers: list[Any] = [_float_in(v) for v in values]
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
