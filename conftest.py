"""Loaded by pytest before anything it collects, a lone chapter notebook included
(`pytest chapters/mse.ipynb` never reads tests/conftest.py): the numeric environment of
requirements/numeric.env, set before NumPy loads (OpenBLAS reads its variables then), so that
`pytest` alone, and every kernel it starts, computes as under `make test`."""

from pathlib import Path

import pytest

from tests.helpers.environment import apply_numeric_environment

apply_numeric_environment()

# Imported after the environment is set: nothing below may load NumPy first.
from tests.helpers.layers import layer_excluded, layer_of  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each item with its file's layer (here, not in tests/conftest.py, so that a lone
    notebook's items are marked too: `pytest -m notebooks chapters/mse.ipynb` selects them)."""
    for item in items:
        item.add_marker(getattr(pytest.mark, layer_of(item.path)))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip a test file or notebook whose layer the `-m` expression leaves out (see
    tests/helpers/layers.py): `pytest -m fast` then spends no time reading the notebooks."""
    is_test_file = collection_path.suffix == ".ipynb" or collection_path.name.startswith("test_")
    if is_test_file and layer_excluded(collection_path, config.option.markexpr):
        return True
    return None
