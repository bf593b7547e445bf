"""MXNet API corners that user code leans on (issue 14 items 3 and 4), each checked against
MXNet 1.9.1's behaviour (numbers pasted from /tmp/mxref runs where a test needs them)."""
import json

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError, NotImplementedForSymbol


def _ops(sym):
    return [node["op"] for node in json.loads(sym.tojson())["nodes"]]


# -- Executor.backward needs a forward ---------------------------------------------------------------

def _mlp():
    x = mx.sym.Variable("x")
    net = mx.sym.FullyConnected(x, num_hidden=7, name="a")
    net = mx.sym.FullyConnected(mx.sym.Activation(net, act_type="tanh"), num_hidden=5, name="b")
    return mx.sym.exp(net) * mx.sym.sigmoid(net)


def _filled(exe):
    rng = np.random.default_rng(0)
    for value in exe.arg_dict.values():
        value[...] = rng.standard_normal(value.shape)
    return exe


def test_backward_before_any_forward_is_an_error():
    exe = _filled(_mlp().simple_bind(mx.cpu(), x=(3, 4)))
    with pytest.raises(MXNetError, match=r"backward\(\) needs a forward\(\) first"):
        exe.backward(np.ones((3, 5)))
    loss = mx.sym.SoftmaxOutput(mx.sym.Variable("x"), name="sm").simple_bind(mx.cpu(), x=(2, 3))
    with pytest.raises(MXNetError, match="forward"):
        loss.backward()


def test_backward_that_reads_no_forward_value_needs_no_forward():
    # MXNet's test_repeat runs backward on a fresh executor: repeat's gradient reads only the
    # head gradient, so nothing is uninitialised, and a second backward gives the same
    data = mx.sym.Variable("data")
    exe = mx.sym.repeat(data, repeats=2, axis=0).bind(mx.cpu(), args=[mx.nd.ones((3, 4))],
                                                       args_grad=[mx.nd.zeros((3, 4))])
    head = np.arange(24.0).reshape(6, 4)
    for _ in range(2):
        exe.backward(mx.nd.array(head))
        np.testing.assert_array_equal(exe.grad_arrays[0], head[0::2] + head[1::2])


def test_ndarray_stype_and_c_order():
    assert mx.nd.ones((2, 3)).stype == "default"
    transposed = mx.nd.array(np.ones((3, 2)).T)
    assert transposed.flags.c_contiguous   # as MXNet's arrays, whatever the source's layout
    x = mx.sym.Variable("x")
    check = mx.test_utils.check_symbolic_forward
    check(mx.sym.dot(x, x, transpose_b=True), [np.arange(6.0).reshape(3, 2).T], [np.array([[20, 26], [26, 35]])])


def test_simple_bind_ignores_keywords_that_are_not_shapes():
    # MXNet's test_take passes axis= and mode= to simple_bind, which ignores them
    exe = (mx.sym.Variable("x") * 2).simple_bind(mx.cpu(), x=(2, 3), axis=1, mode="clip")
    assert exe.arg_dict["x"].shape == (2, 3)


def test_backward_runs_once_per_forward():
    """A second backward would read forward values whose buffers the first one reused."""
    exe = _filled(_mlp().simple_bind(mx.cpu(), x=(3, 4)))
    head = np.ones((3, 5))
    exe.forward(is_train=True)
    exe.backward(head)
    first = {k: np.array(v) for k, v in exe.grad_dict.items()}
    with pytest.raises(MXNetError, match="since the last backward"):
        exe.backward(head)
    exe.forward(is_train=True)
    exe.backward(head)
    for name, grad in exe.grad_dict.items():
        np.testing.assert_array_equal(grad, first[name], err_msg=name)


def test_backward_after_an_inference_forward_runs():
    # MXNet allows it (and check_consistency relies on forward(is_train=False) not breaking it)
    exe = mx.sym.SoftmaxOutput(mx.sym.Variable("x"), name="sm").simple_bind(mx.cpu(), x=(2, 3))
    exe.forward(is_train=False)
    exe.backward()
    # MXNet 1.9.1: softmax of zeros minus one-hot(label 0)
    np.testing.assert_allclose(exe.grad_dict["x"][0], [-0.6666666, 0.33333334, 0.33333334], rtol=1e-6)


def test_backward_takes_out_grads_by_output_name():
    x = mx.sym.Variable("x")
    sym = mx.sym.Group([x * 2, x * 3])
    exe = sym.simple_bind(mx.cpu(), x=(2, 3))
    exe.forward(is_train=True)
    names = sym.list_outputs()
    exe.backward({names[0]: np.ones((2, 3)), names[1]: np.full((2, 3), 10.0)})
    np.testing.assert_allclose(exe.grad_dict["x"], np.full((2, 3), 32.0))


def test_comparison_heads_need_no_out_grads():
    # MXNet 1.9.1: backward() of `x == 1` without out_grads gives a zero gradient
    x = mx.sym.Variable("x")
    exe = (x == 1).simple_bind(mx.cpu(), x=(2, 3))
    exe.grad_dict["x"][:] = 7
    exe.forward(is_train=True)
    exe.backward()
    np.testing.assert_array_equal(exe.grad_dict["x"], np.zeros((2, 3)))
    with pytest.raises(MXNetError, match="out_grads"):
        exe2 = (x * 2).simple_bind(mx.cpu(), x=(2, 3))
        exe2.forward(is_train=True)
        exe2.backward()


# -- Symbol operators, truth value, children, composition -----------------------------------------

_A = np.array([[-3.5, 1.0, 2.0], [4.0, -1.0, 7.5]], np.float32)
_B = np.array([[2.0, 1.0, -3.0], [1.5, 2.0, -2.5]], np.float32)
# (expression, the operator MXNet 1.9.1 puts in the graph, its forward at a=_A, b=_B)
_SYMBOL_OPERATORS = [
    (lambda a, b: a == b, "_equal", [[0, 1, 0], [0, 0, 0]]),
    (lambda a, b: a != b, "_not_equal", [[1, 0, 1], [1, 1, 1]]),
    (lambda a, b: a > b, "_greater", [[0, 0, 1], [1, 0, 1]]),
    (lambda a, b: a >= b, "_greater_equal", [[0, 1, 1], [1, 0, 1]]),
    (lambda a, b: a < b, "_lesser", [[1, 0, 0], [0, 1, 0]]),
    (lambda a, b: a <= b, "_lesser_equal", [[1, 1, 0], [0, 1, 0]]),
    (lambda a, b: a == 1, "_equal_scalar", [[0, 1, 0], [0, 0, 0]]),
    (lambda a, b: a > 1, "_greater_scalar", [[0, 0, 1], [1, 0, 1]]),
    (lambda a, b: 1 > a, "_lesser_scalar", [[1, 0, 0], [0, 1, 0]]),
    (lambda a, b: a <= 2, "_lesser_equal_scalar", [[1, 1, 1], [0, 1, 0]]),
    (lambda a, b: 1 != a, "_not_equal_scalar", [[1, 0, 1], [1, 1, 1]]),
    (lambda a, b: abs(a), "abs", [[3.5, 1, 2], [4, 1, 7.5]]),
    (lambda a, b: a % b, "_mod", [[0.5, 0, -1], [1, 1, 0]]),
    (lambda a, b: a % 2, "_mod_scalar", [[0.5, 1, 0], [0, 1, 1.5]]),
    (lambda a, b: 5 % a, "_rmod_scalar", [[-2, 0, 1], [1, 0, 5]]),
]


@pytest.mark.parametrize("build, op, expected", _SYMBOL_OPERATORS, ids=[c[1] for c in _SYMBOL_OPERATORS])
def test_symbol_operators_build_mxnet_nodes(build, op, expected):
    sym = build(mx.sym.Variable("a"), mx.sym.Variable("b"))
    assert [o for o in _ops(sym) if o != "null"] == [op]
    args = {n: mx.nd.array(v) for n, v in (("a", _A), ("b", _B)) if n in sym.list_arguments()}
    np.testing.assert_array_equal(sym.bind(mx.cpu(), args=args).forward()[0], np.array(expected, np.float32))


def test_symbol_has_no_truth_value():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    with pytest.raises(NotImplementedForSymbol, match='namely operator "bool"'):
        bool(a == b)
    with pytest.raises(MXNetError):
        if a:
            pass


def test_get_children_of_a_group():
    # MXNet 1.9.1: the inputs of every head, in order; None for variables only
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    assert mx.sym.Group([a + b, a * 2]).get_children().list_outputs() == ["a", "b", "a"]
    fc = mx.sym.FullyConnected(a, num_hidden=3, name="fc")
    assert mx.sym.Group([fc, a]).get_children().list_outputs() == ["a", "fc_weight", "fc_bias"]
    assert mx.sym.Group([a, b]).get_children() is None
    assert a.get_children() is None


def test_composition_takes_keyword_arguments_only():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    fc = mx.sym.FullyConnected(a, num_hidden=3, name="fc")
    with pytest.raises(MXNetError, match="General composition only support kwargs"):
        fc(b)
    with pytest.raises(MXNetError, match="General composition only support kwargs"):
        mx.sym.Group([fc, a])(b)
    with pytest.raises(TypeError, match="not both"):
        fc(b, fc_weight=a)
    assert fc(a=b).list_arguments() == ["b", "fc_weight", "fc_bias"]
    assert fc(name="x").name == "x" and fc().list_arguments() == ["a", "fc_weight", "fc_bias"]


# -- NDArray: results are NDArrays, out=, integer division ---------------------------------------------

def test_ndarray_methods_and_functions_return_ndarrays():
    x = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    assert x.sum(axis=0).expand_dims(0).shape == (1, 3)
    assert float(x.sum().asscalar()) == 21.0
    for result in (x.exp(), x.sqrt(), x.relu(), x.sigmoid(), x.square(), x.expand_dims(axis=1),
                   mx.nd.exp(x), mx.nd.sum(x, axis=1), x + 1, x * x, abs(-x), x.T, x[0]):
        assert isinstance(result, mx.nd.NDArray)
        result.asnumpy()
    np.testing.assert_allclose(x.exp().asnumpy(), np.exp(x.asnumpy()), rtol=1e-6)
    np.testing.assert_array_equal(x.slice_axis(axis=1, begin=1, end=3), [[2, 3], [5, 6]])
    np.testing.assert_array_equal(x.one_hot(7).shape, (2, 3, 7))


def test_ndarray_methods_and_functions_honour_out():
    x = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    out = mx.nd.zeros((2, 3))
    assert mx.nd.exp(x, out=out) is out
    np.testing.assert_allclose(out, np.exp(x.asnumpy()), rtol=1e-6)
    assert x.square(out=out) is out
    np.testing.assert_array_equal(out, x.asnumpy() ** 2)
    column = mx.nd.zeros((2,))
    assert mx.nd.sum(x, axis=1, out=column) is column
    np.testing.assert_array_equal(column, [6, 15])


def test_integer_division_truncates_as_mxnet():
    # MXNet 1.9.1: int / int stays int, rounded toward zero; a float scalar is truncated first
    x = mx.nd.array([[7, -7, 5, 9]], dtype="int32")
    y = mx.nd.array([[2, 2, -3, 4]], dtype="int32")
    for result, expected in ((x / y, [[3, -3, -1, 2]]), (x / 2, [[3, -3, 2, 4]]),
                             (x / 2.5, [[3, -3, 2, 4]]), (7 / y, [[3, 3, -2, 1]]),
                             (7.5 / y, [[3, 3, -2, 1]]),
                             (x.astype("int64") / y.astype("int64"), [[3, -3, -1, 2]])):
        assert isinstance(result, mx.nd.NDArray) and result.dtype.kind == "i"
        np.testing.assert_array_equal(result, expected)
    assert (x / y).dtype == np.int32
    u8 = mx.nd.array([[7, 250]], dtype="uint8") / mx.nd.array([[2, 3]], dtype="uint8")
    np.testing.assert_array_equal(u8, [[3, 83]])
    assert u8.dtype == np.uint8
    i8 = mx.nd.array([[-7, 100]], dtype="int8") / mx.nd.array([[2, -3]], dtype="int8")
    np.testing.assert_array_equal(i8, [[-3, -33]])
    inplace = x.copy()
    inplace /= y
    np.testing.assert_array_equal(inplace, [[3, -3, -1, 2]])
    assert inplace.dtype == np.int32
    # float arrays divide as before
    np.testing.assert_allclose(mx.nd.array([[7.0, -7.0]]) / 2, [[3.5, -3.5]])
    np.testing.assert_array_equal(x / mx.nd.array([[0, 0, 0, 0]], dtype="int32"), [[0, 0, 0, 0]])


# -- PReLU's slope starts at 0.25 ----------------------------------------------------------------------

@pytest.mark.parametrize("initializer", [mx.init.Uniform(0.07), mx.init.Xavier(), mx.init.Normal()],
                         ids=["uniform", "xavier", "normal"])
def test_prelu_gamma_initialises_to_a_quarter(initializer):
    # MXNet 1.9.1: LeakyReLU(act_type='prelu') gives its gamma variable
    # __init__ '["Constant", {"value": 0.25}]', which every initializer obeys
    net = mx.sym.LeakyReLU(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="fc"),
                           act_type="prelu", name="act")
    assert net.attr_dict()["act_gamma"]["__init__"] == '["Constant", {"value": 0.25}]'
    mod = mx.mod.Module(net, label_names=None)
    mod.bind(data_shapes=[("data", (2, 3))])
    mod.init_params(initializer)
    args, _ = mod.get_params()
    np.testing.assert_array_equal(args["act_gamma"].asnumpy(), np.full(4, 0.25, np.float32))
    # a variable merely named *gamma keeps the gamma rule (ones), as in MXNet
    array = mx.nd.zeros((4,))
    initializer(mx.init.InitDesc("foo_gamma"), array)
    np.testing.assert_array_equal(array, np.ones(4))
    assert "__init__" not in mx.sym.LeakyReLU(mx.sym.Variable("x"), act_type="leaky").attr_dict().get(
        "leakyrelu0_gamma", {})


# -- Optimizer(lr_scheduler=...) ----------------------------------------------------------------------

def test_optimizer_takes_the_schedulers_base_lr():
    # MXNet 1.9.1: a scheduler alone keeps its base_lr; a learning_rate given with it replaces it
    scheduler = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.3)
    opt = mx.optimizer.SGD(lr_scheduler=scheduler)
    assert scheduler.base_lr == 0.3 and opt.learning_rate == 0.3
    scheduler = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5)
    with pytest.warns(UserWarning, match="overwritten"):
        opt = mx.optimizer.SGD(learning_rate=0.1, lr_scheduler=scheduler)
    assert scheduler.base_lr == 0.1 and opt.learning_rate == 0.1
    with pytest.warns(UserWarning, match="overwritten"):
        opt = mx.optimizer.create("sgd", learning_rate=0.2,
                                  lr_scheduler=mx.lr_scheduler.MultiFactorScheduler(step=[2, 4], factor=0.1))
    assert opt.lr_scheduler.base_lr == 0.2
    assert mx.optimizer.SGD().learning_rate == 0.01
    with pytest.raises(UserWarning):
        opt.set_learning_rate(0.5)


# -- metrics ------------------------------------------------------------------------------------------

_LABELS = [mx.nd.array([1, 0, 0, 0, 1, 1])]
_PREDS = [mx.nd.array([[0.3, 0.7], [0.6, 0.4], [0.2, 0.8], [0.9, 0.1], [0.45, 0.55], [0.7, 0.3]])]
_LABELS2 = [mx.nd.array([1, 1])]
_PREDS2 = [mx.nd.array([[0.1, 0.9], [0.8, 0.2]])]


@pytest.mark.parametrize("name, kwargs, expected", [
    ("mcc", {}, 0.16666666666666666), ("mcc", {"average": "micro"}, 0.2581988897471611),
    ("f1", {}, 0.6666666666666666), ("f1", {"average": "micro"}, 0.6666666666666665),
    ("pcc", {}, 0.2581988897471611)])
def test_binary_metrics_as_mxnet(name, kwargs, expected):
    # values from MXNet 1.9.1 on the same two batches
    metric = mx.metric.create(name, **kwargs)
    metric.update(_LABELS, _PREDS)
    metric.update(_LABELS2, _PREDS2)
    assert metric.get() == (name, pytest.approx(expected, rel=1e-12))


@pytest.mark.parametrize("name, average, local, overall", [
    ("f1", "macro", 0.5, 0.5833333333333333), ("f1", "micro", 0.5, 0.6),
    ("mcc", "macro", -0.5, -0.08333333333333334), ("mcc", "micro", -0.5, 0.1)])
def test_binary_metrics_keep_global_counts_over_reset_local(name, average, local, overall):
    # MXNet 1.9.1's get() and get_global() after reset_local() between two batches
    metric = mx.metric.create(name, average=average)
    metric.update(_LABELS, _PREDS)
    metric.reset_local()
    metric.update([mx.nd.array([1, 1, 0])], [mx.nd.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])])
    assert metric.get()[1] == pytest.approx(local, rel=1e-12)
    assert metric.get_global()[1] == pytest.approx(overall, rel=1e-12)


def test_pearson_correlation_as_mxnet():
    for average, expected in (("macro", 0.9816064545008267), ("micro", 0.9488227633834213)):
        metric = mx.metric.create("pearsonr", average=average)
        metric.update([mx.nd.array([0.1, 0.5, 0.3, 0.9])], [mx.nd.array([0.2, 0.4, 0.35, 1.0])])
        metric.update([mx.nd.array([0.7, 0.2])], [mx.nd.array([0.6, 0.1])])
        assert metric.get() == ("pearsonr", pytest.approx(expected, rel=1e-12))


def test_pcc_grows_to_the_classes_seen():
    metric = mx.metric.create("pcc")
    metric.update([mx.nd.array([0, 1, 2, 1, 0])],
                  [mx.nd.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1],
                                [0.3, 0.3, 0.4]])])
    assert metric.get() == ("pcc", pytest.approx(0.4375, rel=1e-12))   # MXNet 1.9.1
    metric.reset()
    assert np.isnan(metric.get()[1])


@pytest.mark.parametrize("name, kwargs", [
    ("acc", {}), ("f1", {"average": "micro"}), ("mse", {}), ("ce", {}), ("mcc", {"average": "micro"}),
    ("pearsonr", {}), ("pcc", {}), ("perplexity", {"ignore_label": None}), (["acc", "mse"], {})])
def test_metric_created_from_its_config(name, kwargs):
    metric = mx.metric.create(name, **kwargs)
    config = metric.get_config()
    for again in (mx.metric.create(**config), mx.metric.create(config)):
        assert type(again) is type(metric) and again.get_config() == config


# -- Module.reshape, monitors, Executor.reshape, debug_str ---------------------------------------------

def _softmax_module(batch):
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc"),
                               name="softmax")
    mod = mx.mod.Module(net)
    mod.bind(data_shapes=[("data", (batch, 5))], label_shapes=[("softmax_label", (batch,))])
    mod.init_params(mx.init.Constant(0.1))
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.5})
    return mod


def test_module_reshape_keeps_parameters_and_trains_as_mxnet():
    mod = _softmax_module(4)
    weight = mod._exec.arg_dict["fc_weight"]
    mod.reshape(data_shapes=[("data", (7, 5))], label_shapes=[("softmax_label", (7,))])
    assert [tuple(d.shape) for d in mod.data_shapes] == [(7, 5)]
    assert [tuple(d.shape) for d in mod.label_shapes] == [(7,)]
    assert mod.output_shapes == [("softmax_output", (7, 3))]
    batch = mx.io.DataBatch(data=[mx.nd.array(np.arange(35).reshape(7, 5) / 35.0)],
                            label=[mx.nd.array([0, 1, 2, 0, 1, 2, 0])])
    mod.forward(batch, is_train=True)
    mod.backward()
    mod.update()
    assert mod.get_outputs()[0].shape == (7, 3)
    # MXNet 1.9.1, same steps: the first row of fc_weight after one SGD update
    np.testing.assert_allclose(mod.get_params()[0]["fc_weight"].asnumpy()[0],
                               [0.135714, 0.138095, 0.140476, 0.142857, 0.145238], rtol=1e-5)
    assert mod._exec.arg_dict["fc_weight"] is weight   # the parameter arrays are shared
    with pytest.raises(MXNetError):   # the label's shape would change without being given
        mod.reshape(data_shapes=[("data", (2, 5))])
    with pytest.raises(MXNetError, match="bind"):
        mx.mod.Module(mod.symbol).reshape(data_shapes=[("data", (2, 5))])


def _monitored_executor():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc1")
    net = mx.sym.SoftmaxOutput(mx.sym.Activation(net, act_type="relu", name="relu1"), name="softmax")
    exe = net.simple_bind(mx.cpu(), data=(2, 4))
    for i, (name, value) in enumerate(sorted(exe.arg_dict.items())):
        value[:] = np.arange(value.size).reshape(value.shape) / 10.0 - 0.3 * i
    exe.arg_dict["softmax_label"][:] = [0, 2]
    return exe


def test_executor_monitor_callback_sees_every_output():
    exe = _monitored_executor()
    seen = []
    exe.set_monitor_callback(lambda name, array: seen.append((name, np.array(array))))
    exe.forward(is_train=True)
    exe.backward()
    names = [name for name, _ in seen]
    # MXNet 1.9.1's names for the forward outputs and the FullyConnected/Activation backward ones
    assert names[:3] == ["fc1_output", "relu1_output", "softmax_output"]
    assert {"relu1_backward_output", "fc1_backward_output0", "fc1_backward_output1",
            "fc1_backward_output2"} <= set(names)
    values = dict(seen)
    np.testing.assert_array_equal(values["softmax_output"], exe.outputs[0])
    np.testing.assert_array_equal(values["fc1_backward_output1"], exe.grad_dict["fc1_weight"])
    seen.clear()
    exe.set_monitor_callback(lambda name, array: seen.append(name), monitor_all=True)
    exe.forward(is_train=False)
    assert seen[:4] == ["fc1_data", "fc1_weight", "fc1_bias", "fc1_output"]
    exe.set_monitor_callback(None)
    seen.clear()
    exe.forward()
    assert seen == []


def test_monitor_statistics_as_mxnet():
    exe = _monitored_executor()
    mon = mx.mon.Monitor(1, pattern=".*", sort=True)
    mon.install(exe)
    mon.tic()
    exe.forward(is_train=True)
    exe.backward()
    rows = {name: float(text) for _, name, text in mon.toc()}
    # MXNet 1.9.1's Monitor (||x|| / sqrt(size)) on the same executor
    expected = {"data": 0.41833, "fc1_bias": 0.2160247, "fc1_output": 0.6392705, "fc1_weight": 0.3488075,
                "relu1_output": 0.30110905, "softmax_output": 0.3449034, "softmax_label": 1.4142135,
                "relu1_backward_output": 0.25168493, "fc1_backward_output0": 0.16017133,
                "fc1_backward_output1": 0.124870315, "fc1_backward_output2": 0.071305096}
    for name, value in expected.items():
        assert rows[name] == pytest.approx(value, rel=1e-5), name
    assert mon.toc() == []
    mon = mx.mon.Monitor(2, pattern=".*weight")
    mon.install(exe)
    for step in range(3):
        mon.tic()
        exe.forward()
        rows = mon.toc()
        assert [name for _, name, _ in rows] == (["fc1_weight"] if step % 2 == 0 else [])


def test_module_fit_with_monitor(caplog):
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc"),
                               name="softmax")
    train = mx.io.NDArrayIter(np.random.uniform(size=(12, 5)), np.arange(12) % 3, batch_size=4)
    mod = mx.mod.Module(net)
    mon = mx.mon.Monitor(1, pattern="fc_output")
    with caplog.at_level("INFO"):
        mod.fit(train, num_epoch=1, monitor=mon, progress=False)
    assert sum("fc_output" in record.getMessage() for record in caplog.records) == 3


def test_executor_reshape_shares_parameter_arrays():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    exe = net.simple_bind(mx.cpu(), data=(2, 4))
    bigger = exe.reshape(data=(5, 4))
    for name in ("fc_weight", "fc_bias"):
        assert bigger.arg_dict[name] is exe.arg_dict[name]
        assert bigger.grad_dict[name] is exe.grad_dict[name]
    assert bigger.arg_dict["data"].shape == (5, 4) and bigger.outputs[0].shape == (5, 3)
    exe.arg_dict["fc_weight"][:] = 1.0
    bigger.arg_dict["data"][:] = 1.0
    np.testing.assert_array_equal(bigger.forward()[0], np.full((5, 3), 4.0))


def test_debug_str_reports_the_memory_total():
    exe = mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=3, name="fc").simple_bind(mx.cpu(), x=(2, 4))
    text = exe.debug_str()
    assert "Op:FullyConnected, Name=fc" in text
    assert f"Total {exe.memory_stats()['planned_bytes']} bytes planned" in text


# -- BucketingModule ------------------------------------------------------------------------------------

def _bucket_sym_gen(seq_len):
    data = mx.sym.Variable("data")
    embedded = mx.sym.Embedding(data, input_dim=10, output_dim=4, name="emb")
    fc = mx.sym.FullyConnected(mx.sym.sum(embedded, axis=1), num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax"), ("data",), ("softmax_label",)


# MXNet 1.9.1's BucketingModule on the same steps: the first output row of each batch, then the
# parameters after five SGD-momentum updates through buckets 6, 3, 4, 3, 6
_BUCKET_OUTPUTS = [[0.320653, 0.365269, 0.314078],
                   [0.351343, 0.347712, 0.300944],
                   [0.37572, 0.404008, 0.220272],
                   [0.34591, 0.416966, 0.237123],
                   [0.365109, 0.401637, 0.233254]]
_BUCKET_PARAMS = {
    "emb_weight": [[-0.016754, 0.116888, 0.234735, 0.059578],
                   [-0.106806, 0.094597, 0.053475, 0.362386],
                   [0.426105, -0.186322, 0.226986, 0.098992],
                   [0.147796, 0.448775, -0.486278, -0.401338],
                   [-0.319226, 0.47392, 0.07179, 0.308909],
                   [0.370883, 0.203617, 0.171992, 0.198438],
                   [-0.370151, 0.133415, -0.334141, 0.459214],
                   [-0.049953, -0.170435, -0.158627, 0.290412],
                   [0.006185, 0.100321, -0.522629, 0.111004],
                   [0.063071, 0.034063, 0.466723, 0.238255]],
    "fc_bias": [0.144902, -0.219487, 0.034445],
    "fc_weight": [[-0.032392, 0.152162, -0.106865, -0.215878],
                  [-0.209306, 0.140744, -0.192308, -0.522718],
                  [0.083401, -0.321525, 0.277383, -0.133652]]}


def test_bucketing_module_shares_parameters_and_optimizer_as_mxnet():
    mod = mx.mod.BucketingModule(_bucket_sym_gen, default_bucket_key=6)
    mod.bind(data_shapes=[("data", (2, 6))], label_shapes=[("softmax_label", (2,))])
    rng = np.random.RandomState(0)
    mod.init_params(arg_params={
        "emb_weight": mx.nd.array(rng.uniform(-0.5, 0.5, (10, 4))),
        "fc_weight": mx.nd.array(rng.uniform(-0.5, 0.5, (3, 4))),
        "fc_bias": mx.nd.array(rng.uniform(-0.1, 0.1, (3,)))})
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    for step, (key, batch) in enumerate([(6, 2), (3, 2), (4, 3), (3, 2), (6, 2)]):
        data = mx.nd.array(rng.randint(0, 10, (batch, key)))
        label = mx.nd.array(rng.randint(0, 3, (batch,)))
        mod.forward(mx.io.DataBatch(data=[data], label=[label], bucket_key=key,
                                    provide_data=[mx.io.DataDesc("data", (batch, key))],
                                    provide_label=[mx.io.DataDesc("softmax_label", (batch,))]),
                    is_train=True)
        mod.backward()
        mod.update()
        assert mod.symbol.list_arguments() == ["data", "emb_weight", "fc_weight", "fc_bias", "softmax_label"]
        np.testing.assert_allclose(mod.get_outputs()[0].asnumpy()[0], _BUCKET_OUTPUTS[step], rtol=1e-5)
    assert sorted(mod._buckets) == [3, 4, 6]
    default = mod._buckets[6]
    for key in (3, 4):
        for name in ("emb_weight", "fc_weight", "fc_bias"):
            assert mod._buckets[key]._exec.arg_dict[name] is default._exec.arg_dict[name]
            assert mod._buckets[key]._exec.grad_dict[name] is default._exec.grad_dict[name]
        assert mod._buckets[key]._updater is default._updater
    params, _ = mod.get_params()
    for name, expected in _BUCKET_PARAMS.items():
        np.testing.assert_allclose(params[name].asnumpy(), expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_bucketing_module_fit_and_errors():
    train = mx.io.NDArrayIter(np.random.randint(0, 10, (8, 6)).astype(np.float32), np.arange(8) % 3,
                              batch_size=4)
    mod = mx.mod.BucketingModule(_bucket_sym_gen, default_bucket_key=6)
    mod.fit(train, num_epoch=2, optimizer_params={"learning_rate": 0.1}, progress=False)
    assert mod.binded and mod.params_initialized and mod.optimizer_initialized
    assert mod.output_shapes == [("softmax_output", (4, 3))]
    with pytest.raises(MXNetError, match="default_bucket_key"):
        mx.mod.BucketingModule(_bucket_sym_gen)

    def wider(seq_len):
        data = mx.sym.Variable("data")
        fc = mx.sym.FullyConnected(data, num_hidden=3, name="fc")
        return mx.sym.SoftmaxOutput(fc, name="softmax"), ("data",), ("softmax_label",)
    mod = mx.mod.BucketingModule(wider, default_bucket_key=6)
    mod.bind(data_shapes=[("data", (2, 6))], label_shapes=[("softmax_label", (2,))])
    mod.init_params()
    with pytest.raises(MXNetError, match="fc_weight"):
        mod.switch_bucket(3, [("data", (2, 3))], [("softmax_label", (2,))])


# -- MXNet's pow/power/maximum/minimum/hypot, fluent methods, NDArray-only methods ---------------------

@pytest.mark.parametrize("build, op, name", [
    (lambda a, b: mx.sym.pow(a, b), "_power", "_power0"),
    (lambda a, b: mx.sym.pow(a, 2), "_power_scalar", "_powerscalar0"),
    (lambda a, b: mx.sym.pow(2, a), "_rpower_scalar", "_rpowerscalar0"),
    (lambda a, b: mx.sym.power(a, 2), "_power_scalar", "_powerscalar0"),
    (lambda a, b: mx.sym.maximum(a, b), "_maximum", "_maximum0"),
    (lambda a, b: mx.sym.maximum(3, a), "_maximum_scalar", "_maximumscalar0"),
    (lambda a, b: mx.sym.minimum(5, a), "_minimum_scalar", "_minimumscalar0"),
    (lambda a, b: mx.sym.hypot(a, b), "_hypot", "_hypot0"),
    (lambda a, b: mx.sym.hypot(a, 2), "_hypot_scalar", "_hypotscalar0")])
def test_symbol_binary_functions_build_mxnet_nodes(build, op, name):
    with mx.name.NameManager():
        sym = build(mx.sym.Variable("a"), mx.sym.Variable("b"))
    # MXNet 1.9.1's operator and node name
    assert [o for o in _ops(sym) if o != "null"] == [op] and sym.name == name


def test_binary_functions_of_numbers_and_arrays():
    assert mx.sym.pow(2, 3) == 8 and mx.sym.maximum(2, 3) == 3 and mx.nd.maximum(2, 3) == 3
    with pytest.raises(TypeError, match="not supported"):
        mx.sym.maximum("a", 3)
    x, y = mx.nd.array([[1, 5], [3, 2]]), mx.nd.array([[2], [4]])
    # MXNet 1.9.1's values
    for result, expected in ((mx.nd.maximum(x, y), [[2, 5], [4, 4]]), (mx.nd.maximum(x, 2.5), [[2.5, 5], [3, 2.5]]),
                             (mx.nd.power(x, y), [[1, 25], [81, 16]]), (mx.nd.power(2, x), [[2, 32], [8, 4]]),
                             (mx.nd.minimum(3, x), [[1, 3], [3, 2]]), (mx.nd.minimum(x, y), [[1, 2], [3, 2]])):
        assert isinstance(result, mx.nd.NDArray)
        np.testing.assert_array_equal(result, expected)


def test_more_fluent_methods_and_eval():
    a = mx.sym.Variable("a")
    with mx.name.NameManager():
        for method in ("argsort", "sort", "topk", "squeeze", "shape_array", "size_array"):
            sym = getattr(a, method)()
            assert [o for o in _ops(sym) if o != "null"] == [method] and sym.name == f"{method}0"
    np.testing.assert_allclose(mx.sym.exp(a).eval(a=mx.nd.ones((2,)))[0], np.full(2, np.e), rtol=1e-6)


@pytest.mark.parametrize("method", ["asnumpy", "asscalar", "copy", "wait_to_read", "backward", "detach"])
def test_ndarray_only_methods_raise_for_symbols(method):
    with pytest.raises(NotImplementedForSymbol, match=f"Function {method} is not implemented for Symbol"):
        getattr(mx.sym.Variable("a"), method)()


# -- small things MXNet's own tests lean on -------------------------------------------------------------

def test_numpy_integers_in_tuple_parameters_are_stored_as_numbers():
    # NumPy 2 prints np.int64(3) inside a tuple: the attribute must still read back (and load in MXNet)
    kernel = tuple(np.array([3, 2]))
    conv = mx.sym.Convolution(mx.sym.Variable("x"), kernel=kernel, num_filter=2, name="conv")
    assert conv.attr("kernel") == "(3, 2)"
    exe = conv.simple_bind(mx.cpu(), x=(1, 1, 5, 4))
    exe.forward(is_train=True)
    exe.backward(np.ones((1, 2, 3, 3), np.float32))


def test_none_stands_for_an_input_not_given():
    x, w = mx.sym.Variable("x"), mx.sym.Variable("w")
    conv = mx.sym.Convolution(x, w, None, kernel=(3, 3), num_filter=2, no_bias=True, name="conv")
    assert conv.list_arguments() == ["x", "w"]
    exe = conv.bind(mx.cpu(), {"x": mx.nd.ones((1, 1, 4, 5)), "w": mx.nd.ones((2, 1, 3, 3)), "b": None},
                    args_grad={"x": mx.nd.zeros((1, 1, 4, 5)), "w": mx.nd.zeros((2, 1, 3, 3)), "b": None})
    np.testing.assert_array_equal(exe.forward()[0], np.full((1, 2, 2, 3), 9.0))


def test_tostype_default_copies():
    x = mx.nd.array([[1, 2], [3, 4]])
    dense = x.tostype("default")
    assert isinstance(dense, mx.nd.NDArray) and dense.stype == "default"
    dense[0, 0] = 7
    assert x[0, 0] == 1
    with pytest.raises(MXNetError, match="csr"):
        x.tostype("csr")
