"""How lossmod evaluates a loss: one pass over the data, in blocks that
stay in the processor's cache, for the value, the gradient or both.

Each loss states its formula once, in plain NumPy, as a per-element (or
per-row) function ``terms``, such as ``_huber_terms(r, delta)`` in
lossmod/regression.py. Called as ``terms(*blocks, loss=..., scale=...)``
it returns two arrays: the losses of the elements it was given (or None,
for ``loss=False``) and the slopes dl/dx of the first argument times
``scale`` (or None, for ``scale=None``); a value that both need, such as
the ``exp(-|z|)`` of a loss on logits, is computed once. This module
applies it to the inputs (see the appendix "How lossmod evaluates a
loss"):

- **one block** when the input is small (at most ``BLOCK`` elements, up
  to about 10^5): the formula runs once on the whole arrays, after checks
  that read no data and allocate nothing;
- **many blocks** otherwise: slices of ``BLOCK`` elements, so that the
  formula's temporaries stay in cache instead of streaming through main
  memory; float32 inputs that must be converted (a float32 prediction
  with a float64 target) go through buffers reused for every block;
- **float32 in float32**: when every input is float32, the formula runs
  in float32 and reads and writes half the bytes; sums are always
  accumulated in float64;
- **the sum in NumPy's order**: the blocks are the leaves of NumPy's
  pairwise summation tree, so the total equals ``np.sum`` of the
  per-element losses (in float64) over the whole array, bit for bit,
  however the input is cut;
- **value and gradient in one pass**: ``evaluate(..., loss="sum",
  scale=s)`` returns both from the same blocks, bit for bit what two
  separate calls return.

The data's checks run in the same pass. An interval (probabilities in
[0, 1], log-probabilities <= 0) is checked with the min and the max of
each block while it is in cache, and a NaN or an infinity in an input
shows in a sum (of the losses; for a gradient alone, the dot product of
the two inputs). Only when a check fails
does a loss run its full checks, which raise the ``ValueError`` that
names the argument, the value and its index. Formulas run with NumPy's
floating-point warnings silenced: a loss either returns a finite result,
or runs its full checks before returning a non-finite one.
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
    Reduction,
    check_weight,
    plain_reals,
    reduce_total,
    result_dtype,
)

__all__ = [
    "BLOCK",
    "Inputs",
    "column_sums",
    "compute_dtype",
    "evaluate",
    "flatten",
    "grad",
    "inputs",
    "narrow",
    "value",
    "value_and_grad",
]

BLOCK = 1 << 17
"""Elements per block. A float64 block is 1 MiB: large enough that the
Python work per block is negligible, small enough that a formula's few
temporaries stay in the second- and third-level caches
(2^16 to 2^18 measured fastest on the course's machines)."""

Operand = NDArray[Any] | float
Terms = tuple[NDArray[Any] | None, NDArray[Any] | None]
Formula = Callable[..., Terms]
Intervals = Mapping[int, tuple[float, float]]
Check = Callable[[], object]
F64 = np.dtype(np.float64)
F32 = np.dtype(np.float32)
_NOTHING: Intervals = {}


@dataclass(slots=True)
class Inputs:
    """The arguments of a loss, ready for :func:`evaluate`.

    Attributes
    ----------
    operands : list
        The first argument, the target and any weights: arrays with the
        same number of rows (elements, for elementwise losses, which are
        flattened), or floats (a weight that is a scalar or absent).
    shape, order : tuple of int, "C" or "F"
        The first argument's shape, and the order of its elements in
        ``operands``.
    out_dtype : dtype
        The result's: float32 for float32 input, else float64.
    compute : dtype
        The formula's: float32 when every operand is float32 (or bool),
        else float64.
    within : mapping from an operand's position to an interval
        The checks made in cache, block by block.
    finite : tuple of int
        The operands whose sums are checked when the losses are not
        computed (a gradient alone), or always if ``loss_shows_nan`` is
        false.
    check : callable
        The loss's full argument checks, raising the ValueError that names
        a bad argument.
    indices : tuple of int
        Operands of class indices, passed to the formula unconverted.
    loss_shows_nan : bool
        Whether a NaN or an infinity in any input makes the losses
        non-finite (true of every elementwise loss here; not of
        cross-entropy, where -inf for a wrong class costs nothing).
    converts : bool
        Whether an operand may need converting to ``compute`` (false when
        every array is known to have that dtype).
    """

    operands: list[Operand]
    shape: tuple[int, ...]
    order: Literal["C", "F"]
    out_dtype: np.dtype[Any]
    compute: np.dtype[Any]
    within: Intervals
    finite: tuple[int, ...]
    check: Check
    indices: tuple[int, ...] = ()
    loss_shows_nan: bool = True
    converts: bool = True


def inputs(
    check: Check,
    first: ArrayLike,
    target: ArrayLike,
    weights: Sequence[tuple[str, ArrayLike | None]] = (),
    within: Intervals | None = None,
    finite: tuple[int, ...] = (0, 1),
) -> Inputs:
    """Check what costs no pass over the data, and flatten the arguments
    of an elementwise loss for :func:`evaluate`.

    Any doubt (a dtype that is not a real number, two shapes that differ, a
    bad weight) runs ``check``, which raises the error the full checks
    would raise first.
    """
    x, y = np.asarray(first), np.asarray(target)
    dtype = x.dtype
    if (  # the usual case, told without reading a value
        dtype == y.dtype
        and x.shape == y.shape
        and (dtype == F64 or dtype == F32)
        and x.flags.c_contiguous
        and y.flags.c_contiguous
        and (not weights or all(w is None for _, w in weights))
    ):
        shape = x.shape
        if x.ndim != 1:
            x, y = x.reshape(-1), y.reshape(-1)
        return Inputs(
            [x, y, *(1.0 for _ in weights)],
            shape,
            "C",
            dtype,
            dtype,
            within or _NOTHING,
            finite,
            check,
            converts=False,
        )
    if not plain_reals(x, y):
        check()
    operands: list[Operand] = [x, y]
    for name, weight in weights:
        if weight is None:
            operands.append(1.0)
            continue
        try:
            w = check_weight(name, weight, x.shape)
        except ValueError:
            check()  # an error in an earlier argument is the one to report
            raise
        operands.append(
            float(w) if w.ndim == 0 else np.broadcast_to(w, x.shape)
        )
    arrays = [a for a in operands if isinstance(a, np.ndarray)]
    flat, order = flatten(*arrays)
    rest = iter(flat)
    operands = [
        next(rest) if isinstance(a, np.ndarray) else a for a in operands
    ]
    out_dtype = result_dtype(x)
    return Inputs(
        operands,
        x.shape,
        order,
        out_dtype,
        compute_dtype(out_dtype, arrays),
        within or {},
        finite,
        check,
    )


def compute_dtype(
    out_dtype: np.dtype[Any], arrays: Sequence[NDArray[Any]]
) -> np.dtype[Any]:
    """float32 when the result is float32 and every array is float32 or
    bool (converted exactly); float64 otherwise, so that a float64 target
    never loses digits to a float32 prediction."""
    if out_dtype == F32 and all(
        a.dtype == F32 or a.dtype.kind == "b" for a in arrays
    ):
        return F32
    return F64


def flatten(
    *arrays: NDArray[Any],
) -> tuple[list[NDArray[Any]], Literal["C", "F"]]:
    """Arrays of one shape as 1-d views (copies if they must be), all in
    the same element order.

    The order is memory order when every array is Fortran-ordered (a
    transposed matrix), so that sums run in the order in which ``np.sum``
    would have added them; C order otherwise.
    """
    if all(a.flags.c_contiguous for a in arrays):
        return [a.reshape(-1) for a in arrays], "C"
    order: Literal["C", "F"] = (
        "F" if all(a.flags.f_contiguous for a in arrays) else "C"
    )
    return [a.ravel(order) for a in arrays], order


# --- The pass ----------------------------------------------------------


def evaluate(
    terms: Formula,
    args: Inputs,
    *,
    loss: Literal["sum", "each"] | None,
    scale: float | None,
) -> tuple[Any, NDArray[Any] | None]:
    """Run ``terms`` over every row of the operands, in one pass.

    Parameters
    ----------
    terms : callable
        ``terms(*blocks, loss=bool, scale=float or None)`` returns the
        losses of a block of rows (one per row) and the slopes times
        ``scale`` (the shape of the block of the first operand).
    args : Inputs
    loss : {"sum", "each"} or None
        "sum": the float64 sum of the losses, in the order of ``np.sum``;
        "each": every row's loss, in an array of ``args.out_dtype`` with
        the shape of the first argument (less its class axis for a loss
        per row); None: no loss.
    scale : float or None
        The factor d(reduced loss)/d(sum) of the gradient; None: no
        gradient.

    Returns
    -------
    (float, ndarray or None; ndarray or None)
        The loss as asked, and the gradient with the first argument's
        shape and order, in ``args.out_dtype``.
    """
    first = args.operands[0]
    assert isinstance(first, np.ndarray)
    rows = BLOCK // max(math.prod(first.shape[1:]), 1)
    quiet = _silence()  # np.errstate(all="ignore"), entered
    try:
        if len(first) <= max(rows, 128):
            result, slopes = _one_block(terms, args, loss, scale)
        else:
            result, slopes = _blocks(
                terms, args, loss, scale, max(rows, 1)
            )
    finally:
        _restore(quiet)
    if slopes is not None and slopes.shape != args.shape:
        slopes = slopes.reshape(args.shape, order=args.order)
    if loss == "each":
        shape = args.shape[: len(args.shape) - first.ndim + 1]
        if result.shape != shape:
            result = result.reshape(shape, order=args.order)
    return result, slopes


try:  # NumPy's floating-point error state, set as np.errstate sets it
    from numpy._core._ufunc_config import (  # type: ignore[attr-defined]
        _extobj_contextvar,
        _make_extobj,
    )

    _QUIET = _make_extobj(all="ignore")

    def _silence() -> Any:
        """``np.errstate(all="ignore")`` entered, without the microsecond
        it takes to build that state at every call (a loss of 32 elements
        costs a few); :func:`_restore` leaves it."""
        return _extobj_contextvar.set(_QUIET)

    def _restore(token: Any) -> None:
        _extobj_contextvar.reset(token)

except ImportError:  # a NumPy without that module: the public way

    def _silence() -> Any:
        return np.seterr(all="ignore")

    def _restore(token: Any) -> None:
        np.seterr(**token)


def _verify(
    args: Inputs,
    blocks: Sequence[Operand],
    sentinel: float,
    loss: str | None,
) -> bool:
    """Run the full checks if a block is outside its interval, or a sum
    that shows a NaN or an infinity is not finite; whether they ran."""
    passed = math.isfinite(sentinel) and (
        not args.within or _inside(blocks, args.within)
    )
    if passed and (loss is None or not args.loss_shows_nan):
        passed = _finite(*[blocks[i] for i in args.finite])
    if not passed:
        args.check()  # raises for a bad input
    return not passed  # a finite input with an infinite loss: go on


def _finite(*blocks: Operand) -> bool:
    """Whether the blocks hold no NaN and no infinity, told by a dot
    product, which BLAS computes about three times faster than NumPy's
    sum: of two blocks with each other (one pass for both; a NaN or an
    infinity in either makes it NaN or infinite), else of each block with
    itself. (It may also overflow: then the full checks look, and pass.)"""
    values = [
        block
        if isinstance(block, np.ndarray) and block.ndim == 1
        else np.asarray(block).reshape(-1)
        for block in blocks
    ]
    if len(values) == 2 and values[0].dtype == values[1].dtype:
        return math.isfinite(np.dot(values[0], values[1]))
    return all(math.isfinite(np.dot(v, v)) for v in values)


def _one_block(
    terms: Formula,
    args: Inputs,
    loss: str | None,
    scale: float | None,
) -> tuple[Any, NDArray[Any] | None]:
    """The whole input as one block: the formula runs once, and its
    results are returned as they are (cast if the result is float32 and
    the formula ran in float64)."""
    compute = args.compute
    blocks = args.operands
    if args.converts and _converts(args):
        blocks = [
            x
            if not isinstance(x, np.ndarray)
            or x.dtype == compute
            or i in args.indices
            else x.astype(compute)
            for i, x in enumerate(blocks)
        ]
    values, slopes = terms(*blocks, loss=loss is not None, scale=scale)
    result: Any = None
    sentinel = 0.0
    if values is not None:
        if loss == "sum":
            wide = values if values.dtype == F64 else values.astype(F64)
            sentinel = result = float(wide.sum())
        else:
            sentinel = float(values.sum())
            result = values.astype(args.out_dtype, copy=False)
    _verify(args, blocks, sentinel, loss)
    if slopes is not None and slopes.dtype != args.out_dtype:
        slopes = slopes.astype(args.out_dtype)
    return result, slopes


def _converts(args: Inputs) -> bool:
    """Whether an operand's dtype is not the formula's."""
    return any(
        isinstance(x, np.ndarray)
        and x.dtype != args.compute
        and i not in args.indices
        for i, x in enumerate(args.operands)
    )


def _blocks(
    terms: Formula,
    args: Inputs,
    loss: str | None,
    scale: float | None,
    rows: int,
) -> tuple[Any, NDArray[Any] | None]:
    """Blocks of ``rows`` rows (leaves of the pairwise tree for a sum),
    written into preallocated outputs."""
    first = args.operands[0]
    assert isinstance(first, np.ndarray)
    length = len(first)
    _settle_allocator()
    leaf = max(rows, 128) if loss == "sum" else rows
    buffers = [
        np.empty((leaf, *x.shape[1:]), args.compute)
        if isinstance(x, np.ndarray)
        and x.dtype != args.compute
        and i not in args.indices
        else None
        for i, x in enumerate(args.operands)
    ]
    wide = np.empty(leaf) if args.compute != F64 else None
    each = np.empty(length, args.out_dtype) if loss == "each" else None
    grad = (
        np.empty(first.shape, args.out_dtype)
        if scale is not None
        else None
    )
    checked = False

    def block(start: int, stop: int) -> float:
        nonlocal checked
        blocks = _slices(args.operands, buffers, start, stop)
        values, slopes = terms(*blocks, loss=loss is not None, scale=scale)
        total = sentinel = 0.0
        if values is not None:
            if loss == "sum":
                if wide is not None:  # float32 losses, added in float64
                    np.copyto(wide[: stop - start], values)
                    values = wide[: stop - start]
                total = sentinel = float(values.sum())
            else:
                assert each is not None
                each[start:stop] = values
                sentinel = float(values.sum())
        if not checked:
            checked = _verify(args, blocks, sentinel, loss)
        if slopes is not None:
            assert grad is not None
            grad[start:stop] = slopes
        return total

    if loss == "sum":
        return _pairwise(block, 0, length, leaf), grad
    for start in range(0, length, rows):
        block(start, min(start + rows, length))
    return each, grad


def _pairwise(
    leaf: Callable[[int, int], float], start: int, length: int, size: int
) -> float:
    """NumPy's pairwise summation of elements start..start+length, with
    blocks of at most ``size`` as its leaves.

    ``np.add.reduce`` splits n > 128 elements at n2 = n // 2 rounded down
    to a multiple of 8 and adds the sums of the two halves; splitting the
    same way down to ``size`` elements and summing each leaf with
    ``np.sum`` reproduces its result exactly. (NumPy sums 128 elements or
    fewer without splitting them: so must a leaf.)
    """
    if length <= size:
        return leaf(start, start + length)
    half = length // 2 - (length // 2) % 8
    return _pairwise(leaf, start, half, size) + _pairwise(
        leaf, start + half, length - half, size
    )


def _slices(
    operands: Sequence[Operand],
    buffers: Sequence[NDArray[Any] | None],
    start: int,
    stop: int,
) -> list[Operand]:
    """Rows start..stop of every operand, converted where a buffer is
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


def _inside(blocks: Sequence[Operand], within: Intervals) -> bool:
    """Whether every block named in ``within`` lies in its closed interval
    (NaN lies in none)."""
    for position, (low, high) in within.items():
        block = np.asarray(blocks[position])
        if block.size == 0:
            continue
        if low > -math.inf and not block.min() >= low:
            return False
        if high < math.inf and not block.max() <= high:
            return False
    return True


def _settle_allocator() -> None:
    """Keep glibc from returning a formula's freed temporaries to the
    system after every block.

    glibc's malloc gives the top of its heap back to the system once it
    exceeds twice the largest block it has mmap-ed and freed, which starts
    at 128 KiB: a formula whose temporaries exceed that (a few arrays of
    10 000 float64 do) then page-faults on every block, and runs up to five
    times slower. Freeing one 8 MiB array raises that threshold for good,
    as any program that frees such an array does. Harmless with other
    allocators. Done once, at the first pass over many blocks.
    """
    global _settled
    if not _settled:
        np.empty(1 << 20)
        _settled = True


_settled = False


# --- Reductions of elementwise losses ----------------------------------


def value(terms: Formula, args: Inputs, reduction: Reduction) -> LossValue:
    """The "sum" or "mean" of the losses over the elements, or the losses
    for "none"."""
    if reduction == "none":
        each, _ = evaluate(terms, args, loss="each", scale=None)
        return each  # type: ignore[no-any-return]
    total, _ = evaluate(terms, args, loss="sum", scale=None)
    return reduce_total(
        total, math.prod(args.shape), reduction, args.out_dtype
    )


def grad(terms: Formula, args: Inputs, scale: float) -> FloatArray:
    """The slopes times ``scale``, in the first argument's shape and
    dtype."""
    _, slopes = evaluate(terms, args, loss=None, scale=scale)
    assert slopes is not None
    return slopes


def value_and_grad(
    terms: Formula, args: Inputs, reduction: Reduction, scale: float
) -> tuple[LossValue, FloatArray]:
    """:func:`value` and :func:`grad` from one pass, bit for bit."""
    mode: Literal["sum", "each"] = "each" if reduction == "none" else "sum"
    result, slopes = evaluate(terms, args, loss=mode, scale=scale)
    assert slopes is not None
    if reduction == "none":
        return result, slopes
    count = math.prod(args.shape)
    return reduce_total(result, count, reduction, args.out_dtype), slopes


# --- Many short rows ---------------------------------------------------

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


def column_sums(t: NDArray[Any]) -> NDArray[Any]:
    """``np.sum(t.T, axis=1)`` for a C-contiguous ``t.T`` of rows of at
    most 128, bit for bit.

    NumPy sums a contiguous row of n <= 128 terms with eight running sums
    (terms j, j + 8, ...), combined as
    ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then adds the n % 8
    last terms one by one (and fewer than 8 terms one by one). Here each r
    is a vector over the k columns of ``t``, of shape (C, k).
    """
    n = len(t)
    total: NDArray[Any]
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
