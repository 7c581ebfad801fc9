"""Inputs for the registry-wide property tests, chosen by each loss's registered facts.

A loss gets sample inputs, extreme inputs and a perfect prediction from its ``input_space`` and
``target_space``: nothing here is specific to one loss name except the option sets to try.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from lossmod import LOSSES, Loss

N, C = 6, 4

# Options worth a gradient check beyond the defaults, per loss.
OPTIONS: dict[str, list[dict[str, Any]]] = {
    "huber": [{"delta": 0.3}, {"delta": 5.0}],
    "smooth_l1": [{"beta": 0.3}, {"beta": 5.0}],
    "pseudo_huber": [{"delta": 0.3}, {"delta": 5.0}],
    "bce": [{"weight": np.linspace(0.5, 2.0, N)}],
    "bce_with_logits": [
        {"weight": np.linspace(0.5, 2.0, N)},
        {"pos_weight": np.array(3.0)},
        {"weight": np.linspace(0.5, 2.0, N), "pos_weight": np.array(0.25)},
    ],
    "cross_entropy": [
        {"weight": np.array([1.0, 2.0, 0.5, 3.0])},
        {"label_smoothing": 0.1},
        {"weight": np.array([1.0, 2.0, 0.5, 3.0]), "label_smoothing": 0.2},
        {"ignore_index": 2},
    ],
    "kl_div": [{"log_target": True}],
    "distillation_loss": [{"temperature": 4.0}, {"temperature": 0.5}],
    "sigmoid_focal_loss": [
        {"gamma": 0.0},
        {"gamma": 0.5, "alpha": 0.75},
        {"gamma": 5.0, "alpha": -1.0},
    ],
    "softmax_focal_loss": [
        {"gamma": 0.0},
        {"gamma": 0.5, "alpha": np.array([1.0, 2.0, 0.5, 3.0])},
        {"gamma": 5.0},
    ],
    "dice_loss": [{"smooth": 1e-3}, {"smooth": 10.0}],
    "tversky_loss": [
        {"alpha": 0.3, "beta": 0.7},
        {"alpha": 0.9, "beta": 0.1, "smooth": 1e-3},
    ],
}


def option_sets(loss: Loss) -> list[dict[str, Any]]:
    """The default options followed by the extra sets for ``loss``."""
    return [{}, *OPTIONS.get(loss.name, [])]


def sample_target(loss: Loss, rng: np.random.Generator, n: int = N, c: int = C) -> Any:
    """A random target of the kind the loss expects."""
    match loss.target_space:
        case "values":
            return rng.normal(size=n)
        case "probabilities":
            return rng.integers(0, 2, size=n).astype(np.float64)
        case "class indices":
            return rng.integers(0, c, size=n)
        case "distributions":
            return special.softmax(rng.normal(size=(n, c)), axis=1)
        case "logits":  # a teacher's scores
            return 3.0 * rng.normal(size=(n, c))
    raise AssertionError(loss.target_space)


def sample_input(
    loss: Loss, rng: np.random.Generator, target: Any, scale: float = 1.0
) -> np.ndarray:
    """A random first argument of the shape the loss expects for ``target``."""
    shape = (len(target), C) if loss.target_space == "class indices" else np.shape(target)
    match loss.input_space:
        case "values" | "logits":
            return scale * 3.0 * rng.normal(size=shape)
        case "probabilities" if loss.target_space == "distributions":
            return special.softmax(rng.normal(size=shape), axis=-1)
        case "probabilities":
            return rng.uniform(0.05, 0.95, size=shape)
        case "log-probabilities":
            return special.log_softmax(scale * rng.normal(size=shape), axis=-1)
    raise AssertionError(loss.input_space)


def target_for(options: dict[str, Any], target: Any) -> Any:
    """The target in the space that ``options`` ask for: log-space for ``log_target=True``."""
    return np.log(target) if options.get("log_target") else target


def soft_target(loss: Loss, rng: np.random.Generator) -> np.ndarray:
    """A target with every probability strictly inside (0, 1), so a perfect prediction is finite."""
    if loss.target_space == "values":
        return rng.normal(size=N)
    if loss.target_space == "probabilities":
        return rng.uniform(0.05, 0.95, size=N)
    if loss.target_space == "logits":
        return 3.0 * rng.normal(size=(N, C))
    return special.softmax(rng.normal(size=(N, C)), axis=1)


def perfect_prediction(loss: Loss, target: np.ndarray) -> np.ndarray:
    """The first argument that matches ``target`` exactly, in the loss's input space."""
    if loss.target_space == "logits":
        return target.copy()  # the student's logits equal to the teacher's
    match loss.input_space:
        case "values" | "probabilities":
            return target.copy()
        case "logits" if target.ndim == 2:
            return np.log(target)  # softmax(log t) = t
        case "logits":
            return special.logit(target)  # sigmoid(logit t) = t
        case "log-probabilities":
            return np.log(target)
    raise AssertionError(loss.input_space)


def perturb(loss: Loss, x: np.ndarray, rng: np.random.Generator, size: float) -> np.ndarray:
    """A nearby first argument that stays in the loss's input space."""
    noise = size * rng.normal(size=x.shape)
    match loss.input_space:
        case "values" | "logits":
            return x + noise
        case "probabilities" if loss.target_space == "distributions":
            return special.softmax(np.log(x) + noise, axis=-1)
        case "probabilities":
            return np.clip(x + noise, 0.0, 1.0)
        case "log-probabilities":
            return special.log_softmax(x + noise, axis=-1)
    raise AssertionError(loss.input_space)


def extreme_input(loss: Loss, target: Any, dtype: type) -> np.ndarray:
    """The most hostile first argument the input space allows (logits of +-1e4 and the like)."""
    shape = (len(target), C) if loss.target_space == "class indices" else np.shape(target)
    signs = np.resize([1.0, -1.0, 1.0, 1.0, -1.0], int(np.prod(shape))).reshape(shape)
    match loss.input_space:
        case "values" | "logits":
            return (1e4 * signs).astype(dtype)
        case "probabilities" if loss.target_space == "distributions":
            # Probabilities down to 1e-26 (not 0, where the slope of p log p is -inf).
            return special.softmax(30 * signs, axis=-1).astype(dtype)
        case "probabilities":
            return np.asarray(target, dtype=dtype)  # exactly 0 and 1, matching the labels
        case "log-probabilities":
            return special.log_softmax(1e4 * signs, axis=-1).astype(dtype)
    raise AssertionError(loss.input_space)


def elementwise_shape(loss: Loss, x: np.ndarray) -> tuple[int, ...]:
    """Shape of the ``reduction="none"`` output: one loss per element, or per row."""
    return x.shape[:-1] if loss.sums_last_axis else x.shape


ALL = sorted(LOSSES)
