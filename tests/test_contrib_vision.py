"""_contrib_RROIAlign against MXNet 1.9.1's numbers (fixtures/mxnet/make_contrib_ops.py), and its
lack of a gradient."""
import json
from pathlib import Path

import numpy as np
import pytest

import cysym as mx

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "mxnet" /
                      "contrib-ops-1.9.1.json").read_text())


def _pattern(shape, k=0):
    return np.sin(np.arange(int(np.prod(shape))) * 0.37 + k).reshape(shape)


@pytest.mark.parametrize("row", FIXTURE["rroi_align"],
                         ids=lambda row: f"{row['dtype']}-{row['params']['pooled_size']}")
def test_rroi_align_is_mxnets(row):
    out = mx.nd.contrib.RROIAlign(mx.nd.array(_pattern((2, 3, 5, 7)), dtype=row["dtype"]),
                                  mx.nd.array(FIXTURE["rroi_regions"], dtype=row["dtype"]),
                                  **row["params"])
    assert out.dtype == np.dtype(row["dtype"])
    # bit for bit: MXNet's arithmetic in the data's type, in its order
    assert out.asnumpy().astype(np.float64).ravel().tolist() == row["output"]


def test_rroi_align_passes_no_gradient():
    data = mx.sym.var("data")
    net = mx.sym.broadcast_add(mx.sym.contrib.RROIAlign(data * 2, mx.sym.var("rois"),
                                                        pooled_size=(2, 3), spatial_scale=1.0),
                               data.sum())
    executor = net.simple_bind(mx.cpu(), grad_req={"data": "write", "rois": "null"},
                               data=(2, 3, 5, 7), rois=(4, 6))
    executor.arg_dict["data"][:] = _pattern((2, 3, 5, 7))
    executor.arg_dict["rois"][:] = FIXTURE["rroi_regions"]
    executor.forward(is_train=True)
    executor.backward([mx.nd.ones((4, 3, 2, 3))])
    # only the sum's gradient (the 72 ones of the head) reaches data: none through RROIAlign
    np.testing.assert_array_equal(executor.grad_dict["data"].asnumpy(), np.full((2, 3, 5, 7), 72.0))
