"""SoftmaxOutput forward and backward in a bound executor, beside NumPy's softmax of the same
array (max, exp, sum, divide: four vectorized passes) as the yardstick.

Run without asv:  PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_softmax
"""
import numpy as np

import cysym as mx

from .common import best_of

SHAPES = {"128x1000": (128, 1000), "64x10000": (64, 10000)}


def _numpy_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class SoftmaxOutput:
    params = [list(SHAPES)]
    param_names = ["shape"]

    def setup(self, shape):
        shape = SHAPES[shape]
        self.exe = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), name="softmax").simple_bind(mx.cpu(), data=shape)
        rng = np.random.default_rng(0)
        self.exe.arg_dict["data"][:] = rng.standard_normal(shape)
        self.exe.arg_dict["softmax_label"][:] = rng.integers(0, shape[1], shape[0])
        self.data = self.exe.arg_dict["data"].asnumpy()

    def _forward(self):
        self.exe.forward(is_train=True)

    def time_forward(self, shape):
        self._forward()

    def time_forward_backward(self, shape):
        self._forward()
        self.exe.backward()

    def track_forward_over_numpy(self, shape):
        return best_of(self._forward) / best_of(lambda: _numpy_softmax(self.data))


if __name__ == "__main__":
    bench = SoftmaxOutput()
    for shape in SHAPES:
        bench.setup(shape)
        print(f"SoftmaxOutput {shape:<9} forward {best_of(bench._forward) * 1e6:7.0f} us "
              f"({bench.track_forward_over_numpy(shape):.2f}x NumPy's softmax), forward+backward "
              f"{best_of(lambda: bench.time_forward_backward(shape)) * 1e6:7.0f} us")
