"""mx.kv in one process (issue 12): MXNet's KVStore API for 'local' and 'device', the refusals,
Module with a store, NDArrayIter's part_index/num_parts and metric aggregation without MPI."""
import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError
from cysym.demo import load_digits, seed_mlp

SHAPE = (2, 3)


@pytest.mark.parametrize("name", ["local", "device"])
def test_create_and_properties(name):
    kv = mx.kv.create(name)
    assert (kv.type, kv.rank, kv.num_workers, kv.is_distributed) == (name, 0, 1, False)
    assert kv.is_capable("optimizer")
    kv.barrier()
    kv._barrier()


@pytest.mark.parametrize("name", ["dist_async", "dist"])
def test_asynchronous_stores_are_refused_pointing_to_dist_sync(name):
    with pytest.raises(MXNetError, match="use 'dist_sync'"):
        mx.kv.create(name)


def test_unknown_and_non_string_names():
    with pytest.raises(MXNetError, match="'horovod' is not supported"):
        mx.kv.create("horovod")
    with pytest.raises(TypeError):
        mx.kv.create(3)


def test_init_push_pull_sums_the_pushed_values():
    kv = mx.kv.create("local")
    kv.init("3", mx.nd.ones(SHAPE) * 2)
    out = mx.nd.zeros(SHAPE)
    kv.pull("3", out=out)
    np.testing.assert_array_equal(out, np.full(SHAPE, 2.0))
    # a list of values (one per device) is summed, and replaces the stored value
    kv.push("3", [mx.nd.ones(SHAPE), mx.nd.ones(SHAPE) * 4])
    outs = [mx.nd.zeros(SHAPE), mx.nd.zeros(SHAPE)]
    kv.pull("3", out=outs)
    for o in outs:
        np.testing.assert_array_equal(o, np.full(SHAPE, 5.0))


def test_lists_of_keys():
    kv = mx.kv.create("local")
    keys = [5, 7, 9]
    kv.init(keys, [mx.nd.ones(SHAPE) * k for k in keys])
    outs = [mx.nd.zeros(SHAPE) for _ in keys]
    kv.pull(keys, out=outs)
    for k, o in zip(keys, outs):
        np.testing.assert_array_equal(o, np.full(SHAPE, float(k)))


def test_errors_name_the_key():
    kv = mx.kv.create("local")
    kv.init("w", mx.nd.zeros(SHAPE))
    with pytest.raises(MXNetError, match="duplicate init of key 'w'"):
        kv.init("w", mx.nd.zeros(SHAPE))
    with pytest.raises(MXNetError, match="key 'v' has not been initialized"):
        kv.pull("v", out=mx.nd.zeros(SHAPE))
    with pytest.raises(MXNetError, match=r"key 'w' holds shape \(2, 3\), got \(3, 2\)"):
        kv.push("w", mx.nd.zeros((3, 2)))
    with pytest.raises(MXNetError, match="out must be given"):
        kv.pull("w")
    with pytest.raises(MXNetError, match="2 keys but 1 values"):
        kv.init(["a", "b"], [mx.nd.zeros(SHAPE)])


def test_set_optimizer_updates_at_push():
    """MXNet's documented example: SGD's default learning rate 0.01 on a gradient of ones."""
    kv = mx.kv.create("local")
    weight = mx.nd.zeros((2, 2))
    kv.init(3, weight)
    kv.set_optimizer(mx.optimizer.SGD())
    kv.push(3, mx.nd.ones((2, 2)))
    kv.pull(3, out=weight)
    np.testing.assert_allclose(weight, np.full((2, 2), -0.01), rtol=1e-6)


def test_pushpull_writes_into_value_without_out_and_broadcast():
    kv = mx.kv.create("local")
    kv.init("g", mx.nd.zeros(SHAPE))
    value = mx.nd.ones(SHAPE) * 3
    kv.pushpull("g", value)
    np.testing.assert_array_equal(value, np.full(SHAPE, 3.0))
    out = mx.nd.zeros(SHAPE)
    kv.pushpull("g", [mx.nd.ones(SHAPE), mx.nd.ones(SHAPE)], out=out)
    np.testing.assert_array_equal(out, np.full(SHAPE, 2.0))
    target = mx.nd.zeros((3, 2))
    kv.broadcast("b", mx.nd.ones((3, 2)) * 7, out=target)
    np.testing.assert_array_equal(target, np.full((3, 2), 7.0))


def test_refusals():
    kv = mx.kv.create("local")
    with pytest.raises(MXNetError, match="no sparse storage"):
        kv.row_sparse_pull("w", out=mx.nd.zeros(SHAPE), row_ids=mx.nd.array([0]))
    with pytest.raises(MXNetError, match="not supported for this type of kvstore"):
        kv.set_gradient_compression({"type": "2bit"})
    with pytest.raises(MXNetError, match="call set_optimizer first"):
        kv.save_optimizer_states("never-written")


@pytest.mark.parametrize("params, message", [
    ({"type": "1bit"}, "Unknown type for gradient compression 1bit"),
    ({"type": "none"}, "Unknown type for gradient compression none"),
    ({"threshold": 0.5}, "Required parameter type of string is not presented"),
    ({"type": "2bit", "threshold": 0}, "threshold must be greater than 0"),
])
def test_bad_compression_params(params, message):
    """MXNet 1.9.1's messages for the same parameters."""
    with pytest.raises(MXNetError, match=message):
        mx.kv.create("device").set_gradient_compression(params)


def test_2bit_compression_keeps_the_residual():
    """Values from MXNet 1.9.1 ('device' store, default threshold 0.5, the same pushes)."""
    kv = mx.kv.create("device")
    kv.set_gradient_compression({"type": "2bit"})
    kv.init("s", mx.nd.zeros((5,)))
    out = mx.nd.zeros((5,))
    kv.push("s", mx.nd.array([0.3, 0.6, -0.6, -0.2, 0.49]))
    kv.pull("s", out=out)
    np.testing.assert_array_equal(out, [0, 0.5, -0.5, 0, 0])
    kv.push("s", mx.nd.array([0.3, 0.6, -0.6, -0.2, 0.01]))   # residuals 0.3, 0.1, -0.1, -0.2, 0.49
    kv.pull("s", out=out)
    np.testing.assert_array_equal(out, [0.5, 0.5, -0.5, 0, 0.5])
    with pytest.raises(MXNetError, match="works on float32 values; key 'd' holds float64"):
        kv.init("d", mx.nd.zeros((3,), dtype=np.float64))
        kv.push("d", mx.nd.ones((3,), dtype=np.float64))


def test_2bit_compression_of_two_devices_matches_mxnet():
    """Each device's value is quantized with its own residual, then the values are summed.
    Expected: MXNet 1.9.1, mx.kv.create('device') with {'type': '2bit', 'threshold': 0.5}, the
    same pushes of two arrays (on cpu(0) and cpu(1)) drawn by np.random.default_rng(0)."""
    expected = [
        [[-0.5, 0, -0.5, -0.5, 0.5, 1, 0.5], [0, 0, 0.5, 0.5, -1, 0.5, -0.5], [0, -0.5, 1, 0.5, 0, 0, -0.5]],
        [[0, -0.5, 0, 0, 0.5, 0.5, -0.5], [1, 1, 0, 1, -0.5, 0, -0.5], [0.5, 0.5, 0, 0, -0.5, -0.5, -0.5]],
        [[0, 0, 0.5, 0, 0, 0.5, 0], [1, -0.5, 1, 0.5, 0.5, -1, 0.5], [0, 0.5, 0, 0, 0.5, 0.5, -0.5]],
    ]
    kv = mx.kv.create("device")
    kv.set_gradient_compression({"type": "2bit", "threshold": 0.5})
    kv.init("w", mx.nd.zeros((3, 7)))
    rng = np.random.default_rng(0)
    for step in range(3):
        kv.push("w", [mx.nd.array(rng.uniform(-1, 1, (3, 7))) for _ in range(2)])
        out = mx.nd.zeros((3, 7))
        kv.pull("w", out=out)
        np.testing.assert_array_equal(out, expected[step], err_msg=f"step {step}")


def test_optimizer_states_round_trip(tmp_path):
    kv = mx.kv.create("local")
    kv.init(0, mx.nd.zeros(SHAPE))
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
    kv.push(0, mx.nd.ones(SHAPE))
    kv.save_optimizer_states(str(tmp_path / "kv.states"), dump_optimizer=True)
    other = mx.kv.create("local")
    other.init(0, mx.nd.zeros(SHAPE))
    other.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
    other.load_optimizer_states(str(tmp_path / "kv.states"))
    np.testing.assert_array_equal(other._updater.states[0], kv._updater.states[0])


def _fit(kvstore):
    (x, y), _ = load_digits()
    mx.random.seed(5)
    it = mx.io.NDArrayIter(x[:120], y[:120], batch_size=20, shuffle=True)
    mod = mx.mod.Module(seed_mlp())
    mod.fit(it, num_epoch=2, kvstore=kvstore, optimizer="sgd",
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3},
            initializer=mx.init.Xavier())
    return mod


def test_module_with_a_store_instance_updates_on_it(tmp_path):
    """A KVStore object runs the optimizer (MXNet's update_on_kvstore); the string 'local' with
    one device uses no store; both train alike."""
    plain = _fit("local")
    on_store = _fit(mx.kv.create("local"))
    assert plain._kvstore is None and on_store._update_on_kvstore
    for name, value in plain.get_params()[0].items():
        np.testing.assert_allclose(on_store.get_params()[0][name], value, rtol=1e-6, err_msg=name)
    on_store.save_checkpoint(str(tmp_path / "m"), 2, save_optimizer_states=True)
    loaded = mx.mod.Module.load(str(tmp_path / "m"), 2, load_optimizer_states=True)
    loaded.bind(data_shapes=on_store.data_shapes, label_shapes=on_store.label_shapes)
    loaded.init_optimizer(kvstore=mx.kv.create("local"), optimizer="sgd",
                          optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3})
    assert sorted(loaded._kvstore._updater.states) == sorted(on_store._kvstore._updater.states)


def test_parts_of_a_shuffled_iterator_make_the_whole_batches():
    x = np.arange(35 * 2, dtype=np.float32).reshape(35, 2)
    y = np.arange(35, dtype=np.float32)
    mx.random.seed(2)
    whole = [b.label[0] for b in mx.io.NDArrayIter(x[:33], y[:33], batch_size=9, shuffle=True)]
    parts = []
    for part in range(3):
        mx.random.seed(2)
        it = mx.io.NDArrayIter(x[:33], y[:33], batch_size=3, shuffle=True, part_index=part, num_parts=3)
        assert it.num_data == 11 and it.provide_data[0].shape == (3, 2)
        parts.append([b.label[0] for b in it])
    assert [len(p) for p in parts] == [4, 4, 4]
    for step, batch in enumerate(whole[:3]):   # the whole's last batch is padded
        together = np.concatenate([p[step] for p in parts])
        assert sorted(together) == sorted(batch)
    # 35 samples in 3 parts: the last 2 of each epoch's order are left out
    it = mx.io.NDArrayIter(x, y, batch_size=5, part_index=2, num_parts=3)
    samples = np.concatenate([b.label[0] for b in it])   # 11, padded to 15 from the part's start
    np.testing.assert_array_equal(samples, np.concatenate([y[2:33:3], y[2:14:3]]))


@pytest.mark.parametrize("kwargs, message", [
    ({"part_index": 3, "num_parts": 3}, r"part_index must be in \[0, 3\)"),
    ({"num_parts": 0}, "num_parts must be a positive integer"),
    ({"num_parts": 40}, "35 samples cannot be split into 40 parts"),
])
def test_bad_parts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mx.io.NDArrayIter(np.zeros((35, 2)), batch_size=5, **kwargs)


def test_metrics_across_one_worker_are_themselves():
    metric = mx.metric.create("acc")
    assert mx.metric.across_workers(metric, None) is metric
    assert mx.metric.across_workers(metric, mx.kv.create("local")) is metric


def _run_as_launched_by_hydra(code, cwd, **env):
    """Run `code` in a fresh Python as MPICH's launcher would start a rank (with a PMI socket,
    here one end of a socket pair, as PMI_FD), without MPI. It imports the cysym these tests
    import (from `cwd`, not the repository root, whose source tree may be unbuilt)."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path
    ours, theirs = socket.socketpair()
    environment = dict(os.environ, PMI_FD=str(theirs.fileno()), PMI_RANK="1", PMI_SIZE="3",
                       PYTHONPATH=str(Path(mx.__file__).parent.parent), **env)
    environment.pop("CYSYM_RANK_PARENT", None)
    try:
        return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment,
                              pass_fds=(theirs.fileno(),), capture_output=True, text=True,
                              timeout=120)
    finally:
        ours.close()
        theirs.close()


# prints what the rank process sees, then ends as asked
_RANK = """
import os, signal, sys
import cysym
print(os.getpid(), os.getppid(), cysym._rank_parent.launched_as(), flush=True)
if sys.argv[-1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(3)
"""


def test_a_rank_launched_by_hydra_runs_under_a_parent_that_names_it_when_killed(tmp_path):
    """cysym/_rank_parent.py: the rank is a child of the launched process, which reports how it
    ended and ends the same way; a rank that exits is not reported."""
    exited = _run_as_launched_by_hydra(_RANK, tmp_path)
    pid, parent, launched_as = map(int, exited.stdout.split())
    assert parent == launched_as != pid
    assert exited.returncode == 3 and "was killed" not in exited.stderr
    killed = _run_as_launched_by_hydra(_RANK.replace("sys.argv[-1]", '"kill"'), tmp_path)
    pid = int(killed.stdout.split()[0])
    assert killed.returncode == -9
    assert killed.stderr == (f"cysym.kvstore: rank 1 of 3 (pid {pid} on {__import__('socket').gethostname()}) "
                             "was killed by signal 9 (SIGKILL); ending the job\n")


def test_no_parent_when_turned_off_or_mpi_is_already_initialized(tmp_path):
    for env, code in (({"CYSYM_KV_SUPERVISE": "0"}, _RANK),
                      ({}, "import sys; sys.modules['mpi4py.MPI'] = None\n" + _RANK)):
        result = _run_as_launched_by_hydra(code, tmp_path, **env)
        pid, parent, launched_as = map(int, result.stdout.split())
        assert launched_as == pid and result.returncode == 3
