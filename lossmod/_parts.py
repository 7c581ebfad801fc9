"""A loss, its gradient and both from one function, for the losses that
compute their values and slopes in float64 in one pass (the preference,
embedding, margin, robust and sparse modules).

Each such loss states its checks and its formula once, in a function
``_<name>_parts`` with the loss's public signature that returns the
reduced loss and its gradient (``finish_both``); it is also the
``value_and_grad`` of the registry. The public loss and its gradient are
made from it::

    @value_of(_cauchy_parts)
    def cauchy_loss() -> None:
        '''Cauchy (Lorentzian) loss ...'''

The decorated ``def`` gives only the name and the docstring; the
signature, the checks and the formula are those of the parts function.
(lossmod._kernels, which runs a per-element formula in blocks, does not
take these losses as it stands: it reads one array and a target of the
same shape, plus non-negative weights, checks intervals only, and
computes float32 input in float32; these read rows of vectors, +-1
labels or up to four data arguments, and compute in float64.)

Small argument checks that several of those modules share are here too.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, ParamSpec

from numpy.typing import NDArray

from lossmod._checks import (
    FloatArray,
    LossValue,
    first_index,
    legacy_reduction,
)

Parts = tuple[LossValue, FloatArray]
P = ParamSpec("P")
_LEGACY = ("size_average", "reduce")


def value_of(
    parts: Callable[P, Parts],
) -> Callable[[Callable[[], None]], Callable[P, LossValue]]:
    """The loss whose value and gradient ``parts`` computes: the value,
    under the decorated function's name and docstring."""
    return _maker(parts, 0, "LossValue")


def grad_of(
    parts: Callable[P, Parts],
) -> Callable[[Callable[[], None]], Callable[P, FloatArray]]:
    """The gradient of that loss with respect to its first argument,
    under the decorated function's name and docstring."""
    return _maker(parts, 1, "FloatArray")


def _maker(
    parts: Callable[P, Parts], index: int, returns: str
) -> Callable[[Callable[[], None]], Callable[P, Any]]:
    signature = inspect.signature(parts)
    names = list(signature.parameters)
    # torch's deprecated size_average and reduce, when given: resolved
    # here, so that legacy_reduction's warning points at the caller's
    # line (parts resolves them too, for a direct call, and gets None)
    legacy = names.index(_LEGACY[0]) if _LEGACY[0] in names else None

    def make(documented: Callable[[], None]) -> Callable[P, Any]:
        def loss(*args: P.args, **kwargs: P.kwargs) -> Any:
            if legacy is None or (
                len(args) <= legacy and not kwargs.keys() & _LEGACY
            ):
                return parts(*args, **kwargs)[index]
            bound = signature.bind(*args, **kwargs).arguments
            bound["reduction"] = legacy_reduction(
                bound.pop("size_average", None),
                bound.pop("reduce", None),
                bound.get("reduction", "mean"),
            )
            call: Callable[..., Parts] = parts
            return call(**bound)[index]

        # the name and the docstring of the decorated def; the signature
        # (inspect.signature) and the source (inspect.getsource) of parts
        for attribute in (
            "__module__",
            "__name__",
            "__qualname__",
            "__doc__",
        ):
            setattr(loss, attribute, getattr(documented, attribute))
        loss.__annotations__ = {
            **parts.__annotations__,
            "return": returns,
        }
        loss.__signature__ = signature.replace(  # type: ignore[attr-defined]
            return_annotation=returns
        )
        loss.__wrapped__ = parts  # type: ignore[attr-defined]
        return loss

    return make


# --- Shared checks -----------------------------------------------------


def check_signs(
    name: str, values: NDArray[Any], what: str = "-1 or 1", hint: str = ""
) -> None:
    """Raise unless every entry of ``values`` is -1 or 1, naming the
    first that is not."""
    wrong = (values != 1) & (values != -1)
    if wrong.any():
        index = first_index(wrong)
        raise ValueError(
            f"{name} must hold {what}; got {float(values[index])} at "
            f"index {index}{hint}"
        )


def check_positive(name: str, value: float) -> float:
    """``value`` as a float, refused unless finite and > 0."""
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be > 0 and finite; got {value!r}")
    return number


def check_finite(name: str, value: float) -> float:
    """``value`` as a float, refused unless finite."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return number
