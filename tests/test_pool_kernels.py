"""Pooling's fast paths (channels-first data: row by row, whole planes, tiling windows) against
its general loop, which channels-last data takes: the same data transposed to NHWC must give
the same results, bit for bit for max pooling (which element wins a tie, what -inf, NaN and
-0.0 do, in both the forward and the gradient's routing) and within rounding for avg and sum
(whose additions may come in another order).  Both request kinds, both float types."""
import itertools

import numpy as np
import pytest

from cysym._ops import builds, runner

# every build of the kernels this machine runs (the portable one, and AVX2 + FMA where the CPU has
# them): both compile the same source with different vectorization
BUILDS = builds("conv")
BUILD_IDS = [module.__name__.rpartition(".")[2] for module in BUILDS]

GEOMETRIES = [
    # (data shape (N, C, H, W), kernel, stride, pad, pooling_convention)
    ((2, 3, 9, 8), (3, 3), (2, 2), (1, 1), "valid"),
    ((2, 3, 8, 11), (3, 3), (2, 2), (1, 1), "full"),
    ((1, 2, 7, 10), (3, 3), (2, 2), (0, 0), "valid"),
    ((2, 3, 6, 7), (3, 3), (1, 1), (1, 1), "valid"),
    ((2, 2, 7, 5), (3, 3), (1, 1), (2, 2), "full"),
    ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0), "valid"),
    ((2, 3, 6, 8), (2, 2), (2, 2), (1, 1), "full"),
    ((2, 3, 5, 6), (2, 2), (1, 1), (1, 0), "valid"),
    ((1, 2, 11, 10), (5, 5), (3, 3), (2, 2), "full"),
    ((2, 2, 7, 9), (3, 2), (1, 2), (1, 1), "valid"),
    ((2, 2, 9, 3), (3, 3), (2, 2), (0, 0), "valid"),     # one output column
    ((2, 2, 2, 1), (3, 3), (1, 1), (1, 1), "valid"),     # input smaller than the window
    ((2, 2, 3, 2), (3, 3), (3, 3), (2, 2), "full"),      # windows wholly in the padding
    ((2, 2, 6, 9), (3, 3), (3, 3), (0, 0), "valid"),     # tiling 3x3
    ((1, 2, 4, 13), (1, 4), (1, 3), (0, 2), "full"),
    # stride 1 off the padded-plane path: non-square and wider windows (rows, the gather)
    ((2, 2, 6, 7), (3, 2), (1, 1), (1, 1), "valid"),
    ((1, 2, 9, 8), (4, 4), (1, 1), (2, 1), "full"),
    ((2, 2, 7, 8), (5, 3), (1, 1), (2, 1), "valid"),
]
POOL_TYPES = [("max", None), ("avg", True), ("avg", False), ("sum", None)]


def _ids(geometry):
    shape, kernel, stride, pad, convention = geometry
    return (f"{'x'.join(map(str, shape[2:]))}-k{''.join(map(str, kernel))}"
            f"-s{''.join(map(str, stride))}-p{''.join(map(str, pad))}-{convention}")


def _nhwc(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _data(rng, shape, pool_type, dtype):
    if pool_type != "max":
        return rng.standard_normal(shape).astype(dtype)
    x = rng.integers(-2, 3, shape).astype(dtype)        # many ties
    specials = np.array([-np.inf, np.nan, -0.0, np.inf, -np.finfo(dtype).max], dtype)
    x.flat[rng.choice(x.size, 6, replace=False)] = rng.choice(specials, 6)
    return x


def _run(module, x, y, dy, dx, req, layout, **kw):
    plan = runner.Plan()
    module.append_pooling(plan, x, y, req=req, layout=layout, **kw)
    module.append_pooling_backward(plan, dy, x, dx, req=req, layout=layout, **kw)
    plan.run(is_train=True)


def _compare(module, x, dy, req, dtype, pool_type, rng, **kw):
    """(y, dx) through the fast path, and through the general loop."""
    y0 = rng.standard_normal(dy.shape).astype(dtype)
    dx0 = rng.standard_normal(x.shape).astype(dtype)
    y, dx = y0.copy(), dx0.copy()
    _run(module, x, y, dy, dx, req, None, pool_type=pool_type, **kw)
    y_general, dx_general = _nhwc(y0), _nhwc(dx0)
    _run(module, _nhwc(x), y_general, _nhwc(dy), dx_general, req, "NHWC", pool_type=pool_type, **kw)
    y_general, dx_general = np.moveaxis(y_general, -1, 1), np.moveaxis(dx_general, -1, 1)
    if pool_type == "max":
        np.testing.assert_array_equal(y, y_general)
        np.testing.assert_array_equal(np.signbit(y), np.signbit(y_general))
        np.testing.assert_array_equal(dx, dx_general)
    else:
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(y, y_general, **tol)
        np.testing.assert_allclose(dx, dx_general, **tol)


@pytest.mark.parametrize("conv", BUILDS, ids=BUILD_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("pool_type,count_include_pad", POOL_TYPES,
                         ids=["max", "avg", "avg-exclude-pad", "sum"])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=_ids)
def test_fast_paths_match_general_loop(conv, dtype, req, pool_type, count_include_pad, geometry):
    shape, kernel, stride, pad, convention = geometry
    rng = np.random.default_rng(sum(shape) + sum(kernel))
    kw = dict(kernel=kernel, stride=stride, pad=pad, pooling_convention=convention,
              count_include_pad=count_include_pad)
    geo, _ = conv.pool_geometry(shape, kernel, stride, pad, False, convention)
    dy = rng.standard_normal(conv.pool_output_shape(geo, 2, False)).astype(dtype)
    _compare(conv, _data(rng, shape, pool_type, dtype), dy, req, dtype, pool_type, rng, **kw)


PLANE_WINDOWS = [
    # (data shape, Pooling arguments): one window over the whole plane
    ((2, 3, 5, 7), dict(global_pool=True)),
    ((2, 3, 3, 5), dict(kernel=(3, 5))),
    ((2, 3, 3, 2), dict(kernel=(5, 4), pad=(1, 1))),
    ((2, 4, 1, 1), dict(global_pool=True)),
    ((2, 3, 1, 13), dict(kernel=(1, 13))),
]


@pytest.mark.parametrize("conv", BUILDS, ids=BUILD_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("req", ["write", "add"])
@pytest.mark.parametrize("pool_type,count_include_pad", POOL_TYPES,
                         ids=["max", "avg", "avg-exclude-pad", "sum"])
@pytest.mark.parametrize("shape,kw", PLANE_WINDOWS,
                         ids=["global", "kernel-is-input", "padded", "1x1", "one-row"])
def test_whole_plane_windows_match_general_loop(conv, dtype, req, pool_type, count_include_pad,
                                                shape, kw):
    rng = np.random.default_rng(shape[-1])
    dy = rng.standard_normal(shape[:2] + (1, 1)).astype(dtype)
    _compare(conv, _data(rng, shape, pool_type, dtype), dy, req, dtype, pool_type, rng,
             count_include_pad=count_include_pad, **kw)


@pytest.mark.parametrize("conv", BUILDS, ids=BUILD_IDS)
def test_max_pooling_all_equal_window_routes_to_first_element(conv):
    # ties everywhere: each window's gradient goes to its first element in row-major order,
    # as the general loop's strict comparison keeps it
    x = np.zeros((1, 1, 5, 7), np.float32)
    x[0, 0, ::2, ::3] = -0.0
    dx = np.full(x.shape, np.nan, np.float32)
    plan = runner.Plan()
    conv.append_pooling_backward(plan, np.ones((1, 1, 3, 4), np.float32), x, dx, pool_type="max",
                                 kernel=(3, 3), stride=(2, 2), pad=(1, 1))
    plan.run()
    expected = np.zeros_like(x)
    for oh, ow in itertools.product(range(3), range(4)):
        expected[0, 0, max(2 * oh - 1, 0), max(2 * ow - 1, 0)] += 1
    np.testing.assert_array_equal(dx, expected)

