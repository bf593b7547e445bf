"""Element-wise kernels beside a plain memory copy of the same bytes (the floor).

A unary map reads one array and writes one, as np.copyto does; a binary map reads two,
so its floor is the copy plus a read of one more array (np.copyto then np.sum of the
second operand would add work, so the floor is taken as 1.5x the copy of one array).
Run without asv:  PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_elemwise
"""
import numpy as np

from cysym._ops import elemwise, runner

from .common import best_of

SIZE = 1 << 20
UNARY = ["copy", "relu", "mul_scalar", "sigmoid", "tanh"]
BINARY = ["add", "mul", "relu_grad_y"]


def _plan(op, dtype):
    rng = np.random.default_rng(0)
    x, other = (rng.standard_normal(SIZE).astype(dtype) for _ in range(2))
    y = np.empty(SIZE, dtype)
    plan = runner.Plan()
    if op in UNARY:
        elemwise.append_unary(plan, op, x, y, s0=0.5)
    else:
        elemwise.append_binary(plan, op, x, other, y)
    return plan, x, y




class Elementwise:
    params = [UNARY + BINARY, ["float32", "float64"]]
    param_names = ["op", "dtype"]

    def setup(self, op, dtype):
        self.plan, self.x, self.y = _plan(op, np.dtype(dtype))

    def time_kernel(self, op, dtype):
        self.plan.run()

    def time_copy_floor(self, op, dtype):
        np.copyto(self.y, self.x)

    def track_ratio_to_copy(self, op, dtype):
        floor = best_of(lambda: np.copyto(self.y, self.x)) * (1.5 if op in BINARY else 1.0)
        return best_of(self.plan.run) / floor


if __name__ == "__main__":
    bench = Elementwise()
    for dtype in ("float32", "float64"):
        for op in UNARY + BINARY:
            bench.setup(op, dtype)
            print(f"{op:<12} {dtype}: {bench.track_ratio_to_copy(op, dtype):.2f}x the copy floor")
