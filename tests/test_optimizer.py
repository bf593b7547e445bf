"""Optimizers against NumPy references of MXNet's update rules, and the updater's state round trip."""
import math
import pickle

import numpy as np
import pytest

from cysym import lr_scheduler, optimizer_states
from cysym import optimizer as opt

TOL = {np.float32: 1e-5, np.float64: 1e-12}
SHAPE = (2, 3, 5)


class FakeSymbol:
    """The two methods Optimizer reads from a symbol."""

    def __init__(self, attrs, arguments):
        self._attrs, self._arguments = attrs, arguments

    def attr_dict(self):
        return self._attrs

    def list_arguments(self):
        return self._arguments


def _grads(dtype, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 3.0, SHAPE).astype(dtype) for _ in range(steps)]


def _weight(dtype, seed=1):
    return np.random.default_rng(seed).normal(0, 1.0, SHAPE).astype(dtype)


# -- NumPy references (float64), written straight from MXNet's documented update rules -------------

def _f32(value):
    """MXNet's update operators take float32 parameters: a float64 update sees them rounded."""
    return None if value is None else float(np.float32(value))


def ref_sgd(w, grads, lrs, wd, rescale, clip, momentum):
    w = w.astype(np.float64)
    mom = np.zeros_like(w)
    wd, rescale, clip, momentum = _f32(wd), _f32(rescale), _f32(clip), _f32(momentum)
    for g, lr in zip(grads, map(_f32, lrs)):
        g = rescale * g.astype(np.float64)
        if clip:
            g = np.clip(g, -clip, clip)
        if momentum:
            mom = momentum * mom - lr * (g + wd * w)
            w = w + mom
        else:
            w = w - lr * (g + wd * w)
    return w


def ref_nag(w, grads, lrs, wd, rescale, clip, momentum):
    w = w.astype(np.float64)
    mom = np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        g = rescale * g.astype(np.float64)
        if clip is not None:
            g = np.clip(g, -clip, clip)
        g = g + wd * w
        mom = momentum * mom + g
        w = w - lr * (g + momentum * mom)
    return w


def ref_adam(w, grads, lrs, wd, rescale, clip, beta1=0.9, beta2=0.999, eps=1e-8):
    w = w.astype(np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        lr_t = _f32(lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t))
        g = _f32(rescale) * g.astype(np.float64) + _f32(wd) * w
        if clip:
            g = np.clip(g, -_f32(clip), _f32(clip))
        m = _f32(beta1) * m + (1 - _f32(beta1)) * g
        v = _f32(beta2) * v + (1 - _f32(beta2)) * g * g
        w = w - lr_t * m / (np.sqrt(v) + _f32(eps))
    return w


def ref_adagrad(w, grads, lrs, wd, rescale, clip, eps=1e-7):
    w = w.astype(np.float64)
    hist = np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        g = rescale * g.astype(np.float64)
        if clip is not None:
            g = np.clip(g, -clip, clip)
        hist = hist + g * g
        w = w - lr * (g / np.sqrt(hist + eps) + wd * w)
    return w


def ref_rmsprop(w, grads, lrs, wd, rescale, clip, centered, gamma1=0.9, gamma2=0.9, eps=1e-8,
                clip_weights=None):
    w = w.astype(np.float64)
    n = np.zeros_like(w)
    gm = np.zeros_like(w)
    delta = np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        g = rescale * g.astype(np.float64) + wd * w
        if clip:
            g = np.clip(g, -clip, clip)
        n = (1 - gamma1) * g * g + gamma1 * n
        if centered:
            gm = (1 - gamma1) * g + gamma1 * gm
            delta = gamma2 * delta - lr * g / np.sqrt(n - gm * gm + eps)
            w = w + delta
        else:
            w = w - lr * g / np.sqrt(n + eps)
        if clip_weights:
            w = np.clip(w, -clip_weights, clip_weights)
    return w


CASES = {
    "sgd": (dict(momentum=0.0), lambda w, g, lrs, kw: ref_sgd(w, g, lrs, kw["wd"], kw["rescale_grad"],
                                                            kw["clip_gradient"], 0.0)),
    "sgd_momentum": (dict(momentum=0.9), lambda w, g, lrs, kw: ref_sgd(
        w, g, lrs, kw["wd"], kw["rescale_grad"], kw["clip_gradient"], 0.9)),
    "nag": (dict(momentum=0.9), lambda w, g, lrs, kw: ref_nag(
        w, g, lrs, kw["wd"], kw["rescale_grad"], kw["clip_gradient"], 0.9)),
    "adam": (dict(), lambda w, g, lrs, kw: ref_adam(w, g, lrs, kw["wd"], kw["rescale_grad"],
                                                     kw["clip_gradient"])),
    "adagrad": (dict(), lambda w, g, lrs, kw: ref_adagrad(w, g, lrs, kw["wd"], kw["rescale_grad"],
                                                           kw["clip_gradient"])),
    "rmsprop": (dict(), lambda w, g, lrs, kw: ref_rmsprop(w, g, lrs, kw["wd"], kw["rescale_grad"],
                                                           kw["clip_gradient"], False)),
    "rmsprop_centered": (dict(centered=True, clip_weights=1.5), lambda w, g, lrs, kw: ref_rmsprop(
        w, g, lrs, kw["wd"], kw["rescale_grad"], kw["clip_gradient"], True, clip_weights=1.5)),
}


def _make(case, **common):
    name = case.split("_")[0]
    extra, _ = CASES[case]
    return opt.create(name.upper() if name == "sgd" else name, **extra, **common)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("clip", [None, 0.5], ids=["noclip", "clip0.5"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_three_steps_match_reference(case, clip, dtype):
    common = dict(learning_rate=0.05, wd=0.01, rescale_grad=0.25, clip_gradient=clip)
    optimizer = _make(case, **common)
    updater = opt.get_updater(optimizer)
    weight = _weight(dtype)
    start = weight.copy()
    grads = _grads(dtype)
    for grad in grads:
        grad_before = grad.copy()
        updater(0, grad, weight)
        np.testing.assert_array_equal(grad, grad_before)  # the caller's gradient is not modified
    assert weight.dtype == dtype
    expected = CASES[case][1](start, grads, [0.05] * 3, common)
    np.testing.assert_allclose(weight, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("case", ["sgd_momentum", "adam", "rmsprop"])
def test_lr_scheduler_drives_the_learning_rate(case):
    scheduler = lr_scheduler.FactorScheduler(step=1, factor=0.5)
    optimizer = _make(case, learning_rate=0.1, lr_scheduler=scheduler, wd=0.0, rescale_grad=1.0)
    assert scheduler.base_lr == 0.1  # the optimizer's learning_rate becomes the schedule's base
    updater = opt.get_updater(optimizer)
    weight = _weight(np.float64)
    start = weight.copy()
    grads = _grads(np.float64)
    for grad in grads:
        updater(0, grad, weight)
    # update t runs with num_update = t: lr = 0.1 * 0.5^(t-1)
    lrs = [0.1, 0.05, 0.025]
    kw = dict(wd=0.0, rescale_grad=1.0, clip_gradient=None)
    np.testing.assert_allclose(weight, CASES[case][1](start, grads, lrs, kw), rtol=1e-12)
    assert optimizer.num_update == 3
    assert optimizer.learning_rate == pytest.approx(0.025)


def test_clip_gradient_zero_means_no_clipping_for_sgd():
    # MXNet passes clip_gradient to the kernel only when it is truthy
    weight = np.ones(SHAPE)
    opt.get_updater(opt.SGD(learning_rate=1.0, clip_gradient=0))(0, np.full(SHAPE, 3.0), weight)
    np.testing.assert_array_equal(weight, np.full(SHAPE, -2.0))


@pytest.mark.parametrize("case", sorted(CASES))
def test_states_round_trip_continues_bit_for_bit(case):
    common = dict(learning_rate=0.05, wd=0.01, rescale_grad=0.5, clip_gradient=2.0,
                  lr_scheduler=lr_scheduler.FactorScheduler(step=2, factor=0.7))
    grads = _grads(np.float32, steps=5)

    # uninterrupted run
    straight = _make(case, **common)
    updater = opt.get_updater(straight)
    w_straight = [_weight(np.float32, 1), _weight(np.float32, 2)]
    for grad in grads:
        for index, w in enumerate(w_straight):
            updater(index, grad, w)

    # run 2 steps, save, rebuild from the bytes, run 3 more
    common["lr_scheduler"] = lr_scheduler.FactorScheduler(step=2, factor=0.7)
    first = _make(case, **common)
    updater = opt.get_updater(first)
    weights = [_weight(np.float32, 1), _weight(np.float32, 2)]
    for grad in grads[:2]:
        for index, w in enumerate(weights):
            updater(index, grad, w)
    blob = updater.get_states(dump_optimizer=True)
    saved_weights = [pickle.loads(pickle.dumps(w)) for w in weights]
    for grad in grads[2:3]:  # training that is thrown away
        for index, w in enumerate(weights):
            updater(index, grad * 7, w)

    resumed = opt.get_updater(_make(case, learning_rate=99.0))
    resumed.set_states(blob)
    assert resumed.optimizer is not first and resumed.optimizer.num_update == 2
    for grad in grads[2:]:
        for index, w in enumerate(saved_weights):
            resumed(index, grad, w)
    for expected, got in zip(w_straight, saved_weights):
        np.testing.assert_array_equal(got, expected)


def test_get_states_without_optimizer_is_states_only():
    updater = opt.get_updater(opt.SGD(momentum=0.9))
    weight = np.ones(SHAPE, dtype=np.float32)
    updater(3, np.ones(SHAPE, dtype=np.float32), weight)
    states, optimizer = optimizer_states.loads(updater.get_states())
    assert set(states) == {3} and optimizer is None
    other = opt.get_updater(opt.SGD(momentum=0.9))
    other.set_states(updater.get_states())
    np.testing.assert_array_equal(other.states[3], updater.states[3])
    assert other.states_synced == {3: False}


def test_wd_mult_defaults_and_symbol_multipliers():
    idx2name = {0: "fc_weight", 1: "fc_bias", 2: "bn_gamma", 3: "bn_beta", 4: "emb"}
    sym = FakeSymbol({"fc_weight": {"__lr_mult__": "2.0"}, "emb": {"__wd_mult__": "0.5"}},
                     ["data", "fc_weight", "fc_bias", "bn_gamma", "bn_beta", "emb"])
    optimizer = opt.create("sgd", learning_rate=0.1, wd=0.01, sym=sym, param_idx2name=idx2name)
    assert optimizer.idx2name == idx2name
    assert optimizer._get_lr(0) == pytest.approx(0.2)
    assert optimizer._get_lr(1) == pytest.approx(0.1)
    assert [optimizer._get_wd(i) for i in range(5)] == pytest.approx([0.01, 0.0, 0.01, 0.0, 0.005])
    optimizer.set_lr_mult({"fc_bias": 3.0})
    assert optimizer._get_lr(1) == pytest.approx(0.3)
    assert optimizer._get_lr(0) == pytest.approx(0.2)  # symbol attributes are kept
    optimizer.set_wd_mult({"fc_bias": 1.0})
    assert optimizer._get_wd(1) == pytest.approx(0.01)


def test_update_counts_per_index_and_begin_num_update():
    optimizer = opt.SGD(begin_num_update=10)
    updater = opt.get_updater(optimizer)
    w = np.zeros(3)
    updater(0, np.ones(3), w)
    updater(1, np.ones(3), w)
    updater(0, np.ones(3), w)
    assert optimizer._index_update_count == {0: 12, 1: 11}
    assert optimizer.num_update == 12


def test_registry_is_case_insensitive_and_rejects_unknown():
    assert isinstance(opt.create("Adam"), opt.Adam)
    assert isinstance(opt.create("RMSPROP", centered=True), opt.RMSProp)
    assert opt.create("adam").lr == 0.001
    with pytest.raises(ValueError, match="Cannot find optimizer nope"):
        opt.create("nope")

    @opt.register
    class MyOpt(opt.Optimizer):
        def update(self, index, weight, grad, state):
            weight[...] -= grad

    try:
        updater = opt.get_updater(opt.create("myopt"))
        w = np.ones(2)
        updater(0, np.ones(2), w)
        np.testing.assert_array_equal(w, [0.0, 0.0])
    finally:
        del opt.Optimizer.opt_registry["myopt"]


def test_updater_accepts_lists_and_checks_shapes():
    updater = opt.get_updater(opt.SGD(learning_rate=1.0))
    a, b = np.ones(2), np.ones(3)
    updater([0, 1], [np.ones(2), np.ones(3)], [a, b])
    np.testing.assert_array_equal(a, [0, 0])
    with pytest.raises(ValueError, match="shape"):
        updater(2, np.ones(4), np.ones(3))


def test_set_learning_rate_refused_with_scheduler():
    optimizer = opt.SGD(learning_rate=0.1, lr_scheduler=lr_scheduler.FactorScheduler(2))
    with pytest.raises(UserWarning):
        optimizer.set_learning_rate(0.5)
    plain = opt.SGD(learning_rate=0.1)
    plain.set_learning_rate(0.5)
    assert plain.learning_rate == 0.5


def test_multi_precision_keeps_float32_master_copy():
    optimizer = opt.SGD(learning_rate=0.1, momentum=0.9, multi_precision=True)
    updater = opt.get_updater(optimizer)
    weight = np.ones(SHAPE, dtype=np.float16)
    grads = _grads(np.float16)
    for grad in grads:
        updater(0, grad, weight)
    expected = ref_sgd(np.ones(SHAPE), [g.astype(np.float32) for g in grads], [0.1] * 3, 0.0, 1.0,
                       None, 0.9)
    # MXNet's SGD keeps (momentum, float32 master copy)
    np.testing.assert_allclose(updater.states[0][1], expected, rtol=1e-5)
    np.testing.assert_array_equal(weight, updater.states[0][1].astype(np.float16))


# -- lr schedulers ----------------------------------------------------------------------------------

def test_factor_scheduler():
    sched = lr_scheduler.FactorScheduler(step=3, factor=0.5, base_lr=1.0)
    assert [sched(n) for n in range(1, 11)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]
    floor = lr_scheduler.FactorScheduler(step=1, factor=0.1, stop_factor_lr=1e-3, base_lr=1.0)
    assert floor(10) == 1e-3
    with pytest.raises(ValueError):
        lr_scheduler.FactorScheduler(step=0)
    with pytest.raises(ValueError):
        lr_scheduler.FactorScheduler(step=2, factor=2.0)


def test_multifactor_scheduler_and_warmup():
    sched = lr_scheduler.MultiFactorScheduler(step=[2, 5], factor=0.1, base_lr=1.0, warmup_steps=2,
                                              warmup_begin_lr=0.5)
    assert sched(0) == 0.5
    assert sched(1) == pytest.approx(0.75)
    assert [sched(n) for n in (2, 3, 5, 6, 100)] == pytest.approx([1.0, 0.1, 0.1, 0.01, 0.01])
    with pytest.raises(ValueError):
        lr_scheduler.MultiFactorScheduler(step=[3, 2])


def test_poly_and_cosine_schedulers():
    poly = lr_scheduler.PolyScheduler(max_update=10, base_lr=1.0, pwr=2, final_lr=0.1)
    assert poly(0) == pytest.approx(1.0)
    assert poly(5) == pytest.approx(0.1 + 0.9 * 0.25)
    assert poly(10) == pytest.approx(0.1)
    assert poly(20) == pytest.approx(0.1)
    cos = lr_scheduler.CosineScheduler(max_update=10, base_lr=1.0, final_lr=0.0, warmup_steps=2)
    assert cos(1) == pytest.approx(0.5)
    assert cos(6) == pytest.approx(0.5)
    assert cos(10) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        lr_scheduler.LRScheduler(base_lr=0.1, warmup_mode="cubic")
