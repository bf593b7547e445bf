"""mx.nd.sgd_update, sgd_mom_update and adam_update (the registered update operators) against
NumPy, and the optimizers' fused entry points (cysym._ops.optim) against the operators."""
import numpy as np
import pytest

import cysym as mx

TOL = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-13, atol=0)}


def _arrays(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, 5)).astype(dtype) for _ in range(4)]


def _f32(*values):
    """MXNet's parameters are float32: a float64 update sees them rounded."""
    return [float(np.float32(v)) for v in values]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip", [-1.0, 0.0, 0.3])
def test_sgd_update(dtype, clip):
    weight, grad, _, _ = _arrays(dtype)
    lr, wd, rescale, bound = _f32(0.1, 0.01, 0.5, clip)
    g = grad.astype(np.float64) * rescale
    if clip >= 0:   # MXNet clips for clip_gradient >= 0: 0 clips every gradient to 0
        g = np.clip(g, -bound, bound)
    expected = (1 - lr * wd) * weight.astype(np.float64) - lr * g
    result = mx.nd.sgd_update(weight, grad, lr=0.1, wd=0.01, rescale_grad=0.5, clip_gradient=clip, out=weight)
    assert result is weight
    np.testing.assert_allclose(weight, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_mom_update(dtype):
    weight, grad, mom, _ = _arrays(dtype)
    lr, wd, momentum = _f32(0.1, 0.01, 0.9)
    w64, m64 = weight.astype(np.float64), mom.astype(np.float64)
    m64 = momentum * m64 - lr * (wd * w64 + grad)
    mx.nd.sgd_mom_update(weight, grad, mom, lr=0.1, momentum=0.9, wd=0.01, out=weight)
    np.testing.assert_allclose(mom, m64, **TOL[dtype])
    np.testing.assert_allclose(weight, w64 + m64, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_update(dtype):
    weight, grad, mean, var = _arrays(dtype)
    var = np.abs(var)
    lr, wd, beta1, beta2, epsilon = _f32(0.05, 0.01, 0.9, 0.999, 1e-8)
    w, m, v = (a.astype(np.float64) for a in (weight, mean, var))
    g = grad * 2.0 + wd * w
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    w = w - lr * m / (np.sqrt(v) + epsilon)
    mx.nd.adam_update(weight, grad, mean, var, lr=0.05, wd=0.01, rescale_grad=2.0, out=weight)
    np.testing.assert_allclose(weight, w, **TOL[dtype])
    np.testing.assert_allclose(mean, m, **TOL[dtype])
    np.testing.assert_allclose(var, v, **TOL[dtype])


def test_update_into_another_array_leaves_weight_unchanged():
    weight, grad, _, _ = _arrays(np.float32)
    before = weight.copy()
    out = np.empty_like(weight)
    mx.nd.sgd_update(weight, grad, lr=0.5, out=out)
    np.testing.assert_array_equal(weight, before)
    np.testing.assert_allclose(out, before - 0.5 * grad, rtol=1e-6)


def test_update_with_wrong_gradient_size_is_an_error():
    weight, _, _, _ = _arrays(np.float32)
    with pytest.raises(mx.MXNetError, match=r"sgd_update.*'grad' has shape \(14,\), expected \(3, 5\)"):
        mx.nd.sgd_update(weight, np.zeros(14, np.float32), lr=0.1)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-14)], ids=["float32", "float64"])
def test_every_optimizer_build_gives_the_same_update(dtype, rtol):
    """The operator-level tests above run the build cysym picks (cysym._ops.load); every other
    build this machine runs (portable, AVX2) must update the same way, up to rounding."""
    from cysym._ops import builds, load

    rng = np.random.default_rng(7)
    start = [rng.standard_normal(1001).astype(dtype) for _ in range(4)]
    start[3] = np.abs(start[3])
    results = []
    for module in builds("optim") + [load("optim")]:
        w, g, m, v = (a.copy() for a in start)
        mom = start[2].copy()
        w2 = start[0].copy()
        module.sgd_update(w, g, 0.1, wd=0.01, rescale_grad=0.5, clip_gradient=0.3, mom=mom, momentum=0.9)
        module.adam_update(w2, g, m, v, 0.01, wd=0.01, clip_gradient=2.0)
        results.append((w, mom, w2, m, v))
    for other in results[:-1]:
        for got, expected in zip(other, results[-1]):
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)
