"""Data-parallel training launched by tests/test_kvstore_mpi.py under mpiexec (or alone, as the
single-process reference): fit a model on sharded digits and save what each rank ends with.

python train.py OUT --model mlp|lenet --kvstore dist_sync --batch 10 --epochs 2 --dtype float64
  [--fail-rank R --fail-batch B --fail-how raise|kill|hang]
  [--checkpoint PREFIX] [--resume EPOCH] [--compression THRESHOLD]
"""
import argparse
import logging
import os
import signal
import sys
import time

import numpy as np

import cysym as mx
from cysym.demo import load_digits, seed_mlp


def plain_lenet():
    """LeNet without BatchNorm and Dropout: both depend on how the batch is split (BatchNorm's
    statistics are per worker, Dropout's masks per process), so only this one can equal a
    single-process run."""
    net = mx.sym.Variable("data")
    net = mx.sym.Reshape(net, shape=(-1, 1, 8, 8))
    net = mx.sym.Convolution(net, name="conv1", kernel=(3, 3), pad=(1, 1), num_filter=6)
    net = mx.sym.Activation(net, name="relu1", act_type="relu")
    net = mx.sym.Pooling(net, name="pool1", pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Convolution(net, name="conv2", kernel=(3, 3), pad=(1, 1), num_filter=10)
    net = mx.sym.Activation(net, name="relu2", act_type="relu")
    net = mx.sym.Pooling(net, name="pool2", pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Flatten(net, name="flatten")
    net = mx.sym.FullyConnected(net, name="fc1", num_hidden=24)
    net = mx.sym.Activation(net, name="relu3", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc2", num_hidden=10)
    return mx.sym.SoftmaxOutput(net, name="softmax")


class _Fault:
    """Batch-end callback: on rank `rank`, at global batch `batch`, raise, SIGKILL itself or
    stop (sleep) as a hung process would."""

    def __init__(self, rank, batch, how):
        self.rank, self.batch, self.how, self.seen = rank, batch, how, 0

    def __call__(self, param):
        self.seen += 1
        if self.seen == self.batch and self.rank == _rank():
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.how == "hang":
                time.sleep(3600)
            raise RuntimeError(f"injected failure at batch {self.batch}")


def _rank():
    from cysym import kvstore
    return kvstore._process_rank


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--kvstore", default="dist_sync")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--samples", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--fail-rank", type=int)
    parser.add_argument("--fail-batch", type=int)
    parser.add_argument("--fail-how", choices=["raise", "kill", "hang"], default="raise")
    parser.add_argument("--checkpoint")
    parser.add_argument("--resume", type=int, default=0)
    parser.add_argument("--compression", type=float, help="2-bit compression's threshold")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"%(message)s")

    kv = mx.kv.create(args.kvstore)
    (train_x, train_y), _ = load_digits()
    x = mx.nd.array(train_x[:args.samples], dtype=args.dtype)
    y = mx.nd.array(train_y[:args.samples], dtype=args.dtype)
    mx.random.seed(7)
    it = mx.io.NDArrayIter(x, y, batch_size=args.batch, shuffle=True,
                           part_index=kv.rank, num_parts=kv.num_workers)
    net = seed_mlp() if args.model == "mlp" else plain_lenet()
    optimizer_params = {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-4} if args.optimizer == "sgd" \
        else {"learning_rate": 0.01}
    callbacks = []
    if args.fail_rank is not None:
        callbacks.append(_Fault(args.fail_rank, args.fail_batch, args.fail_how))
    if args.resume:
        mod = mx.mod.Module.load(args.checkpoint, args.resume, load_optimizer_states=True)
    else:
        mod = mx.mod.Module(net, compression_params=None if args.compression is None else
                            {"type": "2bit", "threshold": args.compression})
    mod.fit(it, num_epoch=args.epochs, begin_epoch=args.resume, kvstore=kv,
            optimizer=args.optimizer, optimizer_params=optimizer_params,
            initializer=mx.init.Xavier(magnitude=2.0), batch_end_callback=callbacks,
            epoch_end_callback=(lambda epoch, *rest: mod.save_checkpoint(
                args.checkpoint, epoch + 1, save_optimizer_states=True)) if args.checkpoint else None,
            eval_metric="acc")
    arg_params, aux_params = mod.get_params()
    final = mx.metric.across_workers(_score(mod, it), kv)
    np.savez(os.path.join(args.out, f"rank{kv.rank}.npz"), accuracy=final.get()[1],
             **{k: np.asarray(v) for k, v in arg_params.items()})


def _score(mod, it):
    metric = mx.metric.create("acc")
    it.reset()
    for batch in it:
        mod.forward(batch, is_train=False)
        mod.update_metric(metric, batch.label)
    return metric


if __name__ == "__main__":
    sys.exit(main())
