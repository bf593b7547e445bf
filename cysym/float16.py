"""Bind-time pass: float16 entries are stored as float16, and operators without a float16 kernel
compute in float32 between conversions.

MXNet 1.x nets use float16 as storage: a `Cast(data, dtype='float16')` inside a float32 net, a
net bound with `type_dict={'data': 'float16'}`, float16 weights from a `.params` file.  cysym's
kernels compute in float32 and float64, so for each node whose kernel does not take float16
(OpDef.dtypes) the pass reads its float16 inputs through a `_float16_convert` node (float16 ->
float32, exact), runs a copy of the node in float32, and rounds its outputs back to float16
through another (round to nearest even, as NumPy's and MXNet's half_t).  Every value stored is
a float16, as in MXNet; what differs from MXNet is only where MXNet accumulates in float16
(a float16 GEMM sums in float32 here, and rounds once).

It runs on the executor's final node list, backward nodes included, so gradients flow through
the conversions too.  As cysym/fusion.py: the user's graph is not changed, the new nodes exist
in the executor's node list only, and the entries of a node it replaces are aliased to the
node that now computes them.  Casts between float16 and float32, and gradient writes into a
float16 array, become one conversion node each.
"""
from typing import NamedTuple

import numpy as np

from .base import BindError
from .registry import ARRAY_DTYPES, get_op
from .symbol.graph import Node

__all__ = ["HalfPass", "compute_half_in_float32", "HALF", "STORAGE_DTYPES"]

# what a bound array may hold: every dtype a kernel computes in, and float16 for storage
STORAGE_DTYPES = ARRAY_DTYPES + ("float16",)

HALF = np.dtype(np.float16)
SINGLE = np.dtype(np.float32)
# operators that a conversion node replaces whole when they convert between float16 and float32
# (or write a float16 gradient): {op name: the position of the input they convert}
_CONVERSIONS = {"Cast": 0, "_backward_cast": 0, "_grad_write": 0}


class HalfPass(NamedTuple):
    nodes: list             # the new node order
    aliases: dict           # {(id(replaced node), 0): (node computing its outputs, 0)}, the
                            # executor's aliases given to the pass included
    renamed: dict           # {(id(replaced node), k): (id(new node), k)} for each output
    forward_count: int      # how many op nodes of `nodes` are forward ones


def compute_half_in_float32(nodes, forward_count, shapes, dtypes, aliases):
    """The pass over `nodes` (in run order, the first `forward_count` op nodes the forward
    ones), given every entry's shape and dtype, {(id(node), index): ...}, to which it adds the
    new nodes' entries; `aliases` are the executor's from its fusions ({(id(replaced node), 0):
    (fused node, 0)}), redirected where the pass replaces a fused node.  A graph without
    float16 entries comes back as it is, with no aliases or renamings added."""
    if HALF not in {np.dtype(dtype) for dtype in set(dtypes.values())}:
        return HalfPass(nodes, aliases, {}, forward_count)
    new_nodes, replaced_by, renamed = [], {}, {}
    position, new_forward_count = 0, forward_count
    for node in nodes:
        if node.op is None:
            new_nodes.append(node)
            continue
        in_forward = position < forward_count
        position += 1
        replacement = _rewrite(node, shapes, dtypes)
        if replacement is None:
            new_nodes.append(node)
            continue
        new_nodes.extend(replacement)
        if in_forward:
            new_forward_count += len(replacement) - 1
        computing = replacement[-1]
        replaced_by[id(node)] = computing
        renamed.update({(id(node), k): (id(computing), k) for k in range(node.num_outputs())})
    if not replaced_by:
        return HalfPass(nodes, aliases, {}, forward_count)
    merged = {key: (replaced_by.get(id(target), target), index) for key, (target, index) in aliases.items()}
    merged.update({(replaced_id, 0): (computing, 0) for replaced_id, computing in replaced_by.items()})
    return HalfPass(new_nodes, merged, renamed, new_forward_count)


def _rewrite(node, shapes, dtypes):
    """The nodes that compute `node`'s outputs, in run order (the last one gives them), or None
    when its kernel takes its dtypes as they are."""
    op, params = node.op, node.params
    input_names = op.input_names(params) + op.aux_names(params)
    output_names = node.output_names()
    in_types = [np.dtype(dtypes[(id(src), index)]) for src, index in node.inputs]
    out_types = [np.dtype(dtypes[(id(node), k)]) for k in range(len(output_names))]
    # inputs read for their shape only are converted too, as kernels may take their dtype: as
    # nothing reads their values, the executor gives their conversion the request 'null', and
    # it does not run
    converted_inputs = [k for k, dtype in enumerate(in_types)
                        if dtype == HALF and HALF not in op.kernel_dtypes(input_names[k])]
    converted_outputs = [k for k, dtype in enumerate(out_types)
                         if dtype == HALF and HALF not in op.kernel_dtypes(output_names[k])]
    if not converted_inputs and not converted_outputs:
        return None
    if op.name in _CONVERSIONS and len(out_types) == 1:
        source = _CONVERSIONS[op.name]
        if {in_types[source], out_types[0]} <= {HALF, SINGLE}:
            req = params["req"] if op.name == "_grad_write" else "write"
            return [_converter(node, f"{node.name}", [node.inputs[source]], out_types, shapes, dtypes, req)]
    if not all(SINGLE in op.kernel_dtypes(input_names[k]) for k in converted_inputs) or \
            not all(SINGLE in op.kernel_dtypes(output_names[k]) for k in converted_outputs):
        return None     # no float32 kernel either: the executor's dtype check names the entry
    _refuse_updated_inputs(node, converted_inputs, input_names)
    inputs = list(node.inputs)
    nodes = []
    if converted_inputs:
        reader = _converter(node, f"{node.name}_float16_inputs", [inputs[k] for k in converted_inputs],
                            [SINGLE] * len(converted_inputs), shapes, dtypes)
        nodes.append(reader)
        for j, k in enumerate(converted_inputs):
            inputs[k] = (reader, j)
    computing = Node.built(op, node.name, node.attrs, inputs, node._params, node._output_names,
                           node._num_args)
    nodes.append(computing)
    for k, dtype in enumerate(out_types):
        shapes[(id(computing), k)] = shapes[(id(node), k)]
        dtypes[(id(computing), k)] = SINGLE if k in converted_outputs else dtype
    if converted_outputs:
        nodes.append(_converter(node, f"{node.name}_float16", [(computing, k) for k in range(len(out_types))],
                                out_types, shapes, dtypes))
    return nodes


def _converter(node, name, entries, out_types, shapes, dtypes, req="write"):
    """A _float16_convert node reading `entries`, its outputs of their shapes and `out_types`."""
    attrs = {"num_args": str(len(entries)), "dtypes": ",".join(dtype.name for dtype in out_types),
             "req": req}
    converter = Node(get_op("_float16_convert"), name, attrs, entries)
    for k, ((src, index), dtype) in enumerate(zip(entries, out_types)):
        shapes[(id(converter), k)] = shapes[(id(src), index)]
        dtypes[(id(converter), k)] = dtype
    return converter


def _refuse_updated_inputs(node, converted_inputs, input_names):
    """A BindError when the kernel would update a float16 input in place (an optimizer's
    state, an auxiliary state): it would update a float32 copy, and the update would be lost."""
    op, params = node.op, node.params
    updated = set(op.mutated_inputs(params)) | set(op.aux_names(params))
    for k in converted_inputs:
        if input_names[k] in updated:
            raise BindError(
                f"Error in operator {node.name}: {op.label(node.name)}: input '{input_names[k]}' is "
                f"float16, and the kernel, which computes in float32, updates it in place; give it "
                f"float32 (MXNet's mp_ optimizer updates keep a float32 copy of float16 weights)")
