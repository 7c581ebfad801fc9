"""Blocked evaluation of elementwise kernels: how every loss runs fast
without changing a bit.

Each loss states its per-element formula once, in plain NumPy, as a small
*kernel*: a function of float64 arrays such as ``lambda r: r * r``. This
module applies a kernel to the flattened inputs in blocks of at most
``BLOCK`` elements, so that the temporaries the formula creates stay in the
processor's cache instead of streaming through main memory:

- a block of a float32 (or integer) input is converted to float64 in a
  buffer reused for every block, so the formula is evaluated, and summed,
  in float64 whatever the input precision;
- ``fold`` sums the kernel's values in exactly the order of ``np.sum`` over
  the whole array (the blocks are the leaves of NumPy's pairwise-summation
  tree), so blocking never changes a result, not even in its last bit;
- ``fill`` writes the kernel's values (a gradient, or unreduced losses)
  block by block into one preallocated array of the caller's dtype.

The argument checks run in the same pass. An interval
(probabilities in [0, 1], log-probabilities <= 0) is checked with the min
and the max of each block while it is in cache, and a NaN or an infinity in
an input shows in a sum. Only when a check fails does a loss run its full
checks, which raise the ``ValueError`` that names the argument, the value
and its index.

Kernels run with NumPy's floating-point warnings silenced: a loss either
returns a finite result, or runs its full checks before returning a
non-finite one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import (
    FloatArray,
    LossValue,
    check_weight,
    plain_reals,
    reduce_total,
    result_dtype,
)

__all__ = [
    "BLOCK",
    "Inputs",
    "column_sums",
    "elementwise",
    "fill",
    "flatten",
    "fold",
    "inputs",
    "narrow",
    "reduced",
]

BLOCK = 1 << 16
"""Elements per block. A float64 block is 512 KiB: large enough that the
Python work per block is negligible, small enough that a kernel's few
temporaries stay in the second- and third-level caches
(2^15 to 2^17 measured fastest on the course's machines)."""

Operand = NDArray[Any] | float
Kernel = Callable[..., Any]
Intervals = Mapping[int, tuple[float, float]]
Check = Callable[[], object]


def _settle_allocator() -> None:
    """Keep glibc from returning a kernel's freed temporaries to the system
    after every call.

    glibc's malloc gives the top of its heap back to the system once it
    exceeds twice the largest block it has mmap-ed and freed, which starts
    at 128 KiB: a kernel whose temporaries exceed that (a few arrays of
    10 000 float64 do) then page-faults on every block, and runs up to five
    times slower. Freeing one 8 MiB array raises that threshold for good,
    as any program that frees such an array does. Harmless with other
    allocators. Done once, at the first kernel.
    """
    global _settled
    if not _settled:
        np.empty(1 << 20)
        _settled = True


_settled = False


class _Outside(Exception):
    """A block is outside its interval: the sum is abandoned, and the full
    checks run."""


def fold(
    kernel: Kernel,
    operands: Sequence[Operand],
    *,
    within: Intervals | None = None,
    check: Check | None = None,
) -> float:
    """Sum of ``kernel(*operands)`` over every element, in float64, one
    block at a time.

    Parameters
    ----------
    kernel : callable
        Maps float64 arrays of equal length (and the scalars among
        ``operands``, unchanged) to the per-element values, an array of
        that length.
    operands : sequence of 1-d arrays of equal length, or floats
        The flattened inputs, of any real dtype.
    within : mapping from an operand's position to an interval (low, high),
             optional
        The closed interval each of those operands must lie in; NaN lies in
        none.
    check : callable, optional
        The loss's full argument checks, run when an operand is outside its
        interval or the sum is not finite; they raise on a bad input (a
        valid one may give an infinite loss).

    Returns
    -------
    float
        ``float(np.sum(kernel(*operands)))``, bit for bit.
    """
    length = _length(operands)
    _settle_allocator()
    buffers = _buffers(operands, min(length, max(BLOCK, 128)))

    def leaf(start: int, stop: int) -> float:
        blocks = _blocks(operands, buffers, start, stop)
        total = float(np.sum(kernel(*blocks)))
        if not _inside(
            blocks, within
        ):  # checked after the kernel, which brought them to cache
            raise _Outside
        return total

    with np.errstate(all="ignore"):
        try:
            total = _pairwise(leaf, 0, length)
        except _Outside:
            total = math.nan
    if check is not None and not math.isfinite(total):
        check()
    return total


def _pairwise(
    leaf: Callable[[int, int], float], start: int, length: int
) -> float:
    """NumPy's pairwise summation of elements start..start+length, with
    blocks as its leaves.

    ``np.add.reduce`` splits n > 128 elements at n2 = n // 2 rounded down
    to a multiple of 8 and adds the sums of the two halves; splitting the
    same way down to BLOCK elements and summing each leaf with ``np.sum``
    reproduces its result exactly. (NumPy sums 128 elements or fewer
    without splitting them: so must a leaf, whatever BLOCK.)
    """
    if length <= max(BLOCK, 128):
        return leaf(start, start + length)
    half = length // 2 - (length // 2) % 8
    return _pairwise(leaf, start, half) + _pairwise(
        leaf, start + half, length - half
    )


def fill(
    kernel: Kernel,
    operands: Sequence[Operand],
    out: NDArray[Any],
    *,
    within: Intervals | None = None,
    finite: Sequence[int] = (),
    indices: Sequence[int] = (),
    check: Check | None = None,
) -> None:
    """Write ``kernel(*operands)`` into ``out``, blocks of rows at a time,
    cast to its dtype.

    Parameters
    ----------
    kernel : callable
        Maps blocks of rows of the operands (float64, except ``indices``)
        to the rows of ``out``.
    operands : sequence of arrays with ``len(out)`` rows, or floats
        A block holds about BLOCK elements of the first operand.
    out : ndarray
        Preallocated; its dtype is the caller's (float32 stays float32).
    within : mapping from an operand's position to an interval (low, high),
             optional
        As in :func:`fold`.
    finite : sequence of int
        Positions of operands that must be finite (checked through the sum
        of each block, which may also overflow: a failed check is a reason
        to look, not a proof of an error).
    indices : sequence of int
        Positions of integer operands (class indices) passed to the kernel
        unconverted.
    check : callable, optional
        The loss's full argument checks, run when a block fails ``within``
        or ``finite``.
    """
    first = np.asarray(operands[0])
    step = max(1, BLOCK // max(math.prod(first.shape[1:]), 1))
    _settle_allocator()
    buffers = _buffers(operands, min(len(out), step), indices)
    passed = True
    with np.errstate(all="ignore"):
        for start in range(0, len(out), step):
            stop = min(start + step, len(out))
            blocks = _blocks(operands, buffers, start, stop)
            out[start:stop] = kernel(*blocks)
            passed = passed and _inside(blocks, within)
            passed = passed and all(
                math.isfinite(np.sum(blocks[i])) for i in finite
            )
    if check is not None and not passed:
        check()


def flatten(
    *arrays: NDArray[Any],
) -> tuple[list[NDArray[Any]], Literal["C", "F"]]:
    """Arrays of one shape as 1-d views (copies if they must be), all in
    the same element order.

    The order is memory order when every array is Fortran-ordered (a
    transposed matrix), so that sums run in the order in which ``np.sum``
    would have added them; C order otherwise.
    """
    order: Literal["C", "F"] = (
        "F" if all(a.flags.f_contiguous for a in arrays) else "C"
    )
    return [a.ravel(order) for a in arrays], order


def _length(operands: Sequence[Operand]) -> int:
    return next(len(x) for x in operands if isinstance(x, np.ndarray))


def _buffers(
    operands: Sequence[Operand], rows: int, indices: Sequence[int] = ()
) -> list[NDArray[np.float64] | None]:
    """A float64 buffer of ``rows`` rows for every operand that needs
    converting, else None."""
    return [
        np.empty((rows, *x.shape[1:]))
        if isinstance(x, np.ndarray)
        and x.dtype != np.float64
        and i not in indices
        else None
        for i, x in enumerate(operands)
    ]


def _blocks(
    operands: Sequence[Operand],
    buffers: Sequence[NDArray[np.float64] | None],
    start: int,
    stop: int,
) -> list[Operand]:
    """Rows start..stop of every operand, as float64 where a buffer is
    given; scalars as given."""
    blocks: list[Operand] = []
    for x, buffer in zip(operands, buffers, strict=True):
        if not isinstance(x, np.ndarray):
            blocks.append(x)
        elif buffer is None:
            blocks.append(x[start:stop])
        else:
            converted = buffer[: stop - start]
            np.copyto(converted, x[start:stop])
            blocks.append(converted)
    return blocks


def _inside(blocks: Sequence[Operand], within: Intervals | None) -> bool:
    """Whether every block named in ``within`` lies in its closed interval
    (NaN lies in none)."""
    for position, (low, high) in (within or {}).items():
        block = np.asarray(blocks[position])
        if block.size == 0:
            continue
        if low > -math.inf and not block.min() >= low:
            return False
        if high < math.inf and not block.max() <= high:
            return False
    return True


@dataclass
class Inputs:
    """The arguments of an elementwise loss, ready for :func:`fold` and
    :func:`fill`.

    Attributes
    ----------
    operands : list
        The first argument, the target and any weights, as 1-d arrays in
        one element order (or floats, for weights that are scalars or
        absent).
    shape, order : tuple of int, "C" or "F"
        The first argument's shape, and the order of its elements in
        ``operands``.
    out_dtype : dtype
        The result's: float32 for float32 input, else float64.
    within : mapping from an operand's position to an interval
        The checks made in cache, block by block.
    check : callable
        The loss's full argument checks, raising the ValueError that names
        a bad argument.
    """

    operands: list[Operand]
    shape: tuple[int, ...]
    order: Literal["C", "F"]
    out_dtype: np.dtype[Any]
    within: Intervals
    check: Check


def inputs(
    check: Check,
    first: ArrayLike,
    target: ArrayLike,
    weights: Sequence[tuple[str, ArrayLike | None]] = (),
    within: Intervals | None = None,
) -> Inputs:
    """Check what costs no pass over the data, and flatten the arguments
    for the kernels.

    Any doubt (a dtype that is not a real number, two shapes that differ, a
    bad weight) runs ``check``, which raises the error the full checks
    would raise first.
    """
    x, y = np.asarray(first), np.asarray(target)
    if not plain_reals(x, y):
        check()
    values: list[Operand] = []
    for name, weight in weights:
        try:
            w = (
                1.0
                if weight is None
                else check_weight(name, weight, x.shape)
            )
        except ValueError:
            check()  # an error in an earlier argument is the one to report
            raise
        values.append(
            float(w) if np.ndim(w) == 0 else np.broadcast_to(w, x.shape)
        )
    arrays, order = flatten(
        x, y, *(w for w in values if isinstance(w, np.ndarray))
    )
    weight_arrays = iter(arrays[2:])
    flat = [
        next(weight_arrays) if isinstance(w, np.ndarray) else w
        for w in values
    ]
    return Inputs(
        [*arrays[:2], *flat],
        x.shape,
        order,
        result_dtype(x),
        within or {},
        check,
    )


def reduced(
    kernel: Kernel,
    args: Inputs,
    reduction: str,
    *,
    finite: Sequence[int] = (),
) -> LossValue:
    """The "sum" or "mean" of ``kernel`` over the elements, or the elements
    for "none" (whose ``finite`` operands are then checked: no sum shows a
    NaN or an infinity in them)."""
    if reduction == "none":
        return elementwise(kernel, args, finite=finite)
    total = fold(
        kernel, args.operands, within=args.within, check=args.check
    )
    return reduce_total(
        total, math.prod(args.shape), reduction, args.out_dtype
    )


def elementwise(
    kernel: Kernel, args: Inputs, *, finite: Sequence[int] = ()
) -> FloatArray:
    """``kernel`` per element, into a new array of the caller's dtype,
    shape and memory order."""
    out = np.empty(args.shape, args.out_dtype, order=args.order)
    flat = out.ravel(args.order)
    fill(
        kernel,
        args.operands,
        flat,
        within=args.within,
        finite=finite,
        check=args.check,
    )
    return out


NARROW = 32
"""At most this many classes make a block narrow (see :func:`narrow`)."""


def narrow(z: NDArray[Any], axis: int) -> bool:
    """Whether ``z`` is a block of many short rows reduced along them:
    (k, C), C <= NARROW.

    NumPy reduces short rows one at a time, some 15 ns each, which for 10
    classes costs more than their exponentials. The primitives then work on
    the transpose, (C, k), where a reduction over the classes is a few
    operations on vectors of k. Only for a C-contiguous ``z``, whose row
    sums NumPy computes pairwise (see :func:`column_sums`).
    """
    return (
        z.ndim == 2
        and axis in (1, -1)
        and 1 <= z.shape[1] <= NARROW
        and z.shape[0] >= 256
        and z.flags.c_contiguous
    )


def column_sums(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """``np.sum(t.T, axis=1)`` for a C-contiguous ``t.T`` of rows of at
    most 128, bit for bit.

    NumPy sums a contiguous row of n <= 128 terms with eight running sums
    (terms j, j + 8, ...), combined as
    ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then adds the n % 8
    last terms one by one (and fewer than 8 terms one by one). Here each r
    is a vector over the k columns of ``t``, of shape (C, k).
    """
    n = len(t)
    total: NDArray[np.float64]
    if n < 8:
        total = t[0].copy()
        for row in t[1:]:
            total += row
        return total
    r = t[:8].copy()
    for i in range(8, n - n % 8, 8):
        r += t[i : i + 8]
    total = ((r[0] + r[1]) + (r[2] + r[3])) + (
        (r[4] + r[5]) + (r[6] + r[7])
    )
    for row in t[n - n % 8 :]:
        total += row
    return total
