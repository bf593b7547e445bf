"""Empty inputs and outputs: every kernel handles them without reading or writing past an array.

Each case runs in a child process (harness.Worker) on arrays that end at an inaccessible page
(guarded.py), so an out-of-bounds access is a SIGSEGV counted against the case instead of a
silent read of a neighbour's memory. MXNet returns empty results for empty inputs; a reduction
over an empty axis gives its identity (a gradient summed over nothing is 0); where there is
nothing to compute a result from (resizing an empty image to a non-empty one), the error is a
cysym.MXNetError.

The last test sweeps every row of the operator table (tests/test_ops.py) with the batch axis of
every input emptied; `CYSYM_ZERO_SIZE_SWEEP=all` empties each axis of each input in turn (a few
minutes).
"""
import os

import numpy as np
import pytest

import cysym as mx
from harness import ACCEPTED

BROADCAST_OPS = ["broadcast_add", "broadcast_mul", "broadcast_sub", "broadcast_div", "broadcast_power",
                 "broadcast_maximum", "broadcast_minimum", "broadcast_hypot", "broadcast_greater",
                 "broadcast_equal", "broadcast_logical_and", "broadcast_mod"]


def run(worker, op, inputs, params=None, aux=None, dtype="float64", backward=True):
    case = {"kind": "op", "op": op, "params": params or {}, "inputs": inputs, "aux": aux or {},
            "dtype": dtype, "backward": backward}
    return worker.run(case)


@pytest.mark.parametrize("op", BROADCAST_OPS)
@pytest.mark.parametrize("lhs, rhs", [((0, 3, 5), (1, 3, 1)), ((2, 0, 5), (2, 1, 5)),
                                      ((1, 3, 1), (0, 3, 5))], ids=["lhs-0", "middle-0", "rhs-0"])
def test_broadcast_with_an_empty_operand(worker, op, lhs, rhs):
    outcome, detail = run(worker, op, {"lhs": list(lhs), "rhs": list(rhs)},
                          backward=op not in ("broadcast_greater", "broadcast_equal",
                                              "broadcast_logical_and", "broadcast_mod"))
    assert outcome == "ok", detail
    assert detail == repr([tuple(np.broadcast_shapes(lhs, rhs))])


@pytest.mark.parametrize("op, shape, params", [
    ("softmax", (2, 3, 0), {}),
    ("log_softmax", (2, 3, 0), {}),
    ("softmax", (2, 0, 5), {"axis": 1}),
    ("log_softmax", (0, 3, 5), {"axis": 0}),
    ("SoftmaxActivation", (2, 3, 0), {}),
    ("SoftmaxActivation", (2, 0, 5), {"mode": "channel"}),
], ids=lambda v: str(v))
def test_softmax_over_an_empty_axis(worker, op, shape, params):
    outcome, detail = run(worker, op, {"data": list(shape)}, params)
    assert outcome == "ok", detail
    assert detail == repr([shape])


@pytest.mark.parametrize("data, label, params", [
    ((2, 0), (2,), {}),
    ((2, 0, 5), (2, 5), {"multi_output": True}),
    ((0, 4), (0,), {"normalization": "valid"}),
])
def test_softmax_output_over_an_empty_axis(worker, data, label, params):
    outcome, detail = run(worker, "SoftmaxOutput", {"data": list(data), "label": list(label)}, params)
    assert outcome == "ok", detail


@pytest.mark.parametrize("op, data, params", [
    ("broadcast_to", (1, 0, 1), {"shape": (5, 0, 2)}),
    ("broadcast_axis", (1, 0, 1), {"axis": (0, 2), "size": (5, 2)}),
    ("broadcast_to", (2, 1), {"shape": (2, 0)}),
])
def test_broadcast_backward_sums_to_an_empty_or_from_an_empty_gradient(worker, op, data, params):
    outcome, detail = run(worker, op, {"data": list(data)}, params)
    assert outcome == "ok", detail


@pytest.mark.parametrize("req, expected", [("write", 0.0), ("add", 1.5)])
def test_a_sum_over_an_empty_axis_is_zero(req, expected):
    from cysym._ops import builds, runner
    for elemwise in builds("elemwise"):
        y = np.full((2, 1), 1.5)
        plan = runner.Plan()
        elemwise.append_sum_to(plan, np.zeros((2, 0)), y, req)
        plan.run()
        np.testing.assert_array_equal(y, np.full((2, 1), expected))


def test_prelu_on_an_empty_batch(worker):
    outcome, detail = run(worker, "LeakyReLU", {"data": [0, 3, 5], "gamma": [3]}, {"act_type": "prelu"})
    assert outcome == "ok", detail
    data, gamma = mx.sym.Variable("data"), mx.sym.Variable("gamma")
    gamma_grad = np.full(3, np.nan)
    executor = mx.sym.LeakyReLU(data, gamma, act_type="prelu").bind(
        mx.cpu(), {"data": np.zeros((0, 3, 5)), "gamma": np.ones(3)},
        args_grad={"data": np.zeros((0, 3, 5)), "gamma": gamma_grad})
    executor.forward(is_train=True)
    executor.backward(np.zeros((0, 3, 5)))
    np.testing.assert_array_equal(gamma_grad, np.zeros(3))


def test_fully_connected_with_no_input_features_gives_the_bias(worker):
    outcome, detail = run(worker, "FullyConnected", {"data": [2, 0], "weight": [4, 0], "bias": [4]},
                          {"num_hidden": 4})
    assert outcome == "ok", detail
    bias = np.array([1.0, -2.0, 3.0, 0.5])
    out = mx.nd.FullyConnected(mx.nd.zeros((2, 0, 5)), mx.nd.zeros((4, 0)), mx.nd.array(bias), num_hidden=4)
    np.testing.assert_array_equal(out.asnumpy(), np.tile(bias, (2, 1)))
    out = mx.nd.FullyConnected(mx.nd.zeros((3, 0)), mx.nd.zeros((4, 0)), num_hidden=4, no_bias=True)
    np.testing.assert_array_equal(out.asnumpy(), np.zeros((3, 4)))


def test_rnn_on_an_empty_batch(worker):
    outcome, detail = run(worker, "RNN", {"data": [3, 0, 4], "parameters": [220], "state": [1, 0, 5],
                                          "state_cell": [1, 0, 5]},
                          {"state_size": 5, "num_layers": 1, "mode": "lstm"})
    assert outcome == "ok", detail


@pytest.mark.parametrize("op, inputs, params", [
    ("_contrib_BilinearResize2D", {"data": [2, 3, 0, 7]}, {"height": 4, "width": 6}),
    ("_contrib_ROIAlign", {"data": [2, 8, 9, 0], "rois": [1, 5]}, {"pooled_size": (3, 2), "spatial_scale": 0.5}),
    ("_contrib_MultiBoxDetection", {"cls_prob": [2, 4, 24], "loc_pred": [2, 96], "anchor": [0, 24, 4]}, {}),
    ("_contrib_MultiBoxTarget", {"anchor": [1, 24, 4], "label": [2, 4, 6], "cls_pred": [2, 0, 24]},
     {"negative_mining_ratio": 3}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_nothing_to_compute_from_is_an_mxnet_error(worker, op, inputs, params):
    outcome, detail = run(worker, op, inputs, params)
    assert outcome == "mxnet_error", detail


@pytest.mark.parametrize("op, inputs, params", [
    ("_contrib_BilinearResize2D", {"data": [0, 3, 5, 7]}, {"height": 4, "width": 6}),
    ("_contrib_ROIAlign", {"data": [2, 8, 9, 11], "rois": [0, 5]}, {"pooled_size": (3, 2), "spatial_scale": 0.5}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_empty_batch_gives_empty_results(worker, op, inputs, params):
    outcome, detail = run(worker, op, inputs, params)
    assert outcome == "ok", detail


def _table_variants(every_axis):
    """(case id, op, params, inputs, aux) with one axis of the inputs emptied."""
    import test_ops   # the operator table; imported here so that collecting this file stays cheap
    from cysym.registry import get_op
    for case in test_ops.CASE_LIST:
        if get_op(case.op).dynamic_shape is not None:
            continue
        base = {name: list(shape) for name, (shape, _) in case.inputs.items()}
        aux = {name: list(shape) for name, (shape, _) in case.aux.items()}
        variants = [{name: [0] + shape[1:] if shape else shape for name, shape in base.items()}]
        if every_axis:
            variants += [dict(base, **{name: shape[:axis] + [0] + shape[axis + 1:]})
                         for name, shape in base.items() for axis in range(len(shape))]
        for inputs in variants:
            yield case.id, case.op, case.params, inputs, aux


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def test_every_operator_with_empty_inputs(worker):
    """No crash and no exception but MXNetError, forward and backward, for every table row."""
    failures = []
    every_axis = os.environ.get("CYSYM_ZERO_SIZE_SWEEP") == "all"
    for case_id, op, params, inputs, aux in _table_variants(every_axis):
        outcome, detail = run(worker, op, inputs, _jsonable(params), aux)
        if outcome not in ACCEPTED:
            failures.append(f"{case_id} {inputs}: {outcome}: {detail.strip().splitlines()[-1]}")
    assert not failures, "\n".join(failures)
