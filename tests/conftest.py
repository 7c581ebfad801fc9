"""Test configuration: deterministic hypothesis runs and a seeded random generator."""

import numpy as np
import pytest
from hypothesis import settings

# Deterministic: the same examples on every run, no example database carried between runs.
settings.register_profile("course", derandomize=True, database=None, deadline=None)
settings.load_profile("course")


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed: every test that draws random inputs draws the same ones."""
    return np.random.default_rng(20261122)
