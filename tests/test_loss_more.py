"""SVMOutput, softmax_cross_entropy and IdentityAttachKLSparseReg against numbers MXNet 1.9.1
computed (the table rows in opcases_loss_more.py check forwards and finite differences).

Every literal below was made with /tmp/mxref/bin/python (MXNet 1.9.1,
MXNET_SUBGRAPH_BACKEND=NONE) binding the same symbol, in float64 except
IdentityAttachKLSparseReg (float32, the only dtype MXNet's kernel takes)."""
import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError

V = mx.sym.Variable
DATA = np.sin(np.arange(15.0)).reshape(3, 5) * 1.5
LABEL = np.array([1.0, 4.0, 0.0])


def bind(sym, dtype=np.float64, **shapes):
    req = {n: "null" if n == "label" else "write" for n in sym.list_arguments()}
    return sym.simple_bind(mx.cpu(), grad_req=req, type_dict={n: dtype for n in shapes}, **shapes)


@pytest.mark.parametrize("params,expected", [
    (dict(margin=0.8, regularization_coefficient=1.5),
     [[2.4000000358, 0, 6.4918384565, 3.035040072, 0],
      [0, 1.1426302939, 5.35643973, 6.8521121456, -0.5454668522],
      [-4.8480950348, 0, 0, 4.2907517015, 6.8577331364]]),
    (dict(use_linear=True, margin=0.5), [[1, 0, 1, 1, 0], [0, 1, 1, 1, 0], [-1, 0, 0, 1, 1]]),
], ids=["L2-SVM", "L1-SVM"])
def test_svm_output_gradient_matches_mxnet(params, expected):
    exe = bind(mx.sym.SVMOutput(V("data"), V("label"), **params), data=(3, 5), label=(3,))
    exe.arg_dict["data"][:] = DATA
    exe.arg_dict["label"][:] = LABEL
    out = exe.forward(is_train=True)[0]
    np.testing.assert_array_equal(out, DATA)
    exe.backward()      # a loss head: no head gradient
    np.testing.assert_allclose(exe.grad_dict["data"], expected, rtol=1e-9, atol=1e-12)


def test_softmax_cross_entropy_matches_mxnet():
    exe = bind(mx.sym.softmax_cross_entropy(V("data"), V("label")), data=(3, 5), label=(3,))
    exe.arg_dict["data"][:] = DATA
    exe.arg_dict["label"][:] = LABEL
    out = exe.forward(is_train=True)[0]
    np.testing.assert_allclose(out, [5.5276776031], rtol=1e-10)
    exe.backward([np.array([0.7])])
    np.testing.assert_allclose(
        exe.grad_dict["data"],
        [[0.0699865872, -0.4527227715, 0.2737594368, 0.0864860929, 0.0224906546],
         [0.0168813345, 0.0467807461, 0.1905805341, 0.3137612443, -0.5680038591],
         [-0.6582257289, 0.0210800476, 0.0422436022, 0.1774276371, 0.417474442]], atol=1e-10)


def test_softmax_cross_entropy_label_out_of_range_is_an_error():
    exe = bind(mx.sym.softmax_cross_entropy(V("data"), V("label")), data=(3, 5), label=(3,))
    exe.arg_dict["data"][:] = DATA
    exe.arg_dict["label"][:] = [1, 5, 0]
    with pytest.raises(MXNetError, match="softmax_cross_entropy"):
        exe.forward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_sparse_reg_moves_its_average_in_backward_as_mxnet(dtype):
    sym = mx.sym.IdentityAttachKLSparseReg(V("data"), sparseness_target=0.2, penalty=0.01,
                                           momentum=0.7, name="kl")
    assert sym.list_auxiliary_states() == ["kl_moving_avg"]
    exe = sym.simple_bind(mx.cpu(), data=(4, 3), type_dict={"data": dtype})
    exe.arg_dict["data"][:] = (np.cos(np.arange(12.0)).reshape(4, 3) + 1.2) / 2.5
    exe.aux_dict["kl_moving_avg"][:] = [0.3, 0.5, 0.2]
    exe.forward(is_train=True)
    np.testing.assert_allclose(exe.aux_dict["kl_moving_avg"], [0.3, 0.5, 0.2], rtol=1e-7)
    exe.backward([np.ones((4, 3), dtype)])
    np.testing.assert_allclose(exe.aux_dict["kl_moving_avg"], [0.35577142, 0.48804468, 0.27579325],
                               rtol=1e-6)
    np.testing.assert_allclose(exe.grad_dict["data"], [[1.0067964, 1.0115284, 1.0037948]] * 4,
                               rtol=1e-6)
