"""info_nce and clip_loss against a loop-based cross-entropy over the batch, scipy's logsumexp,
central differences and 60-digit mpmath at extreme similarities; their named errors."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import special

import lossmod
from tests.helpers.cases import central_differences

REDUCTIONS = ("mean", "sum", "none")


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def loop_info_nce(query: np.ndarray, key: np.ndarray, temperature: float) -> np.ndarray:
    """Per-query InfoNCE written from its definition, one row and one key at a time with the
    math module: -log(exp(s_ii) / sum_j exp(s_ij)), s_ij = cos(q_i, k_j) / temperature."""
    losses = []
    for i, q in enumerate(query):
        s = [
            float(np.dot(q, k)) / (math.sqrt(np.dot(q, q) * np.dot(k, k))) / temperature
            for k in key
        ]
        # -log(e^s_ii / sum_j e^s_ij) = log1p(sum_{j != i} e^(s_ij - s_ii)), exact
        others = math.fsum(math.exp(v - s[i]) for j, v in enumerate(s) if j != i)
        losses.append(math.log1p(others))
    return np.array(losses)


def reduce(losses: np.ndarray, reduction: str) -> np.ndarray | float:
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


@pytest.fixture
def batch(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    query = rng.normal(size=(7, 5))
    return query, query + 0.7 * rng.normal(size=(7, 5))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("temperature", [0.05, 0.1, 1.0, 7.0])
def test_info_nce_is_the_cross_entropy_of_each_query_over_the_keys(
    batch: tuple[np.ndarray, np.ndarray], temperature: float, reduction: str
) -> None:
    """info_nce equals a loop over queries of -log softmax(cos / t) at the paired key, and
    scipy's logsumexp form logsumexp_j(s_ij) - s_ii."""
    query, key = batch
    value = lossmod.info_nce(query, key, temperature=temperature, reduction=reduction)
    expected = loop_info_nce(query, key, temperature)
    np.testing.assert_allclose(value, reduce(expected, reduction), rtol=1e-12)
    s = unit_rows(query) @ unit_rows(key).T / temperature
    by_scipy = special.logsumexp(s, axis=1) - np.diag(s)
    # the difference of two numbers near 1 / t loses ~1e-15 absolute on tiny losses
    np.testing.assert_allclose(value, reduce(by_scipy, reduction), rtol=1e-12, atol=1e-14)


def test_info_nce_is_lossmod_cross_entropy_with_labels_0_to_n(
    batch: tuple[np.ndarray, np.ndarray],
) -> None:
    """The same number as cross_entropy on the similarity matrix with label i for row i."""
    query, key = batch
    s = unit_rows(query) @ unit_rows(key).T / 0.2
    np.testing.assert_allclose(
        lossmod.info_nce(query, key, temperature=0.2),
        lossmod.cross_entropy(s, np.arange(len(s))),
        rtol=1e-13,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("temperature", [0.05, 0.5, 3.0])
def test_info_nce_grad_matches_central_differences(
    batch: tuple[np.ndarray, np.ndarray], temperature: float, reduction: str
) -> None:
    """The gradient in the query (of the sum for "none") equals central differences of the
    value, to 1e-7 relative."""
    query, key = batch
    numeric = central_differences(
        lambda q: np.sum(lossmod.info_nce(q, key, temperature=temperature, reduction=reduction)),
        query,
    )
    analytic = lossmod.info_nce_grad(query, key, temperature=temperature, reduction=reduction)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_info_nce_gradient_in_the_similarities_is_softmax_minus_identity_over_n(
    batch: tuple[np.ndarray, np.ndarray],
) -> None:
    """Through unit queries and keys, the query gradient is (softmax(s) - I) K / (t N), projected
    off each query's direction and divided by its length: checked by building it from scipy's
    softmax."""
    query, key = batch
    t, n = 0.3, len(query)
    u, k = unit_rows(query), unit_rows(key)
    g = (special.softmax(u @ k.T / t, axis=1) - np.eye(n)) @ k / (t * n)
    norms = np.linalg.norm(query, axis=1, keepdims=True)
    expected = (g - np.sum(g * u, axis=1, keepdims=True) * u) / norms
    np.testing.assert_allclose(
        lossmod.info_nce_grad(query, key, temperature=t), expected, rtol=1e-12, atol=1e-15
    )


def test_info_nce_ignores_the_length_of_each_row(
    batch: tuple[np.ndarray, np.ndarray], rng: np.random.Generator
) -> None:
    """Rows are normalised inside: rescaling any query or key by a positive factor changes
    nothing, so the gradient has no component along its query."""
    query, key = batch
    factors = rng.uniform(0.01, 100.0, size=(len(query), 1))
    np.testing.assert_allclose(
        lossmod.info_nce(factors * query, key / factors), lossmod.info_nce(query, key), rtol=1e-13
    )
    grad = lossmod.info_nce_grad(query, key)
    np.testing.assert_allclose(np.sum(grad * query, axis=1), 0.0, atol=1e-15)


def test_info_nce_at_extreme_temperatures_against_mpmath(rng: np.random.Generator) -> None:
    """Temperature 1e-4 puts similarities at +-1e4: the value agrees with a 60-digit mpmath
    computation of -log softmax (relative 1e-12), including losses near 1e-300 and near 1e4."""
    query = rng.normal(size=(5, 3))
    key = query + 0.3 * rng.normal(size=(5, 3))
    key[3] = -query[3]  # the worst key: the loss of row 3 is about 2e4
    for t in (1e-4, 1e-2):
        s = unit_rows(query) @ unit_rows(key).T
        with mpmath.workdps(60):
            exact = []
            for i in range(5):
                row = [mpmath.mpf(float(v)) / mpmath.mpf(t) for v in s[i]]
                others = mpmath.fsum(mpmath.exp(v - row[i]) for j, v in enumerate(row) if j != i)
                exact.append(float(mpmath.log1p(others)))
        value = lossmod.info_nce(query, key, temperature=t, reduction="none")
        assert np.all(np.isfinite(value))
        np.testing.assert_allclose(value, exact, rtol=1e-11, atol=1e-300)
    assert lossmod.info_nce(query, key, temperature=1e-4, reduction="none")[3] > 1e4


def test_info_nce_float32_and_large_inputs() -> None:
    """float32 in, float32 out, finite for rows of size 1e30 and for an all-zero row (which
    normalises to zero, a cosine of 0 with every key)."""
    rng = np.random.default_rng(3)
    query = (1e30 * rng.normal(size=(4, 3))).astype(np.float32)
    key = rng.normal(size=(4, 3)).astype(np.float32)
    value = lossmod.info_nce(query, key)
    grad = lossmod.info_nce_grad(query, key)
    assert value.dtype == np.float32 and grad.dtype == np.float32
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    query64 = rng.normal(size=(4, 3))
    query64[1] = 0.0
    losses = lossmod.info_nce(query64, key, reduction="none")
    np.testing.assert_allclose(losses[1], np.log(4), rtol=1e-14)
    assert np.all(np.isfinite(lossmod.info_nce_grad(query64, key)))


def test_a_batch_of_one_has_no_negatives_and_costs_zero() -> None:
    """N = 1: the only key is the query's own, so the loss and its gradient are 0."""
    assert lossmod.info_nce(np.array([[1.0, 2.0]]), np.array([[-3.0, 1.0]])) == 0.0
    np.testing.assert_array_equal(
        lossmod.info_nce_grad(np.array([[1.0, 2.0]]), np.array([[-3.0, 1.0]])), 0.0
    )


def test_info_nce_is_log_n_when_every_key_is_the_same(rng: np.random.Generator) -> None:
    """With N identical keys no query can tell them apart: each loss is log N."""
    key = np.tile(rng.normal(size=(1, 4)), (9, 1))
    np.testing.assert_allclose(
        lossmod.info_nce(rng.normal(size=(9, 4)), key, reduction="none"), np.log(9), rtol=1e-14
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("scale", [1.0, 1 / 0.07, 100.0])
def test_clip_loss_is_the_mean_of_the_two_directions(
    batch: tuple[np.ndarray, np.ndarray], scale: float, reduction: str
) -> None:
    """clip_loss(a, b, s) = (loop InfoNCE a -> b + loop InfoNCE b -> a) / 2 at temperature 1 / s,
    and it is symmetric in its two arguments."""
    image, text = batch
    value = lossmod.clip_loss(image, text, logit_scale=scale, reduction=reduction)
    expected = (loop_info_nce(image, text, 1 / scale) + loop_info_nce(text, image, 1 / scale)) / 2
    np.testing.assert_allclose(value, reduce(expected, reduction), rtol=1e-12)
    np.testing.assert_allclose(
        lossmod.clip_loss(text, image, logit_scale=scale, reduction=reduction), value, rtol=1e-13
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("scale", [0.5, 1 / 0.07, 100.0])
def test_clip_loss_grad_matches_central_differences(
    batch: tuple[np.ndarray, np.ndarray], scale: float, reduction: str
) -> None:
    """The gradient in the image embeddings equals central differences; the gradient in the
    texts is clip_loss_grad with the arguments swapped (also checked by differences)."""
    image, text = batch
    for first, second in ((image, text), (text, image)):
        numeric = central_differences(
            lambda a, b=second: np.sum(
                lossmod.clip_loss(a, b, logit_scale=scale, reduction=reduction)
            ),
            first,
        )
        analytic = lossmod.clip_loss_grad(first, second, logit_scale=scale, reduction=reduction)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


def test_clip_loss_extreme_scale_against_mpmath(rng: np.random.Generator) -> None:
    """logit_scale 1e4: every term agrees with 60-digit mpmath."""
    image, text = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    s = unit_rows(image) @ unit_rows(text).T
    scale = 1e4
    with mpmath.workdps(60):
        exact = []
        for i in range(4):
            row = [mpmath.mpf(float(v)) * scale for v in s[i]]
            col = [mpmath.mpf(float(v)) * scale for v in s[:, i]]
            # log(sum_j e^(v_j - v_i)) as log1p of the other terms: exact at any size
            both = [
                mpmath.log1p(mpmath.fsum(mpmath.exp(v - r[i]) for j, v in enumerate(r) if j != i))
                for r in (row, col)
            ]
            exact.append(float((both[0] + both[1]) / 2))
    value = lossmod.clip_loss(image, text, logit_scale=scale, reduction="none")
    np.testing.assert_allclose(value, exact, rtol=1e-11)
    assert np.all(np.isfinite(lossmod.clip_loss_grad(image, text, logit_scale=scale)))


def test_value_and_grad_give_the_same_bits(batch: tuple[np.ndarray, np.ndarray]) -> None:
    """clip_loss's one-pass value_and_grad equals clip_loss and clip_loss_grad to the last bit,
    in float64 and float32 (info_nce's is checked by the registry tests)."""
    from lossmod.contrastive import _clip_loss_value_and_grad

    image, text = batch
    for dtype in (np.float64, np.float32):
        a, b = image.astype(dtype), text.astype(dtype)
        value, grad = _clip_loss_value_and_grad(a, b, logit_scale=20.0)
        assert value.tobytes() == lossmod.clip_loss(a, b, logit_scale=20.0).tobytes()
        assert grad.tobytes() == lossmod.clip_loss_grad(a, b, logit_scale=20.0).tobytes()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: lossmod.info_nce(np.ones((3, 2)), np.ones((3, 2)), temperature=0.0),
            r"^temperature must be a finite number > 0; got 0.0",
        ),
        (
            lambda: lossmod.info_nce(np.ones((3, 2)), np.ones((3, 2)), temperature=np.inf),
            r"^temperature must be a finite number > 0; got inf",
        ),
        (
            lambda: lossmod.info_nce(np.ones((3, 2)), np.ones((3, 2)), temperature=True),
            r"^temperature must be a finite number > 0; got True",
        ),
        (
            lambda: lossmod.info_nce_grad(np.ones((3, 2)), np.ones((4, 2))),
            r"^query has shape \(3, 2\) but key has shape \(4, 2\): they must be equal",
        ),
        (
            lambda: lossmod.info_nce(np.ones(3), np.ones(3)),
            r"^query must have shape \(N, D\): one embedding per row, N >= 1 and D >= 1; got shape \(3,\)",
        ),
        (
            lambda: lossmod.info_nce(np.ones((0, 2)), np.ones((0, 2))),
            r"^query must have shape \(N, D\).*got shape \(0, 2\)",
        ),
        (
            lambda: lossmod.info_nce(np.ones((2, 2)), np.array([[1.0, np.nan], [0.0, 1.0]])),
            r"^key contains NaN at index \(0, 1\)",
        ),
        (
            lambda: lossmod.info_nce(np.ones((2, 2)), np.array([[1.0, np.inf], [0.0, 1.0]])),
            r"^key must be finite; got inf at index \(0, 1\)",
        ),
        (
            lambda: lossmod.info_nce(np.ones((2, 2)), np.ones((2, 2)), reduction="avg"),
            r"^reduction must be one of 'mean', 'sum', 'none'; got 'avg'",
        ),
        (
            lambda: lossmod.clip_loss(np.ones((3, 2)), np.ones((3, 2)), logit_scale=-1.0),
            r"^logit_scale must be a finite number > 0; got -1.0",
        ),
        (
            lambda: lossmod.clip_loss_grad(np.ones((3, 2)), np.ones((3, 2, 1)), logit_scale=1.0),
            r"^image_embeddings has shape \(3, 2\) but text_embeddings has shape \(3, 2, 1\): they must be equal",
        ),
        (
            lambda: lossmod.clip_loss(
                np.ones((3, 2)), np.ones((3, 2)), logit_scale=1.0, reduction="batchmean"
            ),
            r"^reduction must be one of 'mean', 'sum', 'none'; got 'batchmean'",
        ),
    ],
)
def test_bad_arguments_raise_named_errors(call: object, message: str) -> None:
    """Each bad argument raises a ValueError that names it and says what was expected."""
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_clip_loss_needs_its_scale() -> None:
    """logit_scale is keyword-only and required, as in CLIP (no hidden default temperature)."""
    with pytest.raises(TypeError, match="logit_scale"):
        lossmod.clip_loss(np.ones((2, 2)), np.ones((2, 2)))  # type: ignore[call-arg]
