"""Optimisers: gradient descent, momentum, Adam and AdamW, each updating
parameters in place.

Every optimiser has one method, ``step(params, grads)``: given the
parameter arrays (e.g. ``model.parameters()``) and their gradients in the
same order (``model.gradients()``), it moves each parameter by one update.
Optimisers with state (momentum's velocity, Adam's moments) keep one state
array per parameter, created at the first step, so an optimiser belongs to
one model.

Explained in the chapter "Training a model with a loss".
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["SGD", "Adam", "AdamW", "Momentum", "Optimizer"]

Array = NDArray[np.float64]


class Optimizer:
    """Base class: the learning rate, and the checks every ``step`` makes.

    Parameters
    ----------
    lr : float
        The learning rate (step size) eta, > 0.
    """

    def __init__(self, lr: float) -> None:
        if not (
            isinstance(lr, numbers.Real) and np.isfinite(lr) and lr > 0
        ):
            raise ValueError(f"lr must be a finite number > 0; got {lr!r}")
        self.lr: float = float(lr)

    def step(
        self, params: Sequence[Array], grads: Sequence[Array]
    ) -> None:
        """Update every array of ``params`` in place, using ``grads`` of
        the same shapes."""
        raise NotImplementedError

    def _check(
        self,
        params: Sequence[Array],
        grads: Sequence[Array],
        state: list[Array],
    ) -> None:
        if len(grads) != len(params):
            raise ValueError(
                "grads must hold one array per parameter "
                f"({len(params)}); got {len(grads)}"
            )
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if np.shape(g) != np.shape(p):
                raise ValueError(
                    f"grads[{i}] has shape {np.shape(g)} "
                    f"but params[{i}] has shape {np.shape(p)}"
                )
        if state and [s.shape for s in state] != [
            np.shape(p) for p in params
        ]:
            raise ValueError(
                "params must be the same arrays at every step "
                "(this optimiser's state was created for other shapes); "
                "use one optimiser per model"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr!r})"


def _check_fraction(name: str, value: float) -> float:
    if not (isinstance(value, numbers.Real) and 0.0 <= value < 1.0):
        raise ValueError(f"{name} must be in [0, 1); got {value!r}")
    return float(value)


class SGD(Optimizer):
    """(Stochastic) gradient descent: theta <- theta - lr * g.

    With the gradient of the whole training set this is gradient descent;
    with the gradient of a mini-batch, stochastic gradient descent (Bottou,
    Curtis and Nocedal, 2018).
    """

    def step(
        self, params: Sequence[Array], grads: Sequence[Array]
    ) -> None:
        self._check(params, grads, [])
        for p, g in zip(params, grads, strict=True):
            p -= self.lr * g


class Momentum(Optimizer):
    """Gradient descent with (heavy-ball) momentum (Polyak, 1964).

    Update, with a velocity v starting at zero::

        v     <- momentum * v + g
        theta <- theta - lr * v

    which is Polyak's theta_{t+1} = theta_t - lr g_t + momentum
    (theta_t - theta_{t-1}), in PyTorch's form. The first step equals
    gradient descent's.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    momentum : float in [0, 1)
        How much of the previous velocity is kept; 0 gives :class:`SGD`.
    """

    def __init__(self, lr: float, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum: float = _check_fraction("momentum", momentum)
        self.velocity: list[Array] = []

    def step(
        self, params: Sequence[Array], grads: Sequence[Array]
    ) -> None:
        self._check(params, grads, self.velocity)
        if not self.velocity:
            self.velocity = [np.zeros(np.shape(p)) for p in params]
        for p, g, v in zip(params, grads, self.velocity, strict=True):
            v *= self.momentum
            v += g
            p -= self.lr * v

    def __repr__(self) -> str:
        return f"Momentum(lr={self.lr!r}, momentum={self.momentum!r})"


class Adam(Optimizer):
    """Adam: steps scaled per parameter by running moments of the gradient
    (Kingma and Ba, 2015).

    Update at step t = 1, 2, ..., with m and v starting at zero::

        m     <- beta1 * m + (1 - beta1) * g
        v     <- beta2 * v + (1 - beta2) * g**2
        m_hat =  m / (1 - beta1**t),
        v_hat =  v / (1 - beta2**t)     (bias correction)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    At t = 1, m_hat = g and v_hat = g**2, so the first step is
    lr * g / (|g| + eps): about lr * sign(g) for every parameter, whatever
    the gradient's scale.

    Parameters
    ----------
    lr : float
        Learning rate, > 0 (the paper's default is 1e-3).
    beta1, beta2 : float in [0, 1)
        Decay rates of the first and second moment estimates.
    eps : float
        > 0; keeps the step finite where v_hat is 0.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(lr)
        self.beta1: float = _check_fraction("beta1", beta1)
        self.beta2: float = _check_fraction("beta2", beta2)
        if not (isinstance(eps, numbers.Real) and eps > 0):
            raise ValueError(f"eps must be > 0; got {eps!r}")
        self.eps: float = float(eps)
        self.t: int = 0
        self.m: list[Array] = []
        self.v: list[Array] = []

    def step(
        self, params: Sequence[Array], grads: Sequence[Array]
    ) -> None:
        self._check(params, grads, self.m)
        if not self.m:
            self.m = [np.zeros(np.shape(p)) for p in params]
            self.v = [np.zeros(np.shape(p)) for p in params]
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g**2
            m_hat = m / (1.0 - self.beta1**self.t)
            v_hat = v / (1.0 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def __repr__(self) -> str:
        return (
            f"Adam(lr={self.lr!r}, beta1={self.beta1!r}, "
            f"beta2={self.beta2!r}, eps={self.eps!r})"
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    Update at step t, with Adam's moments of the loss's gradient g only::

        theta <- theta - lr * weight_decay * theta   (decay, decoupled)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)   (Adam's step)

    both from the same theta_{t-1} (g was computed there), as PyTorch's
    ``AdamW`` does. (The paper's algorithm 2 decays by its lambda times
    the schedule multiplier, not times lr: with a constant schedule its
    lambda is PyTorch's lr * weight_decay.) Adam on loss +
    (weight_decay / 2) ||theta||^2 instead adds weight_decay * theta to
    g, which then passes through m and v and is divided by sqrt(v_hat):
    the two reach different fixed points (chapter "Composite
    objectives"). The decay applies to every array
    given to ``step``; give it the weights only to leave biases alone.

    Parameters
    ----------
    lr, beta1, beta2, eps : float
        As for :class:`Adam`.
    weight_decay : float
        lambda >= 0; 0 gives :class:`Adam`.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(lr, beta1, beta2, eps)
        if not (
            isinstance(weight_decay, numbers.Real)
            and np.isfinite(weight_decay)
            and weight_decay >= 0
        ):
            raise ValueError(
                "weight_decay must be a finite number >= 0; "
                f"got {weight_decay!r}"
            )
        self.weight_decay: float = float(weight_decay)

    def step(
        self, params: Sequence[Array], grads: Sequence[Array]
    ) -> None:
        self._check(params, grads, self.m)
        for p in params:
            p *= 1.0 - self.lr * self.weight_decay
        super().step(params, grads)

    def __repr__(self) -> str:
        return (
            f"AdamW(lr={self.lr!r}, beta1={self.beta1!r}, "
            f"beta2={self.beta2!r}, eps={self.eps!r}, "
            f"weight_decay={self.weight_decay!r})"
        )
