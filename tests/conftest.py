"""Test-wide setup."""
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed_numpy_global_random_state():
    """Seed NumPy's global random state before every test, as MXNet's test setup does:
    cysym.test_utils draws its projections and dirty gradient buffers from it (as MXNet's
    does), so a test's result must not depend on which tests ran before it."""
    np.random.seed(1234)


@pytest.fixture(autouse=True)
def _convolutions_choose_as_on_one_blas_thread(monkeypatch):
    """Convolution picks Winograd only where OpenBLAS runs one thread (cysym/ops/conv.py):
    the tests see the same kernels whatever the machine's core count (test_winograd.py checks
    the rule itself)."""
    from cysym.ops import conv
    monkeypatch.setattr(conv, "blas_threads", lambda: 1)
