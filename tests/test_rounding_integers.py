"""floor, ceil, round, rint, fix and trunc on integer arrays: MXNet 1.9.1 returns them unchanged in
their own dtype (printed by /tmp/mxref's mxnet.nd: floor(array([-3, 0, 5, 7], dtype=d)) is
[-3, 0, 5, 7] of dtype d for int32, int64, int8; uint8 [3, 0, 5, 250] stays [3, 0, 5, 250])."""
import numpy as np
import pytest

import cysym as mx

ROUNDING = ("floor", "ceil", "round", "rint", "fix", "trunc")
INTEGERS = ("int32", "int64", "int8", "uint8")


def extremes(dtype, shape=(2, 3, 5)):
    """The dtype's smallest and largest values among random ones: a pass through float32 would
    change the wide ones."""
    info = np.iinfo(dtype)
    values = np.random.default_rng(3).integers(info.min, info.max, size=shape, dtype=dtype,
                                               endpoint=True)
    flat = values.reshape(-1)
    flat[0], flat[1], flat[-1] = info.min, info.max, info.max - 1
    return values


@pytest.mark.parametrize("dtype", INTEGERS)
@pytest.mark.parametrize("name", ROUNDING)
def test_rounding_an_integer_array_returns_it_in_its_dtype(name, dtype):
    values = extremes(dtype)
    symbol = getattr(mx.sym, name)(mx.sym.Variable("x"))
    assert symbol.infer_type(x=dtype)[1] == [np.dtype(dtype)]
    executor = symbol.simple_bind(mx.cpu(), x=values.shape, type_dict={"x": dtype}, grad_req="null")
    out = executor.forward(x=values)[0]
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, values)
    imperative = getattr(mx.nd, name)(mx.nd.array(values, dtype=dtype))
    assert imperative.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(imperative, values)


@pytest.mark.parametrize("name", ROUNDING)
def test_rounding_integers_into_out_and_after_arithmetic(name):
    # int32 through an integer operator into the rounding op and on: a graph of integers
    x = mx.sym.Variable("x")
    symbol = getattr(mx.sym, name)(x * 3) - 1
    values = np.arange(-7, 8, dtype=np.int64).reshape(3, 5)
    executor = symbol.simple_bind(mx.cpu(), x=values.shape, type_dict={"x": "int64"}, grad_req="null")
    np.testing.assert_array_equal(executor.forward(x=values)[0], values * 3 - 1)
    out = mx.nd.zeros((3, 5), dtype="int64")
    assert getattr(mx.nd, name)(mx.nd.array(values, dtype="int64"), out=out) is out
    np.testing.assert_array_equal(out, values)


def test_rounding_floats_still_rounds():
    values = mx.nd.array([[-2.5, -1.5, 0.5, 1.5, 2.7]])
    np.testing.assert_array_equal(mx.nd.floor(values), [[-3, -2, 0, 1, 2]])
    np.testing.assert_array_equal(mx.nd.rint(values), [[-3, -2, 0, 1, 3]])   # halves go down
    np.testing.assert_array_equal(mx.nd.fix(values), [[-2, -1, 0, 1, 2]])


def test_no_gradient_reaches_an_integer_input_of_a_rounding_op():
    x, w = mx.sym.Variable("x"), mx.sym.Variable("w")
    symbol = mx.sym.Cast(mx.sym.floor(x), dtype="float32") * w
    executor = symbol.simple_bind(mx.cpu(), x=(2, 3), w=(2, 3),
                                  type_dict={"x": "int32", "w": "float32"})
    values = np.array([[1, -2, 3], [4, 5, -6]], np.int32)
    executor.forward(is_train=True, x=values, w=np.ones((2, 3), np.float32))
    executor.backward(mx.nd.ones((2, 3)))
    assert executor.grad_dict.get("x") is None
    np.testing.assert_array_equal(executor.grad_dict["w"], values)
