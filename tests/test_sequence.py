"""ctc_loss and ctc_loss_grad against brute-force enumeration of alignments, a scaled (non-log)
forward recursion, central differences, and the log_softmax chain rule."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

import lossmod
from lossmod.sequence import _ctc_loss_value_and_grad

# ---------------------------------------------------------------------------------------------
# Independent oracles


@cache
def _alignments(length: int, n_classes: int, blank: int) -> dict[tuple[int, ...], np.ndarray]:
    """Every path of ``length`` symbols over ``n_classes``, grouped by what it collapses to
    (merge repeated symbols, then drop blanks)."""
    groups: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for path in itertools.product(range(n_classes), repeat=length):
        merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
        label = tuple(k for k in merged if k != blank)
        groups.setdefault(label, []).append(path)
    return {label: np.array(paths).reshape(-1, length) for label, paths in groups.items()}


def brute_force(log_probs: np.ndarray, target: list[int], blank: int = 0) -> float:
    """-log of the summed probability of every alignment of ``target`` with the frames of
    ``log_probs`` (T, C): inf when there is none."""
    length, n_classes = log_probs.shape
    paths = _alignments(length, n_classes, blank).get(tuple(target))
    if paths is None:
        return np.inf
    path_log_probs = log_probs[np.arange(length), paths].sum(axis=1)
    return float(-special.logsumexp(path_log_probs))


def scaled_forward(log_probs: np.ndarray, target: list[int], blank: int = 0) -> float:
    """The CTC negative log-likelihood by the forward recursion in probabilities, rescaled to
    sum 1 at every frame (Rabiner's scaling), the log of the scales summed: no log-space
    arithmetic, so an independent check for inputs whose probability underflows."""
    probs = np.exp(log_probs)
    labels = [blank]
    for k in target:
        labels += [k, blank]
    alpha = np.zeros(len(labels))
    alpha[0] = probs[0, blank]
    if target:
        alpha[1] = probs[0, labels[1]]
    log_scale = np.log(alpha.sum())
    alpha /= alpha.sum()
    for t in range(1, len(probs)):
        new = alpha.copy()
        new[1:] += alpha[:-1]
        for s in range(2, len(labels)):
            if labels[s] != blank and labels[s] != labels[s - 2]:
                new[s] += alpha[s - 2]
        new *= probs[t, labels]
        log_scale += np.log(new.sum())
        alpha = new / new.sum()
    return float(-(log_scale + np.log(alpha[-2:].sum() if target else alpha[-1])))


def central_differences(func: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """d func / dx by central differences with step 1e-6."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = 1e-6
        grad[index] = (func(x + step) - func(x - step)) / 2e-6
    return grad


def random_log_probs(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return special.log_softmax(rng.normal(size=shape), axis=-1)


# ---------------------------------------------------------------------------------------------
# Values

TARGETS = [[], [1], [3], [1, 1], [1, 2], [2, 2, 3], [1, 2, 1], [3, 3, 3], [1, 2, 3]]


@pytest.mark.parametrize("length", [3, 4, 6])
@pytest.mark.parametrize("target", TARGETS)
def test_value_is_minus_log_sum_over_alignments(
    rng: np.random.Generator, length: int, target: list[int]
) -> None:
    """The loss of one sequence is -log of the summed probability of every path of T symbols
    over C = 4 classes that collapses to the target (enumerated), inf when none does."""
    log_probs = random_log_probs(rng, length, 4)
    expected = brute_force(log_probs, target)
    actual = lossmod.ctc_loss(
        log_probs, np.array(target, int), length, len(target), reduction="none"
    )
    if np.isinf(expected):
        assert actual == np.inf
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-13)


@st.composite
def small_problems(draw: st.DrawFn) -> tuple[np.ndarray, list[int], int, int]:
    """log_probs (T, C) from seeded logits, a target without the blank, T_n <= T, the blank."""
    n_classes = draw(st.integers(2, 4))
    length = draw(st.integers(1, 5))
    blank = draw(st.integers(0, n_classes - 1))
    labels = [k for k in range(n_classes) if k != blank]
    target = draw(st.lists(st.sampled_from(labels), max_size=4))
    used = draw(st.integers(0, length))
    seed = draw(st.integers(0, 2**32 - 1))
    logits = 2.0 * np.random.default_rng(seed).normal(size=(length, n_classes))
    return special.log_softmax(logits, axis=-1), target, used, blank


@settings(max_examples=150)
@given(small_problems())
def test_value_matches_enumeration_for_random_problems(
    problem: tuple[np.ndarray, list[int], int, int],
) -> None:
    """For any C <= 4, T <= 5, blank, target (repeats and empty included) and input length
    T_n <= T, the loss is the enumeration's over the first T_n frames (inf when no path exists,
    0 for an empty target with no frame)."""
    log_probs, target, used, blank = problem
    actual = lossmod.ctc_loss(
        log_probs, np.array(target, int), used, len(target), blank=blank, reduction="none"
    )
    if used == 0:
        expected = 0.0 if not target else np.inf
    else:
        expected = brute_force(log_probs[:used], target, blank)
    if np.isinf(expected):
        assert actual == np.inf
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("blank", [1, 3])
def test_blank_other_than_zero(rng: np.random.Generator, blank: int) -> None:
    """With the blank at another class index, the loss is the enumeration's with that blank."""
    log_probs = random_log_probs(rng, 5, 4)
    for target in ([0], [0, 0], [2, 0, 2], []):
        labels = [k if k != blank else 99 for k in target]
        if 99 in labels:
            continue
        actual = lossmod.ctc_loss(
            log_probs, np.array(labels, int), 5, len(labels), blank=blank, reduction="sum"
        )
        np.testing.assert_allclose(actual, brute_force(log_probs, labels, blank), rtol=1e-13)


def test_hand_value_two_frames_one_label() -> None:
    """T = 2, target (1): the alignments are 11, 01 and 10, so
    p = y0(1) y1(1) + y0(0) y1(1) + y0(1) y1(0)."""
    y = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    expected = -np.log(0.3 * 0.6 + 0.5 * 0.6 + 0.3 * 0.1)
    actual = lossmod.ctc_loss(np.log(y), np.array([1]), 2, 1, reduction="sum")
    np.testing.assert_allclose(actual, expected, rtol=1e-15)


def test_batch_with_input_lengths_reads_only_the_first_frames(rng: np.random.Generator) -> None:
    """Sequence n is scored on its first input_lengths[n] frames: the frames after them do not
    change the loss (they are filled with other values here)."""
    log_probs = random_log_probs(rng, 6, 3, 4)
    targets = np.array([[1, 2, 0], [3, 3, 1], [2, 0, 0]])
    input_lengths, target_lengths = [6, 5, 3], [2, 3, 1]
    losses = lossmod.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
    expected = [
        brute_force(log_probs[: input_lengths[n], n], list(targets[n, : target_lengths[n]]))
        for n in range(3)
    ]
    np.testing.assert_allclose(losses, expected, rtol=1e-13)
    changed = log_probs.copy()
    changed[5, 1] = changed[3:, 2] = np.log(0.25)
    np.testing.assert_array_equal(
        lossmod.ctc_loss(changed, targets, input_lengths, target_lengths, reduction="none"), losses
    )


def test_zero_input_length() -> None:
    """With no frame, the empty target has probability 1 (loss 0) and any other target none
    (loss inf)."""
    log_probs = np.log(np.full((3, 2, 3), 1 / 3))
    losses = lossmod.ctc_loss(log_probs, np.array([[0], [1]]), [0, 0], [0, 1], reduction="none")
    np.testing.assert_array_equal(losses, [0.0, np.inf])


def test_impossible_class_has_log_zero(rng: np.random.Generator) -> None:
    """log_probs may hold -inf (a class of probability 0): the loss is the enumeration's, and
    inf when every alignment needs that class."""
    log_probs = random_log_probs(rng, 4, 3)
    log_probs[:, 2] = -np.inf
    log_probs = log_probs - special.logsumexp(log_probs, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        expected = brute_force(log_probs, [1, 1])
    actual = lossmod.ctc_loss(log_probs, np.array([1, 1]), 4, 2, reduction="sum")
    np.testing.assert_allclose(actual, expected, rtol=1e-13)
    assert lossmod.ctc_loss(log_probs, np.array([2]), 4, 1, reduction="sum") == np.inf


# ---------------------------------------------------------------------------------------------
# Too-short inputs and zero_infinity


@pytest.mark.parametrize(
    ("target", "repeats"), [([1], 0), ([1, 1], 1), ([1, 2, 2, 1], 1), ([2, 2, 2], 2), ([1, 2], 0)]
)
def test_infinite_when_input_shorter_than_target_plus_repeats(
    rng: np.random.Generator, target: list[int], repeats: int
) -> None:
    """A target of length L with r adjacent repeats needs T >= L + r frames (a blank between
    repeats): at T = L + r - 1 the loss is inf, at T = L + r it is finite and the enumeration's."""
    shortest = len(target) + repeats
    log_probs = random_log_probs(rng, shortest, 3)
    labels = np.array(target)
    assert lossmod.ctc_loss(log_probs, labels, shortest - 1, len(target), reduction="sum") == np.inf
    np.testing.assert_allclose(
        lossmod.ctc_loss(log_probs, labels, shortest, len(target), reduction="sum"),
        brute_force(log_probs, target),
        rtol=1e-13,
    )


def test_zero_infinity_zeroes_infinite_losses_and_their_gradients(
    rng: np.random.Generator,
) -> None:
    """Sequence 1 is too short (target 1 1 in 2 frames). Without zero_infinity its loss is inf
    and its gradient NaN on its frames; with it, its loss and whole gradient are 0, it still
    counts in the batch mean, and the other sequences are unchanged."""
    log_probs = random_log_probs(rng, 4, 3, 3)
    targets = np.array([[1, 2], [1, 1], [2, 0]])
    args = (log_probs, targets, [4, 2, 3], [2, 2, 1])
    none = lossmod.ctc_loss(*args, reduction="none")
    assert np.isinf(none[1]) and np.isfinite(none[[0, 2]]).all(), none
    assert lossmod.ctc_loss(*args) == np.inf
    grad = lossmod.ctc_loss_grad(*args)
    assert np.isnan(grad[:2, 1]).all() and (grad[2:, 1] == 0).all()
    assert np.isfinite(grad[:, [0, 2]]).all()

    zeroed = lossmod.ctc_loss(*args, reduction="none", zero_infinity=True)
    np.testing.assert_array_equal(zeroed, [none[0], 0.0, none[2]])
    np.testing.assert_allclose(
        lossmod.ctc_loss(*args, zero_infinity=True), (none[0] / 2 + none[2] / 1) / 3, rtol=1e-15
    )
    zeroed_grad = lossmod.ctc_loss_grad(*args, zero_infinity=True)
    np.testing.assert_array_equal(zeroed_grad[:, 1], 0.0)
    np.testing.assert_array_equal(zeroed_grad[:, [0, 2]], grad[:, [0, 2]])


# ---------------------------------------------------------------------------------------------
# Reductions, target layouts, unbatched input


def test_reductions(rng: np.random.Generator) -> None:
    """ "none" gives the N losses; "sum" their sum; "mean" the batch mean of each loss divided by
    its target length clamped to >= 1 (an empty target divides by 1)."""
    log_probs = random_log_probs(rng, 6, 4, 4)
    targets = np.array([[1, 2, 3], [3, 3, 0], [0, 0, 0], [2, 0, 0]])
    args = (log_probs, targets, [6, 6, 4, 5], [3, 2, 0, 1])
    none = lossmod.ctc_loss(*args, reduction="none")
    assert none.shape == (4,)
    np.testing.assert_allclose(lossmod.ctc_loss(*args, reduction="sum"), none.sum(), rtol=1e-15)
    np.testing.assert_allclose(
        lossmod.ctc_loss(*args), np.mean(none / np.array([3, 2, 1, 1])), rtol=1e-15
    )


def test_padded_and_concatenated_targets_agree(rng: np.random.Generator) -> None:
    """Padded (N, S) targets and the same targets concatenated give the same losses and
    gradients; the padding is never read (it holds out-of-range values here)."""
    log_probs = random_log_probs(rng, 7, 3, 5)
    padded = np.array([[1, 4, 4, -7], [2, 99, 99, 99], [3, 1, 2, 4]])
    target_lengths = np.array([3, 1, 4])
    concatenated = np.array([1, 4, 4, 2, 3, 1, 2, 4])
    for reduction in ("none", "sum", "mean"):
        from_padded = lossmod.ctc_loss(
            log_probs, padded, [7, 6, 7], target_lengths, reduction=reduction
        )
        from_concat = lossmod.ctc_loss(
            log_probs, concatenated, [7, 6, 7], target_lengths, reduction=reduction
        )
        np.testing.assert_array_equal(from_padded, from_concat)
        np.testing.assert_array_equal(
            lossmod.ctc_loss_grad(
                log_probs, padded, [7, 6, 7], target_lengths, reduction=reduction
            ),
            lossmod.ctc_loss_grad(
                log_probs, concatenated, [7, 6, 7], target_lengths, reduction=reduction
            ),
        )


def test_unbatched_is_a_batch_of_one(rng: np.random.Generator) -> None:
    """log_probs (T, C) with targets (S,) and scalar lengths is the batch of one (T, 1, C):
    "none" returns shape (), the gradient has shape (T, C); lengths of shape (1,) and targets
    of shape (1, S) are accepted too."""
    log_probs = random_log_probs(rng, 6, 4)
    target = np.array([1, 3, 3])
    batched = lossmod.ctc_loss(log_probs[:, None], target[None], [5], [3], reduction="none")
    unbatched = lossmod.ctc_loss(log_probs, target, 5, 3, reduction="none")
    assert np.shape(unbatched) == ()
    np.testing.assert_array_equal(unbatched, batched[0])
    np.testing.assert_array_equal(
        lossmod.ctc_loss(log_probs, target[None], [5], [3]), batched[0] / 3
    )
    grad = lossmod.ctc_loss_grad(log_probs, target, np.int64(5), np.int64(3))
    assert grad.shape == (6, 4)
    np.testing.assert_array_equal(
        grad, lossmod.ctc_loss_grad(log_probs[:, None], target[None], [5], [3])[:, 0]
    )


# ---------------------------------------------------------------------------------------------
# Gradients


GRAD_CASES: list[dict[str, Any]] = [
    {"reduction": "mean"},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"reduction": "mean", "blank": 2},
]


@pytest.mark.parametrize("options", GRAD_CASES)
def test_gradient_matches_central_differences(
    rng: np.random.Generator, options: dict[str, Any]
) -> None:
    """ctc_loss_grad equals central differences of ctc_loss in log_probs, each entry varied as a
    free variable (not renormalised), for each reduction ("none": the gradient of the sum), with
    shorter input lengths, repeats and an empty target; it is 0 on frames past a sequence's
    length and for classes on no path."""
    log_probs = random_log_probs(rng, 5, 3, 4)
    blank = options.get("blank", 0)
    targets = np.array([[1, 3, 3], [3, 1, 0], [1, 1, 1]])
    if blank:
        targets = np.where(targets == blank, 0, targets)
    targets[2] = blank + 1
    args = (targets, [5, 4, 2], [3, 2, 0])
    reduction = options["reduction"]

    def total(x: np.ndarray) -> float:
        value = lossmod.ctc_loss(x, *args, **options)
        return float(np.sum(value))

    grad = lossmod.ctc_loss_grad(log_probs, *args, **options)
    np.testing.assert_allclose(grad, central_differences(total, log_probs), rtol=1e-6, atol=1e-9)
    assert (grad[4:, 1] == 0).all() and (grad[2:, 2] == 0).all()
    unused = [c for c in range(4) if c != blank and c not in targets[0]]
    assert (grad[:, 0, unused] == 0).all(), reduction


def test_unbatched_gradient_matches_central_differences(rng: np.random.Generator) -> None:
    """The unbatched gradient (T, C) equals central differences in log_probs."""
    log_probs = random_log_probs(rng, 6, 3)
    target = np.array([1, 2, 1])
    grad = lossmod.ctc_loss_grad(log_probs, target, 6, 3)

    def value(x: np.ndarray) -> float:
        return float(lossmod.ctc_loss(x, target, 6, 3))

    np.testing.assert_allclose(grad, central_differences(value, log_probs), rtol=1e-6, atol=1e-9)


def test_log_softmax_chain_rule_gives_torch_convention(rng: np.random.Generator) -> None:
    """With log_probs = log_softmax(z): (1) the occupation probabilities gamma = -grad / w sum to
    1 over classes at each frame t < T_n (w the reduction's factor); (2) ctc_loss_grad composed
    with log_softmax's Jacobian (d lp_i / d z_j = delta_ij - softmax(z)_j) equals central
    differences in the logits z; (3) that composition equals PyTorch's backward formula
    w (exp(log_probs) - gamma) on frames t < T_n; (4) PyTorch's formula is not the gradient in
    log_probs: central differences in log_probs give ctc_loss_grad, which differs from it by
    w exp(log_probs)."""
    logits = rng.normal(size=(6, 2, 4))
    targets = np.array([[1, 2, 2], [3, 0, 0]])
    args = (targets, [6, 4], [3, 1])
    weights = 1.0 / (2 * np.array([3, 1]))
    log_probs = special.log_softmax(logits, axis=-1)
    grad = lossmod.ctc_loss_grad(log_probs, *args)
    frames = np.arange(6)[:, None] < np.array([6, 4])
    gamma = -grad / weights[:, None]
    np.testing.assert_allclose(gamma.sum(axis=-1), frames * 1.0, atol=1e-14)

    softmax = special.softmax(logits, axis=-1)
    jacobian = np.eye(4) - softmax[..., None, :]  # [t, n, i, j] = d lp_i / d z_j
    chained = np.einsum("tni,tnij->tnj", grad, jacobian)

    def of_logits(z: np.ndarray) -> float:
        return float(lossmod.ctc_loss(special.log_softmax(z, axis=-1), *args))

    np.testing.assert_allclose(
        chained, central_differences(of_logits, logits), rtol=1e-6, atol=1e-9
    )
    torch_backward = weights[:, None] * (np.exp(log_probs) - gamma) * frames[..., None]
    np.testing.assert_allclose(chained, torch_backward, rtol=1e-12, atol=1e-15)

    def of_log_probs(x: np.ndarray) -> float:
        return float(lossmod.ctc_loss(x, *args))

    numerical = central_differences(of_log_probs, log_probs)
    np.testing.assert_allclose(grad, numerical, rtol=1e-6, atol=1e-9)
    assert np.abs(torch_backward - numerical).max() > 0.05


# ---------------------------------------------------------------------------------------------
# Long inputs, precision, one pass


def test_long_input_is_exact_in_float32_and_float64(rng: np.random.Generator) -> None:
    """At T = 2000 frames the path probability underflows (loss > 745 = -log of the smallest
    float64), yet the loss matches a scaled forward recursion in float64 to 1e-12, the float32
    loss is finite and matches float64 to 1e-6, and the gradient is finite with the occupation
    probabilities summing to 1 at each frame."""
    length = 2000
    logits = rng.normal(size=(length, 2, 6))
    log_probs = special.log_softmax(logits, axis=-1)
    targets = rng.integers(1, 6, size=(2, 40))
    targets[:, 10] = targets[:, 11]
    args = (targets, [length, 1500], [40, 25])
    losses = lossmod.ctc_loss(log_probs, *args, reduction="none")
    assert losses.min() > 745, losses
    expected = [
        scaled_forward(log_probs[:length, 0], list(targets[0])),
        scaled_forward(log_probs[:1500, 1], list(targets[1, :25])),
    ]
    np.testing.assert_allclose(losses, expected, rtol=1e-12)

    single = lossmod.ctc_loss(log_probs.astype(np.float32), *args, reduction="none")
    assert single.dtype == np.float32 and np.isfinite(single).all()
    np.testing.assert_allclose(single, losses, rtol=1e-6)
    grad = lossmod.ctc_loss_grad(log_probs.astype(np.float32), *args, reduction="sum")
    assert grad.dtype == np.float32 and np.isfinite(grad).all()
    np.testing.assert_allclose(grad[:1500].sum(axis=-1), -1.0, rtol=1e-5)
    assert (grad[1500:, 1] == 0).all()


def test_long_input_gradient_matches_central_differences(rng: np.random.Generator) -> None:
    """At T = 2000 (loss about 3000), ctc_loss_grad at a few entries equals central differences
    in float64, to the differences' own rounding (about 1e-16 * 3000 / 1e-6)."""
    log_probs = random_log_probs(rng, 2000, 1, 5)
    target = rng.integers(1, 5, size=(1, 30))
    args = (target, [2000], [30])
    grad = lossmod.ctc_loss_grad(log_probs, *args, reduction="sum")
    for index in [(0, 0, 0), (0, 0, 3), (700, 0, 1), (1999, 0, 0), (1999, 0, 2)]:
        step = np.zeros_like(log_probs)
        step[index] = 1e-6
        plus = lossmod.ctc_loss(log_probs + step, *args, reduction="sum")
        minus = lossmod.ctc_loss(log_probs - step, *args, reduction="sum")
        np.testing.assert_allclose(grad[index], (plus - minus) / 2e-6, atol=2e-6)


@pytest.mark.parametrize(
    "options",
    [{}, {"reduction": "sum"}, {"reduction": "none"}, {"zero_infinity": True}, {"blank": 3}],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_and_grad_in_one_pass_bit_for_bit(
    rng: np.random.Generator, options: dict[str, Any], dtype: type
) -> None:
    """The one-pass value and gradient equal ctc_loss and ctc_loss_grad bit for bit, dtype
    included, for batched and unbatched input."""
    log_probs = random_log_probs(rng, 5, 3, 4).astype(dtype)
    targets = np.array([[1, 2], [2, 2], [1, 0]])
    for args in (
        (log_probs, targets, [5, 2, 4], [2, 2, 1]),
        (log_probs[:, 0], targets[0], 5, 2),
    ):
        value, grad = _ctc_loss_value_and_grad(*args, **options)
        expected_value = lossmod.ctc_loss(*args, **options)
        expected_grad = lossmod.ctc_loss_grad(*args, **options)
        assert np.asarray(value).dtype == np.asarray(expected_value).dtype == dtype
        np.testing.assert_array_equal(value, expected_value)
        np.testing.assert_array_equal(grad, expected_grad)
        assert grad.dtype == dtype


# ---------------------------------------------------------------------------------------------
# Validation

LP = np.log(np.full((4, 2, 3), 1 / 3))
TG = np.array([[1, 2], [2, 0]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: lossmod.ctc_loss(LP[0, 0], TG, [4, 4], [2, 1]),
            r"^log_probs must have shape \(T, N, C\) or, unbatched, \(T, C\); got shape \(3,\)$",
        ),
        (
            lambda: lossmod.ctc_loss(LP[None], TG, [4, 4], [2, 1]),
            r"^log_probs must have shape .* got shape \(1, 4, 2, 3\)$",
        ),
        (
            lambda: lossmod.ctc_loss(np.where(np.arange(3) == 1, np.nan, LP), TG, [4, 4], [2, 1]),
            r"^log_probs contains NaN at index \(0, 0, 1\)$",
        ),
        (
            lambda: lossmod.ctc_loss(np.where(np.arange(3) == 2, np.inf, LP), TG, [4, 4], [2, 1]),
            r"^log_probs must be < \+inf \(log-probabilities\); got inf at index \(0, 0, 2\)$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4, 5], [2, 1]),
            r"^input_lengths must be <= T = 4 \(the length of log_probs\); got 5 at index 1$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4, -1], [2, 1]),
            r"^input_lengths must be >= 0; got -1 at index 1$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4, 4, 4], [2, 1]),
            r"^input_lengths has shape \(3,\) but log_probs has batch size N = 2: give one length "
            r"per sequence, shape \(N,\)$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4.0, 4.0], [2, 1]),
            r"^input_lengths must hold integers; got dtype float64$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4, 4], [2, 3]),
            r"^target_lengths must be <= S = 2 \(targets has shape \(2, 2\)\); got 3 at index 1$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4, 4], [2, -1]),
            r"^target_lengths must be >= 0; got -1 at index 1$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4, 4], [2, 2]),
            r"^targets must not contain the blank \(0\); got it at sequence 1, position 1$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4, 4], [2, 1], blank=2),
            r"^targets must not contain the blank \(2\); got it at sequence 0, position 1$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, np.array([[1, 3], [2, 0]]), [4, 4], [2, 1]),
            r"^targets must hold class indices in \[0, 3\); got 3 at sequence 0, position 1$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, np.array([1, -2, 2]), [4, 4], [2, 1]),
            r"^targets must hold class indices in \[0, 3\); got -2 at sequence 0, position 1$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG.astype(float), [4, 4], [2, 1]),
            r"^targets must hold class indices \(integers\); got dtype float64$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, np.array([1, 2, 2, 1]), [4, 4], [2, 1]),
            r"^targets is 1-D, so it holds the targets concatenated: its length must be "
            r"sum\(target_lengths\) = 3; got 4$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG[:1], [4, 4], [2, 1]),
            r"^targets has shape \(1, 2\) but log_probs has batch size N = 2: give one padded row "
            r"per sequence$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG[None], [4, 4], [2, 1]),
            r"^targets must have shape \(N, S\) \(padded\) or \(sum\(target_lengths\),\) "
            r"\(concatenated\); got \(1, 2, 2\)$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4, 4], [2, 1], blank=3),
            r"^blank must be a class index in \[0, 3\); got 3$",
        ),
        (
            lambda: lossmod.ctc_loss(LP, TG, [4, 4], [2, 1], reduction="batchmean"),  # type: ignore[arg-type]
            r"^reduction must be one of 'mean', 'sum', 'none'; got 'batchmean'$",
        ),
        (
            lambda: lossmod.ctc_loss(LP[:, 0], TG[0], [4, 4], 2),
            r"^input_lengths has shape \(2,\) but log_probs has batch size N = 1: give one length "
            r"per sequence, shape \(\) or \(1,\)$",
        ),
        (
            lambda: lossmod.ctc_loss(LP[:, :0], np.zeros((0, 1), int), [], []),
            r"^reduction='mean' over an empty batch is undefined \(0 / 0\)$",
        ),
    ],
)
def test_bad_input_is_named(call: Callable[[], object], message: str) -> None:
    """Each bad input raises a ValueError that names the argument and what was expected."""
    with pytest.raises(ValueError, match=message):
        call()


def test_gradient_checks_its_arguments_too() -> None:
    """ctc_loss_grad runs the same checks as ctc_loss."""
    with pytest.raises(ValueError, match=r"^input_lengths must be <= T = 4"):
        lossmod.ctc_loss_grad(LP, TG, [4, 5], [2, 1])
