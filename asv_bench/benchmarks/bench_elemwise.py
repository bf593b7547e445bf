"""Element-wise kernels beside a plain memory copy of the same bytes (the floor), and beside
NumPy's own ufunc for the same map (SIMD exp and tanh since NumPy 1.20).

A unary map reads one array and writes one, as np.copyto does; a binary map reads two,
so its floor is the copy plus a read of one more array (np.copyto then np.sum of the
second operand would add work, so the floor is taken as 1.5x the copy of one array).
exp, sigmoid and tanh do tens of arithmetic operations per element: they are bound by
compute, not memory, and NumPy's ufunc is the fairer yardstick for them.
The kernels are the build cysym runs on this machine (cysym._ops.load); CYSYM_KERNELS=baseline
times the portable build instead.
Run without asv:  PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_elemwise
"""
import numpy as np
from scipy import special

from cysym._ops import load, runner

from .common import best_of

SIZE = 1 << 20
UNARY = ["copy", "relu", "abs", "mul_scalar", "exp", "sigmoid", "tanh"]
BINARY = ["add", "mul", "relu_grad_y"]
NUMPY = {
    "copy": lambda x, other, y: np.copyto(y, x),
    "relu": lambda x, other, y: np.maximum(x, 0, out=y),
    "abs": lambda x, other, y: np.abs(x, out=y),
    "mul_scalar": lambda x, other, y: np.multiply(x, 0.5, out=y),
    "exp": lambda x, other, y: np.exp(x, out=y),
    "sigmoid": lambda x, other, y: special.expit(x, out=y),
    "tanh": lambda x, other, y: np.tanh(x, out=y),
    "add": lambda x, other, y: np.add(x, other, out=y),
    "mul": lambda x, other, y: np.multiply(x, other, out=y),
    "relu_grad_y": lambda x, other, y: np.multiply(x, other > 0, out=y),
}


def _plan(op, dtype):
    rng = np.random.default_rng(0)
    x, other = (rng.standard_normal(SIZE).astype(dtype) for _ in range(2))
    y = np.empty(SIZE, dtype)
    plan = runner.Plan()
    elemwise = load("elemwise")
    if op in UNARY:
        elemwise.append_unary(plan, op, x, y, s0=0.5)
    else:
        elemwise.append_binary(plan, op, x, other, y)
    return plan, x, other, y


class Elementwise:
    params = [UNARY + BINARY, ["float32", "float64"]]
    param_names = ["op", "dtype"]

    def setup(self, op, dtype):
        self.plan, self.x, self.other, self.y = _plan(op, np.dtype(dtype))

    def time_kernel(self, op, dtype):
        self.plan.run()

    def time_copy_floor(self, op, dtype):
        np.copyto(self.y, self.x)

    def track_ratio_to_copy(self, op, dtype):
        floor = best_of(lambda: np.copyto(self.y, self.x)) * (1.5 if op in BINARY else 1.0)
        return best_of(self.plan.run) / floor

    def track_ratio_to_numpy(self, op, dtype):
        numpy_map = NUMPY[op]
        return best_of(self.plan.run) / best_of(lambda: numpy_map(self.x, self.other, self.y))


if __name__ == "__main__":
    bench = Elementwise()
    print(f"kernels: {load('elemwise').__name__}")
    for dtype in ("float32", "float64"):
        for op in UNARY + BINARY:
            bench.setup(op, dtype)
            print(f"{op:<12} {dtype}: {bench.track_ratio_to_copy(op, dtype):6.2f}x the copy floor, "
                  f"{bench.track_ratio_to_numpy(op, dtype):5.2f}x NumPy")
