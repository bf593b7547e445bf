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
