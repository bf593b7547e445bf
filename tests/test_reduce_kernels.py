"""Reductions called directly: sums along a contiguous row add float32 data in float64 partial
sums, so long rows keep full precision (a single float32 running sum would not)."""
import numpy as np
import pytest

from cysym._ops import load, runner


def _reduce(kind, x, axis):
    y = np.empty(np.sum(x, axis=axis).shape or (1,), x.dtype)
    plan = runner.Plan()
    load("reduce").append_reduce(plan, kind, x, y, axis=axis)
    plan.run()
    return y


def test_a_long_float32_sum_is_correctly_rounded_and_its_mean_within_an_ulp():
    x = np.full(1_000_003, 0.1, np.float32)
    exact = np.float32(np.float64(np.float32(0.1)) * x.size)
    assert _reduce("sum", x, None)[0] == exact
    assert abs(_reduce("mean", x, None)[0] - np.float32(0.1)) <= np.spacing(np.float32(0.1))


@pytest.mark.parametrize("shape, axis", [((1000, 777), 1), ((3, 5, 1001), (0, 2)), ((17,), None), ((4, 9), 0)])
@pytest.mark.parametrize("kind", ["sum", "mean"])
def test_sums_match_numpy_in_float64(shape, axis, kind):
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    expected = getattr(np.float64(1) * x, kind)(axis=axis)
    np.testing.assert_allclose(_reduce(kind, x, axis).reshape(np.shape(expected)), expected, rtol=2e-6, atol=2e-6)
