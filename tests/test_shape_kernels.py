"""Shape and reduce kernels called straight through their append_* entry points on a Plan:
NumPy references, float64 finite differences of the backward kernels, Dropout's RNG, and
the errors for bad shapes."""
import numpy as np
import pytest

from cysym._ops import reduce as R
from cysym._ops import shape as S
from cysym._ops.runner import Plan

DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(0)


def rand(shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def run(append, *args, is_train=False, **kwargs):
    plan = Plan()
    append(plan, *args, **kwargs)
    plan.run(is_train=is_train)
    return plan


def finite_difference(forward, inputs, out_grad, eps=1e-6):
    """d(sum(forward() * out_grad)) / d(inputs), by central differences, mutating inputs in place
    (so a plan built once on these arrays can be rerun)."""
    grads = []
    for x in inputs:
        num = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            old = x[idx]
            x[idx] = old + eps
            plus = float((forward() * out_grad).sum())
            x[idx] = old - eps
            minus = float((forward() * out_grad).sum())
            x[idx] = old
            num[idx] = (plus - minus) / (2 * eps)
        grads.append(num)
    return grads


def forward_runner(append, inputs, out, **kwargs):
    plan = Plan()
    append(plan, *inputs, out, **kwargs)

    def forward():
        plan.run()
        return out.copy()
    return forward


# -- copy and fill ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_copy_reshapes_bytes(dtype):
    x = rand((2, 3, 4), dtype)
    y = np.empty((6, 4), dtype)
    run(S.append_copy, x, y)
    np.testing.assert_array_equal(y, x.reshape(6, 4))
    run(S.append_copy, x, y, req="add")
    np.testing.assert_allclose(y, 2 * x.reshape(6, 4), **tol(dtype))


def test_copy_in_place_alias_leaves_data():
    x = rand((3, 4))
    expected = x.copy()
    alias = x.reshape(12)
    run(S.append_copy, x, alias)
    np.testing.assert_array_equal(alias, expected.ravel())


def test_copy_null_req_appends_nothing_and_size_mismatch_raises():
    plan = Plan()
    S.append_copy(plan, rand((2, 2)), np.empty(4), req="null")
    assert len(plan) == 0
    with pytest.raises(ValueError, match=r"fl1.*\(2, 3\).*\(5,\)"):
        S.append_copy(plan, rand((2, 3)), np.empty(5), label="Flatten(name='fl1')")
    with pytest.raises(ValueError, match="req"):
        S.append_copy(plan, rand((2, 3)), np.empty(6), req="bogus")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [0.0, 1.0])
def test_fill(dtype, value):
    y = rand((3, 5), dtype)
    run(S.append_fill, y, value)
    np.testing.assert_array_equal(y, np.full((3, 5), value, dtype))


# -- Concat / SliceChannel -----------------------------------------------------------------------

CONCAT_CASES = [([(2, 3), (2, 4)], 1), ([(2, 3, 4), (1, 3, 4), (3, 3, 4)], 0),
                ([(2, 3, 1), (2, 3, 5)], -1), ([(4,), (2,)], 0), ([(2, 2, 3)], 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,dim", CONCAT_CASES)
def test_concat(dtype, shapes, dim):
    inputs = [rand(s, dtype) for s in shapes]
    expected = np.concatenate(inputs, axis=dim)
    out = np.empty(expected.shape, dtype)
    run(S.append_concat, inputs, out, dim=dim)
    np.testing.assert_array_equal(out, expected)
    run(S.append_concat, inputs, out, dim=dim, req="add")
    np.testing.assert_allclose(out, 2 * expected, **tol(dtype))


def test_concat_errors_name_op_and_shapes():
    with pytest.raises(ValueError, match=r"concat0.*\(3, 3\).*\(2, 5\)"):
        S.append_concat(Plan(), [rand((2, 3)), rand((3, 3))], np.empty((2, 5)), dim=1,
                        label="Concat(name='concat0')")
    with pytest.raises(ValueError, match="do not add up"):
        S.append_concat(Plan(), [rand((2, 3)), rand((2, 3))], np.empty((2, 5)), dim=1)
    with pytest.raises(ValueError, match="out of range"):
        S.append_concat(Plan(), [rand((2, 3))], np.empty((2, 3)), dim=2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis,count,squeeze", [
    ((2, 6, 3), 1, 3, False), ((4, 3), 0, 2, False), ((2, 3, 4), -1, 4, True),
    ((3, 2), 0, 3, True), ((5,), 0, 5, False)])
def test_split(dtype, shape, axis, count, squeeze):
    x = rand(shape, dtype)
    pieces = np.split(x, count, axis=axis)
    if squeeze:
        pieces = [p.squeeze(axis) for p in pieces]
    outs = [np.full(p.shape, 7, dtype) for p in pieces]
    reqs = ["write"] * count
    reqs[0] = "null"
    run(S.append_split, x, outs, axis=axis, squeeze_axis=squeeze, reqs=reqs)
    np.testing.assert_array_equal(outs[0], np.full(pieces[0].shape, 7, dtype))
    for out, piece in zip(outs[1:], pieces[1:]):
        np.testing.assert_array_equal(out, piece)


def test_split_error():
    with pytest.raises(ValueError, match=r"sc1.*\(2, 6\)"):
        S.append_split(Plan(), rand((2, 6)), [np.empty((2, 2)), np.empty((2, 2))], axis=1,
                       label="SliceChannel(name='sc1')")


def test_concat_and_split_gradients_are_each_other():
    # _backward_Concat runs the split kernel, _backward_SliceChannel the concat kernel
    inputs = [rand((2, 3)), rand((2, 2))]
    out = np.empty((2, 5))
    dy = rand((2, 5))
    grads = [np.empty((2, 3)), np.empty((2, 2))]
    run(S.append_split, dy, grads, axis=1)
    numeric = finite_difference(forward_runner(S.append_concat, [inputs], out, dim=1), inputs, dy)
    for g, n in zip(grads, numeric):
        np.testing.assert_allclose(g, n, rtol=1e-6, atol=1e-8)


# -- transpose -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axes", [
    ((3, 4), ()), ((3, 4), (1, 0)), ((2, 3, 4), (0, 2, 1)), ((2, 3, 4), (2, 0, 1)),
    ((2, 3, 4, 5), (3, 1, 0, 2)), ((2, 1, 4), (1, 2, 0)), ((2, 3, 4), (0, 1, 2)),
    ((2, 3, 4), (-1, 0, 1)), ((5,), ()), ((0, 3), (1, 0)), ((70, 45), ()), ((3, 70, 33), (0, 2, 1))])
def test_transpose(dtype, shape, axes):
    x = rand(shape, dtype)
    expected = np.transpose(x, axes or None)
    y = np.empty(expected.shape, dtype)
    run(S.append_transpose, x, y, axes)
    np.testing.assert_array_equal(y, expected)
    run(S.append_transpose, x, y, axes, req="add")
    np.testing.assert_allclose(y, 2 * expected, **tol(dtype))


def test_transpose_errors():
    with pytest.raises(ValueError, match=r"t0.*not a permutation"):
        S.append_transpose(Plan(), rand((2, 3)), np.empty((3, 2)), (0, 0), label="transpose(name='t0')")
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        S.append_transpose(Plan(), rand((2, 3)), np.empty((2, 3)), (1, 0))


# -- Embedding -------------------------------------------------------------------------------------

def mxnet_take(data, rows):
    """MXNet's take(mode='clip') of float indices: truncate, then clip into [0, rows)."""
    index = np.where(data >= 0, np.trunc(data), 0)
    return np.clip(index, 0, rows - 1).astype(np.int64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_dtype", DTYPES)
def test_embedding_forward_clips_like_mxnet(dtype, data_dtype):
    weight = rand((6, 4), dtype)
    data = np.array([[0, 5, 2.7], [-3, 9, 1], [-0.5, 5.99, 3]], data_dtype)
    out = np.empty((3, 3, 4), dtype)
    run(S.append_embedding, data, weight, out)
    np.testing.assert_array_equal(out, weight[mxnet_take(data, 6)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_backward_accumulates_repeated_rows(dtype):
    data = np.array([[1, 3, 1], [1, 0, 7]], np.float32)
    dy = rand((2, 3, 5), dtype)
    expected = np.zeros((6, 5), dtype)
    np.add.at(expected, mxnet_take(data, 6).ravel(), dy.reshape(-1, 5))
    dw = rand((6, 5), dtype)
    before = dw.copy()
    run(S.append_embedding_backward, dy, data, dw, req="add")
    np.testing.assert_allclose(dw, before + expected, **tol(dtype))
    run(S.append_embedding_backward, dy, data, dw)
    np.testing.assert_allclose(dw, expected, **tol(dtype))


def test_embedding_backward_finite_difference():
    data = np.array([[2, 0], [2, 4]], np.float64)
    weight = rand((5, 3))
    dy = rand((2, 2, 3))
    out = np.empty((2, 2, 3))
    dw = np.empty((5, 3))
    run(S.append_embedding_backward, dy, data, dw)
    plan = Plan()
    S.append_embedding(plan, data, weight, out)

    def forward():
        plan.run()
        return out.copy()
    np.testing.assert_allclose(dw, finite_difference(forward, [weight], dy)[0], rtol=1e-6, atol=1e-8)


def test_embedding_errors():
    with pytest.raises(ValueError, match=r"emb.*\(2, 3\).*\(2, 4\)"):
        S.append_embedding(Plan(), np.zeros(2), rand((5, 4)), np.empty((2, 3)),
                           label="Embedding(name='emb')")


# -- Dropout ---------------------------------------------------------------------------------------

def dropout(x, p, seed, mode="training", axes=(), is_train=True, dtype=np.float64):
    y = np.empty_like(x)
    mask = np.full(S.dropout_mask_shape(x.shape, axes), -1.0, x.dtype)
    plan = Plan()
    S.append_dropout(plan, x, y, mask, p=p, mode=mode, axes=axes)
    plan.set_seed(seed)
    plan.run(is_train=is_train)
    return y, mask


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_is_reproducible_and_scaled(dtype):
    x = np.ones((200, 100), dtype)
    y1, m1 = dropout(x, 0.3, seed=42)
    y2, m2 = dropout(x, 0.3, seed=42)
    y3, m3 = dropout(x, 0.3, seed=43)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(y1, y2)
    assert (m1 != m3).any()
    scale = dtype(1 / 0.7)
    assert set(np.unique(m1)) <= {0, scale}
    np.testing.assert_allclose(y1, x * m1)
    assert abs((m1 == 0).mean() - 0.3) < 0.01
    assert abs(y1.mean() - 1.0) < 0.02       # E[y] = x


def test_dropout_successive_calls_draw_new_masks():
    x = np.ones(1000)
    y, mask, mask2 = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    plan = Plan()
    S.append_dropout(plan, x, y, mask, p=0.5)
    S.append_dropout(plan, x, y, mask2, p=0.5)
    plan.set_seed(1)
    plan.run(is_train=True)
    first = mask.copy()
    assert (mask != mask2).any()
    plan.run(is_train=True)   # the state advanced: a new draw unless reseeded
    assert (mask != first).any()
    plan.set_seed(1)
    plan.run(is_train=True)
    np.testing.assert_array_equal(mask, first)


def test_dropout_inference_is_identity_unless_always():
    x = rand((4, 5))
    y, mask = dropout(x, 0.5, seed=0, is_train=False)
    np.testing.assert_array_equal(y, x)
    assert (mask == -1).all()      # untouched
    y, mask = dropout(x, 0.5, seed=0, mode="always", is_train=False)
    np.testing.assert_allclose(y, x * mask)
    assert (mask == 0).any() and (mask == 2).any()


def test_dropout_in_place_and_extremes():
    x = rand((50, 20))
    original = x.copy()
    mask = np.empty_like(x)
    plan = Plan()
    S.append_dropout(plan, x, x, mask, p=0.25)      # output aliases the input
    plan.run(is_train=True)
    np.testing.assert_allclose(x, original * mask)
    y, mask = dropout(original, 0.0, seed=3)
    np.testing.assert_array_equal(y, original)
    y, mask = dropout(original, 1.0, seed=3)
    assert (y == 0).all() and (mask == 0).all()


@pytest.mark.parametrize("axes", [(0,), (1,), (0, 2), (-1,)])
def test_dropout_axes_share_the_mask(axes):
    x = rand((6, 7, 8))
    y, mask = dropout(x, 0.5, seed=5, axes=axes)
    assert mask.shape == S.dropout_mask_shape(x.shape, axes)
    np.testing.assert_allclose(y, x * mask)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", [(), (1,)])
def test_dropout_backward_multiplies_by_mask(dtype, axes):
    x = rand((4, 6), dtype)
    _, mask = dropout(x, 0.4, seed=9, axes=axes)
    dy = rand((4, 6), dtype)
    dx = np.empty_like(dy)
    run(S.append_dropout_backward, dy, mask, dx, axes)
    np.testing.assert_allclose(dx, dy * mask, **tol(dtype))


def test_dropout_backward_finite_difference():
    x = rand((3, 4))
    y, mask = np.empty_like(x), np.empty_like(x)
    plan = Plan()
    S.append_dropout(plan, x, y, mask, p=0.5, mode="always")

    def forward():
        plan.set_seed(11)       # the same mask on every evaluation
        plan.run()
        return y.copy()
    dy = rand((3, 4))
    forward()
    dx = np.empty_like(x)
    run(S.append_dropout_backward, dy, mask, dx)
    np.testing.assert_allclose(dx, finite_difference(forward, [x], dy)[0], rtol=1e-6, atol=1e-8)


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"drop1.*mask shape \(3, 4\).*\(1, 4\)"):
        S.append_dropout(Plan(), rand((3, 4)), np.empty((3, 4)), np.empty((3, 4)), axes=(0,),
                         label="Dropout(name='drop1')")
    with pytest.raises(ValueError, match="p=1.5"):
        S.append_dropout(Plan(), rand((3, 4)), np.empty((3, 4)), np.empty((3, 4)), p=1.5)


# -- reductions ------------------------------------------------------------------------------------

REDUCE_CASES = [((3, 4, 5), None, False), ((3, 4, 5), (1,), False), ((3, 4, 5), (0, 2), False),
                ((3, 4, 5), (2,), False), ((3, 4, 5), (-1, 0), False), ((3, 4, 5), (1,), True),
                ((2, 3, 4, 5), (1, 2), False), ((2, 3, 4, 5), (0, 3), True), ((7,), (0,), False),
                ((3, 1, 4), (1,), False), ((3, 4), (), False)]


def numpy_axes(shape, axis, exclude):
    axes = R.reduce_axes(shape, axis, exclude)
    return tuple(axes)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("shape,axis,exclude", REDUCE_CASES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce(dtype, kind, shape, axis, exclude, keepdims):
    x = rand(shape, dtype)
    axes = numpy_axes(shape, axis, exclude)
    expected = getattr(np, kind)(x.astype(np.float64), axis=axes, keepdims=keepdims)
    y = np.empty(expected.shape, dtype)
    run(R.append_reduce, kind, x, y, axis, exclude)
    np.testing.assert_allclose(y, expected, **tol(dtype))
    run(R.append_reduce, kind, x, y, axis, exclude, req="add")
    np.testing.assert_allclose(y, 2 * expected, **tol(dtype))


def test_reduce_propagates_nan_in_max():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    y = np.empty(2)
    run(R.append_reduce, "max", x, y, (1,))
    assert np.isnan(y[0]) and y[1] == 6


@pytest.mark.parametrize("kind", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("shape,axis,exclude", REDUCE_CASES)
def test_reduce_backward_finite_difference(kind, shape, axis, exclude):
    x = rand(shape)     # continuous values: no ties, so max/min are differentiable
    axes = numpy_axes(shape, axis, exclude)
    y = np.empty(getattr(np, kind)(x, axis=axes).shape)
    dy = rand(y.shape)
    forward = forward_runner(lambda plan, x, y: R.append_reduce(plan, kind, x, y, axis, exclude), [x], y)
    forward()
    dx = np.empty_like(x)
    run(R.append_reduce_backward, kind, dy, x, y, dx, axis, exclude)
    np.testing.assert_allclose(dx, finite_difference(forward, [x], dy)[0], rtol=1e-6, atol=1e-8)
    before = dx.copy()
    forward()      # finite_difference left y at the last perturbed point
    run(R.append_reduce_backward, kind, dy, x, y, dx, axis, exclude, req="add")
    np.testing.assert_allclose(dx, 2 * before, rtol=1e-12)


def test_max_backward_gives_every_tie_the_gradient():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    y = np.array([3.0, 2.0])
    dy = np.array([5.0, 7.0])
    dx = np.empty_like(x)
    run(R.append_reduce_backward, "max", dy, x, y, dx, (1,))
    np.testing.assert_array_equal(dx, [[0, 5, 5], [7, 0, 7]])


def test_reduce_errors():
    with pytest.raises(ValueError, match=r"sum0.*\(3, 4\).*\(3,\)"):
        R.append_reduce(Plan(), "sum", rand((3, 4)), np.empty(4), (1,), label="sum(name='sum0')")
    with pytest.raises(ValueError, match=r"axis 2 is out of range"):
        R.append_reduce(Plan(), "sum", rand((3, 4)), np.empty(4), (2,))


# -- dot and batch_dot -----------------------------------------------------------------------------

DOT_CASES = [((3, 4), (4, 5), False, False), ((4, 3), (4, 5), True, False),
             ((3, 4), (5, 4), False, True), ((4, 3), (5, 4), True, True),
             ((4,), (4,), False, False), ((4,), (4, 5), False, False), ((3, 4), (4,), False, False),
             ((4,), (5, 4), True, True), ((2, 3, 4), (4, 5), False, False),
             ((2, 3, 4), (4, 2, 5), False, False), ((3, 4), (4, 2, 5), False, False),
             ((3, 0), (0, 2), False, False)]


def numpy_dot(a, b, ta, tb):
    a = a.T if ta and a.ndim == 2 else a
    b = b.T if tb and b.ndim == 2 else b
    return np.tensordot(a, b, axes=([a.ndim - 1], [0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("a_shape,b_shape,ta,tb", DOT_CASES)
def test_dot(dtype, a_shape, b_shape, ta, tb):
    a, b = rand(a_shape, dtype), rand(b_shape, dtype)
    expected = numpy_dot(a.astype(np.float64), b.astype(np.float64), ta, tb)
    _, _, _, _, _, out_shape = R.dot_dims(a_shape, b_shape, ta, tb)
    y = np.full(out_shape, 9, dtype)
    run(R.append_dot, a, b, y, ta, tb)
    np.testing.assert_allclose(y.reshape(expected.shape), expected, **tol(dtype))
    run(R.append_dot, a, b, y, ta, tb, req="add")
    np.testing.assert_allclose(y.reshape(expected.shape), 2 * expected, **tol(dtype))


@pytest.mark.parametrize("a_shape,b_shape,ta,tb", DOT_CASES)
def test_dot_backward_finite_difference(a_shape, b_shape, ta, tb):
    a, b = rand(a_shape), rand(b_shape)
    out_shape = R.dot_dims(a_shape, b_shape, ta, tb)[5]
    y = np.empty(out_shape)
    dy = rand(out_shape)
    da, db = np.empty_like(a), np.empty_like(b)
    run(R.append_dot_backward, dy, a, b, da, db, ta, tb)
    numeric = finite_difference(forward_runner(R.append_dot, [a, b], y, transpose_a=ta,
                                               transpose_b=tb), [a, b], dy)
    np.testing.assert_allclose(da, numeric[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numeric[1], rtol=1e-6, atol=1e-8)
    # req add doubles, a None gradient is skipped
    run(R.append_dot_backward, dy, a, b, da, None, ta, tb, req_a="add")
    np.testing.assert_allclose(da, 2 * numeric[0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_batch_dot(dtype, ta, tb):
    a = rand((3, 5, 4) if ta else (3, 4, 5), dtype)
    b = rand((3, 2, 5) if tb else (3, 5, 2), dtype)
    ea = a.transpose(0, 2, 1) if ta else a
    eb = b.transpose(0, 2, 1) if tb else b
    expected = np.matmul(ea.astype(np.float64), eb.astype(np.float64))
    y = np.empty((3, 4, 2), dtype)
    run(R.append_batch_dot, a, b, y, ta, tb)
    np.testing.assert_allclose(y, expected, **tol(dtype))


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_batch_dot_backward_finite_difference(ta, tb):
    a = rand((2, 3, 4) if ta else (2, 4, 3))
    b = rand((2, 5, 3) if tb else (2, 3, 5))
    y = np.empty((2, 4, 5))
    dy = rand((2, 4, 5))
    da, db = np.empty_like(a), np.empty_like(b)
    run(R.append_batch_dot_backward, dy, a, b, da, db, ta, tb)
    numeric = finite_difference(forward_runner(R.append_batch_dot, [a, b], y, transpose_a=ta,
                                               transpose_b=tb), [a, b], dy)
    np.testing.assert_allclose(da, numeric[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numeric[1], rtol=1e-6, atol=1e-8)


def test_dot_errors_name_op_and_shapes():
    with pytest.raises(ValueError, match=r"dot3.*\(3, 4\).*\(5, 2\)"):
        R.append_dot(Plan(), rand((3, 4)), rand((5, 2)), np.empty((3, 2)), label="dot(name='dot3')")
    with pytest.raises(ValueError, match=r"batch_dot.*\(2, 3, 4\).*\(3, 4, 5\)"):
        R.append_batch_dot(Plan(), rand((2, 3, 4)), rand((3, 4, 5)), np.empty((2, 3, 5)))
    with pytest.raises(TypeError, match="dtype"):
        R.append_dot(Plan(), rand((3, 4), np.float32), rand((4, 2)), np.empty((3, 2)))


# -- the declarations' gradient rules, through a bound executor (wiring smoke test) ----------------

def _wiring_cases():
    import cysym as mx
    S_ = mx.sym
    x, y = S_.Variable("x"), S_.Variable("y")
    return {
        "Flatten": (S_.Flatten(x), dict(x=(2, 3, 4))),
        "Reshape": (S_.Reshape(x, shape=(-1, 4)), dict(x=(2, 3, 4))),
        "expand_dims": (S_.expand_dims(x, axis=1), dict(x=(2, 3))),
        "Concat": (S_.Concat(x, y, dim=1), dict(x=(2, 3), y=(2, 4))),
        "SliceChannel_one_output_used": (S_.SliceChannel(x, num_outputs=3, axis=1)[1], dict(x=(2, 3, 2))),
        "split_squeeze": (S_.Group(list(S_.split(x, num_outputs=3, axis=1, squeeze_axis=True))),
                          dict(x=(2, 3, 2))),
        "transpose": (S_.transpose(x, axes=(2, 0, 1)), dict(x=(2, 3, 4))),
        "sum_keepdims": (S_.sum(x, axis=(1,), keepdims=True), dict(x=(2, 3, 4))),
        "mean_exclude": (S_.mean(x, axis=1, exclude=True), dict(x=(2, 3, 4))),
        "max": (S_.max(x, axis=2), dict(x=(2, 3, 4))),
        "min_all": (S_.min(x), dict(x=(2, 3, 4))),
        "dot_transpose_b": (S_.dot(x, y, transpose_b=True), dict(x=(2, 3), y=(4, 3))),
        "dot_nd": (S_.dot(x, y), dict(x=(2, 3, 4), y=(4, 5))),
        "batch_dot": (S_.batch_dot(x, y, transpose_a=True), dict(x=(2, 3, 4), y=(2, 3, 5))),
    }


@pytest.mark.parametrize("case", list(_wiring_cases()))
def test_gradient_rules_through_executor(case):
    from cysym.test_utils import check_numeric_gradient
    sym, shapes = _wiring_cases()[case]
    location = {k: rand(s) for k, s in shapes.items()}
    check_numeric_gradient(sym, location, numeric_eps=2e-6, rtol=1e-4, atol=1e-6, dtype=np.float64)


def test_embedding_and_dropout_through_executor():
    import cysym as mx
    x = mx.sym.Variable("x")
    emb = mx.sym.Embedding(x, input_dim=5, output_dim=3, name="emb")
    ex = emb.simple_bind(mx.cpu(), x=(2, 3), grad_req={"x": "null", "emb_weight": "write"})
    ex.arg_dict["x"][:] = [[1, 1, 4], [0, 7, -2]]
    ex.arg_dict["emb_weight"][:] = rand((5, 3))
    ex.forward(is_train=True)
    ex.backward(np.ones((2, 3, 3), np.float32))
    np.testing.assert_array_equal(ex.outputs[0], ex.arg_dict["emb_weight"][[[1, 1, 4], [0, 4, 0]]])
    np.testing.assert_array_equal(ex.grad_dict["emb_weight"][:, 0], [2, 2, 0, 0, 2])

    drop = mx.sym.Dropout(x, p=0.5, axes=(1,))
    ex = drop.simple_bind(mx.cpu(), x=(3, 4))
    ex.arg_dict["x"][:] = 1
    ex.forward(is_train=False)
    np.testing.assert_array_equal(ex.outputs[0], np.ones((3, 4)))
    ex.forward(is_train=True)
    out = ex.outputs[0].copy()
    assert set(np.unique(out)) <= {0, 2} and (out == out[:, :1]).all()   # one value per row
    ex.backward(np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(ex.grad_dict["x"], out)
