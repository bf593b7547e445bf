"""MXNet's exact gradient formulas for the loss heads, and gradient bookkeeping in the executor.

Loss heads supply their own gradient and ignore the head gradient, so finite differences do
not apply; each is checked against the formula in MXNet 1.x's sources
(softmax_output-inl.h, regression_output-inl.h, make_loss-inl.h).  The rest checks what
autodiff and the executor do with gradients: grad_req='add' accumulates across backward calls,
a variable read twice accumulates, BlockGrad stops the gradient, Dropout is reproducible.
"""
import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError
from cysym.test_utils import (check_numeric_gradient, check_symbolic_backward,
                              check_symbolic_forward)

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
DTYPE_IDS = ["float32", "float64"]


def bind(sym, dtype, grad_req="write", **shapes):
    """simple_bind with every argument typed (a partial type_dict is tested on its own below)."""
    types = {n: dtype for n in sym.list_arguments()}
    return sym.simple_bind(mx.cpu(), grad_req=grad_req, type_dict=types, **shapes)


def run(sym, dtype, values, out_grads=None, grad_req="write"):
    exe = bind(sym, dtype, grad_req=grad_req, **{k: v.shape for k, v in values.items()})
    for k, v in values.items():
        exe.arg_dict[k][:] = v
    outputs = [np.array(o) for o in exe.forward(is_train=True)]
    exe.backward(out_grads)
    return exe, outputs


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def onehot(label, n, axis=-1):
    out = np.eye(n)[label.astype(int)]
    return np.moveaxis(out, -1, axis)


# ---------------------------------------------------------------------------------------------
# SoftmaxOutput

def _softmax_case(rng, dtype, layout):
    if layout == "plain":        # (n, k): one label per sample
        data = rng.standard_normal((4, 5))
        label = np.array([0, 3, 4, 1], float)
    elif layout == "flatten":    # (n, c, w) without multi_output: softmax over c*w per sample
        data = rng.standard_normal((2, 3, 5))
        label = np.array([7, 14], float)
    elif layout == "multi":      # (n, k, w): softmax over axis 1, one label per position
        data = rng.standard_normal((2, 3, 5))
        label = rng.integers(0, 3, (2, 5)).astype(float)
    else:                        # preserve_shape (n, w, k): softmax over the last axis
        data = rng.standard_normal((2, 3, 5))
        label = rng.integers(0, 5, (2, 3)).astype(float)
    return data.astype(dtype), label.astype(dtype)


def _softmax_expected(data, label, layout, grad_scale, normalization, use_ignore, ignore_label):
    """MXNet 1.x SoftmaxOutput backward, written from softmax_output-inl.h."""
    data = data.astype(np.float64)
    if layout == "multi":
        prob = softmax(data, axis=1)
        hot = onehot(label, data.shape[1], axis=1)
        label_rows = label.reshape(label.shape[0], -1)
        positions = data.size // data.shape[0] // data.shape[1]
    else:
        rows = data.reshape(-1, data.shape[-1]) if layout == "preserve" else \
            data.reshape(data.shape[0], -1)
        prob = softmax(rows, axis=1).reshape(data.shape)
        hot = onehot(label.reshape(-1), rows.shape[1]).reshape(data.shape)
        label_rows = label.reshape(-1)
        positions = 1
    grad = prob - hot
    if use_ignore:
        ignored = (label == ignore_label)
        mask = ignored[:, None] if layout == "multi" else \
            ignored.reshape(ignored.shape + (1,) * (data.ndim - ignored.ndim))
        if layout == "flatten":
            mask = ignored.reshape(-1, 1, 1)
        grad = np.where(mask, 0.0, grad)
    if normalization == "batch":
        norm = label_rows.shape[0]
    elif normalization == "valid":
        norm = max(int(np.sum(label != ignore_label)), 1)
    else:
        norm = 1
    # multi_output: MXNet also divides by the positions per sample, except for 'valid'
    divisor = 1 if normalization == "valid" else positions
    return prob, grad * grad_scale / divisor / norm


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("layout", ["plain", "flatten", "multi", "preserve"])
@pytest.mark.parametrize("normalization", ["null", "batch", "valid"])
@pytest.mark.parametrize("use_ignore", [False, True], ids=["all-labels", "use-ignore"])
def test_softmax_output_gradient(dtype, layout, normalization, use_ignore):
    rng = np.random.default_rng(3)
    data, label = _softmax_case(rng, dtype, layout)
    ignore_label = 1.0
    label.reshape(-1)[0] = ignore_label      # at least one ignored label (counts for 'valid')
    grad_scale = 0.75
    sym = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), mx.sym.Variable("label"), name="sm",
                               grad_scale=grad_scale, normalization=normalization,
                               use_ignore=use_ignore, ignore_label=ignore_label,
                               multi_output=layout == "multi", preserve_shape=layout == "preserve")
    # the head gradient is ignored: pass something that would change the result
    exe, (out,) = run(sym, dtype, {"data": data, "label": label},
                      out_grads=[np.full(data.shape, 3.0, dtype)])
    prob, expected = _softmax_expected(data, label, layout, grad_scale, normalization, use_ignore,
                                       ignore_label)
    np.testing.assert_allclose(out, prob, **TOL[dtype])
    np.testing.assert_allclose(exe.grad_dict["data"], expected, **TOL[dtype])
    # the label gets a gradient array with grad_req='write', always zero
    np.testing.assert_array_equal(exe.grad_dict["label"], np.zeros_like(label))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_softmax_output_backward_without_head_gradient(dtype):
    data = np.array([[0.1, -0.4, 0.3], [1.2, 0.2, -0.7]], dtype)
    label = np.array([2, 0], dtype)
    sym = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), mx.sym.Variable("label"))
    exe, _ = run(sym, dtype, {"data": data, "label": label}, out_grads=None)
    expected = softmax(data.astype(np.float64), 1) - np.eye(3)[[2, 0]]   # default norm: null
    np.testing.assert_allclose(exe.grad_dict["data"], expected, **TOL[dtype])


def test_softmax_output_out_grad_multiplies_head_gradient():
    data = np.array([[0.1, -0.4, 0.3], [1.2, 0.2, -0.7]])
    label = np.array([2.0, 0.0])
    head = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    sym = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), mx.sym.Variable("label"), out_grad=True,
                               grad_scale=2.0)
    exe, _ = run(sym, np.float64, {"data": data, "label": label}, out_grads=[head])
    expected = 2.0 * (softmax(data, 1) - np.eye(3)[[2, 0]]) * head
    np.testing.assert_allclose(exe.grad_dict["data"], expected, rtol=1e-12)


def test_softmax_output_label_smoothing():
    data = np.array([[0.1, -0.4, 0.3, 0.9], [1.2, 0.2, -0.7, 0.0]])
    label = np.array([2.0, 0.0])
    alpha = 0.2
    sym = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), mx.sym.Variable("label"),
                               smooth_alpha=alpha)
    exe, _ = run(sym, np.float64, {"data": data, "label": label})
    target = np.full((2, 4), alpha / 3)
    target[[0, 1], [2, 0]] = 1 - alpha
    np.testing.assert_allclose(exe.grad_dict["data"], softmax(data, 1) - target, rtol=1e-12)


@pytest.mark.parametrize("multi_output", [False, True],
    ids=["plain", "multi-output"])
def test_softmax_output_probability_label(multi_output):
    """A label with the data's shape is a probability target: grad_scale * (softmax - label),
    with no normalization at all (softmax_output-inl.h, the `shape_ == shape_` branch)."""
    rng = np.random.default_rng(5)
    data = rng.standard_normal((2, 3, 5))
    axis = 1 if multi_output else None
    prob = softmax(data, axis=1) if multi_output else \
        softmax(data.reshape(2, -1), 1).reshape(data.shape)
    label = softmax(rng.standard_normal((2, 3, 5)), axis=1)
    sym = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), mx.sym.Variable("label"), grad_scale=0.5,
                               multi_output=multi_output, normalization="batch")
    exe, (out,) = run(sym, np.float64, {"data": data, "label": label})
    np.testing.assert_allclose(out, prob, rtol=1e-12)
    np.testing.assert_allclose(exe.grad_dict["data"], 0.5 * (prob - label), rtol=1e-12,
                               err_msg=f"axis {axis}")


def test_softmax_output_label_out_of_range_is_an_error():
    sym = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), mx.sym.Variable("label"), name="sm")
    with pytest.raises(MXNetError, match="sm"):
        run(sym, np.float64, {"data": np.zeros((2, 3)), "label": np.array([0.0, 3.0])})


# ---------------------------------------------------------------------------------------------
# regression outputs

REGRESSIONS = {
    "LinearRegressionOutput": (lambda x: x, lambda out, label: out - label),
    "LogisticRegressionOutput": (lambda x: 1 / (1 + np.exp(-x)), lambda out, label: out - label),
    "MAERegressionOutput": (lambda x: x, lambda out, label: np.sign(out - label)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("op", sorted(REGRESSIONS))
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (5,)], ids=["4x3", "2x3x5", "5"])
def test_regression_output_gradient(dtype, op, shape):
    """grad_scale * (out - label) / num_output, num_output = outputs per sample (not the batch)."""
    rng = np.random.default_rng(7)
    data = rng.standard_normal(shape).astype(dtype)
    label = rng.uniform(0.1, 0.9, shape).astype(dtype)   # away from out: sign is not at a kink
    forward, residual = REGRESSIONS[op]
    sym = getattr(mx.sym, op)(mx.sym.Variable("data"), mx.sym.Variable("label"), grad_scale=1.5)
    exe, (out,) = run(sym, dtype, {"data": data, "label": label},
                      out_grads=[np.full(shape, 4.0, dtype)])   # ignored
    expected_out = forward(data.astype(np.float64))
    num_output = int(np.prod(shape[1:]))
    np.testing.assert_allclose(out, expected_out, **TOL[dtype])
    np.testing.assert_allclose(exe.grad_dict["data"],
                               1.5 * residual(np.asarray(out, np.float64), label) / num_output,
                               **TOL[dtype])
    np.testing.assert_array_equal(exe.grad_dict["label"], np.zeros(shape))


def test_regression_output_accepts_1d_label_for_single_output():
    sym = mx.sym.LinearRegressionOutput(mx.sym.Variable("data"), mx.sym.Variable("label"))
    arg_shapes, _, _ = sym.infer_shape(data=(4, 1))
    assert arg_shapes[1] in [(4, 1), (4,)]
    exe, _ = run(sym, np.float64, {"data": np.arange(4.0).reshape(4, 1), "label": np.ones(4)})
    np.testing.assert_allclose(exe.grad_dict["data"], (np.arange(4.0) - 1).reshape(4, 1))


# ---------------------------------------------------------------------------------------------
# MakeLoss and BlockGrad

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("normalization", ["null", "batch", "valid"])
def test_make_loss_gradient(dtype, normalization):
    data = np.array([[0.5, -1.0, 2.0, 0.0, 0.3], [-0.2, 0.1, 0.4, -3.0, 0.05],
                     [0.2, 0.2, -0.1, 0.7, -0.6]], dtype)
    sym = mx.sym.MakeLoss(mx.sym.Variable("data"), grad_scale=0.6, normalization=normalization,
                          valid_thresh=0.15)
    exe, (out,) = run(sym, dtype, {"data": data}, out_grads=[np.full(data.shape, 9.0, dtype)])
    norm = {"null": 1, "batch": 3, "valid": int(np.sum(data > 0.15))}[normalization]
    np.testing.assert_array_equal(out, data)
    np.testing.assert_allclose(exe.grad_dict["data"], np.full(data.shape, 0.6 / norm), **TOL[dtype])


def test_make_loss_of_a_computation_backpropagates():
    """MakeLoss(square(x)) trains x: the gradient is 2x * grad_scale."""
    x = mx.sym.Variable("x")
    sym = mx.sym.MakeLoss(mx.sym.square(x), grad_scale=0.5)
    value = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.5]])
    exe, _ = run(sym, np.float64, {"x": value})
    np.testing.assert_allclose(exe.grad_dict["x"], value, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_block_grad_stops_gradient(dtype):
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    sym = x * 3 + mx.sym.BlockGrad(y * x)
    xv = np.arange(1.0, 7.0).reshape(2, 3).astype(dtype)
    yv = np.arange(2.0, 8.0).reshape(2, 3).astype(dtype)
    exe, (out,) = run(sym, dtype, {"x": xv, "y": yv}, out_grads=[np.ones((2, 3), dtype)])
    np.testing.assert_allclose(out, 3 * xv + yv * xv, **TOL[dtype])
    np.testing.assert_allclose(exe.grad_dict["x"], np.full((2, 3), 3.0), **TOL[dtype])
    np.testing.assert_array_equal(exe.grad_dict["y"], np.zeros((2, 3)))


def test_block_grad_overwrites_stale_gradient_with_zero():
    y = mx.sym.Variable("y")
    sym = mx.sym.BlockGrad(y * 2)
    exe = bind(sym, np.float64, y=(2, 3))
    exe.grad_dict["y"][:] = 7.0
    exe.forward(is_train=True)
    exe.backward([np.ones((2, 3))])
    np.testing.assert_array_equal(exe.grad_dict["y"], np.zeros((2, 3)))


# ---------------------------------------------------------------------------------------------
# accumulation

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_grad_req_add_accumulates_over_backward_calls(dtype):
    x = mx.sym.Variable("x")
    sym = mx.sym.FullyConnected(x, num_hidden=4, name="fc")
    rng = np.random.default_rng(0)
    values = {"x": rng.standard_normal((2, 3)), "fc_weight": rng.standard_normal((4, 3)),
              "fc_bias": rng.standard_normal(4)}
    head = rng.standard_normal((2, 4)).astype(dtype)
    write, _ = run(sym, dtype, {k: v.astype(dtype) for k, v in values.items()}, [head])
    exe = bind(sym, dtype, grad_req="add", x=(2, 3))
    for k, v in values.items():
        exe.arg_dict[k][:] = v
    initial = {k: np.full(v.shape, 0.5, dtype) for k, v in values.items()}
    for k, v in initial.items():
        exe.grad_dict[k][:] = v
    for _ in range(2):
        exe.forward(is_train=True)
        exe.backward([head])
    for k in values:
        np.testing.assert_allclose(exe.grad_dict[k], initial[k] + 2 * np.asarray(write.grad_dict[k]),
                                   rtol=2e-5 if dtype == np.float32 else 1e-12, err_msg=k)


def test_grad_req_write_does_not_accumulate():
    x = mx.sym.Variable("x")
    exe = bind(mx.sym.square(x) * 2, np.float64, x=(2, 3))
    exe.arg_dict["x"][:] = np.arange(6.0).reshape(2, 3)
    for _ in range(3):
        exe.forward(is_train=True)
        exe.backward([np.ones((2, 3))])
    np.testing.assert_allclose(exe.grad_dict["x"], 4 * np.arange(6.0).reshape(2, 3))


def test_grad_req_per_argument():
    x = mx.sym.Variable("x")
    sym = mx.sym.FullyConnected(x, num_hidden=4, name="fc")
    exe = sym.simple_bind(mx.cpu(), grad_req={"fc_weight": "add", "x": "write"}, x=(2, 3))
    assert exe.grad_dict["fc_bias"] is None
    exe.arg_dict["fc_weight"][:] = 1.0
    exe.arg_dict["x"][:] = np.arange(6.0).reshape(2, 3)
    for _ in range(3):
        exe.forward(is_train=True)
        exe.backward([np.ones((2, 4), np.float32)])
    np.testing.assert_allclose(exe.grad_dict["fc_weight"], 3 * np.tile([3.0, 5.0, 7.0], (4, 1)))
    np.testing.assert_allclose(exe.grad_dict["x"], np.full((2, 3), 4.0))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_variable_used_twice_accumulates(dtype):
    x = mx.sym.Variable("x")
    xv = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -0.75]], dtype)
    head = np.array([[1.0, 2.0, -1.0], [0.5, 3.0, 1.5]], dtype)
    exe, (out,) = run(x * x, dtype, {"x": xv}, [head])
    np.testing.assert_allclose(out, xv * xv, **TOL[dtype])
    np.testing.assert_allclose(exe.grad_dict["x"], 2 * xv * head, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_fc_plus_input_accumulates(dtype):
    x = mx.sym.Variable("x")
    sym = mx.sym.FullyConnected(x, num_hidden=3, name="fc") + x
    rng = np.random.default_rng(2)
    xv, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    head = rng.standard_normal((2, 3))
    cast = lambda a: a.astype(dtype)
    exe, (out,) = run(sym, dtype, {"x": cast(xv), "fc_weight": cast(w), "fc_bias": cast(b)},
                      [cast(head)])
    xv, w, b, head = (cast(a).astype(np.float64) for a in (xv, w, b, head))
    np.testing.assert_allclose(out, xv @ w.T + b + xv, **TOL[dtype])
    np.testing.assert_allclose(exe.grad_dict["x"], head @ w + head, **TOL[dtype])
    np.testing.assert_allclose(exe.grad_dict["fc_weight"], head.T @ xv, **TOL[dtype])
    np.testing.assert_allclose(exe.grad_dict["fc_bias"], head.sum(0), **TOL[dtype])


def test_shared_variable_finite_differences():
    """A diamond: x feeds three branches that meet again; float64 finite differences."""
    x = mx.sym.Variable("x")
    h = mx.sym.Activation(mx.sym.FullyConnected(x, num_hidden=5, name="fc1"), act_type="tanh")
    sym = mx.sym.FullyConnected(h, num_hidden=3, name="fc2") * mx.sym.sigmoid(x) + mx.sym.exp(x)
    rng = np.random.default_rng(4)
    location = {"x": rng.standard_normal((2, 3)), "fc1_weight": rng.standard_normal((5, 3)),
                "fc1_bias": rng.standard_normal(5), "fc2_weight": rng.standard_normal((3, 5)),
                "fc2_bias": rng.standard_normal(3)}
    check_numeric_gradient(sym, location, numeric_eps=2e-6, rtol=1e-5, atol=1e-8, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Dropout

def _dropout_run(p, seed, is_train, mode="training", shape=(4, 5, 6)):
    x = mx.sym.Variable("x")
    sym = mx.sym.Dropout(x, p=p, mode=mode)
    exe = bind(sym, np.float64, x=shape)
    exe.arg_dict["x"][:] = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    mx.random.seed(seed)
    out = np.array(exe.forward(is_train=is_train)[0])
    exe.backward([np.ones(shape)])
    return out, np.array(exe.grad_dict["x"]), np.array(exe.arg_dict["x"])


def test_dropout_reproducible_under_seed():
    a, ga, _ = _dropout_run(0.4, 42, True)
    b, gb, _ = _dropout_run(0.4, 42, True)
    c, _, _ = _dropout_run(0.4, 43, True)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ga, gb)
    assert not np.array_equal(a, c)


def test_dropout_training_scales_kept_units_and_gradient_uses_the_same_mask():
    p = 0.4
    out, grad, x = _dropout_run(p, 1, True)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-12)
    assert 0.2 < 1 - kept.mean() < 0.6
    np.testing.assert_allclose(grad, np.where(kept, 1 / (1 - p), 0.0), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_dropout_identity_at_inference(dtype):
    x = mx.sym.Variable("x")
    exe = bind(mx.sym.Dropout(x, p=0.5), dtype, x=(3, 4, 5))
    value = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(dtype)
    exe.arg_dict["x"][:] = value
    np.testing.assert_array_equal(exe.forward(is_train=False)[0], value)


def test_dropout_mode_always_drops_at_inference():
    out, _, x = _dropout_run(0.5, 3, False, mode="always")
    assert (out == 0).any()
    kept = out != 0
    np.testing.assert_allclose(out[kept], 2 * x[kept], rtol=1e-12)


def test_dropout_p_zero_is_identity_in_training():
    out, grad, x = _dropout_run(0.0, 3, True)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(grad, np.ones_like(x))


# ---------------------------------------------------------------------------------------------
# errors and executor contracts around gradients

def test_backward_without_head_gradient_on_non_loss_raises():
    x = mx.sym.Variable("x")
    exe = bind(mx.sym.exp(x, name="e"), np.float64, x=(2, 3))
    exe.forward(is_train=True)
    with pytest.raises(MXNetError, match="(?i)head gradient|out_grads"):
        exe.backward()


def test_label_gradient_array_exists_and_stays_zero():
    sym = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3,
                                                     name="fc"), name="softmax")
    exe = sym.simple_bind(mx.cpu(), data=(2, 4))
    assert exe.grad_dict["softmax_label"] is not None
    exe.arg_dict["data"][:] = 1.0
    exe.arg_dict["softmax_label"][:] = [0, 2]
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(exe.grad_dict["softmax_label"], 0)


def test_grad_req_dict_omitting_argument_means_null():
    sym = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    exe = sym.simple_bind(mx.cpu(), grad_req={"fc_weight": "write"}, data=(2, 4))
    assert exe.grad_dict["data"] is None and exe.grad_dict["fc_bias"] is None
    assert exe.grad_dict["fc_weight"] is not None


def test_simple_bind_partial_type_dict_infers_the_rest():
    sym = mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=4, name="fc")
    exe = sym.simple_bind(mx.cpu(), type_dict={"x": np.float64}, x=(2, 3))
    assert exe.arg_dict["fc_weight"].dtype == np.float64


# ---------------------------------------------------------------------------------------------
# cysym.test_utils itself

def test_check_utils_agree_with_known_gradient():
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    sym = x * y + mx.sym.exp(x)
    xv, yv = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]), np.array([[1.0, -1.0, 2.0],
                                                                      [0.5, 0.0, -0.5]])
    check_symbolic_forward(sym, {"x": xv, "y": yv}, [xv * yv + np.exp(xv)], rtol=1e-12,
                           dtype=np.float64)
    head = np.full((2, 3), 2.0)
    check_symbolic_backward(sym, {"x": xv, "y": yv}, [head],
                            {"x": head * (yv + np.exp(xv)), "y": head * xv}, rtol=1e-12,
                            dtype=np.float64)
    grads = check_numeric_gradient(sym, {"x": xv, "y": yv}, numeric_eps=2e-6, rtol=1e-5, atol=1e-8,
                                   dtype=np.float64)
    assert set(grads) == {"x", "y"}


def test_check_numeric_gradient_detects_a_wrong_gradient():
    """BlockGrad makes the symbolic gradient zero while the function still depends on x:
    the checker must report it, or it could pass anything."""
    x = mx.sym.Variable("x")
    with pytest.raises(AssertionError, match="BACKWARD_x"):
        check_numeric_gradient(mx.sym.BlockGrad(x * 3), {"x": np.ones((2, 3))}, dtype=np.float64)
