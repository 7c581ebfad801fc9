"""lossmod.calibration: the Brier score against scikit-learn, brute force and 60-digit mpmath; the
expected calibration error and the reliability curve against brute-force loops and
scikit-learn's calibration_curve; temperature scaling against scipy, scikit-learn's
CalibratedClassifierCV(method="temperature") and the stationarity of the loss."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
from scipy import optimize, special
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss

import lossmod
from lossmod import (
    brier_score,
    brier_score_grad,
    expected_calibration_error,
    fit_temperature,
    nn,
    optim,
    reliability_curve,
    train,
)

mpmath.mp.dps = 60


# --- Brier score -------------------------------------------------------------------------------


def test_brier_score_is_scikit_learns_multiclass_brier_score_loss(rng: np.random.Generator) -> None:
    """With class indices, the mean over rows of sum_c (p_c - [c = y])^2 is scikit-learn's
    brier_score_loss with scale_by_half=False; 'sum' is N times it, 'none' gives each row."""
    z = rng.normal(0.0, 3.0, size=(200, 5))
    y = rng.integers(0, 5, size=200)
    p = special.softmax(z, axis=1)
    expected = brier_score_loss(y, p, labels=np.arange(5), scale_by_half=False)
    np.testing.assert_allclose(brier_score(z, y), expected, rtol=1e-13)
    np.testing.assert_allclose(brier_score(z, y, reduction="sum"), 200 * expected, rtol=1e-13)
    rows = np.array([sum((p[i, c] - (c == y[i])) ** 2 for c in range(5)) for i in range(200)])
    # the loop forms 1 - p_y by subtraction: it is only accurate to about 1e-16 absolute
    np.testing.assert_allclose(brier_score(z, y, reduction="none"), rows, rtol=1e-13, atol=1e-16)


def test_two_classes_give_twice_the_binary_brier_score(rng: np.random.Generator) -> None:
    """For two classes, (p_0 - t_0)^2 + (p_1 - t_1)^2 = 2 (p_1 - y)^2: twice scikit-learn's
    binary Brier score (which is halved by default)."""
    s = rng.normal(0.0, 2.0, size=100)
    y = rng.integers(0, 2, size=100)
    logits = np.column_stack([np.zeros_like(s), s])
    expected = 2 * brier_score_loss(y, special.expit(s))
    np.testing.assert_allclose(brier_score(logits, y), expected, rtol=1e-13)


def test_probability_targets_match_brute_force(rng: np.random.Generator) -> None:
    """Probability targets of shape (N, C): sum_c (p_c - t_c)^2 by a plain loop, and one-hot
    targets give what class indices give."""
    z = rng.normal(0.0, 2.0, size=(30, 4))
    t = special.softmax(rng.normal(size=(30, 4)), axis=1)
    p = special.softmax(z, axis=1)
    rows = [sum((p[i, c] - t[i, c]) ** 2 for c in range(4)) for i in range(30)]
    np.testing.assert_allclose(brier_score(z, t, reduction="none"), rows, rtol=1e-13)
    y = rng.integers(0, 4, size=30)
    np.testing.assert_allclose(brier_score(z, np.eye(4)[y]), brier_score(z, y), rtol=1e-15)


def _exact_brier(z: np.ndarray, t: np.ndarray) -> tuple[float, list[float]]:
    """The loss of one row and its gradient with 60 digits to spare: the working precision is 60
    digits plus the decimal digits that exp spans over the row's logits, so that p - t and
    d_j - <d, p> keep 60 correct digits after any cancellation."""
    span = float(np.max(z) - np.min(z)) / np.log(10.0)
    with mpmath.workdps(60 + int(2 * span) + 10):
        return _brier_in_mpmath(z, t)


def _brier_in_mpmath(z: np.ndarray, t: np.ndarray) -> tuple[float, list[float]]:
    zs = [mpmath.mpf(float(v)) for v in z]
    total = mpmath.fsum(mpmath.exp(v) for v in zs)
    p = [mpmath.exp(v) / total for v in zs]
    d = [pc - mpmath.mpf(float(tc)) for pc, tc in zip(p, t, strict=True)]
    inner = mpmath.fsum(dc * pc for dc, pc in zip(d, p, strict=True))
    value = mpmath.fsum(dc * dc for dc in d)
    return float(value), [float(2 * pj * (dj - inner)) for pj, dj in zip(p, d, strict=True)]


EXTREME_ROWS = [
    ([40.0, 0.0, 0.0], [1.0, 0.0, 0.0]),  # right and confident: 6 e^-80
    ([20.0, 0.0, -5.0], [1.0, 0.0, 0.0]),
    ([40.0, 0.0, 0.0], [0.0, 1.0, 0.0]),  # a confident mistake
    ([1e3, 0.0, -1e3], [1.0, 0.0, 0.0]),
    ([1e4, -1e4, 0.0], [0.0, 1.0, 0.0]),
    ([-1e4, 1e4, 1e4], [0.0, 1.0, 0.0]),
    ([30.0, -2.0, 1.0], [0.9, 0.05, 0.05]),
    ([300.0, -2.0, 1.0], [0.25, 0.5, 0.25]),
]


@pytest.mark.parametrize(("z", "t"), EXTREME_ROWS)
def test_extreme_logits_match_60_digit_arithmetic(z: list[float], t: list[float]) -> None:
    """Value and gradient equal the 60-digit result at logits up to +-1e4, in float64 (relative
    error 1e-13 of each value, of the gradient's largest entry) and float32 (1e-6); a confident
    right answer keeps its tiny loss, which 1 - p_y = 0 would round away."""
    exact, exact_grad = _exact_brier(np.array(z), np.array(t))
    for dtype, rtol in ((np.float64, 1e-13), (np.float32, 1e-6)):
        logits = np.array([z], dtype=dtype)
        target = np.array([t])
        value = brier_score(logits, target, reduction="sum")
        grad = brier_score_grad(logits, target, reduction="sum")
        assert value.dtype == dtype and grad.dtype == dtype
        if dtype == np.float32 and max(abs(v) for v in z) < 1e3:
            # the float32 logits are the float64 ones rounded: compare with their exact loss
            exact32, exact_grad32 = _exact_brier(logits[0].astype(np.float64), np.array(t))
        else:
            exact32, exact_grad32 = exact, exact_grad
        # the exact results rounded to the dtype (in float32, 1e-130 underflows to 0)
        desired = np.float64(dtype(exact32))
        desired_grad = np.array(exact_grad32, dtype=dtype).astype(np.float64)
        np.testing.assert_allclose(value, desired, rtol=rtol, atol=1e-300)
        scale = max(float(np.max(np.abs(desired_grad))), 1e-300)
        np.testing.assert_allclose(grad[0], desired_grad, rtol=rtol, atol=rtol * scale)


def test_confident_right_answer_is_not_rounded_away() -> None:
    """At logits (40, 0, 0) and label 0 the loss is (1 - p_0)^2 + 2 p_1^2 = 6 e^-80 to first
    order; forming 1 - p_0 by subtraction would give 0 and a loss of 2 e^-80."""
    value = brier_score(np.array([[40.0, 0.0, 0.0]]), np.array([0]))
    np.testing.assert_allclose(value, 6 * np.exp(-80.0), rtol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradient_matches_central_differences(reduction: str, rng: np.random.Generator) -> None:
    """The gradient is the derivative of the (summed) loss, for class indices and probability
    targets, by central differences."""
    z = rng.normal(0.0, 2.0, size=(8, 3))
    for target in (rng.integers(0, 3, size=8), special.softmax(rng.normal(size=(8, 3)), axis=1)):
        check = lossmod.gradcheck(
            lambda x, t=target: float(np.sum(brier_score(x, t, reduction=reduction))),
            lambda x, t=target: brier_score_grad(x, t, reduction=reduction),
            z,
        )
        assert check.passed, f"relative error {check.relative_error:.2e}"


def test_expected_score_is_smallest_at_the_true_distribution() -> None:
    """Strictly proper: for a label drawn from eta, the expected Brier score
    sum_y eta_y l(z, y) is minimised where softmax(z) = eta (scipy's minimiser over the logits)."""
    eta = np.array([0.6, 0.3, 0.1])
    labels = np.arange(3)

    def expected(z: np.ndarray) -> float:
        return float(np.dot(eta, brier_score(np.tile(z, (3, 1)), labels, reduction="none")))

    def slope(z: np.ndarray) -> Any:
        return eta @ brier_score_grad(np.tile(z, (3, 1)), labels, reduction="none")

    best = optimize.minimize(expected, np.zeros(3), jac=slope, method="BFGS", tol=1e-12)
    np.testing.assert_allclose(special.softmax(best.x), eta, atol=1e-6)
    # its value there is the irreducible part, 1 - sum eta^2
    np.testing.assert_allclose(best.fun, 1 - np.sum(eta**2), rtol=1e-9)


def test_brier_score_names_bad_arguments() -> None:
    """Wrong shapes, labels out of range, rows that are not distributions and a bad dtype raise
    ValueErrors that say which argument and what was expected."""
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"^logits must have shape \(N, C\) with C >= 2"):
        brier_score(np.zeros(3), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match=r"^labels must hold class indices in \[0, 3\]; got 4"):
        brier_score(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"^target of class indices must have shape \(N,\)"):
        brier_score(z, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"^each row of target must be a distribution"):
        brier_score(z, np.full((3, 4), 0.3))
    with pytest.raises(ValueError, match=r"^target of probabilities must have the shape"):
        brier_score(z, np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match=r"^target must be integer class indices"):
        brier_score(z, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"^logits must be finite"):
        brier_score(np.array([[np.inf, 0.0]]), np.array([0]))
    with pytest.raises(ValueError, match=r"reduction='mean' over an empty input"):
        brier_score(np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_trains_through_lossmod_train_by_name(rng: np.random.Generator) -> None:
    """lossmod.train picks the loss by its registry name: a linear model trained on the Brier
    score lowers it."""
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    model = nn.mlp([2, 2], rng=np.random.default_rng(0))
    history = train.fit(
        model, "brier_score", X, y, optim.SGD(lr=0.5), epochs=20, batch_size=60, rng=rng
    )
    assert history.loss[-1] < 0.5 * history.loss[0], history.loss


# --- Reliability curve and expected calibration error -------------------------------------------


def _brute_force_bins(
    probs: np.ndarray, labels: np.ndarray, edges: np.ndarray
) -> list[tuple[int, float, float]]:
    """(count, mean confidence, accuracy) of each bin (lo, hi], the first one closed, by loops."""
    result = []
    for b in range(len(edges) - 1):
        members = []
        for i in range(len(labels)):
            c = max(probs[i])
            inside = edges[b] < c <= edges[b + 1] or (b == 0 and c <= edges[1])
            below_next = b == len(edges) - 2 or c <= edges[b + 1]
            if inside and below_next:
                members.append((c, float(int(np.argmax(probs[i])) == labels[i])))
        if members:
            result.append(
                (len(members), np.mean([m[0] for m in members]), np.mean([m[1] for m in members]))
            )
        else:
            result.append((0, np.nan, np.nan))
    return result


def _model(rng: np.random.Generator, n: int, c: int = 4, sharpen: float = 2.0) -> Any:
    """Labels drawn from softmax(z), and an overconfident model's probabilities softmax(2 z)."""
    z = rng.normal(0.0, 1.5, size=(n, c))
    labels = np.array([rng.choice(c, p=row) for row in special.softmax(z, axis=1)])
    return special.softmax(sharpen * z, axis=1), labels


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [1, 5, 15])
def test_ece_is_the_brute_force_sum_over_bins(
    strategy: str, n_bins: int, rng: np.random.Generator
) -> None:
    """ECE = sum_b (n_b / N) |acc_b - conf_b| with bins (lo, hi] computed by loops; the curve's
    counts, confidences and accuracies are the loops' too."""
    probs, labels = _model(rng, 300)
    curve = reliability_curve(probs, labels, n_bins=n_bins, strategy=strategy)
    if strategy == "uniform":
        np.testing.assert_array_equal(curve.edges, np.linspace(0, 1, n_bins + 1))
    loops = _brute_force_bins(probs, labels, curve.edges)
    np.testing.assert_array_equal(curve.count, [b[0] for b in loops])
    np.testing.assert_allclose(curve.confidence, [b[1] for b in loops], rtol=1e-13)
    np.testing.assert_allclose(curve.accuracy, [b[2] for b in loops], rtol=1e-13)
    ece = sum(b[0] / 300 * abs(b[2] - b[1]) for b in loops if b[0])
    np.testing.assert_allclose(
        expected_calibration_error(probs, labels, n_bins=n_bins, strategy=strategy), ece, rtol=1e-12
    )


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_binned_accuracies_are_scikit_learns_calibration_curve(
    strategy: str, rng: np.random.Generator
) -> None:
    """calibration_curve(correct, confidence) gives the accuracy and the mean confidence of each
    non-empty bin, with the same edges for both strategies."""
    probs, labels = _model(rng, 500)
    correct = (np.argmax(probs, axis=1) == labels).astype(int)
    prob_true, prob_pred = calibration_curve(
        correct, probs.max(axis=1), n_bins=10, strategy=strategy
    )
    curve = reliability_curve(probs, labels, n_bins=10, strategy=strategy)
    filled = curve.count > 0
    np.testing.assert_allclose(curve.accuracy[filled], prob_true, rtol=1e-13)
    np.testing.assert_allclose(curve.confidence[filled], prob_pred, rtol=1e-13)
    if strategy == "quantile":  # equal mass: 50 examples in each bin, up to ties
        assert np.all(np.abs(curve.count - 50) <= 1), curve.count


def test_ece_by_hand() -> None:
    """A hand-computed case: four examples, two bins of width 1/2."""
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([0, 1, 1, 0])
    # All confidences lie in (0.5, 1]: one bin, accuracy 3/4, mean confidence 0.75.
    np.testing.assert_allclose(expected_calibration_error(probs, labels, n_bins=2), 0.0, atol=1e-15)
    # Ten bins: 0.9 right (gap 0.1), 0.8 wrong (0.8), 0.7 right (0.3), 0.6 right (0.4).
    np.testing.assert_allclose(
        expected_calibration_error(probs, labels, n_bins=10),
        (0.1 + 0.8 + 0.3 + 0.4) / 4,
        rtol=1e-12,
    )


def test_ece_of_a_calibrated_model_is_biased_upwards_and_shrinks_with_n() -> None:
    """Labels drawn from the model's own probabilities (calibrated by construction): the ECE is
    positive, larger with fewer examples per bin (N = 100 against N = 10 000) and small at
    N = 10 000."""
    rng = np.random.default_rng(5)
    small = []
    for _ in range(20):
        probs, labels = _model(rng, 100, sharpen=1.0)
        small.append(expected_calibration_error(probs, labels))
    probs, labels = _model(rng, 10_000, sharpen=1.0)
    large = expected_calibration_error(probs, labels)
    assert min(small) > 0 and np.mean(small) > 3 * large, (np.mean(small), large)
    assert large < 0.03, large


def test_reliability_curve_names_bad_arguments() -> None:
    """Bad bins, strategies, shapes, labels and probabilities raise named ValueErrors."""
    probs, labels = np.array([[0.7, 0.3], [0.4, 0.6]]), np.array([0, 1])
    with pytest.raises(ValueError, match=r"^n_bins must be an integer >= 1; got 0"):
        expected_calibration_error(probs, labels, n_bins=0)
    with pytest.raises(ValueError, match=r"^n_bins must be an integer >= 1; got 2.5"):
        expected_calibration_error(probs, labels, n_bins=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^strategy must be 'uniform' or 'quantile'; got 'equal'"):
        expected_calibration_error(probs, labels, strategy="equal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^probs must have shape \(N, C\) with C >= 2"):
        expected_calibration_error(probs[:, 0], labels)
    with pytest.raises(ValueError, match=r"^probs must hold probabilities in \[0, 1\]; got 2"):
        expected_calibration_error(np.array([[2.0, -1.0], [0.5, 0.5]]), labels)
    with pytest.raises(ValueError, match=r"^each row of probs must be a distribution"):
        expected_calibration_error(np.array([[0.5, 0.4], [0.5, 0.5]]), labels)
    with pytest.raises(ValueError, match=r"^labels must be integer class indices"):
        expected_calibration_error(probs, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"^labels must have shape \(N,\) = \(2,\)"):
        expected_calibration_error(probs, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"^labels must hold class indices in \[0, 1\]; got -1"):
        expected_calibration_error(probs, np.array([0, -1]))
    with pytest.raises(ValueError, match=r"^probs must hold at least one example"):
        expected_calibration_error(np.zeros((0, 2)), np.zeros(0, dtype=int))


# --- Temperature scaling ---------------------------------------------------------------------


def _nll(z: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean cross-entropy of softmax(z / T), with scipy's logsumexp."""
    scaled = z / temperature
    return float(np.mean(special.logsumexp(scaled, axis=1) - scaled[np.arange(len(y)), y]))


class _Logits(ClassifierMixin, BaseEstimator):
    """A fitted 'classifier' whose decision function returns stored logits (rows indexed by X)."""

    def __init__(self, logits: np.ndarray) -> None:
        self.logits = logits

    def fit(self, X: Any, y: Any) -> _Logits:
        self.classes_ = np.arange(self.logits.shape[1])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        return self.logits[np.asarray(X)[:, 0].astype(int)]

    def predict(self, X: Any) -> np.ndarray:
        return np.argmax(self.decision_function(X), axis=1)


def test_fit_temperature_matches_scipy_and_scikit_learn(rng: np.random.Generator) -> None:
    """The fitted T minimises the mean cross-entropy of softmax(z / T): it equals scipy's bounded
    minimiser and 1 / beta_ of CalibratedClassifierCV(method="temperature") (rtol 1e-5, both
    stop at a tolerance in the flat bottom), and the loss's derivative in log T is 0 there."""
    probs, labels = _model(rng, 400, c=3, sharpen=1.0)
    z = 2.5 * np.log(probs)  # an overconfident model: T near 2.5
    temperature = fit_temperature(z, labels)
    best = optimize.minimize_scalar(
        lambda s: _nll(z, labels, np.exp(s)),
        bounds=(-5.0, 5.0),
        method="bounded",
        options={"xatol": 1e-12},
    )
    np.testing.assert_allclose(temperature, np.exp(best.x), rtol=1e-5)
    X = np.arange(400)[:, None]
    frozen = FrozenEstimator(_Logits(z).fit(X, labels))
    calibrated = CalibratedClassifierCV(frozen, method="temperature").fit(X, labels)
    beta = calibrated.calibrated_classifiers_[0].calibrators[0].beta_
    np.testing.assert_allclose(temperature, 1 / beta, rtol=1e-5)
    slope = lossmod.numerical_gradient(
        lambda s: _nll(z, labels, float(np.exp(s[0]))), np.array([np.log(temperature)])
    )
    np.testing.assert_allclose(slope, 0.0, atol=1e-9)
    assert 1.5 < temperature < 4.0, temperature


def test_fit_temperature_recovers_a_known_temperature() -> None:
    """Labels drawn from softmax(z): logits 3 z give T near 3 (20 000 examples), and scaling the
    logits by c scales T by c exactly (up to rounding)."""
    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 2.0, size=(20_000, 5))
    cumulative = np.cumsum(special.softmax(z, axis=1), axis=1)
    labels = np.minimum((rng.uniform(size=(20_000, 1)) > cumulative).sum(axis=1), 4)
    temperature = fit_temperature(3 * z, labels)
    np.testing.assert_allclose(temperature, 3.0, rtol=0.03)
    np.testing.assert_allclose(fit_temperature(0.01 * z, labels), temperature / 300, rtol=1e-9)
    np.testing.assert_allclose(
        fit_temperature((3 * z).astype(np.float32), labels), temperature, rtol=1e-5
    )


def test_fit_temperature_keeps_the_predictions() -> None:
    """Dividing by T > 0 keeps every row's argmax: the accuracy does not change."""
    rng = np.random.default_rng(4)
    probs, labels = _model(rng, 300, sharpen=1.0)
    z = 4 * np.log(probs)
    temperature = fit_temperature(z, labels)
    np.testing.assert_array_equal(np.argmax(z / temperature, axis=1), np.argmax(z, axis=1))
    assert _nll(z, labels, temperature) < _nll(z, labels, 1.0)


def test_fit_temperature_names_what_has_no_minimiser() -> None:
    """Every label the row's largest logit: the loss falls as T -> 0; labels' logits below their
    rows' means: it falls as T -> infinity. Both raise, as do bad shapes and labels."""
    z = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 1.0]])
    with pytest.raises(ValueError, match=r"^every label has the largest logit of its row"):
        fit_temperature(z, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"no larger than the mean logit of their rows"):
        fit_temperature(z, np.array([2, 0]))
    with pytest.raises(ValueError, match=r"^logits must have shape \(N, C\) with C >= 2"):
        fit_temperature(np.zeros(4), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"^labels must hold class indices in \[0, 2\]; got 3"):
        fit_temperature(z, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"^logits contains NaN at index \(0, 1\)"):
        fit_temperature(np.array([[0.0, np.nan], [1.0, 0.0]]), np.array([0, 1]))
