"""lossmod.preference: the Bradley-Terry, DPO, IPO, SimPO and KTO losses against independent
oracles (hand formulas with scipy's expit and log_expit, scikit-learn's LogisticRegression,
central differences, 60-digit mpmath at extreme margins), their identities, and named errors."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
from scipy import optimize, special
from sklearn.linear_model import LogisticRegression

import lossmod
from tests.helpers.cases import central_differences

REDUCTIONS = ("mean", "sum", "none")


def reduce(values: np.ndarray, reduction: str) -> Any:
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](values)


@pytest.fixture
def pairs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(14)
    n = 7
    return {
        "pc": -rng.uniform(5, 60, n),
        "pr": -rng.uniform(5, 60, n),
        "rc": -rng.uniform(5, 60, n),
        "rr": -rng.uniform(5, 60, n),
        "lc": rng.integers(1, 30, n).astype(float),
        "lr": rng.integers(1, 30, n).astype(float),
        "y": rng.choice([-1.0, 1.0], n),
    }


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_values_are_the_papers_formulas(pairs: dict[str, np.ndarray], reduction: str) -> None:
    """Each loss equals its paper's formula written with scipy's log_expit / expit: BT
    -log s(r_w - r_l); DPO -log s(beta h); IPO (h - 1/(2 beta))^2; SimPO
    -log s(beta (pc/|y_w| - pr/|y_l|) - gamma); KTO w (1 - s(y beta (r - z0)))."""
    p = pairs
    h = (p["pc"] - p["pr"]) - (p["rc"] - p["rr"])
    cases = [
        (
            lossmod.bradley_terry_loss(p["pc"], p["pr"], reduction=reduction),
            -special.log_expit(p["pc"] - p["pr"]),
        ),
        (
            lossmod.dpo_loss(p["pc"], p["pr"], p["rc"], p["rr"], beta=0.3, reduction=reduction),
            -special.log_expit(0.3 * h),
        ),
        (
            lossmod.ipo_loss(p["pc"], p["pr"], p["rc"], p["rr"], beta=0.25, reduction=reduction),
            (h - 2.0) ** 2,
        ),
        (
            lossmod.simpo_loss(
                p["pc"], p["pr"], p["lc"], p["lr"], beta=2.5, gamma=0.7, reduction=reduction
            ),
            -special.log_expit(2.5 * (p["pc"] / p["lc"] - p["pr"] / p["lr"]) - 0.7),
        ),
        (
            lossmod.kto_loss(
                p["pc"],
                p["rc"],
                p["y"],
                kl=0.4,
                beta=0.2,
                desirable_weight=1.5,
                undesirable_weight=0.5,
                reduction=reduction,
            ),
            np.where(p["y"] == 1, 1.5, 0.5)
            * (1 - special.expit(0.2 * p["y"] * (p["pc"] - p["rc"] - 0.4))),
        ),
    ]
    for value, expected in cases:
        np.testing.assert_allclose(value, reduce(expected, reduction), rtol=1e-13, atol=1e-15)


def test_dpo_at_the_reference_policy_costs_log_2_and_is_bradley_terry_of_implicit_rewards(
    pairs: dict[str, np.ndarray],
) -> None:
    """A policy equal to its reference has h = 0 and loss log 2 for any beta; in general DPO is
    the Bradley-Terry loss of the implicit rewards beta (log pi - log ref); SimPO with unit
    lengths and gamma = 0 is Bradley-Terry of beta log pi."""
    p = pairs
    for beta in (0.01, 0.1, 5.0):
        np.testing.assert_allclose(
            lossmod.dpo_loss(p["rc"], p["rr"], p["rc"], p["rr"], beta=beta), np.log(2), rtol=1e-15
        )
        np.testing.assert_allclose(
            lossmod.dpo_loss(p["pc"], p["pr"], p["rc"], p["rr"], beta=beta, reduction="none"),
            lossmod.bradley_terry_loss(
                beta * (p["pc"] - p["rc"]), beta * (p["pr"] - p["rr"]), reduction="none"
            ),
            rtol=1e-12,
        )
    ones = np.ones_like(p["pc"])
    np.testing.assert_allclose(
        lossmod.simpo_loss(p["pc"], p["pr"], ones, ones, beta=0.5, gamma=0.0),
        lossmod.bradley_terry_loss(0.5 * p["pc"], 0.5 * p["pr"]),
        rtol=1e-14,
    )


def test_ipo_is_zero_exactly_at_its_target_margin() -> None:
    """IPO's loss is 0 where h = 1/(2 beta) (chosen log-ratio above the rejected one by that)."""
    for beta in (0.05, 0.5, 2.0):
        target = 1 / (2 * beta)
        assert (
            lossmod.ipo_loss(np.array([target]), np.zeros(1), np.zeros(1), np.zeros(1), beta=beta)
            == 0
        )
        assert (
            lossmod.ipo_loss_grad(
                np.array([target]), np.zeros(1), np.zeros(1), np.zeros(1), beta=beta
            )[0]
            == 0
        )


def test_bradley_terry_fit_is_sklearn_logistic_regression_on_feature_differences() -> None:
    """A linear reward r(y) = w . phi(y) fitted by minimising the Bradley-Terry loss on the
    pairs equals scikit-learn's unpenalised LogisticRegression (C=inf, penalty=None before 1.8) without intercept fitted on the
    differences phi(y_w) - phi(y_l) labelled 1 and their negatives labelled 0 (both orderings)."""
    rng = np.random.default_rng(3)
    n, d = 400, 4
    true_w = np.array([1.5, -1.0, 0.5, 0.0])
    phi_a, phi_b = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    a_wins = rng.uniform(size=n) < special.expit((phi_a - phi_b) @ true_w)
    winner = np.where(a_wins[:, None], phi_a, phi_b)
    loser = np.where(a_wins[:, None], phi_b, phi_a)
    diff = winner - loser

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        value = float(lossmod.bradley_terry_loss(winner @ w, loser @ w))
        slope = lossmod.bradley_terry_loss_grad(winner @ w, loser @ w)
        return value, diff.T @ slope  # d r_w/dw - d r_l/dw = diff

    fit = optimize.minimize(
        objective, np.zeros(d), jac=True, method="BFGS", options={"gtol": 1e-12}
    )
    model = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=10_000)
    model.fit(np.vstack([diff, -diff]), np.r_[np.ones(n), np.zeros(n)])
    np.testing.assert_allclose(fit.x, model.coef_[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradients_match_central_differences_in_every_argument(
    pairs: dict[str, np.ndarray], reduction: str
) -> None:
    """Each _grad is the derivative in the first argument; the derivatives in the other
    arguments, by central differences, are those the chapter states (DPO and IPO: minus it for
    the rejected log-probabilities and the reference's chosen one, plus it for the reference's
    rejected one; BT: minus it for the rejected reward)."""
    p = pairs

    def check(f: Any, g: Any, args: list[np.ndarray], signs: tuple[float, ...]) -> None:
        grad = g(*args)
        for k, sign in enumerate(signs):

            def partial(x: np.ndarray, k: int = k) -> float:
                return float(np.sum(f(*args[:k], x, *args[k + 1 :])))

            np.testing.assert_allclose(
                central_differences(partial, args[k]), sign * grad, rtol=1e-6, atol=1e-9
            )

    kw = {"reduction": reduction}
    check(
        lambda *a: lossmod.bradley_terry_loss(*a, **kw),
        lambda *a: lossmod.bradley_terry_loss_grad(*a, **kw),
        [p["pc"] / 20, p["pr"] / 20],
        (1.0, -1.0),
    )
    four = [p["pc"], p["pr"], p["rc"], p["rr"]]
    for name in ("dpo_loss", "ipo_loss"):
        check(
            lambda *a, n=name: getattr(lossmod, n)(*a, beta=0.2, **kw),
            lambda *a, n=name: getattr(lossmod, f"{n}_grad")(*a, beta=0.2, **kw),
            four,
            (1.0, -1.0, -1.0, 1.0),
        )
    # SimPO: in log pi(y_l) the slope is -(|y_w| / |y_l|) times the one in log pi(y_w)
    args = [p["pc"], p["pr"], p["lc"], p["lr"]]
    grad = lossmod.simpo_loss_grad(*args, beta=2.0, gamma=0.5, **kw)
    for k, factor in ((0, 1.0), (1, -p["lc"] / p["lr"])):

        def simpo(x: np.ndarray, k: int = k) -> float:
            rest = [x if j == k else a for j, a in enumerate(args)]
            return float(np.sum(lossmod.simpo_loss(*rest, beta=2.0, gamma=0.5, **kw)))

        np.testing.assert_allclose(
            central_differences(simpo, args[k]), factor * grad, rtol=1e-6, atol=1e-9
        )
    # KTO: in the reference log-probabilities, minus the policy's
    kto_args = [p["pc"] / 10, p["rc"] / 10, p["y"]]
    options = {"kl": 0.3, "beta": 0.5, "desirable_weight": 1.3, "undesirable_weight": 0.6}
    check(
        lambda *a: lossmod.kto_loss(*a, **options, **kw),
        lambda *a: lossmod.kto_loss_grad(*a, **options, **kw),
        kto_args,
        (1.0, -1.0),
    )


def test_dpo_gradient_weights_each_pair_by_sigmoid_of_minus_its_margin(
    pairs: dict[str, np.ndarray],
) -> None:
    """d loss / d log pi(y_w) = -beta sigmoid(-beta h): pairs the implicit reward already ranks
    right (h >> 0) get almost no weight, pairs it ranks wrong get nearly beta."""
    p = pairs
    h = (p["pc"] - p["pr"]) - (p["rc"] - p["rr"])
    grad = lossmod.dpo_loss_grad(p["pc"], p["pr"], p["rc"], p["rr"], beta=0.1, reduction="none")
    np.testing.assert_allclose(grad, -0.1 * special.expit(-0.1 * h), rtol=1e-14)
    big = lossmod.dpo_loss_grad(
        np.array([500.0, -500.0]), np.zeros(2), np.zeros(2), np.zeros(2), beta=0.1, reduction="none"
    )
    assert abs(big[0]) < 1e-21 and abs(big[1] + 0.1) < 1e-21


def exact_softplus(t: float) -> float:
    with mpmath.workdps(60):
        return float(mpmath.log1p(mpmath.exp(mpmath.mpf(t))))


def exact_sigmoid(t: float) -> float:
    with mpmath.workdps(60):
        return float(1 / (1 + mpmath.exp(-mpmath.mpf(t))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_margins_against_mpmath(dtype: type) -> None:
    """At margins up to +-1e4 every loss and gradient is finite, of the input's dtype, and
    equal to 60-digit mpmath (float32: to its precision; float64: to 1e-14 relative)."""
    rtol = 1e-6 if dtype is np.float32 else 1e-14
    m = np.array([-1e4, -800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0, 1e4])
    x, zero = m.astype(dtype), np.zeros_like(m, dtype=dtype)
    softplus_minus = np.array([exact_softplus(-t) for t in m])
    sigmoid_minus = np.array([exact_sigmoid(-t) for t in m])
    results = [
        (lossmod.bradley_terry_loss(x, zero, reduction="none"), softplus_minus),
        (lossmod.bradley_terry_loss_grad(x, zero, reduction="none"), -sigmoid_minus),
        (lossmod.dpo_loss(x, zero, zero, zero, beta=1.0, reduction="none"), softplus_minus),
        (lossmod.dpo_loss_grad(x, zero, zero, zero, beta=1.0, reduction="none"), -sigmoid_minus),
        (
            lossmod.simpo_loss(
                x, zero, np.ones_like(x), np.ones_like(x), beta=1.0, gamma=0.0, reduction="none"
            ),
            softplus_minus,
        ),
        (lossmod.kto_loss(x, zero, np.ones_like(x), beta=1.0, reduction="none"), sigmoid_minus),
    ]
    kto_grad = lossmod.kto_loss_grad(x, zero, np.ones_like(x), beta=1.0, reduction="none")
    expected_kto_grad = -np.array([exact_sigmoid(t) * exact_sigmoid(-t) for t in m])
    results.append((kto_grad, expected_kto_grad))
    for value, expected in results:
        assert value.dtype == dtype and np.all(np.isfinite(value))
        np.testing.assert_allclose(value, expected, rtol=rtol, atol=0)
    ipo = lossmod.ipo_loss(x, zero, zero, zero, beta=0.5, reduction="none")
    assert ipo.dtype == dtype
    np.testing.assert_allclose(ipo, (m - 1.0) ** 2, rtol=rtol)


def test_float32_inputs_give_float32_results() -> None:
    """float32 in, float32 out, for the value and the gradient of each loss."""
    x = np.linspace(-3, 3, 5, dtype=np.float32)
    ones = np.ones(5, dtype=np.float32)
    for value in (
        lossmod.bradley_terry_loss(x, -x),
        lossmod.dpo_loss_grad(x, -x, x, x),
        lossmod.ipo_loss(x, -x, x, x),
        lossmod.simpo_loss_grad(x, -x, ones, ones),
        lossmod.kto_loss(x, -x, ones),
    ):
        assert np.asarray(value).dtype == np.float32


A = np.array([-3.0, -5.0])
B = np.array([-4.0, -2.0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lossmod.dpo_loss(A, B, A, B, beta=0.0), r"^beta must be > 0 and finite; got 0.0$"),
        (lambda: lossmod.ipo_loss(A, B, A, B, beta=-1), r"^beta must be > 0 and finite; got -1$"),
        (
            lambda: lossmod.simpo_loss(A, B, [3, 0], [2, 2]),
            r"^chosen_lengths must be > 0 \(tokens in each response\); got 0.0 at index \(1,\)$",
        ),
        (
            lambda: lossmod.simpo_loss(A, B, [3, 1], [2, 2], gamma=np.inf),
            r"^gamma must be finite; got inf$",
        ),
        (
            lambda: lossmod.kto_loss(A, B, [1, 0]),
            r"^desirable must hold 1 \(desirable\) or -1 \(undesirable\); got 0.0 at index \(1,\)$",
        ),
        (
            lambda: lossmod.kto_loss(A, B, [1, -1], undesirable_weight=-0.5),
            r"^undesirable_weight must be >= 0; got -0.5$",
        ),
        (
            lambda: lossmod.dpo_loss(A, B, A, B[:, None]),
            r"^policy_chosen_logps has shape \(2,\) but reference_rejected_logps has shape \(2, 1\)",
        ),
        (
            lambda: lossmod.bradley_terry_loss(A, [np.nan, 1.0]),
            r"^rejected_rewards contains NaN at index \(0,\)$",
        ),
        (
            lambda: lossmod.bradley_terry_loss(A, B, reduction="avg"),
            r"^reduction must be one of 'mean', 'sum', 'none'; got 'avg'$",
        ),
    ],
)
def test_bad_arguments_raise_named_errors(call: Any, message: str) -> None:
    """Each bad argument raises a ValueError naming it, what it must be and what it got."""
    with pytest.raises(ValueError, match=message):
        call()


def test_deterministic_preferences_drive_dpo_margin_up_without_bound_but_not_ipo() -> None:
    """With y_w always preferred, the DPO loss falls strictly along h -> infinity (its slope
    never reaches 0 at any finite h), while IPO's has its minimum at h = 1/(2 beta)."""
    h = np.array([0.0, 10.0, 100.0, 300.0])
    zero = np.zeros_like(h)
    dpo = lossmod.dpo_loss(h, zero, zero, zero, beta=0.1, reduction="none")
    assert np.all(np.diff(dpo) < 0) and dpo[-1] > 0
    assert np.all(lossmod.dpo_loss_grad(h, zero, zero, zero, beta=0.1, reduction="none") < 0)
    best = optimize.minimize_scalar(
        lambda t: float(
            lossmod.ipo_loss(np.array([t]), np.zeros(1), np.zeros(1), np.zeros(1), beta=0.1)
        )
    )
    np.testing.assert_allclose(best.x, 5.0, rtol=1e-8)
