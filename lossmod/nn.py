"""Layers with explicit forward and backward passes, and networks built
from them.

A layer maps a batch ``x`` of shape (N, in) to an output of shape (N, out)
with ``forward``, keeping what its backward pass needs.
``backward(grad_out)`` takes dL/d(output), shape (N, out), stores the
gradients of the layer's own parameters (``gradients()``, in the order of
``parameters()``) and returns dL/d(input), shape (N, in). Run in reverse
order through a :class:`Sequential`, the backward passes are
backpropagation: the chain rule, started from the gradient of a loss,
``lossmod.<name>_grad`` (Rumelhart, Hinton and Williams, 1986).

Every :class:`Layer`, a single :class:`Dense` as well as a
:class:`Sequential`, is a model that ``lossmod.train.fit`` can train and
``lossmod.optim`` can update. Parameters are float64 arrays that optimisers
change in place.

Explained in the chapter "Training a model with a loss".
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod.primitives import sigmoid

__all__ = [
    "ACTIVATIONS",
    "Dense",
    "Identity",
    "Layer",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "glorot_uniform",
    "he_normal",
    "mlp",
    "parameters_to_vector",
    "vector_to_parameters",
]

Array = NDArray[np.float64]


# --- Initialisation ------------------------------------------------------


def glorot_uniform(
    fan_in: int, fan_out: int, rng: np.random.Generator
) -> Array:
    """Glorot (Xavier) uniform initialisation of a weight matrix.

    Draws from U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), so the
    variance is 2 / (fan_in + fan_out): the scale of activations and of
    gradients is kept from layer to layer for tanh- and sigmoid-like units
    (Glorot and Bengio, 2010).

    Parameters
    ----------
    fan_in, fan_out : int
        Number of inputs and outputs of the layer, both >= 1.
    rng : np.random.Generator
        The source of randomness (seed it for reproducible weights).

    Returns
    -------
    ndarray of float64, shape (fan_in, fan_out).
    """
    _check_sizes(fan_in, fan_out)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def he_normal(
    fan_in: int, fan_out: int, rng: np.random.Generator
) -> Array:
    """He (Kaiming) normal initialisation of a weight matrix.

    Draws from N(0, 2 / fan_in): a ReLU halves the second moment of its
    input, and the factor 2 compensates, so the scale of activations is
    kept through ReLU layers (He et al., 2015).

    Parameters
    ----------
    fan_in, fan_out : int
        Number of inputs and outputs of the layer, both >= 1.
    rng : np.random.Generator
        The source of randomness.

    Returns
    -------
    ndarray of float64, shape (fan_in, fan_out).
    """
    _check_sizes(fan_in, fan_out)
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def _check_sizes(fan_in: int, fan_out: int) -> None:
    for name, value in (
        ("in_features", fan_in),
        ("out_features", fan_out),
    ):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(
                f"{name} must be an integer >= 1; got {value!r}"
            )


_INITS = ("glorot", "he", "zeros")


# --- Layers --------------------------------------------------------------


class Layer:
    """Base class of layers and models: ``forward``, ``backward``,
    parameters and gradients.

    A layer without parameters (an activation) only overrides ``forward``
    and ``backward``. Calling a layer, ``layer(x)``, is
    ``layer.forward(x)``.
    """

    def forward(self, x: ArrayLike) -> Array:
        """The output for a batch ``x`` of shape (N, in):
        shape (N, out)."""
        raise NotImplementedError

    def backward(self, grad_out: ArrayLike) -> Array:
        """Given dL/d(output) of shape (N, out), store parameter gradients,
        return dL/dx."""
        raise NotImplementedError

    def parameters(self) -> list[Array]:
        """The parameter arrays themselves (not copies): an optimiser
        updates them in place."""
        return []

    def gradients(self) -> list[Array]:
        """dL/d(parameter) from the last ``backward``, in the order of
        :meth:`parameters`."""
        return []

    def __call__(self, x: ArrayLike) -> Array:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _batch(name: str, x: ArrayLike, width: int | None = None) -> Array:
    """``x`` as a float64 array of shape (N, width), or a ValueError naming
    it."""
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 2 or (width is not None and array.shape[1] != width):
        expected = "(N, features)" if width is None else f"(N, {width})"
        raise ValueError(
            f"{name} must have shape {expected}; got shape {array.shape}"
        )
    return array


def _saved(
    layer: Layer, value: Array | None, grad_out: ArrayLike
) -> tuple[Array, Array]:
    """The array saved by ``forward`` and ``grad_out`` checked against its
    shape."""
    if value is None:
        raise ValueError(f"{layer!r}: call forward before backward")
    grad = np.asarray(grad_out, dtype=np.float64)
    if grad.shape != value.shape:
        raise ValueError(
            "grad_out must have the shape of the layer's last output "
            f"{value.shape}; got {grad.shape}"
        )
    return value, grad


def _check_rows(grad: Array, x: Array) -> None:
    if len(grad) != len(x):
        raise ValueError(
            f"grad_out must have {len(x)} rows like the last x; "
            f"got {grad.shape}"
        )


class Dense(Layer):
    """Fully connected (affine) layer: out = x @ weight + bias.

    Backward pass, for L a scalar function of ``out`` and G = dL/d(out) of
    shape (N, out)::

        dL/dx      = G @ weight.T        (N, in)
        dL/dweight = x.T @ G             (in, out)
        dL/dbias   = G summed over rows  (out,)

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and output vectors.
    rng : np.random.Generator, optional
        Source of the initial weights; needed unless ``init="zeros"``.
    init : {"glorot", "he", "zeros"}
        :func:`glorot_uniform` (for tanh, sigmoid and linear outputs),
        :func:`he_normal` (for ReLU) or all zeros (fine for a linear model,
        whose loss is convex). Biases start at zero.

    Attributes
    ----------
    weight : ndarray, shape (in_features, out_features)
    bias : ndarray, shape (out_features,)
    grad_weight, grad_bias : ndarray
        Their gradients from the last ``backward``, same shapes.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        rng: np.random.Generator | None = None,
        init: str = "glorot",
    ) -> None:
        _check_sizes(in_features, out_features)
        if init not in _INITS:
            raise ValueError(
                f"init must be one of {', '.join(map(repr, _INITS))}; "
                f"got {init!r}"
            )
        if init == "zeros":
            self.weight: Array = np.zeros((in_features, out_features))
        elif not isinstance(rng, np.random.Generator):
            raise ValueError(
                f"rng must be a np.random.Generator for init={init!r}; "
                f"got {rng!r}"
            )
        elif init == "glorot":
            self.weight = glorot_uniform(in_features, out_features, rng)
        else:
            self.weight = he_normal(in_features, out_features, rng)
        self.bias: Array = np.zeros(out_features)
        self.grad_weight: Array = np.zeros_like(self.weight)
        self.grad_bias: Array = np.zeros_like(self.bias)
        self._x: Array | None = None

    def forward(self, x: ArrayLike) -> Array:
        """x of shape (N, in) -> x @ weight + bias, shape (N, out)."""
        self._x = _batch("x", x, self.weight.shape[0])
        return self._x @ self.weight + self.bias

    def backward(self, grad_out: ArrayLike) -> Array:
        """grad_out = dL/d(out), shape (N, out) -> dL/dx, shape (N, in)."""
        x = self._saved_input()
        grad = _batch("grad_out", grad_out, self.weight.shape[1])
        _check_rows(grad, x)
        self.grad_weight = x.T @ grad
        self.grad_bias = grad.sum(axis=0)
        return grad @ self.weight.T

    def _saved_input(self) -> Array:
        if self._x is None:
            raise ValueError(f"{self!r}: call forward before backward")
        return self._x

    def parameters(self) -> list[Array]:
        return [self.weight, self.bias]

    def gradients(self) -> list[Array]:
        return [self.grad_weight, self.grad_bias]

    def __repr__(self) -> str:
        return f"Dense({self.weight.shape[0]}, {self.weight.shape[1]})"


class Tanh(Layer):
    """Elementwise tanh. Backward: dL/dx = dL/dy (1 - y^2), y = tanh(x)."""

    def __init__(self) -> None:
        self._y: Array | None = None

    def forward(self, x: ArrayLike) -> Array:
        self._y = np.tanh(_batch("x", x))
        return self._y

    def backward(self, grad_out: ArrayLike) -> Array:
        y, grad = _saved(self, self._y, grad_out)
        return grad * (1.0 - y**2)


class ReLU(Layer):
    """Elementwise max(x, 0). Backward: dL/dx = dL/dy where x > 0, else
    0 (0 at x = 0)."""

    def __init__(self) -> None:
        self._positive: Array | None = None

    def forward(self, x: ArrayLike) -> Array:
        values = _batch("x", x)
        self._positive = (values > 0).astype(np.float64)
        return values * self._positive

    def backward(self, grad_out: ArrayLike) -> Array:
        positive, grad = _saved(self, self._positive, grad_out)
        return grad * positive


class Sigmoid(Layer):
    """Elementwise logistic sigmoid. Backward: dL/dx = dL/dy * y (1 - y),
    y = sigmoid(x).

    For a binary classifier prefer an :class:`Identity` output and the loss
    on logits, ``bce_with_logits``: it is stable, and its gradient does not
    vanish when the sigmoid saturates.
    """

    def __init__(self) -> None:
        self._y: Array | None = None

    def forward(self, x: ArrayLike) -> Array:
        self._y = sigmoid(_batch("x", x)).astype(np.float64)
        return self._y

    def backward(self, grad_out: ArrayLike) -> Array:
        y, grad = _saved(self, self._y, grad_out)
        return grad * y * (1.0 - y)


class Identity(Layer):
    """y = x: the output activation of a network that returns values or
    logits."""

    def __init__(self) -> None:
        self._x: Array | None = None

    def forward(self, x: ArrayLike) -> Array:
        self._x = _batch("x", x)
        return self._x

    def backward(self, grad_out: ArrayLike) -> Array:
        return _saved(self, self._x, grad_out)[1]


ACTIVATIONS: dict[str, type[Layer]] = {
    "tanh": Tanh,
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "identity": Identity,
}
"""The activations by name, as :func:`mlp` accepts them."""


# --- Networks ------------------------------------------------------------


class Sequential(Layer):
    """Layers applied one after the other; backward runs them in reverse
    (backpropagation).

    Parameters
    ----------
    *layers : Layer
        E.g.
        ``Sequential(Dense(4, 8, rng=rng), Tanh(), Dense(8, 1, rng=rng))``.
    """

    def __init__(self, *layers: Layer) -> None:
        if not layers or not all(
            isinstance(layer, Layer) for layer in layers
        ):
            raise ValueError(
                "layers must be one or more Layer instances; "
                f"got {layers!r}"
            )
        self.layers: tuple[Layer, ...] = layers

    def forward(self, x: ArrayLike) -> Array:
        """Each layer's output is the next one's input."""
        out = _batch("x", x)
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def backward(self, grad_out: ArrayLike) -> Array:
        """The chain rule, last layer first: each layer's backward turns
        dL/d(its output) into dL/d(its input), the previous layer's
        grad_out."""
        grad = np.asarray(grad_out, dtype=np.float64)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def parameters(self) -> list[Array]:
        return [p for layer in self.layers for p in layer.parameters()]

    def gradients(self) -> list[Array]:
        return [g for layer in self.layers for g in layer.gradients()]

    def __repr__(self) -> str:
        return f"Sequential({', '.join(map(repr, self.layers))})"


def mlp(
    sizes: Sequence[int],
    *,
    rng: np.random.Generator,
    activation: str = "tanh",
    output: str = "identity",
) -> Sequential:
    """A multilayer perceptron: Dense layers of the given sizes with
    activations between them.

    ``mlp([64, 32, 10], rng=rng)`` is
    ``Sequential(Dense(64, 32), Tanh(), Dense(32, 10), Identity())``.
    Hidden layers get :func:`he_normal` weights for ``activation="relu"``
    and :func:`glorot_uniform` otherwise; the last layer gets
    :func:`glorot_uniform`.

    Parameters
    ----------
    sizes : sequence of int, length >= 2
        Input size, hidden sizes, output size.
    rng : np.random.Generator
        Source of the initial weights: the same seed gives the same
        network.
    activation : {"tanh", "relu", "sigmoid", "identity"}
        The hidden layers' activation.
    output : {"identity", "sigmoid", "tanh", "relu"}
        The output activation; "identity" for values and for logits (the
        course's losses on logits, ``bce_with_logits`` and
        ``cross_entropy``, expect them).

    Returns
    -------
    Sequential
    """
    for name, value in (("activation", activation), ("output", output)):
        if value not in ACTIVATIONS:
            raise ValueError(
                f"{name} must be one of {sorted(ACTIVATIONS)}; "
                f"got {value!r}"
            )
    if len(sizes) < 2:
        raise ValueError(
            "sizes must hold at least an input and an output size; "
            f"got {sizes!r}"
        )
    hidden_init = "he" if activation == "relu" else "glorot"
    layers: list[Layer] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        last = i == len(sizes) - 2
        layers.append(
            Dense(
                fan_in,
                fan_out,
                rng=rng,
                init="glorot" if last else hidden_init,
            )
        )
        layers.append(ACTIVATIONS[output if last else activation]())
    return Sequential(*layers)


# --- Parameters as one vector --------------------------------------------


def parameters_to_vector(arrays: Sequence[Array]) -> Array:
    """Concatenate arrays (``model.parameters()`` or ``model.gradients()``)
    into one vector.

    Returns
    -------
    ndarray of float64, shape (P,), P the total number of elements.
    """
    if not arrays:
        return np.zeros(0)
    return np.concatenate(
        [np.asarray(a, dtype=np.float64).ravel() for a in arrays]
    )


def vector_to_parameters(
    vector: ArrayLike, arrays: Sequence[Array]
) -> None:
    """Write a vector of shape (P,) back into the arrays, in place: the
    inverse of :func:`parameters_to_vector`.
    ``vector_to_parameters(theta, model.parameters())`` sets a model's
    parameters to ``theta``."""
    values = np.asarray(vector, dtype=np.float64)
    total = sum(a.size for a in arrays)
    if values.shape != (total,):
        raise ValueError(
            f"vector must have shape ({total},); got {values.shape}"
        )
    start = 0
    for array in arrays:
        array[...] = values[start : start + array.size].reshape(
            array.shape
        )
        start += array.size
