"""mx.nd.sgd_update / sgd_mom_update called in place (out=weight), as a training loop calls them
once per parameter and step, run the fused loop on the caller's arrays: the same bits as the
one-op executor path (ndarray_ops.invoke), and every call the direct path cannot take as it is
goes through that path, with its results and errors."""
import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError
from cysym.ndarray_ops import cache_info, invoke

SHAPE = (3, 5, 2)


def arrays(dtype, count, seed=0):
    rng = np.random.RandomState(seed)
    return [mx.nd.array(rng.standard_normal(SHAPE), dtype=dtype) for _ in range(count)]


def read_only(array):
    array = array.copy()
    array.flags.writeable = False
    return array


def executor_calls():
    info = cache_info()
    return info["hits"] + info["misses"]


PARAMS = [dict(lr=0.1), dict(lr=0.1, wd=0.05, rescale_grad=0.7),
          dict(lr=0.1, clip_gradient=0.3, rescale_grad=1.3), dict(lr=0.1, clip_gradient=0.0),
          dict(lr=1, wd=0, lazy_update=False, name="w")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("params", PARAMS, ids=["lr", "wd-rescale", "clip", "clip0", "ints-lazy-name"])
def test_sgd_update_direct_is_the_operator(dtype, params):
    weight, grad = arrays(dtype, 2)
    expected = weight.copy()
    invoke("sgd_update", expected, grad, out=expected, **params)
    before = executor_calls()
    returned = mx.nd.sgd_update(weight, grad, out=weight, **params)
    assert executor_calls() == before        # no one-op executor ran
    assert returned is weight
    np.testing.assert_array_equal(weight, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("params", [dict(lr=0.1, momentum=0.9, wd=0.01, rescale_grad=0.7),
                                    dict(lr=0.1, momentum=0.9, clip_gradient=0.4), dict(lr=0.1)],
                         ids=["momentum-wd", "momentum-clip", "no-momentum"])
def test_sgd_mom_update_direct_is_the_operator(dtype, params):
    weight, grad, mom = arrays(dtype, 3)
    expected, expected_mom = weight.copy(), mom.copy()
    invoke("sgd_mom_update", expected, grad, expected_mom, out=expected, **params)
    before = executor_calls()
    for _ in range(2):     # the second step reads the momentum the first one wrote
        mx.nd.sgd_mom_update(weight, grad, mom, out=weight, **params)
    assert executor_calls() == before
    invoke("sgd_mom_update", expected, grad, expected_mom, out=expected, **params)
    np.testing.assert_array_equal(weight, expected)
    np.testing.assert_array_equal(mom, expected_mom)


FALLBACKS = {
    "no-out": lambda w, g: ((w, g), dict(lr=0.1)),
    "other-out": lambda w, g: ((w, g), dict(lr=0.1, out=mx.nd.zeros(SHAPE))),
    "positional-lr": lambda w, g: ((w, g, 0.1), dict(out=w)),
    "string-lr": lambda w, g: ((w, g), dict(lr="0.1", out=w)),
    "numpy-scalar-lr": lambda w, g: ((w, g), dict(lr=np.float32(0.1), out=w)),
    "grad-strided": lambda w, g: ((w, np.asfortranarray(g)), dict(lr=0.1, out=w)),
    "grad-read-only": lambda w, g: ((w, read_only(g)), dict(lr=0.1, out=w)),
    "grad-is-weight": lambda w, g: ((w, w), dict(lr=0.1, out=w)),
}


@pytest.mark.parametrize("case", sorted(FALLBACKS))
def test_other_calls_take_the_executor_path(case):
    """Calls the direct path does not take as they are give the executor path's results."""
    weight, grad = arrays("float32", 2)
    twin_weight = weight.copy()
    twin_args, twin_kwargs = FALLBACKS[case](twin_weight, grad)
    expected = invoke("sgd_update", *twin_args, **twin_kwargs)
    args, kwargs = FALLBACKS[case](weight, grad)
    before = executor_calls()
    result = mx.nd.sgd_update(*args, **kwargs)
    assert executor_calls() == before + 1
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(weight, twin_weight)


def test_overlapping_momentum_takes_the_executor_path():
    weight, grad, mom = arrays("float32", 3)
    before = executor_calls()
    mx.nd.sgd_mom_update(weight, grad, weight, lr=0.1, momentum=0.9, out=weight)
    assert executor_calls() == before + 1


@pytest.mark.parametrize("call", [
    lambda w, g: mx.nd.sgd_update(w, g, out=w),                                 # lr missing
    lambda w, g: mx.nd.sgd_update(w, g, lr=0.1, momentum=0.9, out=w),           # not its parameter
    lambda w, g: mx.nd.sgd_update(w, g[:2], lr=0.1, out=w),                     # shapes differ
    lambda w, g: mx.nd.sgd_update(w, g.astype(np.float64), lr=0.1, out=w),      # dtypes differ
    lambda w, g: mx.nd.sgd_update(w, g, lr=0.1, lazy_update="sometimes", out=w),
], ids=["no-lr", "momentum", "shape", "dtype", "lazy-update-value"])
def test_bad_calls_raise_the_operator_errors(call):
    weight, grad = arrays("float32", 2)
    with pytest.raises((MXNetError, TypeError, ValueError)):
        call(weight, grad)
