"""Convolution forward+backward beside the GEMMs it reduces to (the floor).

The floor does the same multiply-adds as the kernel's GEMMs, but as one large sgemm per
pass with the batch folded into n (n = batch * output pixels), on preallocated arrays:
    forward   y   = W   @ col      (F x K) @ (K x n)
    backward  dW  = dY  @ col.T    (F x n) @ (n x K)
              col = W.T @ dY       (K x F) @ (F x n)     only when the data gradient is wanted
This is stricter than calling the per-sample GEMMs (same m, k; n per sample) one by one from
Python, whose call overhead would flatter the ratio.  The kernel additionally pays for
im2col (twice), col2im, the bias and its gradient.

LeNet sizes, batch 64: conv1 1->20 channels 28x28 k5 (the first layer: no data gradient, as
in training), conv2 20->50 channels 12x12 k5 (with the data gradient).  ResNet-50's 1x1
convolutions at 56x56, batch 1: 256->64 and 64->256 (the pointwise path: no im2col at all; the
AVX2 build's packed strips); MobileNet v2's at 28x28, batch 2: 32->192 and 192->32 (the pointwise
blocks of the wide builds), and its 16->96 at 112x112 (the AVX2 build's packed strips).
DepthwiseConvolution: MobileNet-v2's 3x3 depthwise layer at 144 channels 28x28, batch 8, run by
the direct loops and by the general im2col path forced on it (one GEMM row per group).
WinogradConvolution / WinogradRatio: 3x3 stride-1 layers of ResNet, VGG and Inception at batch 1,
forward and data gradient by Winograd F(2x2, 3x3) and by im2col + GEMM.

The kernels are the build cysym runs on this CPU (cysym._ops.load: AVX2 where the CPU has it).
"""
import numpy as np
from scipy.linalg import blas

from cysym._ops import load, runner

from .common import best_of

conv = load("conv")
winograd = load("winograd")

# name: (data shape, num_filter, kernel, wants data gradient)
SHAPES = {
    "lenet-conv1 b64": ((64, 1, 28, 28), 20, (5, 5), False),
    "lenet-conv2 b64": ((64, 20, 12, 12), 50, (5, 5), True),
    "resnet50-1x1 256->64 b1": ((1, 256, 56, 56), 64, (1, 1), True),
    "resnet50-1x1 64->256 b1": ((1, 64, 56, 56), 256, (1, 1), True),
    "mobilenetv2-1x1 32->192 b2": ((2, 32, 28, 28), 192, (1, 1), True),
    "mobilenetv2-1x1 192->32 b2": ((2, 192, 28, 28), 32, (1, 1), True),
    "mobilenetv2-1x1 16->96 b2": ((2, 16, 112, 112), 96, (1, 1), True),
}


def _geometry(shape, filters, kernel):
    N, C, H, W = shape
    Ho, Wo = H - kernel[0] + 1, W - kernel[1] + 1
    return N, C, filters, C * kernel[0] * kernel[1], Ho * Wo


def _conv_runner(name, dtype):
    shape, filters, kernel, wants_dx = SHAPES[name]
    rng = np.random.default_rng(0)
    N, C, F, K, P = _geometry(shape, filters, kernel)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((F, C) + kernel).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    y = np.empty((N, F) + (shape[2] - kernel[0] + 1, shape[3] - kernel[1] + 1), dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = np.empty_like(x) if wants_dx else None
    dw, db = np.empty_like(w), np.empty_like(b)
    plan = runner.Plan()
    conv.append_convolution(plan, x, w, b, y, kernel=kernel, num_filter=F)
    conv.append_convolution_backward(plan, dy, x, w, dx, dw, db, kernel=kernel, num_filter=F,
                                     req_dx="write" if wants_dx else "null")
    return lambda: plan.run(is_train=True)


def _gemm_floor_runner(name, dtype):
    shape, filters, kernel, wants_dx = SHAPES[name]
    N, C, F, K, P = _geometry(shape, filters, kernel)
    n = N * P
    rng = np.random.default_rng(0)
    gemm = blas.sgemm if dtype == np.float32 else blas.dgemm
    # Fortran-ordered operands, so that scipy passes them to BLAS without copies
    w = np.asfortranarray(rng.standard_normal((F, K)).astype(dtype))
    col = np.asfortranarray(rng.standard_normal((K, n)).astype(dtype))
    dy = np.asfortranarray(rng.standard_normal((F, n)).astype(dtype))
    y = np.asfortranarray(np.empty((F, n), dtype))
    dw = np.asfortranarray(np.empty((F, K), dtype))
    dcol = np.asfortranarray(np.empty((K, n), dtype))

    def run():
        gemm(1.0, w, col, c=y, overwrite_c=1)                        # y = w @ col
        gemm(1.0, dy, col, trans_b=1, c=dw, overwrite_c=1)           # dw = dy @ col.T
        if wants_dx:
            gemm(1.0, w, dy, trans_a=1, c=dcol, overwrite_c=1)       # col = w.T @ dy
    return run


class ConvolutionForwardBackward:
    params = (list(SHAPES), ["float32", "float64"], ["cysym", "gemm_floor"])
    param_names = ["shape", "dtype", "impl"]

    def setup(self, shape, dtype, impl):
        make = _conv_runner if impl == "cysym" else _gemm_floor_runner
        self.call = make(shape, np.dtype(dtype))

    def time_forward_backward(self, shape, dtype, impl):
        self.call()



class DepthwiseConvolution:
    """Forward+backward of a 3x3, stride 1, pad 1 depthwise convolution, 144 channels 28x28."""
    params = (["float32", "float64"], ["direct", "im2col"])
    param_names = ["dtype", "impl"]

    def setup(self, dtype, impl):
        rng = np.random.default_rng(0)
        shape, C = (8, 144, 28, 28), 144
        x = rng.standard_normal(shape).astype(dtype)
        w = rng.standard_normal((C, 1, 3, 3)).astype(dtype)
        b = rng.standard_normal(C).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        y, dx, dw, db = np.empty_like(x), np.empty_like(x), np.empty_like(w), np.empty_like(b)
        kw = dict(kernel=(3, 3), pad=(1, 1), num_group=C, im2col=impl == "im2col")
        self.plan = runner.Plan()
        conv.append_convolution(self.plan, x, w, b, y, **kw)
        conv.append_convolution_backward(self.plan, dy, x, w, dx, dw, db, **kw)

    def time_forward_backward(self, dtype, impl):
        self.plan.run(is_train=True)



# name: (batch, channels in and out, side); pad 1
WINOGRAD_LAYERS = {
    "resnet 64ch 56x56": (1, 64, 56),
    "resnet 128ch 28x28": (1, 128, 28),
    "vgg 512ch 28x28": (1, 512, 28),
    "inception 192ch 35x35": (1, 192, 35),
    "resnet 512ch 14x14 b2": (2, 512, 14),
}


def _winograd_runner(layer, impl, data_gradient):
    N, C, side = WINOGRAD_LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, side, side)).astype(np.float32)
    w = rng.standard_normal((C, C, 3, 3)).astype(np.float32)
    y = np.empty_like(x)
    plan = runner.Plan()
    if impl == "winograd":
        winograd.append_winograd(plan, x, w, None, y, (1, 1), data_gradient=data_gradient)
    elif data_gradient:
        # x stands for dY (and for the forward's input, which dX does not read); y is dX
        conv.append_convolution_backward(plan, x, x, w, y, None, None, kernel=(3, 3), pad=(1, 1),
                                         req_dw="null", req_db="null")
    else:
        conv.append_convolution(plan, x, w, None, y, kernel=(3, 3), pad=(1, 1))
    return plan.run


class WinogradConvolution:
    params = (list(WINOGRAD_LAYERS), ["winograd", "im2col"])
    param_names = ["layer", "impl"]

    def setup(self, layer, impl):
        self.forward = _winograd_runner(layer, impl, False)
        self.data_gradient = _winograd_runner(layer, impl, True)

    def time_forward(self, layer, impl):
        self.forward()

    def time_data_gradient(self, layer, impl):
        self.data_gradient()


class WinogradRatio:
    """im2col + GEMM time divided by Winograd's, forward and data gradient, float32."""
    params = [list(WINOGRAD_LAYERS)]
    param_names = ["layer"]
    unit = "ratio"

    def track_forward_speedup(self, layer):
        return (best_of(_winograd_runner(layer, "im2col", False))
                / best_of(_winograd_runner(layer, "winograd", False)))

    def track_data_gradient_speedup(self, layer):
        return (best_of(_winograd_runner(layer, "im2col", True))
                / best_of(_winograd_runner(layer, "winograd", True)))


class ConvolutionRatio:
    """cysym's forward+backward time divided by its GEMM floor's, both measured here."""
    params = [list(SHAPES)]
    param_names = ["shape"]
    unit = "ratio"

    def track_ratio_to_gemm_floor(self, shape):
        ours = best_of(_conv_runner(shape, np.float32))
        floor = best_of(_gemm_floor_runner(shape, np.float32))
        return ours / floor


if __name__ == "__main__":
    for shape in SHAPES:
        print(f"{shape:<24} forward+backward / GEMM floor: "
              f"{ConvolutionRatio().track_ratio_to_gemm_floor(shape):.3f}")
    for layer in WINOGRAD_LAYERS:
        print(f"{layer:<24} im2col / Winograd time: forward "
              f"{WinogradRatio().track_forward_speedup(layer):.2f}, data gradient "
              f"{WinogradRatio().track_data_gradient_speedup(layer):.2f}")
