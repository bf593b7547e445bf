"""The deformable convolutions against numbers MXNet 1.9.1 computed.

Made with MXNet 1.9.1 (CPU, MXNET_SUBGRAPH_BACKEND=NONE) from the inputs `_inputs()` draws:
    s = mx.sym.contrib.DeformableConvolution(data, offset, weight, bias, kernel=(2, 3),
            stride=(1, 2), pad=(1, 1), num_filter=4, num_group=2, num_deformable_group=2)
    bound with args_grad, forward(is_train=True), backward(dy)
and the same call of ModulatedDeformableConvolution with the mask (forward only: MXNet
1.9.1 implements its backward on GPU only).  The literals are slices of those results.
"""
import numpy as np
import pytest

import cysym as mx

GEOMETRY = dict(kernel=(2, 3), stride=(1, 2), pad=(1, 1), num_filter=4, num_group=2,
                num_deformable_group=2)

MXNET_Y_1_2 = [  # y[1, :, 2, :]
    [0.22769002616405487, -1.5577915906906128, -1.0197733640670776],
    [-0.5217330455780029, -0.6347191333770752, -0.9256556034088135],
    [0.5779174566268921, -0.8400355577468872, 0.09739372134208679],
    [1.373337745666504, 0.30613887310028076, 1.4148681163787842]]
MXNET_DDATA_0_1 = [  # data gradient [0, 1, 1:3, :]
    [0.04764563590288162, -0.05170145258307457, 0.1612950563430786, -0.17909935116767883,
     -0.7339178919792175, 0.16411344707012177],
    [-0.045564234256744385, -0.3572461009025574, -0.04693995416164398, -0.24945762753486633,
     -0.5122306942939758, -0.1448720544576645]]
MXNET_DOFFSET_1 = [  # offset gradient [1, 4:7, 3, :] (0 where the sample falls outside)
    [0.36667686700820923, -1.085695743560791, -1.3168551921844482],
    [-0.10278359800577164, -0.3105141818523407, 0.0],
    [0.0, -0.16183701157569885, -0.825652003288269]]
MXNET_DWEIGHT_2_1 = [[-0.4597053527832031, 0.16191822290420532, -0.8698747158050537],
                     [-0.9230040311813354, -0.37852609157562256, -0.759978711605072]]
MXNET_DBIAS = [0.27609682083129883, -0.5032901763916016, 3.4268698692321777, -1.9685018062591553]
MXNET_MODULATED_Y_0_4 = [  # modulated y[0, :, 4, :]
    [0.24532866477966309, -0.19292490184307098, 0.3720165491104126],
    [-0.3212622404098511, -0.14830824732780457, -1.0738193988800049],
    [1.0504130125045776, -0.0259992778301239, 0.37135177850723267],
    [1.105933666229248, 0.9922863841056824, 0.4002317190170288]]


def _inputs():
    """The inputs of the MXNet run, drawn in its order from RandomState(3)."""
    rng = np.random.RandomState(3)
    x = rng.uniform(-1, 1, (2, 4, 5, 6)).astype(np.float32)
    offset = rng.uniform(-1.4, 1.4, (2, 24, 6, 3)).astype(np.float32)
    w = rng.uniform(-1, 1, (4, 2, 2, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (4,)).astype(np.float32)
    dy = rng.uniform(-1, 1, (2, 4, 6, 3)).astype(np.float32)
    mask = rng.uniform(0.2, 1, (2, 12, 6, 3)).astype(np.float32)
    return dict(data=x, offset=offset, weight=w, bias=b), dy, mask


def _bind(symbol, values, dtype, grad_req="null"):
    exe = symbol.simple_bind(mx.cpu(), grad_req=grad_req,
                             type_dict={n: dtype for n in values},
                             **{n: v.shape for n, v in values.items()})
    for name, value in values.items():
        exe.arg_dict[name][:] = value
    return exe


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_deformable_convolution_matches_mxnet(dtype):
    values, dy, _ = _inputs()
    variables = [mx.sym.Variable(n) for n in ("data", "offset", "weight", "bias")]
    exe = _bind(mx.sym._contrib_DeformableConvolution(*variables, **GEOMETRY), values, dtype,
                grad_req="write")
    y = exe.forward(is_train=True)[0]
    exe.backward([dy.astype(dtype)])
    tol = dict(rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(np.asarray(y)[1, :, 2, :], MXNET_Y_1_2, **tol)
    np.testing.assert_allclose(exe.grad_dict["data"][0, 1, 1:3, :], MXNET_DDATA_0_1, **tol)
    np.testing.assert_allclose(exe.grad_dict["offset"][1, 4:7, 3, :], MXNET_DOFFSET_1, **tol)
    np.testing.assert_allclose(exe.grad_dict["weight"][2, 1], MXNET_DWEIGHT_2_1, **tol)
    np.testing.assert_allclose(exe.grad_dict["bias"], MXNET_DBIAS, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_modulated_deformable_convolution_matches_mxnet(dtype):
    values, _, mask = _inputs()
    values = dict(values, mask=mask)
    variables = [mx.sym.Variable(n) for n in ("data", "offset", "mask", "weight", "bias")]
    exe = _bind(mx.sym._contrib_ModulatedDeformableConvolution(*variables, **GEOMETRY), values,
                dtype)
    y = exe.forward()[0]
    np.testing.assert_allclose(np.asarray(y)[0, :, 4, :], MXNET_MODULATED_Y_0_4, rtol=1e-5,
                               atol=2e-6)


def test_argument_names_follow_mxnet():
    data = mx.sym.Variable("data")
    assert mx.sym._contrib_DeformableConvolution(data, kernel=(3, 3), num_filter=2,
                                                 name="dc").list_arguments() == \
        ["data", "dc_offset", "dc_weight", "dc_bias"]
    assert mx.sym._contrib_ModulatedDeformableConvolution(
        data, kernel=(3, 3), num_filter=2, no_bias=True, name="mdc").list_arguments() == \
        ["data", "mdc_offset", "mdc_mask", "mdc_weight"]
