"""_contrib_RROIAlign and _contrib_DeformablePSROIPooling against MXNet 1.9.1's numbers
(fixtures/mxnet/make_contrib_ops.py), and RROIAlign's lack of a gradient."""
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


def _ps_shapes(params):
    """make_contrib_ops.py's ps_shapes: data and trans shapes of a case."""
    part = params.get("part_size", 0) or params["pooled_size"]
    classes = 2 if params["output_dim"] % 2 == 0 else 1
    return ((2, params["output_dim"] * params["group_size"] ** 2, 6, 7),
            (3, 2 * classes, part, part))


@pytest.mark.parametrize("row", FIXTURE["deformable_psroi_pooling"],
                         ids=lambda row: f"{row['dtype']}-pooled{row['params']['pooled_size']}"
                                         f"{'-no-trans' if row['params'].get('no_trans') else ''}")
def test_deformable_psroi_pooling_is_mxnets(row):
    dtype, params = row["dtype"], row["params"]
    data_shape, trans_shape = _ps_shapes(params)
    names = ["data", "rois"] + ([] if params.get("no_trans") else ["trans"])
    net = mx.sym.contrib.DeformablePSROIPooling(*[mx.sym.var(n) for n in names], **params)
    shapes = dict(data=data_shape, rois=(3, 5), trans=trans_shape)
    executor = net.simple_bind(mx.cpu(), grad_req={n: "null" if n == "rois" else "write"
                                                   for n in names},
                               type_dict={n: dtype for n in names}, **{n: shapes[n] for n in names})
    executor.arg_dict["data"][:] = _pattern(data_shape)
    executor.arg_dict["rois"][:] = FIXTURE["ps_regions"]
    if "trans" in names:
        executor.arg_dict["trans"][:] = _pattern(trans_shape, 1) * 0.8
    out = executor.forward(is_train=True)[0]
    executor.backward([mx.nd.array(_pattern(out.shape, 2), dtype=dtype)])
    # float64 bit for bit; float32 within an ulp (a few of MXNet's float sums round otherwise)
    tolerance = dict(rtol=0, atol=0) if dtype == "float64" else dict(rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out.asnumpy().ravel(), row["output"], **tolerance)
    for name in names:
        if name != "rois":
            np.testing.assert_allclose(executor.grad_dict[name].asnumpy().ravel(),
                                       row[f"{name}_grad"], **tolerance, err_msg=name)
