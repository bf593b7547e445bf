"""CTCLoss (and its aliases) against numbers MXNet 1.9.1 computed; the table rows in
opcases_loss_more.py check it against a NumPy recursion and finite differences.

The literals were made with /tmp/mxref/bin/python (MXNet 1.9.1, MXNET_SUBGRAPH_BACKEND=NONE)
binding the same symbol in float32 (the only dtype of MXNet's CPU kernel), forward(is_train=True)
then backward with the head gradients given."""
import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError

V = mx.sym.Variable
DATA = np.sin(np.arange(40.0) * 0.9).reshape(4, 2, 5)


def run(sym, values, head, dtype=np.float32):
    req = {n: "write" if n == "data" else "null" for n in sym.list_arguments()}
    exe = sym.simple_bind(mx.cpu(), grad_req=req, type_dict={n: dtype for n in values},
                          **{n: v.shape for n, v in values.items()})
    for n, v in values.items():
        exe.arg_dict[n][:] = v
    out = np.array(exe.forward(is_train=True)[0])
    exe.backward([np.asarray(head, dtype)])
    return out, np.array(exe.grad_dict["data"])


@pytest.mark.parametrize("name", ["CTCLoss", "ctc_loss", "_contrib_CTCLoss", "_contrib_ctc_loss"])
def test_every_name_is_the_one_operator(name):
    sym = mx.sym.load_json(mx.sym.CTCLoss(V("data"), V("label"), name="ctc").tojson()
                                  .replace('"CTCLoss"', f'"{name}"'))
    assert sym.list_outputs() == ["ctc_output0"]
    assert sym.get_internals().list_outputs() == ["data", "label", "ctc_output0"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ctc_matches_mxnet_blank_first(dtype):
    label = np.array([[1, 3, 0], [2, 2, 4]], float)
    sym = mx.sym.contrib.ctc_loss(V("data"), V("label"))
    out, grad = run(sym, dict(data=DATA, label=label), [1.0, 0.5], dtype)
    np.testing.assert_allclose(out, [3.2705057, 7.9816957], rtol=2e-6)
    np.testing.assert_allclose(grad[:, 0], [[0.01385068, -0.61588013, 0.3304976, 0.19135524, 0.08017658],
                                            [-0.13217014, -0.1607462, 0.09330265, -0.05772866, 0.2573425],
                                            [0.01868456, 0.10775571, 0.28709635, -0.5998436, 0.18630679],
                                            [-0.36687422, 0.2619104, 0.11000884, -0.09275088, 0.0877059]],
                               atol=2e-6)
    np.testing.assert_allclose(grad[3, 1], [0.06804183, 0.14386965, 0.16198067, 0.08877452, -0.4626667],
                               atol=2e-6)


def test_ctc_matches_mxnet_blank_last_with_data_lengths():
    label = np.array([[0, 2, -1], [1, 1, 3]], float)
    sym = mx.sym.CTCLoss(V("data"), V("label"), V("dl"), use_data_lengths=True, blank_label="last")
    out, grad = run(sym, dict(data=DATA, label=label, dl=np.array([3.0, 4.0])), [1.0, 1.0])
    np.testing.assert_allclose(out, [3.3010173, 9.940046], rtol=2e-6)
    np.testing.assert_allclose(grad[:, 0], [[-0.64045954, 0.27316573, 0.3304976, 0.19135524, -0.1545589],
                                            [-0.22438842, 0.15747218, -0.05631068, 0.11614056, 0.00708666],
                                            [0.06004877, 0.13382952, -0.65402377, 0.33271852, 0.1274268],
                                            [0, 0, 0, 0, 0]], atol=2e-6)
    np.testing.assert_allclose(grad[3, 1], [0.13608366, 0.2877393, 0.32396135, -0.822451, 0.07466661],
                               atol=2e-6)


def test_labels_that_cannot_fit_cost_zero():
    """[1, 1, 1] needs 5 steps (a blank between repeats): with 4 it costs 0, as in MXNet, and
    gets a zero gradient (MXNet leaves its gradient unwritten)."""
    label = np.array([[1, 1, 1], [2, 3, 0]], float)
    out, grad = run(mx.sym.CTCLoss(V("data"), V("label")), dict(data=DATA, label=label), [1.0, 1.0],
                    np.float64)
    assert out[0] == 0 and out[1] > 0
    np.testing.assert_array_equal(grad[:, 0], 0)
    assert np.abs(grad[:, 1]).max() > 0


def test_label_outside_the_alphabet_is_an_error():
    label = np.array([[1, 5, 0], [2, 3, 0]], float)
    with pytest.raises(MXNetError, match="CTCLoss"):
        run(mx.sym.CTCLoss(V("data"), V("label")), dict(data=DATA, label=label), [1.0, 1.0])
