"""The one pass behind every loss (lossmod._kernels): blocking changes no result, not even in its
last bit; the value and the gradient from one pass are those of two calls; float32 is computed
in float32 with sums in float64; and the checks fused into the pass still name every bad input."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest
from scipy import special

import lossmod
from lossmod import LOSSES, _kernels, primitives
from tests.helpers.cases import N, call_args, option_sets, sample_input, sample_target

SIZES = [0, 1, 7, 63, 64, 65, 200, 1000, 4099]


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Blocks of 64 elements, so that small inputs take every multi-block path."""
    monkeypatch.setattr(_kernels, "BLOCK", 64)
    return 64


def bits(x: Any) -> tuple[str, tuple[int, ...], bytes]:
    """An array's dtype, shape and bytes: equal bits, not just equal values."""
    a = np.ascontiguousarray(x)
    return a.dtype.str, a.shape, a.tobytes()


def product_terms(a: Any, b: Any, *, loss: bool = True, scale: float | None = 1.0) -> Any:
    """A formula for the tests: losses a * b - b, slopes b times scale."""
    return (a * b - b if loss else None), (scale * b if scale is not None else None)


def args_of(*operands: np.ndarray, check: Any = None, **fields: Any) -> _kernels.Inputs:
    return _kernels.inputs(check or (lambda: None), *operands, **fields)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_sum_is_np_sum_bit_for_bit(n: int, dtype: type, small_blocks: int) -> None:
    """The pass's sum equals np.sum of the formula over the whole array (computed in the
    formula's dtype, added in float64), bit for bit: its blocks are the leaves of NumPy's
    pairwise summation tree."""
    rng = np.random.default_rng(n)
    x = (rng.normal(size=n) * np.exp(rng.uniform(-20, 20, size=n))).astype(dtype)
    y = rng.normal(size=n).astype(dtype)
    args = args_of(x, y)
    compute = np.float32 if dtype == np.float32 else np.float64
    assert args.compute == compute
    a, b = x.astype(compute), y.astype(compute)
    total, _ = _kernels.evaluate(product_terms, args, loss="sum", scale=None)
    assert bits(total) == bits(float(np.sum((a * b - b).astype(np.float64))))


@pytest.mark.parametrize("n", SIZES)
def test_each_and_gradient_are_written_block_by_block(n: int, small_blocks: int) -> None:
    """Per-element losses and slopes land in arrays of the caller's dtype and shape; rows of a
    matrix with class indices (passed to the formula unconverted) likewise."""
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 3))
    each, slopes = _kernels.evaluate(product_terms, args_of(x, y), loss="each", scale=0.5)
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(each, (x64 * y - y).astype(np.float32))
    np.testing.assert_array_equal(slopes, (0.5 * y).astype(np.float32))
    assert each.dtype == slopes.dtype == np.float32 and each.shape == slopes.shape == (n, 3)

    labels = rng.integers(0, 3, size=n)
    seen = []

    def rows(z: Any, k: Any, w: Any, *, loss: bool, scale: float | None) -> Any:
        seen.append(k.dtype)
        return z.sum(axis=1), z - k[:, None]

    args = _kernels.Inputs(
        [x, labels, 1.0],
        x.shape,
        "C",
        np.dtype(np.float32),
        np.dtype(np.float32),
        {},
        (0,),
        lambda: None,
        indices=(1,),
    )
    per_row, slopes = _kernels.evaluate(rows, args, loss="each", scale=1.0)
    assert per_row.shape == (n,)
    np.testing.assert_array_equal(slopes, x - labels[:, None].astype(np.float32))
    assert all(dtype == labels.dtype for dtype in seen)


def test_checks_in_cache_find_a_bad_value_in_a_late_block(small_blocks: int) -> None:
    """An interval check or a finite check that fails in any block runs the full checks, once."""
    x = np.zeros(1000)
    y = np.full(1000, 0.5)
    y[999] = 1.5
    calls: list[int] = []
    args = args_of(x, y, check=lambda: calls.append(1), within={1: (0.0, 1.0)})
    _kernels.evaluate(product_terms, args, loss="sum", scale=1.0)
    x[998] = np.nan
    y[999] = 0.5
    args = args_of(x, y * 0, check=lambda: calls.append(2), finite=(0,))
    _kernels.evaluate(product_terms, args, loss=None, scale=1.0)  # slopes y: no NaN in them
    assert calls == [1, 2]


def test_argument_checks_read_no_data_and_allocate_nothing() -> None:
    """For the usual arguments (two arrays of one shape and dtype) the checks before the pass
    read no value and allocate no array: a few hundred bytes, whatever the size."""
    x, y = np.zeros(100_000), np.ones(100_000)
    tracemalloc.start()
    try:
        _kernels.inputs(lambda: None, x, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4096


def case_inputs(name: str, case: int, n: int) -> tuple[Any, Any, dict[str, Any]]:
    """The first argument, the target and the options of option set ``case`` of a loss, with n
    samples (elements of shape (n, 4), or rows of 4 classes)."""
    loss = LOSSES[name]
    options = option_sets(loss)[case]
    rng = np.random.default_rng(case)
    target = sample_target(loss, rng, n=n, c=4)
    if loss.target_space == "values" and loss.arguments == ("target",):
        target = rng.normal(size=(n, 4))
    if "weight" in options and np.shape(options["weight"]) == (N,):  # per element, not per class
        options = {**options, "weight": np.linspace(0.5, 2.0, np.size(target))}
        options["weight"] = options["weight"].reshape(np.shape(target))
    if options.get("log_target"):
        target = np.log(target)
    x = sample_input(loss, rng, np.exp(target) if options.get("log_target") else target)
    return x, target, options


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_blocking_changes_no_loss_and_no_gradient(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every registered loss, gradient and value_and_grad, for every option set and reduction,
    gives the same bits with blocks of 64 elements as in one block, on float64 and float32
    inputs; and value_and_grad gives the bits of value and grad."""
    loss = LOSSES[name]
    for case in range(len(option_sets(loss))):
        x, target, options = case_inputs(name, case, 300)
        for dtype in (np.float64, np.float32):
            first = x.astype(dtype)
            for reduction in loss.reductions:
                results = []
                for block in (_kernels.BLOCK, 64):
                    monkeypatch.setattr(_kernels, "BLOCK", block)
                    rest = call_args(target)
                    value = loss.value(first, *rest, reduction=reduction, **options)
                    grad = loss.grad(first, *rest, reduction=reduction, **options)
                    both = loss.value_and_grad(first, *rest, reduction=reduction, **options)
                    results.append((bits(value), bits(grad)))
                    assert (bits(both[0]), bits(both[1])) == results[-1], (name, dtype, reduction)
                assert results[0] == results[1], (name, options, dtype, reduction)


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "bce_with_logits", "kl_div"])
def test_float32_is_computed_in_float32_and_summed_in_float64(name: str) -> None:
    """float32 inputs: the per-element losses are the formula evaluated in float32 (the
    losses of float64 inputs rounded would differ), and the sum adds them in float64."""
    loss = LOSSES[name]
    x, target, _ = case_inputs(name, 0, 500)
    x32, t32 = x.astype(np.float32), np.asarray(target, dtype=np.float32)
    each = loss.value(x32, t32, reduction="none")
    assert each.dtype == np.float32
    total = loss.value(x32, t32, reduction="sum")
    assert bits(total) == bits(np.float32(np.sum(each.astype(np.float64))))
    if name == "mse":
        np.testing.assert_array_equal(each, (x32 - t32) * (x32 - t32))
    mixed = loss.value(x32, t32.astype(np.float64), reduction="none")  # float64 target: float64
    rounded = loss.value(x32.astype(np.float64), t32.astype(np.float64), reduction="none")
    assert bits(mixed) == bits(rounded.astype(np.float32))


def test_float32_log_cosh_stays_float32_on_both_branches() -> None:
    """log-cosh has a branch for |r| >= 20: a float32 residual there gives a float32 loss, and
    the sum is the float64 sum of the float32 losses."""
    r = np.array([25.0, -30.0, 0.5, 1e3], dtype=np.float32)
    each = LOSSES["log_cosh"].value(r, np.zeros(4, np.float32), reduction="none")
    assert each.dtype == np.float32
    r64 = r.astype(np.float64)
    np.testing.assert_allclose(each, np.logaddexp(r64, -r64) - np.log(2.0), rtol=1e-6)
    total = LOSSES["log_cosh"].value(r, np.zeros(4, np.float32), reduction="sum")
    assert bits(total) == bits(np.float32(np.sum(each.astype(np.float64))))


@pytest.mark.parametrize("classes", [1, 2, 7, 8, 10, 17, 32])
def test_narrow_rows_give_the_same_bits(classes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Few classes and many rows take the transposed path (lossmod._kernels.narrow): logsumexp,
    softmax, log_softmax and cross-entropy (value, gradient, both) equal the row-by-row path bit
    for bit, ties included; the fused logsumexp-and-softmax equals the two."""
    rng = np.random.default_rng(classes)
    z = rng.normal(size=(600, classes)) * np.exp(rng.uniform(-3, 9, size=(600, 1)))
    z[::5] = np.round(z[::5])  # rows with ties
    z[::7] = 0.0
    labels = rng.integers(0, classes, size=600)
    assert _kernels.narrow(z, axis=1)

    def everything() -> list[tuple[str, tuple[int, ...], bytes]]:
        m, log_sum, p = primitives._logsumexp_and_softmax(z, axis=1)
        m2, log_sum2 = primitives._shifted_logsumexp(z, axis=1)
        assert (bits(m), bits(log_sum), bits(p)) == (
            bits(m2),
            bits(log_sum2),
            bits(primitives._softmax(z, axis=1)),
        )
        both = LOSSES["cross_entropy"].value_and_grad(z, labels)
        return [
            bits(lossmod.logsumexp(z)),
            bits(lossmod.softmax(z)),
            bits(lossmod.log_softmax(z)),
            bits(lossmod.cross_entropy(z, labels, reduction="none")),
            bits(lossmod.cross_entropy_grad(z, labels)),
            bits(lossmod.cross_entropy(z, labels)),
            bits(both[0]),
            bits(both[1]),
        ]

    fast = everything()
    assert fast[5] == fast[6] and fast[4] == fast[7]
    monkeypatch.setattr(_kernels, "NARROW", 0)
    assert not _kernels.narrow(z, axis=1)
    assert fast == everything()


@pytest.mark.parametrize("n", list(range(1, 140)))
def test_column_sums_is_numpys_pairwise_row_sum(n: int) -> None:
    """column_sums(t) equals np.sum(t.T, axis=1) bit for bit for rows of up to 139 terms."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=(50, n)) * np.exp(rng.uniform(-30, 30, size=(50, n)))
    if n <= 128:
        assert bits(_kernels.column_sums(np.ascontiguousarray(x.T))) == bits(np.sum(x, axis=1))


def test_flatten_keeps_memory_order_for_transposed_inputs() -> None:
    """Fortran-ordered arguments are flattened in memory order (no copy), so that the sum runs in
    the order np.sum uses; mixed orders fall back to C order."""
    a = np.arange(12.0).reshape(3, 4).T
    (flat_a, _), order = _kernels.flatten(a, a * 2)
    assert order == "F" and np.shares_memory(flat_a, a)
    assert lossmod.mse(a, 2 * a, reduction="sum") == np.sum((a - 2 * a) * (a - 2 * a))
    grad = lossmod.mse_grad(a, 2 * a, reduction="sum")
    assert grad.flags.f_contiguous and bits(grad) == bits(2.0 * (a - 2 * a))
    (_, _), mixed = _kernels.flatten(a, np.ascontiguousarray(a))
    assert mixed == "C"


def test_large_inputs_match_the_unblocked_formula_exactly() -> None:
    """Inputs of several blocks: the loss is the one-line NumPy formula over the whole array, to
    the last bit (mean squared error, BCE with logits, softmax cross-entropy), with or without
    the gradient."""
    rng = np.random.default_rng(1)
    n = 3 * _kernels.BLOCK + 5
    p, t = rng.normal(size=n), rng.normal(size=n)
    assert lossmod.mse(p, t) == np.mean((p - t) * (p - t))
    value, grad = LOSSES["mse"].value_and_grad(p, t)
    assert value == np.mean((p - t) * (p - t)) and bits(grad) == bits(2.0 / n * (p - t))
    z, y = 5 * p, (t > 0).astype(np.float64)
    tail = np.log1p(np.exp(-np.abs(z)))
    expected = np.mean(y * (np.maximum(-z, 0.0) + tail) + (1 - y) * (np.maximum(z, 0.0) + tail))
    assert lossmod.bce_with_logits(z, y) == expected
    assert LOSSES["bce_with_logits"].value_and_grad(z, y)[0] == expected
    logits = rng.normal(size=(n // 10, 10)) * 3
    labels = rng.integers(0, 10, size=n // 10)
    reference = -special.log_softmax(logits, axis=1)[np.arange(len(labels)), labels].mean()
    assert lossmod.cross_entropy(logits, labels) == pytest.approx(reference, rel=1e-14)


@pytest.mark.parametrize("position", [0, 70, 999])
def test_errors_name_the_first_bad_element_in_any_block(position: int, small_blocks: int) -> None:
    """A NaN, an infinity or a value out of range, in the first block or a later one, raises the
    same ValueError as the full checks: the argument, the value, the index; value_and_grad
    raises it too."""
    z = np.zeros(1000)
    y = np.full(1000, 0.5)
    z[position] = np.nan
    for function in (lossmod.bce_with_logits, LOSSES["bce_with_logits"].value_and_grad):
        with pytest.raises(ValueError, match=rf"^logits contains NaN at index \({position},\)$"):
            function(z, y)
    z[position] = -np.inf
    with pytest.raises(
        ValueError, match=rf"^logits must be finite; got -inf at index \({position},\)"
    ):
        lossmod.bce_with_logits_grad(z, y, reduction="none")
    z[position] = 0.0
    y[position] = 1.5
    with pytest.raises(
        ValueError,
        match=rf"^target must hold probabilities in \[0, 1\]; got 1.5 at index \({position},\)$",
    ):
        lossmod.bce_with_logits(z, y, reduction="sum")
    with pytest.raises(
        ValueError, match=rf"^target must hold probabilities .* at index \({position},\)$"
    ):
        lossmod.kl_div(np.full(1000, -1.0), y)
    bad = np.where(np.arange(1000) == position, np.inf, 0.0)
    for function in (lossmod.mae_grad, LOSSES["mae"].value_and_grad):
        with pytest.raises(
            ValueError, match=rf"^pred must be finite; got inf at index \({position},\)$"
        ):
            function(bad, np.zeros(1000))
    logits = np.zeros((1000, 3))
    logits[position, 1] = -np.inf
    for function in (lossmod.cross_entropy, LOSSES["cross_entropy"].value_and_grad):
        with pytest.raises(
            ValueError, match=rf"^logits must be finite; got -inf at index \({position}, 1\)$"
        ):
            function(logits, np.zeros(1000, dtype=int))


def test_overflow_of_finite_inputs_is_returned_not_refused() -> None:
    """A check that fails only because a sum overflowed (finite inputs, infinite loss) runs the
    full checks, which pass: the infinite value is returned, as the unblocked formula gives."""
    big = np.array([1e200, -1e200])
    assert lossmod.mse(big, -big, reduction="sum") == np.inf
    np.testing.assert_array_equal(lossmod.mae_grad(big, -big, reduction="sum"), [1.0, -1.0])
    np.testing.assert_array_equal(lossmod.mse(big, -big, reduction="none"), [np.inf, np.inf])
    value, grad = LOSSES["mse"].value_and_grad(big, -big, reduction="sum")
    assert value == np.inf and bits(grad) == bits(lossmod.mse_grad(big, -big, reduction="sum"))
