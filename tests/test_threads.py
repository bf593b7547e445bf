"""The kernels' threads (cysym/_ops/threads.pyx): every parallel loop gives the numbers one
thread gives, and SciPy's BLAS is held to one thread while a plan runs."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import cysym as mx
from cysym._ops import threads

PACKAGE_ROOT = pathlib.Path(mx.__file__).resolve().parent.parent
needs_openmp = pytest.mark.skipif(not threads.openmp(), reason="kernels built without OpenMP")


@pytest.fixture
def restore_threads():
    before = threads.get_num_threads()
    yield
    threads.set_num_threads(before)


def _network():
    """Every kernel family that splits its work: im2col convolutions (a chunk of samples), a
    Winograd convolution, a pointwise and a depthwise convolution with bias, BatchNorm, max and
    average pooling, and a dense layer large enough for a split GEMM."""
    data = mx.sym.Variable("data")
    x = mx.sym.Convolution(data, num_filter=24, kernel=(5, 5), stride=(1, 1), pad=(2, 2), name="c5")
    x = mx.sym.BatchNorm(x, fix_gamma=False, name="bn0")
    x = mx.sym.Activation(x, act_type="relu")
    x = mx.sym.Convolution(x, num_filter=32, kernel=(3, 3), pad=(1, 1), no_bias=True, name="c3")
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max")
    x = mx.sym.Convolution(x, num_filter=40, kernel=(1, 1), name="c1")
    x = mx.sym.Convolution(x, num_filter=40, kernel=(3, 3), pad=(1, 1), num_group=40, name="dw")
    x = mx.sym.BatchNorm(x, fix_gamma=False, name="bn1")
    x = mx.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg")
    x = mx.sym.FullyConnected(x, num_hidden=300, name="fc")
    return mx.sym.SoftmaxOutput(x, name="softmax")


def _fill(exe, seed):
    """Labels in [0, 300) and other arguments uniform in [-0.5, 0.5); returns the generator."""
    rng = np.random.default_rng(seed)
    for name, array in exe.arg_dict.items():
        if name == "softmax_label":
            array[:] = rng.integers(0, 300, array.shape)
        else:
            array[:] = rng.uniform(-0.5, 0.5, array.shape)
    return rng


@needs_openmp
@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_two_threads_give_the_numbers_of_one(restore_threads, dtype, tol):
    net = _network()
    shape = (3, 5, 47, 53)
    exe = net.simple_bind(mx.cpu(), data=shape, type_dict={"data": dtype})
    _fill(exe, 7)
    results = []
    for count in (1, 2):
        threads.set_num_threads(count)
        exe.forward(is_train=True)
        exe.backward()
        results.append([exe.outputs[0].asnumpy().copy()]
                       + [exe.grad_dict[name].asnumpy().copy() for name in sorted(exe.grad_dict)])
    for one, two in zip(*results):
        np.testing.assert_allclose(two, one, rtol=tol, atol=tol)


@pytest.fixture
def deterministic():
    before = threads.get_deterministic()
    threads.set_deterministic(True)
    yield
    threads.set_deterministic(before)


def _batch_one_dense():
    # a batch of one runs gemv (FullyConnected's forward and data gradient), large enough to split
    data = mx.sym.Variable("data")
    x = mx.sym.FullyConnected(data, num_hidden=700, name="fc0")
    x = mx.sym.Activation(x, act_type="tanh")
    return mx.sym.FullyConnected(x, num_hidden=230, name="fc1")


@needs_openmp
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("net, shape", [(_network, (3, 5, 47, 53)), (_batch_one_dense, (1, 900))])
def test_deterministic_mode_gives_the_same_bits_at_every_thread_count(restore_threads,
                                                                      deterministic, dtype, net,
                                                                      shape):
    exe = net().simple_bind(mx.cpu(), data=shape, type_dict={"data": dtype})
    rng = _fill(exe, 11)
    head = [mx.nd.array(rng.uniform(-1, 1, exe.outputs[0].shape))]
    results = []
    for count in (1, 2, 3):
        threads.set_num_threads(count)
        exe.forward(is_train=True)
        exe.backward(out_grads=None if net is _network else head)
        results.append([exe.outputs[0].asnumpy().copy()]
                       + [exe.grad_dict[name].asnumpy().copy() for name in sorted(exe.grad_dict)])
    for one, other in zip(results[0], results[1]):
        assert np.array_equal(one, other)
    for one, other in zip(results[0], results[2]):
        assert np.array_equal(one, other)


def test_deterministic_mode_from_the_environment(tmp_path):
    script = "import cysym; print(cysym.get_deterministic())"
    seen = {}
    for setting in ({}, {"CYSYM_DETERMINISTIC": "1"}, {"MXNET_ENFORCE_DETERMINISM": "1"},
                    {"CYSYM_DETERMINISTIC": "0", "MXNET_ENFORCE_DETERMINISM": "1"},
                    {"CYSYM_DETERMINISTIC": "yes"}):
        env = {k: v for k, v in os.environ.items()
               if k not in ("CYSYM_DETERMINISTIC", "MXNET_ENFORCE_DETERMINISM")}
        env.update(setting, PYTHONPATH=str(PACKAGE_ROOT))
        result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        seen[tuple(sorted(setting.items()))] = result.stdout.strip()
    assert list(seen.values()) == ["False", "True", "True", "False", "False"]


@needs_openmp
def test_loops_without_blas_are_bit_identical(restore_threads):
    # pooling, BatchNorm and depthwise convolutions split whole planes or channels, element-wise
    # maps element ranges
    data = mx.sym.Variable("data")
    x = mx.sym.Convolution(data, num_filter=6, kernel=(3, 3), pad=(1, 1), num_group=6, name="dw")
    x = mx.sym.BatchNorm(x, fix_gamma=False, name="bn")
    x = mx.sym.clip(mx.sym.Activation(x, act_type="tanh") + x * 0.5, a_min=-0.3, a_max=0.7)
    net = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max")
    exe = net.simple_bind(mx.cpu(), data=(4, 6, 61, 67))
    rng = np.random.default_rng(3)
    for array in exe.arg_dict.values():
        array[:] = rng.standard_normal(array.shape)
    results = []
    for count in (1, 2):
        threads.set_num_threads(count)
        exe.forward(is_train=True)
        exe.backward(out_grads=[mx.nd.ones(exe.outputs[0].shape)])
        results.append([exe.outputs[0].asnumpy().copy(), exe.grad_dict["data"].asnumpy().copy(),
                        exe.grad_dict["dw_weight"].asnumpy().copy()])
    for one, two in zip(*results):
        assert np.array_equal(one, two)


def test_thread_count_setting(restore_threads):
    threads.set_num_threads(3)
    assert threads.get_num_threads() == (3 if threads.openmp() else 1)
    with pytest.raises(ValueError, match="at least 1"):
        threads.set_num_threads(0)
    assert mx.get_num_threads() == threads.get_num_threads()
    mx.set_num_threads(1)
    assert threads.get_num_threads() == 1


@pytest.mark.skipif(threads.blas_controls() is None, reason="this BLAS has no thread control")
def test_blas_held_at_one_thread_and_the_users_later_setting_kept():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    assert threads.blas_num_threads() == 1          # cysym set it at import
    exe = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=64).simple_bind(
        mx.cpu(), data=(64, 64))
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert threads.blas_num_threads() == 2
        exe.forward()                               # held at one inside, given back after
        assert threads.blas_num_threads() == 2
    assert threads.blas_num_threads() == 1


FORK_SCRIPT = """
import os, sys
import cysym as mx
from cysym._ops import threads
threads.set_num_threads(2)
exe = mx.sym.Convolution(mx.sym.Variable("x"), num_filter=32, kernel=(3, 3), pad=(1, 1)).simple_bind(
    mx.cpu(), grad_req="null", x=(2, 32, 40, 40))
exe.forward()                                   # the parent's OpenMP threads exist now
pid = os.fork()
if pid == 0:
    exe.forward()
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads.set_num_threads(2)              # refused with a warning: still one thread
    warned = any("fork" in str(w.message) for w in caught)
    os._exit(0 if threads.get_num_threads() == 1 and warned else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@needs_openmp
def test_a_forked_child_runs_its_kernels_on_one_thread_and_says_so(tmp_path):
    # without the fork handler the child's first parallel region waits forever; the cysym under
    # test runs from outside the checkout (a fresh clone's source tree has no kernels)
    result = subprocess.run([sys.executable, "-c", FORK_SCRIPT], timeout=120, capture_output=True,
                            text=True, cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT)))
    assert result.returncode == 0, result.stderr


@needs_openmp
def test_fused_inference_gives_the_numbers_of_one_thread(restore_threads):
    # bind-time fusion (cysym/fusion.py) on each convolution path: the stem in tiles of output
    # rows, a pointwise layer in tiles of columns, a depthwise and a Winograd layer
    def block(x, name, act="relu", **conv):
        x = mx.sym.Convolution(x, no_bias=True, name=name, **conv)
        x = mx.sym.BatchNorm(x, fix_gamma=False, name=f"{name}_bn")
        return mx.sym.Activation(x, act_type="relu") if act == "relu" else mx.sym.clip(x, 0, 6)

    x = block(mx.sym.Variable("data"), "stem", kernel=(7, 7), stride=(2, 2), pad=(3, 3), num_filter=16)
    x = block(x, "pw", "relu6", kernel=(1, 1), num_filter=64)
    x = block(x, "dw", kernel=(3, 3), pad=(1, 1), num_filter=64, num_group=64)
    net = block(x, "wino", kernel=(3, 3), pad=(1, 1), num_filter=32)
    exe = net.simple_bind(mx.cpu(), grad_req="null", data=(1, 3, 120, 110))
    assert sum(op == "_FusedConvolution" for op, _ in exe._call_nodes) >= 4
    rng = np.random.default_rng(5)
    for array in list(exe.arg_dict.values()) + list(exe.aux_dict.values()):
        array[:] = rng.uniform(0.5, 1.5, array.shape)
    results = []
    for count in (1, 2):
        threads.set_num_threads(count)
        results.append(exe.forward()[0].asnumpy().copy())
    np.testing.assert_allclose(results[1], results[0], rtol=2e-5, atol=2e-5)
