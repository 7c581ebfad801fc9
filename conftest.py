"""Loaded by pytest before anything it collects, a lone chapter notebook included
(`pytest chapters/mse.ipynb` never reads tests/conftest.py): the numeric environment of
requirements/numeric.env, set before NumPy loads (OpenBLAS reads its variables then), so that
`pytest` alone, and every kernel it starts, computes as under `make test`."""

from tests.helpers.environment import apply_numeric_environment

apply_numeric_environment()
