"""optimizer.SGDStep (Module.update's one-call path) against the updater called per parameter:
the same bits in the weights and momenta, the same update counts and learning rates."""
import numpy as np
import pytest

import cysym as mx
from cysym import optimizer as opt

SHAPES = [(7, 3), (7,), (4, 7), (4,)]
NAMES = ["fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"]


def _params(dtype, seed=0):
    rng = np.random.RandomState(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]


def _optimizer(schedule=False, **kwargs):
    if schedule:    # halve the learning rate every 2 updates (a scheduler keeps state: one each)
        kwargs["lr_scheduler"] = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.1)
    return opt.create("sgd", param_idx2name=dict(enumerate(NAMES)), rescale_grad=0.5, learning_rate=0.1,
                      **kwargs)


def _run_both(dtype, steps=3, **kwargs):
    """(per-parameter updater, its weights), (SGDStep's updater, its weights) after `steps`
    steps on the same gradients."""
    per_param, one_call = opt.get_updater(_optimizer(**kwargs)), opt.get_updater(_optimizer(**kwargs))
    for updater in (per_param, one_call):
        updater.optimizer.set_lr_mult({"fc2_weight": 0.3})
    weights_a, weights_b = _params(dtype), _params(dtype)
    grads = [g * 3 for g in _params(dtype, seed=1)]
    indices = list(range(len(SHAPES)))
    step = opt.SGDStep.create(one_call, indices, weights_b, grads)
    assert step is not None
    for _ in range(steps):
        for index in indices:
            per_param(index, grads[index], weights_a[index])
        assert step()
    return (per_param, weights_a), (one_call, weights_b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("settings", [
    {}, {"momentum": 0.9}, {"wd": 0.01}, {"momentum": 0.9, "wd": 0.01, "clip_gradient": 0.4},
    {"clip_gradient": 0.4},
    {"momentum": 0.5, "schedule": True},
], ids=["plain", "momentum", "wd", "momentum-wd-clip", "clip", "momentum-scheduler"])
def test_same_bits_as_the_updater_per_parameter(dtype, settings):
    (per_param, weights_a), (one_call, weights_b) = _run_both(dtype, **settings)
    for a, b in zip(weights_a, weights_b):
        assert a.dtype == b.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)
    assert one_call.optimizer._index_update_count == per_param.optimizer._index_update_count
    assert one_call.optimizer.num_update == per_param.optimizer.num_update == 3
    assert sorted(one_call.states) == sorted(per_param.states)
    for index, state in per_param.states.items():
        if state is None:
            assert one_call.states[index] is None
        else:
            np.testing.assert_array_equal(state, one_call.states[index])
    if "schedule" in settings:   # the schedule moved: 0.1 for updates 1-2, 0.05 at 3
        assert one_call.optimizer.learning_rate == per_param.optimizer.learning_rate == 0.05


def test_the_weights_move_as_sgd_says():
    (_, _), (_, weights) = _run_both("float64", steps=1, momentum=0.9, wd=0.01)
    start, grads = _params("float64"), [g * 3 for g in _params("float64", seed=1)]
    for index, name in enumerate(NAMES):
        # lr and wd reach the kernel as float (MXNet's operator parameters are float)
        lr = float(np.float32(0.1 * (0.3 if name == "fc2_weight" else 1.0)))
        wd = float(np.float32(0.01 if name.endswith("_weight") else 0.0))   # no decay on biases
        # the first step from a zero momentum: weight - lr * (rescale * grad + wd * weight)
        expected = start[index] - lr * wd * start[index] - lr * (0.5 * grads[index])
        np.testing.assert_allclose(weights[index], expected, rtol=1e-12)


def _step_for(updater, dtype="float32", shapes=SHAPES):
    rng = np.random.RandomState(2)
    weights = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    grads = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    return opt.SGDStep.create(updater, list(range(len(shapes))), weights, grads), weights


def test_only_plain_sgd_with_arrays_it_can_write():
    assert _step_for(opt.get_updater(opt.create("adam")))[0] is None
    assert _step_for(opt.get_updater(opt.create("nag", momentum=0.9)))[0] is None
    with pytest.warns(UserWarning, match="float16"):
        assert _step_for(opt.get_updater(opt.create("sgd")), dtype="float16")[0] is None
    assert _step_for(opt.get_updater(opt.create("sgd", momentum=0.9, multi_precision=True)),
                     dtype="float16")[0] is None
    updater = opt.get_updater(opt.create("sgd"))
    weights, grads = _params("float32"), _params("float32", seed=1)
    grads[1] = weights[1]                                          # the gradient is the weight
    assert opt.SGDStep.create(updater, [0, 1, 2, 3], weights, grads) is None
    grads = _params("float32", seed=1)
    grads[2] = np.asfortranarray(grads[2])                         # strided
    assert opt.SGDStep.create(updater, [0, 1, 2, 3], weights, grads) is None


def test_refuses_what_changed_since_it_was_made():
    updater = opt.get_updater(opt.create("sgd", momentum=0.9))
    step, weights = _step_for(updater)
    before = [w.copy() for w in weights]
    updater.optimizer._index_update_count[1] = 5        # counts that differ: per parameter
    assert not step()
    assert updater.optimizer._index_update_count == {1: 5}
    for a, b in zip(before, weights):
        np.testing.assert_array_equal(a, b)
    updater.optimizer._index_update_count.clear()
    updater.states[2] = np.zeros(SHAPES[2], np.float32)   # a state replaced
    assert not step()
    updater.set_states(updater.get_states())              # states restored: a new dict
    assert not step()
    updater = opt.get_updater(opt.create("sgd"))
    step, _ = _step_for(updater)
    updater.optimizer = opt.create("sgd")                  # another optimizer
    assert not step()


def test_multipliers_changed_between_steps_count():
    updater = opt.get_updater(_optimizer(wd=0.1))
    weights, grads = _params("float64"), _params("float64", seed=1)
    step = opt.SGDStep.create(updater, [0, 1, 2, 3], weights, grads)
    assert step()
    updater.optimizer.set_lr_mult({"fc1_bias": 0.0})
    updater.optimizer.set_wd_mult({"fc1_bias": 0.0, "fc2_weight": 0.0})
    before = [w.copy() for w in weights]
    assert step()
    np.testing.assert_array_equal(weights[1], before[1])                       # lr 0
    lr = float(np.float32(0.1))     # a float parameter, as MXNet's
    np.testing.assert_allclose(weights[2], before[2] - lr * 0.5 * grads[2], rtol=1e-12)    # no wd


def _module(dtype="float32"):
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=7, name="fc1")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=4, name="fc2")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    mod = mx.mod.Module(net, context=mx.cpu())
    mod.bind(data_shapes=[("data", (5, 3))], label_shapes=[("softmax_label", (5,))])
    mx.random.seed(3)
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3})
    return mod


def test_module_update_is_one_call_with_the_same_bits(monkeypatch):
    rng = np.random.RandomState(4)
    batch = mx.io.DataBatch(data=[mx.nd.array(rng.standard_normal((5, 3)))],
                            label=[mx.nd.array(rng.randint(0, 4, 5))])
    one_call, per_param = _module(), _module()
    monkeypatch.setattr(per_param, "_update_in_one_call", lambda: False)
    calls, run_step = [], opt.SGDStep.__call__

    def counted(step):
        calls.append(step)
        return run_step(step)
    monkeypatch.setattr(opt.SGDStep, "__call__", counted)
    for _ in range(3):
        for mod in (one_call, per_param):
            mod.forward(batch, is_train=True)
            mod.backward()
            mod.update()
    assert len(calls) == 3 and all(step is one_call._one_call for step in calls)
    for (name, a), b in zip(one_call.get_params()[0].items(), per_param.get_params()[0].values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    for index, state in per_param._updater.states.items():
        np.testing.assert_array_equal(state, one_call._updater.states[index])
    # restored optimizer states: a new step, from the restored momenta
    one_call._updater.set_states(per_param._updater.get_states())
    for mod in (one_call, per_param):
        mod.forward(batch, is_train=True)
        mod.backward()
        mod.update()
    assert len(calls) == 4 and calls[3] is not calls[0]
    for a, b in zip(one_call.get_params()[0].values(), per_param.get_params()[0].values()):
        np.testing.assert_array_equal(a, b)
