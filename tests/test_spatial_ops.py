"""The spatial operators against numbers MXNet 1.9.1 computed (the table rows in
opcases_spatial.py check them against NumPy references and finite differences).

Every literal below was made with /tmp/mxref/bin/python (MXNet 1.9.1, MXNET_SUBGRAPH_BACKEND=NONE)
binding the same symbol in float64 (GridGenerator: float32, the only dtype MXNet's CPU kernel
takes), running forward(is_train=True) and backward with a head gradient of ones."""
import numpy as np

import cysym as mx

DATA = np.sin(np.arange(24.0)).reshape(1, 2, 3, 4)
GRID = 1.2 * np.cos(0.7 * np.arange(12.0)).reshape(1, 2, 2, 3)
LOC = np.array([[0.9, 0.2, 0.1, -0.3, 1.1, -0.2]])


def run(sym, values, dtype=np.float64):
    exe = sym.simple_bind(mx.cpu(), grad_req="write", type_dict={k: dtype for k in values},
                          **{k: v.shape for k, v in values.items()})
    for k, v in values.items():
        exe.arg_dict[k][:] = v
    out = np.array(exe.forward(is_train=True)[0])
    exe.backward([np.ones(out.shape, dtype)])
    return out, {k: np.array(exe.grad_dict[k]) for k in values}


def test_bilinear_sampler_matches_mxnet():
    sym = mx.sym.BilinearSampler(mx.sym.Variable("data"), mx.sym.Variable("grid"))
    out, grads = run(sym, dict(data=DATA, grid=GRID))
    np.testing.assert_allclose(out, [[[[0.2474469092, 0.209106564, -0.3621341053],
                                       [0.5185496491, 0.661626643, -0.3545997062]],
                                      [[0.3109926972, -0.1361637157, 0.0895768974],
                                       [0.6944167821, 0.6419806553, -0.0544727465]]]], atol=1e-10)
    # one channel of the data gradient (both are the same: the head is ones)
    np.testing.assert_allclose(grads["data"][0, 1], [[0, 0, 0, 0.4118190899],
                                                     [0.7411278956, 0.0134523633, 0.1515598421, 0.9686748071],
                                                     [1.204297579, 0.6537286909, 0.777665078, 0.1962220401]],
                               atol=1e-10)
    np.testing.assert_allclose(grads["grid"], [[[[-1.1966562995, 1.7048861147, -2.42259701],
                                                 [-0.7844015418, 2.4321038134, -0.7534691593]],
                                                [[0.0108191721, -2.267120747, 0.9998532312],
                                                 [-1.5158866023, 2.3693948564, 2.3999794379]]]],
                               atol=1e-9)


def test_spatial_transformer_matches_mxnet():
    sym = mx.sym.SpatialTransformer(mx.sym.Variable("data"), mx.sym.Variable("loc"),
                                    target_shape=(2, 3), transform_type="affine",
                                    sampler_type="bilinear")
    out, grads = run(sym, dict(data=DATA, loc=LOC))
    np.testing.assert_allclose(out[0, 0], [[0, 0.6056471677, 0.1486292935],
                                           [0.5144115118, -0.4779318117, -0.2360396391]], atol=1e-10)
    np.testing.assert_allclose(grads["data"][0, 0], [[1, 0.455, 0.365, 0.28], [0, 0.005, 0.095, 0.28],
                                                     [0.32, 0.525, 0.855, 0.42]], atol=1e-10)
    np.testing.assert_allclose(grads["loc"], [[-1.4007080571, -4.6078973126, 0.796899383,
                                               1.2851236023, -4.856084786, -0.654373941]],
                               atol=1e-9)


def test_correlation_matches_mxnet():
    data1 = np.sin(np.arange(40.0)).reshape(1, 2, 4, 5)
    data2 = np.cos(np.arange(40.0)).reshape(1, 2, 4, 5)
    sym = mx.sym.Correlation(mx.sym.Variable("data1"), mx.sym.Variable("data2"), kernel_size=1,
                             max_displacement=1, pad_size=1)
    out, grads = run(sym, dict(data1=data1, data2=data2))
    assert out.shape == (1, 9, 4, 5)
    # the displacement (-1, -1) reads the padding on row 0 and column 0; (1, 1) on the last ones
    np.testing.assert_allclose(out[0, 0], [[0, 0, 0, 0, 0],
                                           [0, 0.0158854633, -0.0844318528, -0.3413067402, -0.0271940806],
                                           [0, -0.3420713288, -0.0792363988, 0.0123259083, -0.3267157506],
                                           [0, 0.044294075, -0.2964632222, -0.1932429847, 0.0616047619]],
                               atol=1e-10)
    np.testing.assert_allclose(out[0, 8, :, 0], [0.2953009615, -0.0626558306, 0.3237095732, 0],
                               atol=1e-10)
    np.testing.assert_allclose(grads["data1"][0, 0, 0], [1.392067389, 1.5609450979, 0.35136774,
                                                         -1.1812554977, -1.3501332066], atol=1e-9)
    np.testing.assert_allclose(grads["data2"][0, 1, 3], [-1.4060153962, -1.4520711222, -0.095823756,
                                                         1.3485235296, 1.3945792556], atol=1e-9)


def test_grid_generator_affine_matches_mxnet():
    sym = mx.sym.GridGenerator(mx.sym.Variable("data"), transform_type="affine", target_shape=(2, 3))
    out, grads = run(sym, dict(data=LOC), np.float32)
    np.testing.assert_allclose(out, [[[[-1, -0.1, 0.8], [-0.59999996, 0.3, 1.2]],
                                      [[-1, -1.3000001, -1.6000001], [1.2, 0.90000004, 0.6]]]],
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grads["data"], [[0, 0, 6, 0, 0, 6]], atol=1e-6)


def test_col2im_is_the_gradient_of_im2col():
    """<im2col(x), c> == <x, col2im(c)>: each is the other's adjoint, as MXNet documents."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5, 4))
    window = dict(kernel=(3, 2), stride=(2, 1), dilate=(1, 2), pad=(1, 1))
    cols = mx.nd.im2col(mx.nd.array(x, dtype=np.float64), **window).asnumpy()
    c = rng.standard_normal(cols.shape)
    image = mx.nd.col2im(mx.nd.array(c, dtype=np.float64), output_size=(5, 4), **window).asnumpy()
    np.testing.assert_allclose((cols * c).sum(), (x * image).sum(), rtol=1e-12)
