"""Properties that every registered loss must have, swept over ``lossmod.LOSSES``.

A loss added to the registry is tested here without a line of new test code.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

import lossmod
from lossmod import LOSSES
from lossmod.registry import InputSpace
from tests.helpers.cases import (
    ALL,
    Args,
    C,
    N,
    as_dtype,
    call_args,
    default_options,
    elementwise_shape,
    extreme_input,
    option_sets,
    perfect_prediction,
    perturb,
    sample_input,
    sample_target,
    soft_target,
    target_for,
)

# Targets of integers (class indices), which hold no NaN and keep their dtype.
INTEGER_TARGETS = ("class indices", "label lists", "label sequences")

CASES = [
    (name, i, reduction)
    for name in ALL
    for i in range(len(option_sets(LOSSES[name])))
    for reduction in LOSSES[name].reductions
]


def test_registry_lists_the_course_losses() -> None:
    """The registry holds the foundation's losses, each with a `<name>_grad` beside it and a
    value_and_grad; a loss torch has is exported under torch's name too, as the same function (an
    alias, not a copy), with its gradient likewise."""
    expected = {
        "mse",
        "mae",
        "huber",
        "smooth_l1",
        "pseudo_huber",
        "log_cosh",
        "bce",
        "bce_with_logits",
        "cross_entropy",
        "kl_div",
        "kl_divergence",
    }
    assert expected <= set(LOSSES)
    for name, loss in LOSSES.items():
        assert loss.value is getattr(lossmod, name)
        assert loss.grad is getattr(lossmod, f"{name}_grad")
        assert callable(loss.value_and_grad)
        assert loss.input_space in typing.get_args(InputSpace)
        if loss.torch_name is not None:
            assert getattr(lossmod, loss.torch_name) is loss.value
            assert getattr(lossmod, f"{loss.torch_name}_grad") is loss.grad
        assert loss.likelihood


@pytest.mark.parametrize("name", ALL)
def test_the_sweep_supplies_every_required_option(name: str) -> None:
    """Every keyword-only option a loss requires (no default, as clip_loss's logit_scale) has a
    value in tests/helpers/cases.py, so every test below can call the loss."""
    loss = LOSSES[name]
    parameters = inspect.signature(loss.value).parameters.values()
    required = {p.name for p in parameters if p.kind == p.KEYWORD_ONLY and p.default is p.empty}
    assert required <= set(default_options(loss))


@pytest.mark.parametrize(("name", "case", "reduction"), CASES)
def test_gradient_matches_central_differences(
    name: str, case: int, reduction: str, rng: np.random.Generator
) -> None:
    """d(reduced loss)/d(first argument) equals central differences (float64, rel. error <= 1e-6);
    for reduction="none" the gradient is that of the sum."""
    loss = LOSSES[name]
    options = option_sets(loss)[case]
    target = target_for(options, sample_target(loss, rng))
    x = sample_input(loss, rng, sample_target(loss, rng))

    def value(z: np.ndarray) -> float:
        return float(np.sum(loss.value(z, *call_args(target), reduction=reduction, **options)))

    def grad(z: np.ndarray) -> Any:
        return loss.grad(z, *call_args(target), reduction=reduction, **options)

    check = lossmod.gradcheck(value, grad, x, rtol=1e-6)
    assert check.passed, f"relative error {check.relative_error:.2e}"


@pytest.mark.parametrize(("name", "case", "reduction"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_value_and_grad_is_value_and_grad_bit_for_bit(
    name: str, case: int, reduction: str, dtype: type, rng: np.random.Generator
) -> None:
    """LOSSES[name].value_and_grad returns (value(...), grad(...)) from one pass, equal to the
    two calls to the last bit, in the first argument's dtype."""
    loss = LOSSES[name]
    options = option_sets(loss)[case]
    target = target_for(options, sample_target(loss, rng))
    x = sample_input(loss, rng, sample_target(loss, rng)).astype(dtype)
    value, grad = loss.value_and_grad(x, *call_args(target), reduction=reduction, **options)
    expected_value = loss.value(x, *call_args(target), reduction=reduction, **options)
    expected_grad = loss.grad(x, *call_args(target), reduction=reduction, **options)
    assert np.asarray(value).dtype == np.asarray(expected_value).dtype == dtype
    assert np.asarray(value).tobytes() == np.asarray(expected_value).tobytes()
    assert grad.dtype == expected_grad.dtype and grad.shape == expected_grad.shape
    assert grad.tobytes() == expected_grad.tobytes()


@pytest.mark.parametrize("name", ALL)
def test_nonnegative_where_registered(name: str, rng: np.random.Generator) -> None:
    """Every per-element loss is >= 0 when the registry says so, over many random inputs."""
    loss = LOSSES[name]
    options = default_options(loss)
    for scale in (0.1, 1.0, 30.0):
        target = sample_target(loss, rng, n=200)
        x = sample_input(loss, rng, target, scale)
        values = loss.value(x, *call_args(target), reduction="none", **options)
        if loss.nonnegative:
            assert np.all(values >= 0)
        elif loss.target_space in ("distributions", "logits"):
            # kl_div's elementwise terms may be negative; their sum over a row may not. (The
            # Poisson and Gaussian NLLs leave out constants and may be negative.)
            assert np.all(np.sum(values, axis=-1) >= -1e-12)


@pytest.mark.parametrize("name", [n for n in ALL if LOSSES[n].minimised_at_target])
def test_minimal_at_the_perfect_prediction(name: str, rng: np.random.Generator) -> None:
    """The loss at the prediction that matches the target is no larger than at any nearby one, and
    its gradient along the input space vanishes there (compared with a first-order change)."""
    loss = LOSSES[name]
    options = default_options(loss)
    target = soft_target(loss, rng)
    best = perfect_prediction(loss, target)
    at_best = loss.value(best, *call_args(target), reduction="sum", **options)
    for size in (1e-3, 1e-1, 1.0):
        for _ in range(20):
            nearby = perturb(loss, best, rng, size)
            at_nearby = loss.value(nearby, *call_args(target), reduction="sum", **options)
            assert at_nearby >= at_best - 1e-12
    if (loss.target_space == "values" and loss.nonnegative) or (
        loss.input_space == "log-probabilities"
    ):
        assert at_best == 0


REACH_ZERO = [
    n
    for n in ALL
    if LOSSES[n].input_space not in ("logits", "embeddings")
    and LOSSES[n].target_space != "counts"
    and "var" not in LOSSES[n].arguments
]


@pytest.mark.parametrize("name", REACH_ZERO)
def test_zero_at_a_perfect_hard_prediction(name: str, rng: np.random.Generator) -> None:
    """Losses that can reach 0 do so at the perfect prediction (entropy of a hard target is 0;
    ctc_loss's at one alignment of each transcript, its frames log one-hot); finite logits never
    give a probability of exactly 1, so losses on logits are left out, and so are the embedding
    losses (torch's eps in the cosine and the distance keeps their minimum a hair above 0) and the
    Poisson and Gaussian NLLs (whose minimum depends on the target)."""
    loss = LOSSES[name]
    target = sample_target(loss, rng)
    if loss.target_space == "distributions":
        target = np.eye(C)[rng.integers(0, C, size=N)]
    on_log_scale = loss.input_space == "log-probabilities" and loss.target_space == "distributions"
    best = None if on_log_scale else perfect_prediction(loss, target)
    if best is None:
        with np.errstate(divide="ignore"):
            best = np.log(target)
    assert loss.value(best, *call_args(target), reduction="sum", **default_options(loss)) == 0


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_at_extreme_inputs(name: str, dtype: type, rng: np.random.Generator) -> None:
    """Logits of +-1e4 (and their counterparts in each input space) give finite values and
    gradients in float32 and float64, of the input's dtype."""
    loss = LOSSES[name]
    options = default_options(loss)
    target = sample_target(loss, rng)
    if loss.target_space not in INTEGER_TARGETS:
        target = as_dtype(target, dtype)
    x = extreme_input(loss, target, dtype)
    for reduction in loss.reductions:
        value = loss.value(x, *call_args(target), reduction=reduction, **options)
        grad = loss.grad(x, *call_args(target), reduction=reduction, **options)
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
        assert np.asarray(value).dtype == dtype and grad.dtype == dtype


@pytest.mark.parametrize("name", ALL)
def test_reductions_are_consistent(name: str, rng: np.random.Generator) -> None:
    """ "none" keeps one loss per element (or per row, or per sequence), "sum" adds them, "mean"
    divides the sum by their count (ctc_loss: each loss by its target length first, as torch's),
    and every gradient has the first argument's shape."""
    loss = LOSSES[name]
    options = default_options(loss)
    target = sample_target(loss, rng)
    x = sample_input(loss, rng, target)
    args = call_args(target)
    per_element = loss.value(x, *args, reduction="none", **options)
    assert per_element.shape == elementwise_shape(loss, x)
    total = loss.value(x, *args, reduction="sum", **options)
    np.testing.assert_allclose(total, per_element.sum(), rtol=1e-14)
    averaged = per_element
    if "target_lengths" in loss.arguments:
        averaged = per_element / np.maximum(args[loss.arguments.index("target_lengths")], 1)
    np.testing.assert_allclose(
        loss.value(x, *args, reduction="mean", **options) * per_element.size,
        averaged.sum(),
        rtol=1e-14,
    )
    for reduction in loss.reductions:
        assert loss.grad(x, *args, reduction=reduction, **options).shape == x.shape
    np.testing.assert_allclose(
        loss.grad(x, *args, reduction="none", **options),
        loss.grad(x, *args, reduction="sum", **options),
        rtol=0,
    )


@pytest.mark.parametrize("name", ALL)
def test_float32_in_float32_out(name: str, rng: np.random.Generator) -> None:
    """float32 inputs give float32 values and gradients, matching the float64 result to 1e-6."""
    loss = LOSSES[name]
    options = default_options(loss)
    target = sample_target(loss, rng)
    x64 = sample_input(loss, rng, target)
    x32 = x64.astype(np.float32)
    value32 = loss.value(x32, *call_args(target), **options)
    assert value32.dtype == np.float32
    assert loss.grad(x32, *call_args(target), **options).dtype == np.float32
    value_of_rounded_input = loss.value(x32.astype(np.float64), *call_args(target), **options)
    np.testing.assert_allclose(value32, value_of_rounded_input, rtol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_unknown_reduction_is_named(name: str, rng: np.random.Generator) -> None:
    """An unknown reduction raises a ValueError that lists the accepted ones (value, gradient and
    both)."""
    loss = LOSSES[name]
    target = sample_target(loss, rng)
    x = sample_input(loss, rng, target)
    options = default_options(loss)
    for function in (loss.value, loss.grad, loss.value_and_grad):
        with pytest.raises(ValueError, match=r"reduction must be one of 'mean', .*; got 'avg'"):
            function(x, *call_args(target), reduction="avg", **options)


@pytest.mark.parametrize("name", ALL)
def test_nan_is_named(name: str, rng: np.random.Generator) -> None:
    """A NaN in either argument raises a ValueError naming the argument and the NaN's index (value,
    gradient and both)."""
    loss = LOSSES[name]
    options = default_options(loss)
    target = sample_target(loss, rng)
    x = sample_input(loss, rng, target)
    x[(1,) * x.ndim] = np.nan
    first = next(iter(inspect.signature(loss.value).parameters))
    for function in (loss.value, loss.grad, loss.value_and_grad):
        with pytest.raises(ValueError, match=rf"^{first} contains NaN at index \(1(, 1)*,?\)"):
            function(x, *call_args(target), **options)
    rest = list(call_args(target))
    if loss.target_space not in INTEGER_TARGETS and rest:
        bad = np.array(rest[0], dtype=np.float64)
        bad[(0,) * bad.ndim] = np.nan
        second = list(inspect.signature(loss.value).parameters)[1]
        with pytest.raises(ValueError, match=rf"^{second} contains NaN"):
            loss.value(sample_input(loss, rng, target), bad, *rest[1:], **options)


@pytest.mark.parametrize(
    "name",
    [n for n in ALL if LOSSES[n].target_space not in INTEGER_TARGETS and LOSSES[n].arguments],
)
def test_mismatched_shapes_are_named(name: str, rng: np.random.Generator) -> None:
    """(N,) against (N, 1) would broadcast to (N, N): it raises and says so, never computes.
    (Class-index targets, label lists and label sequences have their own shape rules, tested in
    test_classification.py, test_margin.py and test_sequence.py; a loss of the first argument
    alone has no second shape to mismatch.)"""
    loss = LOSSES[name]
    target = sample_target(loss, rng)
    target = target if isinstance(target, Args) else np.asarray(target)
    x = sample_input(loss, rng, target)
    column = x.reshape(*x.shape, 1)
    with pytest.raises(ValueError, match=r"has shape .* but .* has shape"):
        loss.value(column, *call_args(target), **default_options(loss))


@st.composite
def loss_inputs(draw: st.DrawFn) -> tuple[str, np.ndarray, Any]:
    """A registered loss with inputs of random shape and random finite values."""
    name = draw(st.sampled_from(ALL))
    loss = LOSSES[name]
    n = draw(st.integers(1, 7))
    c = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e2, 1e4]))
    generator = np.random.default_rng(seed)
    target = sample_target(loss, generator, n=n, c=c)
    if loss.target_space == "values" and loss.arguments == ("target",):  # any shape, elementwise
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
        target = generator.normal(size=shape)
    if loss.target_space == "class indices":
        x = scale * generator.normal(size=(n, c))
    else:
        x = sample_input(loss, generator, target, scale=scale)
    return name, x, target


@given(loss_inputs())
def test_any_shape_and_scale_gives_finite_values_of_the_right_shape(
    case: tuple[str, np.ndarray, Any],
) -> None:
    """For random shapes and scales up to 1e4, values and gradients are finite and well shaped."""
    name, x, target = case
    loss = LOSSES[name]
    options = default_options(loss)
    per_element = loss.value(x, *call_args(target), reduction="none", **options)
    assert per_element.shape == elementwise_shape(loss, x)
    assert np.all(np.isfinite(per_element))
    grad = loss.grad(x, *call_args(target), **options)
    assert grad.shape == x.shape and np.all(np.isfinite(grad))
    np.testing.assert_allclose(
        loss.value(x, *call_args(target), reduction="sum", **options),
        per_element.sum(),
        rtol=1e-12,
        atol=1e-300,
    )


def test_softmax_oracle_is_scipy() -> None:
    """The property tests build inputs with scipy's softmax; it must sum to one (a sanity check
    of the test inputs themselves)."""
    rows = special.softmax(np.random.default_rng(0).normal(size=(5, C)), axis=1)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=1e-15)
