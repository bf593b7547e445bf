"""Under mpiexec: a Module with a 'dist_sync' store keeps summing its gradients over the workers
after bind(force_rebind=True), a reshape to a smaller batch, and with a monitor installed (whose
node-by-node runs bypass the overlapped backward).  Saves each rank's parameters after every
phase, for tests/test_kvstore_mpi.py."""
import sys

import mpi4py
import numpy as np

if len(sys.argv) > 2:
    mpi4py.rc.thread_level = sys.argv[2]   # below 'multiple': no poller thread
import cysym as mx  # noqa: E402
from cysym.demo import seed_mlp

kv = mx.kv.create("dist_sync")
mx.random.seed(3)
mod = mx.mod.Module(seed_mlp())
mod.bind(data_shapes=[("data", (6, 8, 8))], label_shapes=[("softmax_label", (6,))])
mod.init_params(mx.init.Xavier())
mod.init_optimizer(kvstore=kv, optimizer="sgd", optimizer_params={"learning_rate": 0.5})


def step(batch):
    # every rank sees different data: only summed gradients keep the ranks equal
    rng = np.random.default_rng([kv.rank, batch])
    x = rng.random((batch, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.float32)
    mod.forward_backward(mx.io.DataBatch(data=[mx.nd.array(x)], label=[mx.nd.array(y)]))
    mod.update()


def buckets_started_in_backward():
    """How many gradient buckets start before the backward pass ends (the rest start in update)."""
    plan = mod._exec._plan
    return sum(1 for stop, bucket in plan._stops if bucket is not None and stop < len(plan))


def progress_calls_in_backward():
    """How many times the backward pass moves the started buckets along between its nodes
    (without the poller thread)."""
    return sum(1 for _, bucket in mod._exec._plan._stops if bucket is None)


started = [buckets_started_in_backward()]
progress_calls = progress_calls_in_backward()
snapshots = {}
step(6)
snapshots["first"] = mod.get_params()[0]
mod.bind(data_shapes=[("data", (6, 8, 8))], label_shapes=[("softmax_label", (6,))], force_rebind=True)
step(6)
snapshots["rebound"] = mod.get_params()[0]
started.append(buckets_started_in_backward())
step(4)   # a smaller batch: the executor is reshaped
started.append(buckets_started_in_backward())
snapshots["reshaped"] = mod.get_params()[0]
mod.install_monitor(mx.mon.Monitor(1))
step(4)
snapshots["monitored"] = mod.get_params()[0]
np.savez(f"{sys.argv[1]}/rank{kv.rank}.npz", started_in_backward=np.array(started),
         progress_calls=progress_calls, poller_thread=mod._grad_buckets._poller.running,
         **{f"{phase}:{name}": np.asarray(value) for phase, params in snapshots.items()
            for name, value in params.items()})
