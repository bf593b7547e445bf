"""Window attributes of Pooling, Convolution and Deconvolution are checked when the symbol is
created or loaded (issue 15): a zero or negative kernel, stride or dilate, or a negative pad,
raises cysym.MXNetError naming the operator instance, the parameter and the value, instead of
a ZeroDivisionError or negative shapes later.  MXNet 1.9.1 refuses a zero kernel or stride
when it parses them ("value [0,0] for Parameter stride is invalid") and accepts a pad larger
than the kernel, as these tests do."""
import json

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError

BAD_WINDOWS = [
    # (operator, good arguments, the bad parameter, its value)
    ("Pooling", dict(kernel=(2, 3)), "stride", (0, 0)),
    ("Pooling", dict(kernel=(2, 3)), "stride", (-1, -1)),
    ("Pooling", dict(), "kernel", (0, 0)),
    ("Pooling", dict(global_pool=True), "kernel", (0, 2)),
    ("Pooling", dict(kernel=(2, 3), global_pool=True), "stride", (1, 0)),
    ("Pooling", dict(kernel=(2, 3)), "pad", (-1, 0)),
    ("Convolution", dict(kernel=(2, 3), num_filter=4), "stride", (0, 1)),
    ("Convolution", dict(num_filter=4), "kernel", (0, 3)),
    ("Convolution", dict(kernel=(2, 3), num_filter=4), "dilate", (1, -2)),
    ("Convolution", dict(kernel=(2, 3), num_filter=4), "pad", (0, -1)),
    ("Deconvolution", dict(kernel=(2, 3), num_filter=4), "stride", (-2, 1)),
    ("Deconvolution", dict(num_filter=4), "kernel", (2, 0)),
    ("Deconvolution", dict(kernel=(2, 3), num_filter=4), "dilate", (0, 0)),
    ("Deconvolution", dict(kernel=(2, 3), num_filter=4), "pad", (-1, 1)),
]


def _ids(case):
    op, _, name, value = case
    return f"{op}-{name}{'x'.join(map(str, value))}"


def _message(op, name, value):
    # the instance, the parameter and the value, e.g. Pooling(name='pool7'): invalid value (0, 0)
    # for parameter 'stride' (the value quoted when it was read from a file)
    return (rf"{op}\(name='win7'\): invalid value '?\({value[0]}, {value[1]}\)'? for "
            rf"parameter '{name}': each value must be at least")


@pytest.mark.parametrize("case", BAD_WINDOWS, ids=[_ids(c) for c in BAD_WINDOWS])
def test_symbol_creation_refuses_bad_window(case):
    op, good, name, value = case
    with pytest.raises(MXNetError, match=_message(op, name, value)):
        getattr(mx.sym, op)(mx.sym.var("data"), name="win7", **good, **{name: value})


@pytest.mark.parametrize("case", BAD_WINDOWS, ids=[_ids(c) for c in BAD_WINDOWS])
def test_loading_refuses_bad_window(case):
    op, good, name, value = case
    symbol = getattr(mx.sym, op)(mx.sym.var("data"), name="win7", **{"kernel": (2, 3), **good})
    graph = json.loads(symbol.tojson())
    node = next(n for n in graph["nodes"] if n["name"] == "win7")
    node["attrs"][name] = str(value)
    with pytest.raises(MXNetError, match=_message(op, name, value)):
        mx.sym.load_json(json.dumps(graph))


def test_imperative_pooling_refuses_zero_stride():
    with pytest.raises(MXNetError, match="parameter 'stride': each value must be at least 1"):
        mx.nd.Pooling(mx.nd.array(np.ones((2, 3, 7, 6))), kernel=(2, 2), stride=(0, 0))


def test_pad_larger_than_kernel_is_accepted_as_in_mxnet():
    # MXNet 1.9.1: Pooling(kernel=(2, 2), pad=(3, 3)) of (2, 3, 7, 6) data gives (2, 3, 12, 11)
    pool = mx.sym.Pooling(mx.sym.var("data"), kernel=(2, 2), pad=(3, 3))
    assert pool.infer_shape(data=(2, 3, 7, 6))[1] == [(2, 3, 12, 11)]
