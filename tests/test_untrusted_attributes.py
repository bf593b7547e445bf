"""Issue 15 item 3, the cases tests/test_untrusted_inputs.py does not hold yet: bad inputs and
attributes are cysym.MXNetError naming the operator instance (or the file's node) and what
was expected, never IndexError, TypeError or ZeroDivisionError; an empty batch gives an empty
result (MXNet 1.9.1 cannot make a (0, 3) array without its NumPy-shape mode, where empty
operands give empty results)."""
import json

import numpy as np
import pytest

import cysym as mx
from cysym.base import BindError, JSONFormatError, ShapeError


def test_fully_connected_with_a_0d_input_is_a_shape_error():
    net = mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=3, name="fc")
    with pytest.raises(ShapeError, match=r"fc.*'data' has shape \(\)"):
        net.infer_shape(x=())
    with pytest.raises(ShapeError, match=r"'data' has shape \(\)"):
        mx.nd.FullyConnected(mx.nd.array(np.float32(1)), mx.nd.ones((3, 1)), mx.nd.ones((3,)),
                             num_hidden=3)


def test_dot_with_a_0d_right_operand_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"dot.*rhs \(\)"):
        mx.nd.dot(mx.nd.ones((3,)), mx.nd.array(np.float32(1)))


def test_prelu_on_an_empty_batch_gives_an_empty_result():
    out = mx.nd.LeakyReLU(mx.nd.zeros((0, 3)), mx.nd.ones((3,)), act_type="prelu")
    assert out.shape == (0, 3)
    net = mx.sym.LeakyReLU(mx.sym.Variable("x"), act_type="prelu", name="act")
    exe = net.bind(mx.cpu(), {"x": mx.nd.zeros((0, 2, 5)), "act_gamma": mx.nd.ones((2,))})
    assert exe.forward()[0].shape == (0, 2, 5)


def _pooling_json(**overrides):
    attrs = {"kernel": "(2, 2)", "pool_type": "max"}
    attrs.update(overrides)
    return json.dumps({"nodes": [{"op": "null", "name": "x", "inputs": []},
                                 {"op": "Pooling", "name": "pool", "attrs": attrs, "inputs": [[0, 0, 0]]}],
                       "arg_nodes": [0], "heads": [[1, 0, 0]]})


@pytest.mark.parametrize("param, value", [("stride", "(0, 0)"), ("stride", "(-1, -1)"),
                                          ("kernel", "(0, 0)"), ("pad", "(-1, 0)")])
def test_pooling_geometry_from_a_file_is_refused_at_load_naming_the_node(param, value):
    with pytest.raises(JSONFormatError, match=rf"node 1 \('pool'\).*'{param}'"):
        mx.sym.load_json(_pooling_json(**{param: value}))


def test_a_kernel_larger_than_its_input_is_refused_before_binding():
    net = mx.sym.load_json(_pooling_json(kernel="(5, 7)", pooling_convention="valid"))
    with pytest.raises((ShapeError, BindError), match="pool"):
        net.simple_bind(mx.cpu(), grad_req="null", x=(1, 2, 3, 4))
