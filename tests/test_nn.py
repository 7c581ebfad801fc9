"""lossmod.nn: every layer's backward pass equals central differences of its forward pass, a
whole network's backpropagation equals central differences of its loss, initialisers have the
published scales, and bad arguments raise ValueError naming the argument."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import lossmod
from lossmod import nn, train

Array = np.ndarray


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def projected(layer: nn.Layer, weights: Array) -> Callable[[Array], float]:
    """x -> sum(weights * layer(x)): a scalar L whose gradient dL/d(output) is ``weights``."""
    return lambda x: float(np.sum(weights * layer.forward(x)))


ACTIVATION_CASES = [
    (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.Identity(), lambda x: x),
]


@pytest.mark.parametrize("layer, reference", ACTIVATION_CASES, ids=lambda v: repr(v)[:10])
def test_activation_forward_and_backward(
    layer: nn.Layer, reference: Callable[[Array], Array]
) -> None:
    """forward is the function; backward(G) equals the numerical gradient of sum(G * forward(x))
    (x kept away from ReLU's kink at 0)."""
    x = rng(1).normal(size=(5, 3))
    x[np.abs(x) < 0.05] = 0.5
    weights = rng(2).normal(size=(5, 3))
    np.testing.assert_allclose(layer.forward(x), reference(x), rtol=1e-12)
    analytic = layer.backward(weights)
    numeric = lossmod.numerical_gradient(projected(layer, weights), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9)


def test_activation_derivatives_by_hand() -> None:
    """tanh' = 1 - tanh^2 (1 at 0), sigmoid' = s (1 - s) (1/4 at 0), relu' = step (0 at 0)."""
    x = np.array([[0.0, 1.0, -2.0]])
    ones = np.ones_like(x)
    for layer, expected in [
        (nn.Tanh(), 1 - np.tanh(x) ** 2),
        (
            nn.Sigmoid(),
            [[0.25, np.exp(-1) / (1 + np.exp(-1)) ** 2, np.exp(-2) / (1 + np.exp(-2)) ** 2]],
        ),
        (nn.ReLU(), [[0.0, 1.0, 0.0]]),
        (nn.Identity(), [[1.0, 1.0, 1.0]]),
    ]:
        layer.forward(x)
        np.testing.assert_allclose(layer.backward(ones), expected, rtol=1e-12)


def test_dense_forward_by_hand() -> None:
    """out = x @ W + b on a 1 x 2 input with hand-picked weights."""
    layer = nn.Dense(2, 3, init="zeros")
    layer.weight[...] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    layer.bias[...] = [0.5, -0.5, 1.0]
    np.testing.assert_allclose(layer.forward([[1.0, -1.0]]), [[-2.5, -3.5, -2.0]])


def test_dense_backward_by_hand() -> None:
    """dL/dx = G W^T, dL/dW = x^T G, dL/db = column sums of G, on a 2-example batch."""
    layer = nn.Dense(2, 1, init="zeros")
    layer.weight[...] = [[2.0], [-1.0]]
    x = np.array([[1.0, 3.0], [2.0, 0.0]])
    layer.forward(x)
    grad_x = layer.backward(np.array([[1.0], [-2.0]]))
    np.testing.assert_allclose(grad_x, [[2.0, -1.0], [-4.0, 2.0]])
    np.testing.assert_allclose(layer.grad_weight, [[1.0 - 4.0], [3.0]])
    np.testing.assert_allclose(layer.grad_bias, [-1.0])


@pytest.mark.parametrize("init", ["glorot", "he"])
def test_dense_backward_equals_central_differences(init: str) -> None:
    """Each of dL/dx, dL/dweight and dL/dbias equals central differences of L = sum(G * out)."""
    layer = nn.Dense(4, 3, rng=rng(3), init=init)
    layer.bias[...] = rng(4).normal(size=3)
    x, weights = rng(5).normal(size=(6, 4)), rng(6).normal(size=(6, 3))
    layer.forward(x)
    grad_x = layer.backward(weights)
    np.testing.assert_allclose(
        grad_x, lossmod.numerical_gradient(projected(layer, weights), x), rtol=1e-7, atol=1e-8
    )
    for parameter, analytic in zip(layer.parameters(), layer.gradients(), strict=True):

        def loss(value: Array, parameter: Array = parameter) -> float:
            saved = parameter.copy()
            parameter[...] = value
            result = float(np.sum(weights * layer.forward(x)))
            parameter[...] = saved
            return result

        np.testing.assert_allclose(
            analytic, lossmod.numerical_gradient(loss, parameter.copy()), rtol=1e-7, atol=1e-8
        )


def network_case(loss: str) -> tuple[nn.Sequential, Array, Array]:
    generator = rng(7)
    X = generator.normal(size=(8, 3))
    if loss == "cross_entropy":
        return (
            nn.mlp([3, 5, 4, 3], rng=generator, activation="tanh"),
            X,
            generator.integers(0, 3, 8),
        )
    if loss == "bce_with_logits":
        return (
            nn.mlp([3, 6, 1], rng=generator, activation="sigmoid"),
            X,
            generator.integers(0, 2, 8).astype(float),
        )
    return nn.mlp([3, 6, 4, 2], rng=generator, activation="relu"), X, generator.normal(size=(8, 2))


@pytest.mark.parametrize("loss", ["mse", "bce_with_logits", "cross_entropy", "huber"])
def test_network_backpropagation_equals_central_differences(loss: str) -> None:
    """The gradient of the loss with respect to every parameter of an MLP, by backpropagation from
    lossmod.<loss>_grad, equals central differences of the loss (relative error < 1e-7)."""
    model, X, y = network_case(loss)
    theta = nn.parameters_to_vector(model.parameters())

    def value(t: Array) -> float:
        nn.vector_to_parameters(t, model.parameters())
        return train.evaluate(model, loss, X, y)

    def gradient(t: Array) -> Array:
        nn.vector_to_parameters(t, model.parameters())
        return nn.parameters_to_vector(train.loss_and_gradients(model, loss, X, y)[1])

    result = lossmod.gradcheck(value, gradient, theta, rtol=1e-7)
    assert result.passed, result.relative_error


def test_input_gradient_of_network_equals_central_differences() -> None:
    """Sequential.backward returns dL/dX as well (mse with a tanh MLP)."""
    model, X, y = network_case("mse")
    _ = train.loss_and_gradients(model, "mse", X, y)
    grad_x = model.backward(lossmod.mse_grad(model.forward(X), y))
    numeric = lossmod.numerical_gradient(lambda x: float(lossmod.mse(model.forward(x), y)), X)
    np.testing.assert_allclose(grad_x, numeric, rtol=1e-6, atol=1e-10)


def test_glorot_and_he_have_their_published_scales() -> None:
    """Glorot uniform: |w| <= sqrt(6 / (in + out)), variance 2 / (in + out); He normal: mean 0,
    variance 2 / in (sample moments within 3 % of 40 000 draws)."""
    w = nn.glorot_uniform(100, 300, rng(8))
    assert w.shape == (100, 300)
    assert np.abs(w).max() <= np.sqrt(6 / 400)
    assert abs(w.var() / (2 / 400) - 1) < 0.03
    h = nn.he_normal(200, 200, rng(9))
    assert abs(h.var() / (2 / 200) - 1) < 0.03 and abs(h.mean()) < 0.003


def test_mlp_structure_and_seeded_initialisation() -> None:
    """mlp([4, 8, 2]) is Dense, activation, Dense, Identity; same seed, same weights; He weights
    for ReLU hidden layers; biases start at zero."""
    model = nn.mlp([4, 8, 2], rng=rng(10), activation="relu")
    assert repr(model) == "Sequential(Dense(4, 8), ReLU(), Dense(8, 2), Identity())"
    assert [p.shape for p in model.parameters()] == [(4, 8), (8,), (8, 2), (2,)]
    again = nn.mlp([4, 8, 2], rng=rng(10), activation="relu")
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.parameters()[0], nn.he_normal(4, 8, rng(10)))
    assert not np.any(model.parameters()[1])
    different = nn.mlp([4, 8, 2], rng=rng(11), activation="relu")
    assert not np.array_equal(model.parameters()[0], different.parameters()[0])


def test_vector_round_trip() -> None:
    """parameters_to_vector concatenates in order; vector_to_parameters writes it back in place."""
    model = nn.mlp([2, 3, 1], rng=rng(12))
    arrays = model.parameters()
    theta = nn.parameters_to_vector(arrays)
    assert theta.shape == (2 * 3 + 3 + 3 + 1,)
    np.testing.assert_array_equal(theta[:6], arrays[0].ravel())
    nn.vector_to_parameters(np.arange(13.0), arrays)
    assert model.parameters()[0] is arrays[0]
    np.testing.assert_array_equal(model.parameters()[3], [12.0])
    np.testing.assert_array_equal(nn.parameters_to_vector(model.parameters()), np.arange(13.0))


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: nn.Dense(3, 2, init="zeros").forward(np.ones((4, 2))),
            r"^x must have shape \(N, 3\); got shape \(4, 2\)$",
        ),
        (lambda: nn.Dense(3, 2, init="zeros").forward(np.ones(3)), r"^x must have shape \(N, 3\)"),
        (lambda: nn.Dense(0, 2, init="zeros"), r"^in_features must be an integer >= 1; got 0$"),
        (
            lambda: nn.Dense(3, 2, init="lecun", rng=rng()),
            r"^init must be one of 'glorot', 'he', 'zeros'; got 'lecun'$",
        ),
        (
            lambda: nn.Dense(3, 2),
            r"^rng must be a np.random.Generator for init='glorot'; got None$",
        ),
        (
            lambda: nn.Dense(3, 2, init="zeros").backward(np.ones((4, 2))),
            r"call forward before backward$",
        ),
        (lambda: nn.Tanh().backward(np.ones((4, 2))), r"call forward before backward$"),
        (
            lambda: nn.mlp([3, 2], rng=rng(), activation="softsign"),
            r"^activation must be one of \['identity', 'relu', 'sigmoid', 'tanh'\]; got 'softsign'$",
        ),
        (lambda: nn.mlp([3], rng=rng()), r"^sizes must hold at least an input and an output size"),
        (lambda: nn.Sequential(), r"^layers must be one or more Layer instances"),
        (
            lambda: nn.vector_to_parameters(np.zeros(3), [np.zeros(2)]),
            r"^vector must have shape \(2,\); got \(3,\)$",
        ),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_backward_checks_the_shape_of_grad_out() -> None:
    """grad_out must have the shape of the layer's last output."""
    layer = nn.Dense(3, 2, init="zeros")
    layer.forward(np.ones((4, 3)))
    with pytest.raises(
        ValueError, match=r"^grad_out must have shape \(N, 2\); got shape \(4, 3\)$"
    ):
        layer.backward(np.ones((4, 3)))
    with pytest.raises(
        ValueError, match=r"^grad_out must have 4 rows like the last x; got \(5, 2\)$"
    ):
        layer.backward(np.ones((5, 2)))
    tanh = nn.Tanh()
    tanh.forward(np.ones((4, 3)))
    with pytest.raises(
        ValueError,
        match=r"^grad_out must have the shape of the layer's last output \(4, 3\); got \(4,\)$",
    ):
        tanh.backward(np.ones(4))
