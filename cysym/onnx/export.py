"""cysym graph -> ONNX model: walks the graph's nodes in the order of its JSON form
(sym.tojson()) and asks the exporter table (export_ops.EXPORTERS) for each operator's ONNX nodes."""
import contextlib
import logging

import numpy as np

from ..base import MXNetError
from .export_ops import EXPORTERS, LOSS_HEADS, Unsupported, refusal

_LOG = logging.getLogger(__name__)

__all__ = ["export_model", "to_onnx", "graph_inputs", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17
MIN_OPSET = 13
BATCH_DIM = "batch"


def require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("cysym.onnx needs the onnx package: pip install 'cysym[onnx]' "
                          "(onnx>=1.14, onnxruntime>=1.16)") from None
    return onnx


def _load_inputs(sym, params):
    """(Symbol, {name: ndarray}) from MXNet's accepted forms: objects or file paths."""
    from .. import ndarray, symbol
    if isinstance(sym, str):
        sym = symbol.load(sym)
    if not isinstance(sym, symbol.Symbol):
        raise ValueError("Input sym and params should either be files or objects")
    if isinstance(params, str):
        params = ndarray.load(params)
        if not isinstance(params, dict):
            raise MXNetError("export_model: the params file holds a list of arrays, not named "
                             "parameters")
    elif isinstance(params, (list, tuple)) and len(params) == 2:
        params = {**params[0], **params[1]}
    elif params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValueError("Input sym and params should either be files or objects")
    arrays = {}
    for key, value in params.items():
        name = key.split(":", 1)[1] if key.startswith(("arg:", "aux:")) else key
        arrays[name] = np.asarray(value)
    return sym, arrays


class _Graph:
    """The ONNX graph being built: nodes, initializers and unique value names."""

    def __init__(self, onnx, opset):
        self.onnx = onnx
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self.used_names = set()
        self.in_subgraph = False

    def fresh(self, base):
        name, counter = base, 0
        while name in self.used_names:
            counter += 1
            name = f"{base}__{counter}"
        self.used_names.add(name)
        return name

    def add_initializer(self, name, array):
        """The graph's initializer; inside a subgraph a Constant node (onnx.checker does not
        let a subgraph read the outer graph's initializers)."""
        tensor = self.onnx.numpy_helper.from_array(np.array(array, order="C"), name)
        if self.in_subgraph:
            self.nodes.append(self.onnx.helper.make_node("Constant", [], [name], value=tensor,
                                                         name=self.fresh(f"{name}/Constant")))
        else:
            self.initializers.append(tensor)


class NodeContext:
    """What one operator's exporter sees: its parameters, ONNX input/output names, the shapes
    and dtypes cysym inferred, and functions adding ONNX nodes and constants."""

    def __init__(self, graph, name, op, params, inputs, outputs, in_entries, out_entries, info):
        self.graph = graph
        self.name = name
        self.op = op
        self.params = params
        self.inputs = inputs
        self.outputs = outputs
        self._in_entries = in_entries
        self._out_entries = out_entries
        self._info = info

    @property
    def opset(self):
        return self.graph.opset

    def in_shape(self, k=0):
        return self._info.shapes[self._in_entries[k]]

    def out_shape(self, k=0):
        return self._info.shapes[self._out_entries[k]]

    def in_dtype(self, k=0):
        return self._info.dtypes[self._in_entries[k]]

    def out_dtype(self, k=0):
        return self._info.dtypes[self._out_entries[k]]

    def out_batch_axes(self, k=0):
        """Axes of output k that change with the batch size (empty unless dynamic)."""
        return self._info.batch_axes.get(self._out_entries[k], ())

    def in_batch_axes(self, k=0):
        return self._info.batch_axes.get(self._in_entries[k], ())

    def out_shape_value(self, k=0):
        """A 1-D int64 ONNX value holding output k's shape: constant, or computed from the
        batch size where a dimension follows it (dimension = a * batch + b, a and b read from
        the shapes at two batch sizes)."""
        shape, axes = self.out_shape(k), self.out_batch_axes(k)
        if not axes:
            return self.ints(shape, "shape")
        info = self._info
        name, axis = info.batch_input
        batch = self.emit1("Slice", [self.emit1("Shape", [name]), self.ints([axis]),
                                     self.ints([axis + 1])])
        probe = info.probe_shapes[self._out_entries[k]]
        pieces = []
        for axis, size in enumerate(shape):
            if axis not in axes:
                pieces.append(self.ints([size], "dim"))
                continue
            slope = probe[axis] - size
            offset = size - slope * info.batch_size
            piece = batch if slope == 1 else self.emit1("Mul", [batch, self.ints([slope])])
            pieces.append(piece if offset == 0 else self.emit1("Add", [piece, self.ints([offset])]))
        return self.emit1("Concat", pieces, axis=0)

    @contextlib.contextmanager
    def subgraph_nodes(self):
        """The nodes emitted inside the block, gathered apart from the graph's (a Loop's body,
        which reads the graph's values by name), its constants Constant nodes among them."""
        outer, self.graph.nodes = self.graph.nodes, []
        self.graph.in_subgraph = True
        try:
            yield self.graph.nodes
        finally:
            self.graph.nodes = outer
            self.graph.in_subgraph = False

    def fail(self, reason):
        raise Unsupported(f"{self.op}(name='{self.name}'): {reason}")

    def emit(self, op_type, inputs, outputs=None, num_outputs=1, **attrs):
        """Add an ONNX node; returns its output names (fresh ones unless `outputs` is given)."""
        if outputs is None:
            outputs = [self.graph.fresh(f"{self.name}_{op_type.lower()}") for _ in range(num_outputs)]
        self.graph.nodes.append(self.graph.onnx.helper.make_node(
            op_type, list(inputs), list(outputs), name=self.graph.fresh(f"{self.name}/{op_type}"),
            **{k: v for k, v in attrs.items() if v is not None}))
        return list(outputs)

    def emit1(self, op_type, inputs, output=None, **attrs):
        """emit() of a one-output node: its output name."""
        return self.emit(op_type, inputs, None if output is None else [output], **attrs)[0]

    def const(self, value, dtype=None, name="const"):
        """An initializer holding `value` (dtype: numpy dtype, default that of the value)."""
        array = np.asarray(value, dtype=dtype)
        result = self.graph.fresh(f"{self.name}_{name}")
        self.graph.add_initializer(result, array)
        return result

    def ints(self, values, name="ints"):
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), name=name)

    def scalar(self, value, like=0):
        """A 0-d constant of input `like`'s dtype (MXNet's scalar ops compute in the data dtype)."""
        return self.const(np.asarray(value).astype(self.in_dtype(like)), name="scalar")


class _Info:
    """Inferred shapes and dtypes of every entry; when dynamic, the axes that follow the batch
    size, the shapes inferred with one more sample (probe_shapes) and the input (name, axis)
    giving it."""

    def __init__(self, shapes, dtypes, batch_axes=None, probe_shapes=None, batch_input=None,
                 batch_size=None):
        self.shapes, self.dtypes = shapes, dtypes
        self.batch_axes, self.probe_shapes = batch_axes or {}, probe_shapes or {}
        self.batch_input, self.batch_size = batch_input, batch_size


def _graph(sym):
    """(nodes, node_ops, heads): the nodes and heads as sym.tojson() lists them (nodes as
    {"op", "name", "inputs": [(node index, output index, 0)]}), and each node's (OpDef or None,
    parsed params); read from the graph, not written as JSON and parsed back (that took half
    the time of exporting a large network)."""
    graph_nodes = sym._nodes()
    index = {id(node): i for i, node in enumerate(graph_nodes)}
    nodes = [{"op": node.op.name if node.op else "null", "name": node.name,
              "inputs": [(index[id(src)], k, 0) for src, k in node.inputs]}
             for node in graph_nodes]
    node_ops = [(node.op, node.params) for node in graph_nodes]
    heads = [(index[id(node)], k, 0) for node, k in sym._outputs]
    return nodes, node_ops, heads


def _labels(nodes, node_ops):
    """Indices of variables read only as labels of loss heads (not inputs of the exported model)."""
    label_uses, other_uses = set(), set()
    for node, (op, _) in zip(nodes, node_ops):
        for position, (src, _, _) in enumerate(node["inputs"]):
            if op is not None and op.name in LOSS_HEADS and position > 0:
                label_uses.add(src)
            else:
                other_uses.add(src)
    return {i for i in label_uses - other_uses if nodes[i]["op"] == "null"}


def _input_nodes(nodes, node_ops, param_names):
    """(indices of the model's input variables, indices of the labels left out)."""
    labels = _labels(nodes, node_ops)
    inputs = [i for i, node in enumerate(nodes)
              if node["op"] == "null" and node["name"] not in param_names and i not in labels]
    return inputs, labels


def graph_inputs(sym, param_names):
    """Names of the exported model's inputs, in order: the variables without a value in
    param_names, labels of loss heads left out (what in_shapes lists)."""
    nodes, node_ops, _ = _graph(sym)
    inputs, _ = _input_nodes(nodes, node_ops, set(param_names))
    return [nodes[i]["name"] for i in inputs]


def _entries(nodes, node_ops):
    """(node index, output index) of every visible output, in get_internals() order."""
    entries = []
    for i, (op, params) in enumerate(node_ops):
        count = 1 if op is None else op.num_visible_outputs(params)
        entries.extend((i, k) for k in range(count))
    return entries


def _infer(sym, entries, shapes, dtypes):
    internals = sym.get_internals()
    _, out_shapes, _ = internals.infer_shape(**shapes)
    _, out_types, _ = internals.infer_type(**dtypes)
    if out_shapes is None or out_types is None:
        raise MXNetError(f"export_model: cannot infer every shape from the input shapes {shapes}")
    return dict(zip(entries, out_shapes)), dict(zip(entries, (np.dtype(t) for t in out_types)))


def _refuse(opset, unsupported):
    """The one error naming every node that cannot be exported, if there is any."""
    if unsupported:
        raise MXNetError(f"export_model: cannot export to ONNX (opset {opset}): "
                         f"{'; '.join(unsupported)}")


def to_onnx(sym, params, in_shapes, in_types=np.float32, dynamic=False, dynamic_input_shapes=None,
            opset_version=None, verbose=False):
    """The onnx.ModelProto of `sym` with `params` ({name: array}); see cysym.onnx.export_model."""
    onnx = require_onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise MXNetError(f"export_model: opset_version {opset} is not supported (from {MIN_OPSET} "
                         f"to {onnx.defs.onnx_opset_version()})")
    nodes, node_ops, heads = _graph(sym)
    input_nodes, labels = _input_nodes(nodes, node_ops, params)
    input_names = [nodes[i]["name"] for i in input_nodes]
    in_shapes = [] if in_shapes is None else [tuple(int(d) for d in s) for s in in_shapes]
    if len(in_shapes) != len(input_nodes):
        raise MXNetError(f"export_model: {len(in_shapes)} input shapes given for the "
                         f"{len(input_nodes)} inputs {input_names}")
    in_types = list(in_types) if isinstance(in_types, (list, tuple)) else [in_types] * len(in_shapes)
    if len(in_types) != len(in_shapes):
        raise MXNetError("export_model: the lengths of in_types and in_shapes must be equal")
    in_types = [np.dtype(t) for t in in_types]

    entries = _entries(nodes, node_ops)
    known_shapes = {name: value.shape for name, value in params.items()}
    known_types = {name: value.dtype for name, value in params.items()}
    known_shapes.update(zip(input_names, in_shapes))
    known_types.update(zip(input_names, in_types))
    all_names = {node["name"] for node in nodes if node["op"] == "null"}
    try:
        shapes, dtypes = _infer(sym, entries,
                                {k: v for k, v in known_shapes.items() if k in all_names},
                                {k: v for k, v in known_types.items() if k in all_names})
    except MXNetError:
        # operators whose output shapes depend on the values (boolean_mask) have no exporter:
        # name them rather than the shapes they leave unknown
        _refuse(opset, [refusal(op.name, node["name"]) for node, (op, _) in zip(nodes, node_ops)
                        if op is not None and op.name not in EXPORTERS])
        raise

    if dynamic_input_shapes is None:
        dynamic_input_shapes = [(None,) * len(s) for s in in_shapes]
    declared = [tuple(s) for s in dynamic_input_shapes] if dynamic else in_shapes
    if [len(s) for s in declared] != [len(s) for s in in_shapes]:
        raise MXNetError(f"export_model: dynamic_input_shapes {dynamic_input_shapes} do not have "
                         f"the ranks of in_shapes {in_shapes}")
    info = _Info(shapes, dtypes)
    # an input's first dynamic axis is its batch axis (MXNet's default: every axis dynamic)
    batch_axis = {name: dyn.index(None) for name, dyn in zip(input_names, declared)
                  if dynamic and None in dyn}
    if batch_axis:
        # which dimensions follow the batch size: infer again with one more sample in each input
        probe = dict(known_shapes)
        for name, axis in batch_axis.items():
            shape = known_shapes[name]
            probe[name] = shape[:axis] + (shape[axis] + 1,) + shape[axis + 1:]
        try:
            other, _ = _infer(sym, entries, {k: v for k, v in probe.items() if k in all_names},
                              {k: v for k, v in known_types.items() if k in all_names})
        except MXNetError as err:
            raise MXNetError(f"export_model: dynamic=True, but the graph does not take another "
                             f"batch size ({err}); export it with dynamic=False") from None
        batch_axes = {}
        for entry, shape in shapes.items():
            axes = tuple(a for a, (d1, d2) in enumerate(zip(shape, other[entry])) if d1 != d2)
            if axes:
                batch_axes[entry] = axes
        first = next(iter(batch_axis.items()))
        info = _Info(shapes, dtypes, batch_axes, other, first,
                     known_shapes[first[0]][first[1]])

    graph = _Graph(onnx, opset)
    value_names = {}     # (node index, output index) -> ONNX value name
    inputs_proto = []
    unsupported = []
    for name in list(params) + [nodes[i]["name"] for i in input_nodes]:
        graph.used_names.add(name)
    for i, node in enumerate(nodes):
        op, node_params = node_ops[i]
        name = node["name"]
        if op is None:
            if i in labels:
                continue
            if name in params:
                value_names[(i, 0)] = name
                graph.add_initializer(name, params[name])
                continue
            j = input_nodes.index(i)
            dims = [BATCH_DIM if a == batch_axis.get(name) else (f"{name}_dim{a}" if d is None else d)
                    for a, d in enumerate(declared[j])]
            value_names[(i, 0)] = name
            inputs_proto.append(onnx.helper.make_tensor_value_info(
                name, onnx.helper.np_dtype_to_tensor_dtype(in_types[j]), dims))
            continue
        if verbose:
            _LOG.info("Converting idx: %d, op: %s, name: %s", i, node["op"], name)
        # hidden outputs (BatchNorm's batch mean, Pooling's mask) are not in the inference model
        count = op.num_visible_outputs(node_params)
        outputs = [graph.fresh(name if k == 0 else f"{name}_output{k}") for k in range(count)]
        value_names.update({(i, k): outputs[k] for k in range(count)})
        exporter = EXPORTERS.get(op.name)
        if exporter is None:
            unsupported.append(refusal(op.name, name))
            continue
        in_entries = [(src, k) for src, k, _ in node["inputs"]]
        hidden = [e for e in in_entries if e not in value_names and e[0] not in labels]
        if hidden:
            unsupported.append(f"{op.name}(name='{name}'): reads a hidden output of "
                               f"{nodes[hidden[0][0]]['name']}")
            continue
        try:
            context = NodeContext(graph, name, op.name, node_params,
                                  [value_names.get(e, "") for e in in_entries], outputs,
                                  in_entries, [(i, k) for k in range(count)], info)
            exporter(context)
        except Unsupported as err:
            unsupported.append(str(err))
    _refuse(opset, unsupported)

    outputs_proto = []
    for src, k, _ in heads:
        shape = shapes[(src, k)]
        axes = info.batch_axes.get((src, k), ())
        dims = [BATCH_DIM if a in axes else d for a, d in enumerate(shape)]
        outputs_proto.append(onnx.helper.make_tensor_value_info(
            value_names[(src, k)], onnx.helper.np_dtype_to_tensor_dtype(dtypes[(src, k)]), dims))
    # parameters no node reads (BatchNorm's gamma under fix_gamma) are left out
    read = {name for node in graph.nodes for name in node.input}
    read.update(output.name for output in outputs_proto)
    initializers = [tensor for tensor in graph.initializers if tensor.name in read]
    graph_proto = onnx.helper.make_graph(graph.nodes, "cysym_converted_model", inputs_proto,
                                         outputs_proto, initializer=initializers)
    model = onnx.helper.make_model(graph_proto, producer_name="cysym",
                                   opset_imports=[onnx.helper.make_opsetid("", opset)])
    # the oldest IR version the opset allows: ONNX Runtimes older than the onnx package read it
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    return model


def export_model(sym, params, in_shapes=None, in_types=np.float32, onnx_file_path="model.onnx",
                 verbose=False, dynamic=False, dynamic_input_shapes=None, run_shape_inference=False,
                 input_type=None, input_shape=None, opset_version=None):
    """The implementation of :func:`cysym.onnx.export_model` (documented there)."""
    onnx = require_onnx()
    if input_type is not None:
        in_types = input_type
    if input_shape is not None:
        in_shapes = input_shape
    sym, arrays = _load_inputs(sym, params)
    model = to_onnx(sym, arrays, in_shapes, in_types, dynamic=dynamic,
                    dynamic_input_shapes=dynamic_input_shapes, opset_version=opset_version,
                    verbose=verbose)
    if run_shape_inference:
        try:
            model = onnx.shape_inference.infer_shapes(model)
        except Exception:   # as MXNet: the model without inferred shapes is still right
            _LOG.info("Shape inference failed, original export is kept.")
    onnx.save_model(model, onnx_file_path)
    _LOG.info("Exported ONNX file %s saved to disk", onnx_file_path)
    return onnx_file_path
