"""lossmod/sparse.py: the hinge and squared hinge against scikit-learn's hinge_loss and hand
formulas; sparsemax against brute force over supports and scipy's constrained solver; entmax-1.5
against 50-digit mpmath bisection; the sparsemax and entmax-1.5 losses against the Fenchel-Young
definition Omega*(z) + Omega(y) - <z, y>, Martins and Astudillo's formula and the entmax
package's; their gradients and Jacobians against central differences; extremes and named
errors."""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest
from scipy import optimize
from sklearn.metrics import hinge_loss as sk_hinge_loss

import lossmod
from tests.helpers.cases import central_differences

FY = ("sparsemax_loss", "entmax15_loss")
MAPS = {"sparsemax_loss": lossmod.sparsemax, "entmax15_loss": lossmod.entmax15}


def brute_force_sparsemax(z: np.ndarray) -> np.ndarray:
    """The projection onto the simplex by trying every support S: p = z - tau on S with
    tau = (sum_S z - 1) / |S|, kept if p > 0 on S and z <= tau off S (the KKT conditions)."""
    c = len(z)
    for size in range(1, c + 1):
        for support in itertools.combinations(range(c), size):
            s = list(support)
            tau = (z[s].sum() - 1.0) / size
            rest = [j for j in range(c) if j not in support]
            if np.all(z[s] > tau) and np.all(z[rest] <= tau):
                p = np.zeros(c)
                p[s] = z[s] - tau
                return p
    raise AssertionError("no support satisfies the KKT conditions")


def qp_sparsemax(z: np.ndarray) -> np.ndarray:
    """argmin |p - z|^2 over the simplex, by scipy's SLSQP."""
    c = len(z)
    result = optimize.minimize(
        lambda p: np.sum((p - z) ** 2),
        np.full(c, 1.0 / c),
        jac=lambda p: 2 * (p - z),
        bounds=[(0.0, 1.0)] * c,
        constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1.0, "jac": lambda p: np.ones(c)}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    return np.asarray(result.x)


def mpmath_entmax15(z: np.ndarray, digits: int = 50) -> np.ndarray:
    """entmax-1.5 by bisection on tau at ``digits`` digits: sum_j max(z_j / 2 - tau, 0)^2 = 1,
    tau between max(z) / 2 - 1 (the sum >= 1) and max(z) / 2 (the sum is 0)."""
    with mpmath.workdps(digits):
        x = [mpmath.mpf(float(v)) / 2 for v in z]
        low, high = max(x) - 1, max(x)
        for _ in range(4 * digits):
            mid = (low + high) / 2
            if sum(max(v - mid, 0) ** 2 for v in x) > 1:
                low = mid
            else:
                high = mid
        return np.array([float(max(v - high, 0) ** 2) for v in x])


def fenchel_young(name: str, z: np.ndarray, y: np.ndarray) -> float:
    """Omega*(z) + Omega(y) - <z, y> with Omega*(z) = <z, p> - Omega(p), p the map's output:
    the definition, summed naively (Gini: |p|^2 / 2; Tsallis 1.5: (4/3) sum (p^1.5 - p))."""
    p = MAPS[name](z)

    def omega(q: np.ndarray) -> float:
        if name == "sparsemax_loss":
            return float(0.5 * q @ q)
        return float((4.0 / 3.0) * np.sum(q**1.5 - q))

    return float(z @ p - omega(p) + omega(y) - z @ y)


# --- hinge and squared hinge ---------------------------------------------------------------


def test_hinge_mean_is_sklearns_hinge_loss(rng: np.random.Generator) -> None:
    """reduction="mean" equals sklearn.metrics.hinge_loss(y, s) for labels in {-1, 1} (and for
    labels {0, 1} given to scikit-learn, which maps them to -1 and 1 itself)."""
    s = 2.0 * rng.normal(size=50)
    y = rng.choice([-1.0, 1.0], size=50)
    np.testing.assert_allclose(lossmod.hinge_loss(s, y), sk_hinge_loss(y, s), rtol=1e-14)
    np.testing.assert_allclose(lossmod.hinge_loss(s, y), sk_hinge_loss((y + 1) / 2, s), rtol=1e-14)


def test_hinge_and_squared_hinge_by_hand() -> None:
    """max(0, 1 - y s) and its square at margins -2, 0, 0.5, 1, 3; gradients -y [y s < 1] (0 at
    the kink) and -2 y max(0, 1 - y s)."""
    s = np.array([-2.0, 0.0, 0.5, 1.0, -3.0])
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
    np.testing.assert_array_equal(lossmod.hinge_loss(s, y, reduction="none"), [3, 1, 0.5, 0, 0])
    np.testing.assert_array_equal(
        lossmod.squared_hinge_loss(s, y, reduction="none"), [9, 1, 0.25, 0, 0]
    )
    np.testing.assert_array_equal(lossmod.hinge_loss_grad(s, y, reduction="sum"), [-1, 1, -1, 0, 0])
    np.testing.assert_array_equal(
        lossmod.squared_hinge_loss_grad(s, y, reduction="sum"), [-6, 2, -1, 0, 0]
    )


@pytest.mark.parametrize("name", ["hinge_loss", "squared_hinge_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_hinge_gradients_are_central_differences(
    name: str, reduction: str, rng: np.random.Generator
) -> None:
    """Away from the kink the gradient equals central differences of the reduced loss."""
    s = 3.0 * rng.normal(size=30)
    y = rng.choice([-1.0, 1.0], size=30)
    s[np.abs(1 - y * s) < 1e-3] += 0.01
    value, grad = getattr(lossmod, name), getattr(lossmod, f"{name}_grad")
    numeric = central_differences(lambda x: value(x, y, reduction=reduction), s)
    np.testing.assert_allclose(grad(s, y, reduction=reduction), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("eta", [0.1, 0.3, 0.45, 0.55, 0.8, 0.97])
def test_population_minimisers(eta: float) -> None:
    """The expected hinge eta l(f, 1) + (1 - eta) l(f, -1) is smallest at sign(2 eta - 1), the
    expected squared hinge at 2 eta - 1 (scipy's bounded scalar minimiser)."""
    for name, expected in (
        ("hinge_loss", np.sign(2 * eta - 1)),
        ("squared_hinge_loss", 2 * eta - 1),
    ):
        loss = getattr(lossmod, name)

        def risk(f: float, loss=loss) -> float:  # type: ignore[no-untyped-def]
            pair = loss(np.array([f, f]), np.array([1.0, -1.0]), reduction="none")
            return float(eta * pair[0] + (1 - eta) * pair[1])

        best = optimize.minimize_scalar(
            risk, bounds=(-3, 3), method="bounded", options={"xatol": 1e-10}
        )
        np.testing.assert_allclose(best.x, expected, atol=1e-6)


def test_hinge_errors_are_named() -> None:
    """Labels outside {-1, 1} (a 0/1 label, say) and mismatched shapes raise and say so."""
    with pytest.raises(ValueError, match=r"labels must hold -1 or 1; got 0.0 at index \(1,\)"):
        lossmod.hinge_loss([0.5, 1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"scores has shape \(3, 1\) but labels has shape"):
        lossmod.squared_hinge_loss(np.zeros((3, 1)), np.ones(3))
    with pytest.raises(ValueError, match=r"reduction must be one of"):
        lossmod.hinge_loss_grad([1.0], [1.0], reduction="avg")


# --- sparsemax and entmax-1.5 ----------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.1, 1.0, 3.0, 30.0])
def test_sparsemax_is_the_projection_onto_the_simplex(
    scale: float, rng: np.random.Generator
) -> None:
    """sparsemax(z) is the brute-force KKT projection (to 1e-14) and scipy's QP solution (1e-7)."""
    z = scale * rng.normal(size=(20, 5))
    p = lossmod.sparsemax(z)
    np.testing.assert_allclose(p, np.array([brute_force_sparsemax(r) for r in z]), atol=1e-14)
    np.testing.assert_allclose(p[:5], np.array([qp_sparsemax(r) for r in z[:5]]), atol=1e-7)


def test_sparsemax_exact_zeros_ties_and_shift() -> None:
    """Entries more than the threshold below get exactly 0; two classes: p_1 = clip((z_1 - z_2 +
    1) / 2, 0, 1); a shift of all logits changes nothing; ties share equally."""
    p = lossmod.sparsemax(np.array([1.0, 0.8, -1.0]))
    np.testing.assert_allclose(p, [0.6, 0.4, 0.0], rtol=1e-15)
    assert p[2] == 0.0
    d = np.linspace(-2, 2, 41)
    two = lossmod.sparsemax(np.column_stack([d, np.zeros_like(d)]))
    np.testing.assert_allclose(two[:, 0], np.clip((d + 1) / 2, 0, 1), atol=1e-15)
    np.testing.assert_array_equal(lossmod.sparsemax(np.full(4, 7.0)), np.full(4, 0.25))
    z = np.array([0.3, -1.2, 0.9])
    np.testing.assert_allclose(lossmod.sparsemax(z + 1e3), lossmod.sparsemax(z), atol=1e-12)


@pytest.mark.parametrize("scale", [0.1, 1.0, 5.0, 50.0])
def test_entmax15_is_mpmath_bisection(scale: float, rng: np.random.Generator) -> None:
    """entmax15(z) equals 50-digit bisection on the threshold to 1e-14."""
    z = scale * rng.normal(size=(10, 6))
    expected = np.array([mpmath_entmax15(r) for r in z])
    np.testing.assert_allclose(lossmod.entmax15(z), expected, atol=1e-14)


def test_entmax15_two_classes_and_its_place_between() -> None:
    """Two classes, d = z_1 - z_2: entmax-1.5 equals bisection and gives p_1 = 1 exactly from
    d >= 2 on (below 1 before); on random logits its support is never smaller than
    sparsemax's."""
    d = np.linspace(-3, 3, 61)
    z = np.column_stack([d, np.zeros_like(d)])
    p = lossmod.entmax15(z)
    np.testing.assert_allclose(p, np.array([mpmath_entmax15(r) for r in z]), atol=1e-14)
    assert np.all(p[d >= 2, 0] == 1.0) and np.all(p[np.abs(d) < 2, 0] < 1.0)
    rng = np.random.default_rng(3)
    zz = 2 * rng.normal(size=(200, 7))
    assert np.all((lossmod.entmax15(zz) > 0).sum(1) >= (lossmod.sparsemax(zz) > 0).sum(1))


@pytest.mark.parametrize("mapping", [lossmod.sparsemax, lossmod.entmax15])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maps_finite_at_extremes_on_any_axis(mapping, dtype: type) -> None:  # type: ignore[no-untyped-def]
    """Logits of +-1e4 give distributions of the input's dtype; ``axis`` picks the class axis."""
    z = (1e4 * np.array([[1.0, -1.0, 1.0, 0.5], [-1.0, -1.0, -1.0, -1.0]])).astype(dtype)
    p = mapping(z)
    assert p.dtype == dtype and np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p[0], [0.5, 0.0, 0.5, 0.0], atol=1e-7)
    np.testing.assert_array_equal(mapping(z.T, axis=0), p.T)
    cube = np.random.default_rng(0).normal(size=(2, 3, 4))
    np.testing.assert_allclose(
        mapping(cube, axis=1), np.moveaxis(mapping(np.moveaxis(cube, 1, -1)), -1, 1)
    )


def jacobian(name: str, z: np.ndarray) -> np.ndarray:
    """The derived Jacobian: diag(r) - r r^T / sum(r), r the support's indicator (sparsemax) or
    sqrt(p) (entmax-1.5)."""
    p = MAPS[name](z)
    r = (p > 0).astype(float) if name == "sparsemax_loss" else np.sqrt(p)
    return np.diag(r) - np.outer(r, r) / r.sum()


@pytest.mark.parametrize("name", FY)
def test_jacobians_are_central_differences(name: str, rng: np.random.Generator) -> None:
    """The Jacobian formulas equal central differences of the maps, row by row, away from the
    support's edges; they are symmetric and annihilate the all-ones vector."""
    for _ in range(10):
        z = 1.5 * rng.normal(size=6)
        numeric = np.array(
            [central_differences(lambda x, k=k: MAPS[name](x)[k], z) for k in range(6)]
        )
        j = jacobian(name, z)
        np.testing.assert_allclose(j, numeric, atol=1e-7)
        np.testing.assert_allclose(j, j.T, atol=0)
        np.testing.assert_allclose(j @ np.ones(6), 0.0, atol=1e-15)


# --- the Fenchel-Young losses ------------------------------------------------------------------


@pytest.mark.parametrize("name", FY)
def test_losses_are_the_fenchel_young_definition(name: str, rng: np.random.Generator) -> None:
    """Against class indices and against soft distributions, the loss equals
    Omega*(z) + Omega(y) - <z, y> computed naively (1e-12), and is >= 0."""
    z = 2.0 * rng.normal(size=(30, 5))
    labels = rng.integers(0, 5, size=30)
    soft = rng.dirichlet(np.full(5, 0.5), size=30)
    loss = getattr(lossmod, name)
    for target, rows in ((labels, np.eye(5)[labels]), (soft, soft)):
        values = loss(z, target, reduction="none")
        naive = [fenchel_young(name, zi, yi) for zi, yi in zip(z, rows, strict=True)]
        np.testing.assert_allclose(values, naive, atol=1e-12)
        assert np.all(values >= 0)


def test_sparsemax_loss_is_martins_and_astudillos_formula(rng: np.random.Generator) -> None:
    """For a class index k: -z_k + (1/2) sum_{j in S} (z_j^2 - tau^2) + 1/2, with S and tau from
    the brute-force projection."""
    z = 1.5 * rng.normal(size=(20, 4))
    k = rng.integers(0, 4, size=20)
    expected = []
    for zi, ki in zip(z, k, strict=True):
        p = brute_force_sparsemax(zi)
        support = p > 0
        tau = zi[support][0] - p[support][0]
        expected.append(-zi[ki] + 0.5 * np.sum(zi[support] ** 2 - tau**2) + 0.5)
    np.testing.assert_allclose(lossmod.sparsemax_loss(z, k, reduction="none"), expected, atol=1e-12)


def test_entmax15_loss_is_the_entmax_packages_formula(rng: np.random.Generator) -> None:
    """For a class index k: (1 - sum_j p_j^1.5) / 0.75 + <p - e_k, z>, with p from mpmath."""
    z = 2.0 * rng.normal(size=(15, 5))
    k = rng.integers(0, 5, size=15)
    expected = []
    for zi, ki in zip(z, k, strict=True):
        p = mpmath_entmax15(zi)
        expected.append((1 - np.sum(p**1.5)) / 0.75 + (p - np.eye(5)[ki]) @ zi)
    np.testing.assert_allclose(lossmod.entmax15_loss(z, k, reduction="none"), expected, atol=1e-12)


@pytest.mark.parametrize("name", FY)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fy_gradients_are_prediction_minus_target(
    name: str, reduction: str, rng: np.random.Generator
) -> None:
    """The gradient is map(z) - y (/ N for the mean) and equals central differences of the
    (summed) loss, for class indices and soft targets."""
    z = 2.0 * rng.normal(size=(8, 5))
    loss, grad = getattr(lossmod, name), getattr(lossmod, f"{name}_grad")
    for target in (rng.integers(0, 5, size=8), rng.dirichlet(np.ones(5), size=8)):
        rows = np.eye(5)[target] if target.ndim == 1 else target
        scale = 1 / 8 if reduction == "mean" else 1.0
        np.testing.assert_allclose(
            grad(z, target, reduction=reduction), scale * (MAPS[name](z) - rows), atol=1e-15
        )
        numeric = central_differences(
            lambda x, t=target: np.sum(loss(x, t, reduction=reduction)), z
        )
        np.testing.assert_allclose(grad(z, target, reduction=reduction), numeric, atol=1e-8)


def test_zero_loss_and_the_separation_margins() -> None:
    """The sparsemax loss is exactly 0 once the true logit leads every other by 1, entmax-1.5's
    by 2, and positive just short of that; cross-entropy is never 0 at finite logits."""
    for name, margin in (("sparsemax_loss", 1.0), ("entmax15_loss", 2.0)):
        loss = getattr(lossmod, name)
        at = np.array([[margin, 0.0, -0.5]])
        assert loss(at, np.array([0])) == 0.0
        assert loss(at - [[1e-3, 0, 0]], np.array([0])) > 0
    assert lossmod.cross_entropy(np.array([[30.0, 0.0, 0.0]]), np.array([0])) > 0


@pytest.mark.parametrize("name", FY)
def test_minimised_where_the_map_equals_a_soft_target(name: str, rng: np.random.Generator) -> None:
    """Against a distribution y the loss is 0 at a z with map(z) = y (z = y for sparsemax,
    z = 2 sqrt(y) for entmax-1.5) and larger at every nearby z."""
    y = rng.dirichlet(np.ones(4), size=6)
    best = y.copy() if name == "sparsemax_loss" else 2 * np.sqrt(y)
    np.testing.assert_allclose(MAPS[name](best), y, atol=1e-15)
    loss = getattr(lossmod, name)
    assert loss(best, y, reduction="sum") <= 1e-15
    for size in (1e-3, 1e-1, 1.0):
        for _ in range(20):
            assert loss(best + size * rng.normal(size=best.shape), y, reduction="sum") > 0


@pytest.mark.parametrize("name", FY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fy_losses_exact_at_extremes(name: str, dtype: type) -> None:
    """Logits of +-1e4 in float32 and float64: the losses equal the definition (1e-6; a confident
    mistake costs the logit gap, 2e4) and the gradients are map(z) - e_y, in the input's
    dtype."""
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]).astype(dtype)
    labels = np.array([1, 0])
    loss, grad = getattr(lossmod, name), getattr(lossmod, f"{name}_grad")
    values = loss(z, labels, reduction="none")
    assert values.dtype == dtype and np.all(np.isfinite(values))
    naive = [
        fenchel_young(name, zi, yi)
        for zi, yi in zip(z.astype(np.float64), np.eye(3)[labels], strict=True)
    ]
    np.testing.assert_allclose(values, naive, rtol=1e-6)
    np.testing.assert_allclose(values[0], 2e4, rtol=1e-6)
    g = grad(z, labels, reduction="none")
    assert g.dtype == dtype
    np.testing.assert_allclose(g[0], [1.0, -1.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(g[1], [-1.0, 0.5, 0.5], atol=1e-7)


def test_shannon_member_is_cross_entropy(rng: np.random.Generator) -> None:
    """The Fenchel-Young loss of the negative Shannon entropy, logsumexp(z) + sum y log y - <z, y>,
    is lossmod.cross_entropy for class indices, and cross-entropy minus H(y) for soft targets."""
    z = rng.normal(size=(10, 4))
    y = rng.dirichlet(np.ones(4), size=10)
    fy = lossmod.logsumexp(z) + np.sum(y * np.log(y), axis=1) - np.sum(z * y, axis=1)
    entropy = -np.sum(y * np.log(y), axis=1)
    np.testing.assert_allclose(
        fy, lossmod.cross_entropy(z, y, reduction="none") - entropy, rtol=1e-12
    )


def test_fy_errors_are_named() -> None:
    """Wrong shapes, labels out of range, float class indices, rows not summing to 1."""
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\)"):
        lossmod.sparsemax_loss(np.zeros(4), np.array([1]))
    with pytest.raises(ValueError, match=r"labels must hold class indices in \[0, 3\]; got 4"):
        lossmod.entmax15_loss(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"class indices must be an integer array"):
        lossmod.sparsemax_loss(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"row \(1,\) sums to 2"):
        lossmod.entmax15_loss_grad(z, np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1.0]]))
    with pytest.raises(ValueError, match=r"labels of class indices must have shape \(N,\)"):
        lossmod.sparsemax_loss(z, np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 1\]"):
        lossmod.sparsemax(z, axis=2)
    with pytest.raises(ValueError, match=r"z contains NaN at index \(0,\)"):
        lossmod.entmax15(np.array([np.nan, 1.0]))
