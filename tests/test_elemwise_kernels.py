"""Element-wise kernels called directly: broadcasting layouts, requests, the broadcast
reduction, and the maps computed without libm (exp, sigmoid, tanh, elu, softrelu, log, gelu) over
their whole range; each in every build of the module this machine runs."""
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import special

from cysym._ops import builds, load, runner

BUILDS = builds("elemwise")


@pytest.fixture(params=BUILDS, ids=lambda module: module.__name__.rsplit(".", 1)[1])
def elemwise(request):
    """Each build of the kernels that this machine runs: the portable one and the AVX2 one."""
    return request.param

LAYOUTS = [((2, 3, 5), (2, 3, 5)), ((2, 3, 5), (5,)), ((2, 3, 5), (3, 1)), ((2, 1, 5), (4, 1)),
           ((1,), (2, 3, 5)), ((7, 1, 3, 1, 2), (1, 4, 1, 5, 2))]


def _run(fill):
    plan = runner.Plan()
    fill(plan)
    plan.run()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("lhs_shape, rhs_shape", LAYOUTS, ids=[f"{a}-{b}" for a, b in LAYOUTS])
@pytest.mark.parametrize("req", ["write", "add"])
def test_binary_broadcasting_matches_numpy(lhs_shape, rhs_shape, dtype, req, elemwise):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=lhs_shape).astype(dtype), rng.normal(size=rhs_shape).astype(dtype)
    start = np.full(np.broadcast_shapes(lhs_shape, rhs_shape), 0.25, dtype)
    y = start.copy()
    _run(lambda plan: elemwise.append_binary(plan, "sub", a, b, y, req))
    np.testing.assert_allclose(y, (a - b) + (start if req == "add" else 0), rtol=1e-6)


@pytest.mark.parametrize("lhs_shape, rhs_shape", LAYOUTS[1:], ids=[f"{a}-{b}" for a, b in LAYOUTS[1:]])
def test_partials_reduced_to_the_operand_shapes(lhs_shape, rhs_shape, elemwise):
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


def test_shapes_that_do_not_broadcast_are_rejected(elemwise):
    a, b, y = np.zeros((2, 3)), np.zeros((4,)), np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"my_op: operands \(2, 3\) and \(4,\)"):
        elemwise.append_binary(runner.Plan(), "add", a, b, y, label="my_op")


def test_more_than_eight_unmergeable_axes_are_rejected(elemwise):
    shape_a = (2, 1) * 5
    shape_b = (1, 2) * 5
    y = np.zeros((2,) * 10)
    with pytest.raises(ValueError, match="at most 8"):
        elemwise.append_binary(runner.Plan(), "add", np.zeros(shape_a), np.zeros(shape_b), y)


def test_add_n_in_place_and_accumulating(elemwise):
    xs = [np.full(6, float(i + 1)) for i in range(3)]
    _run(lambda plan: elemwise.append_add_n(plan, xs, xs[0]))        # output aliases input 0
    np.testing.assert_array_equal(xs[0], np.full(6, 6.0))
    y = np.ones(6)
    _run(lambda plan: elemwise.append_add_n(plan, xs[1:], y, "add"))
    np.testing.assert_array_equal(y, np.full(6, 6.0))


SPECIAL = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-8, 0.3, -0.6249, 0.6251, 1, -5, 9, 20, -20, 80,
                    88.5, 88.72, 88.8, 100, -87, -88, -100, -103.9, -104, -200, 709.78, 709.79,
                    -708.3, -708.4, -745.1, -745.2, -800, np.inf, -np.inf, np.nan])
ELU_SLOPE = 0.7


def _everywhere(dtype):
    """The whole range where exp-based maps change behaviour, densely around zero."""
    low, high = (-110, 95) if dtype == np.float32 else (-760, 720)
    return np.concatenate([np.linspace(low, high, 400_001), np.linspace(-3, 3, 100_001),
                           -np.geomspace(1e-30, 1e-3, 10_001), SPECIAL])


def _positive(dtype):
    """Every binade from the smallest subnormal to the largest value, densely around one."""
    info = np.finfo(dtype)
    return np.concatenate([np.geomspace(info.smallest_subnormal, info.max, 400_001), np.linspace(0.5, 2, 100_001),
                           SPECIAL, [-1, 1 + info.eps]])


# the maps computed without libm (gelu: in float32), each against its float64 (long double where
# NumPy has it)
# reference: (reference, inputs)
REFERENCES = {
    "exp": (np.exp, _everywhere),
    "sigmoid": (lambda v: 1 / (1 + np.exp(-v)), _everywhere),
    "tanh": (np.tanh, _everywhere),
    "elu": (lambda v: np.where(v > 0, v, ELU_SLOPE * np.expm1(v)), _everywhere),
    "softrelu": (lambda v: np.logaddexp(0, v), _everywhere),
    "log": (np.log, _positive),
    "gelu": (lambda v: 0.5 * v * special.erfc(-(v.astype(np.float64) * np.sqrt(0.5))), _everywhere),
}
# float32 within 4e-7 (about 3 ulp), float64 within 1e-15 (about 5 ulp); float64 gelu is libm's
# erfc, and SciPy's, the reference, loses about x^2 ulp far in the tail (1e-13 at x = -30)
TOLERANCES = {np.float32: 4e-7, np.float64: 1e-15}
LOOSER = {("gelu", np.float64): 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("op", sorted(REFERENCES))
def test_transcendentals_over_their_whole_range(op, dtype, elemwise):
    reference, inputs = REFERENCES[op]
    info = np.finfo(dtype)
    with np.errstate(over="ignore"):
        x = inputs(dtype).astype(dtype)
    y = np.empty_like(x)
    _run(lambda plan: elemwise.append_unary(plan, op, x, y, s0=ELU_SLOPE))
    with np.errstate(all="ignore"):
        ref = reference(x.astype(np.longdouble)).astype(np.float64)
    normal = np.isfinite(ref) & (np.abs(ref) >= info.tiny) & (np.abs(ref) <= info.max)
    rel = np.abs(y[normal] - ref[normal]) / np.abs(ref[normal])
    assert rel.max() < LOOSER.get((op, dtype), TOLERANCES[dtype]), f"{op}: worst relative error {rel.max():.2e} at {x[normal][rel.argmax()]}"
    # overflow, underflow, infinities and NaN come out as IEEE arithmetic would
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    with np.errstate(over="ignore"):
        rounded = ref.astype(dtype)
    big = np.isinf(rounded)
    np.testing.assert_array_equal(y[big], rounded[big])
    tiny = np.abs(ref) < float(info.smallest_subnormal) / 2 * 0.999
    np.testing.assert_array_equal(y[tiny], 0)


POSITIVE_ONLY = {"log", "sqrt", "rsqrt", "power_scalar"}
MAP_INPUTS = np.concatenate([np.linspace(-6, 6, 2001), [0.0, -0.0, 1e-3, 0.5, 1.0, 88.0, -90.0]])


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-13)], ids=["float32", "float64"])
def test_every_map_agrees_with_the_build_the_operator_tests_check(dtype, rtol, elemwise):
    """The operator tests check load("elemwise") against NumPy; every other build must give the
    same numbers up to rounding (FMA contracts a multiply and an add into one rounding)."""
    checked = load("elemwise")
    x = MAP_INPUTS.astype(dtype)
    other = (np.abs(x[::-1]) + 0.5).astype(dtype)
    for op in elemwise.UNARY:
        outputs = []
        for module in (elemwise, checked):
            y = np.zeros_like(x)
            _run(lambda plan: module.append_unary(plan, op, np.abs(x) if op in POSITIVE_ONLY else x, y,
                                                  s0=0.7, s1=1.5))
            outputs.append(y)
        np.testing.assert_allclose(*outputs, rtol=rtol, atol=rtol, err_msg=op)
    for op in elemwise.BINARY:
        outputs = []
        for module in (elemwise, checked):
            y = np.zeros_like(x)
            _run(lambda plan: module.append_binary(plan, op, x, other, y))
            outputs.append(y)
        np.testing.assert_allclose(*outputs, rtol=rtol, atol=rtol, err_msg=op)



@pytest.mark.parametrize("setting", [None, "baseline", "avx2", "avx512"])
def test_load_picks_the_widest_build_that_runs_and_is_allowed(setting, tmp_path):
    import cysym

    env = {key: value for key, value in os.environ.items() if key != "CYSYM_KERNELS"}
    # the child imports the cysym this process tested (not the source tree in the working directory)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(cysym.__file__))
    if setting:
        env["CYSYM_KERNELS"] = setting
    code = "from cysym._ops import load; print(load('elemwise').__name__, load('dense').__name__)"
    names = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                           text=True, check=True).stdout.split()
    order = ["cysym._ops.elemwise", "cysym._ops.elemwise_avx2", "cysym._ops.elemwise_avx512"]
    cap = {None: 2, "baseline": 0, "avx2": 1, "avx512": 2}[setting]
    runnable = [module.__name__ for module in BUILDS]
    expected = [name for name in order[:cap + 1] if name in runnable][-1]
    assert names == [expected, "cysym._ops.dense"]


def test_an_unknown_kernel_setting_is_refused(tmp_path):
    import cysym

    env = dict(os.environ, CYSYM_KERNELS="sse9",
               PYTHONPATH=os.path.dirname(os.path.dirname(cysym.__file__)))
    run = subprocess.run([sys.executable, "-c", "from cysym._ops import load; load('elemwise')"], env=env,
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode != 0 and "CYSYM_KERNELS='sse9'" in run.stderr


@pytest.mark.parametrize("exponent", [2.0, 3.0, 0.5])
def test_power_scalar_and_its_derivative(exponent, elemwise):
    x = np.linspace(0.1, 4, 50)
    dy = np.linspace(-1, 1, 50)
    y, dx = np.empty_like(x), np.empty_like(x)
    _run(lambda plan: elemwise.append_unary(plan, "power_scalar", x, y, s0=exponent))
    _run(lambda plan: elemwise.append_binary(plan, "power_scalar_grad_x", dy, x, dx, s0=exponent))
    np.testing.assert_allclose(y, x ** exponent, rtol=1e-15)
    np.testing.assert_allclose(dx, dy * exponent * x ** (exponent - 1), rtol=1e-15)


SUM_TO = [((300, 257), (300, 1)), ((300, 257), (1, 257)), ((300, 257), (1,)), ((2, 77100, 3), (2, 1, 3))]


@pytest.mark.parametrize("x_shape, target", SUM_TO, ids=[f"{x}-to-{t}" for x, t in SUM_TO])
@pytest.mark.parametrize("req", ["write", "add"])
def test_sum_to_a_smaller_shape(x_shape, target, req, elemwise):
    x = np.full(x_shape, 0.1, np.float32)
    y = np.ones(target, np.float32)
    _run(lambda plan: elemwise.append_sum_to(plan, x, y, req))
    padded = (1,) * (x.ndim - len(target)) + target
    summed = tuple(d for d, size in enumerate(padded) if size == 1)
    expected = x.astype(np.float64).sum(axis=summed).reshape(target) + (1 if req == "add" else 0)
    # summing the inner axis away goes through float64 partial sums; a kept inner axis adds
    # whole rows in float32, as NumPy does
    np.testing.assert_allclose(y, expected, rtol=2e-7 if target[-1] == 1 else 1e-3)
