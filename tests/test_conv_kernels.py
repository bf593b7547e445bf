"""Convolution, Pooling and BatchNorm kernels, called straight through a runner.Plan.

References are naive NumPy written independently of the kernels; gradients are also checked
against central finite differences in float64.  The last test runs the MXNet-made LeNet
fixture through these kernels (dense layers and activations in NumPy) and compares outputs,
gradients and BatchNorm moving statistics with MXNet's own numbers.
"""
import itertools
import json
import os
import sys

import numpy as np
import pytest

import cysym as mx
from cysym._ops import builds, conv, norm, runner

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "mxnet")
DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# NumPy references

def _as4d(x):
    return x if x.ndim == 4 else x[:, :, None, :]


def _pair(values, ndim, default):
    values = tuple(values) if values else (default,) * ndim
    return values if ndim == 2 else ((1 if default else 0),) + values


def ref_conv(x, w, b, stride=(), pad=(), dilate=(), group=1):
    """y (and a closure giving dx, dw, db for an output gradient), by slicing the padded input."""
    ndim = x.ndim - 2
    x4, w4 = _as4d(x), _as4d(w)
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, ndim, 1), _pair(pad, ndim, 0), _pair(dilate, ndim, 1)
    N, C, H, W = x4.shape
    F, Cg, kh, kw = w4.shape
    xp = np.pad(x4.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    Fg = F // group

    def window(i, j):
        return (slice(i * dh, i * dh + sh * (Ho - 1) + 1, sh), slice(j * dw, j * dw + sw * (Wo - 1) + 1, sw))

    y = np.zeros((N, F, Ho, Wo))
    for f in range(F):
        g = f // Fg
        for i in range(kh):
            for j in range(kw):
                rows, cols = window(i, j)
                y[:, f] += np.einsum("nchw,c->nhw", xp[:, g * Cg:(g + 1) * Cg, rows, cols], w4[f, :, i, j])
    if b is not None:
        y += b[None, :, None, None]

    def backward(dy):
        dy4 = _as4d(dy).astype(np.float64)
        dxp = np.zeros_like(xp)
        dw4 = np.zeros(w4.shape)
        for f in range(F):
            g = f // Fg
            for i in range(kh):
                for j in range(kw):
                    rows, cols = window(i, j)
                    patch = xp[:, g * Cg:(g + 1) * Cg, rows, cols]
                    dw4[f, :, i, j] += np.einsum("nchw,nhw->c", patch, dy4[:, f])
                    dxp[:, g * Cg:(g + 1) * Cg, rows, cols] += np.einsum("nhw,c->nchw", dy4[:, f], w4[f, :, i, j])
        dx = dxp[:, :, ph:ph + H, pw:pw + W]
        return dx.reshape(x.shape), dw4.reshape(w.shape), dy4.sum(axis=(0, 2, 3))

    return y.reshape((N, F) + ((Ho, Wo) if ndim == 2 else (Wo,))), backward


def ref_pool(x, pool_type, kernel, stride=(), pad=(), global_pool=False, convention="valid",
             count_include_pad=True):
    """Pooling as MXNet defines it, one window at a time."""
    ndim = x.ndim - 2
    x4 = _as4d(x).astype(np.float64)
    N, C, H, W = x4.shape
    if global_pool:
        kernel, stride, pad = x.shape[2:], (1,) * ndim, (0,) * ndim
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel, ndim, 1), _pair(stride, ndim, 1), _pair(pad, ndim, 0)
    rnd = (lambda a, s: -(-a // s)) if convention == "full" else (lambda a, s: a // s)
    Ho = 1 if global_pool else rnd(H + 2 * ph - kh, sh) + 1
    Wo = 1 if global_pool else rnd(W + 2 * pw - kw, sw) + 1
    y = np.zeros((N, C, Ho, Wo))
    for oh, ow in itertools.product(range(Ho), range(Wo)):
        h0, w0 = oh * sh - ph, ow * sw - pw
        h1, w1 = min(h0 + kh, H + ph), min(w0 + kw, W + pw)
        padded = (h1 - h0) * (w1 - w0)
        h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
        win = x4[:, :, h0:h1, w0:w1]
        if win.size == 0:
            continue
        if pool_type == "max":
            y[:, :, oh, ow] = win.max(axis=(2, 3))
        elif pool_type == "sum":
            y[:, :, oh, ow] = win.sum(axis=(2, 3))
        else:
            y[:, :, oh, ow] = win.sum(axis=(2, 3)) / (padded if count_include_pad else win[0, 0].size)
    return y.reshape((N, C) + ((Ho, Wo) if ndim == 2 else (Wo,)))


def ref_batch_norm(x, gamma, beta, mean, var, eps, fix_gamma, axis=1):
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    g = np.ones_like(gamma) if fix_gamma else gamma
    return ((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * g.reshape(shape)
            + beta.reshape(shape))


def _rng(seed=0):
    return np.random.default_rng(seed)


def _numeric_grad(f, x, eps=1e-6):
    """Central differences of the scalar f() with respect to every element of x (in place)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        up = f()
        flat[k] = old - eps
        down = f()
        flat[k] = old
        gflat[k] = (up - down) / (2 * eps)
    return grad


# ---------------------------------------------------------------------------------------------
# Convolution

CONV_CASES = [
    # (data shape, num_filter, kernel, stride, pad, dilate, group)
    ((2, 3, 5, 7), 4, (3, 3), (), (), (), 1),
    ((2, 3, 5, 7), 4, (3, 2), (2, 1), (1, 2), (), 1),
    ((2, 4, 7, 9), 6, (3, 2), (2, 1), (1, 2), (1, 2), 2),
    ((2, 4, 6, 6), 4, (2, 2), (3, 3), (0, 1), (2, 1), 4),
    ((1, 1, 4, 4), 2, (4, 4), (), (), (), 1),
    ((2, 3, 9), 4, (3,), (2,), (1,), (2,), 1),
    ((3, 2, 8), 2, (1,), (), (), (), 2),
]


def _conv_case(case, dtype, no_bias=False, seed=0):
    shape, F, kernel, stride, pad, dilate, group = case
    rng = _rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((F, shape[1] // group) + kernel).astype(dtype)
    b = None if no_bias else rng.standard_normal(F).astype(dtype)
    kw = dict(kernel=kernel, stride=stride, pad=pad, dilate=dilate, num_filter=F, num_group=group)
    return x, w, b, kw


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("no_bias", [False, True])
def test_convolution_forward(dtype, case, no_bias):
    x, w, b, kw = _conv_case(case, dtype, no_bias)
    expected, _ = ref_conv(x, w, b, kw["stride"], kw["pad"], kw["dilate"], kw["num_group"])
    y = np.full(expected.shape, np.nan, dtype)
    plan = runner.Plan()
    conv.append_convolution(plan, x, w, b, y, **kw)
    plan.run()
    np.testing.assert_allclose(y, expected, **_tol(dtype))


@pytest.fixture(params=[1, 30, 2048], ids=["chunk1", "chunk30", "chunk2048"])
def chunk_columns(request, monkeypatch):
    """Samples per GEMM: one at a time, a few with a partial last chunk, the default."""
    monkeypatch.setattr(conv, "CHUNK_COLUMNS", request.param)
    return request.param


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req", ["write", "add"])
def test_convolution_chunks(dtype, req, chunk_columns):
    case = ((5, 4, 6, 5), 6, (3, 2), (1, 2), (1, 0), (2, 1), 2)   # 4x2 outputs, 5 samples
    x, w, b, kw = _conv_case(case, dtype)
    y_ref, backward = ref_conv(x, w, b, kw["stride"], kw["pad"], kw["dilate"], kw["num_group"])
    dy = _rng(1).standard_normal(y_ref.shape).astype(dtype)
    start = [_rng(2).standard_normal(a.shape).astype(dtype) if req == "add" else
             np.full(a.shape, np.nan, dtype) for a in (y_ref, x, w, b)]
    y, dx, dw, db = (s.copy() for s in start)
    plan = runner.Plan()
    conv.append_convolution(plan, x, w, b, y, req=req, **kw)
    conv.append_convolution_backward(plan, dy, x, w, dx, dw, db, req_dx=req, req_dw=req, req_db=req, **kw)
    plan.run(is_train=True)
    for got, want, s in zip((y, dx, dw, db), (y_ref,) + backward(dy), start):
        np.testing.assert_allclose(got, want + (s if req == "add" else 0), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("case", CONV_CASES[:3], ids=str)   # the 2-D ones with several output rows
@pytest.mark.parametrize("min_columns", [1, 9])
def test_convolution_forward_in_tiles(dtype, req, case, min_columns, monkeypatch):
    # tiles of one output row (min_columns 1) or of two and more, the last one cut short
    monkeypatch.setattr(conv, "DIRECT_CHANNELS", 0)     # the cases' few channels: not direct
    monkeypatch.setattr(conv, "CHUNK_COLUMNS", 1)
    monkeypatch.setattr(conv, "TILE_ELEMENTS", 4)
    monkeypatch.setattr(conv, "TILE_MIN_COLUMNS", min_columns)
    x, w, b, kw = _conv_case(case, dtype)
    geo = conv._conv_geometry(x, w, kw["kernel"], kw["stride"], kw["dilate"], kw["pad"],
                              kw["num_filter"], kw["num_group"], "test")
    rows = conv.conv_tile_rows(geo)
    assert 0 < rows < geo[20]
    expected, _ = ref_conv(x, w, b, kw["stride"], kw["pad"], kw["dilate"], kw["num_group"])
    start = _rng(3).standard_normal(expected.shape).astype(dtype) if req == "add" else \
        np.full(expected.shape, np.nan, dtype)
    y = start.copy()
    # the workspace of a forward in tiles holds one tile's im2col block; nothing past it is used
    workspace = np.full(conv.conv_workspace_bytes(x.shape, w.shape, itemsize=x.itemsize,
                                                  forward=True, **kw) + 64, 255, np.uint8)
    assert workspace.size - 64 == x.shape[1] // kw["num_group"] * kw["num_group"] * \
        np.prod(kw["kernel"]) * rows * geo[21] * x.itemsize
    plan = runner.Plan()
    conv.append_convolution(plan, x, w, b, y, req=req, workspace=workspace[:-64], **kw)
    plan.run()
    np.testing.assert_allclose(y, expected + (start if req == "add" else 0), **_tol(dtype))
    assert (workspace[-64:] == 255).all()


@pytest.mark.parametrize("activation", [("relu",), ("clip", -0.5, 0.25)])
def test_convolution_fused_scale_and_activation_in_tiles(activation, monkeypatch):
    monkeypatch.setattr(conv, "TILE_ELEMENTS", 4)
    monkeypatch.setattr(conv, "TILE_MIN_COLUMNS", 1)
    x, w, b, kw = _conv_case(CONV_CASES[1], np.float64)
    scale = _rng(4).uniform(-2, 2, kw["num_filter"])
    expected, _ = ref_conv(x, w, None, kw["stride"], kw["pad"], kw["dilate"], kw["num_group"])
    expected = expected * scale[:, None, None] + b[:, None, None]
    expected = np.maximum(expected, 0) if activation[0] == "relu" else np.clip(expected, *activation[1:])
    for path in ("tiled", "untiled", "direct"):
        monkeypatch.setattr(conv, "CHUNK_COLUMNS", 1 if path == "tiled" else 2048)
        monkeypatch.setattr(conv, "DIRECT_CHANNELS", 4 if path == "direct" else 0)
        y = np.full(expected.shape, np.nan)
        plan = runner.Plan()
        conv.append_convolution(plan, x, w, b, y, activation=activation, scale=scale, **kw)
        plan.run()
        np.testing.assert_allclose(y, expected, **_tol(np.float64))
    with pytest.raises(ValueError, match="needs req 'write'"):
        conv.append_convolution(runner.Plan(), x, w, b, y, req="add", scale=scale, **kw)


DIRECT_CASES = [
    # (data shape, num_filter, kernel, stride, pad, dilate): at most DIRECT_CHANNELS channels
    ((1, 3, 11, 13), 5, (3, 3), (2, 2), (1, 1), (1, 1)),     # a last block of one filter
    ((2, 3, 9, 37), 8, (7, 7), (2, 2), (3, 3), (1, 1)),      # ResNet's stem; rows over 16 wide
    ((1, 4, 8, 37), 3, (3, 3), (1, 1), (1, 1), (1, 1)),      # fewer filters than a block
    ((2, 1, 12, 10), 6, (5, 3), (3, 2), (2, 0), (1, 1)),
    ((1, 2, 13, 17), 4, (3, 3), (1, 1), (2, 2), (2, 2)),     # dilated
    ((1, 3, 30, 30), 7, (11, 11), (4, 4), (2, 2), (1, 1)),   # AlexNet's stem
    ((1, 2, 6, 6), 4, (1, 1), (), (), (), ),                 # pointwise
    ((1, 3, 2, 3), 2, (3, 3), (1, 1), (1, 1), (1, 1)),       # a plane smaller than the kernel
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("case", DIRECT_CASES)
def test_direct_convolution(dtype, req, case):
    """Convolutions of few channels run directly on the input's stride phases: the reference's
    numbers, the im2col path's, and nothing written past the planned workspace."""
    x, w, b, kw = _conv_case(case + (1,), dtype)
    geo = conv._conv_geometry(x, w, kw["kernel"], kw["stride"], kw["dilate"], kw["pad"],
                              kw["num_filter"], kw["num_group"], "test")
    assert conv._direct(geo)
    expected, _ = ref_conv(x, w, b, kw["stride"], kw["pad"], kw["dilate"])
    start = _rng(3).standard_normal(expected.shape).astype(dtype) if req == "add" else \
        np.full(expected.shape, np.nan, dtype)
    nbytes = conv.conv_workspace_bytes(x.shape, w.shape, itemsize=x.itemsize, forward=True, **kw)
    workspace = np.full(nbytes + 64, 255, np.uint8)
    results = []
    for im2col in (False, True):
        y = start.copy()
        plan = runner.Plan()
        conv.append_convolution(plan, x, w, b, y, req=req, im2col=im2col,
                                workspace=None if im2col else workspace[:-64], **kw)
        plan.run()
        results.append(y)
    np.testing.assert_allclose(results[0], expected + (start if req == "add" else 0),
                               **_tol(dtype))
    np.testing.assert_allclose(results[0], results[1], **_tol(dtype))
    assert (workspace[-64:] == 255).all()


def _on_one_and_two_threads(module, x, w, b, kw):
    """The forward of `module`'s kernels on one kernel thread and on two."""
    from cysym._ops import threads
    before = threads.get_num_threads()
    results = []
    try:
        for count in (1, 2):
            threads.set_num_threads(count)
            y = np.empty(ref_conv(x, w, b, kw["stride"], kw["pad"])[0].shape, np.float32)
            plan = runner.Plan()
            module.append_convolution(plan, x, w, b, y, **kw)
            plan.run()
            results.append(y)
    finally:
        threads.set_num_threads(before)
    return results


def test_direct_convolution_threads():
    """Two kernel threads split the direct forward's rows: the same bits as one."""
    x, w, b, kw = _conv_case(DIRECT_CASES[1] + (1,), np.float32)
    one, two = _on_one_and_two_threads(conv, x, w, b, kw)
    assert np.array_equal(one, two)



@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("req", ["write", "add"])
def test_convolution_backward(dtype, case, req):
    x, w, b, kw = _conv_case(case, dtype)
    y, backward = ref_conv(x, w, b, kw["stride"], kw["pad"], kw["dilate"], kw["num_group"])
    dy = _rng(1).standard_normal(y.shape).astype(dtype)
    expected = backward(dy)
    start = [_rng(2).standard_normal(a.shape).astype(dtype) if req == "add" else
             np.full(a.shape, np.nan, dtype) for a in (x, w, b)]
    dx, dw, db = (s.copy() for s in start)
    plan = runner.Plan()
    conv.append_convolution_backward(plan, dy, x, w, dx, dw, db, req_dx=req, req_dw=req, req_db=req, **kw)
    plan.run(is_train=True)
    for got, want, s in zip((dx, dw, db), expected, start):
        if req == "add":
            want = want + s
        np.testing.assert_allclose(got, want, **_tol(dtype))


def test_convolution_backward_null_outputs_untouched():
    x, w, b, kw = _conv_case(CONV_CASES[1], np.float64)
    y, backward = ref_conv(x, w, b, kw["stride"], kw["pad"], kw["dilate"])
    dy = _rng(1).standard_normal(y.shape)
    dx, dw = np.full(x.shape, 7.0), np.zeros(w.shape)
    plan = runner.Plan()
    conv.append_convolution_backward(plan, dy, x, w, dx, dw, None, req_dx="null", **kw)
    plan.run(is_train=True)
    assert (dx == 7.0).all()
    np.testing.assert_allclose(dw, backward(dy)[1], rtol=1e-10, atol=1e-10)


def test_convolution_uses_workspace_buffer():
    x, w, b, kw = _conv_case(CONV_CASES[2], np.float32)
    expected, _ = ref_conv(x, w, b, kw["stride"], kw["pad"], kw["dilate"], kw["num_group"])
    y = np.empty(expected.shape, np.float32)
    workspace = np.zeros(conv.conv_workspace_bytes(x.shape, w.shape, itemsize=4, **kw), np.uint8)
    plan = runner.Plan()
    conv.append_convolution(plan, x, w, b, y, workspace=workspace, **kw)
    assert plan.keepalive[-1][-1].ctypes.data == workspace.ctypes.data   # no private buffer
    plan.run()
    assert workspace.any()   # the im2col buffer lives in the given workspace
    np.testing.assert_allclose(y, expected, rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("case", [CONV_CASES[1], CONV_CASES[2], CONV_CASES[5]])
def test_convolution_finite_differences(case):
    x, w, b, kw = _conv_case(case, np.float64)
    plan = runner.Plan()
    y0, _ = ref_conv(x, w, b, kw["stride"], kw["pad"], kw["dilate"], kw["num_group"])
    y = np.empty(y0.shape)
    conv.append_convolution(plan, x, w, b, y, **kw)
    proj = _rng(3).standard_normal(y.shape)

    def loss():
        plan.run()
        return float((y * proj).sum())

    numeric = [_numeric_grad(loss, a) for a in (x, w, b)]
    dx, dw, db = np.empty(x.shape), np.empty(w.shape), np.empty(b.shape)
    back = runner.Plan()
    conv.append_convolution_backward(back, proj, x, w, dx, dw, db, **kw)
    back.run(is_train=True)
    for got, want in zip((dx, dw, db), numeric):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


POINTWISE_CASES = [
    # (data shape without the batch, num_filter, group): 1x1 kernels, unit stride, no padding
    ((6, 5, 7), 4, 1),
    ((6, 5, 7), 9, 3),
    ((4, 11), 6, 2),
    ((6, 3, 2, 5), 8, 2),   # 3-D: checked against the im2col path only (ref_conv is 1-D/2-D)
]


def _pointwise_case(case, batch, dtype):
    chw, F, group = case
    return _conv_case(((batch,) + chw, F, (1,) * (len(chw) - 1), (), (), (), group), dtype)


def _direct_and_im2col(x, w, b, dy, start, req, kw):
    """(y, dx, dw, db) of a forward and backward pass from the `start` values, first on the path
    the kernels pick for this layer, then on the general im2col path forced on the same input."""
    results = []
    for im2col in (False, True):
        y, dx, dw, db = (s.copy() for s in start)
        plan = runner.Plan()
        conv.append_convolution(plan, x, w, b, y, req=req, im2col=im2col, **kw)
        conv.append_convolution_backward(plan, dy, x, w, dx, dw, db, req_dx=req, req_dw=req,
                                         req_db=req, im2col=im2col, **kw)
        plan.run(is_train=True)
        results.append((y, dx, dw, db))
    return results


@pytest.mark.parametrize("channels, filters, side", [(128, 128, 56), (32, 64, 112), (96, 48, 56),
                                                     (64, 256, 56)])
def test_pointwise_tiles_share_out_evenly(channels, filters, side):
    # an even number of tiles of one width (a multiple of 16) per sample, so that two threads
    # take equal shares
    x = np.zeros((1, channels, side, side), np.float32)
    w = np.zeros((filters, channels, 1, 1), np.float32)
    geo = conv._conv_geometry(x, w, (1, 1), (1, 1), (1, 1), (0, 0), filters, 1, "test")
    width = conv.conv_tile_columns(geo)
    tiles = -(-side * side // width)
    assert width % 16 == 0 and tiles % 2 == 0
    assert width < max(conv.TILE_MIN_COLUMNS, conv.TILE_ELEMENTS // filters) + 16
    assert (tiles - 1) * width < side * side <= tiles * width


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("case", POINTWISE_CASES)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("tiles", [False, True])
def test_pointwise_convolution(dtype, req, case, batch, tiles, monkeypatch):
    """1x1 convolutions skip im2col (GEMMs straight on x, y, dy, dx; no workspace): same numbers
    as the reference and as the general im2col path forced on the same input; with `tiles`,
    the forward runs 16 output columns at a time (the last tile cut short)."""
    monkeypatch.setattr(conv, "CHUNK_COLUMNS", 1)   # one sample per GEMM at any batch
    x, w, b, kw = _pointwise_case(case, batch, dtype)
    if tiles:
        monkeypatch.setattr(conv, "TILE_ELEMENTS", 4)
        monkeypatch.setattr(conv, "TILE_MIN_COLUMNS", 16)
        geo = conv._conv_geometry(x, w, kw["kernel"], kw["stride"], kw["dilate"], kw["pad"],
                                  kw["num_filter"], kw["num_group"], "test")
        assert conv.conv_tile_columns(geo) == (16 if np.prod(x.shape[2:]) > 16 else 0)
    assert conv.conv_workspace_bytes(x.shape, w.shape, itemsize=x.itemsize, **kw) == 0
    y_shape = (batch, kw["num_filter"]) + x.shape[2:]
    dy = _rng(1).standard_normal(y_shape).astype(dtype)
    start = [_rng(2).standard_normal(shape).astype(dtype) if req == "add" else
             np.full(shape, np.nan, dtype) for shape in (y_shape, x.shape, w.shape, b.shape)]
    results = _direct_and_im2col(x, w, b, dy, start, req, kw)
    for got, general in zip(*results):
        np.testing.assert_allclose(got, general, **_tol(dtype))
    if x.ndim <= 4:
        y_ref, backward = ref_conv(x, w, b, group=kw["num_group"])
        for got, want, s in zip(results[0], (y_ref,) + backward(dy), start):
            np.testing.assert_allclose(got, want + (s if req == "add" else 0), **_tol(dtype))


def test_pointwise_workspace():
    """No workspace where 1x1 convolutions skip im2col: one sample per GEMM, or samples with at
    least POINTWISE_COLUMNS output pixels; narrower ones are gathered (and strided ones need it)."""
    def nbytes(shape, **kw):
        return conv.conv_workspace_bytes(shape, (3, shape[1], 1, 1), kernel=(1, 1), **kw)
    assert nbytes((1, 4, 3, 5)) == 0
    assert nbytes((2, 4, 12, 11)) == 0          # 132 pixels per sample
    assert nbytes((2, 4, 9, 11)) == (4 + 3) * 2 * 99 * 4
    assert nbytes((1, 4, 3, 5), stride=(2, 1)) > 0
    assert nbytes((1, 4, 3, 5), pad=(0, 1)) > 0


def test_pointwise_convolution_null_outputs_untouched():
    x, w, b, kw = _pointwise_case(POINTWISE_CASES[1], 1, np.float64)
    y_ref, backward = ref_conv(x, w, b, group=kw["num_group"])
    dy = _rng(1).standard_normal(y_ref.shape)
    y, dx, dw = np.full(y_ref.shape, 7.0), np.full(x.shape, 7.0), np.full(w.shape, np.nan)
    plan = runner.Plan()
    conv.append_convolution(plan, x, w, b, y, req="null", **kw)
    conv.append_convolution_backward(plan, dy, x, w, dx, dw, None, req_dx="null", **kw)
    plan.run(is_train=True)
    assert (y == 7.0).all() and (dx == 7.0).all()
    np.testing.assert_allclose(dw, backward(dy)[1], rtol=1e-10, atol=1e-10)


def test_pointwise_deconvolution():
    """Deconvolution runs on the same kernels: a 1x1 one is the pointwise data gradient."""
    x, w, b, kw = _pointwise_case(POINTWISE_CASES[1], 1, np.float64)
    y_ref, backward = ref_conv(x, w, b, group=kw["num_group"])
    dy = _rng(1).standard_normal(y_ref.shape)
    geo = dict(kernel=kw["kernel"], num_group=kw["num_group"])
    assert conv.deconv_workspace_bytes(x.shape, w.shape, itemsize=8, **geo) == 0
    out, d_dy, dw = np.empty(x.shape), np.empty(dy.shape), np.empty(w.shape)
    plan = runner.Plan()
    conv.append_deconvolution(plan, dy, w, None, out, **geo)
    conv.append_deconvolution_backward(plan, x, dy, w, d_dy, dw, None, req_db="null", **geo)
    plan.run(is_train=True)
    np.testing.assert_allclose(out, backward(dy)[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(d_dy, y_ref - b[:, None, None], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, backward(dy)[1], rtol=1e-10, atol=1e-10)


DEPTHWISE_CASES = [
    # (data shape without the batch, kernel, stride, pad, dilate): num_group == C == num_filter
    ((5, 9, 11), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((4, 10, 7), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((3, 12, 13), (3, 2), (2, 1), (2, 0), (2, 1)),
    ((6, 7, 13), (1, 5), (1, 3), (0, 2), (1, 2)),
    ((3, 6, 8), (5, 5), (1, 2), (0, 3), (1, 1)),   # taps wholly in the padding
    ((4, 17), (3,), (2,), (1,), (1,)),              # 1-D
    ((3, 8, 11), (2, 3), (1, 1), (1, 2), (1, 2)),
    ((2, 5, 6), (3, 3), (1, 1), (0, 4), (1, 1)),    # a pad wider than the kernel
    ((2, 9, 3), (3, 3), (1, 1), (0, 1), (2, 2)),    # dilated 3x3: the general tap loop
    # 3x3 stride 1 pad 1 (MobileNet's, and the data gradient's gather): the unrolled stride-1
    # taps; planes down to 2 rows and 3 columns
    ((3, 6, 9), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 3, 3), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 3, 7), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 2, 5), (3, 3), (1, 1), (1, 1), (1, 1)),
    # planes above conv.pyx's TAP_SUM_MAX_PIXELS: their weight gradient through the phases
    ((2, 11, 12), (3, 3), (1, 1), (1, 1), (1, 1)),
    # 3x3 at stride 2 (the unrolled even/odd phase taps; odd and even widths and pads), and at
    # strides the unrolled loops do not take
    ((3, 9, 12), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((2, 10, 7), (3, 3), (2, 2), (0, 0), (1, 1)),
    ((2, 7, 9), (3, 3), (2, 2), (2, 1), (1, 1)),
    ((2, 8, 7), (3, 3), (1, 1), (0, 0), (1, 1)),
    ((2, 11, 10), (3, 3), (3, 2), (1, 0), (1, 1)),
]


def _depthwise_case(case, batch, dtype):
    chw, kernel, stride, pad, dilate = case
    C = chw[0]
    return _conv_case(((batch,) + chw, C, kernel, stride, pad, dilate, C), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("case", DEPTHWISE_CASES)
@pytest.mark.parametrize("batch", [1, 3])
def test_depthwise_convolution(dtype, req, case, batch):
    """Depthwise convolutions run direct loops (no im2col, no workspace): same numbers as the
    reference and as the general im2col path forced on the same input."""
    x, w, b, kw = _depthwise_case(case, batch, dtype)
    assert conv.conv_workspace_bytes(x.shape, w.shape, itemsize=x.itemsize, **kw) == 0
    y_ref, backward = ref_conv(x, w, b, stride=kw["stride"], pad=kw["pad"],
                               dilate=kw["dilate"], group=kw["num_group"])
    dy = _rng(1).standard_normal(y_ref.shape).astype(dtype)
    start = [_rng(2).standard_normal(shape).astype(dtype) if req == "add" else
             np.full(shape, np.nan, dtype) for shape in (y_ref.shape, x.shape, w.shape, b.shape)]
    results = _direct_and_im2col(x, w, b, dy, start, req, kw)
    for got, general in zip(*results):
        np.testing.assert_allclose(got, general, **_tol(dtype))
    for got, want, s in zip(results[0], (y_ref,) + backward(dy), start):
        np.testing.assert_allclose(got, want + (s if req == "add" else 0), **_tol(dtype))


# (data shape without the batch, stride, pad): 3x3 depthwise layers with enough channels for one
# interleaved group and some left over (16 floats or 8 doubles per group; see _depthwise_lanes)
LANES_CASES = [((20, 7, 7), (1, 1), (1, 1)), ((19, 5, 9), (1, 1), (1, 1)),
               ((35, 10, 13), (2, 2), (1, 1)), ((17, 9, 8), (2, 2), (0, 0)), ((18, 6, 6), (1, 1), (2, 2))]


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", LANES_CASES, ids=str)
@pytest.mark.parametrize("req", ["write", "add", "fused"])
def test_depthwise_channel_groups_give_each_channels_bits(build, dtype, case, req):
    """Channels that run interleaved in groups give the reference's numbers and the very bits of
    the same channel convolved alone (one plane at a time), in every build of the kernels."""
    chw, stride, pad = case
    x, w, b, kw = _depthwise_case((chw, (3, 3), stride, pad, (1, 1)), 3, dtype)
    scale = _rng(4).uniform(-2, 2, chw[0]).astype(dtype)
    fused = dict(activation=("relu",), scale=scale) if req == "fused" else {}
    start = _rng(2).standard_normal(ref_conv(x, w, b, stride, pad, group=chw[0])[0].shape).astype(dtype)

    def run(x, w, b, y, channels, **extra):
        plan = runner.Plan()
        build.append_convolution(plan, x, w, b, y, req="add" if req == "add" else "write",
                                 **dict(kw, num_filter=channels, num_group=channels), **extra)
        plan.run()
        return y

    together = run(x, w, b, start.copy(), chw[0], **fused)
    expected, _ = ref_conv(x, w, None if fused else b, stride, pad, group=chw[0])
    if fused:
        expected = np.maximum(expected * scale[:, None, None] + b[:, None, None], 0)
    np.testing.assert_allclose(together, expected + (start if req == "add" else 0), **_tol(dtype))
    for c in range(chw[0]):
        one = {key: value[c:c + 1] for key, value in fused.items() if key == "scale"}
        alone = run(np.ascontiguousarray(x[:, c:c + 1]), w[c:c + 1], b[c:c + 1],
                    start[:, c:c + 1].copy(), 1, **({"activation": ("relu",)} if fused else {}), **one)
        assert np.array_equal(together[:, c:c + 1], alone), c


def test_depthwise_workspace():
    """No workspace on the depthwise path; kernel rows wider than it takes go through im2col."""
    def nbytes(shape, kernel):
        return conv.conv_workspace_bytes(shape, (shape[1], 1) + kernel, kernel=kernel,
                                         num_group=shape[1])
    assert nbytes((2, 4, 9, 20), (3, 16)) == 0
    assert nbytes((2, 4, 9, 20), (3, 17)) > 0
    assert nbytes((2, 4, 20), (5,)) == 0
    x, w, b, kw = _conv_case(((2, 3, 4, 21), 3, (2, 17), (1, 2), (1, 3), (), 3), np.float64)
    y_ref, _ = ref_conv(x, w, b, stride=kw["stride"], pad=kw["pad"], group=3)
    y = np.empty(y_ref.shape)
    plan = runner.Plan()
    conv.append_convolution(plan, x, w, b, y, **kw)
    plan.run()
    np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-10)


def test_depthwise_null_outputs_untouched_and_deconvolution():
    """req 'null' leaves outputs alone; a depthwise Deconvolution runs the same loops (its
    forward is the depthwise data gradient, its weight gradient the depthwise one)."""
    x, w, b, kw = _depthwise_case(DEPTHWISE_CASES[1], 3, np.float64)
    y_ref, backward = ref_conv(x, w, b, stride=kw["stride"], pad=kw["pad"], group=kw["num_group"])
    dy = _rng(1).standard_normal(y_ref.shape)
    y, dx, dw = np.full(y_ref.shape, 7.0), np.full(x.shape, 7.0), np.full(w.shape, np.nan)
    plan = runner.Plan()
    conv.append_convolution(plan, x, w, b, y, req="null", **kw)
    conv.append_convolution_backward(plan, dy, x, w, dx, dw, None, req_dx="null", **kw)
    plan.run(is_train=True)
    assert (y == 7.0).all() and (dx == 7.0).all()
    np.testing.assert_allclose(dw, backward(dy)[1], rtol=1e-10, atol=1e-10)

    geo = dict(kernel=kw["kernel"], stride=kw["stride"], pad=kw["pad"], num_group=kw["num_group"])
    assert conv.deconv_workspace_bytes(x.shape, w.shape, itemsize=8, **geo) == 0
    out, d_dy, dw = np.empty(x.shape), np.empty(dy.shape), np.empty(w.shape)
    plan = runner.Plan()
    conv.append_deconvolution(plan, dy, w, None, out, **geo)
    conv.append_deconvolution_backward(plan, x, dy, w, d_dy, dw, None, req_db="null", **geo)
    plan.run(is_train=True)
    np.testing.assert_allclose(out, backward(dy)[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(d_dy, y_ref - b[:, None, None], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, backward(dy)[1], rtol=1e-10, atol=1e-10)


def test_convolution_bad_shapes():
    x = np.zeros((2, 3, 5, 5), np.float32)
    plan = runner.Plan()
    with pytest.raises(ValueError, match=r"weight shape \(4, 2, 3, 3\) does not match data \(2, 3, 5, 5\)"):
        conv.append_convolution(plan, x, np.zeros((4, 2, 3, 3), np.float32), None,
                                np.zeros((2, 4, 3, 3), np.float32), kernel=(3, 3), num_filter=4)
    with pytest.raises(ValueError, match="num_group=2 must divide"):
        conv.append_convolution(plan, x, np.zeros((4, 1, 3, 3), np.float32), None,
                                np.zeros((2, 4, 3, 3), np.float32), kernel=(3, 3), num_filter=4,
                                num_group=2)
    with pytest.raises(ValueError, match=r"output has shape \(2, 4, 5, 5\), expected \(2, 4, 3, 3\)"):
        conv.append_convolution(plan, x, np.zeros((4, 3, 3, 3), np.float32), None,
                                np.zeros((2, 4, 5, 5), np.float32), kernel=(3, 3), num_filter=4)
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv.append_convolution(plan, x, np.zeros((4, 3, 7, 7), np.float32), None,
                                np.zeros((2, 4, 1, 1), np.float32), kernel=(7, 7), num_filter=4)
    with pytest.raises(ValueError, match="needs 3-D data"):
        conv.append_convolution(plan, x, np.zeros((4, 3, 3), np.float32), None,
                                np.zeros((2, 4, 3), np.float32), kernel=(3,), num_filter=4)
    with pytest.raises(TypeError, match="share one dtype"):
        conv.append_convolution(plan, x, np.zeros((4, 3, 3, 3), np.float64), None,
                                np.zeros((2, 4, 3, 3), np.float32), kernel=(3, 3), num_filter=4)
    with pytest.raises(ValueError, match="bias gradient has shape"):
        conv.append_convolution_backward(plan, np.zeros((2, 4, 3, 3), np.float32), x,
                                         np.zeros((4, 3, 3, 3), np.float32), None, None,
                                         np.zeros(3, np.float32), kernel=(3, 3), num_filter=4)
    assert len(plan) == 0


# ---------------------------------------------------------------------------------------------
# Pooling

POOL_CASES = [
    # (shape, kwargs)
    ((2, 3, 6, 7), dict(kernel=(2, 2), stride=(2, 2))),
    ((2, 3, 5, 7), dict(kernel=(3, 2), stride=(2, 1), pad=(1, 1))),
    ((2, 2, 5, 7), dict(kernel=(3, 3), stride=(2, 2), pad=(1, 0), pooling_convention="full")),
    ((1, 2, 7, 5), dict(kernel=(2, 3), stride=(3, 3), pooling_convention="full")),
    ((2, 3, 5, 7), dict(kernel=(1, 1), global_pool=True)),
    ((2, 3, 9), dict(kernel=(3,), stride=(2,), pad=(1,))),
    ((2, 3, 8), dict(kernel=(3,), stride=(2,), pooling_convention="full")),
]


def _pool_call(plan, x, y, pool_type, kwargs, count_include_pad=None):
    conv.append_pooling(plan, x, y, pool_type=pool_type, count_include_pad=count_include_pad, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool_type,count_include_pad",
                         [("max", None), ("avg", None), ("avg", False), ("sum", None)])
@pytest.mark.parametrize("shape,kwargs", POOL_CASES)
def test_pooling_forward(dtype, pool_type, count_include_pad, shape, kwargs):
    x = _rng().standard_normal(shape).astype(dtype)
    expected = ref_pool(x, pool_type, kwargs.get("kernel"), kwargs.get("stride", ()), kwargs.get("pad", ()),
                        kwargs.get("global_pool", False), kwargs.get("pooling_convention", "valid"),
                        count_include_pad is not False)
    y = np.full(expected.shape, np.nan, dtype)
    plan = runner.Plan()
    _pool_call(plan, x, y, pool_type, kwargs, count_include_pad)
    plan.run()
    np.testing.assert_allclose(y, expected, **_tol(dtype))


@pytest.mark.parametrize("pool_type,count_include_pad",
                         [("max", None), ("avg", None), ("avg", False), ("sum", None)])
@pytest.mark.parametrize("shape,kwargs", POOL_CASES)
@pytest.mark.parametrize("req", ["write", "add"])
def test_pooling_backward_finite_differences(pool_type, count_include_pad, shape, kwargs, req):
    # distinct values well apart, so that max pooling's argmax is stable under the perturbation
    x = _rng().permutation(np.prod(shape)).reshape(shape).astype(np.float64) * 0.1
    y0 = ref_pool(x, pool_type, kwargs.get("kernel"), kwargs.get("stride", ()), kwargs.get("pad", ()),
                  kwargs.get("global_pool", False), kwargs.get("pooling_convention", "valid"),
                  count_include_pad is not False)
    y = np.empty(y0.shape)
    plan = runner.Plan()
    _pool_call(plan, x, y, pool_type, kwargs, count_include_pad)
    proj = _rng(4).standard_normal(y.shape)

    def loss():
        plan.run()
        return float((y * proj).sum())

    numeric = _numeric_grad(loss, x, eps=1e-4)
    start = _rng(5).standard_normal(x.shape) if req == "add" else np.full(x.shape, np.nan)
    dx = start.copy()
    back = runner.Plan()
    conv.append_pooling_backward(back, proj, x, dx, pool_type=pool_type,
                                 count_include_pad=count_include_pad, req=req, **kwargs)
    back.run(is_train=True)
    np.testing.assert_allclose(dx, numeric + (start if req == "add" else 0), rtol=1e-6, atol=1e-8)


def test_max_pooling_gradient_goes_to_first_maximum():
    x = np.array([[[[1.0, 3.0], [3.0, 2.0]]]], np.float32)
    dx = np.empty_like(x)
    plan = runner.Plan()
    conv.append_pooling_backward(plan, np.ones((1, 1, 1, 1), np.float32), x, dx, pool_type="max",
                                 kernel=(2, 2))
    plan.run()
    np.testing.assert_array_equal(dx, [[[[0, 1], [0, 0]]]])


def _first_max_pool_grad(x, dy):
    """dx of 2x2 stride-2 max pooling by the general loop's rule: strict > from the lowest finite
    value, windows read row by row, so the first maximum wins and NaN never does."""
    lowest = -np.finfo(x.dtype).max
    dx = np.zeros_like(x)
    for n, c, oh, ow in np.ndindex(dy.shape):
        best, arg = lowest, None
        for h, w in ((2 * oh, 2 * ow), (2 * oh, 2 * ow + 1), (2 * oh + 1, 2 * ow), (2 * oh + 1, 2 * ow + 1)):
            if x[n, c, h, w] > best:
                best, arg = x[n, c, h, w], (h, w)
        if arg is not None:
            dx[n, c, arg[0], arg[1]] += dy[n, c, oh, ow]
    return dx


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", [(2, 3, 6, 8), (2, 3, 7, 9)], ids=["tiling", "ragged"])
def test_max_pooling_2x2_backward_ties_infinities_and_nan(dtype, shape):
    rng = _rng(8)
    x = rng.integers(-2, 3, shape).astype(dtype)        # many ties
    specials = np.array([-np.inf, np.nan, -np.finfo(dtype).max, np.inf], dtype)
    x.flat[rng.choice(x.size, 40, replace=False)] = rng.choice(specials, 40)
    x[0, 0, :2, :2] = -np.inf                           # a window with no maximum at all
    dy = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2)).astype(dtype)
    dx = np.full(x.shape, np.nan, dtype)
    plan = runner.Plan()
    conv.append_pooling_backward(plan, dy, x, dx, pool_type="max", kernel=(2, 2), stride=(2, 2))
    plan.run()
    np.testing.assert_array_equal(dx, _first_max_pool_grad(x, dy))


def test_pooling_bad_shapes():
    x = np.zeros((2, 3, 5, 5), np.float32)
    plan = runner.Plan()
    with pytest.raises(ValueError, match=r"kernel=\(2,\) does not match the 2 spatial dimensions"):
        conv.append_pooling(plan, x, np.zeros((2, 3, 4, 4), np.float32), kernel=(2,))
    with pytest.raises(ValueError, match=r"output has shape \(2, 3, 5, 5\), expected \(2, 3, 4, 4\)"):
        conv.append_pooling(plan, x, np.zeros((2, 3, 5, 5), np.float32), kernel=(2, 2))
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv.append_pooling(plan, x, np.zeros((2, 3, 1, 1), np.float32), kernel=(6, 6))
    with pytest.raises(ValueError, match="pool_type"):
        conv.append_pooling(plan, x, np.zeros((2, 3, 4, 4), np.float32), pool_type="median", kernel=(2, 2))
    with pytest.raises(ValueError, match="p_value 1, 2 or 3, got 4"):
        conv.append_pooling(plan, x, np.zeros((2, 3, 4, 4), np.float32), pool_type="lp", p_value=4,
                            kernel=(2, 2))
    with pytest.raises(ValueError, match="'same' supports 1-D pooling"):
        conv.append_pooling(plan, x, np.zeros((2, 3, 5, 5), np.float32), kernel=(2, 2),
                            pooling_convention="same")
    with pytest.raises(ValueError, match="layout NCHW does not fit 5-D data"):
        conv.append_pooling(plan, np.zeros((2, 3, 4, 5, 6), np.float32),
                            np.zeros((2, 3, 3, 4, 5), np.float32), kernel=(2, 2, 2), layout="NCHW")
    with pytest.raises(ValueError, match="3-D, 4-D and 5-D data"):
        conv.append_pooling(plan, np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32), kernel=(2,))
    assert len(plan) == 0


# MXNet 1.9.1's numbers for cases whose rules are easy to get wrong: Pooling's 'same'
# convention with a window running past the end (the last avg window divides by the 1 cell
# left of it, not by the kernel), and lp pooling (p = 2 and 3, signed sums), made with
#   x = np.arange(14, dtype='float32').reshape(1, 2, 7) / 4 - 1.2
#   mx.nd.Pooling(mx.nd.array(x), kernel=(3,), stride=(2,), pooling_convention='same',
#                 pad=(0, 0, 0), pool_type=...)          with MXNET_MKLDNN_ENABLED=0
#   mx.nd.Pooling(mx.nd.array(x), kernel=(3,), stride=(2,), pool_type='lp', p_value=...)
# MXNet 1.9.1 only accepts 'same' with a 3-value pad (its shape check reads pad[1] and
# pad[2]) and its MKL-DNN build cannot run it, hence pad=(0, 0, 0) and MKL-DNN off.
POOL_SAME_INPUT = np.arange(14, dtype=np.float64).reshape(1, 2, 7) / 4 - 1.2
MXNET_POOL_SAME_MAX = np.array([[[-0.7, -0.2, 0.3, 0.3], [1.05, 1.55, 2.05, 2.05]]])
MXNET_POOL_SAME_AVG = np.array([[[-0.95, -0.45, 0.05, 0.3], [0.8, 1.3, 1.8, 2.05]]])
MXNET_POOL_LP2 = np.array([[[1.683003306388855, 0.8558622002601624, 0.3640054762363434],
                            [1.430034875869751, 2.279254198074341, 3.13767409324646]]])
MXNET_POOL_LP3 = np.array([[[-1.430679202079773, -0.7618130445480347, 0.26742398738861084],
                            [1.2244964838027954, 1.9200552701950073, 2.629014015197754]]])



MXNET_POOLING = [
    (dict(kernel=(3,), stride=(2,), pooling_convention="same"), MXNET_POOL_SAME_MAX),
    (dict(kernel=(3,), stride=(2,), pooling_convention="same", pool_type="avg", pad=(0, 0, 0)),
     MXNET_POOL_SAME_AVG),
    (dict(kernel=(3,), stride=(2,), pool_type="lp", p_value=2), MXNET_POOL_LP2),
    (dict(kernel=(3,), stride=(2,), pool_type="lp", p_value=3), MXNET_POOL_LP3),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("kwargs,expected", MXNET_POOLING,
                         ids=["same-max", "same-avg", "lp2", "lp3"])
def test_pooling_matches_mxnet(kwargs, expected, dtype):
    x = POOL_SAME_INPUT.astype(np.float32).astype(dtype)
    y = np.zeros(expected.shape, dtype)
    plan = runner.Plan()
    conv.append_pooling(plan, x, y, **kwargs)
    plan.run()
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)



# UpSampling(sample_type='bilinear') as MXNet 1.9.1 computes it (a grouped Deconvolution):
#   x = np.arange(24, dtype='float32').reshape(1, 2, 3, 4)
#   w = np.random.RandomState(0).rand(2, 1, 5, 5).astype('float32')
#   up = mx.sym.UpSampling(mx.sym.Variable('data'), scale=3, sample_type='bilinear',
#                          num_filter=2, name='up')     # arguments ['data', 'up_weight']
#   forward y[0, 1, :3, :5]; backward with dY = 1: up_weight's gradient [0, 0]
MXNET_BILINEAR_Y = np.array([
    [9.290804, 5.473804, 10.260429, 10.290515, 5.929954],
    [7.3451486, 7.403208, 19.354239, 16.139088, 8.020142],
    [7.538036, 23.486277, 24.624538, 22.754213, 25.128578]])
MXNET_BILINEAR_DW = np.array([[48., 60., 60., 60., 42.], [54., 66., 66., 66., 45.],
                              [54., 66., 66., 66., 45.], [54., 66., 66., 66., 45.],
                              [24., 28., 28., 28., 18.]])


def test_upsampling_bilinear_matches_mxnet():
    up = mx.sym.UpSampling(mx.sym.Variable("data"), scale=3, sample_type="bilinear",
                           num_filter=2, name="up")
    assert up.list_arguments() == ["data", "up_weight"]
    exe = up.simple_bind(mx.cpu(), data=(1, 2, 3, 4), grad_req="write")
    exe.arg_dict["data"][:] = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    exe.arg_dict["up_weight"][:] = np.random.RandomState(0).rand(2, 1, 5, 5).astype(np.float32)
    y = exe.forward(is_train=True)[0]
    assert y.shape == (1, 2, 9, 12)
    np.testing.assert_allclose(np.asarray(y)[0, 1, :3, :5], MXNET_BILINEAR_Y, rtol=1e-6)
    exe.backward([np.ones(y.shape, np.float32)])
    np.testing.assert_allclose(exe.grad_dict["up_weight"][0, 0], MXNET_BILINEAR_DW, rtol=1e-6)


def test_upsampling_bilinear_json_is_mxnets():
    """MXNet stores num_args=1 beside two inputs and the weight's bilinear initializer."""
    up = mx.sym.UpSampling(mx.sym.Variable("data"), scale=3, sample_type="bilinear",
                           num_filter=2, name="up")
    nodes = json.loads(up.tojson())["nodes"]
    assert nodes[1]["attrs"]["__init__"] == '["bilinear", {}]'
    assert nodes[2]["attrs"] == {"num_args": "1", "num_filter": "2", "sample_type": "bilinear",
                                 "scale": "3"}
    assert mx.sym.load_json(up.tojson()).list_arguments() == ["data", "up_weight"]


# ---------------------------------------------------------------------------------------------
# BatchNorm

def _bn_arrays(shape, axis, dtype, seed=0):
    rng = _rng(seed)
    C = shape[axis]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, C).astype(dtype)
    beta = rng.uniform(-0.2, 0.2, C).astype(dtype)
    mm = rng.uniform(-0.1, 0.1, C).astype(dtype)
    mv = rng.uniform(0.5, 1.5, C).astype(dtype)
    return x, gamma, beta, mm, mv


BN_CASES = [((4, 3, 5, 6), 1), ((2, 3, 5, 7), 1), ((6, 4), 1), ((3, 4, 5), -1), ((2, 3, 4, 2), 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", BN_CASES)
@pytest.mark.parametrize("fix_gamma", [True, False])
@pytest.mark.parametrize("is_train,use_global_stats", [(True, False), (False, False), (True, True)])
def test_batch_norm_forward(dtype, shape, axis, fix_gamma, is_train, use_global_stats):
    x, gamma, beta, mm, mv = _bn_arrays(shape, axis, dtype)
    mm0, mv0 = mm.copy(), mv.copy()
    C = shape[axis]
    reduce = tuple(a for a in range(len(shape)) if a != axis % len(shape))
    if is_train and not use_global_stats:
        mean, var = x.astype(np.float64).mean(reduce), x.astype(np.float64).var(reduce)
    else:
        mean, var = mm.astype(np.float64), mv.astype(np.float64)
    expected = ref_batch_norm(x.astype(np.float64), gamma, beta, mean, var, 1e-3, fix_gamma, axis % len(shape))
    y, out_mean, out_var = np.empty_like(x), np.empty(C, dtype), np.empty(C, dtype)
    plan = runner.Plan()
    norm.append_batch_norm(plan, x, gamma, beta, mm, mv, y, out_mean, out_var, eps=1e-3,
                           fix_gamma=fix_gamma, use_global_stats=use_global_stats, axis=axis)
    plan.run(is_train=is_train)
    np.testing.assert_allclose(y, expected, **_tol(dtype))
    np.testing.assert_allclose(out_mean, mean, **_tol(dtype))
    np.testing.assert_allclose(out_var, var, **_tol(dtype))
    # the forward never moves the moving statistics (MXNet does it in backward)
    np.testing.assert_array_equal(mm, mm0)
    np.testing.assert_array_equal(mv, mv0)


def _bn_forward_backward(shape, axis, fix_gamma, use_global_stats, seed=0):
    """Forward plan, a loss on it, and the kernel's gradients (float64)."""
    x, gamma, beta, mm, mv = _bn_arrays(shape, axis, np.float64, seed)
    C = shape[axis]
    y, mean, var = np.empty_like(x), np.empty(C), np.empty(C)
    fwd = runner.Plan()
    norm.append_batch_norm(fwd, x, gamma, beta, mm, mv, y, mean, var, eps=1e-3, fix_gamma=fix_gamma,
                           use_global_stats=use_global_stats, axis=axis)
    proj = _rng(seed + 7).standard_normal(shape)

    def loss():
        fwd.run(is_train=True)
        return float((y * proj).sum())

    return x, gamma, beta, mm, mv, y, mean, var, proj, loss


@pytest.mark.parametrize("shape,axis", BN_CASES)
@pytest.mark.parametrize("fix_gamma", [True, False])
@pytest.mark.parametrize("use_global_stats", [False, True])
def test_batch_norm_backward_finite_differences(shape, axis, fix_gamma, use_global_stats):
    x, gamma, beta, mm, mv, y, mean, var, proj, loss = _bn_forward_backward(
        shape, axis, fix_gamma, use_global_stats)
    numeric = [_numeric_grad(loss, a) for a in (x, gamma, beta)]
    if fix_gamma:
        numeric[1][:] = 0   # MXNet: gamma is a constant 1, its gradient is 0
    loss()
    dx, dgamma, dbeta = np.empty_like(x), np.empty_like(gamma), np.empty_like(beta)
    back = runner.Plan()
    norm.append_batch_norm_backward(back, proj, x, gamma, mean, var, mm.copy(), mv.copy(), dx, dgamma,
                                    dbeta, eps=1e-3, momentum=0.9, fix_gamma=fix_gamma,
                                    use_global_stats=use_global_stats, axis=axis)
    back.run(is_train=True)
    for got, want in zip((dx, dgamma, dbeta), numeric):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req", ["write", "add"])
def test_batch_norm_backward_req_and_moving_update(dtype, req):
    shape, axis = (4, 3, 5, 6), 1
    x, gamma, beta, mm, mv = _bn_arrays(shape, axis, dtype)
    y, mean, var = np.empty_like(x), np.empty(3, dtype), np.empty(3, dtype)
    plan = runner.Plan()
    norm.append_batch_norm(plan, x, gamma, beta, mm, mv, y, mean, var, fix_gamma=False)
    dy = _rng(9).standard_normal(shape).astype(dtype)
    start = [_rng(10).standard_normal(a.shape).astype(dtype) for a in (x, gamma, beta)]
    dx, dgamma, dbeta = (s.copy() for s in start)
    mm0, mv0 = mm.astype(np.float64), mv.astype(np.float64)
    norm.append_batch_norm_backward(plan, dy, x, gamma, mean, var, mm, mv, dx, dgamma, dbeta,
                                    fix_gamma=False, req_dx=req, req_dgamma=req, req_dbeta=req)
    plan.run(is_train=True)
    # reference gradients, batch statistics
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    mu, v = x64.mean((0, 2, 3)), x64.var((0, 2, 3))
    inv = 1 / np.sqrt(v + 1e-3)
    xhat = (x64 - mu[:, None, None]) * inv[:, None, None]
    m = x.size // 3
    want_db = dy64.sum((0, 2, 3))
    want_dg = (dy64 * xhat).sum((0, 2, 3))
    want_dx = (gamma.astype(np.float64) * inv)[:, None, None] * (
        dy64 - want_db[:, None, None] / m - xhat * want_dg[:, None, None] / m)
    for got, want, s in zip((dx, dgamma, dbeta), (want_dx, want_dg, want_db), start):
        np.testing.assert_allclose(got, want + (s if req == "add" else 0), **_tol(dtype))
    np.testing.assert_allclose(mm, 0.9 * mm0 + 0.1 * mu, **_tol(dtype))
    np.testing.assert_allclose(mv, 0.9 * mv0 + 0.1 * v, **_tol(dtype))


def test_batch_norm_no_moving_update_with_global_stats_or_inference():
    x, gamma, beta, mm, mv = _bn_arrays((4, 3, 5), 1, np.float64)
    mm0, mv0 = mm.copy(), mv.copy()
    for use_global_stats, is_train in ((True, True), (False, False)):
        y, mean, var = np.empty_like(x), np.empty(3), np.empty(3)
        plan = runner.Plan()
        norm.append_batch_norm(plan, x, gamma, beta, mm, mv, y, mean, var,
                               use_global_stats=use_global_stats)
        norm.append_batch_norm_backward(plan, y, x, gamma, mean, var, mm, mv, np.empty_like(x),
                                        np.empty(3), np.empty(3), use_global_stats=use_global_stats)
        plan.run(is_train=is_train)
        np.testing.assert_array_equal(mm, mm0)
        np.testing.assert_array_equal(mv, mv0)


def test_batch_norm_fix_gamma_gradient_is_zero():
    x, gamma, beta, mm, mv = _bn_arrays((4, 3, 5), 1, np.float32)
    y, mean, var = np.empty_like(x), np.empty(3, np.float32), np.empty(3, np.float32)
    dgamma = np.full(3, 5.0, np.float32)
    plan = runner.Plan()
    norm.append_batch_norm(plan, x, gamma, beta, mm, mv, y, mean, var, fix_gamma=True)
    norm.append_batch_norm_backward(plan, np.ones_like(x), x, gamma, mean, var, mm, mv,
                                    np.empty_like(x), dgamma, np.empty(3, np.float32), fix_gamma=True)
    plan.run(is_train=True)
    np.testing.assert_array_equal(dgamma, 0)


def test_batch_norm_bad_shapes():
    x = np.zeros((2, 3, 4), np.float32)
    c3, c4 = np.zeros(3, np.float32), np.zeros(4, np.float32)
    plan = runner.Plan()
    with pytest.raises(ValueError, match=r"gamma has shape \(4,\), expected \(3,\)"):
        norm.append_batch_norm(plan, x, c4, c3, c3, c3, np.empty_like(x), c3, c3)
    with pytest.raises(ValueError, match="axis=3 is out of range"):
        norm.append_batch_norm(plan, x, c3, c3, c3, c3, np.empty_like(x), c3, c3, axis=3)
    with pytest.raises(ValueError, match=r"output has shape \(2, 3\)"):
        norm.append_batch_norm(plan, x, c3, c3, c3, c3, np.zeros((2, 3), np.float32), c3, c3)
    with pytest.raises(TypeError, match="share one dtype"):
        norm.append_batch_norm(plan, x, c3, c3, c3, c3, np.empty_like(x), c3, np.zeros(3))
    with pytest.raises(ValueError, match=r"data gradient has shape"):
        norm.append_batch_norm_backward(plan, x, x, c3, c3, c3, c3, c3, np.zeros((3, 2, 4), np.float32),
                                        c3, c3)
    assert len(plan) == 0


# ---------------------------------------------------------------------------------------------
# The MXNet LeNet fixture, through these kernels (dense layers and activations in NumPy)

def _lenet(io, is_train):
    f32 = np.float32
    p = {k[4:]: io[k] for k in io.files if k.startswith("arg_")}
    aux = {k[4:]: io[k].copy() for k in io.files if k.startswith("aux_") and not k.startswith("aux_after")}
    data = io["data"].astype(f32)
    N = data.shape[0]
    c1 = np.empty((N, 4, 12, 12), f32)
    r1 = np.empty_like(c1)
    p1 = np.empty((N, 4, 6, 6), f32)
    c2 = np.empty((N, 6, 4, 4), f32)
    b1, mean, var = np.empty_like(c2), np.empty(6, f32), np.empty(6, f32)
    s1 = np.empty_like(c2)
    p2 = np.empty((N, 6, 2, 2), f32)
    fwd = runner.Plan()
    conv.append_convolution(fwd, data, p["conv1_weight"], p["conv1_bias"], c1, kernel=(3, 3), pad=(1, 1),
                            num_filter=4)
    fwd.add_python(lambda: np.maximum(c1, 0, out=r1), "relu")
    conv.append_pooling(fwd, r1, p1, "max", kernel=(2, 2), stride=(2, 2))
    conv.append_convolution(fwd, p1, p["conv2_weight"], p["conv2_bias"], c2, kernel=(3, 3), num_filter=6)
    norm.append_batch_norm(fwd, c2, p["bn1_gamma"], p["bn1_beta"], aux["bn1_moving_mean"],
                           aux["bn1_moving_var"], b1, mean, var, fix_gamma=False)
    fwd.add_python(lambda: np.copyto(s1, 1 / (1 + np.exp(-b1))), "sigmoid")
    conv.append_pooling(fwd, s1, p2, "avg", kernel=(2, 2), stride=(2, 2))
    fwd.run(is_train=is_train)
    flat = p2.reshape(N, -1)
    h = flat @ p["fc1_weight"].T + p["fc1_bias"]
    a = np.maximum(h, 0)
    z = a @ p["fc2_weight"].T + p["fc2_bias"]
    e = np.exp(z - z.max(1, keepdims=True))
    prob = e / e.sum(1, keepdims=True)
    if not is_train:
        return prob, None, None
    grads = {}
    dz = prob.copy()
    dz[np.arange(N), io["label"].astype(int)] -= 1
    grads["fc2_weight"], grads["fc2_bias"] = dz.T @ a, dz.sum(0)
    dh = (dz @ p["fc2_weight"]) * (h > 0)
    grads["fc1_weight"], grads["fc1_bias"] = dh.T @ flat, dh.sum(0)
    dp2 = (dh @ p["fc1_weight"]).reshape(p2.shape).astype(f32)
    ds1, db1, dc2 = np.empty_like(s1), np.empty_like(b1), np.empty_like(c2)
    dp1, dr1, dc1 = np.empty_like(p1), np.empty_like(r1), np.empty_like(c1)
    for name, shape in (("conv1_weight", (4, 1, 3, 3)), ("conv2_weight", (6, 4, 3, 3))):
        grads[name] = np.empty(shape, f32)
    for name, size in (("conv1_bias", 4), ("conv2_bias", 6), ("bn1_gamma", 6), ("bn1_beta", 6)):
        grads[name] = np.empty(size, f32)
    back = runner.Plan()
    conv.append_pooling_backward(back, dp2, s1, ds1, "avg", kernel=(2, 2), stride=(2, 2))
    back.add_python(lambda: np.copyto(db1, ds1 * s1 * (1 - s1)), "sigmoid_backward")
    norm.append_batch_norm_backward(back, db1, c2, p["bn1_gamma"], mean, var, aux["bn1_moving_mean"],
                                    aux["bn1_moving_var"], dc2, grads["bn1_gamma"], grads["bn1_beta"],
                                    fix_gamma=False)
    conv.append_convolution_backward(back, dc2, p1, p["conv2_weight"], dp1, grads["conv2_weight"],
                                     grads["conv2_bias"], kernel=(3, 3), num_filter=6)
    conv.append_pooling_backward(back, dp1, r1, dr1, "max", kernel=(2, 2), stride=(2, 2))
    back.add_python(lambda: np.copyto(dc1, dr1 * (c1 > 0)), "relu_backward")
    conv.append_convolution_backward(back, dc1, data, p["conv1_weight"], None, grads["conv1_weight"],
                                     grads["conv1_bias"], kernel=(3, 3), pad=(1, 1), num_filter=4)
    back.run(is_train=True)
    return prob, grads, aux


def test_mxnet_lenet_fixture():
    io = np.load(os.path.join(FIXTURES, "lenet-io.npz"))
    prob, _, _ = _lenet(io, is_train=False)
    np.testing.assert_allclose(prob, io["out_infer_0"], rtol=1e-4, atol=1e-6)
    prob, grads, aux = _lenet(io, is_train=True)
    np.testing.assert_allclose(prob, io["out_train_0"], rtol=1e-4, atol=1e-6)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, io["grad_" + name], rtol=1e-4, atol=1e-5, err_msg=name)
    for name in ("bn1_moving_mean", "bn1_moving_var"):
        np.testing.assert_allclose(aux[name], io["aux_after_" + name], rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("pool_type", ["max", "avg", "sum"])
def test_2x2_stride_2_pooling_with_ties_nan_and_infinities(pool_type):
    """The 2x2/stride-2 fast path agrees with the reference on awkward values."""
    x = np.random.default_rng(5).integers(-2, 3, size=(2, 3, 6, 9)).astype(np.float32)
    x[0, 0, 0, 0], x[0, 0, 1, 1], x[1, 2, 2, 2] = np.inf, -np.inf, np.nan
    x[1, 1, :2, :2] = -np.inf                    # a window with no finite value
    y = np.empty((2, 3, 3, 4), np.float32)
    plan = runner.Plan()
    _pool_call(plan, x, y, pool_type, dict(kernel=(2, 2), stride=(2, 2)))
    plan.run()
    if pool_type == "max":
        # MXNet's max starts from the lowest finite value and keeps the strictly larger: NaN
        # is passed over, and a window of -inf gives the lowest finite value
        lowest = np.finfo(np.float32).min
        inside = x[:, :, :, :8]                   # the last column is in no window
        windows = np.where(np.isnan(inside), -np.inf, inside).reshape(2, 3, 3, 2, 4, 2)
        expected = np.maximum(windows.max(axis=(3, 5)), lowest)
    else:
        with np.errstate(invalid="ignore"):     # inf + -inf in the reference, as in the kernel
            expected = ref_pool(x.astype(np.float64), pool_type, (2, 2), (2, 2), (), False, "valid", True)
    np.testing.assert_array_equal(y, expected.astype(np.float32))


def _finished(expected, b, epilogue):
    """(y to start from, the fused arguments, the output wanted) of a float32 forward whose
    reference with bias b is `expected`, finished by `epilogue`: none, add (to a random y), relu
    (after a fused per-channel scale) or clip."""
    channels = expected.shape[1]
    scale = _rng(4).uniform(-2, 2, channels).astype(np.float32)
    start = _rng(2).standard_normal(expected.shape).astype(np.float32)
    y = start.copy() if epilogue == "add" else np.full(expected.shape, np.nan, np.float32)
    extra = {"relu": dict(activation=("relu",), scale=scale),
             "clip": dict(activation=("clip", -0.5, 0.75))}.get(epilogue, {})
    bias = b[:, None, None]
    want = {"add": expected + start,
            "relu": np.maximum((expected - bias) * scale[:, None, None] + bias, 0),
            "clip": np.clip(expected, -0.5, 0.75)}.get(epilogue, expected)
    return y, extra, want


# 3x3 depthwise layers of float32 planes that the AVX-512 build's row kernel takes
# (_depthwise_rows.h): the flat way (stride 1, one column of padding, rows at most 8 wide) and
# rows of one and of several vectors of 16 columns, at stride 1 and 2, pads 0 to 2
ROW_KERNEL_CASES = [((4, 7, 7), 1, (1, 1)), ((3, 5, 8), 1, (1, 1)), ((3, 6, 3), 1, (2, 1)),
                    ((3, 14, 14), 1, (1, 1)), ((2, 9, 37), 1, (1, 1)), ((2, 8, 21), 1, (0, 2)),
                    ((3, 14, 14), 2, (1, 1)), ((2, 11, 45), 2, (1, 1)), ((2, 10, 33), 2, (0, 0)),
                    ((2, 7, 40), 2, (2, 1)), ((2, 2, 3), 1, (1, 1))]


def _row_kernel_run(build, x, w, b, y, stride, pad, req="write", **extra):
    plan = runner.Plan()
    build.append_convolution(plan, x, w, b, y, req=req, kernel=(3, 3), stride=(stride, stride),
                             pad=pad, num_filter=x.shape[1], num_group=x.shape[1], **extra)
    plan.run()
    return y


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", ROW_KERNEL_CASES, ids=str)
@pytest.mark.parametrize("epilogue", ["none", "add", "relu", "clip"])
def test_depthwise_row_kernel_geometry_and_epilogues(build, case, epilogue):
    """Every way through a plane and every finish of the row kernel (and of the paths the other
    builds take) against the reference, float32, planes of the batch's first, middle and last
    samples (the first and last load with masks)."""
    chw, stride, pad = case
    x, w, b, kw = _depthwise_case((chw, (3, 3), (stride, stride), pad, (1, 1)), 3, np.float32)
    y, extra, want = _finished(ref_conv(x, w, b, (stride, stride), pad, group=chw[0])[0], b,
                               epilogue)
    got = _row_kernel_run(build, x, w, b, y, stride, pad, "add" if epilogue == "add" else "write",
                          **extra)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", ROW_KERNEL_CASES[:2] + ROW_KERNEL_CASES[4:5] + ROW_KERNEL_CASES[7:8],
                         ids=str)
def test_depthwise_planes_keep_their_nans_to_themselves(build, case):
    """The row kernel's plain loads read into the neighbouring planes for the lanes it masks out
    of the sums: a NaN and infinities in one plane change no other plane's output, and a relu
    still gives 0 where the NaN reaches."""
    chw, stride, pad = case
    x, w, b, kw = _depthwise_case((chw, (3, 3), (stride, stride), pad, (1, 1)), 3, np.float32)
    shape = ref_conv(x, w, b, (stride, stride), pad, group=chw[0])[0].shape
    clean = _row_kernel_run(build, x, w, b, np.empty(shape, np.float32), stride, pad)
    dirty = x.copy()
    dirty[1, 1] = np.inf
    dirty[1, 1, 0, 0] = np.nan
    dirty[1, 1, -1, -1] = -np.inf
    got = _row_kernel_run(build, dirty, w, b, np.empty_like(clean), stride, pad)
    others = np.ones(clean.shape[:2], bool)
    others[1, 1] = False
    assert np.array_equal(got[others], clean[others])
    assert not np.isfinite(got[1, 1]).all()
    relu = _row_kernel_run(build, dirty, w, b, np.empty_like(clean), stride, pad,
                           activation=("relu",))
    assert np.array_equal(relu[others], np.maximum(clean[others], 0))
    assert not np.isnan(relu).any()


def _guarded_floats(count, at_end):
    """A float32 array of `count` elements that ends (at_end) or starts exactly at an inaccessible
    page of its own mapping: a read past the array faults."""
    import ctypes
    import mmap
    page = mmap.PAGESIZE
    nbytes = count * 4
    pages = -(-nbytes // page) + 1
    memory = mmap.mmap(-1, pages * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    whole = np.frombuffer(memory, np.uint8)
    guard = whole.ctypes.data + ((pages - 1) * page if at_end else 0)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(guard, page, 0) == 0          # PROT_NONE
    start = (pages - 1) * page - nbytes if at_end else page
    return whole[start:start + nbytes].view(np.float32)


def _forward_in_every_build(x, w, b, kw, expected):
    """The float32 forward of every build of the conv kernels gives `expected`."""
    for build in builds("conv"):
        y = np.empty(expected.shape, np.float32)
        plan = runner.Plan()
        build.append_convolution(plan, x, w, b, y, **kw)
        plan.run()
        np.testing.assert_allclose(y, expected, rtol=5e-5, atol=5e-5)


def _row_kernel_backward(build, dy, x, w, stride, pad, req="write"):
    """dx and dw of a 3x3 depthwise layer (req 'add' adds to ones)"""
    shape_dx, shape_dw = x.shape, w.shape
    dx, dw = ((np.ones if req == "add" else np.empty)(shape, np.float32)
              for shape in (shape_dx, shape_dw))
    plan = runner.Plan()
    build.append_convolution_backward(plan, dy, x, w, dx, dw, None, req_dx=req, req_dw=req,
                                      req_db="null", kernel=(3, 3), stride=(stride, stride),
                                      pad=pad, num_filter=x.shape[1], num_group=x.shape[1])
    plan.run(is_train=True)
    return dx, dw


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", ROW_KERNEL_CASES, ids=str)
@pytest.mark.parametrize("req", ["write", "add"])
def test_depthwise_row_kernel_gradients(build, case, req):
    """The weight gradient's sums and the data gradient (stride 1: the forward with the kernel
    turned; stride 2: every other column of dy spread out) against the reference, float32."""
    chw, stride, pad = case
    x, w, b, kw = _depthwise_case((chw, (3, 3), (stride, stride), pad, (1, 1)), 3, np.float32)
    y_ref, backward = ref_conv(x, w, b, (stride, stride), pad, group=chw[0])
    dy = _rng(1).standard_normal(y_ref.shape).astype(np.float32)
    dx, dw = _row_kernel_backward(build, dy, x, w, stride, pad, req)
    want_dx, want_dw = backward(dy)[:2]
    extra = 1 if req == "add" else 0
    np.testing.assert_allclose(dx, want_dx + extra, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(dw, want_dw + extra, rtol=2e-5, atol=5e-5)


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", ROW_KERNEL_CASES[:2] + ROW_KERNEL_CASES[4:5] + ROW_KERNEL_CASES[7:8],
                         ids=str)
def test_depthwise_gradients_keep_their_nans_to_themselves(build, case):
    """A NaN and infinities in one plane of dy reach that plane's dx and its channel's dw only."""
    chw, stride, pad = case
    x, w, b, kw = _depthwise_case((chw, (3, 3), (stride, stride), pad, (1, 1)), 3, np.float32)
    dy = _rng(1).standard_normal(ref_conv(x, w, b, (stride, stride), pad, group=chw[0])[0].shape)
    dy = dy.astype(np.float32)
    clean_dx, clean_dw = _row_kernel_backward(build, dy, x, w, stride, pad)
    dirty = dy.copy()
    dirty[1, 1] = np.inf
    dirty[1, 1, 0, 0] = np.nan
    dirty[1, 1, -1, -1] = -np.inf
    dx, dw = _row_kernel_backward(build, dirty, x, w, stride, pad)
    others = np.ones(dx.shape[:2], bool)
    others[1, 1] = False
    assert np.array_equal(dx[others], clean_dx[others])
    assert np.array_equal(np.delete(dw, 1, axis=0), np.delete(clean_dw, 1, axis=0))
    assert not np.isfinite(dx[1, 1]).all() and not np.isfinite(dw[1]).all()


@pytest.mark.skipif(sys.platform != "linux", reason="guard pages through libc's mprotect: Linux")
@pytest.mark.parametrize("case", ROW_KERNEL_CASES, ids=str)
@pytest.mark.parametrize("at_end", [False, True])
def test_depthwise_reads_stay_inside_the_tensor(case, at_end):
    """x and dy right against an inaccessible page (after their last element or before their
    first): the kernels, forward and backward, read nothing outside them (a read there would
    end the process)."""
    chw, stride, pad = case
    x, w, b, kw = _depthwise_case((chw, (3, 3), (stride, stride), pad, (1, 1)), 2, np.float32)
    expected, backward = ref_conv(x, w, b, (stride, stride), pad, group=chw[0])
    dy = _rng(1).standard_normal(expected.shape).astype(np.float32)
    xg, dyg = (_guarded_floats(a.size, at_end).reshape(a.shape) for a in (x, dy))
    xg[...] = x
    dyg[...] = dy
    for build in builds("conv"):
        got = _row_kernel_run(build, xg, w, b, np.empty(expected.shape, np.float32), stride, pad)
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-5)
        dx, dw = _row_kernel_backward(build, dyg, xg, w, stride, pad)
        np.testing.assert_allclose(dx, backward(dy)[0], rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(dw, backward(dy)[1], rtol=2e-5, atol=5e-5)


# 1x1 layers through the AVX-512 and AVX2 builds' pointwise blocks (_pointwise_block.h) and the
# portable build's GEMMs: (C, F, plane) with pixel counts that leave 1 to 63 pixels after the
# AVX-512 blocks of 64 (1 to 23, in one to three vectors, after AVX2's of 24) and filter counts
# that leave 1 to 5 after the blocks of 6 (1 to 3 after AVX2's of 4); (96, 90), with weights
# beyond AVX2's CYSYM_PW_MAX_WEIGHTS on a small plane, goes to OpenBLAS there, and the last four
# to its packed strips: planes beyond CYSYM_PW_MAX_PIXELS (one strip; 8 strips of 192 pixels and
# one of 4 blocks and 8 pixels; one strip of 1152 pixels and one of 5 blocks and 23), and 575
# pixels with weights beyond the limit (7 strips of 72 pixels and one of 2 blocks and 23)
POINTWISE_BLOCK_CASES = [(3, 7, (7, 7)), (17, 13, (5, 13)), (5, 6, (8, 8)), (1, 1, (1, 1)),
                         (8, 11, (10, 13)), (33, 4, (9, 7)), (2, 5, (3, 21)), (4, 12, (1, 47)),
                         (96, 90, (5, 7)), (3, 5, (33, 32)), (40, 9, (40, 41)), (7, 6, (35, 37)),
                         (100, 90, (23, 25))]


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", POINTWISE_BLOCK_CASES, ids=str)
@pytest.mark.parametrize("epilogue", ["none", "add", "relu", "clip"])
@pytest.mark.parametrize("batch", [1, 3])
def test_pointwise_blocks(build, case, epilogue, batch):
    """Every block shape, tail and finish of the pointwise forward against the reference."""
    C, F, plane = case
    x, w, b, kw = _conv_case(((batch, C) + plane, F, (1, 1), (1, 1), (0, 0), (1, 1), 1),
                             np.float32)
    y, extra, want = _finished(ref_conv(x, w, b)[0], b, epilogue)
    plan = runner.Plan()
    build.append_convolution(plan, x, w, b, y, req="add" if epilogue == "add" else "write",
                             **kw, **extra)
    plan.run()
    np.testing.assert_allclose(y, want, rtol=2e-5, atol=2e-5)


# (channels, plane, filters): few channels on a large plane; many channels on a small one, whose
# few outputs (24 x 63) the threads split for their 64 multiply-adds each
@pytest.mark.parametrize("layer", [(9, (50, 61), 17), (64, (7, 9), 24)], ids=str)
@pytest.mark.parametrize("batch", [1, 2, 3])
def test_pointwise_threads(batch, layer):
    """Two kernel threads split the pointwise forward's samples (an even count) or filters: the
    same bits as one."""
    from cysym._ops import load
    channels, plane, filters = layer
    x, w, b, kw = _conv_case(((batch, channels) + plane, filters, (1, 1), (1, 1), (0, 0), (1, 1),
                              1), np.float32)
    one, two = _on_one_and_two_threads(load("conv"), x, w, b, kw)
    assert np.array_equal(one, two)
    np.testing.assert_allclose(one, ref_conv(x, w, b)[0], rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", POINTWISE_BLOCK_CASES, ids=str)
@pytest.mark.parametrize("req", ["write", "add"])
def test_pointwise_data_gradient_blocks(build, case, req):
    """The data gradient w.T @ dy through the forward's blocks (the weights read transposed),
    and the weight gradient beside it, against the reference."""
    C, F, plane = case
    x, w, b, kw = _conv_case(((3, C) + plane, F, (1, 1), (1, 1), (0, 0), (1, 1), 1), np.float32)
    y_ref, backward = ref_conv(x, w, b)
    dy = _rng(1).standard_normal(y_ref.shape).astype(np.float32)
    start = _rng(2).standard_normal(x.shape).astype(np.float32)
    dx = start.copy() if req == "add" else np.full(x.shape, np.nan, np.float32)
    dw = np.empty(w.shape, np.float32)
    plan = runner.Plan()
    build.append_convolution_backward(plan, dy, x, w, dx, dw, None, req_dx=req, req_db="null",
                                      **kw)
    plan.run(is_train=True)
    want_dx, want_dw = backward(dy)[:2]
    np.testing.assert_allclose(dx, want_dx + (start if req == "add" else 0), rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(dw, want_dw, rtol=2e-5, atol=5e-5)


@pytest.mark.skipif(sys.platform != "linux", reason="guard pages through libc's mprotect: Linux")
@pytest.mark.parametrize("case", POINTWISE_BLOCK_CASES, ids=str)
@pytest.mark.parametrize("at_end", [False, True])
def test_pointwise_blocks_read_nothing_outside_x_and_dy(case, at_end):
    """x and dy right against inaccessible pages: the blocks' loads of the last pixels (masked)
    read nothing outside them, forward and data gradient, in every build."""
    C, F, plane = case
    x, w, b, kw = _conv_case(((2, C) + plane, F, (1, 1), (1, 1), (0, 0), (1, 1), 1), np.float32)
    expected, backward = ref_conv(x, w, b)
    dy = _rng(1).standard_normal(expected.shape).astype(np.float32)
    xg, dyg = (_guarded_floats(a.size, at_end).reshape(a.shape) for a in (x, dy))
    xg[...], dyg[...] = x, dy
    for build in builds("conv"):
        y, dx = np.empty(expected.shape, np.float32), np.empty_like(x)
        plan = runner.Plan()
        build.append_convolution(plan, xg, w, b, y, **kw)
        build.append_convolution_backward(plan, dyg, xg, w, dx, None, None, **kw)
        plan.run(is_train=True)
        np.testing.assert_allclose(y, expected, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(dx, backward(dy)[0], rtol=2e-5, atol=2e-5)


# 3x3 stride-1 layers the AVX-512 build's blocks take (_conv3x3_block.h: float32, more than 4
# channels; by rows with at most 32 filters and output rows at least 14 wide, with
# filter counts that leave 1 to 5 after the blocks of 6, output rows that leave 1 to 3 after the
# blocks of 4, rows of one to three vectors of 16 columns, pads 0 to 2; the flat way with 49 to
# 64 output pixels and one column of padding, any channel count): (C, F, plane, pad)
CONV3X3_CASES = [(5, 7, (6, 14), (1, 1)), (9, 32, (9, 17), (1, 1)), (33, 8, (7, 33), (0, 1)),
                 (6, 13, (5, 20), (2, 2)), (8, 6, (4, 16), (1, 0)), (40, 11, (3, 40), (1, 1)),
                 (40, 13, (7, 7), (1, 1)), (6, 7, (8, 8), (1, 1)), (9, 11, (9, 8), (0, 1)),
                 (35, 6, (5, 8), (2, 1))]


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", CONV3X3_CASES, ids=str)
@pytest.mark.parametrize("epilogue", ["none", "add", "relu", "clip"])
@pytest.mark.parametrize("batch", [1, 3])
def test_conv3x3_blocks(build, case, epilogue, batch):
    """Every block shape, tail and finish of the 3x3 forward against the reference, with no
    workspace where the blocks take the layer."""
    C, F, plane, pad = case
    x, w, b, kw = _conv_case(((batch, C) + plane, F, (3, 3), (1, 1), pad, (1, 1), 1), np.float32)
    y, extra, want = _finished(ref_conv(x, w, b, (1, 1), pad)[0], b, epilogue)
    blocks = build.conv_forward_blocks(x.shape, w.shape, itemsize=4, **kw)
    assert blocks == build.__name__.endswith("_avx512")
    assert (build.conv_workspace_bytes(x.shape, w.shape, itemsize=4, forward=True, **kw) == 0) == blocks
    plan = runner.Plan()
    build.append_convolution(plan, x, w, b, y, req="add" if epilogue == "add" else "write",
                             **kw, **extra)
    plan.run()
    np.testing.assert_allclose(y, want, rtol=5e-5, atol=5e-5)


@pytest.mark.skipif(sys.platform != "linux", reason="guard pages through libc's mprotect: Linux")
@pytest.mark.parametrize("case", CONV3X3_CASES, ids=str)
@pytest.mark.parametrize("at_end", [False, True])
def test_conv3x3_reads_stay_inside_the_tensor(case, at_end):
    """x right against an inaccessible page: the 3x3 blocks read nothing outside it."""
    C, F, plane, pad = case
    x, w, b, kw = _conv_case(((2, C) + plane, F, (3, 3), (1, 1), pad, (1, 1), 1), np.float32)
    expected, _ = ref_conv(x, w, b, (1, 1), pad)
    xg = _guarded_floats(x.size, at_end).reshape(x.shape)
    xg[...] = x
    _forward_in_every_build(xg, w, b, kw, expected)


def _avx512_conv():
    """The conv kernels' AVX-512 build, which alone has the 3x3 blocks and the filter lanes; the
    test skips on a machine without AVX-512 (where the same layers take Winograd or im2col,
    whose GEMMs split by thread count: other bits on two threads than on one)."""
    from cysym._ops import load
    build = load("conv")
    if not build.__name__.endswith("_avx512"):
        pytest.skip("the 3x3 blocks and the filter lanes are in the AVX-512 build; this machine "
                    "has no AVX-512")
    return build


@pytest.mark.parametrize("batch", [1, 2])
def test_conv3x3_threads(batch):
    """Two kernel threads split the 3x3 blocks' samples (an even count) or filters: the same
    bits as one."""
    build = _avx512_conv()
    x, w, b, kw = _conv_case(((batch, 12, 30, 31), 20, (3, 3), (1, 1), (1, 1), (1, 1), 1),
                             np.float32)
    one, two = _on_one_and_two_threads(build, x, w, b, kw)
    assert np.array_equal(one, two)
    np.testing.assert_allclose(one, ref_conv(x, w, b, (1, 1), (1, 1))[0], rtol=5e-5, atol=5e-5)


# Layers the AVX-512 build's forward with filters in the lanes takes (_filter_lanes.h): C, F,
# plane, kernel, stride, pad.  Between them: blocks of 1 to 14 pixels along a row (and rows cut
# into even blocks: 15 -> 8 + 7, 17 -> 9 + 8, 31 -> 11 + 11 + 9), filter tails below, at and
# beyond a vector of 16, column strides 1 and 2 with row strides 1 to 3, kernels 2x2 to 7x7 and
# 1xk / kx1, pads 0 to 3 (one side's reach past x cut off by the stride, and even kernels).
FILTER_LANES_CASES = [(5, 7, (6, 9), (2, 2), (1, 1), (0, 0)),
                      (6, 33, (9, 29), (3, 3), (2, 2), (1, 1)),
                      (7, 48, (17, 17), (1, 7), (1, 1), (0, 3)),
                      (5, 20, (11, 12), (7, 1), (1, 1), (3, 0)),
                      (9, 16, (13, 31), (5, 5), (1, 1), (2, 2)),
                      (6, 64, (16, 16), (3, 3), (2, 2), (0, 0)),
                      (5, 9, (12, 14), (3, 3), (3, 2), (1, 1)),
                      (8, 40, (10, 10), (4, 3), (1, 1), (2, 1)),
                      (6, 31, (3, 5), (3, 3), (1, 1), (1, 1)),
                      (5, 14, (2, 30), (1, 3), (1, 1), (0, 1)),
                      (6, 10, (4, 15), (3, 15), (1, 1), (1, 0)),
                      (5, 17, (3, 16), (1, 3), (1, 1), (0, 0))]


def _filter_lanes_case(case, batch):
    C, F, plane, kernel, stride, pad = case
    return _conv_case(((batch, C) + plane, F, kernel, stride, pad, (1, 1), 1), np.float32)


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", FILTER_LANES_CASES, ids=str)
@pytest.mark.parametrize("epilogue", ["none", "add", "relu", "clip"])
@pytest.mark.parametrize("batch", [1, 3])
def test_filter_lanes(build, case, epilogue, batch):
    """Every block width, filter tail, stride, kernel shape and finish of the forward with
    filters in the lanes against the reference, in the build that has it and the others."""
    x, w, b, kw = _filter_lanes_case(case, batch)
    y, extra, want = _finished(ref_conv(x, w, b, kw["stride"], kw["pad"])[0], b, epilogue)
    assert build.conv_forward_blocks(x.shape, w.shape, itemsize=4, **kw) == (
        build.__name__.endswith("_avx512"))
    plan = runner.Plan()
    build.append_convolution(plan, x, w, b, y, req="add" if epilogue == "add" else "write",
                             **kw, **extra)
    plan.run()
    np.testing.assert_allclose(y, want, rtol=5e-5, atol=5e-5)


def test_filter_lanes_leave_large_3x3_layers_to_winograd():
    """3x3 layers at stride 1 with more output pixels than FILTER_LANES_3X3_MAX_PIXELS keep to
    Winograd or im2col, but for those of at most FILTER_LANES_3X3_NARROW_CHANNELS inputs, which
    the lanes take at any size unless the 3x3 blocks do (at most 32 filters: one block of the
    lanes, which threads could not split); at stride 2 the lanes take them whatever their size."""
    build = _avx512_conv()
    side = 24
    assert side * side > build.FILTER_LANES_3X3_MAX_PIXELS
    common = dict(kernel=(3, 3), pad=(1, 1), num_filter=64, itemsize=4)
    assert not build.conv_forward_blocks((1, 64, side, side), (64, 64, 3, 3), stride=(1, 1),
                                         **common)
    assert build.conv_forward_blocks((1, 64, 20, 20), (64, 64, 3, 3), stride=(1, 1), **common)
    assert build.conv_forward_blocks((1, 64, side, side), (64, 64, 3, 3), stride=(2, 2),
                                     **common)
    narrow = build.FILTER_LANES_3X3_NARROW_CHANNELS
    three = dict(kernel=(3, 3), pad=(1, 1), itemsize=4)

    def lanes_workspace(shape, weight):
        assert build.conv_forward_blocks(shape, weight, **three)
        return build.conv_workspace_bytes(shape, weight, forward=True, **three)

    assert lanes_workspace((32, narrow, side, side), (64, narrow, 3, 3)) > 0
    assert lanes_workspace((32, 64, side, side), (32, 64, 3, 3)) == 0    # the 3x3 blocks
    assert not build.conv_forward_blocks((32, narrow + 1, side, side), (64, narrow + 1, 3, 3),
                                         **three)


def test_small_planes_of_wide_layers_go_to_the_filter_lanes_in_a_batch():
    """7x7 planes (a quarter of the flat 3x3 blocks' lanes idle) of layers with at least
    CONV3X3_LANES_MIN_CHANNELS inputs leave the flat blocks (no workspace) for the filter lanes
    (a workspace) once the batch has CONV3X3_LANES_MIN_PLANES input planes; fewer channels and
    full 8x8 planes stay flat, and in a batch the lanes take 3x3 layers at stride 1 up to
    FILTER_LANES_3X3_MAX_PIXELS_BATCH output pixels in all, or with an odd side up to
    FILTER_LANES_3X3_ODD_MAX_SIDE."""
    build = _avx512_conv()
    common = dict(kernel=(3, 3), pad=(1, 1), itemsize=4, forward=True)

    def workspace(batch, C, F, side):
        shape = (batch, C, side, side)
        assert build.conv_forward_blocks(shape, (F, C, 3, 3), kernel=(3, 3), pad=(1, 1))
        return build.conv_workspace_bytes(shape, (F, C, 3, 3), **common)

    wide = build.CONV3X3_LANES_MIN_CHANNELS
    least = -(-build.CONV3X3_LANES_MIN_PLANES // wide)
    assert workspace(least - 1, wide, wide, 7) == 0
    assert workspace(least, wide, wide, 7) > 0
    assert workspace(32, wide // 2, 32, 7) == 0
    assert workspace(build.CONV3X3_FLAT_FULL_MAX_BATCH, 448, 384, 8) == 0
    most = build.FILTER_LANES_3X3_MAX_PIXELS_BATCH
    assert workspace(most // 196, 256, 256, 14) > 0
    assert not build.conv_forward_blocks((most // 196 + 1, 256, 14, 14), (256, 256, 3, 3),
                                         kernel=(3, 3), pad=(1, 1))
    # an odd side up to FILTER_LANES_3X3_ODD_MAX_SIDE: the lanes at any batch
    odd = build.FILTER_LANES_3X3_ODD_MAX_SIDE
    assert odd % 2 and workspace(32, 256, 384, odd) > 0
    assert not build.conv_forward_blocks((32, 256, odd + 2, odd + 2), (256, 256, 3, 3),
                                         kernel=(3, 3), pad=(1, 1))


@pytest.mark.parametrize("batch", [1, 2])
def test_filter_lanes_threads(batch):
    """Two kernel threads split the filter lanes' samples (an even count) or their filters in
    blocks of 32: the same bits as one."""
    build = _avx512_conv()
    x, w, b, kw = _filter_lanes_case((12, 70, (13, 19), (3, 5), (2, 1), (1, 2)), batch)
    one, two = _on_one_and_two_threads(build, x, w, b, kw)
    assert np.array_equal(one, two)
    np.testing.assert_allclose(one, ref_conv(x, w, b, kw["stride"], kw["pad"])[0], rtol=5e-5,
                               atol=5e-5)


@pytest.mark.parametrize("batch", [1, 3])
def test_filter_lanes_workspace_for_fewer_threads(batch):
    """A workspace that holds one thread's scratch runs the layer on one thread when two are
    set; without a workspace the kernel takes its own.  A batch packs all the weights once, in
    blocks of 32 filters, beside each thread's padded sample; one sample packs a block at a
    time into its thread's scratch."""
    from cysym._ops import threads
    build = _avx512_conv()
    C, F, plane, kernel, stride, pad = case = (12, 70, (13, 19), (3, 3), (2, 2), (1, 1))
    x, w, b, kw = _filter_lanes_case(case, batch)
    expected = ref_conv(x, w, b, kw["stride"], kw["pad"])[0]
    taps = C * kernel[0] * kernel[1]
    padded_sample = C * (2 * (expected.shape[2] - 1) + 3) * (2 * (expected.shape[3] - 1) + 3)
    shared, per_thread = ((-(-F // 32) * 32 * taps, padded_sample) if batch > 1
                          else (0, padded_sample + 32 * taps))
    before = threads.get_num_threads()
    try:
        threads.set_num_threads(1)
        one_thread = build.conv_workspace_bytes(x.shape, w.shape, itemsize=4, forward=True, **kw)
        assert one_thread == 4 * (shared + per_thread)
        threads.set_num_threads(2)
        # two, unless this process was forked from one that ran threads
        assert build.conv_workspace_bytes(x.shape, w.shape, itemsize=4, forward=True, **kw) == (
            4 * (shared + threads.get_num_threads() * per_thread))
        for workspace in (np.zeros(one_thread, np.uint8), None):
            y = np.full(expected.shape, np.nan, np.float32)
            plan = runner.Plan()
            build.append_convolution(plan, x, w, b, y, workspace=workspace, **kw)
            plan.run()
            np.testing.assert_allclose(y, expected, rtol=5e-5, atol=5e-5)
    finally:
        threads.set_num_threads(before)


# 3x3 layers whose weight gradient the AVX-512 build's filter lanes take: C, F, plane, stride,
# pad, batch.  Between them: filter tails below, at and beyond a vector of 16 and past a block of
# 32, strides 1 and 2 (in rows, columns or both), pads 0 to 2, one and several samples.
WEIGHT_GRAD_LANES_CASES = [(5, 7, (6, 9), (1, 1), (1, 1), 1),
                           (6, 33, (9, 13), (2, 2), (1, 1), 3),
                           (7, 16, (11, 8), (1, 2), (0, 2), 2),
                           (9, 70, (7, 7), (2, 1), (2, 0), 2),
                           (12, 64, (5, 6), (1, 1), (1, 1), 4)]


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", WEIGHT_GRAD_LANES_CASES, ids=str)
@pytest.mark.parametrize("req", ["write", "add"])
def test_weight_gradient_in_filter_lanes(build, case, req):
    """Every filter tail, stride and pad of the weight gradient with filters in the lanes (with
    the data and bias gradients beside it, or alone) against the reference, in the build that
    has it and the others."""
    C, F, plane, stride, pad, batch = case
    x, w, b, kw = _conv_case(((batch, C) + plane, F, (3, 3), stride, pad, (1, 1), 1), np.float32)
    _, backward = ref_conv(x, w, b, stride, pad)
    dy = _rng(1).standard_normal(ref_conv(x, w, b, kw["stride"], kw["pad"])[0].shape).astype(np.float32)
    want_dx, want_dw, want_db = backward(dy)
    start = _rng(2).standard_normal(w.shape).astype(np.float32)
    for others in (True, False):
        dx, db = np.empty_like(x), np.empty_like(b)
        dw = start.copy() if req == "add" else np.full(w.shape, np.nan, np.float32)
        plan = runner.Plan()
        build.append_convolution_backward(plan, dy, x, w, dx if others else None, dw,
                                          db if others else None, req_dw=req, **kw)
        # the lanes' weight gradient is a call of its own, beside the one for dx and db (and at
        # stride 1, dx too is the lanes')
        lanes = others and build.__name__.endswith("_avx512")
        assert len(plan) == 1 + lanes + (lanes and stride == (1, 1))
        plan.run(is_train=True)
        np.testing.assert_allclose(dw, want_dw + (start if req == "add" else 0), rtol=2e-4,
                                   atol=2e-4)
        if others:
            np.testing.assert_allclose(dx, want_dx, rtol=2e-4, atol=2e-4)
            np.testing.assert_allclose(db, want_db, rtol=2e-4, atol=2e-4)


def _lanes_gradient_on_thread_counts(x, w, dy, kw, gradient):
    """The AVX-512 build's dx or dw (`gradient`) of this layer on one thread, on two, and on two
    with a workspace that holds one thread's scratch."""
    from cysym._ops import threads
    build = _avx512_conv()
    before = threads.get_num_threads()
    results = []
    try:
        threads.set_num_threads(1)
        one_thread = build.conv_workspace_bytes(x.shape, w.shape, itemsize=4, **kw)
        for count, workspace in ((1, None), (2, None), (2, np.zeros(one_thread, np.uint8))):
            threads.set_num_threads(count)
            out = np.empty_like(x if gradient == "dx" else w)
            plan = runner.Plan()
            build.append_convolution_backward(plan, dy, x, w, out if gradient == "dx" else None,
                                              out if gradient == "dw" else None, None,
                                              workspace=workspace, **kw)
            plan.run(is_train=True)
            results.append(out)
    finally:
        threads.set_num_threads(before)
    return results


def test_weight_gradient_in_filter_lanes_threads():
    """Two kernel threads split the lanes' weight gradient by blocks of 32 filters: the same bits
    as one; a workspace that holds one thread's scratch runs it on one."""
    x, w, b, kw = _conv_case(((3, 9) + (10, 11), 70, (3, 3), (1, 1), (1, 1), (1, 1), 1),
                             np.float32)
    dy = _rng(1).standard_normal(ref_conv(x, w, b, kw["stride"], kw["pad"])[0].shape).astype(np.float32)
    results = _lanes_gradient_on_thread_counts(x, w, dy, kw, "dw")
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], results[2])
    np.testing.assert_allclose(results[0], ref_conv(x, w, b, (1, 1), (1, 1))[1](dy)[1],
                               rtol=2e-4, atol=2e-4)


@pytest.mark.skipif(sys.platform != "linux", reason="guard pages through libc's mprotect: Linux")
@pytest.mark.parametrize("case", FILTER_LANES_CASES[:6], ids=str)
@pytest.mark.parametrize("at_end", [False, True])
def test_filter_lanes_read_nothing_outside_x_and_w(case, at_end):
    """x and w right against inaccessible pages: the padding copy and the packing of the
    weights read nothing outside them."""
    x, w, b, kw = _filter_lanes_case(case, 2)
    expected, _ = ref_conv(x, w, b, kw["stride"], kw["pad"])
    xg = _guarded_floats(x.size, at_end).reshape(x.shape)
    wg = _guarded_floats(w.size, at_end).reshape(w.shape)
    xg[...], wg[...] = x, w
    _forward_in_every_build(xg, wg, b, kw, expected)


# Layers at stride 1 whose data gradient the AVX-512 build's filter lanes take as the forward of
# dy (the layer's C channels as its filters, its F filters as channels): C, F, plane, pad, batch,
# kernel.  Between them: channel tails below, at and beyond a vector of 16 and past a block of 32,
# few and many filters, pads 0 to 2 (so the turned layer's pads 2 to 0), one and several samples,
# 3x3, 5x5 and Inception's 1x7 and 7x1 kernels.
DATA_GRAD_LANES_CASES = [(5, 7, (6, 9), (1, 1), 1, (3, 3)),
                         (33, 6, (9, 13), (1, 1), 3, (3, 3)),
                         (16, 40, (11, 8), (0, 2), 2, (3, 3)),
                         (70, 9, (7, 7), (2, 0), 1, (3, 3)),
                         (64, 12, (5, 17), (1, 1), 3, (3, 3)),
                         (20, 35, (9, 10), (2, 1), 2, (5, 5)),
                         (40, 17, (8, 11), (0, 3), 1, (1, 7)),
                         (17, 48, (12, 6), (3, 0), 2, (7, 1))]


def _data_grad_case(case):
    C, F, plane, pad, batch, kernel = case
    x, w, b, kw = _conv_case(((batch, C) + plane, F, kernel, (1, 1), pad, (1, 1), 1), np.float32)
    y, backward = ref_conv(x, w, b, (1, 1), pad)
    dy = _rng(1).standard_normal(y.shape).astype(np.float32)
    return x, w, b, kw, dy, backward(dy)


@pytest.mark.parametrize("build", builds("conv"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", DATA_GRAD_LANES_CASES, ids=str)
@pytest.mark.parametrize("req", ["write", "add"])
def test_data_gradient_in_filter_lanes(build, case, req):
    """Every channel tail and pad of the data gradient as the forward of dy in the filter lanes
    (with the weight and bias gradients beside it, or alone) against the reference, in the build
    that has it and the others."""
    x, w, b, kw, dy, (want_dx, want_dw, want_db) = _data_grad_case(case)
    lanes = build.__name__.endswith("_avx512")
    assert build.conv_data_grad_lanes(x.shape, w.shape, itemsize=4, **kw) == lanes
    start = _rng(2).standard_normal(x.shape).astype(np.float32)
    for others in (True, False):
        dw, db = np.empty_like(w), np.empty_like(b)
        dx = start.copy() if req == "add" else np.full(x.shape, np.nan, np.float32)
        plan = runner.Plan()
        build.append_convolution_backward(plan, dy, x, w, dx, dw if others else None,
                                          db if others else None, req_dx=req, **kw)
        # in the lanes, dx and (of a 3x3 layer) dw are calls of their own, beside the one for
        # db (and dw of other kernels)
        weight_lanes = lanes and tuple(kw["kernel"]) == (3, 3)
        assert len(plan) == (1 + others + (others and weight_lanes) if lanes else 1)
        plan.run(is_train=True)
        np.testing.assert_allclose(dx, want_dx + (start if req == "add" else 0), rtol=2e-4,
                                   atol=2e-4)
        if others:
            np.testing.assert_allclose(dw, want_dw, rtol=2e-4, atol=2e-4)
            np.testing.assert_allclose(db, want_db, rtol=2e-4, atol=2e-4)


def test_data_gradient_in_filter_lanes_rule():
    """The lanes take the data gradient of float32 layers of one group with at least
    DATA_GRAD_LANES_MIN_TAPS taps, at stride 1, undilated, padded by less than the kernel; the
    others keep to Winograd, the direct path or im2col."""
    build = _avx512_conv()
    common = dict(kernel=(3, 3), num_filter=64)

    def takes(shape=(2, 64, 14, 14), weight=(64, 64, 3, 3), itemsize=4, **kw):
        return build.conv_data_grad_lanes(shape, weight, itemsize=itemsize, **{**common, **kw})

    assert takes(pad=(1, 1)) and takes(pad=(0, 2)) and takes((1, 3, 56, 56), (64, 3, 3, 3))
    assert not takes(pad=(1, 1), itemsize=8)
    assert not takes(pad=(1, 1), stride=(2, 2))
    assert not takes(pad=(2, 2), dilate=(2, 2))
    assert not takes(pad=(3, 1))
    assert not takes(weight=(64, 32, 3, 3), pad=(1, 1), num_group=2)
    assert takes(weight=(64, 64, 5, 5), pad=(2, 2), kernel=(5, 5))
    assert takes(weight=(64, 64, 1, 7), pad=(0, 3), kernel=(1, 7))
    assert not takes(weight=(64, 64, 5, 5), pad=(5, 2), kernel=(5, 5))
    assert not takes(weight=(64, 64, 1, 1), kernel=(1, 1))
    assert build.DATA_GRAD_LANES_MIN_TAPS > 3 and not takes(weight=(64, 64, 1, 3), pad=(0, 1),
                                                              kernel=(1, 3))


def test_data_gradient_in_filter_lanes_threads():
    """Two kernel threads split the lanes' data gradient by samples or by blocks of 32 channels:
    the same bits as one; a workspace that holds one thread's scratch runs it on one."""
    for case in ((70, 9, (10, 11), (1, 1), 1, (3, 3)), (12, 20, (10, 11), (1, 1), 2, (5, 5))):
        x, w, b, kw, dy, (want_dx, _, _) = _data_grad_case(case)
        results = _lanes_gradient_on_thread_counts(x, w, dy, kw, "dx")
        assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], results[2])
        np.testing.assert_allclose(results[0], want_dx, rtol=2e-4, atol=2e-4)


@pytest.mark.skipif(sys.platform != "linux", reason="guard pages through libc's mprotect: Linux")
@pytest.mark.parametrize("case", DATA_GRAD_LANES_CASES, ids=str)
@pytest.mark.parametrize("at_end", [False, True])
def test_data_gradient_in_filter_lanes_reads_nothing_outside_dy_and_w(case, at_end):
    """dy and w right against inaccessible pages: the padding of dy and the turned packing of
    the weights read nothing outside them."""
    x, w, b, kw, dy, (want_dx, _, _) = _data_grad_case(case)
    dyg = _guarded_floats(dy.size, at_end).reshape(dy.shape)
    wg = _guarded_floats(w.size, at_end).reshape(w.shape)
    dyg[...], wg[...] = dy, w
    for build in builds("conv"):
        dx = np.empty_like(x)
        plan = runner.Plan()
        build.append_convolution_backward(plan, dyg, x, wg, dx, None, None, **kw)
        plan.run(is_train=True)
        np.testing.assert_allclose(dx, want_dx, rtol=2e-4, atol=2e-4)
