"""SoftmaxOutput forward and backward in a bound executor, beside NumPy's softmax of the same
array over axis 1 (max, exp, sum, divide: four vectorized passes) as the yardstick; the last
shape is a segmentation head (multi_output: a label per pixel).

Run without asv:  PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_softmax
"""
import numpy as np

import cysym as mx

from .common import best_of

# name: (data shape, multi_output: one label per position, softmax over axis 1)
SHAPES = {"128x1000": ((128, 1000), False), "64x10000": ((64, 10000), False),
          "8x21x64x64": ((8, 21, 64, 64), True)}


def _numpy_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class SoftmaxOutput:
    params = [list(SHAPES)]
    param_names = ["shape"]

    def setup(self, shape):
        shape, multi_output = SHAPES[shape]
        net = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), multi_output=multi_output, name="softmax")
        self.exe = net.simple_bind(mx.cpu(), data=shape)
        rng = np.random.default_rng(0)
        self.exe.arg_dict["data"][:] = rng.standard_normal(shape)
        label = self.exe.arg_dict["softmax_label"]
        label[:] = rng.integers(0, shape[1], label.shape)
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
        print(f"SoftmaxOutput {shape:<10} forward {best_of(bench._forward) * 1e6:7.0f} us "
              f"({bench.track_forward_over_numpy(shape):.2f}x NumPy's softmax), forward+backward "
              f"{best_of(lambda: bench.time_forward_backward(shape)) * 1e6:7.0f} us")
