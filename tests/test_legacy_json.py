"""MXNet's `_v1` legacy layers (Convolution_v1, Pooling_v1, BatchNorm_v1) load from JSON as the
operators that replaced them, with the numbers MXNet 1.9.1 computes for them."""
import json

import numpy as np
import pytest

import cysym as mx

# Written by MXNet 1.9.1 (attrs of the variables dropped, key order kept) from
#   c = mx.sym.Convolution_v1(data, num_filter=3, kernel=(2, 3), pad=(1, 0), stride=(1, 2), name='conv')
#   b = mx.sym.BatchNorm_v1(c, fix_gamma=False, eps=0.01, name='bn')
#   p = mx.sym.Pooling_v1(b, kernel=(2, 2), stride=(1, 1), pad=(1, 0), pool_type='avg',
#                         pooling_convention='full', name='pool')
LEGACY_JSON = json.dumps({
    "nodes": [
        {"op": "null", "name": "data", "inputs": []},
        {"op": "null", "name": "conv_weight", "inputs": []},
        {"op": "null", "name": "conv_bias", "inputs": []},
        {"op": "Convolution_v1", "name": "conv",
         "attrs": {"kernel": "(2, 3)", "num_filter": "3", "pad": "(1, 0)", "stride": "(1, 2)"},
         "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]},
        {"op": "null", "name": "bn_gamma", "inputs": []},
        {"op": "null", "name": "bn_beta", "inputs": []},
        {"op": "null", "name": "bn_moving_mean", "inputs": []},
        {"op": "null", "name": "bn_moving_var", "inputs": []},
        {"op": "BatchNorm_v1", "name": "bn", "attrs": {"eps": "0.01", "fix_gamma": "False"},
         "inputs": [[3, 0, 0], [4, 0, 0], [5, 0, 0], [6, 0, 1], [7, 0, 1]]},
        {"op": "Pooling_v1", "name": "pool",
         "attrs": {"kernel": "(2, 2)", "pad": "(1, 0)", "pool_type": "avg",
                   "pooling_convention": "full", "stride": "(1, 1)"},
         "inputs": [[8, 0, 0]]},
    ],
    "arg_nodes": [0, 1, 2, 4, 5, 6, 7],
    "node_row_ptr": [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12],
    "heads": [[9, 0, 0]],
    "attrs": {"mxnet_version": ["int", 10901]},
})


def _values(shape, k):
    """The inputs MXNet was run with: sin(0.37 * i + k) over the flat index."""
    return np.sin(np.arange(int(np.prod(shape))) * 0.37 + k).reshape(shape)


def test_v1_layers_load_as_current_operators():
    net = mx.sym.load_json(LEGACY_JSON)
    ops = [node["op"] for node in json.loads(net.tojson())["nodes"] if node["op"] != "null"]
    assert ops == ["Convolution", "BatchNorm", "Pooling"]
    assert net.list_auxiliary_states() == ["bn_moving_mean", "bn_moving_var"]
    _, out_shapes, _ = net.infer_shape(data=(2, 2, 5, 7))
    assert out_shapes == [(2, 3, 7, 2)]


@pytest.mark.parametrize("is_train, total, row", [
    # out.sum() and out[1, 2, 3] from MXNet 1.9.1 (float32), for the inputs of _values: arguments
    # k = 0, 1, ... in list_arguments() order, aux states _values(shape, 10 + k) ** 2 (+ 0.5 for
    # the variance)
    (False, -56.477360025048256, [-0.869904, -0.587385]),
    (True, -64.77570873498917, [-1.095614, -0.937159]),
], ids=["inference", "training"])
def test_v1_layers_compute_as_mxnet(is_train, total, row):
    net = mx.sym.load_json(LEGACY_JSON)
    executor = net.simple_bind(mx.cpu(), grad_req="null", data=(2, 2, 5, 7))
    for k, name in enumerate(net.list_arguments()):
        executor.arg_dict[name][:] = _values(executor.arg_dict[name].shape, k)
    for k, name in enumerate(net.list_auxiliary_states()):
        executor.aux_dict[name][:] = (_values(executor.aux_dict[name].shape, 10 + k) ** 2
                                      + (0.5 if name.endswith("var") else 0.0))
    out = executor.forward(is_train=is_train)[0].asnumpy().astype(np.float64)
    np.testing.assert_allclose(out.sum(), total, rtol=1e-5)
    np.testing.assert_allclose(out[1, 2, 3], row, rtol=1e-5, atol=1e-6)
