"""cysym/fusion.py's fuse_norm_relu: in executors that compute gradients, BatchNorm + relu bound
as _contrib_BatchNormWithReLU, and relu's gradient with the BatchNorm's backward as
_backward_contrib_BatchNormWithReLU, give the unfused graph's bits: outputs, gradients and the
moving statistics the backward updates."""
import numpy as np
import pytest

import cysym as mx
from cysym import fusion

DTYPES = ["float32", "float64"]
FUSED = ["_backward_contrib_BatchNormWithReLU", "_contrib_BatchNormWithReLU"]


def _net(head_is_relu=False):
    """Conv -> BN -> relu -> Conv -> BN -> relu [-> FC -> SoftmaxOutput]; the second BatchNorm
    on its last axis, with gamma."""
    h = mx.sym.Convolution(mx.sym.Variable("data"), num_filter=4, kernel=(3, 3), pad=(1, 1),
                           name="conv1")
    h = mx.sym.Activation(mx.sym.BatchNorm(h, name="bn1"), act_type="relu", name="relu1")
    h = mx.sym.Convolution(h, num_filter=5, kernel=(3, 3), name="conv2")
    h = mx.sym.relu(mx.sym.BatchNorm(h, fix_gamma=False, axis=-1, name="bn2"), name="relu2")
    if head_is_relu:
        return h
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc"), name="softmax")


def _bind(net, fuse, monkeypatch, dtype, grad_req="write", shape=(3, 2, 6, 7), seed=0):
    monkeypatch.setattr(fusion, "ENABLED", fuse)
    exe = net.simple_bind(mx.cpu(), grad_req=grad_req, data=shape, type_dict={"data": dtype})
    rng = np.random.RandomState(seed)
    for name, array in exe.arg_dict.items():
        array[:] = rng.randint(0, 3, array.shape) if name == "softmax_label" else rng.standard_normal(array.shape)
    for name, array in exe.aux_dict.items():
        array[:] = rng.uniform(0.5, 1.5, array.shape)
    for grad in exe.grad_dict.values():
        if grad is not None:
            grad[:] = rng.standard_normal(grad.shape)     # what 'add' adds to
    return exe


def _fused_ops(exe):
    return sorted({op for op, _ in exe._call_nodes if "BatchNormWithReLU" in op})


def _run(exe, out_grads=None):
    exe.forward(is_train=True)
    exe.backward(out_grads)
    return ([o.copy() for o in exe.outputs],
            {n: g.copy() for n, g in exe.grad_dict.items() if g is not None},
            {n: a.copy() for n, a in exe.aux_dict.items()})


def _assert_same(run_a, run_b):
    for part_a, part_b in zip(run_a, run_b):
        if isinstance(part_a, dict):
            assert sorted(part_a) == sorted(part_b)
            for name in part_b:
                np.testing.assert_array_equal(part_a[name], part_b[name], err_msg=name)
        else:
            for a, b in zip(part_a, part_b):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_training_step_has_the_unfused_bits(monkeypatch, dtype):
    net = _net()
    fused, plain = (_bind(net, fuse, monkeypatch, dtype) for fuse in (True, False))
    assert _fused_ops(fused) == FUSED and _fused_ops(plain) == []
    # two relus and their two gradients are gone
    assert len(fused._call_nodes) == len(plain._call_nodes) - 4
    for _ in range(2):      # the second step reads the moving statistics the first updated
        run_fused, run_plain = _run(fused), _run(plain)
        assert run_fused[0][0].dtype == np.dtype(dtype)
        _assert_same(run_fused, run_plain)
    for exe in (fused, plain):
        exe.forward(is_train=False)     # the moving statistics, through the fused kernel too
    np.testing.assert_array_equal(fused.outputs[0], plain.outputs[0])


def test_add_requests_and_a_data_gradient(monkeypatch):
    net = _net()
    req = {name: ("write" if name == "data" else "null" if name == "softmax_label" else "add")
           for name in net.list_arguments()}
    fused, plain = (_bind(net, fuse, monkeypatch, "float64", grad_req=req) for fuse in (True, False))
    assert _fused_ops(fused) == FUSED
    run_fused, run_plain = _run(fused), _run(plain)
    assert "data" in run_fused[1]
    _assert_same(run_fused, run_plain)


def test_nan_gradient_where_the_relu_is_off_gives_zero(monkeypatch):
    net = _net(head_is_relu=True)
    fused, plain = (_bind(net, fuse, monkeypatch, "float64") for fuse in (True, False))
    fused.forward(is_train=True)
    head = fused.outputs[0]
    out_grad = np.where(head > 0, 1.5, np.nan)      # NaN exactly where relu gave 0
    assert np.isnan(out_grad).any() and not np.isnan(out_grad).all()
    run_fused, run_plain = _run(fused, [out_grad]), _run(plain, [out_grad])
    for name, grad in run_fused[1].items():
        assert np.isfinite(grad).all(), name
    _assert_same(run_fused, run_plain)


def test_gradients_match_finite_differences(monkeypatch):
    monkeypatch.setattr(fusion, "ENABLED", True)
    net = _net(head_is_relu=True)
    assert _fused_ops(net.simple_bind(mx.cpu(), data=(2, 2, 5, 5))) == FUSED
    rng = np.random.RandomState(5)
    shapes, _, _ = net.infer_shape(data=(2, 2, 5, 5))
    location = {name: rng.standard_normal(shape) for name, shape in zip(net.list_arguments(), shapes)}
    aux = {name: rng.uniform(0.5, 1.5, shape)
           for name, shape in zip(net.list_auxiliary_states(), net.infer_shape(data=(2, 2, 5, 5))[2])}
    mx.test_utils.check_numeric_gradient(net, location, aux_states=aux, numeric_eps=1e-6,
                                         rtol=1e-4, atol=1e-6, dtype=np.float64)


def test_what_does_not_fuse(monkeypatch):
    monkeypatch.setattr(fusion, "ENABLED", True)
    data = mx.sym.Variable("data")
    norm = mx.sym.BatchNorm(data, name="bn")
    with_stats = mx.sym.BatchNorm(data, output_mean_var=True, name="bn")
    # the BatchNorm's output read twice or a head, its statistics heads, another activation
    for net in (mx.sym.relu(norm) + norm, mx.sym.Group([mx.sym.relu(norm), norm]),
                mx.sym.Group([mx.sym.relu(with_stats[0]), with_stats[1]]),
                mx.sym.sigmoid(norm)):
        exe = net.simple_bind(mx.cpu(), data=(4, 3, 2))
        assert _fused_ops(exe) == [], net.list_outputs()
    monkeypatch.setattr(fusion, "ENABLED", False)       # CYSYM_FUSION=0
    assert _fused_ops(mx.sym.relu(norm).simple_bind(mx.cpu(), data=(4, 3, 2))) == []


def test_monitor_lays_the_training_executor_out_unfused(monkeypatch):
    net = _net()
    exe = _bind(net, True, monkeypatch, "float32")
    plain = _bind(net, False, monkeypatch, "float32")
    seen = []
    exe.set_monitor_callback(lambda name, array: seen.append(name))
    assert _fused_ops(exe) == []
    run_exe, run_plain = _run(exe), _run(plain)
    assert "relu1_output" in seen and "bn1_output" in seen
    _assert_same(run_exe, run_plain)
