"""mx.nd.sgd_update, sgd_mom_update and adam_update in float64 against MXNet 1.9.1 (its float32
parameters and clipping rule), and the optimizers' fused updates against the same operators."""
import numpy as np
import pytest

import cysym as mx
from cysym.ndarray_ops import invoke

I = np.arange(6, dtype=np.float64)


def signed(k):
    return np.sin(0.7 * I + k).reshape(2, 3)


def positive(k):
    return (0.2 + np.abs(np.cos(0.9 * I + k))).reshape(2, 3)


INPUTS = {"sgd_update": [signed(0), signed(1)],
          "sgd_mom_update": [signed(0), signed(1), signed(2)],
          "adam_update": [signed(0), signed(1), signed(2), positive(3)]}

# (op, params, [weight, states...] after mx.nd.<op>(*INPUTS[op], out=weight, **params)) made by
# MXNet 1.9.1 at /tmp/mxref with float64 arrays (mx.nd.array(a, dtype='float64')). The values
# show MXNet's float32 parameters (lr=0.1 is 0.10000000149...) and clip_gradient=0 clipping
# every gradient to 0.
MXNET_FLOAT64 = [
    ('sgd_update', {'lr': 0.1, 'wd': 0.05, 'rescale_grad': 0.7}, [[[-0.058902968811163796, 0.5715800621216034, 0.9332400586537457], [0.8559826733228669, 0.37614326163002487, -0.28060220340800757]]]),
    ('sgd_update', {'lr': 0.1, 'clip_gradient': 0.0}, [[[0.0, 0.644217687237691, 0.9854497299884601], [0.8632093666488739, 0.3349881501559051, -0.35078322768961984]]]),
    ('sgd_update', {'lr': 0.1, 'clip_gradient': 0.3, 'rescale_grad': 1.3}, [[[-0.03000000163912775, 0.6142176855985633, 0.9554497283493324], [0.8578038806502701, 0.36498815179503286, -0.3207832260504921]]]),
    ('sgd_mom_update', {'lr': 0.1, 'momentum': 0.9, 'wd': 0.01, 'rescale_grad': 0.7}, [[[0.7594646936526097, 0.9587988149922664, 0.7071948719963117], [0.12298613047579943, -0.5190649099187802, -0.9169916125656108]], [[0.7594646936526097, 0.31458112775457536, -0.27825485799214844], [-0.7402232361730745, -0.8540530600746853, -0.566208384875991]]]),
    ('sgd_mom_update', {'lr': 0.1, 'momentum': 0.9, 'clip_gradient': 0.4}, [[[0.7783676612716806, 0.9888595680665145, 0.7154627430647937], [0.12260191989486213, -0.5215599728538436, -0.9457695026894875]], [[0.7783676612716806, 0.3446418808288235, -0.26998698692366635], [-0.7406074467540118, -0.8565481230097487, -0.5949862749998677]]]),
    ('adam_update', {'lr': 0.01, 'wd': 0.1, 'clip_gradient': 0.6, 'rescale_grad': 1.3}, [[[-0.008054817924044394, 0.6395954363822538, 0.9886196091254753], [0.8703147583051452, 0.34391017066871127, -0.34138163285888795]], [[0.8783676791530746, 0.44464189871021753, -0.16998696904227234], [-0.7224117973887301, -0.9565481408911427, -0.6949862928812617]], [[1.189162514818279, 0.9253663792107037, 0.287571483551195], [1.0336977904865587, 1.1494423695691123, 0.5464486849486563]]]),
    ('adam_update', {'lr': 0.01, 'beta1': 0.8, 'epsilon': 0.001}, [[[-0.008205328554888428, 0.6386094028778713, 0.9867401493963689], [0.8695600128458199, 0.34355473244616097, -0.34052244947155424]], [[0.8957321392306788, 0.540236859550757, -0.06934025660967069], [-0.6463055666151735, -0.9193032698385094, -0.7599382807469619]], [[1.1895105837266353, 0.9259897702523676, 0.2876677327916783], [1.033679814305066, 1.1494567394342021, 0.547044242383324]]]),
]

W0 = signed(4)
GRADS = [signed(5), signed(6), signed(7)]
# (optimizer, arguments, the weight after three updates) made by MXNet 1.9.1 at /tmp/mxref:
# opt = mx.optimizer.create(name, **arguments), w float64 from W0, then
# opt.update(0, w, mx.nd.array(g, dtype='float64'), state) for g in GRADS
MXNET_TRAJECTORIES = [
    ('sgd', {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 0.01, 'rescale_grad': 0.7, 'clip_gradient': 0.5}, [[-0.6260967768043976, -0.9938165859238175, -0.935461377987075], [-0.43373838106734935, 0.30393419555515705, 0.8574220888501797]]),
    ('sgd', {'learning_rate': 0.1, 'wd': 0.01, 'clip_gradient': 0.0}, [[-0.6966186697229209, -1.0812293460767555, -0.9573209662961244], [-0.38316957751370084, 0.3711924507632205, 0.9509768694041631]]),
    ('adam', {'learning_rate': 0.01, 'wd': 0.01, 'rescale_grad': 0.7, 'clip_gradient': 0.5}, [[-0.7365661092380413, -0.9925698431132891, -0.8001807727470163], [-0.21144891035534266, 0.46937686467494855, 0.9231759216459036]]),
]


@pytest.mark.parametrize("op, params, expected", MXNET_FLOAT64,
                         ids=[f"{op}-{'-'.join(f'{k}={v}' for k, v in params.items())}"
                              for op, params, _ in MXNET_FLOAT64])
def test_float64_update_matches_mxnet(op, params, expected):
    arrays = [mx.nd.array(a, dtype="float64") for a in INPUTS[op]]
    result = getattr(mx.nd, op)(*arrays, out=arrays[0], **params)
    assert result is arrays[0]
    for got, want in zip(arrays[:1] + arrays[2:], expected):
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize("name, kwargs, expected", MXNET_TRAJECTORIES,
                         ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(MXNET_TRAJECTORIES)])
def test_float64_optimizer_matches_mxnet(name, kwargs, expected):
    opt = mx.optimizer.create(name, **kwargs)
    weight = mx.nd.array(W0, dtype="float64")
    state = opt.create_state(0, weight)
    for grad in GRADS:
        opt.update(0, weight, mx.nd.array(grad, dtype="float64"), state)
    np.testing.assert_allclose(weight, expected, rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", [dict(momentum=0.9, wd=0.01, rescale_grad=0.7, clip_gradient=0.5),
                                    dict(wd=0.01, clip_gradient=0.0), dict(momentum=0.5, clip_gradient=-2.0)],
                         ids=["momentum-clip", "clip0", "momentum-negative-clip"])
def test_sgd_optimizer_is_the_operator(dtype, kwargs):
    """The optimizer's fused kernel call gives the operator's bits; like MXNet's optimizer it
    passes clip_gradient to the operator only when it is truthy (0: no clipping)."""
    opt = mx.optimizer.create("sgd", learning_rate=0.1, **kwargs)
    weight, grad, mom = (mx.nd.array(a, dtype=dtype) for a in INPUTS["sgd_mom_update"])
    op_weight, op_mom = weight.copy(), mom.copy()
    state = opt.create_state(0, weight)
    if state is not None:
        state[...] = mom
    opt.update(0, weight, grad, state)
    params = dict(lr=0.1, wd=kwargs.get("wd", 0.0),
                  rescale_grad=kwargs.get("rescale_grad", 1.0))
    if kwargs["clip_gradient"]:
        params["clip_gradient"] = kwargs["clip_gradient"]
    if "momentum" in kwargs:
        invoke("sgd_mom_update", op_weight, grad, op_mom, momentum=kwargs["momentum"],
               out=op_weight, **params)
        np.testing.assert_array_equal(state, op_mom)
    else:
        invoke("sgd_update", op_weight, grad, out=op_weight, **params)
    np.testing.assert_array_equal(weight, op_weight)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip", [0.0, 0.5])
def test_adam_optimizer_is_the_operator(dtype, clip):
    """Adam folds its bias correction into lr and runs adam_update's numbers."""
    opt = mx.optimizer.create("adam", learning_rate=0.01, wd=0.01, rescale_grad=0.7,
                              clip_gradient=clip)
    weight, grad = (mx.nd.array(a, dtype=dtype) for a in INPUTS["sgd_update"])
    op_weight = weight.copy()
    mean, var = opt.create_state(0, weight)
    op_mean, op_var = mean.copy(), var.copy()
    opt.update(0, weight, grad, (mean, var))
    lr = 0.01 * np.sqrt(1 - 0.999) / (1 - 0.9)
    extra = dict(clip_gradient=clip) if clip else {}
    invoke("adam_update", op_weight, grad, op_mean, op_var, lr=lr, wd=0.01, rescale_grad=0.7,
           out=op_weight, **extra)
    np.testing.assert_array_equal(weight, op_weight)
    np.testing.assert_array_equal(mean, op_mean)
    np.testing.assert_array_equal(var, op_var)


@pytest.mark.parametrize("name, kwargs, op", [
    ("nag", dict(momentum=0.9), "nag_mom_update"),
    ("rmsprop", dict(gamma1=0.9), "rmsprop_update"),
    ("rmsprop", dict(gamma1=0.9, gamma2=0.8, centered=True), "rmspropalex_update"),
    ("signum", dict(momentum=0.9), "signum_update"),
    ("ftrl", dict(), "ftrl_update"),
], ids=["nag", "rmsprop", "rmsprop-centered", "signum", "ftrl"])
def test_numpy_optimizers_agree_with_their_operators(name, kwargs, op):
    """The optimizers written in NumPy land where their update operator does, to float32
    rounding (they keep float64 parameters where the operators round them to float32)."""
    common = dict(wd=0.01, rescale_grad=0.7, clip_gradient=0.5)
    opt = mx.optimizer.create(name, learning_rate=0.1, **common, **kwargs)
    weight, grad = (mx.nd.array(a) for a in INPUTS["sgd_update"])
    states = opt.create_state(0, weight)
    op_states = [s.copy() for s in (states if isinstance(states, tuple) else [states])]
    op_weight = weight.copy()
    opt.update(0, weight, grad, states)
    op_params = {k: v for k, v in kwargs.items() if k != "centered"}
    invoke(op, op_weight, grad, *op_states, out=op_weight, lr=0.1, **common, **op_params)
    np.testing.assert_allclose(weight, op_weight, rtol=1e-6, atol=2e-7)
