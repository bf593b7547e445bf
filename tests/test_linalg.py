"""The linalg family beyond the registry table (tests/opcases_linalg.py): the gradients of the
ops that read one triangle of a symmetric input, values computed by MXNet 1.9.1, the
mx.sym.linalg / mx.nd.linalg namespaces and failed factorizations."""
import numpy as np
import pytest

import cysym as mx
from cysym.test_utils import check_numeric_gradient


def symmetric_input(x):
    """0.5 * (x + x^T) on the last two axes, as a graph."""
    return 0.5 * (x + mx.sym.swapaxes(x, dim1=-1, dim2=-2))


@pytest.mark.parametrize("lower", [True, False])
def test_potrf_gradient_on_symmetric_input(lower):
    # MXNet's gradient of potrf is symmetric: finite differences see it through a symmetric input
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (2, 4, 4))
    x = x @ x.transpose(0, 2, 1) + 4 * np.eye(4)
    sym = mx.sym.linalg.potrf(symmetric_input(mx.sym.Variable("x")), lower=lower)
    check_numeric_gradient(sym, {"x": x}, numeric_eps=2e-6, rtol=1e-5, atol=1e-8, dtype=np.float64)


def test_syevd_gradient_on_symmetric_input():
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.uniform(-1, 1, (2, 3, 3)))
    x = (q * np.array([1.0, 2.5, 4.0])) @ q.transpose(0, 2, 1)
    u, l = mx.sym.linalg.syevd(symmetric_input(mx.sym.Variable("x")))
    for sym in (mx.sym.Group([u, l]), u, l):
        check_numeric_gradient(sym, {"x": x}, numeric_eps=2e-6, rtol=1e-5, atol=1e-8, dtype=np.float64)


def test_gelqf_gradient_of_one_output():
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (2, 3)) + np.eye(2, 3) * 2
    q, l = mx.sym.linalg.gelqf(mx.sym.Variable("x"))
    for sym in (q, l):
        check_numeric_gradient(sym, {"x": x}, numeric_eps=2e-6, rtol=1e-5, atol=1e-8, dtype=np.float64)


# Values printed by MXNet 1.9.1 (/tmp/mxref, mx.nd.linalg.<op> on these inputs, float32).
MXNET_VALUES = [
    ("gelqf", [[1., 2., 3.], [4., 5., 6.]], {},
     [[[-0.26726115, -0.5345225, -0.8017837], [0.87287164, 0.21821794, -0.4364358]],
      [[-3.7416575, 0.], [-8.552359, 1.9639605]]]),
    ("syevd", [[1., 2.], [2., 4.]], {},
     [[[0.8944272, -0.4472136], [0.4472136, 0.8944272]], [0., 5.]]),
    ("det", [[1., 4.], [2., 3.]], {}, [[-5.]]),
    ("slogdet", [[1., 4.], [2., 3.]], {}, [[-1.], [1.609438]]),
    ("sumlogdiag", [[1.0, 1.0], [1.0, 7.0]], {}, [[1.9459101]]),
    ("extracttrian", [[1., 2, 3], [4, 5, 6], [7, 8, 9]], {"offset": 1}, [[2., 3., 6.]]),
    ("extracttrian", [[1., 2, 3], [4, 5, 6], [7, 8, 9]], {"lower": False},
     [[1., 2., 5., 3., 6., 9.]]),
    ("maketrian", [1., 2, 3], {"offset": 1}, [[[0., 1., 2.], [0., 0., 3.], [0., 0., 0.]]]),
    ("maketrian", [1., 2, 3], {"lower": False}, [[[1., 2.], [0., 3.]]]),
    ("potri", [[2.0, 0], [0.5, 2.0]], {}, [[[0.265625, -0.0625], [-0.0625, 0.25]]]),
    ("syrk", [[1., 2., 3.], [4., 5., 6.]], {"transpose": True},
     [[[17., 22., 27.], [22., 29., 36.], [27., 36., 45.]]]),
]


@pytest.mark.parametrize("name,data,params,expected", MXNET_VALUES,
                         ids=[f"{v[0]}-{i}" for i, v in enumerate(MXNET_VALUES)])
def test_values_computed_by_mxnet(name, data, params, expected):
    outs = getattr(mx.nd.linalg, name)(mx.nd.array(data), **params)
    outs = outs if isinstance(outs, list) else [outs]
    assert len(outs) == len(expected)
    for out, want in zip(outs, expected):
        np.testing.assert_allclose(out.asnumpy(), np.array(want, dtype=np.float32), rtol=1e-5,
                                   atol=1e-6)


def test_namespaces_and_json_names():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    sym = mx.sym.linalg.gemm2(a, b, transpose_b=True)
    assert sym.name == "gemm20"
    assert mx.sym.linalg_gemm2(a, b).tojson().count('"op": "_linalg_gemm2"') == 1
    loaded = mx.sym.load_json(sym.tojson().replace("_linalg_gemm2", "linalg_gemm2"))
    exe = loaded.simple_bind(mx.cpu(), a=(2, 3), b=(4, 3))
    out = exe.forward(a=np.ones((2, 3)), b=np.ones((4, 3)))[0]
    np.testing.assert_array_equal(out.asnumpy(), np.full((2, 4), 3.0))
    assert "syevd" in dir(mx.nd.linalg) and "gemm" in mx.sym.linalg.__all__
    assert mx.sym.linalg.det(a).list_outputs() == ["det0_output0"]
    assert mx.sym.linalg.slogdet(a).list_outputs() == ["slogdet0_output0", "slogdet0_output1"]


def test_failed_factorizations_give_nan():
    not_positive_definite = mx.nd.array([[1.0, 2.0], [2.0, 1.0]], dtype="float64")
    assert np.isnan(mx.nd.linalg.potrf(not_positive_definite).asnumpy()).all()
    singular = mx.nd.array([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 0.0], [0.0, 4.0]]], dtype="float64")
    inverse = mx.nd.linalg.inverse(singular).asnumpy()
    assert np.isnan(inverse[0]).all()
    np.testing.assert_allclose(inverse[1], [[0.5, 0.0], [0.0, 0.25]])
    sign, logabsdet = mx.nd.linalg.slogdet(singular)
    np.testing.assert_array_equal(sign.asnumpy(), [0.0, 1.0])
    assert logabsdet.asnumpy()[0] == -np.inf
    assert mx.nd.linalg.det(singular).asnumpy()[0] == 0.0


def test_det_gradient_is_zero_for_singular_matrices():
    a = mx.sym.Variable("a")
    exe = mx.sym.linalg.det(a).simple_bind(mx.cpu(), a=(2, 2, 2), type_dict={"a": np.float64})
    exe.arg_dict["a"][:] = [[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [0.0, 4.0]]]
    exe.forward(is_train=True)
    exe.backward([np.ones(2)])
    grad = exe.grad_dict["a"].asnumpy()
    np.testing.assert_array_equal(grad[0], 0.0)
    np.testing.assert_allclose(grad[1], 8.0 * np.linalg.inv([[2.0, 1.0], [0.0, 4.0]]).T)
