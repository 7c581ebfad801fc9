"""Training a model with a loss: mini-batches, one backward pass, and
``fit``.

A loss is given by its name in ``lossmod.LOSSES``. Its gradient with
respect to the model's output, ``lossmod.<name>_grad(output, target)``, is
where backpropagation starts: :func:`loss_and_gradients` runs
``model.forward``, the loss and its gradient (in one pass), then
``model.backward`` of that gradient, and
returns the loss and the gradients of every parameter. :func:`fit` repeats
that on mini-batches drawn by :func:`batches` and lets an optimiser of
``lossmod.optim`` take the steps.

Targets: for a model with one output column (shape (N, 1)) a target of
shape (N,) is taken as (N, 1); for ``cross_entropy`` the target is integer
class indices of shape (N,).

Explained in the chapter "Training a model with a loss".
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod.nn import Layer
from lossmod.optim import Optimizer
from lossmod.registry import LOSSES, Loss

__all__ = [
    "History",
    "accuracy",
    "batches",
    "evaluate",
    "fit",
    "loss_and_gradients",
]

Array = NDArray[np.float64]
Metric = Callable[[Array, NDArray[Any]], float]


def batches(
    n: int,
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    shuffle: bool = True,
) -> Iterator[NDArray[np.intp]]:
    """The index arrays of the mini-batches of one epoch (one pass over n
    examples).

    Each index 0, ..., n - 1 appears in exactly one batch; all batches have
    ``batch_size`` indices but the last, which has the rest (n mod
    batch_size, if that is not 0).

    Parameters
    ----------
    n : int
        Number of examples, >= 0.
    batch_size : int
        Examples per batch, >= 1; ``batch_size >= n`` gives one batch
        (full-batch training).
    rng : np.random.Generator
        Draws the order of the examples; needed when ``shuffle`` is true.
    shuffle : bool
        A fresh random order every epoch (true), or 0, 1, ...,
        n - 1 (false).

    Yields
    ------
    ndarray of int, shape (batch_size,) (the last one possibly shorter).
    """
    _check_int("n", n, 0)
    _check_int("batch_size", batch_size, 1)
    if shuffle and not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a np.random.Generator when shuffle=True; "
            f"got {rng!r}"
        )
    order = (
        rng.permutation(n) if shuffle and rng is not None else np.arange(n)
    )
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def _check_int(name: str, value: Any, low: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
    ):
        raise ValueError(
            f"{name} must be an integer >= {low}; got {value!r}"
        )


def _lookup(loss: str) -> Loss:
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(
            "loss must be a name in lossmod.LOSSES "
            f"({', '.join(LOSSES)}); got {loss!r}"
        )
    entry = LOSSES[loss]
    if entry.arguments != ("target",):
        # margin_ranking_loss, cosine_embedding_loss, gaussian_nll_loss
        # and the triplet losses compare more than a prediction and y
        takes = (
            f"({', '.join(entry.arguments)}) after the prediction"
            if entry.arguments
            else "the prediction alone"
        )
        raise ValueError(
            f"{loss} takes {takes}; fit trains losses of "
            "(prediction, target) only"
        )
    return entry


def _target(entry: Loss, output: Array, y: ArrayLike) -> NDArray[Any]:
    """``y``, as (N, 1) when the model has one output column and ``y`` has
    shape (N,)."""
    target = np.asarray(y)
    one_column = (
        output.ndim == 2
        and output.shape[1] == 1
        and target.shape == output.shape[:1]
    )
    if entry.target_space != "class indices" and one_column:
        return target[:, None]
    return target


def loss_and_gradients(
    model: Layer,
    loss: str,
    X: ArrayLike,
    y: ArrayLike,
    *,
    loss_options: Mapping[str, Any] | None = None,
) -> tuple[float, list[Array]]:
    """The loss of ``model`` on (X, y) and its gradient for every
    parameter.

    Forward pass: output = model(X), then the loss and its gradient with
    respect to the output, ``loss(output, y)`` and
    ``lossmod.<loss>_grad(output, y)``, both from one pass over the
    output (``LOSSES[loss].value_and_grad``). Backward pass:
    model.backward(that gradient), which leaves dL/d(parameter) in
    ``model.gradients()``.

    Parameters
    ----------
    model : lossmod.nn.Layer
        A layer or a Sequential.
    loss : str
        A name in ``lossmod.LOSSES``, e.g. "mse" or "cross_entropy".
    X : array_like, shape (N, d)
    y : array_like
        Targets for the loss: shape (N,) or the output's shape; class
        indices of shape (N,) for "cross_entropy".
    loss_options : mapping, optional
        Keyword arguments of the loss, e.g. ``{"delta": 2.0}`` for "huber".

    Returns
    -------
    (float, list of ndarray)
        The loss (with its default reduction, the mean) and the gradients,
        in the order of ``model.parameters()``.
    """
    entry = _lookup(loss)
    options = dict(loss_options or {})
    output = model.forward(X)
    target = _target(entry, output, y)
    value, grad = entry.value_and_grad(output, target, **options)
    model.backward(grad)
    return float(value), model.gradients()


def evaluate(
    model: Layer,
    loss: str,
    X: ArrayLike,
    y: ArrayLike,
    *,
    loss_options: Mapping[str, Any] | None = None,
) -> float:
    """The loss of ``model`` on (X, y): a forward pass only. Arguments as
    :func:`loss_and_gradients`."""
    entry = _lookup(loss)
    output = model.forward(X)
    return float(
        entry.value(
            output, _target(entry, output, y), **dict(loss_options or {})
        )
    )


def accuracy(
    output: ArrayLike, target: ArrayLike, *, threshold: float = 0.0
) -> float:
    """Fraction of correct predictions from logits.

    Output of shape (N, C) with C >= 2: the predicted class is the argmax
    of each row. Output of shape (N, 1) or (N,): class 1 where the logit
    is > ``threshold`` (0 for logits, use 0.5 for probabilities).

    Parameters
    ----------
    output : array_like, shape (N, C), (N, 1) or (N,)
    target : array_like, shape (N,)
        Class indices (0 or 1 for one output column).

    Returns
    -------
    float in [0, 1].
    """
    scores = np.asarray(output, dtype=np.float64)
    labels = np.asarray(target).reshape(-1)
    if scores.ndim == 2 and scores.shape[1] > 1:
        predicted = np.argmax(scores, axis=1)
    else:
        predicted = (scores.reshape(-1) > threshold).astype(int)
    if predicted.shape != labels.shape:
        raise ValueError(
            f"target must have shape ({predicted.shape[0]},) "
            f"for output of shape {scores.shape}; "
            f"got {np.shape(target)}"
        )
    return float(np.mean(predicted == labels))


@dataclass
class History:
    """What :func:`fit` records, once before training and after every
    epoch.

    Attributes
    ----------
    epoch : list of int
        0, 1, ..., epochs (0 is the untrained model).
    loss : list of float
        The loss on the whole training set, as :func:`evaluate` computes
        it.
    val_loss : list of float
        The loss on the validation set (empty without one).
    metrics : dict of str to list of float
        Each metric on the training set under its name, e.g. "accuracy",
        and on the validation set under "val_<name>".
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)


def _check_data(
    names: tuple[str, str], X: ArrayLike, y: ArrayLike
) -> tuple[Array, NDArray[Any]]:
    inputs, targets = np.asarray(X, dtype=np.float64), np.asarray(y)
    if inputs.ndim != 2 or inputs.shape[0] == 0:
        raise ValueError(
            f"{names[0]} must have shape (N, d) with N >= 1; "
            f"got {inputs.shape}"
        )
    if targets.ndim == 0 or targets.shape[0] != inputs.shape[0]:
        raise ValueError(
            f"{names[1]} must have one row per row of {names[0]} "
            f"({inputs.shape[0]}); got shape {targets.shape}"
        )
    return inputs, targets


def fit(
    model: Layer,
    loss: str,
    X: ArrayLike,
    y: ArrayLike,
    optimizer: Optimizer,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    shuffle: bool = True,
    metrics: Mapping[str, Metric] | None = None,
    validation: tuple[ArrayLike, ArrayLike] | None = None,
    loss_options: Mapping[str, Any] | None = None,
) -> History:
    """Train ``model`` in place by mini-batch gradient descent on ``loss``.

    For each epoch, for each mini-batch B of :func:`batches`::

        value, grads = loss_and_gradients(model, loss, X[B], y[B])
        optimizer.step(model.parameters(), grads)

    Parameters
    ----------
    model : lossmod.nn.Layer
        A layer or a Sequential; its parameters are changed in place.
    loss : str
        A name in ``lossmod.LOSSES``.
    X : array_like, shape (N, d)
    y : array_like, shape (N,) or (N, k)
        Targets as the loss takes them (integer class indices for
        "cross_entropy").
    optimizer : lossmod.optim.Optimizer
        E.g. ``optim.SGD(lr=0.1)``.
    epochs : int
        Passes over the training set, >= 0.
    batch_size : int
        Examples per step, >= 1; ``batch_size >= N`` is full-batch gradient
        descent.
    rng : np.random.Generator
        Draws the order of the examples each epoch; the same seed (with the
        same initial model) gives the same history.
    shuffle : bool
        Reshuffle every epoch (true) or keep the data's order.
    metrics : mapping of str to callable, optional
        ``metric(output, y) -> float``, e.g.
        ``{"accuracy": train.accuracy}``.
    validation : (X_val, y_val), optional
        Data on which the loss and the metrics are also recorded.
    loss_options : mapping, optional
        Keyword arguments of the loss.

    Returns
    -------
    History
        The losses and metrics before training and after every epoch.
    """
    entry = _lookup(loss)
    inputs, targets = _check_data(("X", "y"), X, y)
    _check_int("epochs", epochs, 0)
    _check_int("batch_size", batch_size, 1)
    if not isinstance(optimizer, Optimizer):
        raise ValueError(
            "optimizer must be a lossmod.optim.Optimizer; "
            f"got {optimizer!r}"
        )
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a np.random.Generator; got {rng!r}")
    sets = {"": (inputs, targets)}
    if validation is not None:
        sets["val_"] = _check_data(
            ("validation[0]", "validation[1]"), *validation
        )
    history = History()

    def record(epoch: int) -> None:
        history.epoch.append(epoch)
        for prefix, (data, labels) in sets.items():
            output = model.forward(data)
            value = float(
                entry.value(
                    output, _target(entry, output, labels), **options
                )
            )
            (history.val_loss if prefix else history.loss).append(value)
            for name, metric in (metrics or {}).items():
                history.metrics.setdefault(prefix + name, []).append(
                    float(metric(output, labels))
                )

    options = dict(loss_options or {})
    record(0)
    for epoch in range(1, epochs + 1):
        for batch in batches(
            len(inputs), batch_size, rng=rng, shuffle=shuffle
        ):
            _, grads = loss_and_gradients(
                model,
                loss,
                inputs[batch],
                targets[batch],
                loss_options=options,
            )
            optimizer.step(model.parameters(), grads)
        record(epoch)
    return history
