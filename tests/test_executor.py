"""bind / simple_bind, forward and backward, grad_req, reshape, the memory plan and its goals."""
import threading
import tracemalloc

import numpy as np
import pytest

import cysym as mx
from cysym.base import BindError, MXNetError


def seed_mlp():
    net = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data=net, name="fc1", num_hidden=128)
    net = mx.sym.Activation(data=net, name="relu1", act_type="relu")
    net = mx.sym.FullyConnected(data=net, name="fc2", num_hidden=64)
    net = mx.sym.Activation(data=net, name="relu2", act_type="relu")
    net = mx.sym.FullyConnected(data=net, name="fc3", num_hidden=10)
    return mx.sym.SoftmaxOutput(data=net, name="out")


def deep_mlp(layers=20, hidden=48):
    net = mx.sym.Variable("data")
    for i in range(layers):
        net = mx.sym.FullyConnected(net, num_hidden=hidden, name=f"fc{i}")
        net = mx.sym.Activation(net, act_type="relu", name=f"act{i}")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="head")
    return mx.sym.SoftmaxOutput(net, name="out")


def lenet():
    net = mx.sym.Variable("data")
    net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=20, name="conv1")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=50, name="conv2")
    net = mx.sym.BatchNorm(net, name="bn")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Flatten(net)
    net = mx.sym.FullyConnected(net, num_hidden=100, name="fc1")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="out")


def _fill(exe, seed=0):
    rng = np.random.default_rng(seed)
    for name, array in exe.arg_dict.items():
        if name.endswith("label"):
            array[:] = rng.integers(0, 10, size=array.shape)
        else:
            array[:] = rng.normal(0, 0.1, size=array.shape)


def _numpy_seed_mlp(arrays):
    x = arrays["data"]
    h1 = np.maximum(x @ arrays["fc1_weight"].T + arrays["fc1_bias"], 0)
    h2 = np.maximum(h1 @ arrays["fc2_weight"].T + arrays["fc2_bias"], 0)
    z = h2 @ arrays["fc3_weight"].T + arrays["fc3_bias"]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = p - np.eye(10)[arrays["out_label"].astype(int)]
    dh2 = dz @ arrays["fc3_weight"] * (h2 > 0)
    dh1 = dh2 @ arrays["fc2_weight"] * (h1 > 0)
    grads = {"fc3_weight": dz.T @ h2, "fc3_bias": dz.sum(0), "fc2_weight": dh2.T @ h1,
             "fc2_bias": dh2.sum(0), "fc1_weight": dh1.T @ x, "fc1_bias": dh1.sum(0),
             "data": dh1 @ arrays["fc1_weight"]}
    return p, grads


def test_seed_network_matches_numpy_in_float32():
    exe = seed_mlp().simple_bind(mx.cpu(), data=(32, 784))
    _fill(exe)
    reference = {k: v.astype(np.float64) for k, v in exe.arg_dict.items()}
    out = exe.forward(is_train=True)[0]
    exe.backward()
    probs, grads = _numpy_seed_mlp(reference)
    np.testing.assert_allclose(out, probs, rtol=1e-5, atol=1e-7)
    for name, grad in grads.items():
        np.testing.assert_allclose(exe.grad_dict[name], grad, rtol=1e-4, atol=1e-6, err_msg=name)
    assert not exe.grad_dict["out_label"].any()


def test_seed_network_gradients_match_finite_differences():
    # up to the logits: SoftmaxOutput's gradient is its own formula, checked against NumPy above
    net = seed_mlp().get_internals()["fc3_output"]
    rng = np.random.default_rng(3)
    shapes = dict(zip(net.list_arguments(), net.infer_shape(data=(3, 7))[0]))
    location = {n: rng.normal(0, 0.5, size=s) for n, s in shapes.items()}
    mx.test_utils.check_numeric_gradient(net, location, numeric_eps=2e-6, rtol=1e-5, atol=1e-8,
                                         dtype=np.float64)


def test_grad_req_add_accumulates_and_null_skips():
    net = seed_mlp()
    exe = net.simple_bind(mx.cpu(), grad_req={"fc1_weight": "add", "fc2_weight": "write"}, data=(5, 11))
    _fill(exe)
    assert exe.grad_dict["fc1_bias"] is None and exe.grad_dict["data"] is None
    exe.forward(is_train=True)
    exe.backward()
    once_add, once_write = exe.grad_dict["fc1_weight"].copy(), exe.grad_dict["fc2_weight"].copy()
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_allclose(exe.grad_dict["fc1_weight"], 2 * once_add, rtol=1e-6)
    np.testing.assert_allclose(exe.grad_dict["fc2_weight"], once_write, rtol=1e-6)


def test_shared_variable_accumulates_gradients():
    x = mx.sym.Variable("x")
    w = mx.sym.Variable("w")
    a = mx.sym.FullyConnected(x, weight=w, num_hidden=3, no_bias=True, name="a")
    b = mx.sym.FullyConnected(x * 2, weight=w, num_hidden=3, no_bias=True, name="b")
    net = mx.sym.MakeLoss(a + b)
    exe = net.simple_bind(mx.cpu(), type_dict={"x": np.float64, "w": np.float64}, x=(4, 5))
    rng = np.random.default_rng(1)
    exe.arg_dict["x"][:] = rng.normal(size=(4, 5))
    exe.arg_dict["w"][:] = rng.normal(size=(3, 5))
    exe.forward(is_train=True)
    exe.backward()
    # d/dw sum(x w^T + 2x w^T) = 3 * ones^T x
    np.testing.assert_allclose(exe.grad_dict["w"], 3 * np.ones((3, 4)) @ exe.arg_dict["x"], rtol=1e-12)


def test_backward_does_not_rerun_forward():
    exe = seed_mlp().simple_bind(mx.cpu(), data=(6, 9))
    _fill(exe)
    reference = {k: v.astype(np.float64) for k, v in exe.arg_dict.items()}
    exe.forward(is_train=True)
    exe.arg_dict["data"][:] = 100.0    # backward must use the activations of the forward above
    exe.backward()
    _, grads = _numpy_seed_mlp(reference)
    np.testing.assert_allclose(exe.grad_dict["fc3_weight"], grads["fc3_weight"], rtol=1e-4, atol=1e-7)


def test_bind_uses_arrays_in_place():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    args = {"data": mx.nd.ones((3, 4)), "fc_weight": mx.nd.ones((2, 4)), "fc_bias": mx.nd.zeros((2,))}
    exe = net.bind(mx.cpu(), args)
    args["fc_weight"][:] = 0.5
    np.testing.assert_allclose(exe.forward()[0], np.full((3, 2), 2.0))
    exe.arg_dict["data"][:] = 2.0
    np.testing.assert_allclose(exe.forward()[0], np.full((3, 2), 4.0))


def test_backward_without_head_gradient_on_non_loss_is_an_error():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    exe = net.simple_bind(mx.cpu(), data=(3, 4))
    exe.forward(is_train=True)
    with pytest.raises(MXNetError, match="fc_output.*out_grads"):
        exe.backward()
    exe.backward(mx.nd.ones((3, 2)))
    np.testing.assert_allclose(exe.grad_dict["fc_bias"], [3.0, 3.0])


def test_reshape_shares_parameters():
    exe = seed_mlp().simple_bind(mx.cpu(), data=(4, 20))
    _fill(exe)
    bigger = exe.reshape(data=(9, 20), out_label=(9,))
    assert np.shares_memory(bigger.arg_dict["fc1_weight"], exe.arg_dict["fc1_weight"])
    assert bigger.outputs[0].shape == (9, 10)
    bigger.arg_dict["data"][:4] = exe.arg_dict["data"]
    np.testing.assert_allclose(bigger.forward()[0][:4], exe.forward()[0], rtol=1e-6)


@pytest.mark.parametrize("make, shapes, what", [
    (seed_mlp, {}, "cannot infer the shape"),
    (seed_mlp, {"nonsense": (2, 3)}, "'nonsense' is not an input"),
])
def test_simple_bind_errors_name_the_argument(make, shapes, what):
    with pytest.raises(BindError, match=what):
        make().simple_bind(mx.cpu(), **shapes)


def test_bind_errors_name_the_argument():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    good = {"data": np.zeros((3, 4), np.float32), "fc_weight": np.zeros((2, 4), np.float32),
            "fc_bias": np.zeros(2, np.float32)}
    with pytest.raises(MXNetError, match=r"Error in operator fc.*weight.*\(2, 5\).*\(2, 4\)"):
        net.bind(mx.cpu(), dict(good, fc_weight=np.zeros((2, 5), np.float32)))
    with pytest.raises(MXNetError, match="fc.*bias.*dtype int64"):
        net.bind(mx.cpu(), dict(good, fc_bias=np.zeros(2, np.int64)))
    with pytest.raises(BindError, match="'bogus' is not one of"):
        net.bind(mx.cpu(), dict(good, bogus=np.zeros(2, np.float32)))
    with pytest.raises(BindError, match="no array given for 'fc_bias'"):
        net.bind(mx.cpu(), {k: v for k, v in good.items() if k != "fc_bias"})
    with pytest.raises(BindError, match="'fc_output', which is not an argument"):
        net.bind(mx.cpu(), good, args_grad={k: np.zeros_like(v) for k, v in good.items()},
                 grad_req={"fc_output": "write"})
    with pytest.raises(BindError, match="grad_req for 'data' is 'sometimes'"):
        net.simple_bind(mx.cpu(), grad_req={"data": "sometimes"}, data=(3, 4))


@pytest.mark.parametrize("make, shapes", [
    (seed_mlp, {"data": (32, 784)}),
    (deep_mlp, {"data": (64, 100)}),
    (lenet, {"data": (16, 1, 28, 28)}),
], ids=["seed-mlp", "mlp-20", "lenet"])
@pytest.mark.parametrize("grad_req", ["write", "null"], ids=["training", "inference"])
def test_memory_plan_within_five_percent_of_lower_bound(make, shapes, grad_req):
    exe = make().simple_bind(mx.cpu(), grad_req=grad_req, **shapes)
    stats = exe.memory_stats()
    assert stats["planned_bytes"] <= 1.05 * stats["lower_bound_bytes"], stats
    assert stats["planned_bytes"] < stats["naive_bytes"], stats
    assert "Total" in exe.debug_str()


def test_planned_memory_does_not_change_results():
    """The arena starts as garbage (NaN) and buffers are reused; results must not notice."""
    exe = lenet().simple_bind(mx.cpu(), data=(3, 1, 28, 28))
    _fill(exe)
    exe._arena.view(np.float32)[:] = np.nan
    exe.forward(is_train=True)
    exe.backward()
    first = {k: v.copy() for k, v in exe.grad_dict.items()}
    exe._arena.view(np.float32)[:] = np.nan
    exe.forward(is_train=True)
    exe.backward()
    for name, grad in first.items():
        assert np.isfinite(grad).all(), name
        np.testing.assert_array_equal(exe.grad_dict[name], grad, err_msg=name)


def test_forward_and_backward_allocate_nothing():
    exe = seed_mlp().simple_bind(mx.cpu(), data=(64, 784))
    _fill(exe)
    exe.forward(is_train=True)
    exe.backward()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(50):
        exe.forward(is_train=True)
        exe.backward()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename") if stat.size_diff > 0)
    assert grown < 16 * 1024, f"{grown} bytes allocated over 50 steps"


def test_two_executors_run_in_parallel_threads():
    executors = [seed_mlp().simple_bind(mx.cpu(), data=(128, 784)) for _ in range(2)]
    for exe in executors:
        _fill(exe)
    expected = [exe.forward()[0].copy() for exe in executors]

    def train(exe):
        for _ in range(20):
            exe.forward(is_train=True)
            exe.backward()
            exe.forward()

    threads = [threading.Thread(target=train, args=(exe,)) for exe in executors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for exe, out in zip(executors, expected):
        np.testing.assert_array_equal(exe.outputs[0], out)


def test_gpu_context_is_accepted_until_bind():
    ctx = mx.gpu(0)
    assert repr(ctx) == "gpu(0)" and ctx != mx.cpu(0)
    with pytest.raises(BindError, match="CPU only"):
        seed_mlp().simple_bind(ctx, data=(2, 3))


def test_inputs_read_for_their_shape_only_are_not_kept_alive():
    """sum's backward needs only the shape of its input, so the (256, 64) product dies after
    the forward sum: the arena holds two such buffers at a time, not three."""
    x = mx.sym.Variable("x")
    net = mx.sym.MakeLoss(mx.sym.sum(mx.sym.exp(x) * 2, axis=1))
    exe = net.simple_bind(mx.cpu(), type_dict={"x": np.float64}, x=(256, 64))
    one_buffer = 256 * 64 * 8
    assert exe.memory_stats()["planned_bytes"] < 2.1 * one_buffer
    exe._arena.view(np.float64)[:] = np.nan
    exe.arg_dict["x"][:] = np.random.default_rng(0).normal(size=(256, 64))
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_allclose(exe.grad_dict["x"], 2 * np.exp(exe.arg_dict["x"]), rtol=1e-12)
