"""_contrib_hawkesll against MXNet 1.9.1's numbers (fixtures/mxnet/make_contrib_ops.py): the log
likelihood, the states and the gradients of lda, alpha and beta."""
import json
from pathlib import Path

import numpy as np
import pytest

import cysym as mx

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "mxnet" /
                      "contrib-ops-1.9.1.json").read_text())
NAMES = ["lda", "alpha", "beta", "state", "lags", "marks", "valid_length", "max_time"]


def _bind(dtype):
    inputs = FIXTURE["hawkes_inputs"]
    net = mx.sym.contrib.hawkesll(*[mx.sym.var(name) for name in NAMES])
    grad_req = {name: "write" if name in ("lda", "alpha", "beta", "state") else "null"
                for name in NAMES}
    types = {name: "int32" if name == "marks" else dtype for name in NAMES}
    executor = net.simple_bind(mx.cpu(), grad_req=grad_req, type_dict=types,
                               **{name: np.shape(inputs[name]) for name in NAMES})
    for name in NAMES:
        executor.arg_dict[name][:] = inputs[name]
    return executor


@pytest.mark.parametrize("row", FIXTURE["hawkesll"], ids=lambda row: row["dtype"])
def test_hawkesll_is_mxnets(row):
    executor = _bind(row["dtype"])
    ll, out_state = executor.forward(is_train=True)
    assert ll.dtype == np.dtype(row["dtype"])
    if row["dtype"] == "float32":
        # bit for bit: the same float arithmetic (expf, logf) in the same order
        assert ll.asnumpy().astype(np.float64).tolist() == row["output"]
        assert out_state.asnumpy().astype(np.float64).tolist() == row["out_state"]
    else:
        # MXNet's float64 goes through expf and logf: float32-accurate
        np.testing.assert_allclose(ll.asnumpy(), row["output"], rtol=1e-7)
        np.testing.assert_allclose(out_state.asnumpy(), row["out_state"], rtol=1e-6)
    # the gradients of the log likelihood alone (MXNet ignores out_state's)
    executor.backward([mx.nd.array(FIXTURE["hawkes_head"], dtype=row["dtype"]),
                       mx.nd.zeros(out_state.shape, dtype=row["dtype"])])
    for name in ("lda", "alpha", "beta"):
        np.testing.assert_allclose(executor.grad_dict[name].asnumpy(), row[f"{name}_grad"],
                                   rtol=1e-6, atol=1e-6, err_msg=name)


def test_marks_outside_the_processes_and_long_valid_lengths_are_harmless():
    inputs = {name: np.array(value, np.float64) for name, value in FIXTURE["hawkes_inputs"].items()}
    marks = inputs["marks"].copy()
    marks[0, 1] = 7          # skipped: only its lag counts
    args = {name: mx.nd.array(inputs[name], dtype="float64") for name in NAMES}
    args["marks"] = mx.nd.array(marks, dtype="int32")
    args["valid_length"] = mx.nd.array([9.0, 3.0, 4.0], dtype="float64")   # past T = 5: all 5
    ll, _ = mx.nd.contrib.hawkesll(*[args[name] for name in NAMES])
    kept = dict(args, marks=mx.nd.array(inputs["marks"], dtype="int32"))
    kept["valid_length"] = mx.nd.array([5.0, 3.0, 4.0], dtype="float64")
    reference, _ = mx.nd.contrib.hawkesll(*[kept[name] for name in NAMES])
    assert np.isfinite(ll.asnumpy()).all()
    np.testing.assert_array_equal(ll.asnumpy()[1:], reference.asnumpy()[1:])
    assert ll.asnumpy()[0] != reference.asnumpy()[0]
