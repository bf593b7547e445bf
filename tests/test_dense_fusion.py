"""cysym/dense_fusion.py: FullyConnected + relu bound as _FusedFullyConnected, and relu's gradient
with the layer's backward as _backward_FusedFullyConnected, give the unfused graph's bits."""
import numpy as np
import pytest

import cysym as mx
from cysym import fusion
from cysym._ops import dense, runner

DTYPES = ["float32", "float64"]


def _net(no_bias=False, head_is_relu=False):
    """data (.., 9) -> FC 70 + relu -> FC 66 + relu [-> FC 5 -> SoftmaxOutput]: 70 and 66 outputs
    take the transposed small-batch forward (float32, 2-17 rows) as well as the plain one."""
    h = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(h, num_hidden=70, no_bias=no_bias, name="fc1"),
                          act_type="relu", name="relu1")
    h = mx.sym.relu(mx.sym.FullyConnected(h, num_hidden=66, no_bias=no_bias, name="fc2"), name="relu2")
    if head_is_relu:
        return h
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=5, name="fc3"), name="softmax")


def _bind(net, fuse, monkeypatch, rows, dtype, grad_req="write", seed=0):
    monkeypatch.setattr(fusion, "ENABLED", fuse)
    exe = net.simple_bind(mx.cpu(), grad_req=grad_req, data=(rows, 9), type_dict={"data": dtype})
    rng = np.random.RandomState(seed)
    for name, array in exe.arg_dict.items():
        array[:] = rng.randint(0, 5, array.shape) if name == "softmax_label" else rng.standard_normal(array.shape)
    for grad in exe.grad_dict.values():
        if grad is not None:
            grad[:] = rng.standard_normal(grad.shape)     # what 'add' adds to
    return exe


def _fused_ops(exe):
    return sorted({op for op, _ in exe._call_nodes if "Fused" in op})


def _run(exe, out_grads=None):
    exe.forward(is_train=True)
    exe.backward(out_grads)
    return [o.copy() for o in exe.outputs], {n: g.copy() for n, g in exe.grad_dict.items() if g is not None}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [1, 3, 17, 40])
@pytest.mark.parametrize("no_bias", [False, True], ids=["bias", "no_bias"])
def test_training_step_has_the_unfused_bits(monkeypatch, dtype, rows, no_bias):
    net = _net(no_bias)
    fused, plain = (_bind(net, fuse, monkeypatch, rows, dtype) for fuse in (True, False))
    assert _fused_ops(fused) == ["_FusedFullyConnected", "_backward_FusedFullyConnected"]
    assert _fused_ops(plain) == []
    assert len(fused._call_nodes) == len(plain._call_nodes) - 4
    (outs_a, grads_a), (outs_b, grads_b) = _run(fused), _run(plain)
    for a, b in zip(outs_a, outs_b):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)
    assert sorted(grads_a) == sorted(grads_b)
    for name in grads_b:
        np.testing.assert_array_equal(grads_a[name], grads_b[name], err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_inference_has_the_unfused_bits(monkeypatch, dtype):
    net = _net()
    fused, plain = (_bind(net, fuse, monkeypatch, 6, dtype, grad_req="null") for fuse in (True, False))
    assert _fused_ops(fused) == ["_FusedFullyConnected"]
    for exe in (fused, plain):
        exe.forward(is_train=False)
    np.testing.assert_array_equal(fused.outputs[0], plain.outputs[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_requests_and_a_data_gradient(monkeypatch, dtype):
    # the first layer's data gradient goes to the user's array (a renamed output of the fused
    # backward node), the parameters' gradients are added to what the arrays hold
    net = _net()
    req = {name: ("write" if name == "data" else "null" if name == "softmax_label" else "add")
           for name in net.list_arguments()}
    fused, plain = (_bind(net, fuse, monkeypatch, 5, dtype, grad_req=req) for fuse in (True, False))
    assert _fused_ops(fused) == ["_FusedFullyConnected", "_backward_FusedFullyConnected"]
    (_, grads_a), (_, grads_b) = _run(fused), _run(plain)
    assert "data" in grads_a
    for name in grads_b:
        np.testing.assert_array_equal(grads_a[name], grads_b[name], err_msg=name)


def test_nan_gradient_where_the_relu_is_off_gives_zero(monkeypatch):
    net = _net(head_is_relu=True)
    fused, plain = (_bind(net, fuse, monkeypatch, 4, "float64") for fuse in (True, False))
    fused.forward(is_train=True)
    head = fused.outputs[0]
    out_grad = np.where(head > 0, 1.5, np.nan)      # NaN exactly where relu gave 0
    assert np.isnan(out_grad).any()
    (_, grads_a), (_, grads_b) = _run(fused, [out_grad]), _run(plain, [out_grad])
    for name in grads_b:
        assert np.isfinite(grads_a[name]).all(), name
        np.testing.assert_array_equal(grads_a[name], grads_b[name], err_msg=name)


def test_gradients_match_finite_differences(monkeypatch):
    monkeypatch.setattr(fusion, "ENABLED", True)
    net = _net(head_is_relu=True)
    assert _fused_ops(net.simple_bind(mx.cpu(), data=(3, 9))) == [
        "_FusedFullyConnected", "_backward_FusedFullyConnected"]
    rng = np.random.RandomState(5)
    shapes, _, _ = net.infer_shape(data=(3, 9))
    location = {name: rng.standard_normal(shape) for name, shape in zip(net.list_arguments(), shapes)}
    # central differences of a projected sum over 198 outputs: about 1e-5 relative error
    mx.test_utils.check_numeric_gradient(net, location, numeric_eps=1e-6, rtol=1e-4, atol=1e-7,
                                         dtype=np.float64)


def test_what_does_not_fuse(monkeypatch):
    monkeypatch.setattr(fusion, "ENABLED", True)
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=7, name="fc")
    # the layer's output read twice (by the relu and the sum), or a head: no fusion
    for net in (mx.sym.relu(fc) + fc, mx.sym.Group([mx.sym.relu(fc), fc]),
                mx.sym.sigmoid(fc), mx.sym.relu(data)):
        exe = net.simple_bind(mx.cpu(), data=(4, 3))
        assert _fused_ops(exe) == [], net.list_outputs()
    monkeypatch.setattr(fusion, "ENABLED", False)       # CYSYM_FUSION=0
    assert _fused_ops(mx.sym.relu(fc).simple_bind(mx.cpu(), data=(4, 3))) == []


def test_a_relu_output_read_twice_still_fuses(monkeypatch):
    # relu(fc) * relu(fc): the relu's output has two readers and its gradient sums two terms;
    # the layer's output and the relu's gradient still have one reader each
    monkeypatch.setattr(fusion, "ENABLED", True)
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=7, name="fc")
    relu = mx.sym.relu(fc)
    net = mx.sym.MakeLoss(mx.sym.sum(relu * relu))
    exe = net.simple_bind(mx.cpu(), data=(4, 3))
    monkeypatch.setattr(fusion, "ENABLED", False)
    plain = net.simple_bind(mx.cpu(), data=(4, 3))
    for e in (exe, plain):
        for name, array in e.arg_dict.items():
            array[:] = np.arange(array.size).reshape(array.shape) % 5 - 2.0
    (_, grads_a), (_, grads_b) = _run(exe), _run(plain)
    assert _fused_ops(exe) == ["_FusedFullyConnected", "_backward_FusedFullyConnected"]
    for name in grads_b:
        np.testing.assert_array_equal(grads_a[name], grads_b[name], err_msg=name)


def test_monitor_lays_the_training_executor_out_unfused(monkeypatch):
    net = _net()
    exe = _bind(net, True, monkeypatch, 5, "float32")
    plain = _bind(net, False, monkeypatch, 5, "float32")
    seen = []
    exe.set_monitor_callback(lambda name, array: seen.append(name))
    assert _fused_ops(exe) == []
    (outs_a, grads_a), (outs_b, grads_b) = _run(exe), _run(plain)
    assert "relu1_output" in seen and "fc1_output" in seen
    np.testing.assert_array_equal(outs_a[0], outs_b[0])
    for name in grads_b:
        np.testing.assert_array_equal(grads_a[name], grads_b[name], err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("rows", [1, 4])
def test_kernels_against_numpy(dtype, req, rows):
    rng = np.random.RandomState(8)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((rows, 6), (5, 6), (5,)))
    h = np.empty((rows, 5), dtype)
    plan = runner.Plan()
    dense.append_fully_connected(plan, x, w, b, h, relu=True)
    plan.run()
    expected = np.maximum(x @ w.T + b, 0)
    np.testing.assert_allclose(h, expected, rtol=1e-5 if dtype == "float32" else 1e-12)
    dh = rng.standard_normal((rows, 5)).astype(dtype)
    dx, dw, db = (rng.standard_normal(s).astype(dtype) for s in ((rows, 6), (5, 6), (5,)))
    start = [a.copy() for a in (dx, dw, db)]
    plan = runner.Plan()
    dense.append_fully_connected_backward(plan, dh, x, w, dx, dw, db, req, req, req, relu_of=h)
    plan.run()
    dy = np.where(h > 0, dh, 0)
    base = [a if req == "add" else 0 for a in start]
    for got, want, what in ((dx, base[0] + dy @ w, "dx"), (dw, base[1] + dy.T @ x, "dw"),
                            (db, base[2] + dy.sum(0), "db")):
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12, err_msg=what)
