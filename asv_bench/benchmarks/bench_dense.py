"""FullyConnected forward kernel beside the same sgemm called straight through SciPy (the floor),
and a FullyConnected + relu layer's forward and backward fused (cysym/dense_fusion.py) and not.

A batch of one row runs as a matrix-vector product: its floor is sgemv (what cysym calls), and
sgemm with that one row is timed beside it, since OpenBLAS's gemm is far slower for it.  A small
float32 batch (2-32 rows against many outputs) runs as the transposed product w @ x.T plus one
transposing pass (dense.fc_transposed): 'cysym_direct' times the same layer forced to the
direct product x @ w.T, the orientation of the floor.

Run without asv:  PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_dense
"""
import numpy as np
from scipy.linalg import blas

from cysym._ops import dense, elemwise, runner

from .common import best_of

SHAPES = {"seed-fc1 b1": (1, 784, 128), "seed-fc1 b32": (32, 784, 128), "seed-fc1 b128": (128, 784, 128),
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
    if impl in ("cysym", "cysym_direct"):
        plan = runner.Plan()
        dense.append_fully_connected(plan, x, w, b, y, transposed=False if impl == "cysym_direct" else None)
        return plan.run
    if impl == "sgemv_floor":
        if len(x) != 1:
            raise NotImplementedError("the gemv floor is for one row")
        gemv = blas.sgemv if dtype == np.float32 else blas.dgemv
        # y[0] = w @ x[0]: w.T is the column-major view of w, so trans=1 needs no copy
        return lambda: gemv(1.0, w.T, x[0], trans=1, y=y[0], overwrite_y=1)
    gemm = blas.sgemm if dtype == np.float32 else blas.dgemm
    # y.T = w @ x.T: column-major views of the row-major arrays, no copies (the floor: no bias)
    return lambda: gemm(1.0, w.T, x.T, trans_a=1, trans_b=0, c=y.T, overwrite_c=1)


def _floor(shape):
    """The BLAS call cysym's kernel makes for this shape."""
    return "sgemv_floor" if SHAPES[shape][0] == 1 else "sgemm_floor"


class FullyConnectedForward:
    params = (list(SHAPES), ["float32", "float64"], ["cysym", "cysym_direct", "sgemm_floor", "sgemv_floor"])
    param_names = ["shape", "dtype", "impl"]

    def setup(self, shape, dtype, impl):
        self.call = _runner_for(impl, SHAPES[shape], np.dtype(dtype))

    def time_forward(self, shape, dtype, impl):
        self.call()




class FullyConnectedRatio:
    """cysym's forward time divided by the bare BLAS call's (sgemv for one row, sgemm
    otherwise), both measured in this process.  SciPy's wrapper adds ~1 µs to the floor, which
    flatters cysym at batch 1."""
    params = [list(SHAPES)]
    param_names = ["shape"]
    unit = "ratio"

    def track_ratio_to_blas_floor(self, shape):
        ours = best_of(_runner_for("cysym", SHAPES[shape], np.float32), number=50)
        floor = best_of(_runner_for(_floor(shape), SHAPES[shape], np.float32), number=50)
        return ours / floor


def _relu_layer_step(shape, fused):
    """One FullyConnected + relu layer's forward and backward (dX, dW, db from the relu output's
    gradient) as the executor lays them out: fused, or four calls (FC, relu, relu's gradient,
    the FC backward)."""
    x, w, b, h = _arrays(shape, np.float32)
    rng = np.random.default_rng(1)
    dh = rng.standard_normal(h.shape).astype(np.float32)
    dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty_like(b)
    plan = runner.Plan()
    if fused:
        dense.append_fully_connected(plan, x, w, b, h, relu=True)
        dense.append_fully_connected_backward(plan, dh, x, w, dx, dw, db, relu_of=h)
    else:
        y, dy = np.empty_like(h), np.empty_like(h)
        dense.append_fully_connected(plan, x, w, b, y)
        elemwise.append_unary(plan, "relu", y, h)
        elemwise.append_binary(plan, "relu_grad_y", dh, h, dy)
        dense.append_fully_connected_backward(plan, dy, x, w, dx, dw, db)
    return plan.run


class FullyConnectedReluStep:
    params = (list(SHAPES), ["fused", "unfused"])
    param_names = ["shape", "fusion"]

    def setup(self, shape, fusion):
        self.call = _relu_layer_step(SHAPES[shape], fusion == "fused")

    def time_forward_backward(self, shape, fusion):
        self.call()


def fused_over_unfused(shape, rounds=21):
    """The median over rounds of (fused time / unfused time) of one relu layer's step, the two
    measured alternately (best of 7 x 20 calls each round)."""
    fused, unfused = (_relu_layer_step(SHAPES[shape], flag) for flag in (True, False))
    ratios = sorted(best_of(fused) / best_of(unfused) for _ in range(rounds))
    return ratios[len(ratios) // 2]


if __name__ == "__main__":
    for shape in SHAPES:
        print(f"{shape:<14} FullyConnected + relu forward and backward, fused / unfused: "
              f"{fused_over_unfused(shape):.3f}")
    for shape in SHAPES:
        direct = best_of(_runner_for("cysym_direct", SHAPES[shape], np.float32), number=50)
        chosen = best_of(_runner_for("cysym", SHAPES[shape], np.float32), number=50)
        print(f"{shape:<14} forward / {_floor(shape)[:5]} floor: "
              f"{FullyConnectedRatio().track_ratio_to_blas_floor(shape):.3f}; "
              f"direct product / chosen: {direct / chosen:.3f}")
    one_row = [shape for shape in SHAPES if SHAPES[shape][0] == 1]
    for shape in one_row:
        gemm = best_of(_runner_for("sgemm_floor", SHAPES[shape], np.float32), number=50)
        gemv = best_of(_runner_for("sgemv_floor", SHAPES[shape], np.float32), number=50)
        print(f"{shape:<14} bare sgemm with one row / bare sgemv: {gemm / gemv:.3f}")
