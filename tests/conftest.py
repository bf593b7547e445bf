"""Test-wide setup."""
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed_numpy_global_random_state():
    """Seed NumPy's global random state before every test, as MXNet's test setup does:
    cysym.test_utils draws its projections and dirty gradient buffers from it (as MXNet's
    does), so a test's result must not depend on which tests ran before it."""
    np.random.seed(1234)
