"""MXNet's JSON graph format: writing it byte for byte as MXNet 1.9 does, and reading it
(from MXNet or from us) as untrusted input.

Layout (nnvm's JSONGraph):
  {"nodes": [{"op": "null" | <op name>, "name": str, "attrs": {str: str}, "inputs": [[node, output, version], ...]}, ...],
   "arg_nodes": [indices of variable nodes],
   "node_row_ptr": [cumulative output counts, one more than there are nodes],
   "heads": [[node, output, version], ...],
   "attrs": {"mxnet_version": ["int", 10901]}}
Nodes are topologically ordered (inputs before the node reading them).  Files from older
MXNet versions keep node attributes under "attr" and/or "param"; both are accepted, and their
legacy `_v1` layers load as the current operators (their aliases, which save as the current names).
"""
import json
import os

from ..base import JSONFormatError, MXNetError, dtype_from_code
from ..registry import find_op, unknown_operator_message
from ..shapes import MAX_ELEMENTS
from .graph import EntryIndex, Node, gc_paused
from .symbol import Symbol, split_variables

__all__ = ["to_json", "load_json", "load"]

MXNET_VERSION = 10901
MAX_NODES = 1_000_000
MAX_FILE_BYTES = 1 << 30
MAX_OUTPUTS_PER_NODE = 1 << 16   # a larger count is an absurd (or hostile) file, not a network
_INLINE_ARRAY_LIMIT = 10   # dmlc's writer breaks integer arrays longer than this over lines


class _Writer:
    """dmlc::JSONWriter's layout: ', ' between items, a newline and two spaces per open
    scope before each item of a multi-line scope."""

    def __init__(self):
        self.parts = []
        self.scopes = []

    def _item(self):
        scope = self.scopes[-1]
        if scope[1]:
            self.parts.append(", ")
        scope[1] += 1
        if scope[0]:
            self.parts.append("\n" + "  " * len(self.scopes))

    def begin(self, bracket, multi_line):
        self.parts.append(bracket)
        self.scopes.append([multi_line, 0])

    def end(self, bracket):
        multi_line, count = self.scopes.pop()
        if multi_line and count:
            self.parts.append("\n" + "  " * len(self.scopes))
        self.parts.append(bracket)

    def key(self, name):
        self._item()
        self.parts.append(json.dumps(name, ensure_ascii=False) + ": ")

    def item(self):
        self._item()

    def scalar(self, value):
        self.parts.append(json.dumps(value, ensure_ascii=False))

    def int_list(self, values, multi_line=False):
        self.begin("[", multi_line)
        for v in values:
            self.item()
            self.scalar(v)
        self.end("]")

    def entries(self, entries):
        self.begin("[", False)
        for entry in entries:
            self.item()
            self.int_list(entry)
        self.end("]")

    def string_map(self, mapping):
        self.begin("{", len(mapping) > 1)
        for k in sorted(mapping):
            self.key(k)
            self.scalar(mapping[k])
        self.end("}")


def to_json(symbol):
    """The symbol as MXNet 1.9's `tojson()` writes it (same bytes for the same graph)."""
    nodes = symbol._nodes()
    index = {id(n): i for i, n in enumerate(nodes)}
    w = _Writer()
    w.begin("{", True)
    w.key("nodes")
    w.begin("[", True)
    for node in nodes:
        w.item()
        w.begin("{", True)
        w.key("op")
        w.scalar(node.op.name if node.op else "null")
        w.key("name")
        w.scalar(node.name)
        if node.attrs:
            w.key("attrs")
            w.string_map(node.attrs)
        w.key("inputs")
        num_args = node.num_args()
        # MXNet marks inputs the operator mutates (auxiliary states) with version 1
        w.entries([[index[id(src)], i, int(k >= num_args and src.is_variable)]
                   for k, (src, i) in enumerate(node.inputs)])
        w.end("}")
    w.end("]")
    arg_nodes = [i for i, n in enumerate(nodes) if n.is_variable]
    row_ptr = [0]
    for node in nodes:
        row_ptr.append(row_ptr[-1] + node.num_outputs())
    w.key("arg_nodes")
    w.int_list(arg_nodes, len(arg_nodes) > _INLINE_ARRAY_LIMIT)
    w.key("node_row_ptr")
    w.int_list(row_ptr, len(row_ptr) > _INLINE_ARRAY_LIMIT)
    w.key("heads")
    w.entries([[index[id(n)], i, 0] for n, i in symbol._outputs])
    w.key("attrs")
    w.begin("{", False)
    w.key("mxnet_version")
    w.begin("[", False)
    w.item()
    w.scalar("int")
    w.item()
    w.scalar(MXNET_VERSION)
    w.end("]")
    w.end("}")
    w.end("}")
    return "".join(w.parts)


# -- reading --------------------------------------------------------------------------------

def _fail(source, message):
    return JSONFormatError(f"{source}: {message}")


def _reference(raw, defined, nodes, output_counts):
    """(node, output) of a well-formed [node, output, version] reference (what MXNet writes) to
    one of the first `defined` nodes, in as few steps as one can be checked (a file may have
    10^5); None for anything else, which _entry then examines."""
    if type(raw) is list and len(raw) == 3:
        node_index, output, version = raw
        if (type(node_index) is int and type(output) is int and type(version) is int
                and 0 <= node_index < defined and 0 <= output < output_counts[node_index]):
            return (nodes[node_index], output)
    return None


def _entry(source, raw, reader, k, defined, nodes, output_counts):
    """Validate the k-th [node, output(, version)] reference of `reader` ((position, name) of
    the node reading it, None for the heads) to an already defined node."""
    where = f"head {k}" if reader is None else f"node {reader[0]} ('{reader[1]}') input {k}"
    if (not isinstance(raw, list) or len(raw) not in (2, 3)
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)):
        raise _fail(source, f"{where}: expected [node, output, version], got {raw!r}")
    node_id, output = raw[0], raw[1]
    if not 0 <= node_id < defined:
        raise _fail(source, f"{where} refers to node {node_id}, which is not defined before it "
                            f"(dangling or cyclic reference)")
    src = nodes[node_id]
    if not 0 <= output < output_counts[node_id]:
        raise _fail(source, f"{where} refers to output {output} of node {node_id} ('{src.name}'), "
                            f"which has {output_counts[node_id]} output(s)")
    return (src, output)


def _node_attrs(source, raw, position, name):
    value = raw.get("attrs")
    if "attr" not in raw and "param" not in raw:
        # what MXNet 1.x writes: string attributes under "attrs" only, or none
        if value is None:
            return {}
        if type(value) is dict and all(type(v) is str for v in value.values()):
            return value
    attrs = {}
    for key in ("param", "attr", "attrs"):   # oldest first, so newer keys win
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise _fail(source, f"node {position} ('{name}'): '{key}' must be an object, got "
                                f"{type(value).__name__}")
        for k, v in value.items():
            if type(v) is not str:
                if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                    raise _fail(source, f"node {position} ('{name}'): attribute {k!r} must be a "
                                        f"string, got {v!r}")
                v = str(v)
            attrs[k] = v
    return attrs


# parameter values that a node's parse can share with the nodes of equal attributes (a Custom
# node's parameters hold its own CustomOpProp instance: never shared)
_PLAIN_VALUES = (int, float, str, bool, tuple, type(None))


def _op_facts(source, op_name, name, attrs, position):
    """(op, parsed params, (params, output names), (params, argument count), input count, the
    variadic parameter's value when it counts the inputs (else None), whether nodes of the same
    op and attributes may share them) of an operator node; errors name the node."""
    where = f"node {position} ('{name}')"
    op = find_op(op_name)
    if op is None or op.hidden:
        raise _fail(source, f"{where}: {unknown_operator_message(op_name)}")
    try:
        params = op.parse_params(attrs, name)
    except MXNetError as err:
        raise _fail(source, f"{where}: {err}") from None
    # Counts that size lists are checked before the lists are built, or a file claiming
    # num_args=10**9 would hang the loader.
    if (params.get("num_outputs") or 0) > MAX_OUTPUTS_PER_NODE:
        raise _fail(source, f"{where}: num_outputs={params['num_outputs']} is more than the "
                            f"{MAX_OUTPUTS_PER_NODE} allowed")
    try:
        num_args = len(op.input_names(params))
        expected = num_args + len(op.aux_names(params))
        output_names = op.output_names(params)
        if len(output_names) > MAX_OUTPUTS_PER_NODE:
            raise _fail(source, f"{where}: more than {MAX_OUTPUTS_PER_NODE} outputs")
    except MXNetError as err:
        raise _fail(source, f"{where}: {err}") from None
    variadic_count = params[op.variadic] if op.counts_inputs(params) else None
    shareable = all(type(v) in _PLAIN_VALUES for v in params.values())
    return op, params, (params, output_names), (params, num_args), expected, variadic_count, shareable


def _check_variable_attrs(source, attrs, position, name):
    """A variable's `__shape__` and `__dtype__` must be usable: checked here, so that a bad
    file is reported as such (with the node) rather than later by inference."""
    from ..infer import _to_shape
    from ..shapes import size_of
    where = f"node {position} ('{name}')"
    if "__shape__" in attrs:
        try:
            shape = _to_shape(attrs["__shape__"])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as err:
            raise _fail(source, f"{where}: bad __shape__ {attrs['__shape__'][:80]!r}: {err}") from None
        size = size_of(d for d in shape if d is not None)   # unknown (0) dimensions left out
        if size > MAX_ELEMENTS:
            raise _fail(source, f"{where}: __shape__ {attrs['__shape__'][:80]!r} has {size} elements, "
                                f"more than the {MAX_ELEMENTS} an array may have")
    if "__dtype__" in attrs:
        try:
            dtype_from_code(attrs["__dtype__"])
        except MXNetError as err:
            raise _fail(source, f"{where}: bad __dtype__: {err}") from None


def load_json(json_str, source="<json string>"):
    """The Symbol described by MXNet JSON text; JSONFormatError says what is wrong and where."""
    with gc_paused():
        return _load_json(json_str, source)


def _load_json(json_str, source):
    if not isinstance(json_str, (str, bytes, bytearray)):
        raise TypeError(f"load_json expects a string, got {type(json_str).__name__}")
    try:
        graph = json.loads(json_str)
    except json.JSONDecodeError as err:
        raise _fail(source, f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except (RecursionError, UnicodeDecodeError, ValueError) as err:
        raise _fail(source, f"not valid JSON: {err}") from None
    if not isinstance(graph, dict):
        raise _fail(source, f"expected a JSON object at the top level, got {type(graph).__name__}")
    raw_nodes, raw_heads = graph.get("nodes"), graph.get("heads")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise _fail(source, "'nodes' must be a non-empty list")
    if len(raw_nodes) > MAX_NODES:
        raise _fail(source, f"{len(raw_nodes)} nodes is more than the {MAX_NODES} allowed")
    if not isinstance(raw_heads, list) or not raw_heads:
        raise _fail(source, "'heads' must be a non-empty list")
    nodes, names, output_counts = [], {}, []
    # the graph's entries numbered in file order as the nodes are made (EntryIndex.of_loaded):
    # each node's first entry, and the entry ids each reads
    firsts, reads, entry_count = [], [], 0
    # whether the graph's depth-first walk (Symbol._nodes) meets the nodes in file order, as it
    # does in MXNet's files: then the symbol need not walk them (see _walk_block_start)
    block_starts = []
    # and then its variables (Symbol._variables): the variable nodes, and the inputs that
    # operators read past their arguments (auxiliary states)
    variables, past_arguments = [], []
    # what an operator's declaration says of a node, per operator and attributes: the nodes
    # alike (every relu of a network) share their parsed parameters, as copy_graph's twins do
    op_facts = {}
    built = Node.built
    for position, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            raise _fail(source, f"node {position}: expected an object, got {type(raw).__name__}")
        op_name, name, raw_inputs = raw.get("op"), raw.get("name"), raw.get("inputs", [])
        if not isinstance(op_name, str) or not isinstance(name, str):
            raise _fail(source, f"node {position}: 'op' and 'name' must be strings")
        if names.setdefault(name, position) != position:
            raise _fail(source, f"node {position} ('{name}'): duplicate name; node {names[name]} "
                                f"has the same name")
        if not isinstance(raw_inputs, list):
            raise _fail(source, f"node {position} ('{name}'): 'inputs' must be a list")
        # the node owns its attributes: json.loads made them for it (or _node_attrs did).  An
        # operator's "attrs" object is checked by _node_attrs only when its attributes are not
        # those of an earlier node (op_facts), whose values were all strings.
        attrs = raw.get("attrs")
        if attrs is None and "attr" not in raw and "param" not in raw:
            attrs, checked = {}, True       # _node_attrs' answer without its call (a chain's relus)
        else:
            checked = op_name == "null" or type(attrs) is not dict or "attr" in raw or "param" in raw
            if checked:
                attrs = _node_attrs(source, raw, position, name)
        if op_name == "null":
            if raw_inputs:
                raise _fail(source, f"node {position} ('{name}'): a variable cannot have inputs")
            if attrs:
                _check_variable_attrs(source, attrs, position, name)
            variables.append(built(None, name, attrs, []))
            nodes.append(variables[-1])
            output_counts.append(1)
            firsts.append(entry_count)
            reads.append([])
            block_starts.append(position)
            entry_count += 1
            continue
        # (a node without attributes, every relu of a chain, by its operator's name alone)
        facts_key = (op_name, tuple(attrs.items())) if attrs else op_name
        try:
            facts = op_facts.get(facts_key)
        except TypeError:       # a value that is no string (a list): _node_attrs says so
            facts = None
        if facts is None:
            if not checked:
                attrs = _node_attrs(source, raw, position, name)
                facts_key = (op_name, tuple(attrs.items())) if attrs else op_name
            facts = _op_facts(source, op_name, name, attrs, position)
            if facts[-1]:
                op_facts[facts_key] = facts
        op, params, named_outputs, named_args, expected, variadic_count, _ = facts
        if len(raw_inputs) != expected:
            where = f"node {position} ('{name}')"
            if variadic_count is not None and variadic_count != len(raw_inputs):
                raise _fail(source, f"{where}: {op.name} has {op.variadic}={variadic_count} "
                                    f"but {len(raw_inputs)} inputs")
            raise _fail(source, f"{where}: {op.name} takes {expected} inputs "
                                f"{op.input_names(params) + op.aux_names(params)}, got {len(raw_inputs)}")
        # Node.output_names()'s and num_args()'s caches, shared by the nodes alike
        if len(raw_inputs) == 1:
            raw_input = raw_inputs[0]
            inputs = [_reference(raw_input, position, nodes, output_counts)
                      or _entry(source, raw_input, (position, name), 0, position, nodes, output_counts)]
            source_position = raw_input[0]
            reads.append([firsts[source_position] + raw_input[1]])
            # _walk_block_start of one input, inline (a chain's every node)
            block_starts.append(block_starts[source_position] if source_position >= position - 1
                                else position)
        else:
            inputs = [_reference(e, position, nodes, output_counts)
                      or _entry(source, e, (position, name), k, position, nodes, output_counts)
                      for k, e in enumerate(raw_inputs)]
            reads.append([firsts[e[0]] + e[1] for e in raw_inputs])
            block_starts.append(_walk_block_start(position, [e[0] for e in raw_inputs], block_starts))
        if len(inputs) > named_args[1]:
            past_arguments += inputs[named_args[1]:]
        nodes.append(built(op, name, attrs, inputs, params, named_outputs, named_args))
        output_counts.append(len(named_outputs[1]))
        firsts.append(entry_count)
        entry_count += output_counts[-1]
    heads = [_reference(e, len(nodes), nodes, output_counts)
             or _entry(source, e, None, k, len(nodes), nodes, output_counts)
             for k, e in enumerate(raw_heads)]
    symbol = Symbol(heads)
    # the symbol's own numbering when its graph order is the file's (MXNet writes it so)
    symbol._entry_index = EntryIndex.of_loaded(nodes, output_counts, firsts, reads)
    if _walk_block_start(len(nodes), [e[0] for e in raw_heads], block_starts) == 0:
        symbol._order = nodes
        symbol._variable_nodes = split_variables(variables, {id(src) for src, _ in past_arguments
                                                             if src.op is None})
    return symbol


def _walk_block_start(position, sources, block_starts):
    """The earliest point of a depth-first walk (topo_order's post-order) that meets the nodes
    in file order at which the node at `position` may be entered: how many nodes the walk may
    have met by then, all of them before it in the file.  sources: the positions the node reads,
    in order (all before it); block_starts: the earlier nodes' answers.  The heads are read by
    a last node, at position len(nodes): the walk meets the file's nodes in order when that
    node may be entered at 0.

    Entered when `met` nodes are met, a node enters in turn each input it has not met (at its
    first mention): an input at or past `met` (it must be one that may be entered there), after
    which `met` is just past it; the node itself must come next.  The points it may be entered
    at form a range up to its own position: read from the last input back, an input at or past
    the range's start less one is entered, and the range starts where that input's does.  One
    pass over the inputs, no walk."""
    start = position
    for source in reversed(dict.fromkeys(sources)):     # first mentions only
        if source >= start - 1:
            start = block_starts[source]
    return start


def load(fname):
    """The Symbol saved in file `fname` (MXNet's `-symbol.json`)."""
    try:
        size = os.path.getsize(fname)
        if size > MAX_FILE_BYTES:
            raise _fail(fname, f"{size} bytes is larger than the {MAX_FILE_BYTES} allowed")
        with open(fname, "rb") as f:
            data = f.read()
    except OSError as err:
        raise MXNetError(f"cannot read symbol file {fname!r}: {err.strerror}") from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _fail(fname, f"not UTF-8 text (byte {err.start})") from None
    return load_json(text, source=fname)
