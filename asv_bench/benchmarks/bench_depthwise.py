"""Depthwise 3x3 convolutions of MobileNet v1 and v2 against the memory traffic they need.

A depthwise layer does 9 multiply-adds per output value: far too few to be bound by arithmetic,
so its yardstick is memory.  Each layer is bound as the networks run it at inference
(Convolution with num_group = channels, then BatchNorm and relu, `grad_req='null'`: one fused
node), and its forward time is compared with a copy that moves the same bytes: the layer must
read its input and write its output (the filters and BatchNorm's per-channel values are a few
KB), and `np.copyto` of an array half that size reads and writes as many bytes.  The copy is
timed on arrays of the same size, in the same process, so it sees the same caches (at batch 1
most of these layers fit in L2; at batch 32 they stream from memory).

On this machine's cores that goal is out of reach in cache: 9 multiply-adds per output at the
FMA rate take longer than moving the bytes.  So the layer is also measured against its roofline,
the longer of the copy and its arithmetic at the FMA rate of the sgemm probe
(bench_models.fma_peak_gflops, same process, same threads):

track_fraction_of_copy_rate   copy time / layer time (1.0: as fast as its bytes can be moved;
                              the issue's goal is 0.8)
track_fraction_of_roofline    max(copy time, FLOPs / probed FMA rate) / layer time

Run without asv:  PYTHONPATH=.:asv_bench python3 -m benchmarks.bench_depthwise [--threads N]
"""
import sys

import numpy as np

import cysym as mx

from .bench_models import fma_peak_gflops
from .common import best_of

# name: (channels, input side, stride), MobileNet v1 / v2 at 224x224, every distinct layer
LAYERS = {
    "v1 32x112": (32, 112, 1), "v1 64x112/2": (64, 112, 2), "v1 128x56": (128, 56, 1),
    "v1 128x56/2": (128, 56, 2), "v1 256x28": (256, 28, 1), "v1 256x28/2": (256, 28, 2),
    "v1 512x14": (512, 14, 1), "v1 512x14/2": (512, 14, 2), "v1 1024x7": (1024, 7, 1),
    "v2 96x112/2": (96, 112, 2), "v2 144x56": (144, 56, 1), "v2 144x56/2": (144, 56, 2),
    "v2 192x28": (192, 28, 1), "v2 192x28/2": (192, 28, 2), "v2 384x14": (384, 14, 1),
    "v2 576x14": (576, 14, 1), "v2 576x14/2": (576, 14, 2), "v2 960x7": (960, 7, 1),
}
BATCHES = [1, 32]


def bind_layer(layer, batch):
    """An inference executor of depthwise conv + BatchNorm + relu, every array filled."""
    channels, side, stride = LAYERS[layer]
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, num_filter=channels, num_group=channels, kernel=(3, 3),
                             stride=(stride, stride), pad=(1, 1), no_bias=True, name="dw")
    net = mx.sym.Activation(mx.sym.BatchNorm(net, fix_gamma=False, name="bn"), act_type="relu")
    exe = net.simple_bind(mx.cpu(), grad_req="null", data=(batch, channels, side, side))
    rng = np.random.default_rng(0)
    for name, array in list(exe.arg_dict.items()) + list(exe.aux_dict.items()):
        array[:] = rng.uniform(0.5, 1.5, array.shape) if name.endswith("var") else \
            rng.standard_normal(array.shape)
    return exe


def bytes_moved(exe):
    """Bytes the layer must read and write: its input and its output."""
    return exe.arg_dict["data"].asnumpy().nbytes + exe.outputs[0].asnumpy().nbytes


def measure(layer, batch):
    """(copy time, layer time, FLOPs) of one layer: 2 per multiply-add, 9 per output."""
    exe = bind_layer(layer, batch)
    exe.forward(is_train=False)
    number = 20 if batch == 1 else 3
    source = np.ones(bytes_moved(exe) // 8, dtype=np.float32)
    target = np.empty_like(source)
    copy_time = best_of(lambda: np.copyto(target, source), number=number)
    layer_time = best_of(lambda: exe.forward(is_train=False), number=number)
    return copy_time, layer_time, 18 * exe.outputs[0].size


class DepthwiseBandwidth:
    params = [list(LAYERS), BATCHES]
    param_names = ["layer", "batch"]
    unit = "ratio"
    timeout = 300

    def track_fraction_of_copy_rate(self, layer, batch):
        copy_time, layer_time, _ = measure(layer, batch)
        return copy_time / layer_time

    def track_fraction_of_roofline(self, layer, batch):
        copy_time, layer_time, flops = measure(layer, batch)
        return max(copy_time, flops / (fma_peak_gflops() * 1e9)) / layer_time


def main(argv):
    if "--threads" in argv:
        mx.set_num_threads(int(argv[argv.index("--threads") + 1]))
    peak = fma_peak_gflops()
    print(f"kernel threads: {mx.get_num_threads()}; sgemm 1024^3 probe {peak:.1f} GFLOP/s")
    print(f"{'layer':<14} {'batch':>5} {'ms':>9} {'GFLOP/s':>8} {'of copy rate':>13} {'of roofline':>12}")
    for batch in BATCHES:
        for layer in LAYERS:
            copy_time, layer_time, flops = measure(layer, batch)
            roofline = max(copy_time, flops / (peak * 1e9))
            print(f"{layer:<14} {batch:>5} {layer_time * 1e3:>9.3f} {flops / layer_time / 1e9:>8.1f} "
                  f"{copy_time / layer_time:>13.2f} {roofline / layer_time:>12.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
