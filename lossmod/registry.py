"""The registry: every loss of the course, by name, with its gradient and
its facts.

The tests sweep this mapping, so a loss gets every property test by being
registered here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from lossmod import classification, divergence, regression

__all__ = ["LOSSES", "Loss"]

InputSpace = Literal[
    "values", "probabilities", "logits", "log-probabilities"
]
TargetSpace = Literal[
    "values", "probabilities", "class indices", "distributions"
]


@dataclass(frozen=True)
class Loss:
    """A registered loss: value and gradient functions and the facts a
    reader checks them by.

    Attributes
    ----------
    name : str
        The function's name, e.g. ``"huber"``.
    value, grad : callable
        ``value(first, target, **options)`` and
        ``grad(first, target, **options)``, the gradient being with respect
        to the first argument, with its shape.
    value_and_grad : callable
        ``value_and_grad(first, target, **options)`` returns
        ``(value(...), grad(...))`` from one pass over the data, bit for
        bit (what ``lossmod.train`` calls at every step).
    input_space : str
        What the first argument holds: "values", "probabilities", "logits"
        or "log-probabilities".
    target_space : str
        What the second holds: "values", "probabilities" (per element),
        "class indices" or "distributions" (rows summing to 1).
    convex : bool
        Whether the loss is convex in its first argument.
    nonnegative : bool
        Whether every per-element loss (``reduction="none"``) is >= 0.
    likelihood : str
        The distribution whose negative log-likelihood it is, or what it
        measures otherwise.
    sums_last_axis : bool
        Whether the loss of one sample sums over the last (class) axis, so
        that ``reduction="none"`` returns one value per row rather than one
        per element.
    reductions : tuple of str
        The accepted values of ``reduction``.
    """

    name: str
    value: Callable[..., Any]
    grad: Callable[..., Any]
    input_space: InputSpace
    target_space: TargetSpace
    convex: bool
    nonnegative: bool
    likelihood: str
    sums_last_axis: bool = False
    reductions: tuple[str, ...] = ("mean", "sum", "none")
    value_and_grad: Callable[..., Any] = field(kw_only=True)


_ENTRIES = (
    Loss("mse", regression.mse, regression.mse_grad, "values", "values",
         True, True, "Gaussian noise with fixed variance",
         value_and_grad=regression._mse_value_and_grad),
    Loss("mae", regression.mae, regression.mae_grad, "values", "values",
         True, True, "Laplace noise with fixed scale",
         value_and_grad=regression._mae_value_and_grad),
    Loss("huber", regression.huber, regression.huber_grad, "values",
         "values", True, True,
         "Gaussian centre with Laplace tails "
         "(Huber's least favourable distribution)",
         value_and_grad=regression._huber_value_and_grad),
    Loss("smooth_l1", regression.smooth_l1, regression.smooth_l1_grad,
         "values", "values", True, True,
         "Huber's, rescaled by 1 / delta (slope 1 in the tails)",
         value_and_grad=regression._smooth_l1_value_and_grad),
    Loss("pseudo_huber", regression.pseudo_huber,
         regression.pseudo_huber_grad, "values", "values", True, True,
         "the symmetric hyperbolic distribution, "
         "density ~ exp(-delta sqrt(delta^2 + r^2))",
         value_and_grad=regression._pseudo_huber_value_and_grad),
    Loss("log_cosh", regression.log_cosh, regression.log_cosh_grad,
         "values", "values", True, True,
         "the hyperbolic secant distribution, "
         "density proportional to 1 / cosh(r)",
         value_and_grad=regression._log_cosh_value_and_grad),
    Loss("bce", classification.bce, classification.bce_grad,
         "probabilities", "probabilities", True, True, "Bernoulli",
         value_and_grad=classification._bce_value_and_grad),
    Loss("bce_with_logits", classification.bce_with_logits,
         classification.bce_with_logits_grad, "logits", "probabilities",
         True, True, "Bernoulli with a logistic link",
         value_and_grad=classification._bce_with_logits_value_and_grad),
    Loss("cross_entropy", classification.cross_entropy,
         classification.cross_entropy_grad, "logits", "class indices",
         True, True, "Categorical with a softmax link",
         sums_last_axis=True,
         value_and_grad=classification._cross_entropy_value_and_grad),
    Loss("kl_div", divergence.kl_div, divergence.kl_div_grad,
         "log-probabilities", "distributions", True, False,
         "Categorical: expected log-likelihood ratio of the target "
         "against the model",
         reductions=divergence.KL_DIV_REDUCTIONS,
         value_and_grad=divergence._kl_div_value_and_grad),
    Loss("kl_divergence", divergence.kl_divergence,
         divergence.kl_divergence_grad, "probabilities", "distributions",
         True, True,
         "Categorical: expected log-likelihood ratio of p against q",
         sums_last_axis=True,
         value_and_grad=divergence._kl_divergence_value_and_grad),
)  # fmt: skip

LOSSES: Mapping[str, Loss] = MappingProxyType(
    {loss.name: loss for loss in _ENTRIES}
)
