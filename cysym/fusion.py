"""Bind-time fusion: for executors that compute no gradient, and BatchNorm -> relu in training.

A Convolution followed by a BatchNorm and by a relu or clip (ResNet, MobileNet, Inception,
DenseNet: every convolution) is three passes over its output, and the last two are pure memory
traffic.  When nothing else reads the intermediate results, the executor runs the chain as one
`_FusedConvolution` node (cysym/ops/conv.py): the BatchNorm's scale and shift (its moving
statistics) are computed at every run from the live arrays (so a change the user makes through
`arg_dict` or `aux_dict` counts), and applied with the activation while each output block is
written.  A BatchNorm followed by a relu elsewhere (DenseNet's and pre-activation ResNets' BN ->
ReLU -> Convolution) runs as one `_contrib_BatchNormWithReLU` node, right in training passes too.

The graph the user holds is not changed: the fused nodes live in the executor's node list only,
and the entries they replace are aliased to the fused node's output.  A BatchNorm that would use
the batch's statistics in a training pass (use_global_stats false) is right only in inference
passes; the executor records that and runs unfused when asked for `forward(is_train=True)` (see
Executor.forward).  Set CYSYM_FUSION=0 in the environment to bind without fusion.

In executors that compute gradients, a BatchNorm whose output only a relu reads runs as
`_contrib_BatchNormWithReLU` too, and the relu's gradient with the BatchNorm's backward as
`_backward_contrib_BatchNormWithReLU` (fuse_norm_relu): the relu's pass over the output and
its gradient's masked copy of the output gradient are gone (the BatchNorm's backward masks the
gradient as it reads it).  The numbers are the unfused graph's.
"""
import os
from typing import NamedTuple

from .registry import get_op
from .symbol.graph import Node, operators_of

ENABLED = os.environ.get("CYSYM_FUSION", "1") != "0"

_BATCH_NORMS = ("BatchNorm", "_contrib_SyncBatchNorm")


class Fused(NamedTuple):
    """What a fusion of forward and backward nodes returns."""
    nodes: list             # the new node order
    aliases: dict           # {(id(replaced node), 0): (fused node, 0)}, as fuse_for_inference's
    renamed: dict           # {(id(replaced backward node), k): (id(fused node), k)}: its outputs
    forward_removed: int    # how many forward nodes the forward fusions removed


def _activation(node):
    """('relu',) or ('clip', a_min, a_max) when `node` is one the fused kernel computes."""
    name, params = node.op.name, node.params
    if name == "relu" or (name == "Activation" and params["act_type"] == "relu"):
        return ("relu",)
    if name == "clip":
        return ("clip", params["a_min"], params["a_max"])
    return None


class _Readers:
    """How many node inputs read each entry, and which node is an entry's only reader."""

    def __init__(self, nodes, heads):
        self.count, self.only = {}, {}
        for node in nodes:
            for src, index in node.inputs:
                key = (id(src), index)
                self.count[key] = self.count.get(key, 0) + 1
                self.only[key] = node
        self.heads = {(id(node), index) for node, index in heads}

    def sole_reader(self, node, index=0):
        """The one node that reads output `index` of `node`, if it is read once and is no head."""
        key = (id(node), index)
        if self.count.get(key) != 1 or key in self.heads:
            return None
        return self.only[key]

    def unused(self, node, index):
        key = (id(node), index)
        return key not in self.count and key not in self.heads


def fuse_for_inference(nodes, heads, shapes, dtypes):
    """Fuse the Convolution -> [BatchNorm] -> [relu | clip] chains, then the BatchNorm -> relu
    pairs, of `nodes` (in topological order) whose intermediate entries nothing else reads and
    no head is.

    Returns (nodes, aliases, batch_stats): the new node order, {(id(replaced node), 0):
    (fused node, 0)} for the entries the fused nodes now compute, and whether some fused
    BatchNorm would use the batch's statistics in a training pass.  Adds the fused nodes'
    outputs to `shapes` and `dtypes`."""
    if not {"Convolution", "BatchNorm"} & {op.name for op in operators_of(nodes)}:
        return nodes, {}, False     # nothing to fuse: no need to look at each node
    convolutions = [n for n in nodes if n.op is not None and n.op.name == "Convolution"]
    norms = [n for n in nodes if n.op is not None and n.op.name == "BatchNorm"]
    readers = _Readers(nodes, heads)
    replaced = {}       # id(node) -> fused node, for each node of a chain (None: drop it)
    aliases, batch_stats = {}, False
    for conv in convolutions:
        attrs = dict(conv.attrs)
        chain, inputs, last = [conv], list(conv.inputs), conv
        norm = readers.sole_reader(conv)
        if (norm is not None and norm.op.name in _BATCH_NORMS and norm.inputs[0][0] is conv
                and norm.params.get("axis", 1) in (1, -len(shapes[(id(conv), 0)]) + 1)
                and readers.unused(norm, 1) and readers.unused(norm, 2)):
            attrs.update(with_bn="True", eps=repr(norm.params["eps"]),
                         fix_gamma=str(norm.params["fix_gamma"]))
            inputs += norm.inputs[1:5]
            batch_stats |= not norm.params["use_global_stats"]
            chain.append(norm)
            last = norm
        act_node = readers.sole_reader(last)
        activation = None if act_node is None else _activation(act_node)
        if activation is not None:
            attrs["act_type"] = activation[0]
            if activation[0] == "clip":
                attrs.update(a_min=repr(activation[1]), a_max=repr(activation[2]))
            chain.append(act_node)
            last = act_node
        if len(chain) == 1:
            continue
        fused = Node(get_op("_FusedConvolution"), conv.name, attrs, inputs)
        shapes[(id(fused), 0)] = shapes[(id(last), 0)]
        dtypes[(id(fused), 0)] = dtypes[(id(last), 0)]
        aliases[(id(last), 0)] = (fused, 0)
        for node in chain[:-1]:
            replaced[id(node)] = None
        replaced[id(last)] = fused     # its position: after every input of the chain
    for norm in norms:
        if id(norm) in replaced:
            continue
        relu = readers.sole_reader(norm)
        if (relu is None or id(relu) in replaced or _activation(relu) != ("relu",)
                or not (readers.unused(norm, 1) and readers.unused(norm, 2))):
            continue
        _norm_with_relu(norm, relu, shapes, dtypes, aliases, replaced)
    if not replaced:
        return nodes, aliases, False
    return remaining(nodes, replaced), aliases, batch_stats


def _norm_with_relu(norm, relu, shapes, dtypes, aliases, replaced):
    """The _contrib_BatchNormWithReLU node that replaces `norm` and `relu`, entered in the
    fusion's shapes, dtypes, aliases and replaced nodes."""
    fused = Node(get_op("_contrib_BatchNormWithReLU"), norm.name, norm.attrs, norm.inputs)
    copy_outputs(relu, fused, 1, shapes, dtypes)
    for index in (1, 2, 3):     # mean, var and MXNet's workspace: one value per channel
        shapes[(id(fused), index)] = shapes[(id(norm), 1)]
        dtypes[(id(fused), index)] = dtypes[(id(norm), 1)]
    aliases[(id(relu), 0)] = (fused, 0)
    replaced[id(norm)], replaced[id(relu)] = None, fused
    return fused


def remaining(nodes, replaced):
    """`nodes` in order with each replaced one's fused node in its place, or dropped (None)."""
    fused_nodes = [replaced.get(id(node), node) for node in nodes]
    return [node for node in fused_nodes if node is not None]


def copy_outputs(source, target, count, shapes, dtypes):
    """Give `target`'s first `count` outputs the shapes and dtypes of `source`'s."""
    for k in range(count):
        shapes[(id(target), k)] = shapes[(id(source), k)]
        dtypes[(id(target), k)] = dtypes[(id(source), k)]


def relu_gradients(nodes):
    """{id(relu node): the _backward_unary node of its gradient} (the gradient from the
    relu's output)."""
    return {id(node.inputs[1][0]): node for node in nodes
            if node.op is not None and node.op.name == "_backward_unary"
            and node.params["op"] == "relu_grad_y"}


def fuse_norm_relu(nodes, heads, shapes, dtypes):
    """Fuse the BatchNorm -> relu pairs of `nodes` (in topological order, forward nodes first)
    whose BatchNorm output only the relu reads and whose batch mean and variance only the
    BatchNorm's backward reads, and where the backward nodes include them, relu's gradient with
    the BatchNorm's backward when only that reads it.  Adds the fused nodes' outputs to
    `shapes` and `dtypes` (which must hold every node's, backward ones included)."""
    if "BatchNorm" not in {op.name for op in operators_of(nodes)}:
        return Fused(nodes, {}, {}, 0)     # nothing to fuse: no need to look at each node
    norms = [n for n in nodes if n.op is not None and n.op.name == "BatchNorm"]
    readers = _Readers(nodes, heads)
    gradient_of = relu_gradients(nodes)
    replaced, aliases, renamed, forward_removed = {}, {}, {}, 0
    for norm in norms:
        relu = readers.sole_reader(norm)
        if relu is None or _activation(relu) != ("relu",):
            continue
        gradient = gradient_of.get(id(relu))
        backward = None if gradient is None else readers.sole_reader(gradient)
        if backward is not None and not _is_norm_backward_of(backward, gradient, norm):
            backward = None
        statistics_read_elsewhere = any(
            not readers.unused(norm, k) and readers.sole_reader(norm, k) is not backward
            for k in (1, 2))
        if statistics_read_elsewhere:
            continue
        fused = _norm_with_relu(norm, relu, shapes, dtypes, aliases, replaced)
        forward_removed += 1
        if backward is None:
            continue
        data, gamma, _, moving_mean, moving_var = norm.inputs
        fused_backward = Node(get_op("_backward_contrib_BatchNormWithReLU"), backward.name,
                              backward.attrs, [gradient.inputs[0], data, gamma, (fused, 1),
                                               (fused, 2), moving_mean, moving_var, (fused, 0)])
        copy_outputs(backward, fused_backward, 3, shapes, dtypes)
        aliases[(id(backward), 0)] = (fused_backward, 0)     # and so its next outputs
        renamed.update({(id(backward), k): (id(fused_backward), k) for k in range(3)})
        replaced[id(gradient)], replaced[id(backward)] = None, fused_backward
    if not replaced:
        return Fused(nodes, {}, {}, 0)
    return Fused(remaining(nodes, replaced), aliases, renamed, forward_removed)


def _is_norm_backward_of(backward, gradient, norm):
    """Whether `backward` is the BatchNorm's _backward_BatchNorm, reading the relu's gradient."""
    if backward.op.name != "_backward_BatchNorm" or backward.params != norm.params:
        return False
    data, gamma, _, moving_mean, moving_var = norm.inputs
    expected = [(gradient, 0), data, gamma, (norm, 1), (norm, 2), moving_mean, moving_var]
    return len(backward.inputs) == len(expected) and all(
        a is b and i == j for (a, i), (b, j) in zip(backward.inputs, expected))
