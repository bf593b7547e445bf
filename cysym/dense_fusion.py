"""Bind-time fusion of each FullyConnected layer with the relu after it (MLPs), in inference and
training executors alike.

A small dense layer is cheap enough that the passes around its GEMM count: the relu reads and
writes the layer's output once more, and in the backward pass relu's gradient writes a masked
copy of the output gradient that the layer's backward reads again (for its bias gradient, then
its two GEMMs).  When nothing else reads the layer's output before the relu, nor the masked
gradient, the executor runs `_FusedFullyConnected` (the relu applied while the product is in
cache) and `_backward_FusedFullyConnected` (mask and bias gradient in one pass, then the GEMMs)
instead (cysym/ops/dense.py).  The numbers are the unfused graph's, bit for bit.

As cysym/fusion.py: the user's graph is not changed, the fused nodes exist in the executor's node
list only, and the entries they replace are aliased to theirs.  CYSYM_FUSION=0 turns this off too.
"""
from .fusion import Fused, _activation, _Readers, copy_outputs, relu_gradients, remaining
from .registry import get_op
from .symbol.graph import Node, operators_of


def fuse_dense_relu(nodes, heads, shapes, dtypes):
    """Fuse the FullyConnected -> relu pairs of `nodes` (in topological order, forward nodes
    first) whose FullyConnected output only the relu reads, and where the backward nodes
    include them, relu's gradient with the layer's backward when only that reads it.  Adds the
    fused nodes' outputs to `shapes` and `dtypes` (which must hold every node's, backward ones
    included)."""
    if "FullyConnected" not in {op.name for op in operators_of(nodes)}:
        return Fused(nodes, {}, {}, 0)     # nothing to fuse: no need to look at each node
    layers = [n for n in nodes if n.op is not None and n.op.name == "FullyConnected"]
    readers = _Readers(nodes, heads)
    relu_gradient_of = relu_gradients(nodes)
    replaced, aliases, renamed, forward_removed = {}, {}, {}, 0
    for layer in layers:
        relu = readers.sole_reader(layer)
        if relu is None or _activation(relu) != ("relu",):
            continue
        attrs = dict(layer.attrs, act_type="relu")
        fused = Node(get_op("_FusedFullyConnected"), layer.name, attrs, list(layer.inputs))
        copy_outputs(relu, fused, 1, shapes, dtypes)
        aliases[(id(relu), 0)] = (fused, 0)
        replaced[id(layer)], replaced[id(relu)] = None, fused
        forward_removed += 1
        gradient = relu_gradient_of.get(id(relu))
        backward = None if gradient is None else readers.sole_reader(gradient)
        if backward is None or not _is_backward_of(backward, gradient, layer):
            continue
        fused_backward = Node(get_op("_backward_FusedFullyConnected"), backward.name,
                              dict(backward.attrs, act_type="relu"),
                              [gradient.inputs[0], (fused, 0)] + list(backward.inputs[1:]))
        outputs = 2 if layer.params["no_bias"] else 3
        copy_outputs(backward, fused_backward, outputs, shapes, dtypes)
        aliases[(id(backward), 0)] = (fused_backward, 0)     # and so its next outputs
        renamed.update({(id(backward), k): (id(fused_backward), k) for k in range(outputs)})
        replaced[id(gradient)], replaced[id(backward)] = None, fused_backward
    if not replaced:
        return Fused(nodes, {}, {}, 0)
    return Fused(remaining(nodes, replaced), aliases, renamed, forward_removed)


def _is_backward_of(backward, gradient, layer):
    """Whether `backward` is the layer's _backward_FullyConnected, reading the relu's gradient."""
    if backward.op.name != "_backward_FullyConnected" or backward.params != layer.params:
        return False
    (dy, dy_index), *rest = backward.inputs
    return (dy is gradient and dy_index == 0
            and all(a is b and i == j for (a, i), (b, j) in zip(rest, layer.inputs[:2])))

