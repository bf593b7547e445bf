"""python -m cysym.demo: train the seed network on the bundled digits data.

Prints test accuracy, training speed (samples per second) and the executor's memory plan,
and writes a picture of the network when graphviz is installed, and pictures of the memory plan
and of the training curves when matplotlib is installed.
"""
import argparse
import logging
import os
import shutil
import time
from importlib import resources

import numpy as np

import cysym as mx


def load_digits(test_fraction=0.2, seed=0):
    """((train_x, train_y), (test_x, test_y)): 8x8 images scaled to [0, 1], a fixed split."""
    with resources.files("cysym").joinpath("data/digits.npz").open("rb") as f:
        data = np.load(f)
        images, labels = data["images"].astype(np.float32) / 16.0, data["labels"].astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(labels))
    images, labels = images[order], labels[order]
    split = int(len(labels) * (1 - test_fraction))
    return (images[:split], labels[:split]), (images[split:], labels[split:])


def seed_mlp():
    """The seed network: flatten, fc 128, relu, fc 64, relu, fc 10, SoftmaxOutput (label
    'softmax_label')."""
    net = mx.sym.Variable("data")
    net = mx.sym.Flatten(net, name="flatten")
    net = mx.sym.FullyConnected(net, name="fc1", num_hidden=128)
    net = mx.sym.Activation(net, name="relu1", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc2", num_hidden=64)
    net = mx.sym.Activation(net, name="relu2", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc3", num_hidden=10)
    return mx.sym.SoftmaxOutput(net, name="softmax")


def lenet():
    """The LeNet-style CNN of ``--cnn``: two 3x3 convolution blocks (16 and 32 filters; BatchNorm
    after the first) with 2x2 max pooling, Dropout 0.25, fc 64, relu, fc 10, SoftmaxOutput."""
    net = mx.sym.Variable("data")
    net = mx.sym.Convolution(net, name="conv1", kernel=(3, 3), pad=(1, 1), num_filter=16)
    net = mx.sym.BatchNorm(net, name="bn1", fix_gamma=False)
    net = mx.sym.Activation(net, name="relu1", act_type="relu")
    net = mx.sym.Pooling(net, name="pool1", pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Convolution(net, name="conv2", kernel=(3, 3), pad=(1, 1), num_filter=32)
    net = mx.sym.Activation(net, name="relu2", act_type="relu")
    net = mx.sym.Pooling(net, name="pool2", pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Dropout(net, name="drop1", p=0.25)
    net = mx.sym.Flatten(net, name="flatten")
    net = mx.sym.FullyConnected(net, name="fc1", num_hidden=64)
    net = mx.sym.Activation(net, name="relu3", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc2", num_hidden=10)
    return mx.sym.SoftmaxOutput(net, name="softmax")


DEFAULTS = {"mlp": {"epochs": 30, "learning_rate": 0.1}, "cnn": {"epochs": 15, "learning_rate": 0.02}}


def accuracy_of(module, x, y, batch_size):
    """The fraction of samples classified right (each test sample once: padding removed)."""
    probabilities = module.predict(mx.io.NDArrayIter(x, y, batch_size))
    return float(np.mean(np.asarray(probabilities).argmax(axis=1) == y))


def train(cnn=False, epochs=None, batch_size=32, learning_rate=None, seed=0, progress=None):
    """Train on the digits; returns (module, test accuracy, training samples per second).

    epochs and learning_rate default to DEFAULTS['cnn' or 'mlp']."""
    mx.random.seed(seed)
    (train_x, train_y), (test_x, test_y) = load_digits()
    if cnn:
        train_x, test_x = train_x[:, None], test_x[:, None]
    symbol = lenet() if cnn else seed_mlp()
    defaults = DEFAULTS["cnn" if cnn else "mlp"]
    epochs = epochs if epochs is not None else defaults["epochs"]
    learning_rate = learning_rate if learning_rate is not None else defaults["learning_rate"]
    train_iter = mx.io.NDArrayIter(train_x, train_y, batch_size, shuffle=True)
    module = mx.mod.Module(symbol, data_names=["data"], label_names=["softmax_label"])
    start = time.perf_counter()
    module.fit(train_iter, num_epoch=epochs, optimizer="sgd", eval_metric=["acc", "ce"],
               optimizer_params={"learning_rate": learning_rate, "momentum": 0.9, "wd": 1e-4},
               initializer=mx.init.Xavier(magnitude=2.0), progress=progress)
    elapsed = time.perf_counter() - start
    # not module.score: like MXNet's it counts the padding of the last batch too
    accuracy = accuracy_of(module, test_x, test_y, batch_size)
    return module, accuracy, epochs * len(train_y) / elapsed


def main(argv=None):
    """The ``cysym-demo`` command: trains, prints accuracy, speed and the memory plan, and writes
    the pictures (``cysym-demo --help`` for the options; argv defaults to sys.argv[1:])."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cnn", action="store_true", help="train the LeNet-style CNN instead of the MLP")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"epochs (default {DEFAULTS['mlp']['epochs']}, {DEFAULTS['cnn']['epochs']} with --cnn)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=None,
                        help=f"learning rate (default {DEFAULTS['mlp']['learning_rate']}, "
                             f"{DEFAULTS['cnn']['learning_rate']} with --cnn)")
    parser.add_argument("--seed", type=int, default=0, help="cysym.random.seed for the run")
    parser.add_argument("--threads", type=int, default=1,
                        help="kernel threads (default 1: these layers are too small to gain from "
                             "more; the numbers are the same at any count)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log each epoch's training metrics and time (the 'cysym' logger)")
    parser.add_argument("--plot", default="cysym-demo-network",
                        help="file name (no extension) for the picture; '' for none")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    # Deterministic mode: a GEMM split over threads sums in blocks whose rounding differs from
    # one whole call, and over a training run that would move the CNN's test accuracy by tenths
    # of a percent from one thread count to another.
    threads_before, deterministic_before = mx.get_num_threads(), mx.get_deterministic()
    mx.set_num_threads(args.threads)
    mx.set_deterministic(True)
    try:
        module, accuracy, speed = train(args.cnn, args.epochs, args.batch_size, args.lr, seed=args.seed)
    finally:
        mx.set_num_threads(threads_before)
        mx.set_deterministic(deterministic_before)
    print(f"network: {'LeNet-style CNN' if args.cnn else 'seed MLP (128-64-10)'}, "
          f"{args.threads} kernel thread{'s' if args.threads > 1 else ''}")
    print(f"test accuracy: {accuracy * 100:.2f}%")
    print(f"training speed: {speed:,.0f} samples/sec (batch {args.batch_size})")
    stats = module._exec.memory_stats()
    print(f"memory plan: {stats['planned_bytes']:,} bytes planned for all intermediate buffers "
          f"(naive sum {stats['naive_bytes']:,}, peak-live lower bound {stats['lower_bound_bytes']:,}; "
          f"{stats['planned_bytes'] / max(stats['lower_bound_bytes'], 1):.3f}x the bound)")
    if args.plot:
        write_picture(module, args.plot)
        write_plots(module, args.plot)
    # nothing returned: the `cysym-demo` console script passes main()'s result to sys.exit


def write_picture(module, name):
    """name.png, when the graphviz package and its `dot` program are installed."""
    try:
        graph = mx.viz.plot_network(module.symbol, shape={"data": module.data_shapes[0].shape},
                                    save_format="png")
    except ImportError:
        print("network picture: skipped (pip install graphviz, and apt-get install graphviz for 'dot')")
        return None
    if shutil.which("dot") is None:
        # checked first: a failed render would leave the graph's source file behind
        print("network picture: skipped (the graphviz 'dot' program is missing: apt-get install graphviz)")
        return None
    try:
        path = graph.render(name, cleanup=True)
    except Exception as err:   # dot present but failing
        print(f"network picture: skipped ({type(err).__name__}: {err})")
        if os.path.exists(name):
            os.remove(name)
        return None
    print(f"network picture: {os.path.abspath(path)}")
    return path


def write_plots(module, name):
    """The memory plan's timeline and the training curves (loss and accuracy per epoch), as PNGs
    beside the network picture ('cysym-demo-network' -> cysym-demo-memory.png and
    cysym-demo-training.png), when matplotlib is installed; returns their paths."""
    stem = name[:-len("-network")] if name.endswith("-network") else name
    paths = [f"{stem}-memory.png", f"{stem}-training.png"]
    try:
        module._exec.plot_memory(paths[0], title=f"memory plan of one training step, batch "
                                                     f"{module.data_shapes[0].shape[0]}")
        mx.viz.plot_fit_history(module.fit_history, paths[1], title="training per epoch")
    except ImportError:
        print("memory and training pictures: skipped (pip install matplotlib)")
        return []
    for what, path in zip(("memory plan picture", "training curves picture"), paths):
        print(f"{what}: {os.path.abspath(path)}")
    return paths


if __name__ == "__main__":
    main()
