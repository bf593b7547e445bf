"""Winograd F(2x2, 3x3) convolution kernels (cysym/_ops/winograd.pyx) against the im2col + GEMM
kernels, called directly; and when Convolution picks them (cysym/ops/conv.py)."""
import numpy as np
import pytest

import cysym as mx
from cysym._ops import load, runner
from cysym.ops import conv as conv_ops
from cysym.ops.conv import _winograd_fits

conv = load("conv")
winograd = load("winograd")
TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-12, atol=1e-12)}

# (N, C, H, W, F, pad): odd and even outputs (tiles cut by the right and bottom edges), pads
# 0..2 on either axis, inputs of one tile, rows of more than 64 tiles (the vectorized runs)
SHAPES = [(2, 3, 7, 9, 5, (1, 1)), (1, 4, 6, 5, 3, (0, 0)), (3, 2, 5, 8, 4, (2, 1)),
          (1, 3, 3, 3, 2, (0, 2)), (1, 2, 4, 4, 3, (0, 0)), (2, 3, 5, 151, 2, (1, 1)),
          (1, 5, 13, 140, 3, (2, 0))]


def _im2col(x, w, b, y, pad, req="write"):
    plan = runner.Plan()
    conv.append_convolution(plan, x, w, b, y, (3, 3), (1, 1), (1, 1), pad, req=req)
    plan.run()


def _im2col_dx(dy, x, w, dx, pad, req="write"):
    plan = runner.Plan()
    conv.append_convolution_backward(plan, dy, x, w, dx, None, None, (3, 3), (1, 1), (1, 1), pad,
                                     req_dx=req, req_dw="null", req_db="null")
    plan.run()


def _arrays(shape, dtype, seed=0):
    n, c, h, w_, f, pad = shape
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, c, h, w_)).astype(dtype)
    w = rng.uniform(-1, 1, (f, c, 3, 3)).astype(dtype)
    b = rng.uniform(-1, 1, f).astype(dtype)
    out = (n, f, h + 2 * pad[0] - 2, w_ + 2 * pad[1] - 2)
    return x, w, b, out


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("block", [None, 5], ids=["block-default", "block-5"])
def test_forward_matches_im2col(shape, dtype, req, block):
    x, w, b, out = _arrays(shape, dtype)
    start = np.random.default_rng(1).uniform(-1, 1, out).astype(dtype)
    expected, got = start.copy(), start.copy()
    _im2col(x, w, b, expected, shape[-1], req)
    plan = runner.Plan()
    winograd.append_winograd(plan, x, w, b, got, shape[-1], req=req, block=block)
    plan.run()
    np.testing.assert_allclose(got, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("req", ["write", "add"])
def test_data_gradient_matches_im2col(shape, dtype, req):
    x, w, _, out = _arrays(shape, dtype)
    dy = np.random.default_rng(2).uniform(-1, 1, out).astype(dtype)
    start = np.random.default_rng(3).uniform(-1, 1, x.shape).astype(dtype)
    expected, got = start.copy(), start.copy()
    _im2col_dx(dy, x, w, expected, shape[-1], req)
    plan = runner.Plan()
    winograd.append_winograd(plan, dy, w, None, got, shape[-1], req=req, data_gradient=True,
                             block=7)
    plan.run()
    np.testing.assert_allclose(got, expected, **TOL[dtype])


def test_req_null_leaves_the_output():
    x, w, b, out = _arrays(SHAPES[0], np.float64)
    y = np.full(out, 3.0)
    plan = runner.Plan()
    winograd.append_winograd(plan, x, w, b, y, (1, 1), req="null")
    plan.run()
    assert (y == 3.0).all()


def test_planned_workspace_is_used_and_big_enough():
    x, w, b, out = _arrays((2, 3, 7, 9, 5, (1, 1)), np.float32)
    size = winograd.workspace_elements(2, 3, 7, 9, 5, (1, 1), 4)
    workspace = np.full(size * 4, 255, np.uint8)    # NaN-filled scratch must not leak into y
    y, expected = np.zeros(out, np.float32), np.zeros(out, np.float32)
    plan = runner.Plan()
    winograd.append_winograd(plan, x, w, b, y, (1, 1), workspace=workspace)
    plan.run()
    _im2col(x, w, b, expected, (1, 1))
    np.testing.assert_allclose(y, expected, **TOL[np.float32])
    assert not (workspace == 255).all()


@pytest.mark.parametrize("bad", [dict(w_shape=(5, 3, 3, 2)), dict(pad=(3, 1)), dict(y_shape=(2, 5, 7, 8))],
                         ids=["kernel-3x2", "pad-3", "output-shape"])
def test_bad_arguments_are_refused(bad):
    x = np.zeros((2, 3, 7, 9), np.float32)
    w = np.zeros(bad.get("w_shape", (5, 3, 3, 3)), np.float32)
    y = np.zeros(bad.get("y_shape", (2, 5, 7, 9)), np.float32)
    with pytest.raises(ValueError, match="conv1"):
        winograd.append_winograd(runner.Plan(), x, w, None, y, bad.get("pad", (1, 1)), label="conv1")


def _params(**overrides):
    params = dict(kernel=(3, 3), stride=(), dilate=(), pad=(1, 1), num_filter=64, num_group=1)
    params.update(overrides)
    return params


@pytest.mark.parametrize("overrides,data,fits", [
    ({}, (1, 64, 56, 56), True),
    ({}, (1, 64, 14, 14), False),                   # 49 tiles: too few for its GEMMs
    ({}, (2, 64, 14, 14), True),                    # 98 tiles
    ({}, (1, 64, 17, 18), False),                   # 81 tiles
    ({"stride": (2, 2)}, (1, 64, 56, 56), False),
    ({"dilate": (2, 2)}, (1, 64, 56, 56), False),
    ({"num_group": 2}, (1, 64, 56, 56), False),
    ({"kernel": (3, 1)}, (1, 64, 56, 56), False),
    ({"kernel": (3,)}, (1, 64, 56), False),
    ({"pad": (3, 3)}, (1, 64, 56, 56), False),
    ({}, (1, 3, 224, 224), False),                  # 3 input channels: transforms dominate
    ({"num_filter": 8}, (1, 64, 56, 56), False),
], ids=["resnet-stage1", "few-tiles", "batch-2", "81-tiles", "stride", "dilate", "group", "kernel-3x1", "1-d",
        "pad-3", "rgb-input", "few-filters"])
def test_which_convolutions_take_winograd(overrides, data, fits):
    assert _winograd_fits(_params(**overrides), data) is fits


@pytest.mark.parametrize("avx512", [False, True], ids=["avx2-gemm", "avx512-gemm"])
@pytest.mark.parametrize("data,fits_avx2,fits_avx512", [
    ((8, 512, 7, 7), True, False),              # 128 tiles on 7x7 outputs
    ((31, 512, 7, 7), True, False),             # 496
    ((32, 512, 7, 7), True, True),              # 512
    ((8, 448, 8, 8), True, True),               # 8x8 outputs: no tile cut by the edge
])
def test_small_outputs_take_winograd_by_the_gemm_kernels(monkeypatch, avx512, data, fits_avx2,
                                                         fits_avx512):
    monkeypatch.setattr(conv_ops, "_avx512_gemm", lambda: avx512)
    assert _winograd_fits(_params(), data) is (fits_avx512 if avx512 else fits_avx2)


def test_same_numbers_with_and_without_winograd(monkeypatch):
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=17, name="conv")
    rng = np.random.default_rng(4)
    values = {"data": rng.uniform(-1, 1, (2, 16, 17, 19)), "conv_weight": rng.uniform(-1, 1, (17, 16, 3, 3)),
              "conv_bias": rng.uniform(-1, 1, 17)}
    results = []
    for winograd in (True, False):
        monkeypatch.setattr(conv_ops, "_winograd_fits", lambda params, shape: winograd)
        exe = net.simple_bind(mx.cpu(), data=(2, 16, 17, 19), type_dict={"data": np.float64})
        for name, value in values.items():
            exe.arg_dict[name][:] = value
        exe.forward(is_train=True)
        exe.backward(out_grads=[np.ones((2, 17, 17, 19))])
        results.append([exe.outputs[0].copy(), exe.grad_dict["data"].copy()])
    for winograd, im2col in zip(*results):
        np.testing.assert_allclose(winograd, im2col, rtol=1e-12, atol=1e-12)
