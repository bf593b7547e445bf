"""bind / simple_bind: graph -> shapes -> backward graph -> memory plan -> flat run plan.

Everything is decided here, once: every entry's shape and dtype, which entries share
memory (the planner in cysym._ops.planner), and the list of kernel calls (cysym._ops.runner).
forward() and backward() then only run slices of that list; they allocate nothing.
"""
import bisect
import contextlib
import itertools
import math
import operator
import sys

import numpy as np

from . import dense_fusion as _dense_fusion
from . import float16 as _float16
from . import fusion as _fusion
from . import profiler as _profiler
from . import random as _random
from ._ops import planner as _planner
from ._ops import runner as _runner
from .autodiff import build_backward
from .base import BindError, MXNetError
from .context import Context, current_context
from .infer import EntryDict, bind_types, infer_graph_shapes, infer_graph_types, unresolved_shapes
from .shapes import is_complete, show_shape
from .ndarray import NDArray
from .registry import FLOAT_DTYPES, get_op
from .symbol.graph import EntryIndex, Node, _op_of, gc_paused, operators_of, topo_order

__all__ = ["Executor", "bind", "simple_bind", "BindContext"]

ALIGNMENT = 64
# what bound arrays may hold; each operator says which of them its kernel computes in
# (OpDef.dtypes), float16 is computed in float32 by the ones without a float16 kernel
# (cysym/float16.py), and integer arrays never take part in gradients
BOUND_DTYPES = tuple(np.dtype(name) for name in _float16.STORAGE_DTYPES)
GRAD_REQS = ("write", "add", "null")


class BindContext:
    """What an operator's kernel function sees at bind time.

    inputs/outputs are the arrays of the node's entries (arguments then auxiliary states;
    outputs then nothing), already shaped, typed and C-contiguous; req[k] is 'write', or
    'null' when nothing reads output k; workspace is a uint8 scratch array or None.
    """

    __slots__ = ("plan", "node", "params", "inputs", "outputs", "req", "workspace")

    def __init__(self, plan, node, inputs, outputs, req, workspace):
        self.plan = plan
        self.node = node
        self.params = node.params
        self.inputs = inputs
        self.outputs = outputs
        self.req = req
        self.workspace = workspace

    @property
    def label(self):
        """'Op(name='instance')', for the kernel's error messages (built only when one asks)."""
        return self.node.op.label(self.node.name)


# the dtypes of the arrays an operator's map call (OpDef.map_call) computes for
MAP_CALL_DTYPES = frozenset(np.dtype(name) for name in FLOAT_DTYPES)

# what a kernel's entry point (or workspace size) raises when it refuses the node's arrays
_KERNEL_REFUSALS = (ValueError, TypeError, OverflowError, MemoryError)


def _refusal(node, err):
    """The BindError naming the node for a kernel's refusal: one error type for the user,
    whichever kernel checked."""
    label = node.op.label(node.name)
    message = str(err) if label in str(err) else f"{label}: {err}"
    return BindError(f"Error in operator {node.name}: {message}")


@contextlib.contextmanager
def _refusals_as_bind_errors(node):
    try:
        yield
    except MXNetError:
        raise
    except _KERNEL_REFUSALS as err:
        raise _refusal(node, err) from err


def _normalize_grad_req(grad_req, arg_names):
    if isinstance(grad_req, str):
        reqs = {name: grad_req for name in arg_names}
    elif isinstance(grad_req, (list, tuple)):
        if len(grad_req) != len(arg_names):
            raise BindError(f"grad_req has {len(grad_req)} entries for {len(arg_names)} arguments {arg_names}")
        reqs = dict(zip(arg_names, grad_req))
    elif isinstance(grad_req, dict):
        known = set(arg_names)
        unknown = [k for k in grad_req if k not in known]
        if unknown:
            raise BindError(f"grad_req names {unknown[0]!r}, which is not an argument; arguments are {arg_names}")
        reqs = {name: grad_req.get(name, "null") for name in arg_names}
    else:
        raise BindError(f"grad_req must be a string, list or dict, not {type(grad_req).__name__}")
    for name, req in reqs.items():
        if req not in GRAD_REQS:
            raise BindError(f"grad_req for {name!r} is {req!r}; expected one of {list(GRAD_REQS)}")
    return reqs


def _as_array_dict(arrays, names, what, allow_missing=False):
    """A name -> array dict from a list (in `names` order) or a dict; errors name the argument."""
    if arrays is None:
        return {}
    if isinstance(arrays, dict):
        # a name mapped to None gives nothing (MXNet code passes {'bias': None} with no_bias)
        known = set(names)
        unknown = [k for k, v in arrays.items() if k not in known and v is not None]
        if unknown:
            raise BindError(f"{what}: {unknown[0]!r} is not one of {names}")
        result = dict(arrays)
    elif isinstance(arrays, (list, tuple)):
        if len(arrays) != len(names):
            raise BindError(f"{what}: {len(arrays)} arrays given for {len(names)} names {names}")
        result = dict(zip(names, arrays))
    else:
        raise BindError(f"{what} must be a list or a dict, not {type(arrays).__name__}")
    if not allow_missing:
        missing = [n for n in names if result.get(n) is None]
        if missing:
            raise BindError(f"{what}: no array given for {missing[0]!r}")
    return {k: v for k, v in result.items() if v is not None}


def _check_array(array, name, what):
    if not isinstance(array, np.ndarray):
        raise BindError(f"{what} {name!r} must be an NDArray or numpy array, not {type(array).__name__}")
    if not array.flags.c_contiguous or not array.flags.writeable:
        raise BindError(f"{what} {name!r} must be a writeable C-contiguous array "
                        f"(it is used in place, not copied)")
    if array.dtype not in BOUND_DTYPES:
        raise BindError(f"{what} {name!r} has dtype {array.dtype}; bound arrays may be "
                        f"{', '.join(_float16.STORAGE_DTYPES)}")
    return array if isinstance(array, NDArray) else array.view(NDArray)


def _is_float(dtype):
    return np.dtype(dtype).kind == "f"


class _NodeLayout:
    """What an operator's declaration says of a node's entries at bind: its number of outputs,
    the inputs its kernel reads for their shape only, the dtypes the kernel takes for each
    input (None: any, shape only) and output, its in-place pairs.  A function of the op and
    the node's attributes, so that nodes alike (every relu of a network) share one: asking the
    declaration builds name lists, once per node of a graph that may have 10^5."""

    __slots__ = ("num_outputs", "shape_only", "input_dtypes", "output_dtypes", "read", "read_inplace",
                 "output_suffixes", "takes_every_dtype", "map_call")

    def __init__(self, node):
        op, params = node.op, node.params
        self.num_outputs = node.num_outputs()
        # entry labels are node.name + suffix (Node.output_name without its calls)
        self.output_suffixes = ["_" + name for name in node.output_names()]
        # whether the kernel takes every dtype of the graph being laid out (set by _lay_out)
        self.takes_every_dtype = None
        self.shape_only = op.shape_only_inputs(params)
        input_names = op.input_names(params) + op.aux_names(params)
        self.input_dtypes = [None if position in self.shape_only else op.kernel_dtypes(name)
                             for position, name in enumerate(input_names)]
        self.output_dtypes = [op.kernel_dtypes(name) for name in node.output_names()]
        # the element-wise map call that is the kernel on float32 and float64 arrays (OpDef.map_call)
        self.map_call = None if op.map_call is None else op.map_call(params)
        # what the planner is told: the positions of the inputs the kernel reads (None: all),
        # and the in-place pairs among those
        pairs = op.inplace_pairs(params)
        if self.shape_only:
            self.read = [k for k in range(len(input_names)) if k not in self.shape_only]
            self.read_inplace = [(self.read.index(a), b) for a, b in pairs
                                 if a in self.read and b < self.num_outputs]
        else:
            self.read = None
            self.read_inplace = [(a, b) for a, b in pairs
                                 if 0 <= a < len(input_names) and b < self.num_outputs]


def _layout_of(node, layouts):
    """node's _NodeLayout, shared through `layouts` by nodes of one op with the same attributes.
    Nodes sharing parsed parameters (loaded alike, or copies) have the same attributes: their
    parameters' id finds it first (the nodes hold them while the layouts are used)."""
    shared_key = (node.op, id(node.params))
    layout = layouts.get(shared_key)
    if layout is None:
        key = (node.op, tuple(node.attrs.items()))
        layout = layouts.get(key)
        if layout is None:
            layout = layouts[key] = _NodeLayout(node)
        layouts[shared_key] = layout
    return layout


def _entry_index(symbol, nodes, aliases):
    """An EntryIndex of bind's `nodes`: the symbol's own, which inference numbered, extended
    by the nodes bind adds after the forward ones, unless some forward node was replaced."""
    forward = symbol._entries()
    if not aliases:
        if nodes is forward.nodes:
            return forward
        count = len(forward.nodes)
        if len(nodes) > count and all(map(operator.is_, forward.nodes, nodes)):
            return EntryIndex(nodes[count:], base=forward)
    return EntryIndex(nodes, aliases)


_itemsize = operator.attrgetter("itemsize")


def _check_outputs_known(nodes, firsts, entry_shapes, entry_dtypes):
    """A BindError naming the first operator output whose shape or dtype is not known."""
    if (None not in entry_dtypes and None not in entry_shapes
            and not any(map(operator.contains, entry_shapes, itertools.repeat(None)))):
        return      # every one known, found in passes in C
    unknown = [e for e, shape in enumerate(entry_shapes) if shape is None or None in shape]
    unknown += [e for e, dtype in enumerate(entry_dtypes) if dtype is None]
    if unknown:
        e = min(unknown)
        position = bisect.bisect_right(firsts, e) - 1
        node, i = nodes[position], e - firsts[position]
        raise BindError(f"Error in operator {node.name}: cannot infer the shape or dtype of "
                        f"output {node.output_name(i)} (shape {show_shape(entry_shapes[e])}, "
                        f"dtype {entry_dtypes[e]}); give more input shapes")


def _check_kernel_dtypes(node, dtypes, layout):
    """A BindError naming the operator instance, the entry and its dtype when the op's kernel
    does not compute in it (OpDef.dtypes); inputs read for their shape only may be anything."""
    input_dtypes = layout.input_dtypes
    for position, (src, index) in enumerate(node.inputs):
        allowed = input_dtypes[position]
        if allowed is not None and dtypes[(id(src), index)] not in allowed:
            raise _dtype_refusal(node, "input", position, dtypes[(id(src), index)])
    node_id = id(node)
    for i, allowed in enumerate(layout.output_dtypes):
        if dtypes[(node_id, i)] not in allowed:
            raise _dtype_refusal(node, "output", i, dtypes[(node_id, i)])


def _dtype_refusal(node, what, position, dtype):
    op, params = node.op, node.params
    name = (op.input_names(params) + op.aux_names(params) if what == "input"
            else node.output_names())[position]
    supported = ", ".join(sorted(np.dtype(d).name for d in node.op.kernel_dtypes(name)))
    return BindError(f"Error in operator {node.name}: {node.op.label(node.name)}: {what} '{name}' has "
                     f"dtype {np.dtype(dtype).name}, but its kernel computes in {supported}")


def _monitor_name(node, index):
    """The name MXNet's monitor gives an output: '<node>_<output>' ('fc1_output'), and for a
    backward node '<node>_output<k>' ('fc1_backward_output1'), '<node>_output' for one output."""
    if not node.op.name.startswith("_backward_"):
        return node.output_name(index)
    return f"{node.name}_output{index}" if node.num_outputs() > 1 else f"{node.name}_output"


class Executor:
    """A symbol bound to arrays, with its memory planned and its kernel calls laid out."""

    def __init__(self, symbol, ctx, args, grads, grad_req, aux, inferred=None):
        """inferred: ((shapes, unsettled nodes), (dtypes, unsettled nodes)) of the symbol's
        graph (infer.EntryDicts), inferred from these arrays' shapes and dtypes (simple_bind's),
        so that the graph is not inferred again."""
        self._symbol = symbol
        self._ctx = ctx
        arg_nodes, aux_nodes = symbol._variables()
        self._arg_names = [n.name for n in arg_nodes]
        self._aux_names = [n.name for n in aux_nodes]
        for names, what in ((self._arg_names, "argument"), (self._aux_names, "auxiliary state")):
            if len(set(names)) != len(names):
                dup = next(n for n in names if names.count(n) > 1)
                raise BindError(f"the symbol has two different {what} variables named {dup!r}")
        self._grad_req = grad_req
        self.arg_dict = {n: _check_array(args[n], n, "argument") for n in self._arg_names}
        self.aux_dict = {n: _check_array(aux[n], n, "auxiliary state") for n in self._aux_names}
        self.grad_dict = {n: (_check_array(grads[n], n, "gradient") if grads.get(n) is not None
                              else None) for n in self._arg_names}
        for n, g in self.grad_dict.items():
            if g is not None and (g.shape != self.arg_dict[n].shape or g.dtype != self.arg_dict[n].dtype):
                raise BindError(f"gradient {n!r} has shape {g.shape} {g.dtype}, but the argument is "
                                f"{self.arg_dict[n].shape} {self.arg_dict[n].dtype}")
        wanted = {id(node) for node in arg_nodes
                  if grad_req[node.name] != "null" and self.grad_dict[node.name] is not None
                  and _is_float(self.arg_dict[node.name].dtype)}
        self._monitor = None
        self._fuse = _fusion.ENABLED
        self._build_args = (arg_nodes, aux_nodes, wanted, inferred)
        self._build(*self._build_args)
        # a backward that reads what forward left in the planned buffers (it may also reuse
        # them) may run once after each forward, never before the first
        self._forward_done = False

    # -- building ----------------------------------------------------------------------------

    def _build(self, arg_nodes, aux_nodes, wanted, inferred):
        symbol = self._symbol
        arrays_of = {id(n): self.arg_dict[n.name] for n in arg_nodes}
        arrays_of.update({id(n): self.aux_dict[n.name] for n in aux_nodes})
        forward_nodes = symbol._nodes()
        if inferred is None:
            shapes = {(id(n), 0): arrays_of[id(n)].shape for n in arg_nodes + aux_nodes}
            dtypes = {(id(n), 0): arrays_of[id(n)].dtype for n in arg_nodes + aux_nodes}
            inferred = ((EntryDict(mapping=shapes), infer_graph_shapes(forward_nodes, shapes)),
                        (EntryDict(mapping=dtypes), infer_graph_types(forward_nodes, dtypes)))
        (shapes, shapes_unsettled), (dtypes, dtypes_unsettled) = inferred
        gradients, head_nodes = {}, []
        if wanted:
            integer_entries = {key for key, dtype in dtypes.items() if not _is_float(dtype)}
            gradients, head_nodes = build_backward(symbol, wanted, integer_entries)

        # Gradients go straight into the user's arrays when their entry is a fresh backward
        # output; otherwise a `_grad_write` node copies (or, for 'add', accumulates) them.
        forward_ids = {id(n) for n in forward_nodes} if gradients else set()   # (only they ask)
        readers = {}    # entry -> how many nodes read it (only gradients ask)
        for node in (topo_order(symbol._outputs + list(gradients.values())) if gradients else ()):
            for src, index in node.inputs:
                readers[(id(src), index)] = readers.get((id(src), index), 0) + 1
        grad_targets = {}   # (id(node), index) -> user gradient array
        grad_heads = []
        for node in arg_nodes:
            entry = gradients.get(id(node))
            if entry is None:
                continue
            target = self.grad_dict[node.name]
            key = (id(entry[0]), entry[1])
            direct = (self._grad_req[node.name] == "write" and not entry[0].is_variable
                      and id(entry[0]) not in forward_ids and readers.get(key, 0) == 0
                      and key not in grad_targets)
            if not direct:
                writer = Node(get_op("_grad_write"), f"{node.name}_grad_write",
                              {"req": self._grad_req[node.name]}, [entry])
                entry = (writer, 0)
                key = (id(writer), 0)
            grad_targets[key] = target
            grad_heads.append(entry)
        if grad_heads:
            nodes = topo_order(symbol._outputs + grad_heads)
            # forward ops first, in forward order, then the backward ops
            backward_nodes = [n for n in nodes if id(n) not in forward_ids]
            nodes = [n for n in nodes if id(n) in forward_ids] + backward_nodes
        else:
            nodes, backward_nodes = forward_nodes, []
        aliases, self._fused_batch_stats = {}, False
        if self._fuse and not backward_nodes:
            nodes, aliases, self._fused_batch_stats = _fusion.fuse_for_inference(
                nodes, symbol._outputs, shapes, dtypes)
            forward_ids.update(id(target) for target, _ in aliases.values())
        self._fused = bool(aliases)
        self._forward_count = (sum(1 for n in nodes if n.op is not None and id(n) in forward_ids)
                               if backward_nodes else len(nodes) - list(map(_op_of, nodes)).count(None))
        self._head_grad_arrays = []
        gradient_nodes = {id(entry[0]) for entry in gradients.values()}
        for (node, index), head in zip(symbol._outputs, head_nodes):
            # loss heads make their own gradient; a head gradient that no gradient rule reads
            # (comparisons have zero gradients) is not needed, as in MXNet
            if head is None or (readers.get((id(head), 0), 0) == 0
                                and id(head) not in gradient_nodes):
                self._head_grad_arrays.append(None)
                continue
            key = (id(node), index)
            if not is_complete(shapes.get(key)) or key not in dtypes:
                raise BindError(f"cannot infer the shape of output {node.output_name(index)}: "
                                f"{show_shape(shapes.get(key))}")
            array = np.zeros(shapes[key], dtypes[key]).view(NDArray)
            arrays_of[id(head)] = array
            shapes[(id(head), 0)] = array.shape
            dtypes[(id(head), 0)] = array.dtype
            self._head_grad_arrays.append(array)
        if backward_nodes:
            # the backward nodes, after the forward ones whose entries are not all known yet
            # (the backward rules may complete them): the others need no second look
            infer_graph_shapes(shapes_unsettled + backward_nodes, shapes.dict())
            infer_graph_types(dtypes_unsettled + backward_nodes, dtypes.dict())
        if self._fuse:     # FullyConnected or BatchNorm + relu (and their backward): every
            # shape is known now
            for fuse in (_dense_fusion.fuse_dense_relu, _fusion.fuse_norm_relu):
                fused = fuse(nodes, symbol._outputs, shapes, dtypes)
                if fused.aliases:
                    nodes, self._fused = fused.nodes, True
                    aliases = {**aliases, **fused.aliases}
                    self._forward_count -= fused.forward_removed
                    grad_targets = {fused.renamed.get(key, key): target
                                    for key, target in grad_targets.items()}
        half = _float16.compute_half_in_float32(nodes, self._forward_count, shapes, dtypes, aliases)
        if half.renamed:
            nodes, aliases, self._forward_count = half.nodes, half.aliases, half.forward_count
            grad_targets = {half.renamed.get(key, key): target for key, target in grad_targets.items()}
        self._lay_out(nodes, arrays_of, shapes, dtypes, grad_targets, aliases)

    def _unfuse(self):
        """Lay the executor out again without fusion (new output arrays): for a training pass
        through a fused BatchNorm, or a monitor that wants every node's outputs."""
        self._fuse = False
        # shapes inferred afresh: the first build added entries of its backward and fused nodes,
        # keyed by ids that the new nodes may reuse
        self._build(*self._build_args[:3], None)
        self._forward_done = False

    def _lay_out(self, nodes, arrays_of, shapes, dtypes, grad_targets, aliases):
        # The loops below run once per node of graphs that may have 10^5: entries are numbered
        # by an EntryIndex (the symbol's own, which inference numbered, when bind only adds
        # nodes after it), what is known of them is read into lists indexed by entry id, and
        # what nodes alike share is in their _NodeLayout.
        index = _entry_index(self._symbol, nodes, aliases)
        firsts, inputs_of = index.first, index.inputs
        entry_shapes = shapes.of(index)
        entry_dtypes = dtypes.of(index)
        labels = [None] * index.count
        # per entry: the user's array for external entries, else None until planned
        arrays = [None] * index.count
        external = [False] * index.count
        op_positions = index.op_positions
        op_nodes = [nodes[p] for p in op_positions]
        for position, node in enumerate(nodes):
            if node.op is None:
                array = arrays_of.get(id(node))
                if array is None:
                    raise BindError(f"variable {node.name!r} has no array")
                e = firsts[position]
                labels[e], arrays[e], external[e] = node.name, array, True
                entry_shapes[e], entry_dtypes[e] = array.shape, array.dtype
        for (node_id, i), target in grad_targets.items():
            e = index.start[node_id] + i
            arrays[e], external[e] = target, True
        layouts = {}
        node_layouts = []     # per op node, in op_nodes' order
        # a layout whose kernel takes every dtype present in the graph, for each of its entries,
        # needs no check per node (the check costs as much as the rest of a node's entries)
        present_dtypes = set(dtypes.values())
        # op_inputs: what each op reads, for the planner; kernel_inputs: what its kernel is
        # given, which adds the inputs it only takes the shape of
        kernel_inputs, op_inputs, op_outputs, op_inplace = [], [], [], []
        with_workspace = []     # (position, node) of the op nodes whose kernel may want one
        for position, node in zip(op_positions, op_nodes):
            params = node._params
            layout = layouts.get((node.op, id(params))) if params is not None else None
            if layout is None:
                layout = _layout_of(node, layouts)
            if layout.takes_every_dtype is None:
                layout.takes_every_dtype = all(
                    present_dtypes <= allowed for allowed in layout.input_dtypes + layout.output_dtypes
                    if allowed is not None)
            node_layouts.append(layout)
            first, suffixes = firsts[position], layout.output_suffixes
            if len(suffixes) == 1:
                labels[first] = node.name + suffixes[0]
                op_outputs.append([first])
            else:
                labels[first:first + len(suffixes)] = [node.name + suffix for suffix in suffixes]
                op_outputs.append(list(range(first, first + len(suffixes))))
            ins = inputs_of[position]
            if node.op.workspace is not None:
                with_workspace.append((len(kernel_inputs), node))
            kernel_inputs.append(ins)
            # the in-place pairs are the layout's, shared by nodes alike (the planner only reads them)
            if layout.read is not None:
                ins = [ins[k] for k in layout.read]
            op_inputs.append(ins)
            op_inplace.append(layout.read_inplace)
        _check_outputs_known(nodes, firsts, entry_shapes, entry_dtypes)
        for node, layout in zip(op_nodes, node_layouts):
            if not layout.takes_every_dtype:
                _check_kernel_dtypes(node, dtypes, layout)
        # each entry's bytes, shape and dtype, over all entries at once
        if not all(map(isinstance, entry_dtypes, itertools.repeat(np.dtype))):
            entry_dtypes = list(map(np.dtype, entry_dtypes))
        entry_shapes = list(map(tuple, entry_shapes))     # (a tuple is its own tuple)
        entry_bytes = list(map(operator.mul, map(math.prod, entry_shapes), map(_itemsize, entry_dtypes)))

        def add_entry(shape, dtype, label):
            dtype = np.dtype(dtype)
            entry_bytes.append(math.prod(shape) * dtype.itemsize)
            external.append(False)
            arrays.append(None)
            labels.append(label)
            entry_shapes.append(tuple(shape))
            entry_dtypes.append(dtype)

        # workspaces are numbered after every output, once every node's outputs are checked
        for position, node in with_workspace:
            node_id, num_outputs = id(node), node_layouts[position].num_outputs
            in_shapes = [shapes[(id(src), i)] for src, i in node.inputs]
            out_shapes = [shapes[(node_id, i)] for i in range(num_outputs)]
            with _refusals_as_bind_errors(node):
                size = node.op.workspace(node.params, in_shapes, out_shapes, dtypes[(node_id, 0)])
            if size:
                op_outputs[position].append(len(entry_bytes))
                add_entry((size,), np.uint8, f"{node.name}_workspace")
        # how many ops read each entry, counted in one NumPy call rather than per input
        read_count = np.bincount(np.fromiter(itertools.chain.from_iterable(op_inputs), np.intp),
                                 minlength=len(entry_bytes)).tolist()
        persistent = [False] * len(entry_bytes)
        for node, output in self._symbol._outputs:
            persistent[index.start[id(node)] + output] = True
        plan = _planner.memory_plan(entry_bytes, op_inputs, op_outputs, op_inplace,
                                    persistent, external, alignment=ALIGNMENT)
        self._memory = plan
        arena = np.empty(int(plan["planned_bytes"]) + ALIGNMENT, np.uint8)
        start = (-arena.ctypes.data) % ALIGNMENT
        self._arena = arena[start:start + int(plan["planned_bytes"])]
        offsets = plan["offsets"].tolist()

        # entries planned in one place with one shape and dtype (an in-place chain) share one
        # view of the arena: a view costs more than the rest of an entry's lay-out
        views = {}
        arena = self._arena
        for e, (offset, shape, dtype) in enumerate(zip(offsets, entry_shapes, entry_dtypes)):
            if arrays[e] is None:
                view_key = (offset, shape, dtype)
                array = views.get(view_key)
                if array is None:
                    array = views[view_key] = NDArray.__new__(NDArray, shape, dtype, arena, offset)
                arrays[e] = array
        self._entry_labels, self._entry_shapes, self._entry_dtypes = labels, entry_shapes, entry_dtypes
        self._entry_bytes = entry_bytes
        self._external = external
        self._storage_of = plan.get("storage_of")
        # what each planned step reads and writes, for the memory picture (visualization.py)
        self._plan_steps = (op_inputs, op_outputs, persistent)

        run_plan = _runner.Plan()
        call_starts = []    # each op node's first plan call
        self._backward_start = None
        forward_count = self._forward_count
        # each entry's request: "write" when something reads or keeps it
        entry_reqs = ["write" if needed else "null" for needed in map(
            any, zip(read_count, persistent, external))]
        # one context for every call, its fields set per node (making one per node was a tenth
        # of a long graph's lay-out); a kernel that keeps it gets it to itself: a new one follows
        context = BindContext.__new__(BindContext)
        context.plan = run_plan
        unshared = sys.getrefcount(context)
        # in a graph of float32 and float64 arrays only, an op's map call is its kernel: bind
        # makes it, without the kernel function and its context
        map_calls = present_dtypes <= MAP_CALL_DTYPES
        for position, (node, layout) in enumerate(zip(op_nodes, node_layouts)):
            num_outputs = layout.num_outputs
            if position == forward_count:
                self._backward_start = len(run_plan)
            outs = op_outputs[position]
            if map_calls and layout.map_call is not None:
                call_starts.append(len(run_plan))
                append, map_name, s0, s1 = layout.map_call
                ins, e = kernel_inputs[position], outs[0]
                try:
                    if len(ins) == 1:
                        append(run_plan, map_name, arrays[ins[0]], arrays[e], entry_reqs[e],
                               node.op.label(node.name), s0, s1)
                    else:
                        append(run_plan, map_name, *[arrays[i] for i in ins], arrays[e], entry_reqs[e],
                               node.op.label(node.name), s0, s1)
                except MXNetError:
                    raise
                except _KERNEL_REFUSALS as err:
                    raise _refusal(node, err) from err
                continue
            workspace = None
            if len(outs) > num_outputs:
                workspace = arrays[outs[-1]]
                outs = outs[:num_outputs]
            if num_outputs == 1:
                e = outs[0]
                out_arrays, req = [arrays[e]], [entry_reqs[e]]
            else:
                out_arrays, req = [arrays[e] for e in outs], [entry_reqs[e] for e in outs]
            kernel = node.op.kernel
            if kernel is None:
                raise BindError(f"operator {node.op.name} ('{node.name}') has no kernel")
            call_starts.append(len(run_plan))
            ins = kernel_inputs[position]
            # (the layout loop above parsed every op node's parameters)
            context.node, context.params, context.outputs, context.req, context.workspace = (
                node, node._params, out_arrays, req, workspace)
            context.inputs = [arrays[ins[0]]] if len(ins) == 1 else [arrays[e] for e in ins]
            try:
                kernel(context)
            except MXNetError:
                raise
            except _KERNEL_REFUSALS as err:
                raise _refusal(node, err) from err
            if sys.getrefcount(context) != unshared:
                context = BindContext.__new__(BindContext)
                context.plan = run_plan
        call_starts.append(len(run_plan))
        # what the monitor and the profiler ask of the calls, made when they first ask
        self._calls_made = (op_nodes, node_layouts, call_starts, forward_count, kernel_inputs, op_outputs,
                            arrays, read_count, persistent, external)
        self._node_calls_list = self._call_nodes_list = None
        if self._backward_start is None:
            self._backward_start = len(run_plan)
        backward_inputs = op_inputs[forward_count:]
        forward_entries = {e for outs in op_outputs[:forward_count] for e in outs} if backward_inputs else ()
        self._backward_reads_forward = any(e in forward_entries for ins in backward_inputs for e in ins)
        self._plan = run_plan
        self.outputs = [arrays[index.start[id(n)] + i] for n, i in self._symbol._outputs]

    @property
    def _entry_meta(self):
        """(label, shape, dtype) of each entry, for the memory plan's pictures (debug_str,
        visualization)."""
        return list(zip(self._entry_labels, self._entry_shapes, self._entry_dtypes))

    @property
    def _node_calls(self):
        """(first call, end call, whether forward, node, its input arrays, its computed outputs)
        of each op node, for the monitor callback."""
        if self._node_calls_list is None:
            (op_nodes, node_layouts, call_starts, forward_count, kernel_inputs, op_outputs, arrays,
             read_count, persistent, external) = self._calls_made
            node_calls = []
            for position, (node, layout) in enumerate(zip(op_nodes, node_layouts)):
                computed = [(i, arrays[e]) for i, e in enumerate(op_outputs[position][:layout.num_outputs])
                            if read_count[e] or persistent[e] or external[e]]
                node_calls.append((call_starts[position], call_starts[position + 1],
                                   position < forward_count, node,
                                   [arrays[e] for e in kernel_inputs[position]], computed))
            self._node_calls_list = node_calls
        return self._node_calls_list

    @property
    def _call_nodes(self):
        """(operator, node name) of each plan call, for the profiler."""
        if self._call_nodes_list is None:
            op_nodes, _, call_starts = self._calls_made[:3]
            self._call_nodes_list = [(node.op.name, node.name) for position, node in enumerate(op_nodes)
                                     for _ in range(call_starts[position], call_starts[position + 1])]
        return self._call_nodes_list

    # -- running -------------------------------------------------------------------------------

    def set_monitor_callback(self, callback, monitor_all=False):
        """Call callback(name, array) with every output an operator computes, as forward and
        backward run (MXNet's executor monitor); monitor_all adds each operator's inputs before
        it runs, named '<node>_<input>'.  Names are '<node>_<output>' ('fc1_output', and
        'fc1_backward_output0' for backward nodes); the array is the executor's own buffer, valid
        during the call.  None removes the callback.
        (MXNet passes the name as bytes and the array as a C handle.)"""
        if callback is not None and self._fused:
            self._unfuse()
        self._monitor = None if callback is None else (callback, bool(monitor_all))

    def _run_monitored(self, end, is_train):
        """Run the forward (end >= 0) or the backward (end < 0) pass node by node, reporting each
        node's arrays to the monitor callback."""
        callback, monitor_all = self._monitor
        for first, last, is_forward, node, inputs, outputs in self._node_calls:
            if is_forward != (end >= 0):
                continue
            if monitor_all:
                names = node.op.input_names(node.params) + node.op.aux_names(node.params)
                for name, array in zip(names, inputs):
                    callback(f"{node.name}_{name}", array)
            self._plan.run(first, last, is_train)
            for index, array in outputs:
                callback(_monitor_name(node, index), array)

    def _run(self, begin, end, is_train):
        try:
            if self._monitor is not None:
                self._run_monitored(end, is_train)
            elif _profiler.recording():
                _profiler.run_recorded(self._plan, self._call_nodes, begin, end, is_train,
                                       "backward" if begin == self._backward_start else "forward")
            else:
                self._plan.run(begin, end, is_train)
        except _runner.KernelError as err:
            raise MXNetError(f"Error in operator {err}") from None

    def forward(self, is_train=False, **kwargs):
        """Run the forward pass; keyword arrays are copied into the matching arguments first."""
        for name, value in kwargs.items():
            if name not in self.arg_dict:
                raise MXNetError(f"forward: {name!r} is not an argument; arguments are {self._arg_names}")
            target = self.arg_dict[name]
            value = np.asarray(value)
            if value.shape != target.shape:
                raise MXNetError(f"forward: {name!r} has shape {value.shape}, the executor was bound "
                                 f"with {target.shape}; use reshape() for new shapes")
            target[...] = value
        if is_train and self._fused_batch_stats:
            self._unfuse()
        if is_train:
            self._plan.set_seed(_random.next_seed())
        self._run(0, self._backward_start, bool(is_train))
        self._forward_done = True
        return self.outputs

    def backward(self, out_grads=None, is_train=True):
        """Run the backward pass of the last forward; out_grads (a list, or a dict by output
        name) gives the head gradients of non-loss outputs."""
        if not self._forward_done and self._backward_reads_forward:
            raise MXNetError(
                "backward() needs a forward() first: no forward pass has run since the executor was "
                "bound or since the last backward(), so the values backward reads are not there; "
                "call forward(is_train=True) before each backward()")
        if isinstance(out_grads, dict):
            out_grads = [out_grads.get(name) for name in self._symbol.list_outputs()]
        elif out_grads is not None and not isinstance(out_grads, (list, tuple)):
            out_grads = [out_grads]
        needed = [i for i, a in enumerate(self._head_grad_arrays) if a is not None]
        if needed:
            if out_grads is None:
                raise MXNetError(
                    f"backward: output {self._symbol.list_outputs()[needed[0]]!r} is not a loss, so "
                    f"backward needs out_grads (one array per output)")
            if len(out_grads) != len(self._head_grad_arrays):
                raise MXNetError(f"backward: {len(out_grads)} out_grads for "
                                 f"{len(self._head_grad_arrays)} outputs")
            for i in needed:
                grad = np.asarray(out_grads[i])
                if grad.shape != self._head_grad_arrays[i].shape:
                    raise MXNetError(f"backward: out_grads[{i}] has shape {grad.shape}, output "
                                     f"{self._symbol.list_outputs()[i]!r} has {self._head_grad_arrays[i].shape}")
                self._head_grad_arrays[i][...] = grad
        self._run(self._backward_start, -1, bool(is_train))
        self._forward_done = False

    # -- views -----------------------------------------------------------------------------------

    @property
    def arg_arrays(self):
        """The argument arrays, in ``list_arguments`` order."""
        return [self.arg_dict[n] for n in self._arg_names]

    @property
    def grad_arrays(self):
        """The gradient arrays, in ``list_arguments`` order (None where no gradient is computed)."""
        return [self.grad_dict[n] for n in self._arg_names]

    @property
    def aux_arrays(self):
        """The auxiliary-state arrays, in ``list_auxiliary_states`` order."""
        return [self.aux_dict[n] for n in self._aux_names]

    @property
    def output_dict(self):
        """The outputs by name (``list_outputs``)."""
        return dict(zip(self._symbol.list_outputs(), self.outputs))

    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        """Copy values into the bound argument and auxiliary arrays (shapes must match)."""
        for params, targets, what in ((arg_params, self.arg_dict, "argument"),
                                      (aux_params or {}, self.aux_dict, "auxiliary state")):
            for name, value in params.items():
                if name not in targets:
                    if allow_extra_params:
                        continue
                    raise MXNetError(f"copy_params_from: {name!r} is not an {what} of the executor")
                value = np.asarray(value)
                if value.shape != targets[name].shape:
                    raise MXNetError(f"copy_params_from: {what} {name!r} has shape {value.shape}, "
                                     f"expected {targets[name].shape}")
                targets[name][...] = value

    def reshape(self, partial_shaping=False, allow_up_sizing=False, **kwargs):
        """A new executor for new input shapes that shares this one's parameter arrays."""
        arg_shapes, _, aux_shapes = self._symbol.infer_shape(
            **{n: a.shape for n, a in self.arg_dict.items() if n not in kwargs}, **kwargs)
        if arg_shapes is None:
            raise MXNetError(f"reshape: cannot infer every shape from {kwargs}")
        args, grads = {}, {}
        for name, shape in zip(self._arg_names, arg_shapes):
            old = self.arg_dict[name]
            same = old.shape == tuple(shape)
            if not same and name not in kwargs and not partial_shaping:
                raise MXNetError(f"reshape: the shape of {name!r} changes from {old.shape} to "
                                 f"{tuple(shape)}; pass partial_shaping=True to allow it")
            args[name] = old if same else np.zeros(shape, old.dtype).view(NDArray)
            grad = self.grad_dict[name]
            grads[name] = None if grad is None else (grad if same else np.zeros(shape, grad.dtype).view(NDArray))
        aux = {}
        for name, shape in zip(self._aux_names, aux_shapes):
            if self.aux_dict[name].shape != tuple(shape):
                raise MXNetError(f"reshape: auxiliary state {name!r} would change shape")
            aux[name] = self.aux_dict[name]
        return Executor(self._symbol, self._ctx, args, grads, self._grad_req, aux)

    # -- reporting -------------------------------------------------------------------------------

    def memory_stats(self):
        """Bytes of the arena (planned), of all intermediate buffers (naive), and of the most
        buffers live at one moment (lower bound: an in-place chain counts as one buffer;
        peak_live_bytes counts an op's input and output separately even when they share)."""
        return {"planned_bytes": int(self._memory["planned_bytes"]),
                "naive_bytes": int(self._memory["naive_bytes"]),
                "lower_bound_bytes": int(self._memory["lower_bound_bytes"]),
                "peak_live_bytes": int(self._memory["entry_peak_bytes"]),
                "num_kernel_calls": len(self._plan)}

    def plot_memory(self, path=None, title=None):
        """Draw the memory plan as a timeline (needs matplotlib); see
        :func:`cysym.visualization.plot_memory`, which this calls."""
        from .visualization import plot_memory
        return plot_memory(self, path, title)

    def debug_str(self):
        """The symbol's debug_str, then the memory plan: one line per planned buffer."""
        lines = [self._symbol.debug_str().rstrip("\n"), "", "Memory plan (one arena):",
                 f"{'buffer':<40} {'shape':<20} {'bytes':>12} {'offset':>12}  shares with"]
        offsets = self._memory["offsets"]
        storage = self._storage_of
        by_storage = {}
        for e, (label, shape, dtype) in enumerate(self._entry_meta):
            if not self._external[e] and storage is not None:
                by_storage.setdefault(int(storage[e]), []).append(label)
        for e, (label, shape, dtype) in enumerate(self._entry_meta):
            if self._external[e]:
                continue
            sharing = [] if storage is None else [x for x in by_storage[int(storage[e])] if x != label]
            lines.append(f"{label:<40} {str(shape):<20} {self._entry_bytes[e]:>12} {int(offsets[e]):>12}  "
                         f"{', '.join(sharing) if sharing else '-'}")
        stats = self.memory_stats()
        lines.append(f"Total {stats['planned_bytes']} bytes planned; naive sum "
                     f"{stats['naive_bytes']} bytes; peak-live lower bound {stats['lower_bound_bytes']} bytes; "
                     f"{stats['num_kernel_calls']} kernel calls ({self._backward_start} forward)")
        return "\n".join(lines) + "\n"


# -- entry points -------------------------------------------------------------------------------

def _context(ctx):
    ctx = ctx if ctx is not None else current_context()
    if not isinstance(ctx, Context) or ctx.device_type != "cpu":
        raise BindError(f"cysym runs on the CPU only; got context {ctx!r}")
    return ctx


def _refuse_dynamic_shapes(symbol):
    """An error naming the first node whose output shape depends on input values."""
    nodes = symbol._nodes()
    if not any(op.dynamic_shape for op in operators_of(nodes)):
        return
    for node in nodes:
        if node.op is not None and node.op.dynamic_shape:
            raise BindError(f"Error in operator {node.name}: {node.op.label(node.name)} cannot be "
                            f"bound: {node.op.dynamic_shape}, and cysym plans the shape of every "
                            f"array when it binds")


def bind(symbol, ctx, args, args_grad=None, grad_req="write", aux_states=None, shared_exec=None):
    """Bind the symbol to the given arrays (used in place, not copied)."""
    _refuse_dynamic_shapes(symbol)
    ctx = _context(ctx)
    arg_names = symbol.list_arguments()
    aux_names = symbol.list_auxiliary_states()
    args = _as_array_dict(args, arg_names, "args")
    grads = _as_array_dict(args_grad, arg_names, "args_grad", allow_missing=True)
    aux = _as_array_dict(aux_states if aux_states is not None else ([] if not aux_names else None),
                         aux_names, "aux_states")
    reqs = _normalize_grad_req(grad_req, arg_names)
    if args_grad is None:
        reqs = {n: "null" for n in arg_names}
    with gc_paused(), _allocation_failures_as_bind_errors():
        return Executor(symbol, ctx, args, grads, reqs, aux)


@contextlib.contextmanager
def _allocation_failures_as_bind_errors():
    """Shapes within the bounds inference checks may still need more memory than there is."""
    try:
        yield
    except MemoryError as err:
        raise BindError(f"cannot allocate the arrays this graph needs: {err}") from None


def simple_bind(symbol, ctx, grad_req="write", type_dict=None, shared_exec=None, shapes=None):
    """Infer every shape and dtype from the given input shapes, allocate all arrays, and bind."""
    with gc_paused(), _allocation_failures_as_bind_errors():
        return _simple_bind(symbol, ctx, grad_req, type_dict, shared_exec, shapes)


def _simple_bind(symbol, ctx, grad_req, type_dict, shared_exec, shapes):
    _refuse_dynamic_shapes(symbol)
    ctx = _context(ctx)
    shapes = dict(shapes or {})
    arg_nodes, aux_nodes = symbol._variables()
    arg_names = [n.name for n in arg_nodes]
    # list_inputs()'s names, from the variables rather than a pass over every node
    inputs = {n.name for n in arg_nodes + aux_nodes}
    for name in list(shapes) + list(type_dict or {}):
        if name not in inputs:
            raise BindError(f"simple_bind: {name!r} is not an input of the symbol; inputs are "
                            f"{symbol.list_inputs()}")
    arg_shapes, aux_shapes, shape_inference = unresolved_shapes(
        symbol, (arg_nodes, aux_nodes), shapes, "simple_bind")
    if type_dict is None:
        # as MXNet: float32 for every argument without its own __dtype__; else infer from type_dict
        types = {n.name: np.float32 for n in arg_nodes if "__dtype__" not in n.attrs}
    else:
        types = dict(type_dict)
    (arg_types, _, aux_types), type_inference = bind_types(
        symbol, (arg_nodes, aux_nodes), {k: v for k, v in types.items() if k in inputs})
    if arg_types is None:
        raise BindError("simple_bind: cannot infer every dtype; give type_dict")
    reqs = _normalize_grad_req(grad_req, arg_names)
    shared = shared_exec.arg_dict if shared_exec is not None else {}
    args, grads = {}, {}
    for name, shape, dtype in zip(arg_names, arg_shapes, arg_types):
        reuse = shared.get(name)
        if reuse is not None and reuse.shape == tuple(shape) and reuse.dtype == dtype:
            args[name] = reuse
            grads[name] = shared_exec.grad_dict.get(name)
        else:
            args[name] = np.zeros(shape, dtype).view(NDArray)
            # integer arguments never get a gradient
            grads[name] = (np.zeros(shape, dtype).view(NDArray)
                           if reqs[name] != "null" and _is_float(dtype) else None)
    aux = {n.name: np.zeros(shape, dtype).view(NDArray)
           for n, shape, dtype in zip(aux_nodes, aux_shapes, aux_types)}
    inferred = (shape_inference, type_inference)
    if shared_exec is not None:
        for name in aux:
            reuse = shared_exec.aux_dict.get(name)
            if reuse is not None and reuse.shape == aux[name].shape:
                if reuse.dtype != aux[name].dtype:
                    inferred = None     # the executor infers from the arrays it is given
                aux[name] = reuse
    return Executor(symbol, ctx, args, grads, reqs, aux, inferred)
