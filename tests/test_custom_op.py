"""Operators written in Python: cysym.operator.CustomOp / CustomOpProp and sym.Custom."""
import json

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError

RTOL = {np.float32: 1e-5, np.float64: 1e-12}
ATOL = {np.float32: 1e-6, np.float64: 1e-14}


# -- the operators under test ------------------------------------------------------------------

class NumpySoftmax(mx.operator.CustomOp):
    """MXNet's documentation example: softmax forward, cross-entropy gradient backward."""

    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0].asnumpy()
        y = np.exp(x - x.max(axis=1, keepdims=True))
        y /= y.sum(axis=1, keepdims=True)
        self.assign(out_data[0], req[0], y)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        label = in_data[1].asnumpy().ravel().astype(int)
        y = out_data[0].asnumpy()
        y[np.arange(label.shape[0]), label] -= 1.0
        self.assign(in_grad[0], req[0], y)


@mx.operator.register("np_softmax")
class NumpySoftmaxProp(mx.operator.CustomOpProp):
    def __init__(self):
        super().__init__(need_top_grad=False)

    def list_arguments(self):
        return ["data", "label"]

    def list_outputs(self):
        return ["output"]

    def infer_shape(self, in_shape):
        data_shape = in_shape[0]
        label_shape = (in_shape[0][0],)
        return [data_shape, label_shape], [data_shape], []

    def create_operator(self, ctx, shapes, dtypes):
        return NumpySoftmax()


class Scale(mx.operator.CustomOp):
    """y = factor * x; counts training forwards in its auxiliary state; can be told to fail."""

    fail_in = None   # 'forward' or 'backward': raise there (class-wide switch for the tests)

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, is_train, req, in_data, out_data, aux):
        if Scale.fail_in == "forward":
            raise ValueError("forward was told to fail")
        if is_train and aux:
            aux[0][...] += 1
        self.assign(out_data[0], req[0], self.factor * in_data[0])

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        if Scale.fail_in == "backward":
            raise ValueError("backward was told to fail")
        self.assign(in_grad[0], req[0], self.factor * out_grad[0])


@mx.operator.register("scale")
class ScaleProp(mx.operator.CustomOpProp):
    """Keywords arrive as strings, as in MXNet."""

    def __init__(self, factor="1.0", count="False"):
        super().__init__(need_top_grad=True)
        self.factor = float(factor)
        self.count = count == "True"

    def list_auxiliary_states(self):
        return ["calls"] if self.count else []

    def infer_shape(self, in_shape):
        return in_shape, [in_shape[0]], [[1]] if self.count else []

    def create_operator(self, ctx, shapes, dtypes):
        return Scale(self.factor)


class TwoOutputs(mx.operator.CustomOp):
    """(2x, x**2); backward 2·g0 + 2x·g1, reading its input and no output."""

    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0]
        self.assign(out_data[0], req[0], 2 * x)
        self.assign(out_data[1], req[1], x * x)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        assert out_data == [None, None], "declare_backward_dependency left the outputs out"
        x = in_data[0]
        self.assign(in_grad[0], req[0], 2 * out_grad[0] + 2 * x * out_grad[1])


@mx.operator.register("two_outputs")
class TwoOutputsProp(mx.operator.CustomOpProp):
    def list_outputs(self):
        return ["double", "square"]

    def declare_backward_dependency(self, out_grad, in_data, out_data):
        return list(out_grad) + list(in_data)

    def create_operator(self, ctx, shapes, dtypes):
        return TwoOutputs()


class RowSum(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        self.assign(out_data[0], req[0], in_data[0].sum(axis=1, keepdims=True))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], np.broadcast_to(out_grad[0], in_grad[0].shape))


@mx.operator.register("row_sum")
class RowSumProp(mx.operator.CustomOpProp):
    """(n, k) -> (n, 1), float64 out whatever comes in; rejects 1-D inputs."""

    created_with = []

    def infer_shape(self, in_shape):
        if len(in_shape[0]) != 2:
            raise ValueError(f"row_sum takes a matrix, got shape {in_shape[0]}")
        return in_shape, [(in_shape[0][0], 1)], []

    def infer_type(self, in_type):
        return in_type, [np.float64], []

    def create_operator(self, ctx, shapes, dtypes):
        RowSumProp.created_with.append((ctx, shapes, dtypes))
        return RowSum()


@pytest.fixture(autouse=True)
def _no_failure():
    Scale.fail_in = None
    yield
    Scale.fail_in = None


# -- helpers -------------------------------------------------------------------------------------

def mlp(head):
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=7, name="fc1")
    net = mx.sym.Activation(net, act_type="tanh", name="tanh1")
    net = mx.sym.FullyConnected(net, num_hidden=3, name="fc2")
    return head(net)


def custom_softmax(net):
    return mx.sym.Custom(net, op_type="np_softmax", name="softmax")


def native_softmax(net):
    return mx.sym.SoftmaxOutput(net, name="softmax")


def random_values(symbol, dtype, rng, **shapes):
    arg_shapes, _, _ = symbol.infer_shape(**shapes)
    values = {}
    for name, shape in zip(symbol.list_arguments(), arg_shapes):
        if name.endswith("label"):
            values[name] = rng.integers(0, 3, shape).astype(dtype)
        else:
            values[name] = rng.uniform(-1, 1, shape).astype(dtype)
    return values


def bind_with(symbol, values, dtype, grad_req="write"):
    exe = symbol.simple_bind(mx.cpu(), grad_req=grad_req,
                             type_dict={n: dtype for n in symbol.list_arguments()},
                             **{n: v.shape for n, v in values.items()})
    for name, value in values.items():
        exe.arg_dict[name][...] = value
    return exe


# -- the softmax loss head against the native SoftmaxOutput ---------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_numpy_softmax_matches_softmax_output(dtype):
    rng = np.random.default_rng(0)
    custom, native = mlp(custom_softmax), mlp(native_softmax)
    assert custom.list_arguments() == native.list_arguments()
    values = random_values(native, dtype, rng, data=(5, 4))
    executors = [bind_with(s, values, dtype) for s in (custom, native)]
    for exe in executors:
        exe.forward(is_train=True)
        exe.backward()   # a loss head: no head gradient needed
    got, want = executors
    tol = dict(rtol=RTOL[dtype], atol=ATOL[dtype])
    np.testing.assert_allclose(got.outputs[0], want.outputs[0], **tol)
    for name in native.list_arguments():
        if name == "softmax_label":
            continue
        np.testing.assert_allclose(got.grad_dict[name], want.grad_dict[name], err_msg=name, **tol)
    # the custom backward leaves the label's gradient alone: zeros, not planner leftovers
    np.testing.assert_array_equal(got.grad_dict["softmax_label"], 0)


def test_numpy_softmax_trains_with_module_fit():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(4, 3)), axis=1).astype(np.float32)
    train = mx.io.NDArrayIter(x, y, batch_size=10, label_name="softmax_label")
    mod = mx.mod.Module(mlp(custom_softmax), data_names=["data"], label_names=["softmax_label"])

    def loss():
        probs = np.asarray(mod.predict(train))
        return -np.mean(np.log(probs[np.arange(len(y)), y.astype(int)] + 1e-12))

    mod.bind(data_shapes=train.provide_data, label_shapes=train.provide_label)
    mx.random.seed(3)
    mod.init_params(mx.init.Xavier())
    before = loss()
    mod.fit(train, num_epoch=8, optimizer="sgd", optimizer_params={"learning_rate": 0.5},
            progress=False)
    after = loss()
    assert after < 0.7 * before, (before, after)


def test_custom_and_native_softmax_train_to_the_same_parameters():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 4))
    y = rng.integers(0, 3, 40).astype(np.float64)
    trained = []
    for head in (custom_softmax, native_softmax):
        train = mx.io.NDArrayIter(x, y, batch_size=8, label_name="softmax_label")
        mod = mx.mod.Module(mlp(head), data_names=["data"], label_names=["softmax_label"])
        mod.bind(data_shapes=train.provide_data, label_shapes=train.provide_label)
        mx.random.seed(7)
        mod.init_params(mx.init.Xavier())
        mod.fit(train, num_epoch=3, optimizer="sgd", optimizer_params={"learning_rate": 0.2},
                progress=False)
        trained.append(mod.get_params()[0])
    custom, native = trained
    assert sorted(custom) == sorted(native)
    for name in native:
        np.testing.assert_allclose(custom[name], native[name], rtol=1e-4, atol=1e-5, err_msg=name)


# -- structure: arguments, auxiliary states, outputs ---------------------------------------------

def test_custom_node_structure_comes_from_the_prop():
    x = mx.sym.Variable("x")
    two = mx.sym.Custom(x, op_type="two_outputs", name="t")
    assert two.list_outputs() == ["t_double", "t_square"]
    scaled = mx.sym.Custom(x, op_type="scale", count=True, name="s")
    assert scaled.list_arguments() == ["x"]
    assert scaled.list_auxiliary_states() == ["s_calls"]
    loss = mx.sym.Custom(op_type="np_softmax", name="softmax")
    assert loss.list_arguments() == ["softmax_data", "softmax_label"]
    by_keyword = mx.sym.Custom(data=x, label=mx.sym.Variable("y"), op_type="np_softmax")
    assert by_keyword.list_arguments() == ["x", "y"]


def test_aux_state_is_updated_in_training_forward_only():
    x = mx.sym.Variable("x")
    net = mx.sym.Custom(x, op_type="scale", factor=3, count=True, name="s")
    exe = net.simple_bind(mx.cpu(), x=(2, 3))
    assert exe.aux_dict["s_calls"].shape == (1,)
    exe.arg_dict["x"][...] = np.arange(6).reshape(2, 3)
    exe.forward(is_train=True)
    exe.forward(is_train=True)
    exe.forward(is_train=False)
    np.testing.assert_array_equal(exe.aux_dict["s_calls"], [2])
    np.testing.assert_allclose(exe.outputs[0], 3 * np.arange(6).reshape(2, 3))
    exe.backward(np.ones((2, 3)))
    np.testing.assert_allclose(exe.grad_dict["x"], np.full((2, 3), 3.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_two_outputs_forward_and_backward(dtype):
    rng = np.random.default_rng(2)
    x_value = rng.uniform(-1, 1, (3, 5)).astype(dtype)
    g0, g1 = rng.uniform(-1, 1, (2, 3, 5)).astype(dtype)
    net = mx.sym.Custom(mx.sym.Variable("x"), op_type="two_outputs", name="t")
    exe = bind_with(net, {"x": x_value}, dtype)
    double, square = exe.forward(is_train=True)
    np.testing.assert_allclose(double, 2 * x_value, rtol=RTOL[dtype])
    np.testing.assert_allclose(square, x_value ** 2, rtol=RTOL[dtype])
    exe.backward([g0, g1])
    np.testing.assert_allclose(exe.grad_dict["x"], 2 * g0 + 2 * x_value * g1,
                               rtol=RTOL[dtype], atol=ATOL[dtype])

    # only the second output is a head: the first one's gradient is zero
    exe = bind_with(net[1], {"x": x_value}, dtype)
    exe.forward(is_train=True)
    exe.backward([g1])
    np.testing.assert_allclose(exe.grad_dict["x"], 2 * x_value * g1, rtol=RTOL[dtype], atol=ATOL[dtype])


def test_custom_op_inside_a_network_gets_the_head_gradient_through_native_ops():
    rng = np.random.default_rng(4)
    x = mx.sym.Variable("x")
    net = mx.sym.Custom(x, op_type="scale", factor=0.5, name="s")
    net = mx.sym.FullyConnected(net, num_hidden=2, name="fc")
    values = random_values(net, np.float64, rng, x=(3, 4))
    exe = bind_with(net, values, np.float64)
    exe.forward(is_train=True)
    head = rng.uniform(-1, 1, (3, 2))
    exe.backward(head)
    np.testing.assert_allclose(exe.grad_dict["x"], 0.5 * head @ values["fc_weight"], rtol=1e-12)


def test_a_head_that_needs_top_grad_asks_for_it():
    net = mx.sym.Custom(mx.sym.Variable("x"), op_type="scale", name="s")
    exe = net.simple_bind(mx.cpu(), x=(2, 3))
    exe.forward(is_train=True)
    with pytest.raises(MXNetError, match="out_grads"):
        exe.backward()


# -- req ----------------------------------------------------------------------------------------

def test_grad_req_add_accumulates_custom_gradients():
    net = mx.sym.Custom(mx.sym.Variable("x"), op_type="scale", factor=2, name="s")
    exe = net.simple_bind(mx.cpu(), grad_req="add", x=(2, 3))
    exe.grad_dict["x"][...] = 1.0
    for _ in range(3):
        exe.forward(is_train=True)
        exe.backward(np.ones((2, 3)))
    np.testing.assert_allclose(exe.grad_dict["x"], 1.0 + 3 * 2.0)


@pytest.mark.parametrize("req,expected", [("null", 5.0), ("write", 2.0), ("inplace", 2.0), ("add", 7.0)])
def test_assign_honours_req(req, expected):
    dst = mx.nd.array(np.full((2, 3), 5.0))
    mx.operator.CustomOp().assign(dst, req, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(dst, expected)


def test_assign_rejects_an_unknown_req():
    with pytest.raises(MXNetError, match="req"):
        mx.operator.CustomOp().assign(np.zeros(2), "overwrite", np.ones(2))


# -- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["forward", "backward"])
def test_user_exception_names_the_operator_and_the_executor_stays_usable(where):
    net = mx.sym.Custom(mx.sym.Variable("x"), op_type="scale", factor=2, name="my_scale")
    exe = net.simple_bind(mx.cpu(), x=(2, 3))
    exe.arg_dict["x"][...] = 1.0
    Scale.fail_in = where
    with pytest.raises(MXNetError, match="my_scale") as info:
        exe.forward(is_train=True)
        exe.backward(np.ones((2, 3)))
    assert "told to fail" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)
    Scale.fail_in = None
    exe.forward(is_train=True)
    exe.backward(np.ones((2, 3)))
    np.testing.assert_allclose(exe.outputs[0], 2.0)
    np.testing.assert_allclose(exe.grad_dict["x"], 2.0)


def test_unregistered_op_type_is_an_error_naming_it():
    with pytest.raises(MXNetError, match="no_such_custom_op"):
        mx.sym.Custom(mx.sym.Variable("x"), op_type="no_such_custom_op", name="c")


def test_bad_keyword_reaches_the_prop_and_the_error_names_the_node():
    with pytest.raises(MXNetError, match="bad_scale.*no_such_param"):
        mx.sym.Custom(mx.sym.Variable("x"), op_type="scale", no_such_param=3, name="bad_scale")


def test_register_needs_a_prop_subclass():
    with pytest.raises(MXNetError, match="CustomOpProp"):
        mx.operator.register("not_a_prop")(object)


# -- JSON -------------------------------------------------------------------------------------------

def test_json_round_trip_keeps_op_type_and_keywords():
    x = mx.sym.Variable("x")
    net = mx.sym.Custom(x, op_type="scale", factor=2.5, count=True, name="s", lr_mult=0.1)
    node = json.loads(net.tojson())["nodes"][-1]
    assert node["op"] == "Custom"
    assert node["attrs"] == {"op_type": "scale", "factor": "2.5", "count": "True", "__lr_mult__": "0.1"}
    loaded = mx.sym.load_json(net.tojson())
    assert loaded.tojson() == net.tojson()
    assert loaded.list_auxiliary_states() == ["s_calls"]
    assert loaded.attr("lr_mult") == "0.1"
    exe = loaded.simple_bind(mx.cpu(), x=(2, 2))
    exe.arg_dict["x"][...] = 1.0
    np.testing.assert_allclose(exe.forward(is_train=True)[0], 2.5)
    np.testing.assert_array_equal(exe.aux_dict["s_calls"], [1])


def test_json_with_an_unregistered_op_type_fails_to_load():
    text = mx.sym.Custom(mx.sym.Variable("x"), op_type="scale", name="s").tojson()
    with pytest.raises(MXNetError, match="not_registered_anywhere"):
        mx.sym.load_json(text.replace('"scale"', '"not_registered_anywhere"'))


# -- shape and dtype inference through the prop ----------------------------------------------------

def test_infer_shape_and_type_call_the_prop():
    net = mx.sym.Custom(mx.sym.Variable("x"), op_type="row_sum", name="r")
    assert net.infer_shape(x=(4, 6)) == ([(4, 6)], [(4, 1)], [])
    arg_types, out_types, _ = net.infer_type(x=np.float32)
    assert arg_types == [np.float32] and out_types == [np.float64]
    loss = mx.sym.Custom(mx.sym.Variable("d"), mx.sym.Variable("l"), op_type="np_softmax")
    arg_shapes, out_shapes, _ = loss.infer_shape(d=(5, 3))
    assert arg_shapes == [(5, 3), (5,)] and out_shapes == [(5, 3)]
    assert loss.infer_shape_partial() == ([(), ()], [()], [])


def test_infer_shape_error_in_the_prop_names_the_node():
    net = mx.sym.Custom(mx.sym.Variable("x"), op_type="row_sum", name="my_rows")
    with pytest.raises(MXNetError, match="my_rows.*takes a matrix"):
        net.infer_shape(x=(4,))


def test_infer_shape_flows_into_the_network_and_create_operator_sees_it():
    x = mx.sym.Variable("x")
    net = mx.sym.FullyConnected(mx.sym.Custom(x, op_type="row_sum", name="r"), num_hidden=2, name="fc")
    arg_shapes, out_shapes, _ = net.infer_shape(x=(4, 6))
    assert dict(zip(net.list_arguments(), arg_shapes))["fc_weight"] == (2, 1)
    RowSumProp.created_with.clear()
    exe = mx.sym.Custom(x, op_type="row_sum").simple_bind(mx.cpu(), x=(4, 6), type_dict={"x": np.float64})
    (ctx, shapes, dtypes), = RowSumProp.created_with
    assert shapes == [[4, 6]] and dtypes == [np.float64] and ctx == mx.cpu()
    exe.arg_dict["x"][...] = np.arange(24).reshape(4, 6)
    np.testing.assert_allclose(exe.forward()[0], np.arange(24).reshape(4, 6).sum(1, keepdims=True))
