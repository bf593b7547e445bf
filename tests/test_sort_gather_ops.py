"""The sorting and n-d gather/scatter operators beyond the registry table: MXNet's order of equal
values and NaNs (literals computed with MXNet 1.9.1), MXNet's documentation examples, output
dtypes and hidden outputs, errors from indices outside the array, JSON written by MXNet,
_contrib_boolean_mask refused at bind, and the kernels' integer index and output dtypes."""
import json

import numpy as np
import pytest

import cysym as mx
from cysym._ops import gather as gather_kernels
from cysym._ops import runner
from cysym._ops import sort as sort_kernels
from cysym.base import BindError, MXNetError

x_var, i_var = mx.sym.Variable("x"), mx.sym.Variable("i")


def run(sym, heads=None, **arrays):
    """Forward (and backward with `heads`) on float32 arrays; returns (outputs, gradients)."""
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
    exe = sym.simple_bind(mx.cpu(), grad_req="null" if heads is None else "write",
                          **{k: v.shape for k, v in arrays.items()})
    outputs = [np.array(o) for o in exe.forward(is_train=heads is not None, **arrays)]
    if heads is None:
        return outputs, {}
    exe.backward([np.asarray(h, dtype=o.dtype) for h, o in zip(heads, outputs)])
    return outputs, {k: np.array(g) for k, g in exe.grad_dict.items() if g is not None}


def forward(sym, **arrays):
    outputs, _ = run(sym, **arrays)
    return outputs[0] if len(outputs) == 1 else outputs


# -- MXNet's order of equal values ----------------------------------------------------------------
# MXNet 1.9.1 sorts with libstdc++'s std::sort (introsort: not stable beyond 16 elements) when
# k * 8 > n and std::partial_sort (a heap) otherwise.  The literals below were printed by
# MXNet 1.9.1 (pip, CPU, MXNET_SUBGRAPH_BACKEND=NONE) with mx.nd.topk / argsort / sort on TIES.

TIES = np.array([[1, 3, 3, 0, 3, 1, 1, 2, 3, 3, 1, 0, 2, 2, 3, 1, 1, 1, 3, 3],
                 [2, 2, 0, 1, 2, 0, 1, 1, 2, 0, 2, 1, 0, 0, 2, 1, 1, 2, 0, 2]], np.float32)

MXNET_TIE_ORDERS = [
    ("topk-k3-descending-introsort", lambda: mx.sym.topk(x_var, k=3),
     [[1, 19, 18], [10, 19, 17]]),
    ("topk-k2-ascending-heap", lambda: mx.sym.topk(x_var, k=2, is_ascend=True),
     [[11, 3], [5, 2]]),
    ("argsort-ascending", lambda: mx.sym.argsort(x_var),
     [[3, 11, 0, 17, 5, 6, 16, 15, 10, 7, 12, 13, 19, 18, 14, 9, 8, 4, 2, 1],
      [2, 18, 5, 9, 12, 13, 3, 6, 7, 16, 11, 15, 10, 19, 17, 14, 0, 8, 4, 1]]),
    ("argsort-descending", lambda: mx.sym.argsort(x_var, is_ascend=False),
     [[1, 19, 18, 14, 9, 8, 4, 2, 7, 12, 13, 6, 5, 10, 15, 16, 17, 0, 11, 3],
      [10, 19, 17, 14, 0, 8, 4, 1, 6, 7, 11, 3, 15, 16, 5, 9, 12, 13, 2, 18]]),
    ("topk-mask-k3", lambda: mx.sym.topk(x_var, k=3, ret_typ="mask"),
     [[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1]]),
]


@pytest.mark.parametrize("build,expected", [pytest.param(b, e, id=i)
                                            for i, b, e in MXNET_TIE_ORDERS])
def test_equal_values_come_out_in_mxnets_order(build, expected):
    np.testing.assert_array_equal(forward(build(), x=TIES), expected)


def test_equal_values_along_a_middle_axis_come_out_in_mxnets_order():
    # MXNet: argsort(TIES.T, axis=0).T; the rows are gathered from a strided axis
    out = forward(mx.sym.argsort(x_var, axis=0), x=TIES.T.copy())
    np.testing.assert_array_equal(out.T, MXNET_TIE_ORDERS[2][2])


def test_nans_come_out_where_mxnet_puts_them():
    data = np.array([[1, np.nan, 3, 2, np.nan, 0, 3, 1]], np.float32)
    values, indices = forward(mx.sym.topk(x_var, k=3, ret_typ="both"), x=data)
    np.testing.assert_array_equal(values, [[3, 1, np.nan]])
    np.testing.assert_array_equal(indices, [[2, 0, 1]])
    np.testing.assert_array_equal(forward(mx.sym.sort(x_var), x=data),
                                  [[0, 1, np.nan, 2, 3, np.nan, 1, 3]])
    np.testing.assert_array_equal(forward(mx.sym.argsort(x_var, is_ascend=False), x=data),
                                  [[2, 0, 1, 3, 4, 6, 7, 5]])


def test_gradient_of_sort_and_topk_goes_to_mxnets_positions_of_equal_values():
    # MXNet: mx.autograd on sort(TIES[:1], axis=-1, is_ascend=False) with head 1..20, and on
    # topk(TIES[:1], k=2, ret_typ='value', is_ascend=True) with head [10, 20]
    _, grads = run(mx.sym.sort(x_var, is_ascend=False), heads=[np.arange(1, 21)[None]],
                   x=TIES[:1])
    np.testing.assert_array_equal(grads["x"], [[18, 1, 8, 20, 7, 13, 12, 9, 6, 5, 14, 19, 10,
                                                11, 4, 15, 16, 17, 3, 2]])
    _, grads = run(mx.sym.topk(x_var, k=2, ret_typ="value", is_ascend=True), heads=[[[10, 20]]],
                   x=TIES[:1])
    expected = np.zeros((1, 20))
    expected[0, 11], expected[0, 3] = 10, 20
    np.testing.assert_array_equal(grads["x"], expected)


def test_sort_kernel_is_libstdcxx_on_many_random_rows():
    """Every row length and k around the switch between the heap (k * 8 <= n) and introsort
    (over and under 16 elements), against NumPy where no values repeat: the order is then the
    only one possible."""
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 16, 17, 40, 129):
        data = rng.permutation(n * 3).reshape(3, n).astype(np.float64)
        for k in sorted({1, 2, max(1, n // 8), n // 8 + 1, n}):
            if k > n:
                continue
            indices = np.zeros((3, k), np.int64)
            workspace = np.zeros(sort_kernels.topk_workspace_bytes(n), np.uint8)
            plan = runner.Plan()
            sort_kernels.append_topk(plan, data, workspace, indices=indices, axis=1, k=k)
            plan.run()
            np.testing.assert_array_equal(indices, np.argsort(-data, axis=1)[:, :k])


# -- MXNet's documentation examples ---------------------------------------------------------------

X23 = [[0.3, 0.2, 0.4], [0.1, 0.3, 0.2]]

DOC_EXAMPLES = [
    ("topk", lambda: mx.sym.topk(x_var), {"x": X23}, [[2], [1]]),
    ("topk-value", lambda: mx.sym.topk(x_var, ret_typ="value", k=2), {"x": X23},
     [[0.4, 0.3], [0.3, 0.2]]),
    ("topk-ascend", lambda: mx.sym.topk(x_var, ret_typ="value", k=2, is_ascend=1), {"x": X23},
     [[0.2, 0.3], [0.1, 0.2]]),
    ("topk-axis0", lambda: mx.sym.topk(x_var, axis=0, ret_typ="value", k=2), {"x": X23},
     [[0.3, 0.3, 0.4], [0.1, 0.2, 0.2]]),
    ("sort", lambda: mx.sym.sort(x_var), {"x": [[1, 4], [3, 1]]}, [[1, 4], [1, 3]]),
    ("sort-flat", lambda: mx.sym.sort(x_var, axis=None), {"x": [[1, 4], [3, 1]]}, [1, 1, 3, 4]),
    ("sort-axis0", lambda: mx.sym.sort(x_var, axis=0), {"x": [[1, 4], [3, 1]]}, [[1, 1], [3, 4]]),
    ("sort-descend", lambda: mx.sym.sort(x_var, is_ascend=0), {"x": [[1, 4], [3, 1]]},
     [[4, 1], [3, 1]]),
    ("argsort", lambda: mx.sym.argsort(x_var), {"x": X23}, [[1, 0, 2], [0, 2, 1]]),
    ("argsort-axis0", lambda: mx.sym.argsort(x_var, axis=0), {"x": X23}, [[1, 0, 1], [0, 1, 0]]),
    ("argsort-flat", lambda: mx.sym.argsort(x_var, axis=None), {"x": X23}, [3, 1, 5, 0, 4, 2]),
    ("gather_nd", lambda: mx.sym.gather_nd(x_var, i_var),
     {"x": [[0, 1], [2, 3]], "i": [[1, 1, 0], [0, 1, 0]]}, [2, 3, 0]),
    ("gather_nd-slices", lambda: mx.sym.gather_nd(x_var, i_var),
     {"x": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]], "i": [[0, 1], [1, 0]]}, [[3, 4], [5, 6]]),
    ("scatter_nd", lambda: mx.sym.scatter_nd(x_var, i_var, shape=(2, 2)),
     {"x": [2, 3, 0], "i": [[1, 1, 0], [0, 1, 0]]}, [[0, 0], [2, 3]]),
    ("scatter_nd-slices", lambda: mx.sym.scatter_nd(x_var, i_var, shape=(2, 2, 2, 2)),
     {"x": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]], "i": [[0, 1], [1, 1]]},
     [[[[0, 0], [0, 0]], [[1, 2], [3, 4]]], [[[0, 0], [0, 0]], [[5, 6], [7, 8]]]]),
    ("_scatter_set_nd", lambda: mx.sym._scatter_set_nd(x_var, mx.sym.Variable("r"), i_var,
                                                       shape=(2, 2)),
     {"x": [[1, 1], [1, 1]], "r": [2, 3, 0], "i": [[1, 1, 0], [0, 1, 0]]}, [[0, 1], [2, 3]]),
    ("batch_take", lambda: mx.sym.batch_take(x_var, i_var),
     {"x": [[1, 2], [3, 4], [5, 6]], "i": [0, 1, 0]}, [1, 4, 5]),
    ("index_copy", lambda: mx.sym._contrib_index_copy(x_var, i_var, mx.sym.Variable("t")),
     {"x": np.zeros((5, 3)), "i": [0, 4, 2], "t": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]},
     [[1, 2, 3], [0, 0, 0], [7, 8, 9], [0, 0, 0], [4, 5, 6]]),
]


@pytest.mark.parametrize("build,arrays,expected", [pytest.param(b, a, e, id=i)
                                                   for i, b, a, e in DOC_EXAMPLES])
def test_mxnet_documentation_example(build, arrays, expected):
    out = forward(build(), **arrays)
    np.testing.assert_allclose(out, np.asarray(expected, dtype=out.dtype), rtol=1e-7)


def test_topk_both_on_the_flattened_array():
    # MXNet 1.9.1: [0.4, 0.3], [2., 0.]
    values, indices = forward(mx.sym.topk(x_var, k=2, ret_typ="both", axis=None), x=X23)
    np.testing.assert_allclose(values, np.float32([0.4, 0.3]))
    np.testing.assert_array_equal(indices, [2, 0])


def test_mxnet_values_of_float_and_negative_coordinates():
    # MXNet 1.9.1: gather_nd on arange(24).reshape(3, 4, 2) with these (float) coordinates;
    # batch_take with int32 indices [0, 2, -1, 5]; index_copy with a row index of 2.5
    data = np.arange(24).reshape(3, 4, 2)
    out = forward(mx.sym.gather_nd(x_var, i_var), x=data,
                  i=[[0, 2, -1, 1, -3], [3, 0, 1.5, -4, -1]])
    np.testing.assert_array_equal(out, [[6, 7], [16, 17], [18, 19], [8, 9], [6, 7]])
    out = forward(mx.sym.gather_nd(x_var, i_var), x=data, i=[[0], [-0.5]])
    np.testing.assert_array_equal(out, [[6, 7]])
    out = forward(mx.sym.batch_take(x_var, i_var), x=np.arange(1, 13).reshape(4, 3),
                  i=[0, 2, -1, 5])
    np.testing.assert_array_equal(out, [1, 6, 7, 12])
    out = forward(mx.sym._contrib_index_copy(x_var, i_var, mx.sym.Variable("t")),
                  x=np.zeros((5, 3)), i=[0, 4, 2.5], t=np.ones((3, 3)))
    np.testing.assert_array_equal(out, [[1] * 3, [0] * 3, [1] * 3, [0] * 3, [1] * 3])


# -- outputs, dtypes, names ----------------------------------------------------------------------

def test_outputs_and_dtypes_follow_mxnet():
    def outputs_and_types(sym):
        _, out_types, _ = sym.infer_type(x=np.float64)
        return sym.list_outputs(), [np.dtype(t).name for t in out_types]

    # MXNet 1.9.1's list_outputs and infer_type(d=float64) of the same symbols
    assert outputs_and_types(mx.sym.topk(x_var, k=2, name="t")) == (["t_output"], ["float32"])
    assert outputs_and_types(mx.sym.topk(x_var, ret_typ="value", name="t")) == (
        ["t_output0"], ["float64"])
    assert outputs_and_types(mx.sym.topk(x_var, ret_typ="both", name="t")) == (
        ["t_output0", "t_output1"], ["float64", "float32"])
    assert outputs_and_types(mx.sym.topk(x_var, ret_typ="mask", name="t")) == (
        ["t_output"], ["float64"])
    assert outputs_and_types(mx.sym.sort(x_var, name="s")) == (["s_output0"], ["float64"])
    assert outputs_and_types(mx.sym.argsort(x_var, name="a")) == (["a_output"], ["float32"])
    assert outputs_and_types(mx.sym.argsort(x_var, dtype="int32", name="a"))[1] == ["int32"]
    assert outputs_and_types(mx.sym._contrib_index_array(x_var, name="n"))[1] == ["int64"]


def test_shapes_follow_mxnet():
    # MXNet 1.9.1's infer_shape(d=(2, 3, 5))
    shape = (2, 3, 5)
    assert mx.sym.topk(x_var, k=2).infer_shape(x=shape)[1] == [(2, 3, 2)]
    assert mx.sym.topk(x_var, k=2, ret_typ="mask").infer_shape(x=shape)[1] == [shape]
    assert mx.sym.topk(x_var, k=2, axis=None, ret_typ="mask").infer_shape(x=shape)[1] == [shape]
    assert mx.sym.topk(x_var, k=3, axis=None, ret_typ="both").infer_shape(x=shape)[1] == [
        (3,), (3,)]
    assert mx.sym.sort(x_var, axis=None).infer_shape(x=shape)[1] == [(30,)]
    assert mx.sym.argsort(x_var).infer_shape(x=shape)[1] == [shape]
    assert mx.sym._contrib_index_array(x_var, axes=(1, 0)).infer_shape(x=(3, 2, 2))[1] == [
        (3, 2, 2, 2)]


def test_k_below_one_selects_the_whole_axis():
    out = forward(mx.sym.topk(x_var, k=-1, ret_typ="value"), x=[[1, 3, 2]])
    np.testing.assert_array_equal(out, [[3, 2, 1]])


def test_an_index_dtype_the_kernels_do_not_write_is_refused_at_bind():
    sym = mx.sym.argsort(x_var, dtype="uint8", name="order")
    with pytest.raises(MXNetError, match="order.*uint8"):
        sym.simple_bind(mx.cpu(), x=(2, 3))


@pytest.mark.parametrize("alias,name", [
    ("_npx_topk", "topk"), ("_npi_sort", "sort"), ("_npi_argsort", "argsort"),
    ("_npi_gather_nd", "gather_nd"), ("_npx_gather_nd", "gather_nd"),
    ("_npi_scatter_set_nd", "_scatter_set_nd"), ("_npi_boolean_mask", "_contrib_boolean_mask")])
def test_aliases_are_saved_under_the_operators_name(alias, name):
    params = {"shape": (2,)} if name == "_scatter_set_nd" else {}
    sym = getattr(mx.sym, alias)(x_var, **params)
    assert json.loads(sym.tojson())["nodes"][-1]["op"] == name


# -- coordinates outside the array stop the run ---------------------------------------------------

@pytest.mark.parametrize("build,arrays", [
    pytest.param(lambda: mx.sym.gather_nd(x_var, i_var, name="g"),
                 {"x": np.zeros((3, 4)), "i": [[0, 2], [4, 0]]}, id="gather_nd-too-large"),
    pytest.param(lambda: mx.sym.gather_nd(x_var, i_var, name="g"),
                 {"x": np.zeros((3, 4)), "i": [[0, 2], [3.5, 0]]},
                 id="gather_nd-fraction-past-end"),
    pytest.param(lambda: mx.sym.gather_nd(x_var, i_var, name="g"),
                 {"x": np.zeros((3, 4)), "i": [[-4, 2], [0, 0]]}, id="gather_nd-too-negative"),
    pytest.param(lambda: mx.sym.gather_nd(x_var, i_var, name="g"),
                 {"x": np.zeros((3, 4)), "i": [[np.nan, 2], [0, 0]]}, id="gather_nd-nan"),
    pytest.param(lambda: mx.sym.scatter_nd(x_var, i_var, shape=(3, 4), name="g"),
                 {"x": [1, 2], "i": [[0, 3], [0, 0]]}, id="scatter_nd"),
    pytest.param(lambda: mx.sym._contrib_index_copy(x_var, i_var, mx.sym.Variable("t"), name="g"),
                 {"x": np.zeros((3, 2)), "i": [1, -1], "t": np.ones((2, 2))}, id="index_copy"),
])
def test_coordinates_outside_the_array_are_an_error_naming_the_operator(build, arrays):
    with pytest.raises(MXNetError, match="Error in operator .*'g'.*index out of range"):
        forward(build(), **arrays)


# -- _contrib_boolean_mask ------------------------------------------------------------------------

# written by MXNet 1.9.1: mx.sym.contrib.boolean_mask(mx.sym.var('d'), mx.sym.var('i')).tojson()
BOOLEAN_MASK_JSON = """{
  "nodes": [
    {"op": "null", "name": "d", "inputs": []},
    {"op": "null", "name": "i", "inputs": []},
    {"op": "_contrib_boolean_mask", "name": "boolean_mask0", "inputs": [[0, 0, 0], [1, 0, 0]]}
  ],
  "arg_nodes": [0, 1],
  "node_row_ptr": [0, 1, 2, 3],
  "heads": [[2, 0, 0]],
  "attrs": {"mxnet_version": ["int", 10901]}
}"""


def test_boolean_mask_loads_and_infers_what_mxnet_infers():
    sym = mx.sym.load_json(BOOLEAN_MASK_JSON)
    assert sym.list_arguments() == ["d", "i"]
    # MXNet: infer_shape_partial(d=(3, 4), i=(3,)) == ([(3, 4), (3,)], [()], [])
    assert sym.infer_shape_partial(d=(3, 4), i=(3,)) == ([(3, 4), (3,)], [()], [])
    assert mx.sym.load_json(sym.tojson()).tojson() == sym.tojson()


@pytest.mark.parametrize("how", ["simple_bind", "bind", "downstream"])
def test_boolean_mask_is_refused_at_bind_naming_the_node(how):
    sym = mx.sym.load_json(BOOLEAN_MASK_JSON)
    with pytest.raises(BindError) as info:
        if how == "simple_bind":
            sym.simple_bind(mx.cpu(), d=(3, 4), i=(3,))
        elif how == "bind":
            sym.bind(mx.cpu(), {"d": np.zeros((3, 4), np.float32), "i": np.ones(3, np.float32)})
        else:   # a layer after it whose weight shape depends on the mask's output
            mx.sym.FullyConnected(sym, num_hidden=2, name="fc").simple_bind(mx.cpu(), d=(3, 4),
                                                                            i=(3,))
    message = str(info.value)
    assert "boolean_mask0" in message and "_contrib_boolean_mask" in message
    assert "depends on the values of its input 'index'" in message


# -- the kernels' integer dtypes (MXNet also takes int32/int64 indices and writes int64) ----------

def run_plan(append, *arrays, **kwargs):
    plan = runner.Plan()
    append(plan, *arrays, **kwargs)
    plan.run()


@pytest.mark.parametrize("index_dtype", [np.float32, np.float64, np.int32, np.int64])
def test_gather_and_scatter_kernels_read_every_index_dtype(index_dtype):
    data = np.arange(24, dtype=np.float32).reshape(3, 4, 2)
    indices = np.array([[2, -1, 0], [1, 3, -4]], index_dtype)
    out = np.zeros((3, 2), np.float32)
    run_plan(gather_kernels.append_gather_nd, data, indices, out)
    np.testing.assert_array_equal(out, data[[2, 2, 0], [1, 3, 0]])
    back = np.zeros_like(data)
    run_plan(gather_kernels.append_scatter_nd, out, indices, back)
    expected = np.zeros_like(data)
    expected[[2, 2, 0], [1, 3, 0]] = out
    np.testing.assert_array_equal(back, expected)


@pytest.mark.parametrize("out_dtype", [np.float32, np.float64, np.int32, np.int64])
def test_index_array_kernel_writes_every_index_dtype(out_dtype):
    out = np.full((2, 3, 4, 2), -7, out_dtype)
    run_plan(gather_kernels.append_index_array, (2, 3, 4), (-1, 3), out)
    grids = np.indices((2, 3, 4))
    np.testing.assert_array_equal(out, np.stack([grids[2], grids[0]], axis=-1))
    everything = np.zeros((2, 3, 4, 3), out_dtype)
    run_plan(gather_kernels.append_index_array, (2, 3, 4), None, everything)
    np.testing.assert_array_equal(everything, np.moveaxis(grids, 0, -1))


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_topk_kernel_writes_integer_indices(index_dtype):
    data = np.array([[0.5, 2.0, -1.0, 3.0]])
    indices = np.zeros((1, 2), index_dtype)
    workspace = np.zeros(sort_kernels.topk_workspace_bytes(4), np.uint8)
    run_plan(sort_kernels.append_topk, data, workspace, indices=indices, k=2)
    np.testing.assert_array_equal(indices, [[3, 1]])
    grad = np.zeros_like(data)
    run_plan(sort_kernels.append_topk_backward, np.array([[10.0, 20.0]]), indices, grad, k=2)
    np.testing.assert_array_equal(grad, [[0, 20, 0, 10]])


# written by MXNet 1.9.1: mx.sym.topk(mx.sym.var('d'), k=2, ret_typ='value').tojson(); its node
# has two outputs (the values and the hidden positions), one visible
TOPK_VALUE_JSON = """{
  "nodes": [
    {"op": "null", "name": "d", "inputs": []},
    {"op": "topk", "name": "topk6", "attrs": {"k": "2", "ret_typ": "value"},
     "inputs": [[0, 0, 0]]}
  ],
  "arg_nodes": [0],
  "node_row_ptr": [0, 1, 3],
  "heads": [[1, 0, 0]],
  "attrs": {"mxnet_version": ["int", 10901]}
}"""


def test_topk_written_by_mxnet_loads_runs_and_trains():
    sym = mx.sym.load_json(TOPK_VALUE_JSON)
    assert sym.list_outputs() == ["topk6_output0"]
    outputs, grads = run(sym, heads=[[[1, 2], [3, 4]]], d=X23)
    np.testing.assert_allclose(outputs[0], np.float32([[0.4, 0.3], [0.3, 0.2]]))
    np.testing.assert_array_equal(grads["d"], [[2, 0, 1], [0, 3, 4]])
