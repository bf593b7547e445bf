"""Registry-driven operator tests: every registered, user-visible operator has a row in CASES.

For each case and dtype (float32, float64) the tests check
  1. forward in a bound executor against an independent NumPy reference;
  2. the gradient of every differentiable input against float64 central differences
     (or, for ops whose derivative is zero almost everywhere, that the gradient is zero);
  3. the same forward result when each input is an intermediate `v * 2` whose buffer the
     planner may hand to the op in place;
  4. a clear error naming the operator for an unknown parameter, and for the bad parameters
     or inconsistent shapes listed with the case.
`test_table_covers_registry` fails the moment an op is registered without a row here.
Shapes are never square or repeated, so a transposed axis cannot pass by luck; values keep
away from kinks and singularities, so finite differences are meaningful.
"""
import importlib
import itertools
import math
import pathlib

import numpy as np
import pytest
from scipy import special

import cysym as mx
from cysym.base import MXNetError
from cysym.registry import all_ops, get_op
from cysym.test_utils import check_numeric_gradient

from opcase import (OP_NAME, Case, binary, broadcast, distinct, integers, positive, scalar, signed,
                    small_ints, unary)

DTYPES = [np.float32, np.float64]
# float32: results are compared with a float64 reference; sums of a few dozen terms may
# cancel, so an absolute floor of 1e-6 is needed next to the 1e-5 relative tolerance.
FORWARD_TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


# NumPy references

def np_softmax(data, axis=-1, temperature=1.0):
    z = data / temperature
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(data, axis=-1, temperature=1.0):
    z = data / temperature
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_conv(x, w, b, kernel, stride=None, pad=None, dilate=None, num_group=1):
    """Direct convolution over 1-D or 2-D NCHW input by summing shifted slices."""
    nd = len(kernel)
    if nd == 1:
        x, w = x[:, :, None, :], w[:, :, None, :]
        kernel = (1,) + tuple(kernel)
        stride = (1,) + tuple(stride or (1,))
        pad = (0,) + tuple(pad or (0,))
        dilate = (1,) + tuple(dilate or (1,))
    stride, pad, dilate = stride or (1, 1), pad or (0, 0), dilate or (1, 1)
    n, c, h, wd = x.shape
    f = w.shape[0]
    xp = np.zeros((n, c, h + 2 * pad[0], wd + 2 * pad[1]))
    xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    oh = (h + 2 * pad[0] - dilate[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilate[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    out = np.zeros((n, f, oh, ow))
    cg, fg = c // num_group, f // num_group
    for g in range(num_group):
        for i, j in itertools.product(range(kernel[0]), range(kernel[1])):
            r0, c0 = i * dilate[0], j * dilate[1]
            patch = xp[:, g * cg:(g + 1) * cg,
                       r0:r0 + stride[0] * (oh - 1) + 1:stride[0],
                       c0:c0 + stride[1] * (ow - 1) + 1:stride[1]]
            out[:, g * fg:(g + 1) * fg] += np.einsum("nchw,fc->nfhw", patch,
                                                     w[g * fg:(g + 1) * fg, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out[:, :, 0, :] if nd == 1 else out


def np_pool(data, kernel, pool_type="max", stride=None, pad=None, global_pool=False,
            pooling_convention="valid", count_include_pad=True):
    """MXNet's pooling (pool.h): windows clipped to the padded input for the avg divisor
    with count_include_pad, and to the real input otherwise."""
    x = data
    n, c, h, w = x.shape
    if global_pool:
        kernel, stride, pad = (h, w), (1, 1), (0, 0)
    stride, pad = stride or (1, 1), pad or (0, 0)
    if pooling_convention == "valid":
        oh = (h + 2 * pad[0] - kernel[0]) // stride[0] + 1
        ow = (w + 2 * pad[1] - kernel[1]) // stride[1] + 1
    else:
        oh = int(math.ceil((h + 2 * pad[0] - kernel[0]) / stride[0])) + 1
        ow = int(math.ceil((w + 2 * pad[1] - kernel[1]) / stride[1])) + 1
    out = np.zeros((n, c, oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        hs, ws = i * stride[0] - pad[0], j * stride[1] - pad[1]
        he, we = min(hs + kernel[0], h + pad[0]), min(ws + kernel[1], w + pad[1])
        padded_size = (he - hs) * (we - ws)
        hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
        window = x[:, :, hs:he, ws:we]
        if pool_type == "max":
            out[:, :, i, j] = window.max(axis=(2, 3))
        elif pool_type == "sum":
            out[:, :, i, j] = window.sum(axis=(2, 3))
        else:
            size = padded_size if count_include_pad else (he - hs) * (we - ws)
            out[:, :, i, j] = window.sum(axis=(2, 3)) / size
    return out


def np_batchnorm_train(x, gamma, beta, eps=1e-3, fix_gamma=True, axis=1):
    axes = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    g = np.ones_like(gamma) if fix_gamma else gamma
    return (x - mean) / np.sqrt(var + eps) * g.reshape(shape) + beta.reshape(shape)


def np_batchnorm_infer(x, gamma, beta, mean, var, eps=1e-3, fix_gamma=True):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    g = np.ones_like(gamma) if fix_gamma else gamma
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * g.reshape(shape) \
        + beta.reshape(shape)


def np_reduce(fn):
    def ref(data, axis=None, keepdims=False, exclude=False):
        if axis is not None and exclude:
            axis = tuple(i for i in range(data.ndim) if i not in np.atleast_1d(axis) % data.ndim)
        out = np.asarray(fn(data, axis=axis, keepdims=keepdims))
        return out.reshape(1) if out.ndim == 0 else out   # MXNet 1.x has no 0-d arrays
    return ref


def np_reshape(shape, target):
    """MXNet's Reshape special values 0, -1, -2, -3, -4 (forward direction)."""
    src, out, i, k = list(shape), [], 0, 0
    target = list(target)
    while k < len(target):
        t = target[k]
        if t == 0:
            out.append(src[i]); i += 1
        elif t == -1:
            out.append(-1); i += 1
        elif t == -2:
            out.extend(src[i:]); i = len(src)
        elif t == -3:
            out.append(src[i] * src[i + 1]); i += 2
        elif t == -4:
            a, b = target[k + 1], target[k + 2]
            if a == -1:
                a = src[i] // b
            if b == -1:
                b = src[i] // a
            out.extend([a, b]); i += 1; k += 2
        else:
            out.append(t); i += 1
        k += 1
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        out[out.index(-1)] = int(np.prod(src)) // known
    return tuple(out)


def np_leaky(data, act_type="leaky", slope=0.25, lower_bound=0.125, upper_bound=0.334, gamma=None):
    if act_type == "leaky":
        return np.where(data > 0, data, slope * data)
    if act_type == "elu":
        return np.where(data > 0, data, slope * (np.exp(data) - 1))
    if act_type == "prelu":
        g = gamma.reshape((1, -1) + (1,) * (data.ndim - 2))
        return np.where(data > 0, data, g * data)
    if act_type == "rrelu":   # inference: the mean slope
        return np.where(data > 0, data, (lower_bound + upper_bound) / 2 * data)
    if act_type == "selu":    # the constants of Klambauer et al. (2017), as MXNet uses
        alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
        return scale * np.where(data > 0, data, alpha * np.expm1(data))
    if act_type == "gelu":    # MXNet's exact form, through erf
        return 0.5 * data * (1 + special.erf(data / np.sqrt(2)))
    raise AssertionError(act_type)


def np_softmax_output(data, label, multi_output=False, preserve_shape=False, **_):
    if preserve_shape:
        return np_softmax(data, axis=-1)
    if multi_output:
        return np_softmax(data, axis=1)
    return np_softmax(data.reshape(data.shape[0], -1), axis=1).reshape(data.shape)


def np_dot(lhs, rhs, transpose_a=False, transpose_b=False):
    a = lhs.T if transpose_a else lhs
    b = rhs.T if transpose_b else rhs
    return np.tensordot(a, b, axes=1)


def np_batch_dot(lhs, rhs, transpose_a=False, transpose_b=False):
    a = lhs.transpose(0, 2, 1) if transpose_a else lhs
    b = rhs.transpose(0, 2, 1) if transpose_b else rhs
    return a @ b


# ---------------------------------------------------------------------------------------------
# the table

@mx.operator.register("test_ops_scaled_tanh")
class ScaledTanhProp(mx.operator.CustomOpProp):
    """A CustomOp for the registry table: scale * tanh(data), written in NumPy."""

    def __init__(self, scale="1.0"):
        super().__init__(need_top_grad=True)
        self.scale = float(scale)

    def create_operator(self, ctx, shapes, dtypes):
        return ScaledTanh(self.scale)


class ScaledTanh(mx.operator.CustomOp):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, is_train, req, in_data, out_data, aux):
        self.assign(out_data[0], req[0], self.scale * np.tanh(in_data[0]))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], out_grad[0] * self.scale * (1 - np.tanh(in_data[0]) ** 2))


CASE_LIST = [
    # -- activation ------------------------------------------------------------------------
    *[Case("Activation", {"data": ((2, 3, 5), signed)}, params={"act_type": act},
           ref=lambda data, act_type: {
               "relu": np.maximum(data, 0), "sigmoid": sigmoid(data), "tanh": np.tanh(data),
               "softrelu": np.log1p(np.exp(data)), "softsign": data / (1 + np.abs(data))}[act_type],
           bad=[("params", {"act_type": "swish"})], id=f"Activation-{act}")
      for act in ("relu", "sigmoid", "tanh", "softrelu", "softsign")],
    *[Case("LeakyReLU", {"data": ((2, 3, 5), signed)}, params=dict(act_type=act, slope=0.3),
           ref=np_leaky, bad=[("params", {"act_type": "gelu_but_wrong"})], id=f"LeakyReLU-{act}")
      for act in ("leaky", "elu", "selu", "gelu")],
    Case("LeakyReLU", {"data": ((2, 3, 5), signed), "gamma": ((3,), positive)},
         params=dict(act_type="prelu"), ref=np_leaky,
         bad=[("shapes", {"data": (2, 3, 5), "gamma": (4,)})], id="LeakyReLU-prelu"),
    Case("LeakyReLU", {"data": ((2, 3, 5), signed)},
         params=dict(act_type="rrelu", lower_bound=0.1, upper_bound=0.4), ref=np_leaky,
         id="LeakyReLU-rrelu-inference"),
    # -- dense -----------------------------------------------------------------------------
    Case("FullyConnected", {"data": ((2, 3, 5), signed), "weight": ((4, 15), signed),
                            "bias": ((4,), signed)}, params=dict(num_hidden=4),
         ref=lambda data, weight, bias, **_: data.reshape(2, -1) @ weight.T + bias,
         bad=[("shapes", {"data": (2, 3, 5), "weight": (4, 14), "bias": (4,)}),
              ("params", {"num_hidden": 0})]),
    Case("FullyConnected", {"data": ((2, 3, 5), signed), "weight": ((4, 5), signed)},
         params=dict(num_hidden=4, flatten=False, no_bias=True),
         ref=lambda data, weight, **_: data @ weight.T,
         bad=[("shapes", {"data": (2, 3, 5), "weight": (4, 3)})], id="FullyConnected-noflat-nobias"),
    # -- conv / pool / norm ----------------------------------------------------------------
    Case("Convolution", {"data": ((2, 3, 7, 6), signed), "weight": ((4, 3, 3, 2), signed),
                         "bias": ((4,), signed)},
         params=dict(kernel=(3, 2), num_filter=4, stride=(2, 1), pad=(1, 0)),
         ref=lambda data, weight, bias, kernel, stride, pad, **_:
             np_conv(data, weight, bias, kernel, stride, pad),
         bad=[("shapes", {"data": (2, 3, 7, 6), "weight": (4, 2, 3, 2), "bias": (4,)}),
              ("params", {"kernel": (3, 2, 2, 2)})], id="Convolution-stride-pad"),
    Case("Convolution", {"data": ((2, 4, 7, 6), signed), "weight": ((6, 2, 2, 3), signed)},
         params=dict(kernel=(2, 3), num_filter=6, dilate=(2, 1), num_group=2, no_bias=True),
         ref=lambda data, weight, kernel, dilate, num_group, **_:
             np_conv(data, weight, None, kernel, dilate=dilate, num_group=num_group),
         bad=[("params", {"num_group": 3})], id="Convolution-dilate-group"),
    Case("Convolution", {"data": ((2, 3, 9), signed), "weight": ((4, 3, 3), signed),
                         "bias": ((4,), signed)},
         params=dict(kernel=(3,), num_filter=4, stride=(2,), pad=(1,)),
         ref=lambda data, weight, bias, kernel, stride, pad, **_:
             np_conv(data, weight, bias, kernel, stride, pad), id="Convolution-1d"),
    # 1x1 over 1x1 inputs: the dense kernels (ops/conv.py _is_dense), gemv at batch 1
    Case("Convolution", {"data": ((3, 5, 1, 1), signed), "weight": ((4, 5, 1, 1), signed),
                         "bias": ((4,), signed)},
         params=dict(kernel=(1, 1), num_filter=4, stride=(2, 3)),
         ref=lambda data, weight, bias, kernel, stride, **_: np_conv(data, weight, bias, kernel, stride),
         id="Convolution-1x1-on-1x1"),
    Case("Convolution", {"data": ((1, 6, 1), signed), "weight": ((7, 6, 1), signed)},
         params=dict(kernel=(1,), num_filter=7, no_bias=True),
         ref=lambda data, weight, kernel, **_: np_conv(data, weight, None, kernel),
         id="Convolution-1x1-on-1x1-batch-1"),
    # 3x3 stride 1 with enough tiles (2x2 output blocks) and channels: Winograd F(2x2, 3x3) for
    # the forward and the data gradient (cysym/ops/conv.py _winograd_fits); the second with a
    # tile row cut by the output's bottom edge.  The finite differences of
    # a loss summed over ~9000 outputs of magnitude ~10 carry ~1e-7 of rounding: atol 1e-6
    Case("Convolution", {"data": ((2, 16, 15, 17), signed), "weight": ((18, 16, 3, 3), signed),
                         "bias": ((18,), signed)},
         params=dict(kernel=(3, 3), num_filter=18, pad=(1, 1)),
         ref=lambda data, weight, bias, kernel, pad, **_: np_conv(data, weight, bias, kernel, pad=pad),
         tol_scale=10, grad_tol=(1e-5, 1e-6), id="Convolution-winograd"),
    Case("Convolution", {"data": ((2, 17, 17, 13), signed), "weight": ((16, 17, 3, 3), signed)},
         params=dict(kernel=(3, 3), num_filter=16, pad=(0, 2), no_bias=True),
         ref=lambda data, weight, kernel, pad, **_: np_conv(data, weight, None, kernel, pad=pad),
         tol_scale=10, grad_tol=(1e-5, 1e-6), grad=("data",), id="Convolution-winograd-pad-0-2"),
    Case("Pooling", {"data": ((2, 3, 7, 6), distinct)},
         params=dict(kernel=(3, 2), stride=(2, 1), pool_type="max", pad=(1, 0)), ref=np_pool,
         bad=[("params", {"pool_type": "median"})], id="Pooling-max"),
    Case("Pooling", {"data": ((2, 3, 7, 6), signed)},
         params=dict(kernel=(3, 2), stride=(2, 2), pool_type="avg", pad=(1, 1)), ref=np_pool,
         id="Pooling-avg-include-pad"),
    Case("Pooling", {"data": ((2, 3, 7, 6), signed)},
         params=dict(kernel=(3, 2), stride=(2, 2), pool_type="avg", pad=(1, 1),
                     count_include_pad=False), ref=np_pool, id="Pooling-avg-exclude-pad"),
    Case("Pooling", {"data": ((2, 3, 7, 6), signed)},
         params=dict(kernel=(3, 2), stride=(2, 2), pool_type="sum", pooling_convention="full"),
         ref=np_pool, id="Pooling-sum-full"),
    Case("Pooling", {"data": ((2, 3, 7, 6), distinct)},
         params=dict(kernel=(1, 1), pool_type="max", global_pool=True), ref=np_pool,
         id="Pooling-global-max"),
    Case("Pooling", {"data": ((2, 3, 7, 6), signed)},
         params=dict(kernel=(3, 3), stride=(2, 2), pool_type="avg", pad=(1, 1),
                     pooling_convention="full"), ref=np_pool, id="Pooling-avg-full-pad"),
    Case("Pooling", {"data": ((2, 3, 7, 6), signed)},
         params=dict(kernel=(3, 2), pool_type="avg", global_pool=True), ref=np_pool,
         id="Pooling-global-avg"),
    Case("Pooling", {"data": ((2, 3, 9), distinct)},
         params=dict(kernel=(3,), stride=(2,), pool_type="max", pad=(1,)),
         ref=lambda data, **kw: np_pool(data[:, :, None, :], **dict(
             kw, kernel=(1,) + kw["kernel"], stride=(1,) + kw["stride"],
             pad=(0,) + kw["pad"]))[:, :, 0, :], id="Pooling-1d-max"),
    Case("BatchNorm", {"data": ((2, 3, 5), signed), "gamma": ((3,), positive),
                       "beta": ((3,), signed)},
         aux={"moving_mean": ((3,), signed), "moving_var": ((3,), positive)},
         params=dict(fix_gamma=False, eps=1e-3), is_train=True,
         ref=lambda data, gamma, beta, eps, fix_gamma, **_:
             np_batchnorm_train(data, gamma, beta, eps, fix_gamma),
         bad=[("shapes", {"data": (2, 3, 5), "gamma": (5,), "beta": (3,)})],
         id="BatchNorm-train"),
    Case("BatchNorm", {"data": ((2, 5, 3), signed), "gamma": ((3,), positive),
                       "beta": ((3,), signed)},
         aux={"moving_mean": ((3,), signed), "moving_var": ((3,), positive)},
         params=dict(fix_gamma=False, eps=1e-3, axis=-1), is_train=True,
         ref=lambda data, gamma, beta, eps, fix_gamma, axis, **_:
             np_batchnorm_train(data, gamma, beta, eps, fix_gamma, axis),
         id="BatchNorm-train-last-axis"),
    Case("BatchNorm", {"data": ((2, 3, 5, 4), signed), "gamma": ((3,), positive),
                       "beta": ((3,), signed)},
         aux={"moving_mean": ((3,), signed), "moving_var": ((3,), positive)},
         params=dict(eps=1e-3, use_global_stats=True), is_train=False, grad=("data", "beta"),
         ref=lambda data, gamma, beta, moving_mean, moving_var, eps, **_:
             np_batchnorm_infer(data, gamma, beta, moving_mean, moving_var, eps),
         id="BatchNorm-global-stats-fix-gamma"),
    Case("Dropout", {"data": ((2, 3, 5), signed)}, params=dict(p=0.4),
         ref=lambda data, **_: data, bad=[("params", {"p": 1.5})], id="Dropout-inference"),
    # -- losses: forward only here; their gradients are MXNet's formulas (test_gradients.py)
    Case("SoftmaxOutput", {"data": ((2, 3, 5), signed), "label": ((2,), integers(15))},
         ref=np_softmax_output, grad=(), bad=[("shapes", {"data": (2, 3, 5), "label": (3,)})]),
    Case("SoftmaxOutput", {"data": ((2, 3, 5), signed), "label": ((2, 5), integers(3))},
         params=dict(multi_output=True), ref=np_softmax_output, grad=(),
         id="SoftmaxOutput-multi-output"),
    Case("SoftmaxOutput", {"data": ((2, 3, 5), signed), "label": ((2, 3), integers(5))},
         params=dict(preserve_shape=True), ref=np_softmax_output, grad=(),
         id="SoftmaxOutput-preserve-shape"),
    Case("LinearRegressionOutput", {"data": ((2, 3), signed), "label": ((2, 3), signed)},
         ref=lambda data, label, **_: data, grad=(),
         bad=[("shapes", {"data": (2, 3), "label": (2, 4)}),
              ("shapes", {"data": (2, 3), "label": (3, 2)})]),
    Case("LogisticRegressionOutput", {"data": ((2, 3), signed), "label": ((2, 3), positive)},
         ref=lambda data, label, **_: sigmoid(data), grad=()),
    Case("MAERegressionOutput", {"data": ((2, 3), signed), "label": ((2, 3), signed)},
         ref=lambda data, label, **_: data, grad=()),
    Case("MakeLoss", {"data": ((2, 3, 5), signed)}, ref=lambda data, **_: data, grad=(),
         bad=[("params", {"normalization": "everything"})]),
    Case("BlockGrad", {"data": ((2, 3, 5), signed)}, ref=lambda data: data, zero_grad=True),
    Case("Custom", {"data": ((2, 3, 5), signed)}, params=dict(op_type="test_ops_scaled_tanh", scale=1.5),
         ref=lambda data, scale, **_: scale * np.tanh(data),
         bad=[("params", {"op_type": "test_ops_not_registered"})]),
    # -- shape -----------------------------------------------------------------------------
    Case("Flatten", {"data": ((2, 3, 5), signed)}, ref=lambda data: data.reshape(2, 15)),
    *[Case("Reshape", {"data": ((2, 3, 5), signed)}, params=dict(shape=target),
           ref=lambda data, shape: data.reshape(np_reshape(data.shape, shape)),
           bad=[("params", {"shape": (4, 7)})], id=f"Reshape-{target}")
      for target in ((0, -1), (5, -1), (-3, 0), (-4, 1, 2, -2), (0, 0, 5, 1), (-2,))],
    Case("Reshape", {"data": ((2, 3, 5), signed)}, params=dict(shape=(-1, 0), reverse=True),
         ref=lambda data, **_: data.reshape(6, 5), id="Reshape-reverse"),
    Case("Concat", {"arg0": ((2, 3, 5), signed), "arg1": ((2, 3, 4), signed)},
         params=dict(num_args=2, dim=-1),
         ref=lambda arg0, arg1, **_: np.concatenate([arg0, arg1], axis=-1), id="Concat-last-axis"),
    Case("Concat", {"arg0": ((2, 3, 5), signed), "arg1": ((2, 4, 5), signed),
                    "arg2": ((2, 1, 5), signed)}, params=dict(num_args=3, dim=1),
         ref=lambda arg0, arg1, arg2, **_: np.concatenate([arg0, arg1, arg2], axis=1),
         bad=[("shapes", {"arg0": (2, 3, 5), "arg1": (2, 4, 6), "arg2": (2, 1, 5)})]),
    Case("SliceChannel", {"data": ((2, 3, 5), signed)}, params=dict(num_outputs=3, axis=1),
         ref=lambda data, **_: [data[:, i:i + 1] for i in range(3)],
         bad=[("params", {"num_outputs": 4})]),
    Case("SliceChannel", {"data": ((2, 3, 5), signed)},
         params=dict(num_outputs=5, axis=-1, squeeze_axis=True),
         ref=lambda data, **_: [data[:, :, i] for i in range(5)], id="SliceChannel-squeeze"),
    Case("transpose", {"data": ((2, 3, 5), signed)}, params=dict(axes=(2, 0, 1)),
         ref=lambda data, axes: data.transpose(axes), bad=[("params", {"axes": (0, 0, 1)})]),
    Case("transpose", {"data": ((2, 3, 5), signed)}, ref=lambda data: data.T,
         id="transpose-default"),
    Case("expand_dims", {"data": ((2, 3, 5), signed)}, params=dict(axis=1),
         ref=lambda data, axis: np.expand_dims(data, axis), bad=[("params", {"axis": 5})]),
    Case("expand_dims", {"data": ((2, 3, 5), signed)}, params=dict(axis=-1),
         ref=lambda data, axis: np.expand_dims(data, axis), id="expand_dims-negative"),
    Case("reshape_like", {"lhs": ((2, 3, 5), signed), "rhs": ((5, 6), signed)},
         ref=lambda lhs, rhs: lhs.reshape(rhs.shape),
         bad=[("shapes", {"lhs": (2, 3, 5), "rhs": (4, 7)})]),
    Case("Embedding", {"data": ((2, 3), integers(5)), "weight": ((5, 4), signed)},
         params=dict(input_dim=5, output_dim=4), dtype_params=lambda dt: {"dtype": np.dtype(dt).name},
         ref=lambda data, weight, **_: weight[data.astype(int)],
         bad=[("shapes", {"data": (2, 3), "weight": (6, 4)})]),
    # out-of-range indices are clipped to [0, input_dim - 1], as MXNet's take(mode='clip')
    Case("Embedding", {"data": ((2, 3), lambda r, s: np.array([[0, 7, 2], [-1, 4, 4]], float)),
                       "weight": ((5, 4), signed)},
         params=dict(input_dim=5, output_dim=4), dtype_params=lambda dt: {"dtype": np.dtype(dt).name},
         ref=lambda data, weight, **_: weight[np.clip(data.astype(int), 0, 4)],
         id="Embedding-clip-index"),
    Case("_copy", {"data": ((2, 3, 5), signed)}, ref=lambda data: data),
    Case("zeros_like", {"data": ((2, 3, 5), signed)}, ref=lambda data: np.zeros_like(data),
         zero_grad=True),
    Case("ones_like", {"data": ((2, 3, 5), signed)}, ref=lambda data: np.ones_like(data),
         zero_grad=True),
    # -- reductions and products -------------------------------------------------------------
    *[Case(name, {"data": ((2, 3, 5), distinct)}, params=params, ref=np_reduce(fn),
           bad=[("params", {"axis": 3})],
           id=f"{name}-" + "-".join(f"{k}={v}" for k, v in params.items()) if params else name)
      for name, fn in (("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min))
      for params in ({}, {"axis": 1}, {"axis": (0, 2), "keepdims": True},
                     {"axis": -1, "exclude": True})],
    Case("dot", {"lhs": ((3, 5), signed), "rhs": ((5, 4), signed)}, ref=np_dot,
         bad=[("shapes", {"lhs": (3, 5), "rhs": (4, 5)})]),
    Case("dot", {"lhs": ((5, 3), signed), "rhs": ((4, 5), signed)},
         params=dict(transpose_a=True, transpose_b=True), ref=np_dot, id="dot-ta-tb"),
    Case("dot", {"lhs": ((2, 3, 5), signed), "rhs": ((5, 4), signed)}, ref=np_dot, id="dot-3d"),
    Case("batch_dot", {"lhs": ((2, 3, 5), signed), "rhs": ((2, 5, 4), signed)}, ref=np_batch_dot,
         bad=[("shapes", {"lhs": (2, 3, 5), "rhs": (3, 5, 4)})]),
    Case("batch_dot", {"lhs": ((2, 5, 3), signed), "rhs": ((2, 4, 5), signed)},
         params=dict(transpose_a=True, transpose_b=True), ref=np_batch_dot,
         id="batch_dot-ta-tb"),
    # -- softmax ---------------------------------------------------------------------------
    Case("softmax", {"data": ((2, 3, 5), signed)}, ref=np_softmax,
         bad=[("params", {"axis": 3})]),
    Case("softmax", {"data": ((2, 3, 5), signed)}, params=dict(axis=1, temperature=2.0),
         ref=np_softmax, id="softmax-axis1-temperature"),
    Case("log_softmax", {"data": ((2, 3, 5), signed)}, ref=np_log_softmax),
    Case("log_softmax", {"data": ((2, 3, 5), signed)}, params=dict(axis=0, temperature=0.5),
         ref=np_log_softmax, id="log_softmax-axis0-temperature"),
    # -- element-wise ----------------------------------------------------------------------
    binary("elemwise_add", np.add), binary("elemwise_sub", np.subtract),
    binary("elemwise_mul", np.multiply), binary("elemwise_div", np.divide),
    binary("_power", np.power, gen_l=positive),
    binary("_maximum", np.maximum, gen_l=distinct, gen_r=lambda r, s: distinct(r, s) + 0.05),
    binary("_minimum", np.minimum, gen_l=distinct, gen_r=lambda r, s: distinct(r, s) + 0.05),
    binary("_hypot", np.hypot),
    Case("add_n", {"arg0": ((2, 3, 5), signed), "arg1": ((2, 3, 5), signed),
                   "arg2": ((2, 3, 5), signed)}, params=dict(num_args=3),
         ref=lambda arg0, arg1, arg2, **_: arg0 + arg1 + arg2,
         bad=[("shapes", {"arg0": (2, 3, 5), "arg1": (2, 5, 3), "arg2": (2, 3, 5)})]),
    *[broadcast(name, fn, rhs_shape=shape, **kw)
      for name, fn, kw in (("broadcast_add", np.add, {}), ("broadcast_sub", np.subtract, {}),
                           ("broadcast_mul", np.multiply, {}), ("broadcast_div", np.divide, {}),
                           ("broadcast_power", np.power, {"gen_l": positive}),
                           ("broadcast_maximum", np.maximum, {}),
                           ("broadcast_minimum", np.minimum, {}),
                           ("broadcast_hypot", np.hypot, {}))
      for shape in ((2, 1, 5), (1, 3, 1))],
    # both sides broadcast, and a rhs of lower rank (right-aligned, as NumPy and MXNet 1.x)
    *[broadcast(name, fn, lhs_shape=(2, 1, 5), rhs_shape=(1, 3, 1), **kw)
      for name, fn, kw in (("broadcast_add", np.add, {}), ("broadcast_mul", np.multiply, {}),
                           ("broadcast_div", np.divide, {}),
                           ("broadcast_power", np.power, {"gen_l": positive}),
                           ("broadcast_hypot", np.hypot, {}))],
    *[broadcast(name, fn, rhs_shape=(5,)) for name, fn in (("broadcast_sub", np.subtract),
                                                           ("broadcast_mul", np.multiply))],
    *[broadcast(name, lambda l, r, fn=fn: fn(l, r).astype(np.float64), rhs_shape=(2, 1, 5),
                gen_l=small_ints, gen_r=small_ints, zero_grad=True)
      for name, fn in (("broadcast_equal", np.equal), ("broadcast_not_equal", np.not_equal),
                       ("broadcast_greater", np.greater),
                       ("broadcast_greater_equal", np.greater_equal),
                       ("broadcast_lesser", np.less), ("broadcast_lesser_equal", np.less_equal))],
    scalar("_plus_scalar", lambda x, s: x + s), scalar("_minus_scalar", lambda x, s: x - s),
    scalar("_rminus_scalar", lambda x, s: s - x), scalar("_mul_scalar", lambda x, s: x * s),
    scalar("_div_scalar", lambda x, s: x / s), scalar("_rdiv_scalar", lambda x, s: s / x),
    scalar("_power_scalar", lambda x, s: x ** s, scalar_value=2.5, gen=positive),
    scalar("_rpower_scalar", lambda x, s: s ** x),
    scalar("_maximum_scalar", lambda x, s: np.maximum(x, s), scalar_value=0.05),
    scalar("_minimum_scalar", lambda x, s: np.minimum(x, s), scalar_value=0.05),
    Case("clip", {"data": ((2, 3, 5), distinct)}, params=dict(a_min=-0.45, a_max=0.55),
         ref=lambda data, a_min, a_max: np.clip(data, a_min, a_max),
         bad=[("params", {"a_min": None})]),
    unary("exp", np.exp), unary("log", np.log, gen=positive), unary("sqrt", np.sqrt, gen=positive),
    unary("rsqrt", lambda x: 1 / np.sqrt(x), gen=positive), unary("square", np.square),
    unary("abs", np.abs), unary("sign", np.sign, zero_grad=True),
    unary("relu", lambda x: np.maximum(x, 0)), unary("sigmoid", sigmoid), unary("tanh", np.tanh),
    unary("negative", np.negative), unary("reciprocal", np.reciprocal),
    unary("softsign", lambda x: x / (1 + np.abs(x))),
]

for _module in sorted(pathlib.Path(__file__).parent.glob("opcases_*.py")):
    CASE_LIST += importlib.import_module(_module.stem).CASE_LIST

CASES = {}
for _case in CASE_LIST:
    assert _case.id not in CASES, _case.id
    CASES[_case.id] = _case

CASE_IDS = list(CASES)
VISIBLE_OPS = sorted(op.name for op in all_ops() if not op.hidden)


# ---------------------------------------------------------------------------------------------
# helpers

def variables(case):
    return {n: mx.sym.Variable(n) for n in case.inputs}


def bind(sym, case, dtype, grad_req="null", **names):
    """simple_bind with every input typed explicitly (see test_gradients for why)."""
    shapes = {n: case.inputs[k][0] for k, n in names.items()} if names else \
        {n: s for n, (s, _) in case.inputs.items()}
    types = {n: dtype for n in sym.list_arguments()}
    types.update({n: dtype for n in sym.list_auxiliary_states()})
    return sym.simple_bind(mx.cpu(), grad_req=grad_req, type_dict=types, **shapes)


def params_for(test, dtypes=DTYPES):
    # an op whose output shape depends on its input's values cannot be bound (that refusal is
    # tested in test_sort_gather_ops.py); the other table checks still cover it
    return [pytest.param(cid, dt, id=f"{cid}-{np.dtype(dt).name}")
            for cid in CASE_IDS if get_op(CASES[cid].op).dynamic_shape is None
            and not (test == "survives" and _mutates_inputs(CASES[cid])) for dt in dtypes]


def _mutates_inputs(case):
    """An op updating its inputs in place (an optimizer update's states) changes what a later
    reader of them sees, as in MXNet: test_update_ops.py checks that instead."""
    op = get_op(case.op)
    params = dict(case.params, **case.dtype_params(np.float32))
    if op.variadic:
        params.setdefault(op.variadic, len(case.inputs))
    return bool(op.mutated_inputs(op.parse_params(params)))


def assert_outputs(outputs, expected, dtype, tol_scale=1.0):
    tol = {k: v * tol_scale for k, v in FORWARD_TOL[dtype].items()}
    assert len(outputs) == len(expected)
    for i, (out, exp) in enumerate(zip(outputs, expected)):
        out = np.asarray(out)
        # an integer reference is an integer output (shape_array, index_array): exact; so is a
        # float32 one (all_finite's flag is float32 whatever the data's dtype)
        wanted = exp.dtype if exp.dtype.kind in "iu" or exp.dtype == np.float32 else np.dtype(dtype)
        assert out.dtype == wanted, f"output {i} has dtype {out.dtype}, expected {wanted}"
        assert out.shape == exp.shape, f"output {i} has shape {out.shape}, expected {exp.shape}"
        np.testing.assert_allclose(out, exp, rtol=tol["rtol"], atol=tol["atol"],
                                   err_msg=f"output {i}")


def cast(vals, dtype):
    """Values rounded to dtype, back in float64: the reference sees exactly the kernel's inputs."""
    return {k: v.astype(dtype).astype(np.float64) for k, v in vals.items()}


# ---------------------------------------------------------------------------------------------
# tests

def test_table_covers_registry():
    covered = sorted({case.op for case in CASE_LIST})
    missing = sorted(set(VISIBLE_OPS) - set(covered))
    extra = sorted(set(covered) - set(VISIBLE_OPS))
    assert not missing, f"registered operators without a test case: {missing}"
    assert not extra, f"test cases for operators that are not registered (or hidden): {extra}"


@pytest.mark.parametrize("case_id,dtype", params_for("forward"))
def test_forward(case_id, dtype):
    case = CASES[case_id]
    vals, aux = case.values()
    vals, aux = cast(vals, dtype), cast(aux, dtype)
    sym = case.build(variables(case), dtype)
    exe = bind(sym, case, dtype)
    for n, v in vals.items():
        exe.arg_dict[n][:] = v
    for n, v in aux.items():
        exe.aux_dict[f"{OP_NAME}_{n}"][:] = v
    outputs = exe.forward(is_train=case.is_train)
    assert_outputs(outputs, case.expected(vals, aux), dtype, case.tol_scale)


@pytest.mark.parametrize("grad_req", ["null", "write"], ids=["inference-bind", "training-bind"])
@pytest.mark.parametrize("case_id,dtype", params_for("inplace"))
def test_forward_inside_graph(case_id, dtype, grad_req):
    """op(v0 * 2, v1 * 2, ...) at v/2: every input is an intermediate the planner may reuse
    in place; the result must equal the op alone.  A second, unrelated reader of the doubled
    input (`+ 0 * sum`) is not added on purpose: the input must die at the op."""
    case = CASES[case_id]
    vals, aux = case.values()
    vals, aux = cast(vals, dtype), cast(aux, dtype)
    raw = {n: mx.sym.Variable(f"{n}_half") for n in case.inputs}
    sym = case.build({n: v * 2 for n, v in raw.items()}, dtype)
    # and one more op after it, so its output is an intermediate too (a uint8 flag, which no
    # arithmetic takes, goes through a Cast to its own dtype)
    heads = list(sym) if len(sym.list_outputs()) > 1 else [sym]
    outs = [mx.sym.Cast(o, dtype="uint8") if e.dtype == np.uint8 else o * 1
            for o, e in zip(heads, case.expected(vals, aux))]
    graph = mx.sym.Group(outs) if len(outs) > 1 else outs[0]
    exe = bind(graph, case, dtype, grad_req=grad_req, **{n: f"{n}_half" for n in case.inputs})
    for n, v in vals.items():
        exe.arg_dict[f"{n}_half"][:] = v / 2   # exact in binary floating point
    for n, v in aux.items():
        exe.aux_dict[f"{OP_NAME}_{n}"][:] = v
    outputs = exe.forward(is_train=case.is_train)
    assert_outputs(outputs, case.expected(vals, aux), dtype, case.tol_scale)
    # and again: a second forward through the same planned buffers gives the same result
    outputs = exe.forward(is_train=case.is_train)
    assert_outputs(outputs, case.expected(vals, aux), dtype, case.tol_scale)


@pytest.mark.parametrize("case_id,dtype", params_for("survives"))
def test_input_read_after_op_is_not_overwritten(case_id, dtype):
    """u = v * 2 is read again after op(u) has run (u * sum(op(u))): an op that writes into
    its input in place must not be given u's buffer, since u is still live."""
    case = CASES[case_id]
    vals, aux = case.values()
    vals, aux = cast(vals, dtype), cast(aux, dtype)
    raw = {n: mx.sym.Variable(f"{n}_half") for n in case.inputs}
    doubled = {n: v * 2 for n, v in raw.items()}
    sym = case.build(doubled, dtype)
    first = sym[0] if len(sym.list_outputs()) > 1 else sym
    total = mx.sym.sum(mx.sym.Cast(first, dtype=np.dtype(dtype).name))   # index outputs are int64
    later = [mx.sym.broadcast_mul(u, total) for u in doubled.values()]
    exe = bind(mx.sym.Group([first] + later), case, dtype,
               **{n: f"{n}_half" for n in case.inputs})
    for n, v in vals.items():
        exe.arg_dict[f"{n}_half"][:] = v / 2
    for n, v in aux.items():
        exe.aux_dict[f"{OP_NAME}_{n}"][:] = v
    outputs = exe.forward(is_train=case.is_train)
    expected_first = case.expected(vals, aux)[0]
    # summed in the test's dtype, as the graph's Cast does (to_tensor's output is float32)
    total = expected_first.astype(dtype).sum()
    expected = [expected_first] + [vals[n] * total for n in case.inputs]
    assert_outputs(outputs, expected, dtype, case.tol_scale * 10)


def doubled_graph(case):
    """op(v0 * 2, v1 * 2, ...) * 3 at v/2: forward and backward buffers may be aliased."""
    raw = {n: mx.sym.Variable(f"{n}_half") for n in case.inputs}
    sym = case.build({n: v * 2 for n, v in raw.items()})
    outs = [o * 3 for o in sym] if len(sym.list_outputs()) > 1 else [sym * 3]
    return mx.sym.Group(outs) if len(outs) > 1 else outs[0]


GRAD_CASES = [cid for cid in CASE_IDS if CASES[cid].grad_inputs() and not CASES[cid].zero_grad]
ZERO_GRAD_CASES = [cid for cid in CASE_IDS if CASES[cid].zero_grad]


@pytest.mark.parametrize("case_id", GRAD_CASES)
def test_gradient_finite_differences(case_id):
    case = CASES[case_id]
    vals, aux = case.values()
    sym = case.build(variables(case))
    rtol, atol = case.grad_tol
    aux = {f"{OP_NAME}_{n}": v for n, v in aux.items()}
    check_numeric_gradient(sym, vals, aux_states=aux or None, grad_nodes=case.grad_inputs(),
                           use_forward_train=True, numeric_eps=2e-6,
                           rtol=rtol, atol=atol, dtype=np.float64)


@pytest.mark.parametrize("case_id", GRAD_CASES)
def test_gradient_inside_graph(case_id):
    """The same finite-difference check with the op between two other ops, so the planner can
    hand it (and its backward) buffers that are reused in place."""
    case = CASES[case_id]
    vals, aux = case.values()
    aux = {f"{OP_NAME}_{n}": v for n, v in aux.items()}
    rtol, atol = case.grad_tol
    check_numeric_gradient(doubled_graph(case), {f"{n}_half": v / 2 for n, v in vals.items()},
                           aux_states=aux or None,
                           grad_nodes=[f"{n}_half" for n in case.grad_inputs()], numeric_eps=2e-6,
                           rtol=rtol, atol=atol, dtype=np.float64)


@pytest.mark.parametrize("case_id", GRAD_CASES)
def test_gradient_float32_matches_float64(case_id):
    """The float32 backward kernels give the float64 gradient to float32 accuracy."""
    case = CASES[case_id]
    vals, aux = case.values()
    vals, aux = cast(vals, np.float32), cast(aux, np.float32)
    grads = {}
    for dtype in (np.float32, np.float64):
        sym = case.build(variables(case), dtype)
        exe = bind(sym, case, dtype, grad_req="write")
        for n, v in vals.items():
            exe.arg_dict[n][:] = v
        for n, v in aux.items():
            exe.aux_dict[f"{OP_NAME}_{n}"][:] = v
        mx.random.seed(11)
        outs = exe.forward(is_train=True)
        heads = [np.random.default_rng(1).standard_normal(o.shape).astype(np.float32).astype(dtype)
                 for o in outs]
        exe.backward(heads)
        grads[dtype] = {n: np.array(exe.grad_dict[n]) for n in case.grad_inputs()}
    for n in case.grad_inputs():
        g32, g64 = grads[np.float32][n], grads[np.float64][n]
        assert g32.dtype == np.float32, n
        scale = max(np.abs(g64).max(), 1e-30)
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5 * scale, err_msg=n)


@pytest.mark.parametrize("case_id", GRAD_CASES)
def test_gradient_add_accumulates(case_id):
    """grad_req='add': two backward passes onto a starting gradient add twice the gradient
    that grad_req='write' gives (the executor writes each gradient aside, then adds it)."""
    case = CASES[case_id]
    vals, aux = case.values()
    rng = np.random.default_rng(2)
    start = {n: rng.standard_normal(case.inputs[n][0]) for n in case.grad_inputs()}
    grads = {}
    for grad_req in ("write", "add"):
        exe = bind(case.build(variables(case)), case, np.float64, grad_req=grad_req)
        for n, v in vals.items():
            exe.arg_dict[n][:] = v
        if grad_req == "add":
            for n, v in start.items():
                exe.grad_dict[n][:] = v
        for _ in range(1 if grad_req == "write" else 2):
            for n, v in aux.items():
                exe.aux_dict[f"{OP_NAME}_{n}"][:] = v
            mx.random.seed(11)
            outs = exe.forward(is_train=True)
            exe.backward([np.random.default_rng(1).standard_normal(o.shape) for o in outs])
        grads[grad_req] = {n: np.array(exe.grad_dict[n]) for n in case.grad_inputs()}
    for n in case.grad_inputs():
        np.testing.assert_allclose(grads["add"][n], start[n] + 2 * grads["write"][n], rtol=1e-12,
                                   atol=1e-12, err_msg=n)


@pytest.mark.parametrize("case_id,dtype", [
    pytest.param(c, dt, id=f"{c}-{np.dtype(dt).name}")
    for c in ZERO_GRAD_CASES for dt in DTYPES])
def test_gradient_zero(case_id, dtype):
    """Ops whose derivative is zero almost everywhere (sign, comparisons, BlockGrad...) give a
    zero gradient, not an error."""
    case = CASES[case_id]
    vals, _ = case.values()
    sym = case.build(variables(case), dtype)
    exe = bind(sym, case, dtype, grad_req="write")
    for n, v in vals.items():
        exe.arg_dict[n][:] = v
    outs = exe.forward(is_train=True)
    exe.backward([np.ones(o.shape, dtype) for o in outs])
    for n in case.inputs:
        grad = exe.grad_dict.get(n)
        if grad is not None:
            np.testing.assert_array_equal(grad, np.zeros(case.inputs[n][0]), err_msg=n)


@pytest.mark.parametrize("op_name", VISIBLE_OPS)
def test_unknown_parameter_names_operator(op_name):
    case = next(c for c in CASE_LIST if c.op == op_name)
    with pytest.raises(MXNetError) as info:
        case.build(variables(case), no_such_param=3)
    message = str(info.value)
    assert op_name in message and "no_such_param" in message and OP_NAME in message


BAD_CASES = [pytest.param(cid, i, id=f"{cid}-{kind}{i}")
             for cid in CASE_IDS for i, (kind, _) in enumerate(CASES[cid].bad)]


@pytest.mark.parametrize("case_id,index", BAD_CASES)
def test_bad_parameters_or_shapes(case_id, index):
    case = CASES[case_id]
    kind, value = case.bad[index]
    with pytest.raises(MXNetError) as info:
        if kind == "params":
            sym = case.build(variables(case), **value)
            sym.infer_shape(**{n: s for n, (s, _) in case.inputs.items()})
        else:
            sym = case.build(variables(case))
            sym.infer_shape(**value)
    message = str(info.value)
    assert case.op in message or OP_NAME in message, message
