"""Registry-table rows for 3-D Convolution, Deconvolution and Pooling, and for Pooling's lp
type, 'same' convention and channels-last layouts (cysym/ops/conv.py, cysym/ops/layers.py).

References are direct N-dimensional loops written from MXNet's formulas (convolution.cc,
deconvolution-inl.h, pool.h), independent of the im2col kernels."""
import itertools
import math

import numpy as np

from opcase import Case, distinct, positive, signed


def _fill(values, ndim, default):
    return tuple(values) if values else (default,) * ndim


def np_conv_nd(data, weight, bias=None, kernel=(), stride=(), dilate=(), pad=(), num_group=1,
               **_):
    """y[n, f, o...] = sum over c, k... of x_padded[n, c, o*s + k*d] * w[f, c, k...] + b[f]."""
    nd = len(kernel)
    stride, dilate, pad = _fill(stride, nd, 1), _fill(dilate, nd, 1), _fill(pad, nd, 0)
    xp = np.pad(data, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    out_sp = [(n + 2 * p - d * (k - 1) - 1) // s + 1
              for n, k, s, d, p in zip(data.shape[2:], kernel, stride, dilate, pad)]
    f = weight.shape[0]
    cg, fg = data.shape[1] // num_group, f // num_group
    out = np.zeros((data.shape[0], f) + tuple(out_sp))
    for g in range(num_group):
        for offs in itertools.product(*[range(k) for k in kernel]):
            window = tuple(slice(o * d, o * d + s * (m - 1) + 1, s)
                           for o, d, s, m in zip(offs, dilate, stride, out_sp))
            patch = xp[(slice(None), slice(g * cg, (g + 1) * cg)) + window]
            out[:, g * fg:(g + 1) * fg] += np.einsum(
                "nc...,fc->nf...", patch, weight[(slice(g * fg, (g + 1) * fg), slice(None)) + offs])
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * nd)
    return out


def np_deconv_nd(data, weight, bias=None, kernel=(), stride=(), dilate=(), pad=(), adj=(),
                 num_group=1, **_):
    """Each input position scatters weight[c] into the (un-padded) output, then pad is cut."""
    nd = len(kernel)
    stride, dilate = _fill(stride, nd, 1), _fill(dilate, nd, 1)
    pad, adj = _fill(pad, nd, 0), _fill(adj, nd, 0)
    full = [s * (n - 1) + d * (k - 1) + 1 + a
            for n, k, s, d, a in zip(data.shape[2:], kernel, stride, dilate, adj)]
    fg = weight.shape[1]
    cg = data.shape[1] // num_group
    out = np.zeros((data.shape[0], fg * num_group) + tuple(full))
    for g in range(num_group):
        for offs in itertools.product(*[range(k) for k in kernel]):
            window = tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                           for o, d, s, n in zip(offs, dilate, stride, data.shape[2:]))
            out[(slice(None), slice(g * fg, (g + 1) * fg)) + window] += np.einsum(
                "nc...,cf->nf...", data[:, g * cg:(g + 1) * cg],
                weight[(slice(g * cg, (g + 1) * cg), slice(None)) + offs])
    out = out[(slice(None), slice(None)) + tuple(slice(p, n - p) for p, n in zip(pad, full))]
    if bias is not None:
        out = out + bias.reshape((1, -1) + (1,) * nd)
    return out


def np_pool_nd(data, kernel=(), pool_type="max", stride=(), pad=(), global_pool=False,
               pooling_convention="valid", count_include_pad=None, p_value=None, layout=None,
               **_):
    """pool.h: window [o*s - p, min(o*s - p + k, size + p)) clipped to the input; avg divides
    by the window clipped to the padded input (count_include_pad) or to the input."""
    channels_last = layout in ("NWC", "NHWC", "NDHWC")
    x = np.moveaxis(data, -1, 1) if channels_last else data
    spatial = x.shape[2:]
    nd = len(spatial)
    if global_pool:
        kernel, stride, pad = spatial, (1,) * nd, (0,) * nd
    stride, pad = _fill(stride, nd, 1), _fill(pad, nd, 0)
    if pooling_convention == "valid":
        out_sp = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(spatial, kernel, stride, pad)]
    elif pooling_convention == "full":
        out_sp = [math.ceil((n + 2 * p - k) / s) + 1
                  for n, k, s, p in zip(spatial, kernel, stride, pad)]
    else:
        out_sp = [math.ceil((n + 2 * p) / s) for n, s, p in zip(spatial, stride, pad)]
    out = np.zeros(x.shape[:2] + tuple(out_sp))
    for pos in itertools.product(*[range(o) for o in out_sp]):
        starts = [o * s - p for o, s, p in zip(pos, stride, pad)]
        ends = [min(a + k, n + p) for a, k, n, p in zip(starts, kernel, spatial, pad)]
        padded = math.prod(e - a for a, e in zip(starts, ends))
        starts = [max(a, 0) for a in starts]
        ends = [min(e, n) for e, n in zip(ends, spatial)]
        window = x[(slice(None), slice(None)) + tuple(slice(a, e) for a, e in zip(starts, ends))]
        window = window.reshape(x.shape[:2] + (-1,))
        index = (slice(None), slice(None)) + pos
        if pool_type == "max":
            out[index] = window.max(axis=2)
        elif pool_type == "sum":
            out[index] = window.sum(axis=2)
        elif pool_type == "lp":
            out[index] = np.cbrt((window ** 3).sum(axis=2)) if p_value == 3 else \
                ((window ** p_value).sum(axis=2)) ** (1.0 / p_value)
        else:
            real = math.prod(e - a for a, e in zip(starts, ends))
            out[index] = window.sum(axis=2) / (real if count_include_pad is False else padded)
    return np.moveaxis(out, 1, -1) if channels_last else out


def np_upsampling_bilinear(data, weight, scale, **_):
    """MXNet's UpSamplingBilinear: a Deconvolution with one group per channel."""
    kernel = 2 * scale - scale % 2
    return np_deconv_nd(data, weight, kernel=(kernel, kernel), stride=(scale, scale),
                        pad=((scale - 1 + 1) // 2,) * 2, num_group=data.shape[1])


def _positive_sum(rng, shape):
    """Values with a margin above 0 for lp pooling with p = 3 (a cube root at 0 has no slope)."""
    return positive(rng, shape, 0.3, 1.5)


CASE_LIST = [
    # -- 3-D Convolution --------------------------------------------------------------------
    Case("Convolution", {"data": ((2, 3, 5, 6, 4), signed), "weight": ((4, 3, 2, 3, 2), signed),
                         "bias": ((4,), signed)},
         params=dict(kernel=(2, 3, 2), num_filter=4, stride=(2, 1, 2), pad=(1, 0, 1)),
         ref=np_conv_nd,
         bad=[("shapes", {"data": (2, 3, 5, 6), "weight": (4, 3, 2, 3, 2), "bias": (4,)}),
              ("params", {"layout": "NDHWC"}), ("params", {"layout": "NCHW"})],
         id="Convolution-3d-stride-pad"),
    Case("Convolution", {"data": ((2, 4, 4, 6, 5), signed), "weight": ((6, 2, 2, 2, 3), signed)},
         params=dict(kernel=(2, 2, 3), num_filter=6, num_group=2, dilate=(1, 2, 1),
                     no_bias=True, layout="NCDHW"),
         ref=np_conv_nd, id="Convolution-3d-dilate-group"),
    # 1x1 kernels at batch 1: the kernels' pointwise path (GEMMs on the arrays, no im2col)
    Case("Convolution", {"data": ((1, 6, 5, 7), signed), "weight": ((9, 2, 1, 1), signed),
                         "bias": ((9,), signed)},
         params=dict(kernel=(1, 1), num_filter=9, num_group=3), ref=np_conv_nd,
         id="Convolution-1x1-group"),
    Case("Convolution", {"data": ((1, 4, 3, 2, 5), signed), "weight": ((6, 4, 1, 1, 1), signed)},
         params=dict(kernel=(1, 1, 1), num_filter=6, no_bias=True), ref=np_conv_nd,
         id="Convolution-3d-1x1x1"),
    # -- 3-D Deconvolution -----------------------------------------------------------------
    Case("Deconvolution", {"data": ((2, 4, 3, 2, 4), signed), "weight": ((4, 3, 2, 3, 2), signed),
                           "bias": ((3,), signed)},
         params=dict(kernel=(2, 3, 2), num_filter=3, stride=(2, 1, 2), pad=(1, 1, 0),
                     adj=(1, 0, 1), no_bias=False),
         ref=np_deconv_nd,
         bad=[("params", {"adj": (2, 0, 1)}), ("params", {"layout": "NDHWC"})],
         id="Deconvolution-3d-stride-pad-adj"),
    Case("Deconvolution", {"data": ((2, 4, 2, 3, 3), signed), "weight": ((4, 1, 2, 2, 3), signed)},
         params=dict(kernel=(2, 2, 3), num_filter=2, num_group=2, dilate=(2, 1, 1)),
         ref=np_deconv_nd, id="Deconvolution-3d-dilate-group"),
    Case("Deconvolution", {"data": ((1, 6, 5, 7), signed), "weight": ((6, 3, 1, 1), signed),
                           "bias": ((9,), signed)},
         params=dict(kernel=(1, 1), num_filter=9, num_group=3, no_bias=False),
         ref=np_deconv_nd, id="Deconvolution-1x1-group"),
    # -- 3-D Pooling -----------------------------------------------------------------------
    Case("Pooling", {"data": ((2, 3, 5, 4, 6), distinct)},
         params=dict(kernel=(2, 3, 2), stride=(2, 1, 2), pad=(1, 1, 0)), ref=np_pool_nd,
         bad=[("params", {"kernel": (2, 3)}), ("params", {"layout": "NCHW"})],
         id="Pooling-3d-max"),
    Case("Pooling", {"data": ((2, 3, 5, 4, 6), signed)},
         params=dict(kernel=(3, 2, 3), stride=(2, 2, 2), pad=(1, 1, 1), pool_type="avg",
                     pooling_convention="full", count_include_pad=False),
         ref=np_pool_nd, id="Pooling-3d-avg-full-exclude-pad"),
    Case("Pooling", {"data": ((2, 3, 4, 2, 6), signed)},
         params=dict(kernel=(1, 2, 2), stride=(1, 2, 2), pool_type="avg"), ref=np_pool_nd,
         id="Pooling-3d-avg-2x2-slices"),
    Case("Pooling", {"data": ((2, 3, 4, 2, 6), distinct)},
         params=dict(kernel=(1, 2, 2), stride=(1, 2, 2)), ref=np_pool_nd,
         id="Pooling-3d-max-2x2-slices"),
    Case("Pooling", {"data": ((2, 3, 5, 4, 6), signed)},
         params=dict(global_pool=True, pool_type="sum"), ref=np_pool_nd,
         id="Pooling-3d-global-sum"),
    # -- lp pooling ------------------------------------------------------------------------
    Case("Pooling", {"data": ((2, 3, 7, 6), signed)},
         params=dict(kernel=(3, 2), stride=(2, 2), pad=(1, 0), pool_type="lp", p_value=2),
         ref=np_pool_nd, bad=[("params", {"p_value": 4}), ("params", {"p_value": None})],
         id="Pooling-lp2"),
    Case("Pooling", {"data": ((2, 3, 7, 6), signed)},
         params=dict(kernel=(2, 3), stride=(1, 2), pool_type="lp", p_value=1), ref=np_pool_nd,
         id="Pooling-lp1"),
    Case("Pooling", {"data": ((2, 3, 5, 4, 6), _positive_sum)},
         params=dict(kernel=(2, 2, 3), stride=(2, 1, 2), pool_type="lp", p_value=3),
         ref=np_pool_nd, grad_tol=(1e-5, 1e-7), id="Pooling-3d-lp3"),
    # -- pooling_convention='same' (1-D only, as in MXNet) ---------------------------------
    Case("Pooling", {"data": ((2, 3, 9), distinct)},
         params=dict(kernel=(3,), stride=(2,), pooling_convention="same"), ref=np_pool_nd,
         bad=[("params", {"pad": (1,)}), ("shapes", {"data": (2, 3, 9, 5)})],
         id="Pooling-same-max"),
    Case("Pooling", {"data": ((2, 3, 8), signed)},
         params=dict(kernel=(4,), stride=(3,), pooling_convention="same", pool_type="avg"),
         ref=np_pool_nd, id="Pooling-same-avg"),
    # MXNet 1.9.1 itself only runs 'same' given three zero pads (its check reads pad[0..2])
    Case("Pooling", {"data": ((2, 3, 8), signed)},
         params=dict(kernel=(3,), stride=(2,), pooling_convention="same", pool_type="sum",
                     pad=(0, 0, 0)),
         ref=np_pool_nd, id="Pooling-same-sum-pad3"),
    # -- UpSampling bilinear -----------------------------------------------------------------
    Case("UpSampling", {"data": ((2, 3, 2, 4), signed), "weight": ((3, 1, 4, 4), signed)},
         params=dict(scale=2, sample_type="bilinear", num_filter=3),
         ref=np_upsampling_bilinear,
         bad=[("params", {"num_filter": 4}),
              ("shapes", {"data": (2, 3, 2, 4), "weight": (3, 1, 3, 3)}),
              ("shapes", {"data": (2, 3, 4)})],
         id="UpSampling-bilinear-scale2"),
    Case("UpSampling", {"data": ((2, 2, 3, 2), signed), "weight": ((2, 1, 5, 5), signed)},
         params=dict(scale=3, sample_type="bilinear", num_filter=2, num_args=2),
         ref=np_upsampling_bilinear, id="UpSampling-bilinear-scale3"),
    # -- channels-last layouts -------------------------------------------------------------
    Case("Pooling", {"data": ((2, 7, 6, 3), distinct)},
         params=dict(kernel=(3, 2), stride=(2, 2), pad=(1, 0), layout="NHWC"), ref=np_pool_nd,
         bad=[("params", {"layout": "NDHWC"})], id="Pooling-nhwc-max"),
    Case("Pooling", {"data": ((2, 9, 3), signed)},
         params=dict(kernel=(3,), stride=(2,), pad=(1,), pool_type="avg", layout="NWC"),
         ref=np_pool_nd, id="Pooling-nwc-avg"),
    Case("Pooling", {"data": ((2, 5, 4, 6, 3), signed)},
         params=dict(kernel=(2, 2, 3), stride=(2, 1, 2), pool_type="lp", p_value=2,
                     layout="NDHWC"),
         ref=np_pool_nd, id="Pooling-ndhwc-lp2"),
    Case("Pooling", {"data": ((2, 5, 4, 3), signed)},
         params=dict(global_pool=True, pool_type="avg", layout="NHWC"), ref=np_pool_nd,
         id="Pooling-nhwc-global-avg"),
]
