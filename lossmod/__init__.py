"""lossmod: the reference losses of the course "Loss Functions in Neural
Networks".

Every loss is a value function and a gradient function ``<name>_grad`` with
the same signature, named and behaving like ``torch.nn.functional``;
``LOSSES`` registers them all with their facts. Importing lossmod imports
NumPy only.
"""

from lossmod._version import __version__ as __version__
from lossmod.calibration import (
    ReliabilityCurve,
    brier_score,
    brier_score_grad,
    expected_calibration_error,
    fit_temperature,
    reliability_curve,
)
from lossmod.classification import (
    bce,
    bce_grad,
    bce_with_logits,
    bce_with_logits_grad,
    cross_entropy,
    cross_entropy_grad,
)
from lossmod.distillation import (
    distillation_loss,
    distillation_loss_grad,
)
from lossmod.divergence import (
    kl_div,
    kl_div_grad,
    kl_divergence,
    kl_divergence_grad,
)
from lossmod.focal import (
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
    softmax_focal_loss,
    softmax_focal_loss_grad,
)
from lossmod.gradcheck import (
    GradCheck,
    gradcheck,
    numerical_gradient,
    relative_error,
)
from lossmod.overlap import (
    dice_loss,
    dice_loss_grad,
    tversky_loss,
    tversky_loss_grad,
)
from lossmod.primitives import (
    log_sigmoid,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
    softplus,
    xlogy,
)
from lossmod.registry import LOSSES, Loss
from lossmod.regression import (
    huber,
    huber_grad,
    log_cosh,
    log_cosh_grad,
    mae,
    mae_grad,
    mse,
    mse_grad,
    pseudo_huber,
    pseudo_huber_grad,
    smooth_l1,
    smooth_l1_grad,
)
from lossmod.sequence import ctc_loss, ctc_loss_grad


__all__ = [
    "LOSSES",
    "GradCheck",
    "Loss",
    "ReliabilityCurve",
    "bce",
    "bce_grad",
    "bce_with_logits",
    "bce_with_logits_grad",
    "brier_score",
    "brier_score_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "ctc_loss",
    "ctc_loss_grad",
    "dice_loss",
    "dice_loss_grad",
    "distillation_loss",
    "distillation_loss_grad",
    "expected_calibration_error",
    "fit_temperature",
    "gradcheck",
    "huber",
    "huber_grad",
    "kl_div",
    "kl_div_grad",
    "kl_divergence",
    "kl_divergence_grad",
    "log_cosh",
    "log_cosh_grad",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "mae",
    "mae_grad",
    "mse",
    "mse_grad",
    "numerical_gradient",
    "pseudo_huber",
    "pseudo_huber_grad",
    "relative_error",
    "reliability_curve",
    "sigmoid",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "smooth_l1",
    "smooth_l1_grad",
    "softmax",
    "softmax_focal_loss",
    "softmax_focal_loss_grad",
    "softplus",
    "tversky_loss",
    "tversky_loss_grad",
    "xlogy",
]
