"""lossmod.distillation: the distillation loss T^2 KL(softmax(z_t / T) || softmax(z_s / T)) and
its gradient, against scipy, central differences, 60-digit mpmath and the large-T limit."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
from scipy import special

import lossmod
from lossmod import distillation_loss, distillation_loss_grad

REDUCTIONS = ("batchmean", "mean", "sum", "none")


@pytest.fixture
def logits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(13)
    return 3.0 * rng.normal(size=(5, 7)), 3.0 * rng.normal(size=(5, 7))


def scipy_terms(z_s: np.ndarray, z_t: np.ndarray, t: float) -> np.ndarray:
    """T^2 p (log p - log q) per element, from scipy's log_softmax."""
    log_p = special.log_softmax(z_t / t, axis=1)
    log_q = special.log_softmax(z_s / t, axis=1)
    return t**2 * np.exp(log_p) * (log_p - log_q)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0, 20.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_the_hand_formula_with_scipy(
    logits: tuple[np.ndarray, np.ndarray], temperature: float, reduction: Any
) -> None:
    """Each reduction of T^2 sum p (log p - log q) computed with scipy.special: "batchmean"
    divides the sum by N, "mean" by N * C, "none" keeps the (N, C) terms; and the per-row sums
    are scipy's rel_entr of the two softmax outputs."""
    z_s, z_t = logits
    terms = scipy_terms(z_s, z_t, temperature)
    n, c = z_s.shape
    expected = {
        "batchmean": terms.sum() / n,
        "mean": terms.sum() / (n * c),
        "sum": terms.sum(),
        "none": terms,
    }[reduction]
    value = distillation_loss(z_s, z_t, temperature=temperature, reduction=reduction)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-15)
    p = special.softmax(z_t / temperature, axis=1)
    q = special.softmax(z_s / temperature, axis=1)
    per_row = distillation_loss(z_s, z_t, temperature=temperature, reduction="none").sum(axis=1)
    np.testing.assert_allclose(
        per_row, temperature**2 * special.rel_entr(p, q).sum(axis=1), rtol=1e-10
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_is_t_squared_times_kl_div_of_the_softened_outputs(
    logits: tuple[np.ndarray, np.ndarray], reduction: Any
) -> None:
    """The documented convention: T**2 * kl_div(log_softmax(z_s / T), softmax(z_t / T)) with the
    same reduction, as the usual PyTorch idiom writes it."""
    z_s, z_t = logits
    t = 3.0
    expected = t**2 * np.asarray(
        lossmod.kl_div(lossmod.log_softmax(z_s / t), lossmod.softmax(z_t / t), reduction=reduction)
    )
    value = distillation_loss(z_s, z_t, temperature=t, reduction=reduction)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-14)


def test_is_the_soft_target_cross_entropy_minus_the_teachers_entropy(
    logits: tuple[np.ndarray, np.ndarray],
) -> None:
    """Hinton et al.'s form: T^2 times the cross-entropy of softmax(z_s / T) against the soft
    targets p (lossmod.cross_entropy with probability targets) differs from the loss by T^2 H(p),
    and the two have the same gradient in z_s."""
    z_s, z_t = logits
    t = 4.0
    p = special.softmax(z_t / t, axis=1)
    entropy = special.entr(p).sum(axis=1).mean()
    cross = t**2 * lossmod.cross_entropy(z_s / t, p)
    np.testing.assert_allclose(
        cross - t**2 * entropy, distillation_loss(z_s, z_t, temperature=t), rtol=1e-12
    )
    np.testing.assert_allclose(
        t * lossmod.cross_entropy_grad(z_s / t, p),
        distillation_loss_grad(z_s, z_t, temperature=t),
        rtol=1e-12,
    )


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradient_matches_central_differences(
    logits: tuple[np.ndarray, np.ndarray], temperature: float, reduction: Any
) -> None:
    """d(reduced loss)/d(student logits) equals central differences of the value ("none": of
    the sum), to a relative error below 1e-7."""
    z_s, z_t = logits

    def value(z: np.ndarray) -> float:
        return float(
            np.sum(distillation_loss(z, z_t, temperature=temperature, reduction=reduction))
        )

    numeric = lossmod.numerical_gradient(value, z_s)
    analytic = distillation_loss_grad(z_s, z_t, temperature=temperature, reduction=reduction)
    assert lossmod.relative_error(analytic, numeric) < 1e-7


def test_gradient_is_t_times_q_minus_p_scaled_by_the_reduction(
    logits: tuple[np.ndarray, np.ndarray],
) -> None:
    """The derived formula, with scipy's softmax: T (q - p) / N for "batchmean", / (N C) for
    "mean"; each row of the gradient sums to zero (softmax ignores a constant added to a row)."""
    z_s, z_t = logits
    n, c = z_s.shape
    t = 2.5
    slope = t * (special.softmax(z_s / t, axis=1) - special.softmax(z_t / t, axis=1))
    np.testing.assert_allclose(
        distillation_loss_grad(z_s, z_t, temperature=t), slope / n, rtol=1e-12, atol=1e-16
    )
    np.testing.assert_allclose(
        distillation_loss_grad(z_s, z_t, temperature=t, reduction="mean"),
        slope / (n * c),
        rtol=1e-12,
        atol=1e-16,
    )
    np.testing.assert_allclose(
        distillation_loss_grad(z_s, z_t, temperature=t).sum(axis=1), 0.0, atol=1e-15
    )


def mp_loss_and_grad(z_s: np.ndarray, z_t: np.ndarray, t: float) -> tuple[float, np.ndarray]:
    """T^2 KL(p || q) / N and T (q - p) / N with 60 significant digits (mpmath)."""
    with mpmath.workdps(60):
        total = mpmath.mpf(0)
        grads = []
        for row_s, row_t in zip(z_s, z_t, strict=True):
            s = [mpmath.mpf(float(v)) / t for v in row_s]
            u = [mpmath.mpf(float(v)) / t for v in row_t]
            lse_s = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in s))
            lse_t = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in u))
            log_q = [v - lse_s for v in s]
            log_p = [v - lse_t for v in u]
            total += mpmath.fsum(mpmath.exp(a) * (a - b) for a, b in zip(log_p, log_q, strict=True))
            grads.append(
                [t * (mpmath.exp(b) - mpmath.exp(a)) for a, b in zip(log_p, log_q, strict=True)]
            )
        n = len(z_s)
        value = float(t**2 * total / n)
        grad = np.array([[float(g / n) for g in row] for row in grads])
    return value, grad


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
def test_extreme_logits_agree_with_60_digit_mpmath(temperature: float) -> None:
    """Logits of +-1e4 (differences of 2e4, far beyond exp's range) give the 60-digit value and
    gradient to float64 accuracy, and finite float32 results close to them."""
    z_s = np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, 1e4, 1e4 - 3.0, 0.0], [0.0, 1e-3, -1e-3, 2.0]])
    z_t = np.array([[-1e4, 1e4, 3.0, 0.0], [-1e4, 1e4 - 1.0, 1e4, 1.0], [1e4, 0.0, 0.0, -1e4]])
    expected_value, expected_grad = mp_loss_and_grad(z_s, z_t, temperature)
    value = distillation_loss(z_s, z_t, temperature=temperature)
    grad = distillation_loss_grad(z_s, z_t, temperature=temperature)
    np.testing.assert_allclose(value, expected_value, rtol=1e-13)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-300)
    value32 = distillation_loss(z_s.astype(np.float32), z_t, temperature=temperature)
    grad32 = distillation_loss_grad(z_s.astype(np.float32), z_t, temperature=temperature)
    assert value32.dtype == np.float32 and grad32.dtype == np.float32
    assert np.isfinite(value32) and np.all(np.isfinite(grad32))
    np.testing.assert_allclose(value32, expected_value, rtol=1e-6)


def test_near_the_teacher_the_error_is_absolute_not_relative() -> None:
    """A student within 3e-8 of the teacher: the loss, about 1e-16, matches mpmath to an absolute
    1e-16 (the terms p (log p - log q) are of order 1e-8 and cancel to order 1e-16, so relative
    accuracy is not promised there); the gradient, of order 1e-8, keeps its relative accuracy;
    equal logits give exactly zero."""
    z_t = np.array([[0.3, -1.2, 2.0, 0.7]])
    z_s = z_t + np.array([[1e-8, -2e-8, 0.0, 3e-8]])
    expected, expected_grad = mp_loss_and_grad(z_s, z_t, 1.0)
    assert 0 < expected < 1e-15
    np.testing.assert_allclose(distillation_loss(z_s, z_t), expected, rtol=0, atol=1e-16)
    np.testing.assert_allclose(distillation_loss_grad(z_s, z_t), expected_grad, rtol=1e-6)
    assert distillation_loss(z_t, z_t) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_large_temperature_limit_is_logit_matching(seed: int) -> None:
    """For logits of zero mean over the classes, T (q - p) -> (z_s - z_t) / C as T grows, with an
    error that falls like 1/T (ten times smaller for a ten times larger T), and T^2 KL(p || q) ->
    ||z_s - z_t||^2 / (2 C) per example: squared-error logit matching."""
    rng = np.random.default_rng(seed)
    z_s, z_t = rng.normal(size=(2, 4, 6))
    z_s -= z_s.mean(axis=1, keepdims=True)
    z_t -= z_t.mean(axis=1, keepdims=True)
    n, c = z_s.shape
    limit = (z_s - z_t) / c
    errors = []
    for t in (1e2, 1e3, 1e4):
        slope = n * distillation_loss_grad(z_s, z_t, temperature=t)
        errors.append(np.abs(slope - limit).max() / np.abs(limit).max())
    assert errors[-1] < 1e-3, errors
    np.testing.assert_allclose(errors[0] / errors[1], 10.0, rtol=0.05)
    np.testing.assert_allclose(errors[1] / errors[2], 10.0, rtol=0.05)
    value = distillation_loss(z_s, z_t, temperature=1e4)
    matching = np.sum((z_s - z_t) ** 2) / (2 * c) / n
    np.testing.assert_allclose(value, matching, rtol=1e-3)


def test_a_constant_added_to_a_row_changes_nothing() -> None:
    """softmax(z + k) = softmax(z): the loss and gradient ignore row constants, and the loss is
    exactly zero with a zero gradient when the student equals the teacher up to them."""
    rng = np.random.default_rng(5)
    z_s, z_t = rng.normal(size=(2, 3, 4))
    shift = rng.normal(size=(3, 1)) * 10
    np.testing.assert_allclose(
        distillation_loss(z_s + shift, z_t, temperature=2.0),
        distillation_loss(z_s, z_t, temperature=2.0),
        rtol=1e-12,
    )
    assert distillation_loss(z_t + 4.0, z_t, temperature=2.0) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(
        distillation_loss_grad(z_t + 4.0, z_t, temperature=2.0), 0.0, atol=1e-16
    )


def test_defaults_are_batchmean_at_temperature_one(logits: tuple[np.ndarray, np.ndarray]) -> None:
    """With no options the loss is the mean over the batch of KL(softmax(z_t) || softmax(z_s))
    (scipy's rel_entr), the batchmean of T = 1."""
    z_s, z_t = logits
    expected = special.rel_entr(special.softmax(z_t, axis=1), special.softmax(z_s, axis=1))
    np.testing.assert_allclose(distillation_loss(z_s, z_t), expected.sum(axis=1).mean(), rtol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": 0.0}, r"^temperature must be a finite number > 0; got 0.0$"),
        ({"temperature": -2.0}, r"^temperature must be a finite number > 0; got -2.0$"),
        ({"temperature": float("nan")}, r"^temperature must be a finite number > 0; got nan$"),
        ({"temperature": float("inf")}, r"^temperature must be a finite number > 0; got inf$"),
        ({"temperature": True}, r"^temperature must be a finite number > 0; got True$"),
        ({"temperature": "2"}, r"^temperature must be a finite number > 0; got '2'$"),
        ({"reduction": "avg"}, r"^reduction must be one of 'mean', 'batchmean', 'sum', 'none'"),
    ],
)
def test_bad_options_are_named(kwargs: dict[str, Any], message: str) -> None:
    """A non-positive, non-finite or non-numeric temperature and an unknown reduction raise a
    ValueError that says what was expected."""
    z = np.zeros((2, 3))
    for function in (distillation_loss, distillation_loss_grad):
        with pytest.raises(ValueError, match=message):
            function(z, z, **kwargs)


def test_bad_logits_are_named() -> None:
    """Mismatched shapes, a single row without a batch axis, NaN and infinite logits raise
    errors that name the argument."""
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"^student_logits has shape \(2, 3\) but teacher_logits"):
        distillation_loss(z, np.zeros((2, 4)))
    with pytest.raises(
        ValueError, match=r"^student_logits must have shape \(N, C\).*got shape \(3,\)"
    ):
        distillation_loss(np.zeros(3), np.zeros(3))
    bad = z.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"^teacher_logits contains NaN at index \(1, 2\)"):
        distillation_loss(z, bad)
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"^student_logits must be finite"):
        distillation_loss_grad(bad, z)
    with pytest.raises(ValueError, match=r"over an empty input is undefined"):
        distillation_loss(np.zeros((0, 3)), np.zeros((0, 3)))
