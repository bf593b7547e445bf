"""Pooling forward and backward beside a memory copy of its input and output (the floor).

Pooling reads each input element a few times from cache and does one comparison or addition
per window tap: a plain copy of the input and of the output (np.copyto, preallocated) moves
the same memory, and is the floor the ratios divide by.  The backward pass reads dY (and X
for max pooling) and writes dX: the same bytes and the same floor.

The shapes are the pooling layers of the real models at batch 1 (DenseNet's transition at
batch 2): ResNet's first max pooling (3x3, stride 2, pad 1, 64 channels at 112x112),
Inception v3's valid 3x3 stride-2 max pooling (192 channels at 71x71) and its 3x3 stride-1
pad-1 avg pooling counting the pad (288 channels at 35x35, 768 at 17x17), DenseNet-121's 2x2 stride-2 avg
pooling (256 channels at 56x56) and the global avg pooling before a ResNet-50 classifier
(2048 channels at 7x7).  The kernels are the build the executor runs (cysym._ops.load).
"""
import numpy as np

from cysym._ops import load, runner

from .common import best_of

# name: (data shape, Pooling arguments)
SHAPES = {
    "resnet max 3x3/2 pad 1 64x112x112": (
        (1, 64, 112, 112), dict(pool_type="max", kernel=(3, 3), stride=(2, 2), pad=(1, 1))),
    "inception max 3x3/2 192x71x71": (
        (1, 192, 71, 71), dict(pool_type="max", kernel=(3, 3), stride=(2, 2))),
    "inception avg 3x3/1 pad 1 288x35x35": (
        (1, 288, 35, 35), dict(pool_type="avg", kernel=(3, 3), stride=(1, 1), pad=(1, 1))),
    "inception avg 3x3/1 pad 1 768x17x17": (
        (1, 768, 17, 17), dict(pool_type="avg", kernel=(3, 3), stride=(1, 1), pad=(1, 1))),
    "densenet avg 2x2/2 b2 256x56x56": (
        (2, 256, 56, 56), dict(pool_type="avg", kernel=(2, 2), stride=(2, 2))),
    "global avg 2048x7x7": (
        (1, 2048, 7, 7), dict(pool_type="avg", kernel=(1, 1), global_pool=True)),
}


def _arrays(name, dtype):
    shape, kwargs = SHAPES[name]
    conv = load("conv")
    geometry, channels_last = conv.pool_geometry(shape, kwargs["kernel"], kwargs.get("stride", ()),
                                                 kwargs.get("pad", ()),
                                                 kwargs.get("global_pool", False))
    out_shape = conv.pool_output_shape(geometry, len(shape) - 2, channels_last)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(out_shape).astype(dtype)
    return conv, kwargs, x, np.empty(out_shape, dtype), dy, np.empty_like(x)


def _pool_runner(name, dtype, backward):
    conv, kwargs, x, y, dy, dx = _arrays(name, dtype)
    plan = runner.Plan()
    if backward:
        conv.append_pooling_backward(plan, dy, x, dx, **kwargs)
    else:
        conv.append_pooling(plan, x, y, **kwargs)
    return lambda: plan.run(is_train=backward)


def _copy_runner(name, dtype):
    _, _, x, y, _, _ = _arrays(name, dtype)
    x_copy, y_copy = np.empty_like(x), np.empty_like(y)

    def run():
        np.copyto(x_copy, x)
        np.copyto(y_copy, y)
    return run


class PoolingForward:
    params = (list(SHAPES), ["float32", "float64"], ["cysym", "copy"])
    param_names = ["shape", "dtype", "impl"]

    def setup(self, shape, dtype, impl):
        dtype = np.dtype(dtype)
        self.call = _pool_runner(shape, dtype, False) if impl == "cysym" else _copy_runner(shape, dtype)

    def time_forward(self, shape, dtype, impl):
        self.call()


class PoolingBackward:
    params = (list(SHAPES), ["float32", "float64"], ["cysym", "copy"])
    param_names = ["shape", "dtype", "impl"]

    def setup(self, shape, dtype, impl):
        dtype = np.dtype(dtype)
        self.call = _pool_runner(shape, dtype, True) if impl == "cysym" else _copy_runner(shape, dtype)

    def time_backward(self, shape, dtype, impl):
        self.call()


class PoolingRatio:
    """cysym's float32 time divided by the copy's, both measured here."""
    params = [list(SHAPES)]
    param_names = ["shape"]
    unit = "ratio"

    def track_forward_ratio_to_copy(self, shape):
        return (best_of(_pool_runner(shape, np.float32, False))
                / best_of(_copy_runner(shape, np.float32)))

    def track_backward_ratio_to_copy(self, shape):
        return (best_of(_pool_runner(shape, np.float32, True))
                / best_of(_copy_runner(shape, np.float32)))


if __name__ == "__main__":
    for shape in SHAPES:
        copy = best_of(_copy_runner(shape, np.float32))
        forward = best_of(_pool_runner(shape, np.float32, False))
        backward = best_of(_pool_runner(shape, np.float32, True))
        print(f"{shape:<38} copy {copy * 1e3:6.3f} ms  forward {forward * 1e3:6.3f} ms "
              f"({forward / copy:4.1f}x)  backward {backward * 1e3:6.3f} ms "
              f"({backward / copy:4.1f}x)")
