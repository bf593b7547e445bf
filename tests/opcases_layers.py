"""Registry-table rows for the layers of cysym/ops/layers.py, with NumPy references written
from MXNet's documented formulas (not from the kernels)."""
import itertools

import numpy as np

from opcase import Case, positive, signed


# ---------------------------------------------------------------------------------------------
# NumPy references

def np_layer_norm(data, gamma, beta, axis=-1, eps=1e-5, output_mean_var=False):
    axis %= data.ndim
    shape = [1] * data.ndim
    shape[axis] = data.shape[axis]
    mean = data.mean(axis=axis, keepdims=True)
    std = np.sqrt(data.var(axis=axis, keepdims=True) + eps)
    out = (data - mean) / std * gamma.reshape(shape) + beta.reshape(shape)
    return [out, mean, std] if output_mean_var else out


def np_instance_norm(data, gamma, beta, eps=1e-3):
    axes = tuple(range(2, data.ndim))
    shape = (1, -1) + (1,) * (data.ndim - 2)
    mean = data.mean(axis=axes, keepdims=True)
    var = data.var(axis=axes, keepdims=True)
    return gamma.reshape(shape) * (data - mean) / np.sqrt(var + eps) + beta.reshape(shape)


def np_l2_normalization(data, mode="instance", eps=1e-10):
    if mode == "instance":
        axes = tuple(range(1, data.ndim))
    elif mode == "channel":
        axes = (1,)
    else:
        axes = tuple(range(2, data.ndim))
    return data / np.sqrt((data ** 2).sum(axis=axes, keepdims=True) + eps)


def np_lrn(data, nsize, alpha=1e-4, beta=0.75, knorm=2.0):
    channels = data.shape[1]
    half = nsize // 2
    square = data ** 2
    norm = np.empty_like(data)
    for c in range(channels):
        lo, hi = max(0, c - half), min(channels, c + half + 1)
        norm[:, c] = knorm + alpha / nsize * square[:, lo:hi].sum(axis=1)
    return data * norm ** -beta


def np_softmax_activation(data, mode="instance"):
    if mode == "instance":
        flat = data.reshape(data.shape[0], -1)
        e = np.exp(flat - flat.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).reshape(data.shape)
    e = np.exp(data - data.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_upsampling(scale, num_args, multi_input_mode="concat", **kw):
    arrays = [kw[f"arg{i}"] for i in range(num_args)]
    out_h, out_w = arrays[0].shape[2] * scale, arrays[0].shape[3] * scale
    pieces = [np.repeat(np.repeat(x, out_h // x.shape[2], axis=2), out_w // x.shape[3], axis=3)
              for x in arrays]
    return sum(pieces) if multi_input_mode == "sum" else np.concatenate(pieces, axis=1)


def deconv_pad_adj(in_spatial, kernel, stride, dilate, pad, adj, target_shape):
    """MXNet's DeconvolutionParam::InferPad: target_shape overrides pad and adj."""
    if target_shape and any(target_shape):
        total = [s * (n - 1) + d * (k - 1) + 1 - t
                 for n, k, s, d, t in zip(in_spatial, kernel, stride, dilate, target_shape)]
        return tuple((t + 1) // 2 for t in total), tuple(t % 2 for t in total)
    return pad, adj


def np_deconv(x, w, b, kernel, stride=None, dilate=None, pad=None, adj=None, target_shape=None,
              num_group=1):
    """Transposed convolution by scattering each input pixel's contribution (N, C, [H,] W)."""
    nd = len(kernel)
    stride = tuple(stride or (1,) * nd)
    dilate = tuple(dilate or (1,) * nd)
    pad = tuple(pad or (0,) * nd)
    adj = tuple(adj or (0,) * nd)
    pad, adj = deconv_pad_adj(x.shape[2:], kernel, stride, dilate, pad, adj, target_shape)
    if nd == 1:
        x, w = x[:, :, None, :], w[:, :, None, :]
        kernel, stride, dilate = (1,) + tuple(kernel), (1,) + stride, (1,) + dilate
        pad, adj = (0,) + pad, (0,) + adj
    n, c, h, wd = x.shape
    fg = w.shape[1]
    f = fg * num_group
    cg = c // num_group
    full = [s * (size - 1) + d * (k - 1) + 1 + a
            for size, s, d, k, a in zip((h, wd), stride, dilate, kernel, adj)]
    out = np.zeros((n, f) + tuple(full))
    for g in range(num_group):
        xs = x[:, g * cg:(g + 1) * cg]
        ws = w[g * cg:(g + 1) * cg]
        for i, j in itertools.product(range(kernel[0]), range(kernel[1])):
            r0, c0 = i * dilate[0], j * dilate[1]
            out[:, g * fg:(g + 1) * fg, r0:r0 + stride[0] * (h - 1) + 1:stride[0],
                c0:c0 + stride[1] * (wd - 1) + 1:stride[1]] += \
                np.einsum("nchw,cf->nfhw", xs, ws[:, :, i, j])
    out = out[:, :, pad[0]:full[0] - pad[0], pad[1]:full[1] - pad[1]]
    if b is not None:
        out = out + b[None, :, None, None]
    return out[:, :, 0, :] if nd == 1 else out


def _deconv_ref(data, weight, bias=None, kernel=None, stride=None, dilate=None, pad=None,
                adj=None, target_shape=None, num_group=1, **_):
    return np_deconv(data, weight, bias, kernel, stride, dilate, pad, adj, target_shape, num_group)


# ---------------------------------------------------------------------------------------------
# the rows

CASE_LIST = [
    # -- LayerNorm -------------------------------------------------------------------------
    Case("LayerNorm", {"data": ((2, 3, 5), signed), "gamma": ((5,), positive),
                       "beta": ((5,), signed)}, ref=np_layer_norm,
         bad=[("shapes", {"data": (2, 3, 5), "gamma": (3,), "beta": (5,)}),
              ("params", {"axis": 3})]),
    Case("LayerNorm", {"data": ((2, 3, 5), signed), "gamma": ((3,), positive),
                       "beta": ((3,), signed)}, params=dict(axis=1, eps=1e-3),
         ref=np_layer_norm, id="LayerNorm-axis1"),
    # mean and std as outputs: no gradient flows through them (as MXNet), so only the forward
    # and the in-place checks apply
    Case("LayerNorm", {"data": ((2, 3, 5), signed), "gamma": ((3,), positive),
                       "beta": ((3,), signed)}, params=dict(axis=-2, output_mean_var=True),
         ref=np_layer_norm, grad=(), id="LayerNorm-output-mean-var"),
    # -- InstanceNorm ----------------------------------------------------------------------
    Case("InstanceNorm", {"data": ((2, 3, 5), signed), "gamma": ((3,), positive),
                          "beta": ((3,), signed)}, ref=np_instance_norm,
         bad=[("shapes", {"data": (2, 3, 5), "gamma": (5,), "beta": (3,)}),
              ("shapes", {"data": (2, 3)})]),
    Case("InstanceNorm", {"data": ((2, 3, 4, 5), signed), "gamma": ((3,), positive),
                          "beta": ((3,), signed)}, params=dict(eps=1e-2), ref=np_instance_norm,
         id="InstanceNorm-4d"),
    # -- L2Normalization -------------------------------------------------------------------
    Case("L2Normalization", {"data": ((2, 3, 5), signed)}, ref=np_l2_normalization,
         bad=[("params", {"mode": "batch"})]),
    Case("L2Normalization", {"data": ((2, 3, 5), signed)}, params=dict(mode="channel"),
         ref=np_l2_normalization, bad=[("shapes", {"data": (2, 3)})],
         id="L2Normalization-channel"),
    Case("L2Normalization", {"data": ((2, 3, 4, 5), signed)}, params=dict(mode="spatial",
                                                                          eps=1e-3),
         ref=np_l2_normalization, id="L2Normalization-spatial"),
    # -- LRN -------------------------------------------------------------------------------
    Case("LRN", {"data": ((2, 5, 3, 4), signed)},
         params=dict(nsize=3, alpha=0.5, beta=0.75, knorm=1.5), ref=np_lrn,
         bad=[("params", {"nsize": 4}), ("shapes", {"data": (2, 5, 3)})]),
    Case("LRN", {"data": ((2, 7, 3, 2), signed)}, params=dict(nsize=5), ref=np_lrn,
         id="LRN-defaults"),
    # -- SoftmaxActivation -----------------------------------------------------------------
    Case("SoftmaxActivation", {"data": ((2, 3, 5), signed)}, ref=np_softmax_activation,
         bad=[("params", {"mode": "spatial"})]),
    Case("SoftmaxActivation", {"data": ((2, 3, 5), signed)}, params=dict(mode="channel"),
         ref=np_softmax_activation, bad=[("shapes", {"data": (2, 3)})],
         id="SoftmaxActivation-channel"),
    # -- UpSampling ------------------------------------------------------------------------
    Case("UpSampling", {"arg0": ((2, 3, 2, 3), signed)},
         params=dict(scale=2, sample_type="nearest", num_args=1), ref=np_upsampling,
         bad=[("params", {"sample_type": "bilinear"}), ("params", {"scale": 0})]),
    Case("UpSampling", {"arg0": ((2, 3, 2, 3), signed), "arg1": ((2, 2, 1, 3), signed)},
         params=dict(scale=2, sample_type="nearest", num_args=2), ref=np_upsampling,
         bad=[("shapes", {"arg0": (2, 3, 2, 3), "arg1": (2, 2, 3, 3)})],
         id="UpSampling-concat"),
    Case("UpSampling", {"arg0": ((2, 3, 2, 3), signed), "arg1": ((2, 3, 4, 2), signed)},
         params=dict(scale=2, sample_type="nearest", num_args=2, multi_input_mode="sum"),
         ref=np_upsampling, bad=[("shapes", {"arg0": (2, 3, 2, 3), "arg1": (2, 4, 4, 2)})],
         id="UpSampling-sum"),
    # -- Deconvolution ---------------------------------------------------------------------
    Case("Deconvolution", {"data": ((2, 4, 3, 5), signed), "weight": ((4, 3, 3, 2), signed),
                           "bias": ((3,), signed)},
         params=dict(kernel=(3, 2), num_filter=3, stride=(2, 1), pad=(1, 0), adj=(1, 0),
                     no_bias=False), ref=_deconv_ref,
         bad=[("params", {"adj": (2, 0)}),
              ("shapes", {"data": (2, 4, 3, 5), "weight": (4, 2, 3, 2), "bias": (3,)}),
              ("params", {"kernel": (3, 2, 2, 2)})], id="Deconvolution-stride-pad-adj"),
    Case("Deconvolution", {"data": ((2, 4, 3, 5), signed), "weight": ((4, 3, 2, 3), signed)},
         params=dict(kernel=(2, 3), num_filter=6, dilate=(1, 2), stride=(2, 3), num_group=2),
         ref=_deconv_ref, bad=[("params", {"num_group": 3})], id="Deconvolution-dilate-group"),
    Case("Deconvolution", {"data": ((2, 3, 3, 4), signed), "weight": ((3, 2, 4, 3), signed)},
         params=dict(kernel=(4, 3), num_filter=2, stride=(2, 2), target_shape=(7, 9)),
         ref=_deconv_ref, bad=[("params", {"target_shape": (20, 9)})],
         id="Deconvolution-target-shape"),
    Case("Deconvolution", {"data": ((2, 3, 5), signed), "weight": ((3, 4, 3), signed),
                           "bias": ((4,), signed)},
         params=dict(kernel=(3,), num_filter=4, stride=(2,), pad=(1,), no_bias=False),
         ref=_deconv_ref, id="Deconvolution-1d"),
]
