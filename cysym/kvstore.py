"""Key-value stores (MXNet's mx.kv): 'local' and 'device' in one process, 'dist_sync' and
'dist_device_sync' over MPI (mpi4py).

MXNet's distributed stores push gradients to parameter servers, which sum them and run the
optimizer.  Here there are no servers: a push is an MPI allreduce (sum) of the value over every
worker, and the optimizer set with set_optimizer runs on every worker on the same summed
gradient, so every worker holds identical weights (as every MXNet worker pulls the server's).
Launch with `mpiexec -n 4 python train.py`; without mpiexec a 'dist_sync' store is one worker.

Failures do not hang the job: an exception that escapes on any rank of a distributed store
prints the rank and calls MPI_Abort, which ends every rank; a collective waits at most
CYSYM_KV_TIMEOUT seconds (300 by default), then aborts naming the ranks that do not answer.
"""
import os
import socket
import sys
import threading
import time
import traceback

import numpy as np

from . import _rank_parent
from . import optimizer as opt
from ._ops import compression as _compression
from .base import MXNetError

__all__ = ["KVStore", "create"]

_LOCAL_TYPES = ("local", "device", "local_update_cpu", "local_allreduce_cpu", "local_allreduce_device")
_DIST_TYPES = ("dist_sync", "dist_device_sync", "dist_sync_device")
# seconds a failing rank waits between writing its message and aborting the job (see _abort)
ABORT_PAUSE_SECONDS = 0.5

# message tags of the liveness channel
_QUERY, _ANSWER = 1, 2

# the rank of this process in a distributed store (0 without one): checkpoints are written by
# rank 0 only
_process_rank = 0


def writes_checkpoints():
    """True on the process that writes checkpoint files (rank 0 of a distributed job)."""
    return _process_rank == 0


def create(name="local"):
    """A KVStore of type `name`: 'local', 'device', 'dist_sync' or 'dist_device_sync'."""
    if not isinstance(name, str):
        raise TypeError("name must be a string")
    name = name.lower()
    if name in _LOCAL_TYPES:
        return KVStore(name)
    if name in _DIST_TYPES:
        return KVStore(name, _Communicator.world())
    if name == "dist_async" or name == "dist":
        raise MXNetError(f"kvstore {name!r}: asynchronous updates (workers applying their gradients "
                         "to the servers' weights at different times) have no MPI form in cysym; "
                         "use 'dist_sync' (gradients summed over all workers at every step)")
    raise MXNetError(f"kvstore {name!r} is not supported; choose one of "
                     f"{list(_LOCAL_TYPES[:2] + _DIST_TYPES[:2])}")


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _keys_and_values(key, value, what):
    """[(key, [arrays])]: one key and its arrays, or a list of keys with one entry each."""
    if isinstance(key, (list, tuple)):
        values = _as_list(value)
        if len(values) != len(key):
            raise MXNetError(f"KVStore.{what}: {len(key)} keys but {len(values)} values")
        return [(k, _as_list(v)) for k, v in zip(key, values)]
    return [(key, _as_list(value))]


class _Communicator:
    """MPI_COMM_WORLD (duplicated, so a user's own MPI calls cannot match ours) with collectives
    that wait at most `timeout` seconds."""

    _instance = None

    @classmethod
    def world(cls):
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self):
        try:
            from mpi4py import MPI
        except ImportError:
            raise MXNetError("distributed kvstores need mpi4py and an MPI runtime: "
                             "pip install 'cysym[mpi]' (mpi4py and mpich), then launch with "
                             "mpiexec -n <workers> python train.py") from None
        global _process_rank
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        # a second channel, for 'are you there?' when a collective times out
        self._liveness = MPI.COMM_WORLD.Dup()
        self._status = MPI.Status()
        self._small = np.zeros(1, np.int64)
        self._answers = []
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.timeout = float(os.environ.get("CYSYM_KV_TIMEOUT", "300"))
        self.wait_seconds = 0.0   # time spent waiting on collectives, for the user's reports
        _process_rank = self.rank
        if self.size > 1:
            self._abort_on_uncaught_exceptions()
            self._print_workers()

    def _print_workers(self):
        """One line naming every rank's process, and the process id the launcher knows it by
        (its parent's, see cysym/_rank_parent.py), for the launcher's own messages."""
        workers = self.comm.allgather((socket.gethostname(), os.getpid(), _rank_parent.launched_as()))
        if self.rank == 0:
            sys.stderr.write(f"cysym.kvstore: {self.size} workers: " + ", ".join(
                f"rank {rank} = pid {pid}" + (f" (launched as {launched})" if launched != pid else "")
                + f" on {host}" for rank, (host, pid, launched) in enumerate(workers)) + "\n")
            sys.stderr.flush()

    def _abort_on_uncaught_exceptions(self):
        """An exception that ends one rank would leave the others blocked in their next
        collective: print it with the rank and end the whole job."""
        def abort_job(kind, value, tb):
            message = "".join(traceback.format_exception(kind, value, tb))
            self._abort(f"cysym.kvstore: rank {self.rank} of {self.size} failed, aborting the "
                        f"job:\n{message}")
        sys.excepthook = abort_job

    def fail(self, message):
        """End every rank with `message` (this rank's view of what went wrong)."""
        self._abort(f"cysym.kvstore: rank {self.rank} of {self.size}: {message}; aborting the job\n")

    def _abort(self, message):
        # mpiexec forwards a rank's stderr through its proxy, which Abort tears down: on a busy
        # machine the message was lost once in a test run (the job still ended); a moment's
        # pause lets the proxy pass it on first
        sys.stderr.write(message)
        sys.stderr.flush()
        time.sleep(ABORT_PAUSE_SECONDS)
        self.MPI.COMM_WORLD.Abort(1)

    def wait(self, requests, what):
        """Wait for the requests, polling so that a dead peer ends in an error, not a hang."""
        start = time.perf_counter()
        deadline = start + self.timeout
        pause = 0.0
        while not self.MPI.Request.Testall(requests):
            now = time.perf_counter()
            self._answer_liveness_queries()
            if now > deadline:
                silent = self._silent_ranks(patience=min(10.0, self.timeout))
                culprits = (f"rank{'s' if len(silent) > 1 else ''} {', '.join(map(str, silent))} "
                            f"of {self.size} did not answer (dead, hung, or out of step)" if silent
                            else "every rank answered, so the ranks are out of step")
                self.fail(f"{what} did not complete within {self.timeout:g} s "
                          f"(CYSYM_KV_TIMEOUT): {culprits}")
            # spin briefly (a peer on the same machine answers within microseconds), then sleep
            # longer and longer, up to 1 ms, to leave the cores to ranks still computing
            if now - start > 1e-4:
                time.sleep(pause)
                pause = min(max(pause * 2, 2e-5), 1e-3)
        self.wait_seconds += time.perf_counter() - start

    def _answer_liveness_queries(self):
        """Tell ranks that timed out that this one is alive and waiting in a collective."""
        while self._liveness.Iprobe(source=self.MPI.ANY_SOURCE, tag=_QUERY, status=self._status):
            source = self._status.Get_source()
            self._liveness.Recv(self._small, source=source, tag=_QUERY)
            self._answers.append(self._liveness.Isend(self._small, dest=source, tag=_ANSWER))
        self._answers = [request for request in self._answers if not request.Test()]

    def _silent_ranks(self, patience):
        """The ranks that do not answer within `patience` seconds: the ones a collective is
        waiting for (the others are waiting in it too, and answer from their wait loop)."""
        others = [rank for rank in range(self.size) if rank != self.rank]
        buffers = {rank: np.zeros(1, np.int64) for rank in others}
        queries = [self._liveness.Isend(self._small, dest=rank, tag=_QUERY) for rank in others]
        answers = {rank: self._liveness.Irecv(buffers[rank], source=rank, tag=_ANSWER) for rank in others}
        deadline = time.perf_counter() + patience
        while time.perf_counter() < deadline:
            self._answer_liveness_queries()
            if all(request.Test() for request in answers.values()):
                break
            time.sleep(1e-3)
        del queries   # never waited for: the job ends next
        return [rank for rank, request in answers.items() if not request.Test()]

    def start_allreduce(self, array):
        """Begin summing `array` over the workers, in place."""
        return self.comm.Iallreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)

    def allreduce(self, array, what):
        self.wait([self.start_allreduce(array)], what)

    def broadcast(self, array, what):
        self.wait([self.comm.Ibcast(array, root=0)], what)

    def start_allgather(self, array, gathered):
        """Begin collecting every worker's `array` into the rows of `gathered`."""
        return self.comm.Iallgather(array, gathered)

    def barrier(self):
        self.wait([self.comm.Ibarrier()], "barrier")

    def sum_scalars(self, values, what):
        """The element-wise sum over the workers of a float64 vector (a copy)."""
        summed = np.array(values, dtype=np.float64)
        self.allreduce(summed, what)
        return summed


class KVStore:
    """MXNet's KVStore: init / push / pull / pushpull / broadcast of arrays by key.

    push sums the pushed arrays (a list: one per device) and, in a distributed store, over the
    workers; with an optimizer (set_optimizer) the sum updates the stored value, else it
    replaces it.  pull copies the stored value out."""

    def __init__(self, kv_type, communicator=None):
        self._type = kv_type
        self._comm = communicator
        self._store = {}
        self._updater = None
        self._compression = None   # the 2-bit threshold, once set_gradient_compression is called
        self._residuals = {}
        # gradients a Module sums in one allreduce; smaller buckets start earlier in backward
        self.bucket_bytes = int(os.environ.get("CYSYM_KV_BUCKET_BYTES", 1 << 20))

    # -- properties -----------------------------------------------------------------------------

    @property
    def type(self):
        """The store's type: 'local', 'device', 'dist_sync' or 'dist_device_sync'."""
        return self._type

    @property
    def rank(self):
        """This worker's rank (0 without MPI)."""
        return 0 if self._comm is None else self._comm.rank

    @property
    def num_workers(self):
        """How many workers share the store (1 without MPI)."""
        return 1 if self._comm is None else self._comm.size

    @property
    def is_distributed(self):
        """Whether the store spans several processes (a dist_* type)."""
        return self._comm is not None

    @property
    def comm_wait_seconds(self):
        """Seconds this worker has spent waiting on collectives (0 for a local store)."""
        return 0.0 if self._comm is None else self._comm.wait_seconds

    def is_capable(self, capability):
        """Whether the store supports ``capability`` (only 'optimizer' is known, and supported)."""
        if capability.lower() == "optimizer":
            return True
        raise MXNetError(f"KVStore.is_capable: unknown capability {capability!r}")

    # -- the store ------------------------------------------------------------------------------

    def init(self, key, value):
        """Store each key's initial value; in a distributed store every worker gets rank 0's."""
        for k, values in _keys_and_values(key, value, "init"):
            if k in self._store:
                raise MXNetError(f"KVStore.init: duplicate init of key {k!r}")
            stored = np.array(np.asarray(values[0]), copy=True, order="C")
            if self._comm is not None:
                self._comm.broadcast(stored, f"init of key {k!r}")
            self._store[k] = stored

    def _stored(self, key, what):
        try:
            return self._store[key]
        except (KeyError, TypeError):
            raise MXNetError(f"KVStore.{what}: key {key!r} has not been initialized "
                             "(call init first)") from None

    def _check_shape(self, key, array, stored, what):
        if tuple(np.shape(array)) != stored.shape:
            raise MXNetError(f"KVStore.{what}: key {key!r} holds shape {stored.shape}, "
                             f"got {tuple(np.shape(array))}")

    def push(self, key, value, priority=0):
        """Sum each key's values (and, distributed, over the workers) into the store."""
        for k, values in _keys_and_values(key, value, "push"):
            stored = self._stored(k, "push")
            merged = np.zeros_like(stored)
            for v in values:
                self._check_shape(k, v, stored, "push")
            if self._compression is not None:
                self._push_compressed(k, values, merged)
            else:
                for v in values:
                    merged += np.asarray(v)
                if self._comm is not None:
                    self._comm.allreduce(merged, f"push of key {k!r}")
            if self._updater is not None:
                from .ndarray import NDArray
                self._updater(k, merged.view(NDArray), stored.view(NDArray))
            else:
                stored[...] = merged

    def _push_compressed(self, key, values, merged):
        """merged = the sum of the values as MXNet's 2-bit compression delivers it: each device's
        value (in one process) or each worker's sum over its devices (distributed) is quantized
        with its own residual, and the dequantized codes are summed."""
        if merged.dtype != np.float32:
            raise MXNetError(f"KVStore.push: 2-bit gradient compression works on float32 values; "
                             f"key {key!r} holds {merged.dtype}")
        if self._comm is not None:
            local = np.zeros_like(merged)
            for v in values:
                local += np.asarray(v)
            values = [local]
        for device, value in enumerate(values):
            residual = self._residuals.get((key, device))
            if residual is None:
                residual = self._residuals[(key, device)] = np.zeros(merged.size, np.float32)
            code = np.empty(_compression.compressed_bytes(merged.size), np.uint8)
            _compression.quantize_2bit(np.ascontiguousarray(value, np.float32).ravel(), residual,
                                       code, self._compression)
            codes = [code]
            if self._comm is not None:
                codes = np.empty((self._comm.size, code.size), np.uint8)
                self._comm.wait([self._comm.start_allgather(code, codes)], f"push of key {key!r}")
            for worker_code in codes:
                _compression.add_dequantized_2bit(worker_code, merged.reshape(-1), self._compression)

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        """Copy each key's stored value into its out array(s)."""
        if out is None:
            raise MXNetError("KVStore.pull: out must be given (the arrays to copy the values into)")
        for k, outs in _keys_and_values(key, out, "pull"):
            stored = self._stored(k, "pull")
            for o in outs:
                self._check_shape(k, o, stored, "pull")
                o[...] = stored

    def pushpull(self, key, value, out=None, priority=0):
        """push, then pull into out (into value when out is None)."""
        self.push(key, value, priority)
        self.pull(key, value if out is None else out, priority)

    def broadcast(self, key, value, out, priority=0):
        """init (rank 0's value), then pull into out."""
        self.init(key, value)
        self.pull(key, out, priority)

    def row_sparse_pull(self, key, out=None, priority=0, row_ids=None):
        """Refused: cysym has no sparse storage; ``pull`` returns the whole value."""
        raise MXNetError("KVStore.row_sparse_pull: cysym has no sparse storage (row_sparse "
                         "arrays); use pull, which returns the whole value")

    # -- updates --------------------------------------------------------------------------------

    def set_optimizer(self, optimizer):
        """Update stored values with `optimizer` at each push (on every worker alike)."""
        self._set_updater(opt.get_updater(optimizer))

    def _set_updater(self, updater):
        self._updater = updater

    def set_gradient_compression(self, compression_params):
        """{'type': '2bit', 'threshold': 0.5}: push sends each gradient (plus what earlier
        pushes left out, the residual) as +threshold, -threshold or 0 per value, 2 bits each."""
        if "device" not in self._type and "dist" not in self._type:
            raise MXNetError("Gradient compression is not supported for this type of kvstore")
        params = dict(compression_params)
        if "type" not in params:
            raise MXNetError("KVStore.set_gradient_compression: Required parameter type of string "
                             "is not presented")
        if params["type"] != "2bit":
            raise MXNetError(f"KVStore.set_gradient_compression: Unknown type for gradient "
                             f"compression {params['type']}")
        threshold = float(params.get("threshold", 0.5))
        if not threshold > 0:
            raise MXNetError(f"KVStore.set_gradient_compression: threshold must be greater than 0, "
                             f"not {threshold}")
        self._compression = threshold
        self._residuals = {}

    def save_optimizer_states(self, fname, dump_optimizer=False):
        """Write the optimizer states (identical on every worker): rank 0 writes the file."""
        if self._updater is None:
            raise MXNetError("KVStore.save_optimizer_states: no optimizer (call set_optimizer first)")
        if self.rank == 0:
            from .base import atomic_write
            atomic_write(fname, self._updater.get_states(dump_optimizer))

    def load_optimizer_states(self, fname):
        """Restore the store's optimizer states written by ``save_optimizer_states``."""
        if self._updater is None:
            raise MXNetError("KVStore.load_optimizer_states: no optimizer (call set_optimizer first)")
        with open(fname, "rb") as f:
            self._updater.set_states(f.read(), source=str(fname))

    # -- synchronization ------------------------------------------------------------------------

    def barrier(self):
        """Wait until every worker reaches this call."""
        if self._comm is not None:
            self._comm.barrier()

    _barrier = barrier   # MXNet's name


class GradientBuckets:
    """Every gradient of a module in one flat buffer per dtype, cut into buckets of about
    `bucket_bytes`, summed over the workers in place.

    The module binds its gradients as views of these buffers (so the backward pass writes
    straight into them): a step allocates nothing.  Gradients are laid out last parameter
    first, the order in which backward finishes them, so a bucket is complete early."""

    def __init__(self, communicator, gradients, bucket_bytes, compression=None):
        """gradients: [(name, shape, dtype)] in parameter order; compression: the 2-bit
        threshold (float32 gradients only), or None to sum the gradients exactly."""
        self._comm = communicator
        self._compression = compression
        if compression is not None:
            kept = [name for name, _, dtype in gradients if np.dtype(dtype) != np.float32]
            if kept:
                raise MXNetError(f"2-bit gradient compression works on float32 gradients; "
                                 f"{kept[0]!r} is {np.dtype(dict((n, d) for n, _, d in gradients)[kept[0]])}")
        by_dtype = {}
        for name, shape, dtype in reversed(gradients):
            by_dtype.setdefault(np.dtype(dtype), []).append((name, tuple(shape)))
        self.views = {}
        self.buckets = []    # (flat view, names of the gradients in it)
        for dtype, entries in by_dtype.items():
            from .ndarray import NDArray
            flat = np.zeros(sum(int(np.prod(s)) for _, s in entries), dtype).view(NDArray)
            start, bucket_start, names = 0, 0, []
            for name, shape in entries:
                size = int(np.prod(shape))
                self.views[name] = flat[start:start + size].reshape(shape)
                start += size
                names.append(name)
                if (start - bucket_start) * dtype.itemsize >= bucket_bytes:
                    self.buckets.append((flat[bucket_start:start], names))
                    bucket_start, names = start, []
            if names:
                self.buckets.append((flat[bucket_start:start], names))
        # compressed: (residual, this worker's code, every worker's codes) per bucket
        self._compressed = [None if compression is None else (
            np.zeros(view.size, np.float32), np.zeros(_compression.compressed_bytes(view.size), np.uint8),
            np.zeros((communicator.size, _compression.compressed_bytes(view.size)), np.uint8))
            for view, _ in self.buckets]
        self._pending = []
        self._started = [False] * len(self.buckets)
        self._poller = _Poller(communicator.MPI)

    def start(self, bucket_index):
        """Begin summing bucket `bucket_index` over the workers."""
        view = self.buckets[bucket_index][0]
        with self._poller.lock:
            if self._compression is None:
                self._pending.append(self._comm.start_allreduce(view))
            else:
                residual, code, codes = self._compressed[bucket_index]
                _compression.quantize_2bit(view, residual, code, self._compression)
                self._pending.append(self._comm.start_allgather(code, codes))
            self._comm.MPI.Request.Testall(self._pending)
        self._started[bucket_index] = True
        self._poller.follow(self._pending)

    def progress(self):
        """Move the started sums along (between backward nodes; see _Poller for why)."""
        with self._poller.lock:
            self._comm.MPI.Request.Testall(self._pending)

    def finish(self):
        """Start the buckets not started yet (in bucket order, the same on every worker), then
        wait until every bucket holds the sum."""
        for index, started in enumerate(self._started):
            if not started:
                self.start(index)
        self._poller.pause()
        self._comm.wait(self._pending, f"allreduce of {len(self.buckets)} gradient buckets")
        self._pending = []
        self._started = [False] * len(self.buckets)
        if self._compression is not None:
            for (view, _), (_, _, codes) in zip(self.buckets, self._compressed):
                view[...] = 0
                for worker_code in codes:   # in rank order: the same sum on every worker
                    _compression.add_dequantized_2bit(worker_code, view, self._compression)

    def overlap(self, executor):
        """Make executor's backward pass start each bucket's allreduce right after the last
        kernel call writing into it, so communication overlaps the rest of the backward pass
        (moved along by the poller thread, or without one after each later backward node)."""
        plan = executor._plan
        if isinstance(plan, _OverlappedPlan):
            plan = plan.plan
        # the last plan call whose outputs include each gradient view, found by its memory
        last_writer = {}
        node_ends = []
        for _, end_call, is_forward, _, _, outputs in executor._node_calls:
            if not is_forward:
                node_ends.append(end_call)
                for _, array in outputs:
                    last_writer[array.__array_interface__["data"][0], array.nbytes] = end_call
        cuts = []
        for index, (_, names) in enumerate(self.buckets):
            ends = [last_writer.get((self.views[n].__array_interface__["data"][0], self.views[n].nbytes))
                    for n in names]
            if None not in ends:    # else the bucket starts in finish()
                cuts.append((max(ends), index))
        starts = {cut for cut, _ in cuts}
        polls = [] if self._poller.running else [
            (end, None) for end in node_ends if starts and min(starts) < end < len(plan) and end not in starts]
        executor._plan = _OverlappedPlan(plan, executor._backward_start, sorted(cuts + polls), self)


class _Poller:
    """A thread that moves the started gradient sums along while the backward kernels run.

    MPICH works on a nonblocking collective only inside an MPI call on that rank (unless
    MPIR_CVAR_ASYNC_PROGRESS=1 gives each rank a thread spinning in MPI): a sum started early
    in backward would otherwise wait for the next bucket's start or for update(). The kernels
    run without the GIL, so this thread calls Testall on the started sums every
    CYSYM_KV_POLL_SECONDS (0.0005 by default) from the first start until update() waits for
    them. It needs MPI's THREAD_MULTIPLE (mpi4py's default); without it, or with
    CYSYM_KV_POLL_SECONDS=0, the sums move only between backward nodes."""

    def __init__(self, MPI):
        self.lock = threading.Lock()   # MPI forbids two threads completing one request at once
        self._MPI = MPI
        self._interval = float(os.environ.get("CYSYM_KV_POLL_SECONDS", "0.0005"))
        self._requests = None
        self._changed = threading.Condition()
        self.running = self._interval > 0 and MPI.Query_thread() == MPI.THREAD_MULTIPLE
        if self.running:
            threading.Thread(target=self._loop, name="cysym-kvstore-progress", daemon=True).start()

    def follow(self, requests):
        """Poll `requests` (a copy of the list is taken) until they complete or pause()."""
        with self._changed:
            self._requests = list(requests)
            self._changed.notify()

    def pause(self):
        """Stop polling; returns once no poll is under way, so the caller may complete them."""
        with self._changed:
            self._requests = None
        with self.lock:
            pass

    def _loop(self):
        while True:
            with self._changed:
                while self._requests is None:
                    self._changed.wait()
                requests = self._requests
            with self.lock:   # paused meanwhile: the requests are no longer this thread's
                done = self._requests is not requests or self._MPI.Request.Testall(requests)
            if not done:
                time.sleep(self._interval)
                continue
            with self._changed:
                if self._requests is requests:
                    self._requests = None


class _OverlappedPlan:
    """An executor's kernel plan (cysym/_ops/runner.pyx Plan) whose whole backward pass runs in
    segments: between them a gradient bucket's allreduce starts, or (once one has started) the
    started ones are moved along; every other run (a monitor's node by node, the profiler's)
    goes to the plan unchanged."""

    def __init__(self, plan, backward_start, stops, buckets):
        self.plan = plan
        self._backward_start = backward_start
        # [(plan position, bucket index)]: after the bucket's last writer, start it; or
        # [(plan position, None)]: after a later backward node, move the started ones along
        self._stops = stops
        self._buckets = buckets

    def __len__(self):
        return len(self.plan)

    def __getattr__(self, name):
        return getattr(self.plan, name)

    def run(self, begin, end, *args, **kwargs):
        if begin != self._backward_start or end >= 0:
            return self.plan.run(begin, end, *args, **kwargs)
        if self._buckets._pending:
            # a backward again before update(): the last sums must land before kernels rewrite
            self._buckets.finish()
        position = begin
        for stop, index in self._stops:
            if stop > position:
                self.plan.run(position, stop, *args, **kwargs)
                position = stop
            if index is None:
                self._buckets.progress()
            else:
                self._buckets.start(index)
        return self.plan.run(position, end, *args, **kwargs)
