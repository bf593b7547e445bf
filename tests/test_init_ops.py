"""Creation operators beyond the registry table: MXNet 1.9.1's numbers where its arithmetic is
not float64's, shapes taken from consumers, the int64 shape_array / size_array, the Python
wrappers (mx.sym.arange, ...) and the contrib namespaces."""
import json
from pathlib import Path

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError
from cysym._ops import load, runner


def run(sym, dtype=np.float32, **inputs):
    exe = sym.simple_bind(mx.cpu(), grad_req="null", type_dict={n: dtype for n in inputs},
                          **{n: np.shape(v) for n, v in inputs.items()})
    for n, v in inputs.items():
        exe.arg_dict[n][:] = v
    return np.array(exe.forward()[0])


# -- MXNet's numbers (MXNET_SUBGRAPH_BACKEND=NONE /tmp/mxref/bin/python, MXNet 1.9.1) ---------------

def test_arange_computes_in_float32_as_mxnet():
    # mx.nd.arange(0.1, 3.3, 0.3, dtype='float32'): start + k * step in float32, which differs
    # from float64 rounded to float32 at k = 2, 4, 6
    mxnet = [0.10000000149011612, 0.4000000059604645, 0.7000000476837158, 1.0, 1.3000000715255737,
             1.600000023841858, 1.9000000953674316, 2.200000047683716, 2.5, 2.799999952316284,
             3.0999999046325684]
    np.testing.assert_array_equal(run(mx.sym.arange(0.1, 3.3, 0.3)), np.array(mxnet, np.float32))


def test_linspace_and_arange_like_as_mxnet():
    # mx.nd.linspace(0.1, 2.9, 7, dtype='float32')
    mxnet = [0.10000000149011612, 0.5666666626930237, 1.0333333015441895, 1.5, 1.9666666984558105,
             2.433333396911621, 2.9000000953674316]
    np.testing.assert_array_equal(run(mx.sym.linspace(0.1, 2.9, 7)), np.array(mxnet, np.float32))
    # mx.nd.contrib.arange_like(mx.nd.zeros((2, 3)), start=0.1, step=0.3, repeat=2)
    mxnet = [[0.10000000149011612, 0.10000000149011612, 0.4000000059604645],
             [0.4000000059604645, 0.7000000476837158, 0.7000000476837158]]
    x = mx.sym.Variable("x")
    out = run(mx.sym.contrib.arange_like(x, start=0.1, step=0.3, repeat=2), x=np.zeros((2, 3)))
    np.testing.assert_array_equal(out, np.array(mxnet, np.float32))


# Made with MXNet 1.9.1: json.loads(sym.tojson())['nodes'][-1] -> (op, name, attrs)
WRAPPER_NODES = [
    (lambda x: mx.sym.arange(5), "_arange", "_arange0",
     {"dtype": "float32", "infer_range": "False", "repeat": "1", "start": "5", "step": "1.0", "stop": "None"}),
    (lambda x: mx.sym.arange(1, 7, 0.5, repeat=2, dtype="float64"), "_arange", "_arange0",
     {"dtype": "float64", "infer_range": "False", "repeat": "2", "start": "1", "step": "0.5", "stop": "7"}),
    (lambda x: mx.sym.linspace(0, 1, 5), "_linspace", "_linspace0",
     {"dtype": "float32", "endpoint": "True", "num": "5", "start": "0", "stop": "1"}),
    (lambda x: mx.sym.full((2, 3), 7), "_full", "_full0", {"dtype": "float32", "shape": "(2, 3)", "value": "7.0"}),
    (lambda x: mx.sym.eye(3, 4, 1), "_eye", "_eye0", {"M": "4", "N": "3", "dtype": "float32", "k": "1"}),
    (lambda x: mx.sym.contrib.arange_like(x, axis=1), "_contrib_arange_like", "arange_like0", {"axis": "1"}),
    (lambda x: mx.sym.shape_array(x), "shape_array", "shape_array0", {}),
]


@pytest.mark.parametrize("make,op,name,attrs", WRAPPER_NODES, ids=[f"{o}-{i}" for i, (_, o, _, _) in
                                                                  enumerate(WRAPPER_NODES)])
def test_wrappers_write_mxnets_nodes(make, op, name, attrs):
    with mx.name.NameManager():
        sym = make(mx.sym.Variable("x"))
    node = json.loads(sym.tojson())["nodes"][-1]
    assert (node["op"], node["name"], node.get("attrs", {})) == (op, name, attrs)


def test_wrappers_take_numpy_dtypes():
    assert run(mx.sym.full((2, 3), 1.5, dtype=np.float64), np.float64).dtype == np.float64
    assert run(mx.sym.eye(2, dtype=np.float64), np.float64).tolist() == [[1, 0], [0, 1]]


# -- shapes and dtypes from the consumers ------------------------------------------------------------

def test_arange_infer_range_takes_its_length_from_the_consumer():
    x = mx.sym.Variable("x")
    out = run(mx.sym.arange(start=1, step=2, infer_range=True) + x, x=np.zeros(7))
    np.testing.assert_array_equal(out, [1, 3, 5, 7, 9, 11, 13])


def test_full_with_zero_dimensions_takes_them_from_the_consumer():
    x = mx.sym.Variable("x")
    sym = mx.sym.full((0, 3), 2.5) + x
    assert sym.infer_shape(x=(4, 3))[1] == [(4, 3)]
    np.testing.assert_array_equal(run(sym, x=np.ones((4, 3))), np.full((4, 3), 3.5))


def test_zeros_without_dtype_takes_the_consumers_dtype():
    x = mx.sym.Variable("x")
    sym = mx.sym._internal._zeros_without_dtype(shape=(2, 3)) + x
    assert sym.infer_type(x=np.float64)[1] == [np.float64]
    bad = mx.sym._internal._zeros_without_dtype(shape=(2, 3), dtype=42, name="z")
    with pytest.raises(MXNetError, match="42"):
        bad.infer_type()


def test_arange_refuses_an_empty_or_endless_range():
    for kwargs in ({"start": 3, "stop": 1}, {"start": 1, "stop": 3, "step": -1}, {"start": 1, "stop": 3, "step": 0}):
        with pytest.raises(MXNetError, match="_arange"):
            mx.sym.arange(**kwargs, name="r").infer_shape()


# -- shape_array and size_array: int64 ---------------------------------------------------------------

def test_shape_and_size_arrays_are_int64_of_the_input_rank():
    x = mx.sym.Variable("x")
    for sym, shape in ((mx.sym.shape_array(x), (3,)), (mx.sym.size_array(x), (1,))):
        assert sym.infer_shape(x=(2, 3, 5))[1] == [shape]
        assert sym.infer_type(x=np.float32)[1] == [np.int64]
    # the rank is known before the dimensions are
    assert mx.sym.shape_array(x).infer_shape_partial(x=(2, 0, 5))[1] == [(3,)]


def test_shape_and_size_array_kernels_write_int64():
    init = load("init")
    data = np.zeros((2, 3, 5), np.float32)
    shape, size = np.full(3, -1, np.int64), np.full(1, -1, np.int64)
    plan = runner.Plan()
    init.append_int64_values(plan, shape, data.shape)
    init.append_int64_values(plan, size, [data.size])
    plan.run()
    assert shape.tolist() == [2, 3, 5] and size.tolist() == [30]
    with pytest.raises(ValueError, match="int64"):
        init.append_int64_values(runner.Plan(), np.zeros(3, np.float32), data.shape)


def test_bound_shape_array_gives_int64():
    x = mx.sym.Variable("x")
    exe = mx.sym.shape_array(x, name="shape").simple_bind(mx.cpu(), x=(2, 3))
    (out,) = exe.forward()
    assert out.dtype == np.int64 and out.tolist() == [2, 3]


# -- contrib namespaces ---------------------------------------------------------------------------------

def test_contrib_namespaces_map_to_contrib_operators():
    import cysym.symbol.contrib as sym_contrib
    from cysym.ndarray.contrib import arange_like
    assert sym_contrib is mx.sym.contrib and "arange_like" in dir(mx.sym.contrib)
    assert "arange_like" in mx.nd.contrib.__all__
    out = arange_like(mx.nd.zeros((2, 3)), start=1.0, axis=0)
    np.testing.assert_array_equal(out, [1, 2])
    with pytest.raises(AttributeError, match="_contrib_no_such_op"):
        mx.sym.contrib.no_such_op


# -- a graph file written by MXNet -----------------------------------------------------------------

def test_mxnet_graph_of_creation_and_logic_ops_gives_mxnets_output():
    """tests/fixtures/ops/init_logic-symbol.json, saved by MXNet 1.9.1 (sym.save) from:
        x = mx.sym.var('x')
        a = mx.sym.contrib.arange_like(x, start=0.5, step=0.25, axis=1)
        m = mx.sym.broadcast_mod(x * 3.7, mx.sym.arange(0, 4).reshape((1, 4)) + 1.5)
        g = (x > 0.2) * (x <= 0.8) + mx.sym.logical_not(x < 0.5) + (x % 0.3) + (2.5 % (x + 1))
        f = mx.sym.full((0, 4), 0.75) + m
        l = mx.sym.broadcast_add(mx.sym.linspace(0, 1, 4).reshape((1, 4)), mx.sym.eye(3, 4, 1))
        out = mx.sym.broadcast_add(f + g + l, a.reshape((1, 4))) + mx.sym.hypot(x, 1.5)
    and out.bind(mx.cpu(), {'x': X}).forward()[0] below (equal to the last bit); the gradient of x
    after simple_bind, forward(is_train=True), backward(arange(12).reshape(3, 4) / 4)."""
    path = Path(__file__).parent / "fixtures" / "ops" / "init_logic-symbol.json"
    sym = mx.sym.load(str(path))
    x = np.array([[0.1, 0.35, 0.6, 0.95], [-0.4, 0.2, 0.5, 0.8], [1.3, -1.1, 0.05, 0.7]], np.float32)
    mxnet = [[3.523329734802246, 7.868625640869141, 9.152215957641602, 9.890527725219727],
             [3.122417449951172, 4.386607646942139, 10.047805786132812, 10.5600004196167],
             [4.844943046569824, 4.723440170288086, 4.552499771118164, 11.145294189453125]]
    np.testing.assert_array_equal(run(sym, x=x), np.array(mxnet, np.float32))
    mxnet_grad = [[0.0, 0.9818073511123657, 2.0356953144073486, 3.1762890815734863],
                  [0.44233715534210205, 3.5402047634124756, 6.024341583251953, 7.298529624938965],
                  [8.709860801696777, 65.49443054199219, 6.833287239074707, 11.337935447692871]]
    exe = sym.simple_bind(mx.cpu(), x=x.shape)
    exe.arg_dict["x"][:] = x
    exe.forward(is_train=True)
    exe.backward([np.arange(12, dtype=np.float32).reshape(3, 4) / 4])
    # float32 sums in another order: a few units in the last place
    np.testing.assert_allclose(exe.grad_dict["x"], mxnet_grad, rtol=1e-6)


def test_zeros_and_ones_take_numpy_dtypes_as_mxnet_does():
    assert mx.sym.zeros((2, 3), dtype=np.float64).infer_type()[1] == [np.float64]
    assert mx.sym.ones((2, 3), dtype=np.float32).infer_type()[1] == [np.float32]
