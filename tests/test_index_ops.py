"""The indexing operators beyond the registry table: MXNet's documentation examples, aliases,
input names, gradients into index inputs and repeated indices, Cast across dtypes, take's
mode='raise', JSON round trips and errors that name the operator instance."""
import inspect
import json

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError

X34 = np.arange(1, 13, dtype=np.float32).reshape(3, 4)    # MXNet's doc matrix [[1..4], ...]
X32 = np.array([[1, 2], [3, 4], [5, 6]], np.float32)


def run(sym, grad_req="null", heads=None, **arrays):
    """Forward (and backward with `heads`) of sym on NumPy arrays keyed by argument name;
    returns (outputs, executor)."""
    arrays = {k: np.asarray(v, dtype=np.float32) if np.asarray(v).dtype.kind != "f" else
              np.asarray(v) for k, v in arrays.items()}
    exe = sym.simple_bind(mx.cpu(), grad_req=grad_req,
                          type_dict={k: v.dtype for k, v in arrays.items()},
                          **{k: v.shape for k, v in arrays.items()})
    for name, value in arrays.items():
        exe.arg_dict[name][:] = value
    outputs = [np.array(o) for o in exe.forward(is_train=heads is not None)]
    if heads is not None:
        exe.backward([np.asarray(h, dtype=o.dtype) for h, o in zip(heads, outputs)])
    return outputs, exe


def forward(sym, **arrays):
    outputs, _ = run(sym, **arrays)
    return outputs[0] if len(outputs) == 1 else outputs


x_var, y_var = mx.sym.Variable("x"), mx.sym.Variable("y")


# -- MXNet's documentation examples -------------------------------------------------------------

DOC_EXAMPLES = [
    ("slice_axis-axis0", lambda: mx.sym.slice_axis(x_var, axis=0, begin=1, end=3), {"x": X34},
     [[5, 6, 7, 8], [9, 10, 11, 12]]),
    ("slice_axis-axis1", lambda: mx.sym.slice_axis(x_var, axis=1, begin=0, end=2), {"x": X34},
     [[1, 2], [5, 6], [9, 10]]),
    ("slice_axis-negative", lambda: mx.sym.slice_axis(x_var, axis=1, begin=-3, end=-1),
     {"x": X34}, [[2, 3], [6, 7], [10, 11]]),
    ("slice", lambda: mx.sym.slice(x_var, begin=(0, 1), end=(2, 4)), {"x": X34},
     [[2, 3, 4], [6, 7, 8]]),
    ("slice-step", lambda: mx.sym.slice(x_var, begin=(None, 0), end=(None, 3), step=(-1, 2)),
     {"x": X34}, [[9, 11], [5, 7], [1, 3]]),
    ("crop", lambda: mx.sym.crop(x_var, begin=(0, 1), end=(2, 4)), {"x": X34},
     [[2, 3, 4], [6, 7, 8]]),
    ("swapaxes", lambda: mx.sym.swapaxes(x_var, dim1=0, dim2=1), {"x": [[1, 2, 3]]},
     [[1], [2], [3]]),
    ("SwapAxis-3d", lambda: mx.sym.SwapAxis(x_var, dim1=0, dim2=2),
     {"x": [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]}, [[[0, 4], [2, 6]], [[1, 5], [3, 7]]]),
    ("broadcast_to", lambda: mx.sym.broadcast_to(x_var, shape=(2, 0)), {"x": [[1, 2, 3]]},
     [[1, 2, 3], [1, 2, 3]]),
    ("broadcast_like", lambda: mx.sym.broadcast_like(x_var, y_var),
     {"x": [[1, 2, 3]], "y": [[5, 6, 7], [7, 8, 9]]}, [[1, 2, 3], [1, 2, 3]]),
    ("broadcast_like-axes", lambda: mx.sym.broadcast_like(x_var, y_var, lhs_axes=(0,),
                                                          rhs_axes=(-1,)),
     {"x": [9], "y": [1, 2, 3, 4, 5]}, [9, 9, 9, 9, 9]),
    ("tile", lambda: mx.sym.tile(x_var, reps=(2, 3)), {"x": [[1, 2], [3, 4]]},
     [[1, 2, 1, 2, 1, 2], [3, 4, 3, 4, 3, 4], [1, 2, 1, 2, 1, 2], [3, 4, 3, 4, 3, 4]]),
    ("tile-short", lambda: mx.sym.tile(x_var, reps=(2,)), {"x": [[1, 2], [3, 4]]},
     [[1, 2, 1, 2], [3, 4, 3, 4]]),
    ("repeat-flat", lambda: mx.sym.repeat(x_var, repeats=2), {"x": [[1, 2], [3, 4]]},
     [1, 1, 2, 2, 3, 3, 4, 4]),
    ("repeat-axis1", lambda: mx.sym.repeat(x_var, repeats=2, axis=1), {"x": [[1, 2], [3, 4]]},
     [[1, 1, 2, 2], [3, 3, 4, 4]]),
    ("repeat-axis0", lambda: mx.sym.repeat(x_var, repeats=2, axis=0), {"x": [[1, 2], [3, 4]]},
     [[1, 2], [1, 2], [3, 4], [3, 4]]),
    ("repeat-axis-1", lambda: mx.sym.repeat(x_var, repeats=2, axis=-1), {"x": [[1, 2], [3, 4]]},
     [[1, 1, 2, 2], [3, 3, 4, 4]]),
    ("stack", lambda: mx.sym.stack(x_var, y_var), {"x": [1, 2], "y": [3, 4]}, [[1, 2], [3, 4]]),
    ("stack-axis1", lambda: mx.sym.stack(x_var, y_var, axis=1), {"x": [1, 2], "y": [3, 4]},
     [[1, 3], [2, 4]]),
    ("argmax-axis0", lambda: mx.sym.argmax(x_var, axis=0), {"x": [[0, 1, 2], [3, 4, 5]]},
     [1, 1, 1]),
    ("argmax-axis1", lambda: mx.sym.argmax(x_var, axis=1), {"x": [[0, 1, 2], [3, 4, 5]]}, [2, 2]),
    ("argmax-keepdims", lambda: mx.sym.argmax(x_var, axis=1, keepdims=True),
     {"x": [[0, 1, 2], [3, 4, 5]]}, [[2], [2]]),
    ("argmax-flat", lambda: mx.sym.argmax(x_var), {"x": [[0, 1, 2], [3, 4, 5]]}, [5]),
    ("argmin-axis0", lambda: mx.sym.argmin(x_var, axis=0), {"x": [[0, 1, 2], [3, 4, 5]]},
     [0, 0, 0]),
    ("argmin-axis1", lambda: mx.sym.argmin(x_var, axis=1), {"x": [[0, 1, 2], [3, 4, 5]]}, [0, 0]),
    ("argmax_channel", lambda: mx.sym.argmax_channel(x_var), {"x": [[0, 1, 2], [3, 4, 5]]},
     [2, 2]),
    ("one_hot", lambda: mx.sym.one_hot(x_var, depth=3), {"x": [1, 0, 2, 0]},
     [[0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0]]),
    ("one_hot-values", lambda: mx.sym.one_hot(x_var, 3, on_value=8, off_value=1, dtype="float64"),
     {"x": [1, 0, 2, 0]}, [[1, 8, 1], [8, 1, 1], [1, 1, 8], [8, 1, 1]]),
    ("one_hot-2d", lambda: mx.sym.one_hot(x_var, depth=3), {"x": [[1, 0], [1, 0], [2, 0]]},
     [[[0, 1, 0], [1, 0, 0]], [[0, 1, 0], [1, 0, 0]], [[0, 0, 1], [1, 0, 0]]]),
    ("pick-axis0", lambda: mx.sym.pick(x_var, y_var, 0), {"x": X32, "y": [0, 1]}, [1, 4]),
    ("pick-axis1", lambda: mx.sym.pick(x_var, y_var, 1), {"x": X32, "y": [0, 1, 0]}, [1, 4, 5]),
    ("pick-keepdims", lambda: mx.sym.pick(x_var, y_var, 1, keepdims=True),
     {"x": X32, "y": [[1], [0], [2]]}, [[2], [3], [6]]),
    ("pick-wrap", lambda: mx.sym.pick(x_var, y_var, 1, keepdims=True, mode="wrap"),
     {"x": X32, "y": [[1], [0], [2]]}, [[2], [3], [5]]),
    ("take-1d", lambda: mx.sym.take(x_var, y_var), {"x": [4, 5, 6], "y": [[0, 1], [1, 2]]},
     [[4, 5], [5, 6]]),
    ("take-2d", lambda: mx.sym.take(x_var, y_var), {"x": X32, "y": [[0, 1], [1, 2]]},
     [[[1, 2], [3, 4]], [[3, 4], [5, 6]]]),
    ("take-clip", lambda: mx.sym.take(x_var, y_var), {"x": X32, "y": [-1, 7]}, [[1, 2], [5, 6]]),
    ("take-wrap", lambda: mx.sym.take(x_var, y_var, mode="wrap"), {"x": X32, "y": [-1, 3]},
     [[5, 6], [1, 2]]),
    ("take-axis1", lambda: mx.sym.take(x_var, y_var, axis=1), {"x": X32, "y": [1, 1, 0]},
     [[2, 2, 1], [4, 4, 3], [6, 6, 5]]),
    ("where", lambda: mx.sym.where(mx.sym.Variable("c"), x_var, y_var),
     {"c": [[0, 1], [-1, 0]], "x": [[1, 2], [3, 4]], "y": [[5, 6], [7, 8]]}, [[5, 2], [3, 8]]),
    ("where-1d", lambda: mx.sym.where(mx.sym.Variable("c"), x_var, y_var),
     {"c": [1, 0], "x": [[1, 2], [3, 4]], "y": [[5, 6], [7, 8]]}, [[1, 2], [7, 8]]),
]


@pytest.mark.parametrize("build,arrays,expected", [pytest.param(b, a, e, id=i)
                                                   for i, b, a, e in DOC_EXAMPLES])
def test_mxnet_documentation_example(build, arrays, expected):
    out = forward(build(), **arrays)
    np.testing.assert_array_equal(out, np.asarray(expected, dtype=out.dtype))


def test_argmax_returns_the_first_of_ties_and_nan_like_numpy():
    data = np.array([[1, 3, 3], [np.nan, 2, np.nan], [0, 0, 0]], np.float32)
    np.testing.assert_array_equal(forward(mx.sym.argmax(x_var, axis=1), x=data), [1, 0, 0])
    np.testing.assert_array_equal(forward(mx.sym.argmin(x_var, axis=1), x=data), [0, 0, 0])


def test_search_output_keeps_the_input_dtype():
    out = forward(mx.sym.argmax(x_var, axis=0), x=np.zeros((3, 2)))
    assert out.dtype == np.float64


# -- names, aliases, signatures -------------------------------------------------------------------

@pytest.mark.parametrize("make,arguments", [
    (lambda: mx.sym.take(name="tk"), ["tk_a", "tk_indices"]),
    (lambda: mx.sym.pick(name="pk"), ["pk_data", "pk_index"]),
    (lambda: mx.sym.where(name="wh"), ["wh_condition", "wh_x", "wh_y"]),
    (lambda: mx.sym.one_hot(depth=3, name="oh"), ["oh_indices"]),
    (lambda: mx.sym.broadcast_like(name="bl"), ["bl_lhs", "bl_rhs"]),
    (lambda: mx.sym.slice_axis(axis=0, begin=0, end=None, name="sa"), ["sa_data"]),
    (lambda: mx.sym.stack(x_var, y_var, name="st"), ["x", "y"]),
], ids=["take", "pick", "where", "one_hot", "broadcast_like", "slice_axis", "stack"])
def test_input_names_follow_mxnet(make, arguments):
    assert make().list_arguments() == arguments


@pytest.mark.parametrize("alias,canonical", [("crop", "slice"), ("swapaxes", "SwapAxis"),
                                             ("cast", "Cast")])
def test_alias_creates_the_canonical_op(alias, canonical):
    sym = getattr(mx.sym, alias)(x_var, **({"begin": (0,), "end": (1,)} if alias == "crop" else
                                           {"dim1": 0, "dim2": 1} if alias == "swapaxes" else
                                           {"dtype": "float32"}))
    node = json.loads(sym.tojson())["nodes"][-1]
    assert node["op"] == canonical
    assert node["name"].startswith(alias)     # MXNet names the node after the called function


def test_signatures_have_mxnet_defaults():
    sig = inspect.signature(mx.sym.slice_axis)
    assert list(sig.parameters)[:4] == ["data", "axis", "begin", "end"]
    assert sig.parameters["end"].default is inspect.Parameter.empty
    assert inspect.signature(mx.sym.slice).parameters["step"].default == ()
    assert inspect.signature(mx.sym.repeat).parameters["axis"].default is None
    assert inspect.signature(mx.sym.take).parameters["mode"].default == "clip"
    assert inspect.signature(mx.sym.pick).parameters["axis"].default == -1
    assert inspect.signature(mx.sym.one_hot).parameters["dtype"].default == "float32"
    assert inspect.signature(mx.sym.stack).parameters["axis"].default == 0
    assert "crop" in mx.sym.crop.__doc__ or "Alias of slice" in mx.sym.crop.__doc__


def test_slice_axis_end_is_required_but_may_be_none():
    with pytest.raises(MXNetError, match="end"):
        mx.sym.slice_axis(x_var, axis=0, begin=1, name="sa")
    out = forward(mx.sym.slice_axis(x_var, axis=0, begin=1, end=None), x=X34)
    np.testing.assert_array_equal(out, X34[1:])


# -- gradients ---------------------------------------------------------------------------------

def test_take_gradient_accumulates_repeated_indices_and_indices_get_zero():
    a = np.arange(6, dtype=np.float64).reshape(3, 2)
    indices = np.array([0, 2, 0, 0, -4.0])          # -4 clips to 0
    _, exe = run(mx.sym.take(mx.sym.Variable("a"), mx.sym.Variable("i")), grad_req="write",
                 heads=[np.ones((5, 2))], a=a, i=indices)
    np.testing.assert_array_equal(exe.grad_dict["a"], [[4, 4], [0, 0], [1, 1]])
    np.testing.assert_array_equal(exe.grad_dict["i"], np.zeros(5))


def test_take_gradient_along_axis1_with_wrap():
    a = np.zeros((2, 3))
    _, exe = run(mx.sym.take(mx.sym.Variable("a"), mx.sym.Variable("i"), axis=1, mode="wrap"),
                 grad_req="write", heads=[np.arange(8.0).reshape(2, 4)], a=a,
                 i=np.array([1, 4, -1, 2.0]))      # 4 -> 1, -1 -> 2
    # columns 1 <- head columns 0, 1; column 2 <- head columns 2, 3
    np.testing.assert_array_equal(exe.grad_dict["a"], [[0, 0 + 1, 2 + 3], [0, 4 + 5, 6 + 7]])


def test_pick_and_where_send_no_gradient_to_their_index_inputs():
    _, exe = run(mx.sym.pick(x_var, y_var, axis=1), grad_req="write", heads=[[1.0, 2.0, 3.0]],
                 x=X32.astype(np.float64), y=np.array([1.0, 0.0, 5.0]))
    np.testing.assert_array_equal(exe.grad_dict["x"], [[0, 1], [2, 0], [0, 3]])
    np.testing.assert_array_equal(exe.grad_dict["y"], np.zeros(3))
    cond = mx.sym.Variable("c")
    _, exe = run(mx.sym.where(cond, x_var, y_var), grad_req="write", heads=[np.ones((3, 2))],
                 c=np.array([0.0, 1.0, 0.0]), x=np.ones((3, 2)), y=np.ones((3, 2)))
    np.testing.assert_array_equal(exe.grad_dict["x"], [[0, 0], [1, 1], [0, 0]])
    np.testing.assert_array_equal(exe.grad_dict["y"], [[1, 1], [0, 0], [1, 1]])
    np.testing.assert_array_equal(exe.grad_dict["c"], np.zeros(3))


@pytest.mark.parametrize("make,index", [
    (lambda v: mx.sym.slice_axis(v, axis=1, begin=1, end=3), None),
    (lambda v: mx.sym.slice(v, begin=(None, 3), end=(None, 0), step=(2, -2)), None),
    (lambda v: mx.sym.pick(v, mx.sym.Variable("index"), axis=1), [1.0, 2.0, 0.0]),
    (lambda v: mx.sym.take(v, mx.sym.Variable("index")), [2.0, 0.0]),
], ids=["slice_axis", "slice", "pick", "take"])
def test_scatter_gradients_honour_grad_req_add(make, index):
    """The scatter kernels zero the gradient under 'write' only: 'add' accumulates."""
    sym = make(x_var)
    arrays = {"x": np.arange(12.0).reshape(3, 4)}
    if index is not None:
        arrays["index"] = np.array(index)
    outs, exe = run(sym, grad_req={"x": "add", "index": "null"} if index else "add", **arrays)
    head = np.random.default_rng(0).standard_normal(outs[0].shape)
    exe.grad_dict["x"][:] = 1.0
    exe.forward(is_train=True)
    exe.backward([head])
    once = np.array(exe.grad_dict["x"]) - 1.0
    exe.backward([head])
    np.testing.assert_allclose(exe.grad_dict["x"], 1.0 + 2 * once)
    assert np.count_nonzero(once) and np.count_nonzero(once == 0)


def test_broadcast_tile_repeat_gradients_sum_the_copies():
    x = np.arange(1.0, 7.0).reshape(2, 1, 3)
    for sym, factor in ((mx.sym.broadcast_to(x_var, shape=(2, 4, 3)), 4),
                        (mx.sym.tile(x_var, reps=(3, 1, 2)), 6),
                        (mx.sym.repeat(x_var, repeats=5), 5),
                        (mx.sym.repeat(x_var, repeats=2, axis=1), 2)):
        outs, exe = run(sym, grad_req="write", heads=[np.ones(sym.infer_shape(x=x.shape)[1][0])],
                        x=x)
        np.testing.assert_array_equal(exe.grad_dict["x"], np.full(x.shape, float(factor)))


def test_repeat_zero_times_gives_an_empty_output_and_a_zero_gradient():
    sym = mx.sym.repeat(x_var, repeats=0)
    assert sym.infer_shape(x=(2, 3))[1] == [(0,)]
    outs, exe = run(sym, grad_req="write", heads=[np.zeros(0)], x=np.ones((2, 3)))
    assert outs[0].shape == (0,)
    np.testing.assert_array_equal(exe.grad_dict["x"], np.zeros((2, 3)))


# -- Cast ----------------------------------------------------------------------------------------

def test_cast_between_float32_and_float64_forward_and_backward():
    data = np.array([1 / 3, 2.5, -7.1], np.float64)
    x = mx.sym.Variable("x")
    out, exe = run(mx.sym.Cast(x, dtype="float32"), grad_req="write", heads=[[1 / 3, 1.0, 2.0]],
                   x=data)
    assert out[0].dtype == np.float32
    np.testing.assert_array_equal(out[0], data.astype(np.float32))
    grad = exe.grad_dict["x"]
    assert grad.dtype == np.float64
    # the head gradient was float32: it comes back as float64 of that float32 value
    np.testing.assert_array_equal(grad, np.array([1 / 3, 1, 2], np.float32).astype(np.float64))

    out, exe = run(mx.sym.cast(x, dtype="float64"), grad_req="write", heads=[[1 / 3, 1.0, 2.0]],
                   x=data.astype(np.float32))
    assert out[0].dtype == np.float64 and exe.grad_dict["x"].dtype == np.float32
    np.testing.assert_array_equal(exe.grad_dict["x"], np.array([1 / 3, 1, 2], np.float32))


def test_cast_infers_the_output_dtype_for_every_mxnet_dtype():
    for dtype in ("float16", "uint8", "int8", "int32", "int64", "bool"):
        _, out_types, _ = mx.sym.Cast(x_var, dtype=dtype).infer_type(x=np.float32)
        assert out_types == [np.dtype(dtype)]


@pytest.mark.parametrize("dtype", ["bool"])   # float16: tests/test_float16_bind.py
def test_cast_to_a_dtype_without_kernels_is_a_clear_bind_error(dtype):
    sym = mx.sym.Cast(x_var, dtype=dtype, name="to_int")
    with pytest.raises(MXNetError) as info:
        sym.simple_bind(mx.cpu(), x=(2, 3))
    message = str(info.value)
    assert "to_int" in message and dtype in message and "float32" in message


def test_cast_to_bfloat16_names_the_operator():
    with pytest.raises(MXNetError, match="bf16|bfloat16") as info:
        mx.sym.Cast(x_var, dtype="bfloat16", name="bf").infer_type(x=np.float32)
    assert "bf" in str(info.value)


# -- take mode='raise' ------------------------------------------------------------------------

def test_take_raise_stops_forward_with_an_error_naming_the_operator():
    sym = mx.sym.take(x_var, y_var, mode="raise", name="lookup")
    np.testing.assert_array_equal(forward(sym, x=X32, y=[2, 0]), [[5, 6], [1, 2]])
    for bad in ([3, 0], [0, -1]):
        with pytest.raises(MXNetError) as info:
            forward(sym, x=X32, y=bad)
        assert "lookup" in str(info.value) and "index out of range" in str(info.value)


# -- shape errors name the operator instance ----------------------------------------------------

@pytest.mark.parametrize("make,shapes,words", [
    (lambda: mx.sym.slice_axis(x_var, axis=1, begin=0, end=9, name="sl1"), {"x": (3, 4)},
     ["sl1", "slice_axis", "end=9"]),
    (lambda: mx.sym.slice(x_var, begin=(0, 2), end=(2, 2), name="sl2"), {"x": (3, 4)},
     ["sl2", "slice", "selects nothing"]),
    (lambda: mx.sym.slice(x_var, begin=(5,), end=(None,), name="sl3"), {"x": (3, 4)},
     ["sl3", "begin[0]=5"]),
    (lambda: mx.sym.broadcast_to(x_var, shape=(3, 5), name="bt"), {"x": (3, 4)},
     ["bt", "(3, 4)", "(3, 5)"]),
    (lambda: mx.sym.broadcast_like(x_var, y_var, name="bl"), {"x": (2, 3), "y": (2, 3, 1)},
     ["bl", "(2, 3)"]),
    (lambda: mx.sym.tile(x_var, reps=(0, 2), name="tl"), {"x": (3, 4)}, ["tl", "reps"]),
    (lambda: mx.sym.stack(x_var, y_var, name="st"), {"x": (3, 4), "y": (4, 3)},
     ["st", "arg1", "(4, 3)"]),
    (lambda: mx.sym.pick(x_var, y_var, axis=None, name="pk"), {"x": (3, 4), "y": (3,)},
     ["pk", "axis=None"]),
    (lambda: mx.sym.pick(x_var, y_var, axis=0, name="pk2"), {"x": (3, 4), "y": (3,)},
     ["pk2", "index", "(4,)"]),
    (lambda: mx.sym.take(x_var, y_var, axis=-3, name="tk"), {"x": (3, 4), "y": (2,)},
     ["tk", "axis -3"]),
    (lambda: mx.sym.where(mx.sym.Variable("c"), x_var, y_var, name="wh"),
     {"c": (4,), "x": (3, 4), "y": (3, 4)}, ["wh", "condition", "(4,)"]),
    (lambda: mx.sym.argmax(x_var, axis=2, name="am"), {"x": (3, 4)}, ["am", "axis 2"]),
    (lambda: mx.sym.SwapAxis(x_var, dim1=0, dim2=-3, name="sw"), {"x": (3, 4)}, ["sw", "-3"]),
])
def test_shape_errors_name_the_operator_instance(make, shapes, words):
    with pytest.raises(MXNetError) as info:
        make().infer_shape(**shapes)
    message = str(info.value)
    assert message.startswith("Error in operator")
    for word in words:
        assert word in message, (word, message)


def test_unknown_choice_lists_the_allowed_values():
    with pytest.raises(MXNetError) as info:
        mx.sym.take(x_var, y_var, mode="nearest", name="tk")
    assert "tk" in str(info.value) and "'raise'" in str(info.value)


# -- JSON round trip --------------------------------------------------------------------------

def index_graph():
    data = mx.sym.Variable("data")
    idx = mx.sym.Variable("idx")
    a = mx.sym.slice_axis(data, axis=1, begin=1, end=None, name="sa")
    b = mx.sym.crop(data, begin=(0, None), end=(2, None), step=(1, -1), name="cr")
    c = mx.sym.swapaxes(mx.sym.stack(a, mx.sym.slice_axis(data, axis=1, begin=0, end=3),
                                     axis=2), dim1=0, dim2=2)
    d0 = mx.sym.broadcast_to(mx.sym.sum(b, axis=1, keepdims=True), shape=(0, 4))
    d = mx.sym.broadcast_like(mx.sym.sum(b, axis=0, keepdims=True), data)
    e = mx.sym.tile(mx.sym.repeat(d, repeats=2, axis=0), reps=(1, 2))
    f = mx.sym.pick(data, idx, axis=1) + mx.sym.take(data, idx, axis=1, mode="wrap").sum(axis=1)
    g = mx.sym.where(mx.sym.argmax(data, axis=1), f, mx.sym.argmin(data, axis=1) +
                     mx.sym.argmax_channel(data))
    h = mx.sym.one_hot(idx, depth=4, on_value=2, dtype="float64")
    k = mx.sym.Cast(h, dtype="float32")
    return mx.sym.Group([c, d0, e, g, k])


def test_json_round_trip_keeps_the_graph_and_its_results():
    sym = index_graph()
    text = sym.tojson()
    loaded = mx.sym.load_json(text)
    assert loaded.tojson() == text
    ops = {n["op"] for n in json.loads(text)["nodes"]}
    assert {"slice_axis", "slice", "SwapAxis", "stack", "broadcast_to", "broadcast_like", "tile",
            "repeat", "pick", "take", "where", "argmax", "argmin", "argmax_channel", "one_hot",
            "Cast"} <= ops
    rng = np.random.default_rng(3)
    arrays = {"data": rng.standard_normal((3, 4)).astype(np.float32),
              "idx": np.array([0, 3, 5], np.float32)}
    first = forward(sym, **arrays)
    second = forward(loaded, **arrays)
    for one, two in zip(first, second):
        np.testing.assert_array_equal(one, two)
    assert [o.dtype for o in first] == [np.float32] * 5


def test_mxnet_written_attrs_load():
    """Attribute strings as MXNet 1.x writes them (None entries, 'None' optionals)."""
    text = """{"nodes": [{"op": "null", "name": "x", "inputs": []},
      {"op": "slice", "name": "s", "attrs": {"begin": "(None, 1)", "end": "(None, None)",
       "step": "(-1, 2)"}, "inputs": [[0, 0, 0]]},
      {"op": "slice_axis", "name": "t", "attrs": {"axis": "0", "begin": "1", "end": "None"},
       "inputs": [[1, 0, 0]]},
      {"op": "repeat", "name": "r", "attrs": {"repeats": "2", "axis": "None"},
       "inputs": [[2, 0, 0]]}],
      "arg_nodes": [0], "node_row_ptr": [0, 1, 2, 3, 4], "heads": [[3, 0, 0]],
      "attrs": {"mxnet_version": ["int", 10901]}}"""
    sym = mx.sym.load_json(text)
    out = forward(sym, x=X34)
    np.testing.assert_array_equal(out, np.repeat(X34[::-1, 1::2][1:], 2))


def test_fluent_methods_name_nodes_as_mxnet():
    with mx.name.NameManager():
        x = mx.sym.Variable("x")
        y = x.slice_axis(axis=1, begin=0, end=2).astype("float64").tile(reps=(2, 1)).swapaxes(dim1=0, dim2=1)
    assert y.get_internals().list_outputs() == ["x", "slice_axis0_output", "cast0_output",
                                                "tile0_output", "swapaxes0_output"]
    assert y.infer_shape(x=(3, 4))[1] == [(2, 6)]
    assert y.infer_type(x="float32")[1] == [np.float64]
