"""The blocked evaluation behind every loss (lossmod._kernels): blocking changes no result, not
even in its last bit, and the checks fused into the pass still name every bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import special

import lossmod
from lossmod import LOSSES, _kernels
from tests.cases import option_sets, sample_input, sample_target

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


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_fold_is_np_sum_bit_for_bit(n: int, dtype: type, small_blocks: int) -> None:
    """fold(kernel) equals np.sum of the kernel over the whole (float64) array, bit for bit: its
    blocks are the leaves of NumPy's pairwise summation tree."""
    rng = np.random.default_rng(n)
    x = (rng.normal(size=n) * np.exp(rng.uniform(-20, 20, size=n))).astype(dtype)
    y = rng.normal(size=n).astype(dtype)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    total = _kernels.fold(lambda a, b: a * b - b, [x, y])
    assert bits(total) == bits(float(np.sum(x64 * y64 - y64)))


@pytest.mark.parametrize("n", SIZES)
def test_fill_writes_every_block_in_the_callers_dtype(n: int, small_blocks: int) -> None:
    """fill writes kernel(blocks) into the output, cast to its dtype, for 1-d and row blocks."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    labels = rng.integers(0, 3, size=n)
    out = np.empty((n, 3), np.float32)
    _kernels.fill(lambda z, y: z - y[:, None], [x, labels], out, indices=(1,))
    np.testing.assert_array_equal(out, (x.astype(np.float64) - labels[:, None]).astype(np.float32))
    assert np.asarray(labels).dtype == np.int64  # indices reach the kernel unconverted


def test_checks_in_cache_find_a_bad_value_in_a_late_block(small_blocks: int) -> None:
    """An interval check or a finite check that fails in any block runs the full checks; fold
    gives NaN for a value outside its interval."""
    x = np.zeros(1000)
    y = np.full(1000, 0.5)
    y[999] = 1.5
    calls: list[int] = []
    assert np.isnan(_kernels.fold(lambda a, b: a + b, [x, y], within={1: (0.0, 1.0)}))
    _kernels.fold(lambda a, b: a + b, [x, y], within={1: (0.0, 1.0)}, check=lambda: calls.append(1))
    x[998] = np.nan
    out = np.empty(1000)
    _kernels.fill(lambda a, b: a, [x, y * 0], out, finite=(0,), check=lambda: calls.append(2))
    assert calls == [1, 2]


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_blocking_changes_no_loss_and_no_gradient(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every registered loss and gradient, for every option set and reduction, gives the same
    bits with blocks of 64 elements as in one block, on float64 and float32 inputs."""
    loss = LOSSES[name]
    for case, options in enumerate(option_sets(loss)):
        rng = np.random.default_rng(case)
        n = 300
        target = sample_target(loss, rng, n=n, c=4)
        if loss.target_space == "values":
            target = rng.normal(size=(n, 4))
        if "weight" in options and np.ndim(options["weight"]) == 1 and loss.name != "cross_entropy":
            options = {**options, "weight": np.linspace(0.5, 2.0, np.size(target))}
            options["weight"] = options["weight"].reshape(np.shape(target))
        if options.get("log_target"):
            target = np.log(target)
        x = sample_input(loss, rng, np.exp(target) if options.get("log_target") else target)
        for dtype in (np.float64, np.float32):
            first = x.astype(dtype)
            for reduction in loss.reductions:
                results = []
                for block in (_kernels.BLOCK, 64):
                    monkeypatch.setattr(_kernels, "BLOCK", block)
                    value = loss.value(first, target, reduction=reduction, **options)
                    grad = loss.grad(first, target, reduction=reduction, **options)
                    results.append((bits(value), bits(grad)))
                assert results[0] == results[1], (name, options, dtype, reduction)


@pytest.mark.parametrize("classes", [1, 2, 7, 8, 10, 17, 32])
def test_narrow_rows_give_the_same_bits(classes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Few classes and many rows take the transposed path (lossmod._kernels.narrow): logsumexp,
    softmax, log_softmax and cross-entropy equal the row-by-row path bit for bit, ties included."""
    rng = np.random.default_rng(classes)
    z = rng.normal(size=(600, classes)) * np.exp(rng.uniform(-3, 9, size=(600, 1)))
    z[::5] = np.round(z[::5])  # rows with ties
    z[::7] = 0.0
    labels = rng.integers(0, classes, size=600)
    assert _kernels.narrow(z, axis=1)

    def everything() -> list[tuple[str, tuple[int, ...], bytes]]:
        return [
            bits(lossmod.logsumexp(z)),
            bits(lossmod.softmax(z)),
            bits(lossmod.log_softmax(z)),
            bits(lossmod.cross_entropy(z, labels, reduction="none")),
            bits(lossmod.cross_entropy_grad(z, labels)),
        ]

    fast = everything()
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
    (_, _), mixed = _kernels.flatten(a, np.ascontiguousarray(a))
    assert mixed == "C"


def test_large_inputs_match_the_unblocked_formula_exactly() -> None:
    """Inputs of several blocks: the loss is the one-line NumPy formula over the whole array, to
    the last bit (mean squared error, BCE with logits, softmax cross-entropy)."""
    rng = np.random.default_rng(1)
    n = 3 * _kernels.BLOCK + 5
    p, t = rng.normal(size=n), rng.normal(size=n)
    assert lossmod.mse(p, t) == np.mean((p - t) * (p - t))
    z, y = 5 * p, (t > 0).astype(np.float64)
    tail = np.log1p(np.exp(-np.abs(z)))
    expected = np.mean(y * (np.maximum(-z, 0.0) + tail) + (1 - y) * (np.maximum(z, 0.0) + tail))
    assert lossmod.bce_with_logits(z, y) == expected
    logits = rng.normal(size=(n // 10, 10)) * 3
    labels = rng.integers(0, 10, size=n // 10)
    reference = -special.log_softmax(logits, axis=1)[np.arange(len(labels)), labels].mean()
    assert lossmod.cross_entropy(logits, labels) == pytest.approx(reference, rel=1e-14)


@pytest.mark.parametrize("position", [0, 70, 999])
def test_errors_name_the_first_bad_element_in_any_block(position: int, small_blocks: int) -> None:
    """A NaN, an infinity or a value out of range, in the first block or a later one, raises the
    same ValueError as the full checks: the argument, the value, the index."""
    z = np.zeros(1000)
    y = np.full(1000, 0.5)
    z[position] = np.nan
    with pytest.raises(ValueError, match=rf"^logits contains NaN at index \({position},\)$"):
        lossmod.bce_with_logits(z, y)
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
    with pytest.raises(
        ValueError, match=rf"^pred must be finite; got inf at index \({position},\)$"
    ):
        lossmod.mae_grad(np.where(np.arange(1000) == position, np.inf, 0.0), np.zeros(1000))
    logits = np.zeros((1000, 3))
    logits[position, 1] = -np.inf
    with pytest.raises(
        ValueError, match=rf"^logits must be finite; got -inf at index \({position}, 1\)$"
    ):
        lossmod.cross_entropy(logits, np.zeros(1000, dtype=int))


def test_overflow_of_finite_inputs_is_returned_not_refused() -> None:
    """A check that fails only because a sum overflowed (finite inputs, infinite loss) runs the
    full checks, which pass: the infinite value is returned, as the unblocked formula gives."""
    big = np.array([1e200, -1e200])
    with np.errstate(over="ignore"):
        assert lossmod.mse(big, -big, reduction="sum") == np.inf
        np.testing.assert_array_equal(lossmod.mae_grad(big, -big, reduction="sum"), [1.0, -1.0])
        np.testing.assert_array_equal(lossmod.mse(big, -big, reduction="none"), [np.inf, np.inf])
