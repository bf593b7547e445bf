"""FullyConnected forward kernel beside the same sgemm called straight through SciPy (the floor)."""
import numpy as np
from scipy.linalg import blas

from cysym._ops import dense, runner

from .common import best_of

SHAPES = {"seed-fc1 b32": (32, 784, 128), "seed-fc1 b128": (128, 784, 128),
          "deep b16": (16, 256, 256), "wide b1024": (1024, 784, 128)}


def _arrays(shape, dtype):
    rows, in_dim, hidden = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, in_dim)).astype(dtype)
    w = rng.standard_normal((hidden, in_dim)).astype(dtype)
    b = rng.standard_normal(hidden).astype(dtype)
    return x, w, b, np.empty((rows, hidden), dtype)


def _runner_for(impl, shape, dtype):
    x, w, b, y = _arrays(shape, dtype)
    if impl == "cysym":
        plan = runner.Plan()
        dense.append_fully_connected(plan, x, w, b, y)
        return plan.run
    gemm = blas.sgemm if dtype == np.float32 else blas.dgemm
    # y.T = w @ x.T: column-major views of the row-major arrays, no copies (the floor: no bias)
    return lambda: gemm(1.0, w.T, x.T, trans_a=1, trans_b=0, c=y.T, overwrite_c=1)


class FullyConnectedForward:
    params = (list(SHAPES), ["float32", "float64"], ["cysym", "sgemm_floor"])
    param_names = ["shape", "dtype", "impl"]

    def setup(self, shape, dtype, impl):
        self.call = _runner_for(impl, SHAPES[shape], np.dtype(dtype))

    def time_forward(self, shape, dtype, impl):
        self.call()




class FullyConnectedRatio:
    """cysym's forward time divided by the bare GEMM's, both measured in this process."""
    params = [list(SHAPES)]
    param_names = ["shape"]
    unit = "ratio"

    def track_ratio_to_sgemm_floor(self, shape):
        ours = best_of(_runner_for("cysym", SHAPES[shape], np.float32), number=50)
        floor = best_of(_runner_for("sgemm_floor", SHAPES[shape], np.float32), number=50)
        return ours / floor


if __name__ == "__main__":
    for shape in SHAPES:
        print(f"{shape:<14} forward / sgemm floor: {FullyConnectedRatio().track_ratio_to_sgemm_floor(shape):.3f}")
