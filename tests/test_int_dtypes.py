"""Integer arrays end to end: the dtypes each operator's kernel computes in (OpDef.dtypes), the
executor refusing the others by name, no gradient through integer entries, and every
integer-capable operator in int32 and int64 against NumPy with MXNet 1.9.1's semantics
(C's truncating division, mod with the divisor's sign, conversions as MXNet's x86-64 build
makes them).  Literals marked "MXNet 1.9.1" were printed by /tmp/mxref's mxnet.nd."""
import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError

INTEGERS = ("int32", "int64")
CAST_DTYPES = ("float32", "float64", "int32", "int64", "uint8", "int8")


def run(symbol, is_train=False, **inputs):
    """Bind `symbol` to copies of the NumPy `inputs` (their dtypes are the arguments') and run
    forward: the outputs as NumPy arrays."""
    exe = symbol.simple_bind(mx.cpu(), grad_req="null",
                             type_dict={n: v.dtype for n, v in inputs.items()},
                             **{n: v.shape for n, v in inputs.items()})
    return [np.array(out) for out in exe.forward(is_train=is_train, **inputs)]


def assert_exact(actual, expected):
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual, expected)


def int_values(dtype, shape, seed=0):
    """Values of `shape` spread over the dtype's range, with the bit patterns of a signaling NaN
    of the float of the same width among them: a kernel that moved them through float
    arithmetic would change them."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    nan_bits = np.array(0x7F800001 if info.bits == 32 else 0x7FF0000000000001, dtype)
    flat = values.reshape(-1)
    flat[0], flat[-1] = nan_bits, -nan_bits
    return values


# -- Cast --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", CAST_DTYPES)
@pytest.mark.parametrize("source", CAST_DTYPES)
def test_cast_converts_every_pair(source, target):
    values = np.array([[0, 1.5, 2.7, 99.9], [7.2, 100, 126.9, 64.5]]).astype(source)
    x = mx.sym.Variable("x")
    (out,) = run(mx.sym.Cast(x, dtype=target), x=values)
    assert_exact(out, values.astype(target))


@pytest.mark.parametrize("target, values, expected", [
    # MXNet 1.9.1: mx.nd.Cast(mx.nd.array(values), dtype=target); floats reach 8-bit integers
    # through a 32-bit integer, and an out-of-range float or NaN becomes the smallest integer
    ("uint8", [-1.5, 300.7, 2.9, -0.5], [255, 44, 2, 0]),
    ("int8", [-1.5, 300.7, 2.9, -200.5], [-1, 44, 2, 56]),
    ("int32", [-1.5, 3e9, 2.9, np.nan], [-1, -2147483648, 2, -2147483648]),
    ("int64", [-1.5, 3e9, 2.9, np.nan], [-1, 3000000000, 2, -9223372036854775808]),
])
def test_cast_from_float_as_mxnet(target, values, expected):
    x = mx.sym.Variable("x")
    (out,) = run(mx.sym.Cast(x, dtype=target), x=np.array(values, np.float32))
    assert_exact(out, np.array(expected, target))


def test_cast_between_integers_wraps_as_mxnet():
    # MXNet 1.9.1: int64 [2**40 + 5, -3] -> int32 [5, -3]; int64 [257, -3] -> uint8 [1, 253]
    x = mx.sym.Variable("x")
    (out,) = run(mx.sym.Cast(x, dtype="int32"), x=np.array([2 ** 40 + 5, -3], np.int64))
    assert_exact(out, np.array([5, -3], np.int32))
    (out,) = run(mx.sym.Cast(x, dtype="uint8"), x=np.array([257, -3], np.int64))
    assert_exact(out, np.array([1, 253], np.uint8))


# -- operators that move data -------------------------------------------------------------------

def _moves():
    """(id, build(x, y), NumPy reference(x, y)) of every copy-like op."""
    return [
        ("Reshape", lambda x, y: mx.sym.Reshape(x, shape=(5, -1)), lambda x, y: x.reshape(5, -1)),
        ("Flatten", lambda x, y: mx.sym.Flatten(x), lambda x, y: x.reshape(2, -1)),
        ("expand_dims", lambda x, y: mx.sym.expand_dims(x, axis=1), lambda x, y: x[:, None]),
        ("reshape_like",
         lambda x, y: mx.sym.reshape_like(x, mx.sym.Variable("z", shape=(6, 5), dtype="float32")),
         lambda x, y: x.reshape(6, 5)),
        ("transpose", lambda x, y: mx.sym.transpose(x, axes=(2, 0, 1)),
         lambda x, y: x.transpose(2, 0, 1)),
        ("SwapAxis", lambda x, y: mx.sym.SwapAxis(x, dim1=0, dim2=2),
         lambda x, y: x.swapaxes(0, 2)),
        ("slice", lambda x, y: mx.sym.slice(x, begin=(1, None, 4), end=(2, 3, 0), step=(1, 2, -2)),
         lambda x, y: x[1:2, 0:3:2, 4:0:-2]),
        ("slice_axis", lambda x, y: mx.sym.slice_axis(x, axis=2, begin=1, end=-1),
         lambda x, y: x[:, :, 1:-1]),
        ("slice_like",
         lambda x, y: mx.sym.slice_like(x, mx.sym.Variable("z", shape=(1, 2, 4), dtype="float32")),
         lambda x, y: x[:1, :2, :4]),
        ("reverse", lambda x, y: mx.sym.reverse(x, axis=(0, 2)), lambda x, y: x[::-1, :, ::-1]),
        ("tile", lambda x, y: mx.sym.tile(x, reps=(2, 1, 3)), lambda x, y: np.tile(x, (2, 1, 3))),
        ("repeat", lambda x, y: mx.sym.repeat(x, repeats=2, axis=1),
         lambda x, y: np.repeat(x, 2, axis=1)),
        ("Concat", lambda x, y: mx.sym.Concat(x, y, dim=1), lambda x, y: np.concatenate([x, y], 1)),
        ("stack", lambda x, y: mx.sym.stack(x, y, axis=2), lambda x, y: np.stack([x, y], 2)),
        ("SliceChannel", lambda x, y: mx.sym.SliceChannel(x, num_outputs=3, axis=1)[1],
         lambda x, y: x[:, 1:2]),
        ("squeeze", lambda x, y: mx.sym.squeeze(mx.sym.slice_axis(x, axis=1, begin=1, end=2)),
         lambda x, y: x[:, 1]),
        ("broadcast_to", lambda x, y: mx.sym.broadcast_to(mx.sym.slice_axis(x, axis=1, begin=0, end=1),
                                                          shape=(2, 4, 5)),
         lambda x, y: np.broadcast_to(x[:, :1], (2, 4, 5))),
        ("where", lambda x, y: mx.sym.where(mx.sym.broadcast_greater(x, y), x, y),
         lambda x, y: np.where(x > y, x, y)),
        ("broadcast_axis", lambda x, y: mx.sym.broadcast_axis(
            mx.sym.slice_axis(x, axis=2, begin=3, end=4), axis=2, size=4),
         lambda x, y: np.broadcast_to(x[:, :, 3:4], (2, 3, 4))),
        ("broadcast_like", lambda x, y: mx.sym.broadcast_like(
            mx.sym.slice_axis(x, axis=0, begin=1, end=2), x), lambda x, y: np.broadcast_to(x[1:], x.shape)),
    ]


@pytest.mark.parametrize("dtype", INTEGERS)
@pytest.mark.parametrize("case", _moves(), ids=lambda case: case[0])
def test_data_movement_keeps_integers_bit_for_bit(case, dtype):
    _, build, ref = case
    x_value, y_value = int_values(dtype, (2, 3, 5)), int_values(dtype, (2, 3, 5), seed=1)
    symbol = build(mx.sym.Variable("x"), mx.sym.Variable("y"))
    # z (reshape_like's and slice_like's second input, read for its shape) is float32
    inputs = {name: value for name, value in (("x", x_value), ("y", y_value))
              if name in symbol.list_arguments()}
    (out,) = run(symbol, **inputs)
    assert_exact(out, ref(x_value, y_value))


@pytest.mark.parametrize("dtype", ("uint8", "int8") + INTEGERS)
def test_identity_copies_every_integer_dtype(dtype):
    # MXNet's _copy takes every dtype; an ONNX Identity on a uint8 image imports as it
    info = np.iinfo(dtype)
    value = np.random.default_rng(2).integers(info.min, info.max, (3, 4), dtype, endpoint=True)
    (out,) = run(mx.sym.identity(mx.sym.Variable("x")), x=value)
    assert_exact(out, value)


# -- creation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", INTEGERS)
def test_fills_and_ranges_in_integers(dtype):
    x = mx.sym.Variable("x")
    data = int_values(dtype, (2, 3))
    zeros, ones = run(mx.sym.Group([mx.sym.zeros_like(x), mx.sym.ones_like(x)]), x=data)
    assert_exact(zeros, np.zeros((2, 3), dtype))
    assert_exact(ones, np.ones((2, 3), dtype))
    # MXNet 1.9.1: full((2,), 2.7) and full((2,), -2.7) give [2 2] and [-2 -2] in integers
    (full,) = run(mx.sym.full((2, 2), 2.7, dtype=dtype) + mx.sym.full((2, 2), -2.7, dtype=dtype) * 3)
    assert_exact(full, np.full((2, 2), -4, dtype))
    assert_exact(run(mx.sym.zeros((2, 3), dtype=dtype))[0], np.zeros((2, 3), dtype))
    assert_exact(run(mx.sym.ones((3, 2), dtype=dtype))[0], np.ones((3, 2), dtype))
    # MXNet 1.9.1: arange(1.5, 12, 2.7) = [1 3 5 7] and arange(-3.7, 4, 1.9, repeat=2) =
    # [-3 -3 -2 -2 -1 -1 0 0 1 1]: start and step are truncated, the length is the float one's
    (a,) = run(mx.sym.arange(1.5, 12, 2.7, dtype=dtype))
    assert_exact(a, np.array([1, 3, 5, 7], dtype))
    (a,) = run(mx.sym.arange(-3.7, 4, 1.9, repeat=2, dtype=dtype))
    assert_exact(a, np.array([-3, -3, -2, -2, -1, -1, 0, 0, 1, 1], dtype))
    # MXNet 1.9.1: contrib.arange_like(zeros((2, 3), int64), start=1.5, step=2.5) = [[1 3 5] [7 9 11]]
    (a,) = run(mx.sym.contrib.arange_like(x, start=1.5, step=2.5), x=data)
    assert_exact(a, np.array([[1, 3, 5], [7, 9, 11]], dtype))


def test_shape_size_and_index_arrays_bind_and_run():
    x = mx.sym.Variable("x")
    data = np.zeros((2, 3, 5), np.float32)
    shape, size = run(mx.sym.Group([mx.sym.shape_array(x), mx.sym.size_array(x)]), x=data)
    assert_exact(shape, np.array([2, 3, 5], np.int64))
    assert_exact(size, np.array([30], np.int64))
    # their input is read for its shape only: any dtype will do
    assert_exact(run(mx.sym.shape_array(x), x=np.zeros((4, 1), np.uint8))[0], np.array([4, 1]))
    (index,) = run(mx.sym.contrib.index_array(x, axes=(-1, 0)), x=data)
    grid = np.indices((2, 3, 5))
    assert_exact(index, np.stack([grid[2], grid[0]], axis=-1).astype(np.int64))


# -- arithmetic ----------------------------------------------------------------------------------------

def mxnet_div(a, b):
    """C's truncating division; 0 for a 0 divisor (MXNet's CPU build dies of SIGFPE there)."""
    with np.errstate(all="ignore"):
        quotient = np.where(b == 0, 0, np.abs(a) // np.where(b == 0, 1, np.abs(b)))
    return (np.sign(a) * np.sign(b) * quotient).astype(a.dtype)


def mxnet_mod(a, b):
    """mod with the divisor's sign (as Python's %), 0 for a 0 divisor."""
    with np.errstate(all="ignore"):
        return np.where(b == 0, 0, np.mod(a, np.where(b == 0, 1, b))).astype(a.dtype)


ARITHMETIC = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": mxnet_div, "mod": mxnet_mod,
    "maximum": np.maximum, "minimum": np.minimum, "equal": np.equal, "not_equal": np.not_equal,
    "greater": np.greater, "greater_equal": np.greater_equal, "lesser": np.less,
    "lesser_equal": np.less_equal, "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
}
ELEMWISE_NAMES = {"add": "elemwise_add", "sub": "elemwise_sub", "mul": "elemwise_mul",
                  "div": "elemwise_div", "mod": "_mod", "maximum": "_maximum", "minimum": "_minimum",
                  "equal": "_equal", "not_equal": "_not_equal", "greater": "_greater",
                  "greater_equal": "_greater_equal", "lesser": "_lesser",
                  "lesser_equal": "_lesser_equal", "logical_and": "_logical_and",
                  "logical_or": "_logical_or", "logical_xor": "_logical_xor"}


def _operands(dtype, shape_b):
    rng = np.random.default_rng(3)
    a = rng.integers(-9, 10, (2, 3, 4)).astype(dtype)
    b = rng.integers(-4, 5, shape_b).astype(dtype)     # zeros among the divisors
    info = np.iinfo(dtype)
    a.reshape(-1)[:3] = [info.min, info.max, info.min]
    b.reshape(-1)[:3] = [-1, -1, 0] if b.size >= 3 else b.reshape(-1)[:3]
    return a, b


@pytest.mark.parametrize("dtype", INTEGERS)
@pytest.mark.parametrize("kind", ["elemwise", "broadcast"])
@pytest.mark.parametrize("op", list(ARITHMETIC))
def test_integer_arithmetic_has_mxnet_semantics(op, kind, dtype):
    a, b = _operands(dtype, (2, 3, 4) if kind == "elemwise" else (2, 1, 4))
    name = ELEMWISE_NAMES[op] if kind == "elemwise" else f"broadcast_{op}"
    lhs, rhs = mx.sym.Variable("lhs"), mx.sym.Variable("rhs")
    (out,) = run(getattr(mx.sym, name)(lhs, rhs), lhs=a, rhs=b)
    with np.errstate(all="ignore"):
        expected = ARITHMETIC[op](a, b).astype(dtype)
    assert_exact(out, expected)


def test_integer_division_and_mod_as_mxnet():
    # MXNet 1.9.1: broadcast_div / broadcast_mod of int64 [7, -7, 7, -7, 0, 5] by [2, 2, -2, -2, 3, 3]
    lhs, rhs = mx.sym.Variable("lhs"), mx.sym.Variable("rhs")
    a = np.array([7, -7, 7, -7, 0, 5], np.int64)
    b = np.array([2, 2, -2, -2, 3, 3], np.int64)
    div, mod = run(mx.sym.Group([mx.sym.broadcast_div(lhs, rhs), mx.sym.broadcast_mod(lhs, rhs)]),
                   lhs=a, rhs=b)
    assert_exact(div, np.array([3, -3, -3, 3, 0, 1], np.int64))
    assert_exact(mod, np.array([1, 1, -1, -1, 0, 2], np.int64))


@pytest.mark.parametrize("dtype", INTEGERS)
def test_scalar_operators_truncate_the_scalar_as_mxnet(dtype):
    # MXNet 1.9.1 on int64 [7, -7, 7, -7, 0, 5]: a / 2 = [3 -3 3 -3 0 2], a * 2.5 =
    # [14 -14 14 -14 0 10], a + 0.7 = a, a % 3 = [1 2 1 2 0 2], a > 1 = [1 0 1 0 0 1]
    a = np.array([7, -7, 7, -7, 0, 5], dtype)
    x = mx.sym.Variable("x")
    outs = run(mx.sym.Group([x / 2, x * 2.5, x + 0.7, x % 3, x > 1, 3 - x, 8 / x, 7 % x, -x,
                             mx.sym.abs(x), mx.sym.sign(x), mx.sym.clip(x, -2.5, 6.5),
                             mx.sym.logical_not(x), mx.sym._maximum_scalar(x, scalar=1), x == 7]), x=a)
    with np.errstate(all="ignore"):
        expected = [[3, -3, 3, -3, 0, 2], [14, -14, 14, -14, 0, 10], a, [1, 2, 1, 2, 0, 2],
                    [1, 0, 1, 0, 0, 1], 3 - a, mxnet_div(np.full_like(a, 8), a),
                    mxnet_mod(np.full_like(a, 7), a), -a, np.abs(a), np.sign(a), np.clip(a, -2, 6),
                    a == 0, np.maximum(a, 1), a == 7]
    for out, wanted in zip(outs, expected):
        assert_exact(out, np.asarray(wanted).astype(dtype))


# -- sorting and indexing with integer indices ------------------------------------------------------

@pytest.mark.parametrize("dtype", INTEGERS)
def test_topk_and_argsort_write_integer_indices(dtype):
    # MXNet 1.9.1: topk([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]], k=2, ret_typ='both', dtype='int32')
    # = values [[5, 4], [9, 6]], indices [[4, 2], [0, 2]]
    data = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]], np.float32)
    x = mx.sym.Variable("x")
    values, indices = run(mx.sym.topk(x, k=2, ret_typ="both", dtype=dtype), x=data)
    assert_exact(values, np.array([[5, 4], [9, 6]], np.float32))
    assert_exact(indices, np.array([[4, 2], [0, 2]], dtype))
    (indices,) = run(mx.sym.topk(x, k=3, dtype=dtype), x=data)
    assert_exact(indices, np.array([[4, 2, 0], [0, 2, 3]], dtype))
    (order,) = run(mx.sym.argsort(x, axis=1, dtype=dtype), x=data + np.arange(5) * 0.01)
    assert_exact(order, np.argsort(data + np.arange(5) * 0.01, axis=1, kind="stable").astype(dtype))


@pytest.mark.parametrize("dtype", INTEGERS)
def test_index_inputs_may_be_integers(dtype):
    rng = np.random.default_rng(5)
    data = rng.standard_normal((4, 3, 2)).astype(np.float32)
    d, i = mx.sym.Variable("d"), mx.sym.Variable("i")
    indices = np.array([[3, 0, -1], [2, 1, 0]], dtype)
    (out,) = run(mx.sym.gather_nd(d, i), d=data, i=indices)
    assert_exact(out, data[[3, 0, -1], [2, 1, 0]])
    rows = np.array([[3, 0], [1, 1]], dtype)
    (out,) = run(mx.sym.take(d, i), d=data, i=rows)
    assert_exact(out, data[rows])
    picks = np.array([[0, 2], [1, 0], [2, 1], [0, 0]], dtype)
    (out,) = run(mx.sym.pick(d, i, axis=1), d=data, i=picks)
    assert_exact(out, np.take_along_axis(data, picks[:, None].astype(np.int64), 1)[:, 0])
    (out,) = run(mx.sym.one_hot(i, depth=4), i=rows)
    assert_exact(out, np.eye(4, dtype=np.float32)[rows])
    weight = rng.standard_normal((4, 3)).astype(np.float32)
    w = mx.sym.Variable("w")
    (out,) = run(mx.sym.Embedding(i, w, input_dim=4, output_dim=3), i=rows, w=weight)
    assert_exact(out, weight[rows])


# -- the executor's dtype checks and gradients ---------------------------------------------------------

def test_bind_refuses_a_dtype_the_kernel_does_not_compute_in():
    x = mx.sym.Variable("x")
    with pytest.raises(MXNetError, match=r"Error in operator ex: exp\(name='ex'\): input 'data' has "
                                         r"dtype int32, but its kernel computes in float32, float64"):
        mx.sym.exp(x, name="ex").simple_bind(mx.cpu(), x=(2, 3), type_dict={"x": "int32"})
    with pytest.raises(MXNetError, match=r"broadcast_power\(name='pw'\): input 'lhs' has dtype int64"):
        mx.sym.broadcast_power(x, x, name="pw").simple_bind(mx.cpu(), x=(2, 3), type_dict={"x": "int64"})
    with pytest.raises(MXNetError, match=r"Reshape\(name='r'\): input 'data' has dtype uint8, but "
                                         r"its kernel computes in float32, float64, int32, int64"):
        mx.sym.Reshape(x, shape=(-1,), name="r").simple_bind(mx.cpu(), x=(2, 3), type_dict={"x": "uint8"})


def test_no_gradient_flows_through_integers():
    x = mx.sym.Variable("x")
    y = mx.sym.Cast(mx.sym.Cast(x, dtype="int64"), dtype="float32") * 2.5 + x
    exe = y.simple_bind(mx.cpu(), x=(3,))
    exe.forward(is_train=True, x=np.array([1.5, -2.7, 3.2], np.float32))
    np.testing.assert_array_equal(exe.outputs[0], np.array([4.0, -7.7, 10.7], np.float32))
    exe.backward(np.array([1.7, 2.2, -3.9], np.float32))
    # only the float path's gradient; MXNet 1.9.1 also passes the head gradient times 2.5
    # through both Casts, truncated to int64 ([4, 5, -9]), which cysym does not
    np.testing.assert_array_equal(exe.grad_dict["x"], np.array([1.7, 2.2, -3.9], np.float32))


def test_integer_arguments_get_no_gradient_array():
    x, i = mx.sym.Variable("x"), mx.sym.Variable("i", dtype="int64")
    y = mx.sym.gather_nd(x, i) * 2
    exe = y.simple_bind(mx.cpu(), x=(4, 3), i=(1, 2))
    assert exe.grad_dict["i"] is None and exe.arg_dict["i"].dtype == np.int64
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    exe.forward(is_train=True, x=data, i=np.array([[3, 1]], np.int64))
    np.testing.assert_array_equal(exe.outputs[0], data[[3, 1]] * 2)
    exe.backward(np.ones((2, 3), np.float32))
    expected = np.zeros((4, 3), np.float32)
    expected[[3, 1]] = 2
    np.testing.assert_array_equal(exe.grad_dict["x"], expected)


def test_topk_with_integer_indices_trains_through_its_values():
    x = mx.sym.Variable("x")
    values, indices = mx.sym.topk(x, k=2, ret_typ="both", dtype="int64")
    exe = mx.sym.Group([values * 3, indices]).simple_bind(mx.cpu(), x=(2, 4))
    data = np.array([[0.5, 0.1, 0.9, 0.3], [0.2, 0.8, 0.4, 0.6]], np.float32)
    exe.forward(is_train=True, x=data)
    assert_exact(np.array(exe.outputs[1]), np.array([[2, 0], [1, 3]], np.int64))
    exe.backward([np.ones((2, 2), np.float32), np.zeros((2, 2), np.int64)])
    np.testing.assert_array_equal(exe.grad_dict["x"], [[3, 0, 3, 0], [0, 3, 0, 3]])


# -- the kernels' own checks ------------------------------------------------------------------------

def test_kernels_refuse_integer_work_they_do_not_do():
    from cysym import _ops
    from cysym._ops import runner
    shape, elemwise = _ops.load("shape"), _ops.load("elemwise")
    ints, other = np.arange(6, dtype=np.int32), np.zeros(6, np.int32)
    # moving integers is exact, accumulating them is arithmetic the move kernels do not do
    with pytest.raises(TypeError, match="accumulating int32"):
        shape.append_copy(runner.Plan(), ints, other, "add", "copy")
    with pytest.raises(TypeError, match="moving uint8"):
        shape.append_copy(runner.Plan(), ints.astype(np.uint8), other.astype(np.uint8))
    with pytest.raises(TypeError, match="'power' does not compute in int32"):
        elemwise.append_binary(runner.Plan(), "power", ints, ints, other)
    with pytest.raises(TypeError, match="'add' does not compute in int8"):
        elemwise.append_binary(runner.Plan(), "add", *[a.astype(np.int8) for a in (ints, ints, other)])
    with pytest.raises(TypeError, match="'exp' does not compute in int64"):
        elemwise.append_unary(runner.Plan(), "exp", ints.astype(np.int64), other.astype(np.int64))
    with pytest.raises(TypeError, match="share one dtype"):
        elemwise.append_binary(runner.Plan(), "add", ints, ints.astype(np.int64), other)
    plan = runner.Plan()
    shape.append_copy(plan, ints, other)
    plan.run()
    assert_exact(other, ints)


def test_imperative_operators_keep_the_integers_their_kernels_take():
    a = mx.nd.array([7, -7, 7, -7, 0, 5], dtype="int64")
    b = mx.nd.array([2, 2, -2, -2, 3, 3], dtype="int64")
    assert_exact(np.asarray(mx.nd.broadcast_div(a, b)), np.array([3, -3, -3, 3, 0, 1], np.int64))
    assert_exact(np.asarray(mx.nd.Cast(a, dtype="uint8")), a.asnumpy().astype(np.uint8))
    data = mx.nd.array([[1, 2], [3, 4]])
    assert_exact(np.asarray(mx.nd.take(data, mx.nd.array([1, 0], dtype="int32"))),
                 np.array([[3, 4], [1, 2]], np.float32))
    # a kernel without integers sees them as floats, as before
    assert np.asarray(mx.nd.exp(mx.nd.array([0, 1], dtype="int32"))).dtype == np.float32


@pytest.mark.parametrize("dtype", INTEGERS)
def test_gradients_through_ops_with_integer_indices(dtype):
    rng = np.random.default_rng(7)
    w, i = mx.sym.Variable("w"), mx.sym.Variable("i", dtype=dtype)
    weight = rng.standard_normal((4, 3)).astype(np.float32)
    rows = np.array([[3, 0], [3, 1]], dtype)
    head = rng.standard_normal((2, 2, 3)).astype(np.float32)
    for symbol in (mx.sym.Embedding(i, w, input_dim=4, output_dim=3), mx.sym.take(w, i)):
        exe = symbol.simple_bind(mx.cpu(), w=(4, 3), i=(2, 2))
        exe.forward(is_train=True, w=weight, i=rows)
        exe.backward(head)
        expected = np.zeros((4, 3), np.float32)
        np.add.at(expected, rows.astype(np.int64), head)
        np.testing.assert_allclose(exe.grad_dict["w"], expected, rtol=1e-6)
        assert exe.grad_dict["i"] is None
    picks = np.array([2, 0, 1, 2], dtype)
    exe = mx.sym.pick(w, i, axis=1).simple_bind(mx.cpu(), w=(4, 3), i=(4,))
    exe.forward(is_train=True, w=weight, i=picks)
    exe.backward(np.ones(4, np.float32))
    np.testing.assert_array_equal(exe.grad_dict["w"], np.eye(3, dtype=np.float32)[picks.astype(int)])
