"""Check data as JSON: the encoding of the public checks in ``catalogue.json`` and of the
grader's check inputs.

Arrays are ``{"array": {"dtype", "shape", "values"}}``, tuples ``{"tuple": [...]}``, dicts
``{"dict": {...}}``, non-finite floats ``{"float": "nan" | "inf" | "-inf"}``; ints, finite floats,
strings, booleans, None and lists are themselves. Finite floats are written by ``repr``, so every
value reads back to the same bits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class DataError(ValueError):
    """Data that does not follow the encoding."""


def float_out(x: float) -> float | str:
    """A float as JSON: itself when finite, else ``"nan"``, ``"inf"`` or ``"-inf"``."""
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def float_in(x: Any) -> float:
    """The float :func:`float_out` wrote; DataError for anything else."""
    if isinstance(x, str) and x in _SPECIAL:
        return _SPECIAL[x]
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    raise DataError(f"not a number: {str(x)[:40]!r}")


def encode(value: Any) -> Any:
    """A JSON-able form of a check input or answer (TypeError for anything else)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot encode an array of dtype {value.dtype}")
        flat = value.ravel().tolist()
        values = [float_out(v) for v in flat] if value.dtype.kind == "f" else flat
        return {
            "array": {
                "dtype": str(value.dtype),
                "shape": list(value.shape),
                "values": values,
            }
        }
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        out = float_out(float(value))
        return out if isinstance(out, float) else {"float": out}
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: encode(v) for k, v in value.items()}}
    raise TypeError(f"cannot encode a value of type {type(value).__name__}")


def decode(data: Any) -> Any:
    """The value :func:`encode` encoded; arrays are new, writable copies."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        if "array" in data:
            spec = data["array"]
            dtype = np.dtype(spec["dtype"])
            values = [float_in(v) for v in spec["values"]] if dtype.kind == "f" else spec["values"]
            return np.array(values, dtype=dtype).reshape(spec["shape"])
        if "tuple" in data:
            return tuple(decode(v) for v in data["tuple"])
        if "float" in data:
            return float_in(data["float"])
        if "dict" in data:
            return {k: decode(v) for k, v in data["dict"].items()}
        raise DataError(f"unknown encoding {sorted(data)}")
    return data
