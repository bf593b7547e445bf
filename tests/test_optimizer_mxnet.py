"""MXNet 1.9.1's optimizers LAMB, FTML, Adamax, Nadam, DCASGD, SGLD, Signum and LARS: three
updates from the same start must land where MXNet's land (issue 14 item 3)."""
import numpy as np
import pytest

import cysym as mx

W0 = np.array([[0.5, -1.25, 2.0], [0.75, -0.3, 1.1]])
GRADS = [np.array([[0.2, -0.4, 1.5], [-0.6, 0.05, 0.9]]), np.array([[-0.3, 0.8, 0.1], [0.4, -0.7, 2.5]]),
         np.array([[1.0, 0.3, -0.2], [0.25, 0.6, -1.4]])]

# (optimizer, parameter name, arguments, the weight after three updates) made by MXNet 1.9.1 at
# /tmp/mxref: mx.optimizer.create(name, param_idx2name={0: parameter name}, **arguments), then
# opt.update(0, w, mx.nd.array(g, dtype='float64'), state) for g in GRADS, w float64 from W0
MXNET_TRAJECTORIES = [
    ('ftml', 'fc_weight', {'learning_rate': 0.1, 'wd': 0.01, 'rescale_grad': 0.5, 'clip_gradient': 0.6},
     [[0.38854416074017495, -1.253781836257375, 1.901666080446935],
      [0.7680023092748461, -0.36851302284904797, 0.9848179068483508]]),
    ('ftml', 'fc_weight', {'learning_rate': 0.05, 'beta1': 0.7},
     [[0.44742083040954517, -1.2497733197491718, 1.9524499748064195],
      [0.7639687384746894, -0.3342135412225987, 1.02930425678148]]),
    ('lamb', 'fc_weight', {'learning_rate': 0.01, 'wd': 0.02, 'rescale_grad': 0.5, 'clip_gradient': 0.6},
     [[0.47633955338952166, -1.2583953870631748, 1.9594332011935174],
      [0.7596992647831751, -0.298442554065763, 1.0632738493924223]]),
    ('lamb', 'fc_weight', {'learning_rate': 0.01, 'bias_correction': False, 'lower_bound': 0.5, 'upper_bound': 1.5},
     [[0.48773710536416137, -1.2553585836592245, 1.9788176440339413],
      [0.7559404280518233, -0.2990047075789227, 1.078753878536563]]),
    ('adamax', 'fc_weight', {'learning_rate': 0.02, 'wd': 0.01, 'rescale_grad': 0.5, 'clip_gradient': 0.6},
     [[0.47696249008408437, -1.241325494486352, 1.9635167362010506],
      [0.7699096841382908, -0.30999767051710636, 1.0583397557640382]]),
    ('nadam', 'fc_weight', {'learning_rate': 0.02, 'wd': 0.01, 'rescale_grad': 0.5, 'clip_gradient': 0.6},
     [[0.47393578176851425, -1.2539239660660546, 1.9767118814099662],
      [0.7524340228883625, -0.31380627355076424, 1.0740188085244426]]),
    ('dcasgd', 'fc_weight', {'learning_rate': 0.1, 'wd': 0.01, 'rescale_grad': 0.5, 'clip_gradient': 0.6},
     [[0.4534929221099999, -1.2812638245135002, 1.9391318324958038],
      [0.745208902925625, -0.29664253445808, 1.0520073935571]]),
    ('lars', 'fc_weight', {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 0.01, 'rescale_grad': 0.5, 'eta': 0.01, 'eps': 1e-09},
     [[0.4982885210435505, -1.2502108796106015, 1.994065490271929],
      [0.7510882789439735, -0.2997029705735703, 1.0937363747678415]]),
    ('lars', 'fc_bias', {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 0.01, 'rescale_grad': 0.5, 'eta': 0.01, 'eps': 1e-09},
     [[0.4513999995857477, -1.2868000009298326, 1.797250002104789],
      [0.7807999989330769, -0.270275000224635, 0.8105500016711654]]),
    ('lars', 'fc_weight', {'learning_rate': 0.1, 'wd': 0.01, 'clip_gradient': 0.6},
     [[0.49991173776451625, -1.2500409939215709, 1.9999253603084237],
      [0.7500070617274335, -0.3000338659397787, 1.0999375042269905]]),
    ('lars', 'fc_bias', {'learning_rate': 0.1, 'wd': 0.01, 'clip_gradient': 0.6},
     [[0.4499999968707561, -1.300000003129244, 1.949999996870756],
      [0.7449999999254941, -0.30499999769031994, 1.0399999967217446]]),
    ('signum', 'fc_weight', {'learning_rate': 0.1, 'momentum': 0.9, 'wd_lh': 0.01, 'wd': 0.02},
     [[0.39860139802178246, -1.3463536502687452, 1.694305893576501],
      [0.8474523507546112, -0.19900099821583095, 0.7970031944564245]]),
]


def _run(name, param_name, kwargs, dtype=np.float64, grads=GRADS):
    opt = mx.optimizer.create(name, param_idx2name={0: param_name}, **kwargs)
    weight = mx.nd.array(W0, dtype=dtype)
    state = opt.create_state(0, weight)
    for grad in grads:
        opt.update(0, weight, mx.nd.array(grad, dtype=dtype), state)
    return weight, opt, state


@pytest.mark.parametrize("name, param_name, kwargs, expected", MXNET_TRAJECTORIES,
                         ids=[f"{r[0]}-{r[1]}-{i}" for i, r in enumerate(MXNET_TRAJECTORIES)])
def test_updates_match_mxnet(name, param_name, kwargs, expected):
    weight, _, _ = _run(name, param_name, kwargs)
    # MXNet hands lr, wd, ... to its kernels as float32: agreement to ~1e-9
    np.testing.assert_allclose(weight, expected, rtol=1e-7, atol=1e-9)
    weight32, _, _ = _run(name, param_name, kwargs, dtype=np.float32)
    assert weight32.dtype == np.float32
    np.testing.assert_allclose(weight32, expected, rtol=1e-5, atol=1e-6)


def test_dcasgd_with_momentum_follows_its_formula():
    # MXNet 1.9.1's DCASGD raises with momentum (it tests an NDArray's truth value); the formula:
    lr, momentum, lamda = 0.1, 0.9, 0.1
    w, previous, mom = W0.copy(), W0.copy(), np.zeros_like(W0)
    for g in GRADS:
        mom = momentum * mom - lr * (g + lamda * g * g * (w - previous))
        previous = w.copy()
        w = w + mom
    weight, _, _ = _run("dcasgd", "fc_weight", dict(learning_rate=lr, momentum=momentum, lamda=lamda))
    np.testing.assert_allclose(weight, w, rtol=1e-12)


def test_sgld_adds_gaussian_noise_of_variance_lr():
    lr = 0.01
    mx.random.seed(7)
    opt = mx.optimizer.create("sgld", learning_rate=lr, param_idx2name={0: "fc_weight"})
    weight = mx.nd.zeros((200, 300), dtype=np.float64)
    opt.update(0, weight, mx.nd.zeros((200, 300), dtype=np.float64), opt.create_state(0, weight))
    assert abs(float(np.mean(weight))) < 5 * np.sqrt(lr / weight.size)
    assert float(np.var(weight)) == pytest.approx(lr, rel=0.02)
    # the drift: -lr / 2 * (g + wd * w)
    mx.random.seed(7)
    opt = mx.optimizer.create("sgld", learning_rate=lr, wd=0.5, rescale_grad=2.0)
    shifted = mx.nd.ones((200, 300), dtype=np.float64)
    opt.update(0, shifted, mx.nd.ones((200, 300), dtype=np.float64), None)
    np.testing.assert_allclose(shifted - weight, 1 - lr / 2 * (2.0 + 0.5), rtol=1e-12)


def test_nadam_momentum_schedule_spans_every_parameter():
    # as MXNet: one m_schedule product for the optimizer, advanced by each update of any index
    opt = mx.optimizer.create("nadam", learning_rate=0.01)
    weights = [mx.nd.array(W0, dtype=np.float64) for _ in range(2)]
    states = [opt.create_state(i, w) for i, w in enumerate(weights)]
    for i in (0, 1):
        opt.update(i, weights[i], mx.nd.array(GRADS[0], dtype=np.float64), states[i])
    mu = [0.9 * (1 - 0.5 * 0.96 ** (t * 0.004)) for t in (1, 1)]
    assert opt.m_schedule == pytest.approx(mu[0] * mu[1], rel=1e-15)
    assert not np.array_equal(weights[0], weights[1])


@pytest.mark.parametrize("name", ["ftml", "lamb", "lars", "dcasgd", "adamax", "nadam", "sgld"])
def test_updater_states_round_trip(name):
    kwargs = {"momentum": 0.9} if name in ("lars", "dcasgd") else {}
    opt = mx.optimizer.create(name, learning_rate=0.01, **kwargs)
    updater = mx.optimizer.get_updater(opt)
    weight = mx.nd.array(W0, dtype=np.float32)
    updater(0, mx.nd.array(GRADS[0], dtype=np.float32), weight)
    saved = updater.get_states(dump_optimizer=False)
    again = mx.optimizer.get_updater(mx.optimizer.create(name, learning_rate=0.01, **kwargs))
    again.set_states(saved)
    again.optimizer._index_update_count = dict(opt._index_update_count)
    again.optimizer.num_update = opt.num_update
    if name == "nadam":
        again.optimizer.m_schedule = opt.m_schedule
    twin = weight.copy()
    mx.random.seed(3)
    updater(0, mx.nd.array(GRADS[1], dtype=np.float32), weight)
    mx.random.seed(3)
    again(0, mx.nd.array(GRADS[1], dtype=np.float32), twin)
    np.testing.assert_array_equal(weight, twin)


# MXNet 1.9.1's Ftrl keeps float32 states whatever the weight's dtype (a float64 weight fails there):
# these were made as above with float32 weights and gradients
MXNET_FTRL = [
    ('ftrl', 'fc_weight', {'learning_rate': 0.1, 'wd': 0.01, 'rescale_grad': 0.5, 'clip_gradient': 0.6, 'lamda1': 0.05},
     [[0.01186112966388464, -0.2251494973897934, 0.7120189070701599],
      [0.1684299111366272, -5.445632996270433e-05, 0.30300819873809814]]),
    ('ftrl', 'fc_weight', {'learning_rate': 0.2, 'beta': 0.5},
     [[0.024621717631816864, -0.6207554936408997, 1.3588522672653198],
      [0.4112679660320282, -0.010153242386877537, 0.4986918270587921]]),
]


@pytest.mark.parametrize("name, param_name, kwargs, expected", MXNET_FTRL, ids=["ftrl-0", "ftrl-1"])
def test_ftrl_matches_mxnet(name, param_name, kwargs, expected):
    weight, _, _ = _run(name, param_name, kwargs, dtype=np.float32)
    np.testing.assert_allclose(weight, expected, rtol=1e-6, atol=1e-7)


def test_multi_precision_states_in_mxnets_order():
    # MXNet's SGD, NAG and LARS keep (state, float32 master copy); the others (master copy, state)
    weight = mx.nd.array(W0, dtype=np.float16)
    for name, master_last in (("sgd", True), ("nag", True), ("lars", True), ("adam", False), ("ftml", False)):
        opt = mx.optimizer.create(name, multi_precision=True, momentum=0.9) if name in ("sgd", "nag", "lars") \
            else mx.optimizer.create(name, multi_precision=True)
        state = opt.create_state_multi_precision(0, weight)
        master = state[1] if master_last else state[0]
        assert master.dtype == np.float32 and isinstance(master, mx.nd.NDArray), name
        opt.update_multi_precision(0, weight, mx.nd.array(GRADS[0], dtype=np.float16), state)
        np.testing.assert_array_equal(weight, master.astype(np.float16))
    mx.test_utils.compare_optimizer(mx.optimizer.SGD(momentum=0.9, multi_precision=True),
                                    mx.optimizer.SGD(momentum=0.9, multi_precision=True), (3, 4), np.float16)
