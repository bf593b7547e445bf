"""Initializers: name-pattern dispatch, `__init__` attributes, Xavier's scale, reproducibility."""
import json

import numpy as np
import pytest

import cysym.random
from cysym import initializer as init
from cysym.initializer import InitDesc


def _filled(initializer, name, shape, attrs=None, dtype=np.float32):
    arr = np.full(shape, np.nan, dtype=dtype)
    initializer(InitDesc(name, attrs), arr)
    return arr


@pytest.mark.parametrize("name, expected", [
    ("fc1_bias", 0.0), ("bn_gamma", 1.0), ("bn_beta", 0.0),
    ("bn_moving_mean", 0.0), ("bn_running_mean", 0.0), ("bn_moving_var", 1.0),
    ("bn_running_var", 1.0), ("bn_moving_inv_var", 0.0), ("ema_moving_avg", 0.0),
])
def test_name_pattern_defaults(name, expected):
    arr = _filled(init.Uniform(0.5), name, (3, 2))
    np.testing.assert_array_equal(arr, np.full((3, 2), expected, dtype=np.float32))


def test_weight_goes_to_init_weight_and_fills_in_place():
    arr = np.full((4, 3), np.nan, dtype=np.float32)
    view = arr[:]
    init.Uniform(0.5)(InitDesc("fc1_weight"), view)
    assert np.all(np.abs(arr) <= 0.5) and arr.std() > 0
    assert arr.dtype == np.float32


def test_unknown_pattern_raises():
    with pytest.raises(ValueError, match="Unknown initialization pattern for fc1_something"):
        _filled(init.Uniform(), "fc1_something", (2,))


def test_init_attribute_wins_over_the_name():
    arr = _filled(init.Uniform(0.5), "fc1_weight", (2, 3), {"__init__": '["zero", {}]'})
    np.testing.assert_array_equal(arr, 0.0)
    arr = _filled(init.Xavier(), "bn_moving_var", (5,), {"__init__": '["constant", {"value": 2.5}]'})
    np.testing.assert_array_equal(arr, 2.5)
    arr = _filled(init.Zero(), "fc1_bias", (2, 3), {"__init__": init.One().dumps()})
    np.testing.assert_array_equal(arr, 1.0)


def test_global_init_recorded():
    desc = InitDesc("fc_weight")
    xavier = init.Xavier()
    xavier(desc, np.zeros((2, 3)))
    assert desc.global_init is xavier
    assert InitDesc("x", {"a": "b"}).attrs == {"a": "b"} and isinstance(desc, str)


def test_plain_name_accepted():
    arr = np.full((3,), 7.0)
    init.Uniform()("conv_bias", arr)
    np.testing.assert_array_equal(arr, 0.0)


@pytest.mark.parametrize("factor_type", ["avg", "in", "out"])
@pytest.mark.parametrize("rnd_type", ["uniform", "gaussian"])
def test_xavier_scale(rnd_type, factor_type):
    shape = (40, 30, 3, 5)  # out, in, kh, kw
    hw = 15
    fan_in, fan_out = 30 * hw, 40 * hw
    factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[factor_type]
    magnitude = 2.0
    scale = np.sqrt(magnitude / factor)
    cysym.random.seed(3)
    arr = _filled(init.Xavier(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude),
                  "conv_weight", shape)
    if rnd_type == "uniform":
        assert np.abs(arr).max() <= scale
        assert np.abs(arr).max() > 0.99 * scale
        assert arr.std() == pytest.approx(scale / np.sqrt(3), rel=0.03)
    else:
        assert arr.std() == pytest.approx(scale, rel=0.03)
    assert abs(arr.mean()) < 0.05 * scale


def test_xavier_errors():
    with pytest.raises(ValueError, match="cannot be applied to vector fc_weight"):
        _filled(init.Xavier(), "fc_weight", (5,))
    with pytest.raises(ValueError, match="factor type"):
        _filled(init.Xavier(factor_type="bad"), "fc_weight", (5, 2))
    with pytest.raises(ValueError, match="random type"):
        _filled(init.Xavier(rnd_type="bad"), "fc_weight", (5, 2))


def test_msra_prelu_is_gaussian_xavier():
    cysym.random.seed(0)
    arr = _filled(init.MSRAPrelu(factor_type="in", slope=0.0), "fc_weight", (300, 200))
    assert arr.std() == pytest.approx(np.sqrt(2.0 / 200), rel=0.02)
    assert json.loads(init.MSRAPrelu().dumps()) == ["msraprelu", {"factor_type": "avg", "slope": 0.25}]


@pytest.mark.parametrize("make", [lambda: init.Uniform(0.3), lambda: init.Normal(0.2),
                                  lambda: init.Xavier(), lambda: init.Orthogonal()],
                         ids=["uniform", "normal", "xavier", "orthogonal"])
def test_reproducible_under_seed(make):
    cysym.random.seed(11)
    first = _filled(make(), "w_weight", (4, 6))
    cysym.random.seed(11)
    second = _filled(make(), "w_weight", (4, 6))
    np.testing.assert_array_equal(first, second)
    third = _filled(make(), "w_weight", (4, 6))
    assert not np.array_equal(first, third)


def test_normal_and_uniform_statistics():
    cysym.random.seed(1)
    arr = _filled(init.Normal(0.5), "w_weight", (200, 300))
    assert arr.std() == pytest.approx(0.5, rel=0.02)
    arr = _filled(init.Uniform(0.07), "w_weight", (200, 300))
    assert np.abs(arr).max() <= 0.07


def test_orthogonal_rows_are_orthonormal():
    cysym.random.seed(2)
    arr = _filled(init.Orthogonal(scale=1.0), "w_weight", (3, 2, 5), dtype=np.float64)
    flat = arr.reshape(3, 10)
    np.testing.assert_allclose(flat @ flat.T, np.eye(3), atol=1e-12)


def test_constant_one_zero_and_dumps_round_trip():
    np.testing.assert_array_equal(_filled(init.Constant(3.0), "w_weight", (2, 3)), 3.0)
    np.testing.assert_array_equal(_filled(init.Constant(np.arange(3.0)), "w_weight", (2, 3)),
                                  [[0, 1, 2]] * 2)
    assert json.loads(init.Constant(np.arange(2.0)).dumps()) == ["constant", {"value": [0.0, 1.0]}]
    for original in (init.Xavier(rnd_type="gaussian", magnitude=2.0), init.Uniform(0.2),
                     init.Constant(1.5), init.Zero(), init.One(), init.Normal(0.3)):
        again = init.create(original.dumps())
        assert type(again) is type(original) and again.dumps() == original.dumps()
    assert isinstance(init.create("zeros"), init.Zero)
    assert isinstance(init.create("ONES"), init.One)
    with pytest.raises(ValueError, match="Cannot find initializer"):
        init.create("nothing")


def test_register_decorator():
    @init.register
    class Twos(init.Initializer):
        def _init_weight(self, _, arr):
            arr[...] = 2.0

    arr = _filled(init.Uniform(), "fc_weight", (2,), {"__init__": Twos().dumps()})
    np.testing.assert_array_equal(arr, 2.0)


def test_mixed_and_load():
    mixed = init.Mixed(["conv.*", ".*"], [init.Constant(5.0), init.One()])
    np.testing.assert_array_equal(_filled(mixed, "conv_weight", (2,)), 5.0)
    np.testing.assert_array_equal(_filled(mixed, "fc_weight", (2,)), 1.0)
    np.testing.assert_array_equal(_filled(mixed, "conv_bias", (2,)), 0.0)  # bias rule still applies
    with pytest.raises(ValueError, match="did not match any pattern"):
        init.Mixed(["a.*"], [init.Zero()])("b", np.zeros(1))
    load = init.Load({"arg:fc_weight": np.arange(6.0).reshape(2, 3)}, default_init=init.One())
    np.testing.assert_array_equal(_filled(load, "fc_weight", (2, 3)), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(_filled(load, "fc_bias", (2,)), 0.0)  # One's bias rule: zero
    with pytest.raises(ValueError, match="shape mismatch"):
        _filled(load, "fc_weight", (3, 2))
    with pytest.raises(ValueError, match="no default"):
        init.Load({})("w", np.zeros(1))


def test_bilinear_and_lstm_bias():
    arr = _filled(init.Bilinear(), "up_weight", (1, 1, 4, 4))
    np.testing.assert_allclose(arr[0, 0, 0], [0.0625, 0.1875, 0.1875, 0.0625])
    arr = _filled(init.LSTMBias(forget_bias=1.0), "lstm_bias", (8,), {"__init__": init.LSTMBias().dumps()})
    np.testing.assert_array_equal(arr, [0, 0, 1, 1, 0, 0, 0, 0])
