"""lossmod.train: mini-batches cover the data once per epoch, loss_and_gradients is the chain
rule from the loss's gradient, fit lowers the loss, overfits a tiny data set, reaches the
least-squares solution, is deterministic for a seed, and rejects bad arguments by name."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import lossmod
from lossmod import nn, optim, train


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_batches_cover_every_index_once_per_epoch() -> None:
    """10 examples, batches of 4: sizes 4, 4, 2, together a permutation of 0..9."""
    sizes, seen = [], []
    for batch in train.batches(10, 4, rng=rng()):
        sizes.append(len(batch))
        seen.extend(batch.tolist())
    assert sizes == [4, 4, 2] and sorted(seen) == list(range(10))
    assert seen != list(range(10))  # shuffled
    ordered = [b.tolist() for b in train.batches(5, 2, shuffle=False)]
    assert ordered == [[0, 1], [2, 3], [4]]
    assert [len(b) for b in train.batches(3, 8, rng=rng())] == [3]


def test_batches_are_reproducible_from_the_seed() -> None:
    """Same seed, same order; different seed, different order."""
    first = np.concatenate(list(train.batches(20, 6, rng=rng(1))))
    again = np.concatenate(list(train.batches(20, 6, rng=rng(1))))
    other = np.concatenate(list(train.batches(20, 6, rng=rng(2))))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_loss_and_gradients_of_linear_regression_by_hand() -> None:
    """For a Dense(d, 1) model and MSE: dL/dW = (2/n) X^T (Xw + b - y), dL/db = (2/n) sum(...)."""
    X, y = rng(3).normal(size=(6, 2)), rng(4).normal(size=6)
    model = nn.Dense(2, 1, rng=rng(5))
    model.bias[...] = 0.3
    value, (grad_w, grad_b) = train.loss_and_gradients(model, "mse", X, y)
    residual = X @ model.weight[:, 0] + 0.3 - y
    assert np.isclose(value, np.mean(residual**2), rtol=1e-14)
    np.testing.assert_allclose(grad_w[:, 0], 2 / 6 * X.T @ residual, rtol=1e-12)
    np.testing.assert_allclose(grad_b, [2 / 6 * residual.sum()], rtol=1e-12)


def test_loss_and_gradients_of_logistic_regression_by_hand() -> None:
    """For Dense(d, 1) and bce_with_logits: dL/dW = X^T (sigmoid(Xw + b) - y) / n."""
    X, y = rng(6).normal(size=(7, 3)), rng(7).integers(0, 2, 7)
    model = nn.Dense(3, 1, rng=rng(8))
    _, (grad_w, grad_b) = train.loss_and_gradients(model, "bce_with_logits", X, y)
    p = 1 / (1 + np.exp(-(X @ model.weight[:, 0])))
    np.testing.assert_allclose(grad_w[:, 0], X.T @ (p - y) / 7, rtol=1e-12)
    np.testing.assert_allclose(grad_b, [np.mean(p - y)], rtol=1e-12)


@pytest.mark.parametrize("loss", ["mse", "huber", "cross_entropy", "bce_with_logits"])
def test_loss_and_gradients_takes_both_from_one_pass(loss: str) -> None:
    """loss_and_gradients (which calls the loss's value_and_grad) returns what the two separate
    calls, value and grad, and the backward pass give, bit for bit."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    width = 4 if loss == "cross_entropy" else 1
    y = rng.integers(0, width, size=40) if loss == "cross_entropy" else (X[:, 0] > 0) * 1.0
    model = nn.mlp([3, 5, width], rng=rng)
    entry = lossmod.LOSSES[loss]
    output = model(X)
    target = y if loss == "cross_entropy" else y[:, None]
    expected_value = float(entry.value(output, target))
    model.backward(entry.grad(output, target))
    expected = [g.copy() for g in model.gradients()]
    value, grads = train.loss_and_gradients(model, loss, X, y)
    assert value == expected_value
    for got, want in zip(grads, expected, strict=True):
        assert got.tobytes() == want.tobytes()


def test_loss_options_reach_the_loss() -> None:
    """loss_options are passed to the loss: huber with a large delta is half the MSE."""
    X, y = rng(9).normal(size=(5, 2)), rng(10).normal(size=5)
    model = nn.Dense(2, 1, rng=rng(11))
    half_mse = train.evaluate(model, "mse", X, y) / 2
    assert np.isclose(train.evaluate(model, "huber", X, y, loss_options={"delta": 1e3}), half_mse)


def test_fit_reaches_the_least_squares_solution() -> None:
    """Full-batch gradient descent on MSE converges to np.linalg.lstsq's coefficients."""
    X = rng(12).normal(size=(40, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.7 + 0.1 * rng(13).normal(size=40)
    model = nn.Dense(3, 1, init="zeros")
    history = train.fit(model, "mse", X, y, optim.SGD(lr=0.2), epochs=300, batch_size=40, rng=rng())
    solution = np.linalg.lstsq(np.column_stack([X, np.ones(40)]), y, rcond=None)[0]
    np.testing.assert_allclose(np.append(model.weight[:, 0], model.bias), solution, rtol=1e-8)
    assert history.epoch == list(range(301)) and len(history.loss) == 301
    assert all(a >= b - 1e-12 for a, b in zip(history.loss, history.loss[1:], strict=False))


def test_fit_lowers_the_loss_with_mini_batches() -> None:
    """An MLP trained with mini-batches on a noisy nonlinear classification problem ends with a
    training loss below half its initial value, and above chance accuracy on held-out data."""
    X = rng(14).normal(size=(300, 2))
    y = (X[:, 0] ** 2 + X[:, 1] ** 2 > 1.2).astype(int)
    model = nn.mlp([2, 16, 2], rng=rng(15))
    history = train.fit(
        model,
        "cross_entropy",
        X[:200],
        y[:200],
        optim.Adam(lr=0.02),
        epochs=40,
        batch_size=16,
        rng=rng(16),
        metrics={"accuracy": train.accuracy},
        validation=(X[200:], y[200:]),
    )
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.metrics["val_accuracy"][-1] > 0.9
    assert set(history.metrics) == {"accuracy", "val_accuracy"} and len(history.val_loss) == 41
    assert np.isclose(history.loss[-1], train.evaluate(model, "cross_entropy", X[:200], y[:200]))


def test_network_overfits_a_tiny_data_set() -> None:
    """Eight points with random real targets: a tanh MLP interpolates them (MSE < 1e-4), and
    eight points with random labels are memorised (bce_with_logits < 1e-2, accuracy 1)."""
    X = rng(17).normal(size=(8, 2))
    targets = rng(18).normal(size=8)
    model = nn.mlp([2, 32, 1], rng=rng(19))
    history = train.fit(
        model, "mse", X, targets, optim.Adam(lr=0.01), epochs=1500, batch_size=8, rng=rng()
    )
    assert history.loss[-1] < 1e-4
    labels = rng(20).integers(0, 2, 8)
    classifier = nn.mlp([2, 32, 1], rng=rng(21))
    history = train.fit(
        classifier,
        "bce_with_logits",
        X,
        labels,
        optim.Adam(lr=0.02),
        epochs=500,
        batch_size=4,
        rng=rng(),
        metrics={"accuracy": train.accuracy},
    )
    assert history.loss[-1] < 1e-2 and history.metrics["accuracy"][-1] == 1.0


def run(seed: int) -> train.History:
    X = rng(22).normal(size=(50, 3))
    y = rng(23).integers(0, 3, 50)
    model = nn.mlp([3, 8, 3], rng=rng(seed))
    return train.fit(
        model,
        "cross_entropy",
        X,
        y,
        optim.Momentum(lr=0.1),
        epochs=5,
        batch_size=7,
        rng=rng(seed),
        metrics={"accuracy": train.accuracy},
    )


def test_same_seed_same_history_different_seed_different() -> None:
    """fit is deterministic: identical histories (exactly) for one seed, not for another."""
    first, again, other = run(0), run(0), run(1)
    assert first == again
    assert first.loss != other.loss


def test_accuracy_by_hand() -> None:
    """Argmax of rows for (N, C); logit > 0 for one column; threshold 0.5 for probabilities."""
    assert train.accuracy([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]], [0, 1, 1]) == 2 / 3
    assert train.accuracy([[1.5], [-0.2], [0.1], [-3.0]], [1, 0, 0, 0]) == 0.75
    assert train.accuracy([0.7, 0.4], [1, 1], threshold=0.5) == 0.5


def test_every_registered_loss_on_values_trains() -> None:
    """fit works with any regression loss of the registry (the gradient is the loss's own):
    one epoch of gradient descent lowers each of them on a linear problem."""
    X = rng(24).normal(size=(30, 2))
    y = X @ [2.0, -1.0]
    for name, entry in lossmod.LOSSES.items():
        if entry.input_space != "values" or entry.arguments != ("target",):
            continue
        model = nn.Dense(2, 1, init="zeros")
        history = train.fit(
            model, name, X, y, optim.SGD(lr=0.1), epochs=3, batch_size=30, rng=rng()
        )
        assert history.loss[-1] < history.loss[0], name


X_OK, Y_OK = np.zeros((4, 2)), np.zeros(4)


def fit_with(**changes: object) -> Callable[[], object]:
    arguments: dict[str, object] = dict(
        model=nn.Dense(2, 1, init="zeros"),
        loss="mse",
        X=X_OK,
        y=Y_OK,
        optimizer=optim.SGD(0.1),
        epochs=1,
        batch_size=2,
        rng=rng(),
    )
    arguments.update(changes)
    return lambda: train.fit(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "call, message",
    [
        (
            fit_with(loss="mean_squared_error"),
            r"^loss must be a name in lossmod.LOSSES \(mse, mae, .*\); got 'mean_squared_error'$",
        ),
        (
            fit_with(loss="gaussian_nll_loss"),
            r"^gaussian_nll_loss takes \(target, var\) after the prediction; fit trains losses "
            r"of \(prediction, target\) only$",
        ),
        (fit_with(batch_size=0), r"^batch_size must be an integer >= 1; got 0$"),
        (fit_with(batch_size=2.0), r"^batch_size must be an integer >= 1; got 2.0$"),
        (fit_with(epochs=-1), r"^epochs must be an integer >= 0; got -1$"),
        (fit_with(X=np.zeros(4)), r"^X must have shape \(N, d\) with N >= 1; got \(4,\)$"),
        (fit_with(y=np.zeros(3)), r"^y must have one row per row of X \(4\); got shape \(3,\)$"),
        (fit_with(X=np.zeros((4, 3))), r"^x must have shape \(N, 2\); got shape \(4, 3\)$"),
        (fit_with(rng=0), r"^rng must be a np.random.Generator; got 0$"),
        (fit_with(optimizer="sgd"), r"^optimizer must be a lossmod.optim.Optimizer; got 'sgd'$"),
        (
            fit_with(validation=(np.zeros((2, 2)), np.zeros(3))),
            r"^validation\[1\] must have one row per row of validation\[0\] \(2\)",
        ),
        (
            lambda: list(train.batches(5, 0, rng=rng())),
            r"^batch_size must be an integer >= 1; got 0$",
        ),
        (
            lambda: list(train.batches(5, 2)),
            r"^rng must be a np.random.Generator when shuffle=True; got None$",
        ),
        (
            lambda: train.accuracy([[1.0, 2.0]], [0, 1]),
            r"^target must have shape \(1,\) for output of shape \(1, 2\); got \(2,\)$",
        ),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_wrong_target_shape_is_caught_by_the_loss() -> None:
    """A target that would broadcast against the output is refused (by lossmod's shape check)."""
    model = nn.Dense(2, 2, init="zeros")
    with pytest.raises(ValueError, match=r"^pred has shape \(4, 2\) but target has shape \(4,\)"):
        train.loss_and_gradients(model, "mse", X_OK, Y_OK)
