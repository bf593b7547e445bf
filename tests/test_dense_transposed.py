"""The FullyConnected forward of a small float32 batch runs as the transposed product w @ x.T in
a workspace, then one pass writes its transpose plus the bias into y (dense.fc_transposed decides
when).  Both ways give NumPy's numbers, in float32 and float64, called directly and in a bound
executor (forward and gradients).  With a BLAS that has small-matrix kernels, that product and
the backward's run in blocks of weight rows against large weights: the same numbers."""
import numpy as np
import pytest

import cysym as mx
from cysym._ops import dense, runner

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
SHAPES = [(2, 3, 5), (3, 7, 70), (17, 33, 90), (31, 65, 129)]     # (rows, in_dim, hidden)


def _arrays(rows, in_dim, hidden, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, in_dim)).astype(dtype),
            rng.standard_normal((hidden, in_dim)).astype(dtype),
            rng.standard_normal(hidden).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{r}x{i}x{h}" for r, i, h in SHAPES])
@pytest.mark.parametrize("no_bias", [False, True], ids=["bias", "no_bias"])
@pytest.mark.parametrize("planned", [False, True], ids=["own-workspace", "planned-workspace"])
def test_transposed_forward_matches_numpy(shape, dtype, no_bias, planned):
    rows, in_dim, hidden = shape
    x, w, b = _arrays(rows, in_dim, hidden, dtype)
    bias = None if no_bias else b
    expected = x.astype(np.float64) @ w.T.astype(np.float64) + (0 if no_bias else b)
    workspace = np.full(hidden * rows * x.itemsize, 255, np.uint8) if planned else None  # NaN bytes
    results = []
    for transposed in (True, False):
        y = np.full((rows, hidden), np.nan, dtype)
        plan = runner.Plan()
        dense.append_fully_connected(plan, x, w, bias, y, workspace=workspace, transposed=transposed)
        plan.run()
        np.testing.assert_allclose(y, expected, **TOL[dtype])
        results.append(y)
    np.testing.assert_allclose(results[0], results[1], **TOL[dtype])


# (rows, in_dim, hidden, threads): weights large enough for blocks of rows (dense.pyx,
# SMALL_GEMM_WORK), a last block cut short, on one thread and shared by two
BLOCKED = [(2, 1024, 520, 1), (8, 600, 300, 1), (3, 1500, 700, 2), (32, 256, 700, 2)]


def _with_small_gemm_kernels(run, threads):
    """[run() on one thread, run() on `threads`], with the BLAS's small-matrix kernels forced on
    (whatever this BLAS has: the blocks give the same numbers without them, only slower)."""
    from cysym._ops import threads as kernel_threads
    before, small = mx.get_num_threads(), kernel_threads.blas_small_gemm_kernels()
    try:
        kernel_threads._set_blas_small_gemm_kernels(True)
        results = []
        for count in (1, threads):
            mx.set_num_threads(count)
            results.append(run())
        return results
    finally:
        kernel_threads._set_blas_small_gemm_kernels(small)
        mx.set_num_threads(before)


@pytest.mark.parametrize("rows, in_dim, hidden, threads", BLOCKED)
def test_transposed_forward_in_blocks_of_weight_rows(rows, in_dim, hidden, threads):
    """With small-matrix kernels, a few rows against a large weight run in blocks of weight
    rows: NumPy's numbers, and the same bits on one thread and on two."""
    x, w, b = _arrays(rows, in_dim, hidden, np.float32)
    expected = x.astype(np.float64) @ w.T.astype(np.float64) + b

    def run():
        y = np.full((rows, hidden), np.nan, np.float32)
        plan = runner.Plan()
        dense.append_fully_connected(plan, x, w, b, y, transposed=True)
        plan.run()
        return y

    results = _with_small_gemm_kernels(run, threads)
    np.testing.assert_allclose(results[0], expected, rtol=1e-4, atol=1e-4)
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("rows, in_dim, hidden, threads", [(2, 1024, 600, 2), (4, 520, 400, 2),
                                                           (2, 2000, 90, 1)])
@pytest.mark.parametrize("req", ["write", "add"])
def test_backward_in_blocks_of_weight_rows(rows, in_dim, hidden, threads, req):
    """With small-matrix kernels, dw = dy.T @ x runs in blocks of its rows and dx = dy @ w as a
    sum over blocks of w's rows: NumPy's numbers, the same bits on one thread and two."""
    x, w, _ = _arrays(rows, in_dim, hidden, np.float32)
    dy = np.random.default_rng(1).standard_normal((rows, hidden)).astype(np.float32)
    start = [np.random.default_rng(2).standard_normal(shape).astype(np.float32) if req == "add"
             else np.full(shape, np.nan, np.float32) for shape in (x.shape, w.shape, (hidden,))]
    expected = [dy.astype(np.float64) @ w, dy.T.astype(np.float64) @ x, dy.sum(0)]

    def run():
        grads = [s.copy() for s in start]
        plan = runner.Plan()
        dense.append_fully_connected_backward(plan, dy, x, w, *grads, req_dx=req, req_dw=req,
                                              req_db=req)
        plan.run(is_train=True)
        return grads

    results = _with_small_gemm_kernels(run, threads)
    for got, want, s in zip(results[0], expected, start):
        np.testing.assert_allclose(got, want + (s if req == "add" else 0), rtol=1e-4, atol=1e-3)
    for one, two in zip(*results):
        assert np.array_equal(one, two)


def test_transposed_forward_keeps_the_special_shapes():
    """One row or one output unit stays on gemv whatever is asked."""
    for rows, hidden in ((1, 70), (5, 1)):
        x, w, b = _arrays(rows, 6, hidden, np.float32)
        y = np.empty((rows, hidden), np.float32)
        plan = runner.Plan()
        dense.append_fully_connected(plan, x, w, b, y, transposed=True)
        plan.run()
        np.testing.assert_allclose(y, x @ w.T + b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows, in_dim, hidden, itemsize, expected", [
    (16, 256, 256, 4, True), (2, 256, 256, 4, True), (32, 784, 128, 4, True), (16, 64, 64, 4, True),
    (32, 128, 64, 4, True),
    (1, 256, 256, 4, False),      # gemv
    (64, 256, 256, 4, False),     # a larger batch: the direct product is faster
    (32, 100, 256, 4, False),     # a short input for 32 rows
    (16, 256, 10, 4, False),
    (16, 256, 256, 8, False),     # dgemm gains nothing that way
    (16, 0, 256, 4, False),
])
def test_rule(rows, in_dim, hidden, itemsize, expected):
    assert dense.fc_transposed(rows, in_dim, hidden, itemsize) is expected
    assert dense.fc_workspace_elements(rows, in_dim, hidden, itemsize) == (hidden * rows if expected else 0)


def _mlp(hidden):
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=hidden, name="fc1")
    act = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act, num_hidden=hidden + 3, name="fc2")
    return mx.sym.MakeLoss(mx.sym.sum(fc2 * fc2), name="loss"), fc2


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_executor_runs_it_and_the_gradients_hold(dtype):
    """A small float32 batch binds a workspace for fc2's forward (fc1's input is too short for 6
    rows); forward and gradients are NumPy's (float64 binds none and gives the same numbers)."""
    rows, in_dim, hidden = 6, 11, 70
    loss, fc2 = _mlp(hidden)
    net = mx.sym.Group([loss, mx.sym.BlockGrad(fc2)])
    exe = net.simple_bind(mx.cpu(), data=(rows, in_dim), type_dict={"data": dtype})
    rng = np.random.default_rng(3)
    values = {name: rng.standard_normal(array.shape).astype(dtype) * 0.5
              for name, array in exe.arg_dict.items()}
    for name, value in values.items():
        exe.arg_dict[name][:] = value
    assert ("fc2_workspace" in exe.debug_str()) == (dtype == np.float32)
    exe.forward(is_train=True)
    exe.backward()
    v = {k: a.astype(np.float64) for k, a in values.items()}
    h = v["data"] @ v["fc1_weight"].T + v["fc1_bias"]
    r = np.maximum(h, 0)
    out = r @ v["fc2_weight"].T + v["fc2_bias"]
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(exe.outputs[1], out, **tol)
    dout = 2 * out
    dr = dout @ v["fc2_weight"]
    dh = dr * (h > 0)
    np.testing.assert_allclose(exe.grad_dict["fc2_weight"], dout.T @ r, **tol)
    np.testing.assert_allclose(exe.grad_dict["fc1_weight"], dh.T @ v["data"], **tol)
    np.testing.assert_allclose(exe.grad_dict["fc1_bias"], dh.sum(0), **tol)
    np.testing.assert_allclose(exe.grad_dict["data"], dh @ v["fc1_weight"], **tol)


def test_gradient_matches_finite_differences():
    """float64 central differences of the float32 net's loss (its forward is the transposed one)
    agree with its weight gradient to float32 accuracy."""
    rows, in_dim, hidden = 4, 17, 64
    loss, _ = _mlp(hidden)
    exe = loss.simple_bind(mx.cpu(), data=(rows, in_dim))
    assert "fc1_workspace" in exe.debug_str()
    rng = np.random.default_rng(4)
    for array in exe.arg_dict.values():
        array[:] = rng.standard_normal(array.shape) * 0.3
    exe.forward(is_train=True)
    exe.backward()
    weight = exe.arg_dict["fc1_weight"]
    analytic = exe.grad_dict["fc1_weight"].copy()
    step = 1e-2
    for index in [(0, 0), (17, 3), (63, 4)]:
        saved = weight[index]
        losses = []
        for sign in (1, -1):
            weight[index] = saved + sign * step
            losses.append(float(exe.forward()[0].astype(np.float64).sum()))
        weight[index] = saved
        numeric = (losses[0] - losses[1]) / (2 * step)
        np.testing.assert_allclose(analytic[index], numeric, rtol=2e-2, atol=2e-2)
