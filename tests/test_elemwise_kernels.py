"""Element-wise kernels called directly: broadcasting layouts, requests, the broadcast
reduction, and float32 exp/sigmoid/tanh (computed without libm) over their whole range."""
import numpy as np
import pytest

from cysym._ops import elemwise, runner

LAYOUTS = [((2, 3, 5), (2, 3, 5)), ((2, 3, 5), (5,)), ((2, 3, 5), (3, 1)), ((2, 1, 5), (4, 1)),
           ((1,), (2, 3, 5)), ((7, 1, 3, 1, 2), (1, 4, 1, 5, 2))]


def _run(fill):
    plan = runner.Plan()
    fill(plan)
    plan.run()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("lhs_shape, rhs_shape", LAYOUTS, ids=[f"{a}-{b}" for a, b in LAYOUTS])
@pytest.mark.parametrize("req", ["write", "add"])
def test_binary_broadcasting_matches_numpy(lhs_shape, rhs_shape, dtype, req):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=lhs_shape).astype(dtype), rng.normal(size=rhs_shape).astype(dtype)
    start = np.full(np.broadcast_shapes(lhs_shape, rhs_shape), 0.25, dtype)
    y = start.copy()
    _run(lambda plan: elemwise.append_binary(plan, "sub", a, b, y, req))
    np.testing.assert_allclose(y, (a - b) + (start if req == "add" else 0), rtol=1e-6)


@pytest.mark.parametrize("lhs_shape, rhs_shape", LAYOUTS[1:], ids=[f"{a}-{b}" for a, b in LAYOUTS[1:]])
def test_partials_reduced_to_the_operand_shapes(lhs_shape, rhs_shape):
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 2, lhs_shape), rng.uniform(0.5, 2, rhs_shape)
    full = np.broadcast_shapes(lhs_shape, rhs_shape)
    dy = rng.normal(size=full)
    da_full, db_full = np.empty(full), np.empty(full)
    da, db = np.empty(lhs_shape), np.empty(rhs_shape)

    def fill(plan):
        elemwise.append_binary_backward(plan, "div", dy, a, b, da_full, db_full)
        elemwise.append_sum_to(plan, da_full, da)
        elemwise.append_sum_to(plan, db_full, db)
    _run(fill)

    def reduce_to(grad, shape):
        grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
        return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)
    np.testing.assert_allclose(da, reduce_to(dy / b, lhs_shape), rtol=1e-12)
    np.testing.assert_allclose(db, reduce_to(-dy * a / b ** 2, rhs_shape), rtol=1e-12)


def test_shapes_that_do_not_broadcast_are_rejected():
    a, b, y = np.zeros((2, 3)), np.zeros((4,)), np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"my_op: operands \(2, 3\) and \(4,\)"):
        elemwise.append_binary(runner.Plan(), "add", a, b, y, label="my_op")


def test_more_than_eight_unmergeable_axes_are_rejected():
    shape_a = (2, 1) * 5
    shape_b = (1, 2) * 5
    y = np.zeros((2,) * 10)
    with pytest.raises(ValueError, match="at most 8"):
        elemwise.append_binary(runner.Plan(), "add", np.zeros(shape_a), np.zeros(shape_b), y)


def test_add_n_in_place_and_accumulating():
    xs = [np.full(6, float(i + 1)) for i in range(3)]
    _run(lambda plan: elemwise.append_add_n(plan, xs, xs[0]))        # output aliases input 0
    np.testing.assert_array_equal(xs[0], np.full(6, 6.0))
    y = np.ones(6)
    _run(lambda plan: elemwise.append_add_n(plan, xs[1:], y, "add"))
    np.testing.assert_array_equal(y, np.full(6, 6.0))


SPECIAL = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-8, 0.3, -0.6249, 0.6251, 1, -5, 9, 20, -20, 80,
                    88.5, 88.72, 88.8, 100, -87, -88, -100, -103.9, -104, -200,
                    np.inf, -np.inf, np.nan], np.float32)
REFERENCES = {"exp": np.exp, "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v))}


@pytest.mark.parametrize("op", sorted(REFERENCES))
def test_float32_transcendentals_over_their_whole_range(op):
    x = np.concatenate([np.linspace(-110, 95, 400_001, dtype=np.float32), SPECIAL])
    y = np.empty_like(x)
    _run(lambda plan: elemwise.append_unary(plan, op, x, y))
    with np.errstate(over="ignore"):
        ref = REFERENCES[op](x.astype(np.float64))
    normal = np.isfinite(ref) & (np.abs(ref) >= np.finfo(np.float32).tiny) & (np.abs(ref) < 3e38)
    rel = np.abs(y[normal] - ref[normal]) / np.abs(ref[normal])
    assert rel.max() < 4e-7, f"{op}: worst relative error {rel.max():.2e}"
    # overflow, underflow, infinities and NaN come out as IEEE float32 would
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    big = np.abs(ref) >= 3.5e38
    np.testing.assert_array_equal(y[big], np.sign(ref[big]) * np.inf)
    tiny = np.abs(ref) < 5e-46            # below half the smallest float32 denormal
    np.testing.assert_array_equal(y[tiny], 0)
