"""Test-wide setup."""
import os

import numpy as np
import pytest

# Idle OpenMP threads sleep instead of spinning, in this process and the ones it starts (MPI
# ranks, fuzz workers), which share the cores: a spinning thread holds a core that another
# process's kernel thread is waiting for. Results do not depend on it. Measured with
# `cysym-demo --cnn --threads 2` at a load of 8-10: 92-132 samples/s spinning, 2,353-3,673
# passive. It must be set before the kernels load GNU OpenMP (it reads it once).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")


@pytest.fixture(autouse=True)
def _seed_numpy_global_random_state():
    """Seed NumPy's global random state before every test, as MXNet's test setup does:
    cysym.test_utils draws its projections and dirty gradient buffers from it (as MXNet's
    does), so a test's result must not depend on which tests ran before it."""
    np.random.seed(1234)
