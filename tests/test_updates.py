"""MXNet's fused update functions (mx.nd.sgd_update, sgd_mom_update, adam_update) against NumPy."""
import numpy as np
import pytest

import cysym as mx

TOL = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-13, atol=0)}


def _arrays(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, 5)).astype(dtype) for _ in range(4)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip", [-1.0, 0.3])
def test_sgd_update(dtype, clip):
    weight, grad, _, _ = _arrays(dtype)
    g = grad.astype(np.float64) * 0.5
    if clip > 0:
        g = np.clip(g, -clip, clip)
    expected = (1 - 0.1 * 0.01) * weight.astype(np.float64) - 0.1 * g
    result = mx.nd.sgd_update(weight, grad, lr=0.1, wd=0.01, rescale_grad=0.5, clip_gradient=clip, out=weight)
    assert result is weight
    np.testing.assert_allclose(weight, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_mom_update(dtype):
    weight, grad, mom, _ = _arrays(dtype)
    w64, m64 = weight.astype(np.float64), mom.astype(np.float64)
    m64 = 0.9 * m64 - 0.1 * (0.01 * w64 + grad)
    mx.nd.sgd_mom_update(weight, grad, mom, lr=0.1, momentum=0.9, wd=0.01, out=weight)
    np.testing.assert_allclose(mom, m64, **TOL[dtype])
    np.testing.assert_allclose(weight, w64 + m64, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_update(dtype):
    weight, grad, mean, var = _arrays(dtype)
    var = np.abs(var)
    w, m, v = (a.astype(np.float64) for a in (weight, mean, var))
    g = grad * 2.0 + 0.01 * w
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    w = w - 0.05 * m / (np.sqrt(v) + 1e-8)
    mx.nd.adam_update(weight, grad, mean, var, lr=0.05, wd=0.01, rescale_grad=2.0, out=weight)
    np.testing.assert_allclose(weight, w, **TOL[dtype])
    np.testing.assert_allclose(mean, m, **TOL[dtype])


def test_update_into_another_array_leaves_weight_unchanged():
    weight, grad, _, _ = _arrays(np.float32)
    before = weight.copy()
    out = np.empty_like(weight)
    mx.nd.sgd_update(weight, grad, lr=0.5, out=out)
    np.testing.assert_array_equal(weight, before)
    np.testing.assert_allclose(out, before - 0.5 * grad, rtol=1e-6)


def test_update_with_wrong_gradient_size_is_an_error():
    weight, _, _, _ = _arrays(np.float32)
    with pytest.raises(ValueError, match="grad has 14 elements"):
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
