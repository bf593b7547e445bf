"""cysym.nd.<Op>: imperative operators run through the executor (cysym/ndarray_ops.py)."""
import inspect
import pydoc

import numpy as np
import pytest

import cysym as mx
from cysym import ndarray_ops
from cysym.base import MXNetError, OperatorError, ShapeError
from cysym.registry import all_ops, get_op

RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def signed(rng, shape):
    return rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def indices(high):
    def gen(rng, shape):
        return rng.integers(0, high, shape)   # int64: the nd call must convert them
    return gen


# op, {input: (shape, generator)}, params, {aux: (shape, generator)}, id
CASES = [
    ("FullyConnected", {"data": ((2, 3), signed), "weight": ((4, 3), signed), "bias": ((4,), signed)},
     {"num_hidden": 4}, {}, None),
    ("FullyConnected", {"data": ((2, 3, 5), signed), "weight": ((4, 15), signed)},
     {"num_hidden": 4, "no_bias": True}, {}, "FullyConnected-no_bias"),
    ("Activation", {"data": ((2, 3), signed)}, {"act_type": "tanh"}, {}, None),
    ("relu", {"data": ((2, 3), signed)}, {}, {}, None),
    ("softmax", {"data": ((2, 3, 5), signed)}, {"axis": 1}, {}, None),
    ("log_softmax", {"data": ((2, 3, 5), signed)}, {"axis": -1}, {}, None),
    ("dot", {"lhs": ((2, 3), signed), "rhs": ((3, 5), signed)}, {}, {}, None),
    ("dot", {"lhs": ((3, 2), signed), "rhs": ((3, 5), signed)}, {"transpose_a": True}, {},
     "dot-transpose_a"),
    ("batch_dot", {"lhs": ((2, 3, 4), signed), "rhs": ((2, 4, 5), signed)}, {}, {}, None),
    ("sum", {"data": ((2, 3, 5), signed)}, {"axis": 1}, {}, None),
    ("sum", {"data": ((2, 3, 5), signed)}, {"axis": 1, "keepdims": True}, {}, "sum-keepdims"),
    ("mean", {"data": ((2, 3, 5), signed)}, {"axis": (0, 2)}, {}, None),
    ("max", {"data": ((2, 3, 5), signed)}, {"axis": 2}, {}, None),
    ("Convolution", {"data": ((2, 3, 5, 6), signed), "weight": ((4, 3, 3, 2), signed),
                     "bias": ((4,), signed)},
     {"kernel": (3, 2), "num_filter": 4, "pad": (1, 0)}, {}, None),
    ("Pooling", {"data": ((2, 3, 6, 5), signed)},
     {"kernel": (2, 2), "stride": (2, 2), "pool_type": "max"}, {}, None),
    ("Pooling", {"data": ((2, 3, 6, 5), signed)},
     {"kernel": (3, 2), "pool_type": "avg"}, {}, "Pooling-avg"),
    ("BatchNorm", {"data": ((2, 3, 4), signed), "gamma": ((3,), positive), "beta": ((3,), signed)},
     {"fix_gamma": False}, {"moving_mean": ((3,), signed), "moving_var": ((3,), positive)}, None),
    ("Reshape", {"data": ((2, 3, 5), signed)}, {"shape": (5, -1)}, {}, None),
    ("transpose", {"data": ((2, 3, 5), signed)}, {"axes": (2, 0, 1)}, {}, None),
    ("Concat", {"arg0": ((2, 3), signed), "arg1": ((2, 5), signed)}, {"dim": 1}, {}, None),
    ("split", {"data": ((2, 6), signed)}, {"num_outputs": 3, "axis": 1}, {}, None),
    ("broadcast_add", {"lhs": ((2, 3), signed), "rhs": ((1, 3), signed)}, {}, {}, None),
    ("broadcast_mul", {"lhs": ((2, 1, 5), signed), "rhs": ((1, 3, 5), signed)}, {}, {}, None),
    ("broadcast_maximum", {"lhs": ((2, 3), signed), "rhs": ((2, 1), signed)}, {}, {}, None),
    ("_plus_scalar", {"data": ((2, 3), signed)}, {"scalar": 2.5}, {}, None),
    ("_rminus_scalar", {"data": ((2, 3), signed)}, {"scalar": 2.5}, {}, None),
    ("_power_scalar", {"data": ((2, 3), positive)}, {"scalar": 1.5}, {}, None),
    ("one_hot", {"indices": ((4,), indices(5))}, {"depth": 5}, {}, None),
    ("argmax", {"data": ((3, 5), signed)}, {"axis": 1}, {}, None),
    ("Embedding", {"data": ((2, 3), indices(7)), "weight": ((7, 4), signed)},
     {"input_dim": 7, "output_dim": 4}, {}, None),
    ("clip", {"data": ((2, 3), signed)}, {"a_min": -0.5, "a_max": 0.5}, {}, None),
    ("exp", {"data": ((2, 3), signed)}, {}, {}, None),
    ("log", {"data": ((2, 3), positive)}, {}, {}, None),
]


def make_values(case, seed=0):
    op, inputs, params, aux, _ = case
    rng = np.random.default_rng(seed)
    return ({k: gen(rng, shape) for k, (shape, gen) in inputs.items()},
            {k: gen(rng, shape) for k, (shape, gen) in aux.items()})


def symbolic(op, inputs, aux, params, dtype):
    """The op's outputs from the symbolic executor (the reference)."""
    variables = {k: mx.sym.Variable(k) for k in list(inputs) + list(aux)}
    fn = getattr(mx.sym, op)
    if get_op(op).variadic:
        symbol = fn(*variables.values(), **params)
    else:
        symbol = fn(**variables, **params)
    executor = symbol.bind(mx.cpu(), {k: mx.nd.array(v, dtype=dtype) for k, v in inputs.items()},
                           aux_states={k: mx.nd.array(v, dtype=dtype) for k, v in aux.items()},
                           grad_req="null")
    return [o.asnumpy() for o in executor.forward(is_train=False)]


def imperative(op, inputs, aux, params, dtype):
    fn = getattr(mx.nd, op)
    converted = {k: (v if v.dtype.kind == "i" else v.astype(dtype)) for k, v in inputs.items()}
    aux = {k: v.astype(dtype) for k, v in aux.items()}
    if get_op(op).variadic:
        return fn(*converted.values(), **params)
    return fn(**converted, **aux, **params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c[4] or c[0] for c in CASES])
def test_matches_symbolic_executor(case, dtype):
    op, _, params, _, _ = case
    if op in ("Embedding", "one_hot"):   # their dtype parameter sets the weight/output dtype
        params = dict(params, dtype=np.dtype(dtype).name)
    inputs, aux = make_values(case)
    expected = symbolic(op, inputs, aux, params, dtype)
    result = imperative(op, inputs, aux, params, dtype)
    visible = get_op(op).num_visible_outputs(get_op(op).parse_params(
        dict(params, **({"num_args": len(inputs)} if get_op(op).variadic else {}))))
    if visible > 1:
        assert isinstance(result, list) and len(result) == visible
    else:
        assert isinstance(result, mx.nd.NDArray)
        result = [result]
    assert len(result) == len(expected)
    for got, want in zip(result, expected):
        assert type(got) is mx.nd.NDArray
        assert got.dtype == want.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_split_returns_a_list_of_fresh_arrays():
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    parts = mx.nd.split(x, num_outputs=3, axis=1)
    assert isinstance(parts, list) and [p.shape for p in parts] == [(2, 2)] * 3
    np.testing.assert_array_equal(parts[2], x[:, 4:])
    again = mx.nd.split(x + 100, num_outputs=3, axis=1)   # same executor, new values
    np.testing.assert_array_equal(parts[2], x[:, 4:])     # earlier results are not overwritten
    np.testing.assert_array_equal(again[0], x[:, :2] + 100)


def test_batchnorm_inference_uses_and_keeps_the_moving_statistics():
    rng = np.random.default_rng(1)
    x, gamma, beta = signed(rng, (2, 3, 4)), positive(rng, (3,)), signed(rng, (3,))
    mean, var = signed(rng, (3,)), positive(rng, (3,))
    mean_before, var_before = mean.copy(), var.copy()
    y = mx.nd.BatchNorm(x, gamma, beta, moving_mean=mean, moving_var=var, fix_gamma=False, eps=1e-3)
    shape = (1, 3, 1)
    want = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-3) * gamma.reshape(shape) \
        + beta.reshape(shape)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(mean, mean_before)
    np.testing.assert_array_equal(var, var_before)
    # the moving statistics positionally, after the inputs
    y2 = mx.nd.BatchNorm(x, gamma, beta, mean, var, fix_gamma=False, eps=1e-3)
    np.testing.assert_array_equal(y, y2)


def test_dropout_is_the_identity_in_inference_mode():
    x = np.random.default_rng(2).normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_array_equal(mx.nd.Dropout(x, p=0.5), x)


def test_positional_parameters_and_inputs():
    x = np.array([[-1.0, 0.5, 2.0], [0.25, -0.5, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(mx.nd.clip(x, 0, 1), np.clip(x, 0, 1))
    assert mx.nd.Reshape(x, (3, 2)).shape == (3, 2)
    assert mx.nd.transpose(x, (1, 0)).shape == (3, 2)
    np.testing.assert_array_equal(mx.nd.dot([[1, 2]], [[3], [4]]), [[11.0]])
    np.testing.assert_array_equal(mx.nd.sum(x, axis=1, keepdims=True), x.sum(1, keepdims=True))
    fc = mx.nd.FullyConnected(x, np.ones((4, 3), np.float32), None, num_hidden=4, no_bias=True)
    np.testing.assert_allclose(fc, x @ np.ones((3, 4)), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# dtypes

def test_float64_in_float64_out():
    x = np.random.default_rng(3).normal(size=(2, 3))
    w = np.random.default_rng(4).normal(size=(4, 3))
    y = mx.nd.FullyConnected(data=x, weight=w, no_bias=True, num_hidden=4)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, x @ w.T, rtol=1e-13)


def test_lists_become_float32_and_indices_take_the_data_dtype():
    y = mx.nd.relu([[1, -2], [-3, 4]])
    assert y.dtype == np.float32 and y.tolist() == [[1, 0], [0, 4]]
    assert mx.nd.one_hot(np.array([0, 2]), depth=3).dtype == np.float32
    weight = np.arange(12, dtype=np.float64).reshape(4, 3)
    rows = mx.nd.Embedding(np.array([[3, 0]], dtype=np.int32), weight, input_dim=4, output_dim=3,
                           dtype="float64")
    assert rows.dtype == np.float64
    np.testing.assert_array_equal(rows, weight[[[3, 0]]])
    picked = mx.nd.pick(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), np.array([1, 0]), axis=1)
    assert picked.dtype == np.float32 and picked.tolist() == [2.0, 3.0]


def test_mixed_float_dtypes_are_an_error_naming_the_operator():
    with pytest.raises(MXNetError, match="FullyConnected"):
        mx.nd.FullyConnected(np.ones((2, 3), np.float32), np.ones((4, 3), np.float64),
                             num_hidden=4, no_bias=True)


def test_non_contiguous_inputs():
    x = np.arange(30, dtype=np.float32).reshape(5, 6)[:, ::2]
    np.testing.assert_array_equal(mx.nd.relu(x - 10), np.maximum(x - 10, 0))


# ---------------------------------------------------------------------------------------------
# out=

def test_out_writes_into_the_given_array():
    x = np.array([[-1.0, 2.0, -3.0]], np.float32)
    out = mx.nd.zeros((1, 3))
    returned = mx.nd.relu(x, out=out)
    assert returned is out and out.tolist() == [[0, 2, 0]]
    mx.nd.negative(x, out=x)                   # out may be an input
    assert x.tolist() == [[1, -2, 3]]


def test_out_for_several_outputs_and_bad_out():
    x = np.arange(12, dtype=np.float64).reshape(2, 6)
    outs = [np.zeros((2, 3)), np.zeros((2, 3))]
    returned = mx.nd.split(x, num_outputs=2, axis=1, out=outs)
    assert returned == outs or all(a is b for a, b in zip(returned, outs))
    np.testing.assert_array_equal(outs[1], x[:, 3:])
    with pytest.raises(ShapeError, match=r"relu: out has shape \(3, 1\).*\(1, 3\)"):
        mx.nd.relu(np.ones((1, 3)), out=np.zeros((3, 1)))
    with pytest.raises(OperatorError, match="SliceChannel: out= has 1 arrays.*2 outputs"):
        mx.nd.split(x, num_outputs=2, axis=1, out=np.zeros((2, 3)))


# ---------------------------------------------------------------------------------------------
# the executor cache

def test_same_shapes_reuse_the_bound_executor(monkeypatch):
    binds = []
    real_bind = ndarray_ops.bind
    monkeypatch.setattr(ndarray_ops, "bind", lambda *a, **k: binds.append(1) or real_bind(*a, **k))
    ndarray_ops.clear_cache()
    rng = np.random.default_rng(5)
    x1, x2 = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    w = rng.normal(size=(4, 3))
    y1 = mx.nd.FullyConnected(data=x1, weight=w, num_hidden=4, no_bias=True)
    y2 = mx.nd.FullyConnected(data=x2, weight=w, num_hidden=4, no_bias=True)
    assert len(binds) == 1
    assert ndarray_ops.cache_info() == {"hits": 1, "misses": 1, "size": 1,
                                        "maxsize": ndarray_ops.CACHE_SIZE}
    np.testing.assert_allclose(y1, x1 @ w.T, rtol=1e-13)
    np.testing.assert_allclose(y2, x2 @ w.T, rtol=1e-13)
    mx.nd.FullyConnected(data=x1[:1], weight=w, num_hidden=4, no_bias=True)   # new shape
    mx.nd.FullyConnected(data=x1.astype(np.float32), weight=w.astype(np.float32),
                         num_hidden=4, no_bias=True)                            # new dtype
    mx.nd.FullyConnected(data=x1, weight=w, num_hidden=4, no_bias=True, flatten=False)  # params
    assert len(binds) == 4 and ndarray_ops.cache_info()["size"] == 4


def test_cache_is_bounded(monkeypatch):
    ndarray_ops.clear_cache()
    monkeypatch.setattr(ndarray_ops._CACHE, "maxsize", 3)
    for n in range(1, 7):
        mx.nd.relu(np.ones((n, 2)))
    assert ndarray_ops.cache_info()["size"] == 3
    mx.nd.relu(np.ones((6, 2)))   # the most recent shapes stay
    assert ndarray_ops.cache_info()["hits"] == 1


def test_a_failed_call_leaves_the_cached_executor_usable():
    x = np.ones((1, 3))
    mx.nd.relu(x)
    with pytest.raises(ShapeError):
        mx.nd.relu(x, out=np.zeros((2, 2)))
    assert mx.nd.relu(-x).tolist() == [[0, 0, 0]]


# ---------------------------------------------------------------------------------------------
# errors name the operator and the argument

def test_missing_input():
    with pytest.raises(OperatorError, match=r"FullyConnected: input 'bias' is missing"):
        mx.nd.FullyConnected(data=np.ones((2, 3)), weight=np.ones((4, 3)), num_hidden=4)
    with pytest.raises(OperatorError, match=r"dot: input 'rhs' is missing"):
        mx.nd.dot(np.ones((2, 3)))


def test_unknown_and_missing_parameters():
    with pytest.raises(OperatorError, match=r"relu.*unknown parameter 'foo'"):
        mx.nd.relu(np.ones(3), foo=3)
    with pytest.raises(OperatorError, match=r"FullyConnected.*required parameter 'num_hidden'"):
        mx.nd.FullyConnected(np.ones((2, 3)), np.ones((4, 3)), np.ones(4))
    with pytest.raises(OperatorError, match=r"Activation.*'act_type'"):
        mx.nd.Activation(np.ones(3), act_type="bogus")
    with pytest.raises(OperatorError, match=r"FullyConnected.*unknown input 'wieght'"):
        mx.nd.FullyConnected(data=np.ones((2, 3)), wieght=np.ones((4, 3)), num_hidden=4)


def test_wrong_shapes():
    with pytest.raises(ShapeError, match=r"FullyConnected.*'weight'.*\(4, 5\).*\(4, 3\)"):
        mx.nd.FullyConnected(data=np.ones((2, 3)), weight=np.ones((4, 5)), bias=np.ones(4),
                             num_hidden=4)
    with pytest.raises(MXNetError, match=r"broadcast_add"):
        mx.nd.broadcast_add(np.ones((2, 3)), np.ones((4, 3)))


def test_non_numeric_input():
    with pytest.raises(TypeError, match=r"relu: input 'data' must be a numeric array"):
        mx.nd.relu(data=["a", "b"])
    with pytest.raises(TypeError, match=r"dot: input 'rhs' must be a numeric array"):
        mx.nd.dot(np.ones((2, 3)), [["a"]])


def test_unknown_operator():
    with pytest.raises(OperatorError, match="unknown operator 'NoSuchOp'"):
        ndarray_ops.invoke("NoSuchOp", np.ones(2))


# ---------------------------------------------------------------------------------------------
# concat: MXNet's helper is the Concat operator

def test_concat_helper_and_operator_agree():
    a, b = np.ones((2, 3), np.float32), np.zeros((2, 5), np.float32)
    joined = mx.nd.concat(a, b)                  # default dim=1, as both MXNet and the helper
    assert type(joined) is mx.nd.NDArray and joined.shape == (2, 8)
    np.testing.assert_array_equal(joined, mx.nd.Concat(a, b, dim=1))
    np.testing.assert_array_equal(mx.nd.concat(a, a, dim=0), np.concatenate([a, a]))
    out = mx.nd.zeros((4, 3))
    assert mx.nd.concat(a, a, dim=0, out=out) is out and out.sum() == 12
    assert mx.nd.concat(a, b, num_args=2).shape == (2, 8)
    with pytest.raises(MXNetError, match="concat"):
        mx.nd.concat(a, np.ones((4, 3), np.float32))


def test_concat_keeps_integer_dtypes():
    joined = mx.nd.concat(np.arange(3, dtype=np.int32), np.arange(2, dtype=np.int32), dim=0)
    assert joined.dtype == np.int32 and joined.tolist() == [0, 1, 2, 0, 1]
    with pytest.raises(ShapeError, match=r"Concat\(dim=1\)"):
        mx.nd.concat(np.zeros((2, 3), np.int32), np.zeros((4, 3), np.int32))


def test_helpers_still_work():
    assert mx.nd.arange(3).tolist() == [0, 1, 2]     # arange calls the builtin max
    assert mx.nd.zeros((2,)).dtype == np.float32
    assert callable(mx.nd.sgd_update) and mx.nd.waitall() is None


# ---------------------------------------------------------------------------------------------
# generation

def test_help_shows_the_parameter_docs():
    text = pydoc.render_doc(mx.nd.FullyConnected)
    assert "num_hidden : int, required" in text
    assert get_op("FullyConnected").params["num_hidden"].doc in text
    signature = inspect.signature(mx.nd.FullyConnected)
    assert list(signature.parameters)[:3] == ["data", "weight", "bias"]
    assert signature.parameters["num_hidden"].default is inspect.Parameter.empty
    assert signature.parameters["out"].default is None
    assert "Alias of SliceChannel" in mx.nd.split.__doc__
    assert "moving_mean : NDArray" in mx.nd.BatchNorm.__doc__


def test_every_visible_registered_operator_has_an_nd_function():
    for op in all_ops():
        if op.hidden:
            continue
        for func_name in (op.name,) + op.aliases:
            function = getattr(mx.nd, func_name)
            assert function.__name__ == func_name, func_name
            assert isinstance(inspect.signature(function), inspect.Signature)
            if func_name.startswith("_"):
                assert getattr(mx.nd._internal, func_name) is function
            else:
                assert func_name in mx.nd.__all__
        assert not hasattr(mx.nd, "_backward_FullyConnected")


def test_builtin_named_operators():
    from cysym.ndarray import max as nd_max, sum as nd_sum
    x = np.array([[1.0, 5.0, 2.0], [4.0, 0.0, 3.0]])
    assert nd_max(x, axis=1).tolist() == [5.0, 4.0]
    assert nd_sum(x, axis=0).tolist() == [5.0, 5.0, 5.0]
    assert mx.nd.abs(-x).tolist() == x.tolist()
    assert mx.nd.slice(x, begin=(0, 1), end=(1, 3)).tolist() == [[5.0, 2.0]]
    assert {"max", "min", "sum", "abs", "slice"} <= set(dir(mx.nd))
    with pytest.raises(AttributeError):
        mx.nd.no_such_function


def test_an_operator_without_inputs_makes_float32_by_default():
    zeros = mx.nd._internal._zeros(shape=(2, 3))
    assert zeros.dtype == np.float32 and zeros.shape == (2, 3) and not zeros.any()
    assert mx.nd._internal._zeros(shape=(2,), dtype="float64").dtype == np.float64


class _Triple(mx.operator.CustomOp):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, is_train, req, in_data, out_data, aux):
        self.assign(out_data[0], req[0], self.factor * in_data[0])

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], self.factor * out_grad[0])


@mx.operator.register("nd_ops_scale")
class _ScaleProp(mx.operator.CustomOpProp):
    def __init__(self, factor="1.0"):
        super().__init__(need_top_grad=True)
        self.factor = float(factor)

    def infer_shape(self, in_shape):
        return in_shape, [in_shape[0]], []

    def create_operator(self, ctx, shapes, dtypes):
        return _Triple(self.factor)


def test_custom_operator_inputs_by_position_or_name():
    x = np.arange(3.0)
    assert mx.nd.Custom(x, op_type="nd_ops_scale", factor=3).tolist() == [0, 3, 6]
    assert mx.nd.Custom(data=x, op_type="nd_ops_scale", factor=2).tolist() == [0, 2, 4]
