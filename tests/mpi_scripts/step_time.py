"""Step time and the share of it spent waiting on the gradient allreduce, per rank count:

    mpiexec -n 4 python tests/mpi_scripts/step_time.py [--model mlp|lenet|wide] [--steps 50]
        [--bucket-bytes 16384]

Also counts the sums started during backward that are complete when it returns (what overlapped),
and measures the allreduce itself (latency of an 8-byte message, time for the model's gradient
bytes), the inputs of the README's scaling estimate.  Figures are the means over the ranks;
prints from rank 0; not a test."""
import argparse
import time

import numpy as np

import cysym as mx
from cysym.demo import lenet, seed_mlp


def wide_mlp():
    """An MLP whose 34 MB of gradients take longer to sum than the seed models' 60 KB, most of
    them in layers that backward reaches early: the model where overlapping the sums with the
    rest of the backward pass can show."""
    net = mx.sym.Flatten(mx.sym.Variable("data"), name="flatten")
    for index in (1, 2, 3):
        net = mx.sym.FullyConnected(net, name=f"fc{index}", num_hidden=2048)
        net = mx.sym.Activation(net, name=f"relu{index}", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc4", num_hidden=10)
    return mx.sym.SoftmaxOutput(net, name="softmax")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--batch", type=int, default=64, help="per worker")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--bucket-bytes", type=int, help="gradient bucket size (default: the store's)")
    args = parser.parse_args()
    kv = mx.kv.create("dist_sync")
    net = {"mlp": seed_mlp, "lenet": lenet, "wide": wide_mlp}[args.model]()
    mx.random.seed(0)
    x = np.random.default_rng(kv.rank).random((args.batch, 1, 8, 8), np.float32)
    y = np.random.default_rng(kv.rank).integers(0, 10, args.batch).astype(np.float32)
    batch = mx.io.DataBatch(data=[mx.nd.array(x)], label=[mx.nd.array(y)])
    if args.bucket_bytes:
        kv.bucket_bytes = args.bucket_bytes
    mod = mx.mod.Module(net)
    mod.bind(data_shapes=[("data", x.shape)], label_shapes=[("softmax_label", y.shape)])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(kvstore=kv, optimizer="sgd", optimizer_params={"learning_rate": 0.01})
    for _ in range(5):   # warm up
        mod.forward_backward(batch)
        mod.update()
    kv.barrier()
    wait_before = kv.comm_wait_seconds
    started = done = 0   # buckets whose sum started / was complete when backward returned
    start = time.perf_counter()
    for _ in range(args.steps):
        mod.forward_backward(batch)
        pending = mod._grad_buckets._pending
        started += len(pending)
        done += sum(request.Get_status() for request in pending)
        mod.update()
    step = (time.perf_counter() - start) / args.steps
    wait = (kv.comm_wait_seconds - wait_before) / args.steps
    step, wait, started, done = kv._comm.sum_scalars([step, wait, started, done], "timings") / kv.num_workers
    plan = mod._exec._plan
    started_in_backward = sum(1 for stop, bucket in getattr(plan, "_stops", ())
                              if bucket is not None and stop < len(plan))
    grad_bytes = sum(view.nbytes for view, _ in mod._grad_buckets.buckets)

    comm = kv._comm
    small = np.zeros(1, np.float64)
    flat = np.zeros(grad_bytes // 4, np.float32)
    timings = {}
    for label, array, repeats in (("latency", small, 200), ("gradients", flat, 50)):
        comm.barrier()
        tic = time.perf_counter()
        for _ in range(repeats):
            comm.allreduce(array, label)
        timings[label] = (time.perf_counter() - tic) / repeats
    if kv.rank == 0:
        print(f"{args.model} ranks={kv.num_workers} batch/worker={args.batch} "
              f"step={step * 1e3:.2f} ms wait={wait * 1e3:.2f} ms ({100 * wait / step:.0f}% of the step) "
              f"gradient bytes={grad_bytes} buckets={len(mod._grad_buckets.buckets)} "
              f"({started_in_backward} started in backward, "
              f"{100 * done / started if started else 0:.0f}% of those complete when it ends) "
              f"allreduce 8 B={timings['latency'] * 1e6:.1f} us, "
              f"allreduce gradients={timings['gradients'] * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
