"""Layer ops beyond the registry table: kernels called straight through a runner.Plan
(dtype x req), Deconvolution against a NumPy transposed convolution over many geometries and
against Convolution's data gradient, target_shape, symbol structure, JSON round trips and
error messages naming the operator instance."""

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError
from cysym.registry import get_op
from cysym._ops import conv, layers, runner

from opcases_layers import (np_deconv, np_instance_norm, np_l2_normalization, np_layer_norm,
                            np_lrn, np_softmax_activation, np_upsampling)

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def _ids(values):
    return [np.dtype(v).name if isinstance(v, type) else str(v) for v in values]


def _rng_array(rng, shape, dtype):
    return rng.uniform(0.2, 1.5, shape).astype(dtype) * rng.choice([-1, 1], shape).astype(dtype)


def _apply(initial, req, result):
    """What a kernel with request `req` leaves in a buffer holding `initial`."""
    return initial + result if req == "add" else result


# ---------------------------------------------------------------------------------------------
# forward kernels, dtype x req

@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids(DTYPES))
def test_layer_norm_kernel(dtype, req):
    rng = np.random.default_rng(0)
    x = _rng_array(rng, (2, 3, 5), dtype)
    gamma, beta = _rng_array(rng, (3,), dtype), _rng_array(rng, (3,), dtype)
    y0 = _rng_array(rng, x.shape, dtype)
    y, mean, std = y0.copy(), np.zeros((2, 1, 5), dtype), np.zeros((2, 1, 5), dtype)
    plan = runner.Plan()
    layers.append_layer_norm(plan, x, gamma, beta, y, mean, std, axis=1, eps=1e-3, req=req)
    plan.run()
    out, mu, sd = np_layer_norm(*(a.astype(np.float64) for a in (x, gamma, beta)), axis=1,
                                eps=1e-3, output_mean_var=True)
    np.testing.assert_allclose(y, _apply(y0, req, out), **TOL[dtype])
    np.testing.assert_allclose(mean, mu, **TOL[dtype])
    np.testing.assert_allclose(std, sd, **TOL[dtype])


@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids(DTYPES))
def test_instance_norm_kernel(dtype, req):
    rng = np.random.default_rng(1)
    x = _rng_array(rng, (2, 3, 4, 5), dtype)
    gamma, beta = _rng_array(rng, (3,), dtype), _rng_array(rng, (3,), dtype)
    y0 = _rng_array(rng, x.shape, dtype)
    y, mean, var = y0.copy(), np.zeros((2, 3), dtype), np.zeros((2, 3), dtype)
    plan = runner.Plan()
    layers.append_instance_norm(plan, x, gamma, beta, y, mean, var, eps=1e-3, req=req)
    plan.run()
    x64 = x.astype(np.float64)
    expected = np_instance_norm(x64, gamma.astype(np.float64), beta.astype(np.float64), 1e-3)
    np.testing.assert_allclose(y, _apply(y0, req, expected), **TOL[dtype])
    np.testing.assert_allclose(mean, x64.mean(axis=(2, 3)), **TOL[dtype])
    np.testing.assert_allclose(var, x64.var(axis=(2, 3)), **TOL[dtype])


@pytest.mark.parametrize("mode,shape,norm_shape", [
    ("instance", (2, 3, 5), (2,)), ("channel", (2, 3, 4, 5), (2, 1, 4, 5)),
    ("spatial", (2, 3, 4, 5), (2, 3))])
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids(DTYPES))
def test_l2_normalization_kernel(dtype, req, mode, shape, norm_shape):
    rng = np.random.default_rng(2)
    x = _rng_array(rng, shape, dtype)
    y0 = _rng_array(rng, shape, dtype)
    y, norm = y0.copy(), np.zeros(norm_shape, dtype)
    plan = runner.Plan()
    layers.append_l2_normalization(plan, x, y, norm, mode=mode, eps=1e-6, req=req)
    plan.run()
    x64 = x.astype(np.float64)
    expected = np_l2_normalization(x64, mode, 1e-6)
    np.testing.assert_allclose(y, _apply(y0, req, expected), **TOL[dtype])
    np.testing.assert_allclose(norm.reshape(-1), (x64 / expected).reshape(x.shape[0], -1)[
        :, 0] if mode == "instance" else (x64 / expected)[:, :1].reshape(-1)
        if mode == "channel" else (x64 / expected)[:, :, 0, 0].reshape(-1), **TOL[dtype])


@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids(DTYPES))
def test_lrn_kernel(dtype, req):
    rng = np.random.default_rng(3)
    x = _rng_array(rng, (2, 6, 3, 4), dtype)
    y0 = _rng_array(rng, x.shape, dtype)
    y, tmp = y0.copy(), np.zeros(x.shape, dtype)
    plan = runner.Plan()
    layers.append_lrn(plan, x, y, tmp, nsize=5, alpha=0.3, beta=0.6, knorm=1.2, req=req)
    plan.run()
    x64 = x.astype(np.float64)
    expected = np_lrn(x64, 5, 0.3, 0.6, 1.2)
    np.testing.assert_allclose(y, _apply(y0, req, expected), **TOL[dtype])
    np.testing.assert_allclose(tmp, (x64 / expected) ** (1 / 0.6), rtol=1e-4 if dtype == np.float32
                               else 1e-10)


@pytest.mark.parametrize("mode", ["instance", "channel"])
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids(DTYPES))
def test_softmax_activation_kernel(dtype, req, mode):
    rng = np.random.default_rng(4)
    x = _rng_array(rng, (2, 3, 4, 5), dtype) * 3
    y0 = _rng_array(rng, x.shape, dtype)
    y = y0.copy()
    plan = runner.Plan()
    layers.append_softmax_activation(plan, x, y, mode=mode, req=req)
    plan.run()
    expected = np_softmax_activation(x.astype(np.float64), mode)
    np.testing.assert_allclose(y, _apply(y0, req, expected), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=_ids(DTYPES))
def test_softmax_activation_in_place(dtype):
    """The forward may be given its input's buffer as output (declared in-place pair)."""
    x = np.random.default_rng(5).standard_normal((2, 3, 5)).astype(dtype)
    expected = np_softmax_activation(x.astype(np.float64), "channel")
    plan = runner.Plan()
    layers.append_softmax_activation(plan, x, x, mode="channel")
    plan.run()
    np.testing.assert_allclose(x, expected, **TOL[dtype])


@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids(DTYPES))
def test_upsampling_kernels(dtype, req):
    rng = np.random.default_rng(6)
    a, b = _rng_array(rng, (2, 3, 2, 3), dtype), _rng_array(rng, (2, 2, 4, 2), dtype)
    y0 = _rng_array(rng, (2, 5, 4, 6), dtype)
    y = y0.copy()
    plan = runner.Plan()
    layers.append_upsampling(plan, a, y, offset=0, req=req)
    layers.append_upsampling(plan, b, y, offset=3, req=req)
    plan.run()
    expected = np_upsampling(2, 2, arg0=a.astype(np.float64), arg1=b.astype(np.float64))
    np.testing.assert_allclose(y, _apply(y0, req, expected), **TOL[dtype])
    # backward: the transpose of the forward, <up(a), dy> == <a, up_T(dy)>
    dy = _rng_array(rng, y.shape, dtype)
    da0 = _rng_array(rng, a.shape, dtype)
    da = da0.copy()
    plan = runner.Plan()
    layers.append_upsampling_backward(plan, dy, da, offset=0, req=req)
    plan.run()
    blocks = dy[:, :3].astype(np.float64).reshape(2, 3, 2, 2, 3, 2).sum(axis=(3, 5))
    np.testing.assert_allclose(da, _apply(da0, req, blocks), **TOL[dtype])


def test_upsampling_mxnet_doc_example():
    x = mx.sym.Variable("x")
    up = mx.sym.UpSampling(x, scale=2, sample_type="nearest")
    exe = up.simple_bind(mx.cpu(), x=(1, 1, 3, 3))
    exe.arg_dict["x"][:] = 1
    np.testing.assert_array_equal(exe.forward()[0], np.ones((1, 1, 6, 6)))


# ---------------------------------------------------------------------------------------------
# backward kernels against float64 finite differences of the forward kernels

def _numeric_grad(fn, x, dy, eps=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        grad[idx] = ((fn(plus) - fn(minus)) * dy).sum() / (2 * eps)
    return grad


@pytest.mark.parametrize("req", ["write", "add"])
def test_lrn_backward_kernel_finite_differences(req):
    rng = np.random.default_rng(7)
    x = _rng_array(rng, (2, 5, 2, 3), np.float64)
    dy = _rng_array(rng, x.shape, np.float64)
    tmp, y = np.zeros_like(x), np.zeros_like(x)
    dx0 = _rng_array(rng, x.shape, np.float64)
    dx = dx0.copy()
    plan = runner.Plan()
    layers.append_lrn(plan, x, y, tmp, nsize=3, alpha=0.4, beta=0.7, knorm=1.1)
    layers.append_lrn_backward(plan, dy, x, tmp, dx, nsize=3, alpha=0.4, beta=0.7, req=req)
    plan.run()
    numeric = _numeric_grad(lambda v: np_lrn(v, 3, 0.4, 0.7, 1.1), x, dy)
    np.testing.assert_allclose(dx, _apply(dx0, req, numeric), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_layer_norm_backward_kernel_finite_differences(axis, req):
    rng = np.random.default_rng(8)
    x = _rng_array(rng, (2, 3, 5), np.float64)
    channels = x.shape[axis]
    gamma, beta = _rng_array(rng, (channels,), np.float64), _rng_array(rng, (channels,), np.float64)
    dy = _rng_array(rng, x.shape, np.float64)
    moments = tuple(1 if k == axis % 3 else d for k, d in enumerate(x.shape))
    y, mean, std = np.zeros_like(x), np.zeros(moments), np.zeros(moments)
    grads0 = [_rng_array(rng, s, np.float64) for s in (x.shape, (channels,), (channels,))]
    grads = [g.copy() for g in grads0]
    plan = runner.Plan()
    layers.append_layer_norm(plan, x, gamma, beta, y, mean, std, axis=axis)
    layers.append_layer_norm_backward(plan, dy, x, gamma, mean, std, *grads, axis=axis,
                                      req_dx=req, req_dgamma=req, req_dbeta=req)
    plan.run()
    numeric = [_numeric_grad(lambda v: np_layer_norm(v, gamma, beta, axis), x, dy),
               _numeric_grad(lambda v: np_layer_norm(x, v, beta, axis), gamma, dy),
               _numeric_grad(lambda v: np_layer_norm(x, gamma, v, axis), beta, dy)]
    for got, start, num in zip(grads, grads0, numeric):
        np.testing.assert_allclose(got, _apply(start, req, num), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# Deconvolution

DECONV_GEOMETRIES = [
    # (data shape, num_filter, kernel, stride, pad, adj, dilate, num_group)
    ((2, 3, 4, 5), 2, (3, 3), (1, 1), (0, 0), (0, 0), (1, 1), 1),
    ((2, 3, 4, 5), 4, (3, 2), (2, 3), (1, 0), (1, 2), (1, 1), 1),
    ((1, 4, 3, 5), 6, (2, 3), (2, 1), (0, 1), (0, 0), (2, 1), 2),
    ((3, 6, 2, 3), 3, (4, 4), (3, 2), (1, 2), (2, 1), (1, 1), 3),
    ((2, 2, 5, 3), 4, (1, 1), (2, 2), (0, 0), (1, 0), (1, 1), 2),
    ((2, 3, 7), 5, (3,), (2,), (1,), (1,), (1,), 1),
    ((2, 4, 6), 2, (2,), (3,), (0,), (2,), (2,), 2),
]


def _deconv_symbol(geometry, no_bias=False, **extra):
    shape, filters, kernel, stride, pad, adj, dilate, group = geometry
    return mx.sym.Deconvolution(mx.sym.Variable("data"), kernel=kernel, stride=stride, pad=pad,
                                adj=adj, dilate=dilate, num_filter=filters, num_group=group,
                                no_bias=no_bias, name="deconv", **extra)


@pytest.mark.parametrize("dtype", DTYPES, ids=_ids(DTYPES))
@pytest.mark.parametrize("geometry", DECONV_GEOMETRIES, ids=lambda g: f"{g[0]}-k{g[2]}-s{g[3]}-g{g[7]}")
def test_deconvolution_matches_numpy(geometry, dtype):
    shape, filters, kernel, stride, pad, adj, dilate, group = geometry
    sym = _deconv_symbol(geometry)
    exe = sym.simple_bind(mx.cpu(), data=shape, type_dict={"data": dtype}, grad_req="write")
    rng = np.random.default_rng(9)
    values = {n: _rng_array(rng, a.shape, dtype) for n, a in exe.arg_dict.items()}
    for n, v in values.items():
        exe.arg_dict[n][:] = v
    out = exe.forward(is_train=True)[0]
    v64 = {n: v.astype(np.float64) for n, v in values.items()}
    expected = np_deconv(v64["data"], v64["deconv_weight"], v64["deconv_bias"], kernel, stride,
                         dilate, pad, adj, None, group)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("geometry", DECONV_GEOMETRIES, ids=lambda g: f"{g[0]}-k{g[2]}-s{g[3]}-g{g[7]}")
def test_deconvolution_gradient(geometry):
    sym = _deconv_symbol(geometry)
    shapes, _, _ = sym.infer_shape(data=geometry[0])
    rng = np.random.default_rng(10)
    location = {n: _rng_array(rng, s, np.float64) for n, s in zip(sym.list_arguments(), shapes)}
    mx.test_utils.check_numeric_gradient(sym, location, numeric_eps=2e-6, rtol=1e-5, atol=1e-8,
                                         dtype=np.float64)


@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids(DTYPES))
def test_deconvolution_backward_kernel_req(dtype, req):
    """Each gradient honours its own request; a null request leaves its buffer untouched."""
    rng = np.random.default_rng(11)
    x, w = _rng_array(rng, (2, 4, 3, 5), dtype), _rng_array(rng, (4, 3, 3, 2), dtype)
    geo = dict(kernel=(3, 2), stride=(2, 1), pad=(1, 0), num_group=1)
    y = np.zeros((2, 3, 6, 6), dtype)
    plan = runner.Plan()
    conv.append_deconvolution(plan, x, w, None, y, **geo)
    plan.run()
    dy = _rng_array(rng, y.shape, dtype)
    starts = [_rng_array(rng, s, dtype) for s in (x.shape, w.shape, (3,))]
    dx, dw, db = [s.copy() for s in starts]
    plan = runner.Plan()
    conv.append_deconvolution_backward(plan, dy, x, w, dx, dw, db, req_dx=req, req_dw="null",
                                       req_db=req, **geo)
    plan.run()
    # dx = Convolution(dy, w): the forward of the Convolution this Deconvolution transposes
    conv_dx = np.zeros(x.shape, dtype)
    plan = runner.Plan()
    conv.append_convolution(plan, dy, w, None, conv_dx, num_filter=4, **geo)
    plan.run()
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, _apply(starts[0], req, conv_dx), **tol)
    np.testing.assert_array_equal(dw, starts[1])
    np.testing.assert_allclose(db, _apply(starts[2], req, dy.astype(np.float64).sum((0, 2, 3))),
                               **tol)


def test_deconvolution_is_convolution_data_gradient():
    """Deconvolution(x, w) == d/d data <Convolution(data, w), x> with the same geometry."""
    rng = np.random.default_rng(12)
    geo = dict(kernel=(3, 2), stride=(2, 2), pad=(1, 0), dilate=(1, 2), num_group=2)
    x, w = rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 3, 3, 2))
    data = mx.sym.Variable("data")
    deconv = mx.sym.Deconvolution(data, mx.sym.Variable("w"), num_filter=6, adj=(1, 1), **geo)
    out_shape = deconv.infer_shape(data=x.shape)[1][0]
    exe = deconv.simple_bind(mx.cpu(), data=x.shape, type_dict={"data": np.float64})
    exe.arg_dict["data"][:] = x
    exe.arg_dict["w"][:] = w
    y = exe.forward()[0]
    convolution = mx.sym.Convolution(data, mx.sym.Variable("w"), num_filter=4, no_bias=True, **geo)
    cexe = convolution.simple_bind(mx.cpu(), data=out_shape, type_dict={"data": np.float64},
                                   grad_req={"data": "write", "w": "null"})
    cexe.arg_dict["w"][:] = w
    cexe.forward(is_train=True)
    cexe.backward([x])
    np.testing.assert_allclose(y, cexe.grad_dict["data"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("data_shape,target,stride,kernel,expected_pad,expected_adj", [
    ((1, 2, 3, 4), (7, 9), (2, 2), (4, 3), (1, 0), (1, 0)),
    ((1, 2, 5, 5), (10, 10), (2, 2), (4, 4), (1, 1), (0, 0)),
    ((1, 2, 4), (8,), (2,), (3,), (1,), (1,)),
])
def test_deconvolution_target_shape(data_shape, target, stride, kernel, expected_pad,
                                    expected_adj):
    sym = mx.sym.Deconvolution(mx.sym.Variable("data"), kernel=kernel, stride=stride,
                               target_shape=target, pad=tuple(5 for _ in kernel), num_filter=3,
                               name="up")
    arg_shapes, out_shapes, _ = sym.infer_shape(data=data_shape)
    assert out_shapes == [(data_shape[0], 3) + tuple(target)]
    # pad is ignored and the one MXNet's InferPad derives is used: same numbers as pad/adj
    explicit = mx.sym.Deconvolution(mx.sym.Variable("data"), kernel=kernel, stride=stride,
                                    pad=expected_pad, adj=expected_adj, num_filter=3, name="up")
    assert explicit.infer_shape(data=data_shape)[1] == out_shapes
    rng = np.random.default_rng(13)
    x = rng.standard_normal(data_shape)
    w = rng.standard_normal(arg_shapes[1])
    results = []
    for s in (sym, explicit):
        exe = s.simple_bind(mx.cpu(), data=data_shape, type_dict={"data": np.float64})
        exe.arg_dict["data"][:] = x
        exe.arg_dict["up_weight"][:] = w
        results.append(exe.forward()[0])
    np.testing.assert_array_equal(results[0], results[1])


def test_deconvolution_structure_and_defaults():
    d = mx.sym.Deconvolution(mx.sym.Variable("data"), kernel=(4, 4), stride=(2, 2), pad=(1, 1),
                             num_filter=8, name="up1")
    # MXNet 1.x: Deconvolution has no bias unless asked for
    assert d.list_arguments() == ["data", "up1_weight"]
    assert d.list_outputs() == ["up1_output"]
    args, outs, _ = d.infer_shape(data=(2, 3, 5, 7))
    assert args == [(2, 3, 5, 7), (3, 8, 4, 4)] and outs == [(2, 8, 10, 14)]
    d2 = mx.sym.Deconvolution(mx.sym.Variable("data"), kernel=(3, 3), num_filter=4, num_group=2,
                              no_bias=False, name="up2")
    assert d2.list_arguments() == ["data", "up2_weight", "up2_bias"]
    assert d2.infer_shape(data=(2, 6, 5, 7))[0][1:] == [(6, 2, 3, 3), (4,)]


# ---------------------------------------------------------------------------------------------
# structure: names, hidden outputs, aliases

def test_output_names_and_visible_outputs():
    x = mx.sym.Variable("x")
    ln = mx.sym.LayerNorm(x, name="ln")
    assert ln.list_arguments() == ["x", "ln_gamma", "ln_beta"] and ln.list_outputs() == ["ln_output"]
    ln3 = mx.sym.LayerNorm(x, output_mean_var=True, name="ln3")
    assert ln3.list_outputs() == ["ln3_output", "ln3_mean", "ln3_std"]
    assert ln3.infer_shape(x=(2, 3, 5))[1] == [(2, 3, 5), (2, 3, 1), (2, 3, 1)]
    assert mx.sym.InstanceNorm(x, name="in1").list_outputs() == ["in1_output"]
    assert mx.sym.L2Normalization(x, name="l2").list_outputs() == ["l2_output"]
    assert mx.sym.LRN(x, nsize=5, name="lrn").list_outputs() == ["lrn_output"]
    assert mx.sym.SoftmaxActivation(x, name="sa").list_outputs() == ["sa_output"]
    up = mx.sym.UpSampling(x, mx.sym.Variable("y"), scale=2, sample_type="nearest", name="up")
    assert up.list_arguments() == ["x", "y"]
    internals = mx.sym.LRN(x, nsize=3, name="lrn").get_internals().list_outputs()
    assert "lrn_output" in internals
    assert mx.sym.LRN(x, nsize=3).get_internals().list_outputs()[-1].endswith("_output")


class _Params:
    def __init__(self, **params):
        self.params = params

    def error(self, message):
        return MXNetError(message)


@pytest.mark.parametrize("mode,norm", [("instance", (2,)), ("channel", (2, 1, 4, 5)),
                                       ("spatial", (2, 3))])
def test_l2_normalization_norm_shape(mode, norm):
    """The hidden norm output has MXNet's shape for each mode (the backward reads it)."""
    rule = get_op("L2Normalization").infer_shape
    assert rule(_Params(mode=mode, eps=1e-10), [(2, 3, 4, 5)], [None, None]) == \
        ([(2, 3, 4, 5)], [(2, 3, 4, 5), norm])


def test_layer_norm_npx_alias():
    sym = mx.sym._npx_LayerNorm(mx.sym.Variable("x"), name="ln")
    assert mx.sym.load_json(sym.tojson()).tojson() == sym.tojson()
    assert '"LayerNorm"' in sym.tojson()


def test_docs_name_parameters():
    assert "output_mean_var" in mx.sym.LayerNorm.__doc__
    assert "target_shape" in mx.sym.Deconvolution.__doc__
    assert "multi_input_mode" in mx.sym.UpSampling.__doc__


# ---------------------------------------------------------------------------------------------
# JSON round trips

def _network():
    data = mx.sym.Variable("data")
    net = mx.sym.Deconvolution(data, kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=6,
                               name="deconv")
    net = mx.sym.LRN(net, nsize=3, alpha=0.01, name="lrn")
    net = mx.sym.InstanceNorm(net, eps=1e-4, name="inorm")
    net = mx.sym.UpSampling(net, scale=2, sample_type="nearest", num_args=1, name="up")
    net = mx.sym.L2Normalization(net, mode="channel", name="l2")
    net = mx.sym.LayerNorm(net, axis=1, name="ln")
    return mx.sym.SoftmaxActivation(net, mode="channel", name="sa")


def test_json_round_trip_runs_the_same():
    net = _network()
    again = mx.sym.load_json(net.tojson())
    assert again.tojson() == net.tojson()
    assert again.list_arguments() == net.list_arguments()
    results = []
    rng = np.random.default_rng(14)
    values = None
    for sym in (net, again):
        exe = sym.simple_bind(mx.cpu(), data=(2, 3, 3, 4), type_dict={"data": np.float64},
                              grad_req="write")
        if values is None:
            values = {n: rng.standard_normal(a.shape) for n, a in exe.arg_dict.items()}
        for n, v in values.items():
            exe.arg_dict[n][:] = v
        out = exe.forward(is_train=True)[0]
        exe.backward([np.ones(out.shape)])
        results.append((np.array(out), {n: np.array(g) for n, g in exe.grad_dict.items()}))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    for n in results[0][1]:
        np.testing.assert_array_equal(results[0][1][n], results[1][1][n])
    assert results[0][0].shape == (2, 6, 12, 16)


def test_json_keeps_mxnet_attribute_strings():
    net = _network()
    nodes = {n["name"]: n for n in __import__("json").loads(net.tojson())["nodes"]}
    assert nodes["deconv"]["op"] == "Deconvolution"
    assert nodes["deconv"]["attrs"]["kernel"] == "(4, 4)"
    assert nodes["up"]["attrs"] == {"num_args": "1", "sample_type": "nearest", "scale": "2"}
    assert nodes["lrn"]["attrs"] == {"alpha": "0.01", "nsize": "3"}


def test_load_mxnet_style_json():
    """A graph as MXNet 1.x writes it (string attrs, hidden outputs counted in node_row_ptr)."""
    import json
    graph = {
        "nodes": [
            {"op": "null", "name": "data", "inputs": []},
            {"op": "LRN", "name": "norm1", "attrs": {"alpha": "0.0001", "beta": "0.75",
                                                     "knorm": "2", "nsize": "5"},
             "inputs": [[0, 0, 0]]},
            {"op": "null", "name": "up_weight", "inputs": []},
            {"op": "Deconvolution", "name": "up",
             "attrs": {"kernel": "(4, 4)", "num_filter": "3", "pad": "(1, 1)",
                       "stride": "(2, 2)", "no_bias": "True"},
             "inputs": [[1, 0, 0], [2, 0, 0]]},
        ],
        "arg_nodes": [0, 2],
        "node_row_ptr": [0, 1, 3, 4, 5],
        "heads": [[3, 0, 0]],
        "attrs": {"mxnet_version": ["int", 10901]},
    }
    sym = mx.sym.load_json(json.dumps(graph))
    assert sym.list_arguments() == ["data", "up_weight"]
    assert sym.infer_shape(data=(1, 4, 5, 6))[1] == [(1, 3, 10, 12)]


# ---------------------------------------------------------------------------------------------
# errors name the operator instance

@pytest.mark.parametrize("build,shape,words", [
    (lambda x: mx.sym.LRN(x, nsize=4, name="lrn7"), (2, 3, 4, 5), ["lrn7", "nsize=4", "odd"]),
    (lambda x: mx.sym.LRN(x, nsize=3, name="lrn8"), (2, 3, 4), ["lrn8", "4-D"]),
    (lambda x: mx.sym.UpSampling(x, scale=2, sample_type="bilinear", num_filter=4, name="up3"),
     (2, 3, 4, 5), ["up3", "num_filter=4", "channels"]),
    (lambda x: mx.sym.Deconvolution(x, kernel=(3, 3), stride=(2, 2), adj=(2, 0), num_filter=2,
                                    name="dc1"), (2, 3, 4, 5), ["dc1", "adj=(2, 0)", "stride"]),
    (lambda x: mx.sym.Deconvolution(x, kernel=(3, 3), target_shape=(40, 40), num_filter=2,
                                    name="dc2"), (2, 3, 4, 5), ["dc2", "target_shape", "too big"]),
    (lambda x: mx.sym.Deconvolution(x, kernel=(3, 3), num_filter=3, num_group=2, name="dc3"),
     (2, 4, 4, 5), ["dc3", "num_group=2"]),
    (lambda x: mx.sym.Deconvolution(x, kernel=(3, 3), num_filter=2, name="dc4"), (2, 3, 4),
     ["dc4", "4-D"]),
    (lambda x: mx.sym.InstanceNorm(x, name="in2"), (2, 3), ["in2", "rank >= 3"]),
    (lambda x: mx.sym.L2Normalization(x, mode="spatial", name="l2b"), (2, 3), ["l2b", "3 dim"]),
    (lambda x: mx.sym.SoftmaxActivation(x, mode="channel", name="sa2"), (2, 3), ["sa2", "3 dim"]),
    (lambda x: mx.sym.LayerNorm(x, axis=3, name="ln9"), (2, 3, 4), ["ln9", "axis 3"]),
])
def test_shape_errors_name_the_instance(build, shape, words):
    with pytest.raises(MXNetError) as info:
        build(mx.sym.Variable("x")).infer_shape(x=shape)
    message = str(info.value)
    for word in words:
        assert word in message, message


def test_upsampling_input_size_error():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    up = mx.sym.UpSampling(a, b, scale=2, sample_type="nearest", name="up4")
    with pytest.raises(MXNetError, match="up4.*arg1"):
        up.infer_shape(a=(2, 3, 2, 3), b=(2, 3, 3, 3))


@pytest.mark.parametrize("op,kwargs,param", [
    ("UpSampling", dict(scale=2, sample_type="cubic"), "sample_type"),
    ("UpSampling", dict(scale=2), "sample_type"),
    ("LRN", dict(), "nsize"),
    ("L2Normalization", dict(mode="pixel"), "mode"),
    ("Deconvolution", dict(kernel=(3, 3), num_filter=2, cudnn_tune="slow"), "cudnn_tune"),
    ("Deconvolution", dict(kernel=(3, 3)), "num_filter"),
])
def test_parameter_errors_name_the_instance(op, kwargs, param):
    with pytest.raises(MXNetError) as info:
        getattr(mx.sym, op)(mx.sym.Variable("x"), name="inst5", **kwargs)
    message = str(info.value)
    assert "inst5" in message and param in message, message


def test_bind_time_errors_are_clear():
    """The append_ functions check what they are given (a kernel never sees a bad shape)."""
    plan = runner.Plan()
    x = np.zeros((2, 3, 4, 5), np.float32)
    with pytest.raises(ValueError, match="lrnX.*odd"):
        layers.append_lrn(plan, x, x.copy(), x.copy(), nsize=2, label="lrnX")
    with pytest.raises(ValueError, match="dcX.*data"):
        conv.append_deconvolution(plan, np.zeros((2, 3, 4, 4), np.float32),
                                  np.zeros((3, 2, 3, 3), np.float32), None,
                                  np.zeros((2, 2, 7, 6), np.float32), kernel=(3, 3), label="dcX")
    with pytest.raises(ValueError, match="upX"):
        layers.append_upsampling(plan, x, np.zeros((2, 3, 7, 10), np.float32), label="upX")
