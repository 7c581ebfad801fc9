"""Every loss of torch.nn.functional under torch's name: the same positional arguments, option
keywords and defaults as torch's documented signatures (transcribed below), the course's short
names as aliases (the same function objects), torch's deprecated size_average/reduce slots, and
the corner cases of torch's documented behaviour that lossmod follows."""

from __future__ import annotations

import inspect
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import special

import lossmod
from tests.helpers.cases import central_differences, signature_listing

ROOT = Path(__file__).resolve().parents[1]

# torch.nn.functional's signatures as its documentation states them (torch 2.x); the first
# argument's name is the course's (pred, logits, probs) where a short name exists.
TORCH_SIGNATURES = {
    "mse_loss": "input, target, size_average=None, reduce=None, reduction='mean', weight=None",
    "l1_loss": "input, target, size_average=None, reduce=None, reduction='mean', weight=None",
    "huber_loss": "input, target, reduction='mean', delta=1.0, weight=None",
    "smooth_l1_loss": "input, target, size_average=None, reduce=None, reduction='mean', beta=1.0",
    "binary_cross_entropy": (
        "input, target, weight=None, size_average=None, reduce=None, reduction='mean'"
    ),
    "binary_cross_entropy_with_logits": (
        "input, target, weight=None, size_average=None, reduce=None, reduction='mean', "
        "pos_weight=None"
    ),
    "cross_entropy": (
        "input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, "
        "reduction='mean', label_smoothing=0.0"
    ),
    "nll_loss": (
        "input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, "
        "reduction='mean'"
    ),
    "kl_div": "input, target, size_average=None, reduce=None, reduction='mean', log_target=False",
    "poisson_nll_loss": (
        "input, target, log_input=True, full=False, size_average=None, eps=1e-08, reduce=None, "
        "reduction='mean'"
    ),
    "gaussian_nll_loss": "input, target, var, full=False, eps=1e-06, reduction='mean'",
    "hinge_embedding_loss": (
        "input, target, margin=1.0, size_average=None, reduce=None, reduction='mean'"
    ),
    "soft_margin_loss": "input, target, size_average=None, reduce=None, reduction='mean'",
    "multilabel_soft_margin_loss": (
        "input, target, weight=None, size_average=None, reduce=None, reduction='mean'"
    ),
    "multi_margin_loss": (
        "input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, "
        "reduction='mean'"
    ),
    "multilabel_margin_loss": "input, target, size_average=None, reduce=None, reduction='mean'",
    "margin_ranking_loss": (
        "input1, input2, target, margin=0, size_average=None, reduce=None, reduction='mean'"
    ),
    "cosine_embedding_loss": (
        "input1, input2, target, margin=0, size_average=None, reduce=None, reduction='mean'"
    ),
    "triplet_margin_loss": (
        "anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False, size_average=None, "
        "reduce=None, reduction='mean'"
    ),
    "triplet_margin_with_distance_loss": (
        "anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False, "
        "reduction='mean'"
    ),
    "ctc_loss": (
        "log_probs, targets, input_lengths, target_lengths, blank=0, reduction='mean', "
        "zero_infinity=False"
    ),
}

ALIASES = {
    "mse": "mse_loss",
    "mae": "l1_loss",
    "huber": "huber_loss",
    "smooth_l1": "smooth_l1_loss",
    "bce_with_logits": "binary_cross_entropy_with_logits",
}


def parse(signature: str) -> list[tuple[str, Any, bool]]:
    """(name, default or inspect.Parameter.empty, keyword-only) of each parameter."""
    out, keyword_only = [], False
    for part in (p.strip() for p in signature.split(",")):
        if part == "*":
            keyword_only = True
            continue
        name, _, default = part.partition("=")
        value = eval(default) if default else inspect.Parameter.empty
        out.append((name, value, keyword_only))
    return out


def test_all_21_names_exist_with_gradients() -> None:
    """torch.nn.functional's 21 losses are public lossmod names, each with <name>_grad (ctc_loss
    comes from lossmod/sequence.py)."""
    assert len(TORCH_SIGNATURES) == 21
    for name in TORCH_SIGNATURES:
        assert name in lossmod.__all__ and f"{name}_grad" in lossmod.__all__, name
        assert callable(getattr(lossmod, name)) and callable(getattr(lossmod, f"{name}_grad"))


def test_every_torch_loss_is_registered_under_its_name() -> None:
    """Each torch loss (ctc_loss too, its variable lengths drawn by tests/helpers/cases.py) is a
    registry entry whose torch_name is torch's name and whose value and gradient are
    lossmod.<torch name> and its _grad."""
    by_torch_name = {loss.torch_name: loss for loss in lossmod.LOSSES.values() if loss.torch_name}
    assert set(TORCH_SIGNATURES) <= set(by_torch_name)
    for name, loss in by_torch_name.items():
        assert loss.value is getattr(lossmod, name)
        assert loss.grad is getattr(lossmod, f"{name}_grad")


@pytest.mark.parametrize("name", sorted(TORCH_SIGNATURES))
def test_signature_is_torchs(name: str) -> None:
    """Same positional order, keyword names, keyword-only markers and defaults as torch's
    documentation, for the value and for the gradient; only the first argument may carry the
    course's name."""
    expected = parse(TORCH_SIGNATURES[name])
    for function in (getattr(lossmod, name), getattr(lossmod, f"{name}_grad")):
        parameters = list(inspect.signature(function).parameters.values())
        actual = [(p.name, p.default, p.kind == p.KEYWORD_ONLY) for p in parameters]
        assert len(actual) == len(expected), (name, actual)
        assert actual[1:] == expected[1:], name
        assert parameters[0].kind == parameters[0].POSITIONAL_OR_KEYWORD


def test_reference_page_lists_every_name_and_signature() -> None:
    """chapters/torch-names.md names every torch loss and its gradient as lossmod.<name>, and its
    signature listings are the code's signatures (no copy that could drift)."""
    page = (ROOT / "chapters" / "torch-names.md").read_text()
    for name in TORCH_SIGNATURES:
        assert f"`lossmod.{name}`" in page and f"`lossmod.{name}_grad`" in page, name
        assert signature_listing(name) in page, name


def test_short_names_are_aliases_not_copies() -> None:
    """The course's short names and torch's names are one function object each, value and
    gradient; the chapters' keyword calls (pred=, target=) still work."""
    for short, torch_name in ALIASES.items():
        assert getattr(lossmod, short) is getattr(lossmod, torch_name)
        assert getattr(lossmod, f"{short}_grad") is getattr(lossmod, f"{torch_name}_grad")
        assert lossmod.LOSSES[short].torch_name == torch_name
    assert lossmod.mse(pred=np.array([1.0]), target=np.array([0.0])) == 1.0


LEGACY = [  # (size_average, reduce) -> torch's _Reduction.legacy_get_string
    (None, None, None),
    (True, None, "mean"),
    (None, True, "mean"),
    (True, True, "mean"),
    (False, None, "sum"),
    (False, True, "sum"),
    (None, False, "none"),
    (True, False, "none"),
    (False, False, "none"),
]


@pytest.mark.parametrize(("size_average", "reduce", "legacy"), LEGACY)
def test_legacy_size_average_and_reduce(
    size_average: bool | None, reduce: bool | None, legacy: str | None, rng: np.random.Generator
) -> None:
    """Either legacy flag given overrides reduction as torch maps it (None counts as True; both
    True: mean; reduce alone: sum; reduce=False: none) and warns with torch's message, as a
    DeprecationWarning; neither given leaves reduction alone, silently. Checked positionally on
    mse_loss, cross_entropy (flags around ignore_index) and kl_div."""
    pred, target = rng.normal(size=6), rng.normal(size=6)
    logits, labels = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    log_q = special.log_softmax(rng.normal(size=(6, 3)), axis=1)
    p = special.softmax(rng.normal(size=(6, 3)), axis=1)
    calls = [
        (
            lambda r: lossmod.mse_loss(pred, target, size_average, reduce, r),
            lambda r: lossmod.mse(pred, target, reduction=r),
        ),
        (
            lambda r: lossmod.cross_entropy(logits, labels, None, size_average, -100, reduce, r),
            lambda r: lossmod.cross_entropy(logits, labels, reduction=r),
        ),
        (
            lambda r: lossmod.kl_div(log_q, p, size_average, reduce, r),
            lambda r: lossmod.kl_div(log_q, p, reduction=r),
        ),
    ]
    for legacy_call, plain in calls:
        if legacy is None:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                np.testing.assert_array_equal(legacy_call("sum"), plain("sum"))
            continue
        message = rf"^size_average and reduce args will be deprecated, please use reduction='{legacy}' instead\.$"
        with pytest.warns(DeprecationWarning, match=message):
            value = legacy_call("sum" if legacy != "sum" else "mean")  # the flags win
        np.testing.assert_array_equal(value, plain(legacy))


def test_weight_of_mse_l1_and_huber(rng: np.random.Generator) -> None:
    """weight multiplies each element's loss; "mean" divides by sum(weight) for mse_loss and
    l1_loss but by the count for huber_loss (torch's two conventions); gradients are those of the
    weighted sums (central differences)."""
    x, t, w = rng.normal(size=7), rng.normal(size=7), rng.uniform(0.2, 3.0, size=7)
    r = x - t
    huber_each = np.where(np.abs(r) <= 1, r * r / 2, np.abs(r) - 0.5)
    cases = [
        (lossmod.mse_loss, lossmod.mse_loss_grad, r * r, w.sum(), {}),
        (lossmod.l1_loss, lossmod.l1_loss_grad, np.abs(r), w.sum(), {}),
        (lossmod.huber_loss, lossmod.huber_loss_grad, huber_each, 7.0, {"delta": 1.0}),
    ]
    for value, grad, each, denominator, options in cases:
        np.testing.assert_allclose(
            value(x, t, weight=w, reduction="none", **options), w * each, rtol=1e-15
        )
        np.testing.assert_allclose(
            value(x, t, weight=w, **options), np.sum(w * each) / denominator, rtol=1e-14
        )

        def total(z: np.ndarray, value: Any = value, options: dict = options) -> float:
            return float(value(z, t, weight=w, **options))

        np.testing.assert_allclose(
            grad(x, t, weight=w, **options), central_differences(total, x), rtol=1e-6, atol=1e-9
        )
    with pytest.raises(ValueError, match=r"^weight has shape \(1,\) but pred has shape \(7,\)"):
        lossmod.mse_loss(x, t, weight=np.ones(1))


def test_smooth_l1_with_beta_zero_is_l1_and_huber_is_beta_times_smooth_l1(
    rng: np.random.Generator,
) -> None:
    """torch's corners: smooth_l1_loss(beta=0) is l1_loss (value and gradient sign(r)), and
    huber_loss(delta) = delta * smooth_l1_loss(beta=delta)."""
    x, t = rng.normal(size=9), rng.normal(size=9)
    np.testing.assert_array_equal(
        lossmod.smooth_l1_loss(x, t, beta=0.0, reduction="none"),
        lossmod.l1_loss(x, t, reduction="none"),
    )
    np.testing.assert_array_equal(lossmod.smooth_l1_loss_grad(x, t, beta=0.0), np.sign(x - t) / 9)
    for delta in (0.3, 1.0, 2.5):
        np.testing.assert_allclose(
            lossmod.huber_loss(x, t, delta=delta, reduction="none"),
            delta * lossmod.smooth_l1_loss(x, t, beta=delta, reduction="none"),
            rtol=1e-14,
        )


def test_binary_cross_entropy_clamps_log_at_minus_100() -> None:
    """torch clamps each log at -100: p = 0 with y = 1 (and p = 1 with y = 0) costs 100, not inf
    (the course's bce keeps inf); inside (0, 1) the two agree; the gradient is torch's
    w (p - y) / max(p (1 - p), 1e-12), finite at 0 and 1."""
    p, y = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(
        lossmod.binary_cross_entropy(p, y, reduction="none"), [100.0, 100.0, 0.0, 0.0]
    )
    with np.errstate(divide="ignore"):
        assert lossmod.bce(p[:1], y[:1]) == np.inf
    np.testing.assert_array_equal(
        lossmod.binary_cross_entropy_grad(p, y, reduction="sum"), [-1e12, 1e12, 0.0, 0.0]
    )
    # log(1e-40) = -92.1 is kept, log(1e-50) = -115.1 is clamped
    assert lossmod.binary_cross_entropy(np.array([1e-40]), np.array([1.0])) == pytest.approx(
        40 * math.log(10), rel=1e-14
    )
    assert lossmod.binary_cross_entropy(np.array([1e-50]), np.array([1.0])) == 100.0
    rng = np.random.default_rng(3)
    q, t, w = rng.uniform(0.05, 0.95, 8), rng.uniform(0, 1, 8), rng.uniform(0.5, 2, 8)
    np.testing.assert_allclose(
        lossmod.binary_cross_entropy(q, t, w), lossmod.bce(q, t, weight=w), rtol=1e-14
    )
    np.testing.assert_allclose(
        lossmod.binary_cross_entropy_grad(q, t, w), lossmod.bce_grad(q, t, weight=w), rtol=1e-12
    )


def test_pos_weight_broadcasts_over_the_class_axis(rng: np.random.Generator) -> None:
    """pos_weight of shape (C,) weighs the positive term of each of C labels in every row:
    a y softplus(-z) + (1 - y) softplus(z), by hand."""
    z, y = 3 * rng.normal(size=(5, 3)), rng.integers(0, 2, size=(5, 3)).astype(float)
    a = np.array([0.5, 2.0, 4.0])
    expected = a * y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)
    np.testing.assert_allclose(
        lossmod.binary_cross_entropy_with_logits(z, y, pos_weight=a, reduction="none"),
        expected,
        rtol=1e-13,
    )


def pixelwise_cross_entropy(
    z: np.ndarray, y: np.ndarray, w: np.ndarray, ignore: int
) -> tuple[np.ndarray, float]:
    """Loops over every (n, d1, d2) position: -w_y log softmax(z[n, :, d1, d2])_y."""
    losses = np.zeros(y.shape)
    weights = 0.0
    for index in np.ndindex(y.shape):
        label = y[index]
        if label == ignore:
            continue
        column = z[(index[0], slice(None), *index[1:])]
        losses[index] = -w[label] * (column[label] - special.logsumexp(column))
        weights += w[label]
    return losses, weights


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_and_nll_on_extra_axes(weighted: bool, rng: np.random.Generator) -> None:
    """(N, C, d1, d2) logits with (N, d1, d2) class indices (some ignored): the per-position loss
    of a loop, the weighted mean over counted positions, and nll_loss of log_softmax over axis 1
    the same; gradients of their shape equal central differences."""
    z = 2 * rng.normal(size=(2, 3, 2, 2))
    y = rng.integers(0, 3, size=(2, 2, 2))
    y[0, 1, 0] = y[1, 0, 1] = -100
    w = np.array([0.5, 2.0, 1.5]) if weighted else np.ones(3)
    weight = w if weighted else None
    losses, total_weight = pixelwise_cross_entropy(z, y, w, -100)
    log_p = special.log_softmax(z, axis=1)
    for value, grad, first in (
        (lossmod.cross_entropy, lossmod.cross_entropy_grad, z),
        (lossmod.nll_loss, lossmod.nll_loss_grad, log_p),
    ):
        np.testing.assert_allclose(
            value(first, y, weight, reduction="none"), losses, rtol=1e-13, atol=1e-15
        )
        np.testing.assert_allclose(value(first, y, weight), losses.sum() / total_weight, rtol=1e-13)

        def total(x: np.ndarray, value: Any = value) -> float:
            return float(value(x, y, weight))

        np.testing.assert_allclose(
            grad(first, y, weight), central_differences(total, first), rtol=1e-6, atol=1e-9
        )


def test_cross_entropy_probabilities_on_extra_axes_and_unbatched(rng: np.random.Generator) -> None:
    """Probability targets of the logits' shape (N, C, d) mean over N d positions; an unbatched
    (C,) input takes a scalar class or a (C,) distribution and gives a scalar for "none"."""
    z = rng.normal(size=(2, 4, 3))
    t = special.softmax(rng.normal(size=(2, 4, 3)), axis=1)
    each = -np.sum(t * special.log_softmax(z, axis=1), axis=1)
    np.testing.assert_allclose(lossmod.cross_entropy(z, t, reduction="none"), each, rtol=1e-13)
    np.testing.assert_allclose(lossmod.cross_entropy(z, t), each.mean(), rtol=1e-13)
    column = z[0, :, 0]
    for target, expected in (
        (np.int64(2), -special.log_softmax(column)[2]),
        (t[0, :, 0], each[0, 0]),
    ):
        value = lossmod.cross_entropy(column, target, reduction="none")
        assert np.shape(value) == ()
        np.testing.assert_allclose(value, expected, rtol=1e-13)
        assert lossmod.cross_entropy_grad(column, target).shape == (4,)
    assert (
        np.shape(lossmod.nll_loss(special.log_softmax(column), np.int64(1), reduction="none")) == ()
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_on_extra_axes_is_finite_at_1e4(dtype: type) -> None:
    """Logits of +-1e4 on (N, C, d) stay finite, in the logits' dtype: the loss of a class 2e4
    behind is 2e4."""
    z = np.zeros((1, 2, 3), dtype=dtype)
    z[0, 0] = 1e4
    z[0, 1] = -1e4
    y = np.array([[1, 0, 1]])
    value = lossmod.cross_entropy(z, y, reduction="none")
    assert value.dtype == dtype
    np.testing.assert_allclose(value, [[2e4, 0.0, 2e4]], rtol=1e-7)
    grad = lossmod.cross_entropy_grad(z, y)
    assert grad.dtype == dtype and np.all(np.isfinite(grad))


def test_kl_div_mean_divides_by_elements_and_batchmean_by_rows(rng: np.random.Generator) -> None:
    """torch's kl_div "mean" divides the sum by N x C elements (not a divergence); "batchmean" by
    N, the mean KL divergence of the rows."""
    p = special.softmax(rng.normal(size=(4, 5)), axis=1)
    q = special.softmax(rng.normal(size=(4, 5)), axis=1)
    kl_rows = np.sum(special.rel_entr(p, q), axis=1)
    np.testing.assert_allclose(
        lossmod.kl_div(np.log(q), p, reduction="batchmean"), kl_rows.mean(), rtol=1e-13
    )
    np.testing.assert_allclose(lossmod.kl_div(np.log(q), p), kl_rows.sum() / 20, rtol=1e-13)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: lossmod.nll_loss(np.zeros((2, 3)), np.array([0, 3])),
            r"^target must hold class indices in \[0, 2\] \(or ignore_index=-100\); got 3 at "
            r"index 1$",
        ),
        (
            lambda: lossmod.nll_loss(np.zeros((2, 3)), np.array([0.0, 1.0])),
            r"^target must hold integer class indices; got dtype float64$",
        ),
        (
            lambda: lossmod.nll_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int)),
            r"^target of class indices must have shape \(N, d1, ..., dk\) = \(2, 4\) for input of "
            r"shape \(2, 3, 4\); got \(2, 3\)$",
        ),
        (
            lambda: lossmod.nll_loss(np.zeros((2, 3)), np.array([0, 1]), np.ones(2)),
            r"^weight has shape \(2,\), which does not broadcast to the input's shape \(3,\)$",
        ),
        (
            lambda: lossmod.nll_loss(np.zeros((2, 3)), np.array([-100, -100])),
            r"^reduction='mean' is undefined here",
        ),
        (
            lambda: lossmod.nll_loss(np.full((1, 2), np.nan), np.array([0])),
            r"^input contains NaN at index \(0, 0\)$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int)),
            r"^target of class indices must have shape \(N, d1, ..., dk\) = \(2, 4\) for logits",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 4, 3))),
            r"^target of probabilities must have the shape of logits \(2, 3, 4\); got \(2, 4, 3\)",
        ),
        (
            lambda: lossmod.binary_cross_entropy(np.array([1.5]), np.array([1.0])),
            r"^probs must hold probabilities in \[0, 1\]; got 1.5 at index \(0,\)$",
        ),
        (
            lambda: lossmod.smooth_l1_loss(np.zeros(2), np.zeros(2), beta=-1.0),
            r"^beta must be >= 0 and finite; got -1.0$",
        ),
        (
            lambda: lossmod.mse_loss(np.zeros(2), np.zeros(2), reduction="avg"),
            r"^reduction must be one of 'mean', 'sum', 'none'; got 'avg'$",
        ),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    """Each bad input raises a ValueError that names the argument and what was expected."""
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
