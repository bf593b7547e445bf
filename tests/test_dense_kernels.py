"""The dense kernels called directly: Y = X·Wᵀ + b through sgemm/dgemm (sgemv/dgemv and
sger/dger for one row or one output column), and the one-pass backward (dX, dW, db) with
write/add/null requests."""
import threading

import numpy as np
import pytest

from cysym._ops import dense, runner

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
SHAPES = [(1, 1, 1), (3, 7, 5), (17, 33, 9), (64, 129, 31)]   # (rows, in_dim, hidden), none square
# each path of the kernels: gemm, batch 1 (gemv over W, ger for dW), one output unit (gemv
# over X, ger for dX), both at once
PATHS = {"batch-n": (6, 11, 4), "batch-1": (1, 11, 4), "one-unit": (6, 11, 1), "batch-1-one-unit": (1, 11, 1),
         "batch-1-one-input": (1, 1, 4), "one-unit-one-input": (6, 1, 1)}


def _arrays(rows, in_dim, hidden, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, in_dim)).astype(dtype)
    w = rng.standard_normal((hidden, in_dim)).astype(dtype)
    b = rng.standard_normal(hidden).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{r}x{i}x{h}" for r, i, h in SHAPES])
@pytest.mark.parametrize("no_bias", [False, True], ids=["bias", "no_bias"])
def test_forward_matches_numpy(shape, dtype, no_bias):
    x, w, b = _arrays(*shape, dtype)
    y = np.full((shape[0], shape[2]), np.nan, dtype)
    plan = runner.Plan()
    dense.append_fully_connected(plan, x, w, None if no_bias else b, y)
    plan.run()
    expected = x.astype(np.float64) @ w.T.astype(np.float64) + (0 if no_bias else b)
    np.testing.assert_allclose(y, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("no_bias", [False, True], ids=["bias", "no_bias"])
def test_forward_paths_match_numpy(path, dtype, no_bias):
    rows, in_dim, hidden = PATHS[path]
    x, w, b = _arrays(rows, in_dim, hidden, dtype)
    y = np.full((rows, hidden), np.nan, dtype)
    plan = runner.Plan()
    dense.append_fully_connected(plan, x, w, None if no_bias else b, y)
    plan.run()
    expected = x.astype(np.float64) @ w.T.astype(np.float64) + (0 if no_bias else b)
    np.testing.assert_allclose(y, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("req", ["write", "add", "null"])
@pytest.mark.parametrize("path", list(PATHS))
def test_backward_matches_numpy(path, dtype, req):
    rows, in_dim, hidden = PATHS[path]
    x, w, _ = _arrays(rows, in_dim, hidden, dtype)
    dy = np.random.default_rng(1).standard_normal((rows, hidden)).astype(dtype)
    start = 0.5 if req in ("add", "null") else np.nan
    dx, dw, db = (np.full(s, start, dtype) for s in ((rows, in_dim), (hidden, in_dim), (hidden,)))
    plan = runner.Plan()
    dense.append_fully_connected_backward(plan, dy, x, w, dx, dw, db, req, req, req)
    plan.run()
    d64, x64, w64 = (a.astype(np.float64) for a in (dy, x, w))
    for got, grad in ((dx, d64 @ w64), (dw, d64.T @ x64), (db, d64.sum(0))):
        expected = {"write": grad, "add": 0.5 + grad, "null": np.full_like(grad, 0.5)}[req]
        np.testing.assert_allclose(got, expected, **TOL[dtype])


@pytest.mark.parametrize("hidden", [1, 3], ids=["one-unit", "units"])
def test_empty_batch_writes_zero_gradients(hidden):
    """With no rows the sums over the batch are empty: write requests still write zeros."""
    rows, in_dim = 0, 5
    x, w, _ = _arrays(rows, in_dim, hidden, np.float64)
    dy = np.ones((rows, hidden))
    y, dx, dw, db = (np.full(s, np.nan) for s in ((rows, hidden), (rows, in_dim), (hidden, in_dim), (hidden,)))
    plan = runner.Plan()
    dense.append_fully_connected(plan, x, w, None, y)
    dense.append_fully_connected_backward(plan, dy, x, w, dx, dw, db)
    plan.run()
    np.testing.assert_array_equal(y, 0.0)
    np.testing.assert_array_equal(dx, 0.0)
    np.testing.assert_array_equal(dw, 0.0)
    np.testing.assert_array_equal(db, rows)


def test_backward_null_requests_leave_outputs_alone():
    x, w, _ = _arrays(3, 5, 2, np.float64)
    dy = np.ones((3, 2))
    dx, dw = np.full((3, 5), 7.0), np.full((2, 5), 7.0)
    plan = runner.Plan()
    dense.append_fully_connected_backward(plan, dy, x, w, dx, dw, None, "null", "write", "null")
    plan.run()
    np.testing.assert_array_equal(dx, 7.0)
    np.testing.assert_allclose(dw, dy.T @ x)


def test_flattened_input_is_read_as_rows():
    x = np.random.default_rng(2).standard_normal((4, 3, 5))
    w = np.random.default_rng(3).standard_normal((2, 15))
    y = np.empty((4, 2))
    plan = runner.Plan()
    dense.append_fully_connected(plan, x, w, None, y)
    plan.run()
    np.testing.assert_allclose(y, x.reshape(4, 15) @ w.T, rtol=1e-12)


def test_non_contiguous_input_is_rejected():
    x, w, b = _arrays(6, 8, 3, np.float32)
    y = np.empty((3, 3), np.float32)
    with pytest.raises(ValueError, match="contiguous"):
        dense.append_fully_connected(runner.Plan(), x[::2], w, b, y)


def test_mixed_dtypes_are_rejected():
    x, w, b = _arrays(2, 3, 4, np.float32)
    with pytest.raises(TypeError, match="one dtype"):
        dense.append_fully_connected(runner.Plan(), x, w.astype(np.float64), b, np.empty((2, 4), np.float32))


def test_wrong_output_size_is_rejected():
    x, w, b = _arrays(2, 3, 4, np.float64)
    with pytest.raises(ValueError, match="expected 8 elements"):
        dense.append_fully_connected(runner.Plan(), x, w, b, np.empty((2, 5)))


def test_kernels_release_the_gil():
    """Python keeps running in the main thread while another thread runs a long plan."""
    x, w, b = _arrays(256, 512, 256, np.float64)
    y = np.empty((256, 256))
    plan = runner.Plan()
    for _ in range(200):
        dense.append_fully_connected(plan, x, w, b, y)
    worker = threading.Thread(target=plan.run)
    steps = 0
    worker.start()
    while worker.is_alive():
        steps += 1
    worker.join()
    # with the GIL held for the whole run this loop could not advance while the plan runs
    assert steps > 10_000
    np.testing.assert_allclose(y, x @ w.T + b, rtol=1e-12)
