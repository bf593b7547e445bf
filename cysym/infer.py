"""Shape and dtype inference over the operators' declared rules.

Both run the same fixed-point loop: sweep the nodes forward then backward, letting each
operator's rule fill in what it can from what is known, until nothing changes.  A rule
returns its view of every input and output; a view that contradicts a known value is
an error naming the operator instance, the argument and both values.

Shapes may be partial (cysym.shapes): what a rule returns is merged dimension by dimension
with what is known.  Rules that declare `partial_shapes` see partial tuples; the others see a
partial shape as None, so they only ever compute from complete shapes.
"""
import itertools
import operator

import numpy as np

from .base import BindError, MXNetError, ShapeError, TypeInferenceError, dtype_from_code, parse_tuple
from .shapes import MAX_ELEMENTS, is_complete, merge_shapes, same_shape, show_shape
from .symbol.graph import EntryIndex, gc_paused

__all__ = ["infer_shape", "infer_type", "infer_graph_shapes", "infer_graph_types", "RuleContext",
           "unresolved_shapes", "bind_types", "EntryDict"]


class RuleContext:
    """What a shape/type rule sees of its node: parameters, name, input names."""

    __slots__ = ("op", "name", "params", "_input_names")

    def __init__(self, node):
        self.op = node.op
        self.name = node.name
        self.params = node.params
        self._input_names = None

    @property
    def input_names(self):
        """Arguments then auxiliary states; built on demand (few rules and only errors read
        them, and a rule runs once per node of a graph that may have 10^5)."""
        if self._input_names is None:
            self._input_names = self.op.input_names(self.params) + self.op.aux_names(self.params)
        return self._input_names

    def error(self, message, kind=ShapeError):
        """An exception (to raise) naming this operator instance, then `message`."""
        return kind(f"Error in operator {self.name}: {self.op.label(self.name)}: {message}")


def _describe(values, names):
    return ", ".join(f"{n} {v}" for n, v in zip(names, values) if v is not None) or "nothing known"


def _entry_name(ctx, node, is_input, k):
    return ctx.input_names[k] if is_input else f"output {node.output_names()[k]}"


def _propagate(index, values, rule_name, default_rule, kind, what, complete, merge):
    """Run rules to a fixed point over the operator nodes of `index` (a
    cysym.symbol.graph.EntryIndex); `values[e]` is what is known of entry e (a list, updated).
    Returns the positions of the nodes left unsettled, in order (none when every entry is
    complete).

    Sweeps go forward then backward over the nodes not yet settled, until a sweep pair
    changes nothing.  A node is settled once its rule, run on its current values, leaves all
    of its inputs and outputs complete: known values never change, so the rule has nothing
    more to say.  When the inputs of a graph are known (any bind) the first forward sweep
    settles every node: inference is one visit per node, and one rule call per distinct
    (operator, parameters, known values) among them (`outcomes`)."""
    pending = index.op_positions
    rule = (rule_name, default_rule, kind, what, complete, merge, rule_name == "infer_shape")
    outcomes = {}
    for _ in range(len(pending) + 2):
        changed = False
        for backward in (False, True):
            sweep_changed, unsettled = _sweep(pending[::-1] if backward else pending, index, values,
                                              rule, outcomes)
            changed = changed or sweep_changed
            pending = unsettled[::-1] if backward else unsettled
            if not pending:
                return pending
        if not changed:
            break
    return pending


def _sweep(order, index, values, rule, outcomes):
    """Visit the nodes at positions `order` of `index`, merging what each one's rule infers
    from the known values into `values`: (whether some value changed, the positions of the
    nodes some input or output of which is still incomplete, in `order`).

    A rule is a pure function of the operator, its parameters and the known values, so its
    outcome is kept in `outcomes` under those and shared by the nodes alike (the relus of a
    network at one shape): on graphs of 10^5 nodes the rule, its context and the merge
    would otherwise be most of the time of an inference."""
    nodes, node_inputs, firsts, output_counts = index.nodes, index.inputs, index.first, index.num_outputs
    changed, unsettled = False, []
    for position in order:
        node = nodes[position]
        inputs = node_inputs[position]
        first = firsts[position]
        if output_counts[position] == 1 and len(inputs) == 1:     # most nodes of most graphs
            entries = (inputs[0], first)
            known = (values[entries[0]], values[first])
        else:
            entries = inputs + list(range(first, first + output_counts[position]))
            known = tuple([values[e] for e in entries])
        params = node._params
        if params is None:
            params = node.params
        # the node holds its parameters for the whole inference, so their id names them
        outcome_key = (node.op, id(params), known)
        try:
            outcome = outcomes.get(outcome_key)
        except TypeError:     # a rule gave an unhashable value (a list for a shape): not shared
            outcome_key = outcome = None
        if outcome is None:
            outcome = _apply_rule(node, known, len(inputs), *rule)
            if outcome_key is not None:
                outcomes[outcome_key] = outcome
        updates, settled = outcome
        if updates:
            changed = True
            for k, merged in updates:
                values[entries[k]] = merged
        if not settled:
            unsettled.append(position)
    return changed, unsettled


def _apply_rule(node, known, num_inputs, rule_name, default_rule, kind, what, complete, merge,
                shape_rule):
    """Run the node's rule on the known values (inputs then outputs) and merge what it
    infers: ([(position, merged value) for the values it changes], whether every input and
    output of the node is then complete)."""
    num_outputs = len(known) - num_inputs
    ctx = RuleContext(node)
    rule = getattr(node.op, rule_name) or default_rule
    seen = ([v if complete(v) else None for v in known] if shape_rule and not node.op.partial_shapes
            else list(known))
    try:
        new_ins, new_outs = rule(ctx, seen[:num_inputs], seen[num_inputs:])
    except MXNetError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as err:
        # a rule that did not foresee these inputs (a 0-d array, a zero stride): still
        # the user's error, reported as such
        raise ctx.error(f"cannot infer the {what}s from "
                        f"({_describe(map(_show_or_none, known[:num_inputs]), ctx.input_names)}): "
                        f"{type(err).__name__}: {err}", kind) from None
    if len(new_ins) != num_inputs or len(new_outs) != num_outputs:
        # a rule may answer for fewer entries than there are: it says nothing of the others
        new_ins = (list(new_ins) + [None] * num_inputs)[:num_inputs]
        new_outs = (list(new_outs) + [None] * num_outputs)[:num_outputs]
    updates, settled = [], True
    for k, new in enumerate(itertools.chain(new_ins, new_outs)):
        old = known[k]
        # `is None` tests: NumPy takes `dtype == None` for float64
        if new is None or (old is not None and old == new):
            settled = settled and complete(old)
            continue
        is_input = k < num_inputs
        index = k if is_input else k - num_inputs
        if shape_rule:
            _check_dims(ctx, node, is_input, index, new)
        try:
            merged = new if old is None else merge(old, new)
        except ValueError:
            name = _entry_name(ctx, node, is_input, index)
            raise ctx.error(
                f"{'input ' if is_input else ''}'{name}' has {what} "
                f"{_show(old)}, but the operator infers {_show(new)} from "
                f"({_describe(map(_show_or_none, known[:num_inputs]), ctx.input_names)})",
                kind) from None
        if old is None or merged != old:
            updates.append((k, merged))
        settled = settled and complete(merged)
    return updates, settled


def _check_dims(ctx, node, is_input, k, shape):
    """A shape a rule computed must be one an array can have: no negative dimension, and no
    more elements than MAX_ELEMENTS (an attribute such as num_hidden=2**62 asks for more)."""
    size = 1
    for d in shape:
        if d:       # unknown (None) and empty (0) dimensions take no part in the count
            if d < 0:
                name = _entry_name(ctx, node, is_input, k)
                raise ctx.error(f"'{name}' would have shape {_show(shape)}, with a negative "
                                f"dimension: the operator's attributes and inputs do not fit together")
            size *= d
    if size > MAX_ELEMENTS:
        name = _entry_name(ctx, node, is_input, k)
        raise ctx.error(f"'{name}' would have shape {_show(shape)}, more than the {MAX_ELEMENTS} "
                        f"elements an array may have")


def _show(value):
    if isinstance(value, (np.dtype, type)):
        return np.dtype(value).name
    return show_shape(value) if isinstance(value, tuple) else str(value)


def _show_or_none(value):
    return None if value is None else _show(value)


def _merge_types(old, new):
    if old is not None and new is not None and np.dtype(old) != np.dtype(new):
        raise ValueError("different dtypes")
    return new if old is None else old


def _is_known(dtype):
    return dtype is not None


def _same_type_rule(ctx, ins, outs):
    known = next((t for t in ins + outs if t is not None), None)
    return [known] * len(ins), [known] * len(outs)


def _initial_values(symbol, index, graph_variables, args, kwargs, attr_key, convert, what):
    """Known values of variables, {entry id of `index` (symbol._entries()): value}: from
    attributes, then positional args, then keywords.  graph_variables: symbol._variables(),
    computed once by the caller."""
    arguments = [n.name for n in graph_variables[0]]
    start = index.start
    variables = sorted(graph_variables[0] + graph_variables[1], key=lambda n: start[id(n)])
    by_name = {n.name: n for n in variables}
    values = {}
    for node in variables:
        if attr_key in node.attrs:
            try:
                values[start[id(node)]] = convert(node.attrs[attr_key])
            except (ValueError, TypeError, MXNetError) as err:
                raise MXNetError(f"variable '{node.name}': bad {attr_key} attribute "
                                 f"{node.attrs[attr_key]!r}: {err}") from None
    if args and kwargs:
        raise MXNetError(f"infer_{what}: give positional or keyword arguments, not both")
    if len(args) > len(arguments):
        raise MXNetError(f"infer_{what}: {len(args)} positional values for {len(arguments)} "
                         f"arguments {arguments}")
    given = dict(zip(arguments, args))
    given.update(kwargs)
    for name, value in given.items():
        if name not in by_name:
            raise MXNetError(f"infer_{what}: {name!r} is not an input of the symbol; inputs are "
                             f"{symbol.list_inputs()}")
        if value is None:
            continue
        try:
            values[start[id(by_name[name])]] = convert(value)
        except (ValueError, TypeError, MXNetError) as err:
            raise MXNetError(f"infer_{what}: bad {what} {value!r} for {name!r}: {err}") from None
    return values


def _to_shape(value):
    """A shape given by a user or a file: 0 marks an unknown dimension (MXNet's legacy rule)."""
    shape = parse_tuple(value) if isinstance(value, str) else tuple(int(v) for v in value)
    if any(d is None or d < 0 for d in shape):
        raise ValueError("dimensions must be non-negative integers")
    return tuple(None if d == 0 else d for d in shape)


def _to_dtype(value):
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return dtype_from_code(int(value))
    return np.dtype(value)


_SHAPE_RULES = ("infer_shape", same_shape, ShapeError, "shape", is_complete, merge_shapes)
_TYPE_RULES = ("infer_type", _same_type_rule, TypeInferenceError, "dtype", _is_known, _merge_types)


def infer_graph_shapes(nodes, values):
    """Fixed-point shape inference on a node list; values keyed by (id(node), index) (updated).
    Returns the nodes some input or output of which is still unknown."""
    return _infer_dict(nodes, values, _SHAPE_RULES)


def infer_graph_types(nodes, values):
    """As infer_graph_shapes, for dtypes."""
    return _infer_dict(nodes, values, _TYPE_RULES)


def _infer_dict(nodes, values, rules):
    """_propagate over `nodes` numbered on their own (with the entries they read), from and
    into a dict keyed by (id(node), index)."""
    index = EntryIndex(nodes)
    known = list(map(values.get, index.keys))
    unsettled = _propagate(index, known, *rules)
    for key, value in zip(index.keys, known):
        if value is not None:
            values[key] = value
    return [index.nodes[p] for p in unsettled]


def _collect(symbol, index, graph_variables, values, partial, complete, show):
    arg_nodes, aux_nodes = graph_variables
    start = index.start
    result = (
        [values[start[id(n)]] for n in arg_nodes],
        [values[start[id(node)] + i] for node, i in symbol._outputs],
        [values[start[id(n)]] for n in aux_nodes],
    )
    if not partial and not all(complete(v) for group in result for v in group):
        return None, None, None
    return tuple([show(v) for v in group] for group in result)


def _legacy_shape(shape):
    """MXNet's Python form of a partial shape: () when nothing is known, 0 for an unknown dimension."""
    return () if shape is None else tuple(0 if d is None else d for d in shape)


def _shape_values(symbol, index, graph_variables, args, kwargs):
    """(values, unsettled positions) of the symbol's entries: see _inferred."""
    values = _initial_values(symbol, index, graph_variables, args, kwargs, "__shape__", _to_shape, "shape")
    return _inferred(symbol, index, "shape", values, _SHAPE_RULES)


def _type_values(symbol, index, graph_variables, args, kwargs):
    values = _initial_values(symbol, index, graph_variables, args, kwargs, "__dtype__", _to_dtype, "type")
    return _inferred(symbol, index, "type", values, _TYPE_RULES)


def _inferred(symbol, index, kind, given, rules):
    """What inference finds from `given` ({entry id: value} of the symbol's variables):
    (a list of every entry's value indexed by `index`, symbol._entries(), and the positions of
    the nodes left unsettled), both the caller's to change.

    The symbol keeps its last inference of each kind: a user calls infer_shape, then
    simple_bind with the same shapes, which infers them again (a tenth of a second per 10^5
    nodes).  An inference is a function of the variables' values and the operator nodes'
    parsed parameters, which stay until a node's attributes change (Symbol._set_attr drops
    them, and _entries() numbers the graph again): both are compared before the last one is
    reused."""
    last = symbol._last_inference.get(kind) if symbol._last_inference else None
    if last is not None and last[0] is index and last[1] == given:
        return list(last[2]), list(last[3])
    values = [None] * index.count
    for entry, value in given.items():
        values[entry] = value
    unsettled = _propagate(index, values, *rules)
    if symbol._last_inference is None:
        symbol._last_inference = {}
    symbol._last_inference[kind] = (index, given, list(values), unsettled)
    return values, list(unsettled)


def _as_dict(index, values):
    """{(id(node), output): value} of the known entries of `index`, for the passes that keep
    dicts (bind's fusion, autodiff)."""
    if all(map(operator.is_not, values, itertools.repeat(None))):   # (a bind's) in one pass in C
        return dict(zip(index.keys, values))
    return {key: value for key, value in zip(index.keys, values) if value is not None}


class EntryDict:
    """What inference knows of the entries of an EntryIndex, as the dict {(id(node), output):
    value} that bind's passes (autodiff, fusion, float16) read and add to, made from the list
    inference keeps (indexed by entry id) when one of them first reads or changes an entry: a
    bind that none of them changes lays its entries out from the list itself."""

    __slots__ = ("_index", "_list", "_dict")

    def __init__(self, index=None, values=None, mapping=None):
        """index and its values (a list, the EntryDict's own), or a dict to wrap (mapping)."""
        self._index, self._list, self._dict = index, values, mapping

    def dict(self):
        """The dict itself, made when first asked for; its other methods (get, items, ...) are
        the dict's."""
        if self._dict is None:
            self._dict = _as_dict(self._index, self._list)
        return self._dict

    def __getattr__(self, name):
        if name.startswith("__"):     # (copy and pickle ask for protocols it does not have)
            raise AttributeError(name)
        return getattr(self.dict(), name)

    # (the passes ask for a few entries each: one call per question)
    def __getitem__(self, key):
        return (self._dict if self._dict is not None else self.dict())[key]

    def __setitem__(self, key, value):
        (self._dict if self._dict is not None else self.dict())[key] = value

    def __contains__(self, key):
        return key in (self._dict if self._dict is not None else self.dict())

    def values(self):
        """The known values (do not modify the list)."""
        if self._dict is not None:
            return list(self._dict.values())
        values = self._list
        return values if None not in values else [v for v in values if v is not None]

    def of(self, index):
        """[the value of each entry of `index`], None where unknown."""
        if self._dict is None and index is self._index:
            return list(self._list)
        return list(map(self.dict().get, index.keys))


def _numpy_type(dtype):
    return None if dtype is None else np.dtype(dtype).type


@gc_paused()
def infer_shape(symbol, args, kwargs, partial):
    """MXNet's (arg_shapes, out_shapes, aux_shapes); (None, None, None) when incomplete, or with
    partial=True what is known (unknown dimensions as 0, unknown shapes as ())."""
    graph_variables, index = symbol._variables(), symbol._entries()
    values, _ = _shape_values(symbol, index, graph_variables, args, kwargs)
    return _collect(symbol, index, graph_variables, values, partial, is_complete, _legacy_shape)


@gc_paused()
def unresolved_shapes(symbol, graph_variables, shapes, what):
    """Complete (arg_shapes, aux_shapes) from the given shapes, or a BindError that lists every
    argument and auxiliary state whose shape, or some dimension of it, is still unknown; and
    the inference itself, (an EntryDict of the shapes, unsettled nodes), for bind to reuse.
    graph_variables: symbol._variables()."""
    index = symbol._entries()
    values, unsettled = _shape_values(symbol, index, graph_variables, (), shapes)
    arg_nodes, aux_nodes = graph_variables
    found = [values[index.start[id(n)]] for n in arg_nodes + aux_nodes]
    missing = [f"{node.name} {show_shape(shape)}" for node, shape in zip(arg_nodes + aux_nodes, found)
               if not is_complete(shape)]
    if missing:
        raise BindError(f"{what}: cannot infer the shapes of {', '.join(missing)} ('?' marks an "
                        f"unknown dimension); give their shapes (given: {shapes})")
    return (found[:len(arg_nodes)], found[len(arg_nodes):],
            (EntryDict(index, values), [index.nodes[p] for p in unsettled]))


@gc_paused()
def infer_type(symbol, args, kwargs, partial=False):
    """MXNet's (arg_types, out_types, aux_types) as NumPy scalar types; (None, None, None) when
    incomplete, or with partial=True what is known (None where unknown)."""
    graph_variables, index = symbol._variables(), symbol._entries()
    values, _ = _type_values(symbol, index, graph_variables, args, kwargs)
    return _collect(symbol, index, graph_variables, values, partial, _is_known, _numpy_type)


@gc_paused()
def bind_types(symbol, graph_variables, types):
    """infer_type(symbol, (), types) and the inference itself, (an EntryDict of the dtypes,
    unsettled nodes), for bind to reuse.  graph_variables: symbol._variables()."""
    index = symbol._entries()
    values, unsettled = _type_values(symbol, index, graph_variables, (), types)
    return (_collect(symbol, index, graph_variables, values, False, _is_known, _numpy_type),
            (EntryDict(index, values), [index.nodes[p] for p in unsettled]))
