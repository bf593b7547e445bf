"""Softmax kernels called directly: the contiguous-row path (vectorized exp, rows longer than
its 256-element buffer) and the strided path, each request, in place, with a temperature; and
SoftmaxOutput's gradient on both paths.  Each in every build of the module this machine runs."""
import numpy as np
import pytest

from cysym._ops import builds, runner


@pytest.fixture(params=builds("loss"), ids=lambda module: module.__name__.rsplit(".", 1)[1])
def loss(request):
    return request.param


def _reference(x, axis, temperature, as_log):
    shifted = x.astype(np.float64) / temperature
    shifted -= shifted.max(axis=axis, keepdims=True)
    log_total = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted - log_total if as_log else np.exp(shifted - log_total)


SHAPES = [((3, 1), -1), ((4, 7), -1), ((2, 256), -1), ((3, 1000), 1), ((5, 3, 4), 1), ((300, 2), 0)]
TOLERANCE = {np.float32: 2e-6, np.float64: 1e-13}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape, axis", SHAPES, ids=[f"{s}-axis{a}" for s, a in SHAPES])
@pytest.mark.parametrize("as_log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("req", ["write", "add", "in-place"])
def test_softmax_matches_numpy(shape, axis, as_log, req, dtype, loss):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 8).astype(dtype)
    start = rng.standard_normal(shape).astype(dtype)
    y = x.copy() if req == "in-place" else start.copy()
    source = y if req == "in-place" else x
    plan = runner.Plan()
    loss.append_softmax(plan, source, y, axis=axis, temperature=0.7, as_log=as_log,
                                req="add" if req == "add" else "write")
    plan.run()
    expected = _reference(x, axis, 0.7, as_log) + (start if req == "add" else 0)
    np.testing.assert_allclose(y, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_softmax_of_extreme_rows_stays_finite(loss):
    x = np.array([[1e30, -1e30, 0, 1e30], [-np.inf, 0, 0, 0], [88, 89, 90, -104]], np.float32)
    y = np.empty_like(x)
    plan = runner.Plan()
    loss.append_softmax(plan, x, y)
    plan.run()
    np.testing.assert_allclose(y, _reference(x, -1, 1.0, False), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("inner", [1, 3, 300], ids=["rows", "columns", "columns-over-a-tile"])
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("smooth_alpha", [0.0, 0.1])
@pytest.mark.parametrize("with_head", [False, True], ids=["no-head", "head"])
@pytest.mark.parametrize("use_ignore", [False, True], ids=["all-labels", "ignore-label"])
def test_softmax_output_gradient_matches_numpy(inner, req, smooth_alpha, with_head, use_ignore, loss):
    outer, n = 4, 300 if inner == 1 else 7
    rng = np.random.default_rng(5)
    prob = rng.random((outer, n, inner)).astype(np.float32)
    label = rng.integers(0, n, (outer, inner)).astype(np.float32)
    label.flat[::5] = 2                                 # the ignored label, where use_ignore
    head = rng.standard_normal(prob.shape).astype(np.float32) if with_head else None
    start = rng.standard_normal(prob.shape).astype(np.float32)
    dx = start.copy()
    plan = runner.Plan()
    loss.append_softmax_output_backward(plan, prob, label, dx, head, outer=outer, n=n, inner=inner,
                                        grad_scale=0.5, smooth_alpha=smooth_alpha, use_ignore=use_ignore,
                                        ignore_label=2, req=req)
    plan.run()
    target = np.full(prob.shape, smooth_alpha / (n - 1))
    np.put_along_axis(target, label.astype(int)[:, None, :], 1 - smooth_alpha, axis=1)
    expected = (prob - target) * 0.5 * (head if with_head else 1)
    if use_ignore:
        expected = np.where((label == 2)[:, None, :], 0, expected)
    expected += start if req == "add" else 0
    np.testing.assert_allclose(dx, expected, rtol=1e-6, atol=1e-6)


def test_softmax_output_gradient_refuses_a_label_out_of_range(loss):
    prob = np.full((2, 3, 4), 0.25, np.float32)
    for bad in (3.0, -1.0, 1.5):
        label = np.zeros((2, 4), np.float32)
        label[1, 2] = bad
        plan = runner.Plan()
        loss.append_softmax_output_backward(plan, prob, label, np.empty_like(prob), outer=2, n=3, inner=4)
        with pytest.raises(runner.KernelError, match="range"):
            plan.run()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape, axis", SHAPES, ids=[f"{s}-axis{a}" for s, a in SHAPES])
@pytest.mark.parametrize("as_log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("req", ["write", "add"])
def test_softmax_backward_matches_numpy(shape, axis, as_log, req, dtype, loss):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    y = _reference(x, axis, 0.7, as_log).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    start = rng.standard_normal(shape).astype(dtype)
    dx = start.copy()
    plan = runner.Plan()
    loss.append_softmax_backward(plan, dy, y, dx, axis=axis, temperature=0.7, as_log=as_log, req=req)
    plan.run()
    y64, dy64 = y.astype(np.float64), dy.astype(np.float64)
    if as_log:
        expected = dy64 - np.exp(y64) * dy64.sum(axis=axis, keepdims=True)
    else:
        expected = y64 * (dy64 - (dy64 * y64).sum(axis=axis, keepdims=True))
    expected = expected / 0.7 + (start if req == "add" else 0)
    np.testing.assert_allclose(dx, expected, rtol=TOLERANCE[dtype] * 10, atol=TOLERANCE[dtype] * 10)
