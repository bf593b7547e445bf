"""Shape and dtype inference over the operators' declared rules.

Both run the same fixed-point loop: sweep the nodes forward then backward, letting each
operator's rule fill in what it can from what is known, until nothing changes.  A rule
returns its view of every input and output; a view that contradicts a known value is
an error naming the operator instance, the argument and both values.

Shapes may be partial (cysym.shapes): what a rule returns is merged dimension by dimension
with what is known.  Rules that declare `partial_shapes` see partial tuples; the others see a
partial shape as None, so they only ever compute from complete shapes.
"""
import numpy as np

from .base import BindError, MXNetError, ShapeError, TypeInferenceError, dtype_from_code, parse_tuple
from .shapes import MAX_ELEMENTS, is_complete, merge_shapes, same_shape, show_shape
from .symbol.graph import gc_paused

__all__ = ["infer_shape", "infer_type", "infer_graph_shapes", "infer_graph_types", "RuleContext",
           "unresolved_shapes"]


class RuleContext:
    """What a shape/type rule sees of its node: parameters, name, input names."""

    __slots__ = ("op", "name", "params", "input_names")

    def __init__(self, node):
        self.op = node.op
        self.name = node.name
        self.params = node.params
        self.input_names = node.op.input_names(self.params) + node.op.aux_names(self.params)

    def error(self, message, kind=ShapeError):
        return kind(f"Error in operator {self.name}: {self.op.label(self.name)}: {message}")


def _describe(values, names):
    return ", ".join(f"{n} {v}" for n, v in zip(names, values) if v is not None) or "nothing known"


def _propagate(nodes, values, rule_name, default_rule, kind, what, complete, merge):
    """Run rules to a fixed point; `values` maps (id(node), index) -> known value (updated)."""
    op_nodes = [n for n in nodes if not n.is_variable]
    entry_keys = {id(n): ([(id(src), i) for src, i in n.inputs],
                          [(id(n), i) for i in range(n.num_outputs())]) for n in op_nodes}
    contexts = {}
    # nodes whose inputs and outputs are all complete: known values never change, so their
    # rules have nothing more to say and each later sweep passes them in O(1)
    settled = set()
    for _ in range(len(op_nodes) + 2):
        changed = False
        for node in op_nodes + op_nodes[::-1]:
            if id(node) in settled:
                continue
            in_keys, out_keys = entry_keys[id(node)]
            ins = [values.get(k) for k in in_keys]
            outs = [values.get(k) for k in out_keys]
            if all(complete(v) for v in ins + outs):
                settled.add(id(node))
                continue
            ctx = contexts.get(id(node))
            if ctx is None:
                ctx = contexts[id(node)] = RuleContext(node)
            rule = getattr(node.op, rule_name) or default_rule
            if rule_name == "infer_shape" and not node.op.partial_shapes:
                seen_ins = [v if complete(v) else None for v in ins]
                seen_outs = [v if complete(v) else None for v in outs]
            else:
                seen_ins, seen_outs = ins, outs
            try:
                new_ins, new_outs = rule(ctx, list(seen_ins), list(seen_outs))
            except MXNetError:
                raise
            except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as err:
                # a rule that did not foresee these inputs (a 0-d array, a zero stride): still
                # the user's error, reported as such
                raise ctx.error(f"cannot infer the {what}s from "
                                f"({_describe(map(_show_or_none, ins), ctx.input_names)}): "
                                f"{type(err).__name__}: {err}", kind) from None
            out_names = [f"output {n}" for n in node.output_names()]
            for keys, old_values, new_values, names in (
                    (in_keys, ins, new_ins, ctx.input_names), (out_keys, outs, new_outs, out_names)):
                for key, old, new, name in zip(keys, old_values, new_values, names):
                    # `is None` tests: NumPy takes `dtype == None` for float64
                    if new is None or (old is not None and old == new):
                        continue
                    if rule_name == "infer_shape":
                        _check_dims(ctx, name, new)
                    try:
                        merged = new if old is None else merge(old, new)
                    except ValueError:
                        raise ctx.error(
                            f"{'' if name.startswith('output') else 'input '}'{name}' has {what} "
                            f"{_show(old)}, but the operator infers {_show(new)} from "
                            f"({_describe(map(_show_or_none, ins), ctx.input_names)})", kind) from None
                    if old is None or merged != old:
                        values[key] = merged
                        changed = True
        if not changed:
            break
    return values


def _check_dims(ctx, name, shape):
    """A shape a rule computed must be one an array can have: no negative dimension, and no
    more elements than MAX_ELEMENTS (an attribute such as num_hidden=2**62 asks for more)."""
    size = 1
    for d in shape:
        if d:       # unknown (None) and empty (0) dimensions take no part in the count
            if d < 0:
                raise ctx.error(f"'{name}' would have shape {_show(shape)}, with a negative "
                                f"dimension: the operator's attributes and inputs do not fit together")
            size *= d
    if size > MAX_ELEMENTS:
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


def _same_type_rule(ctx, ins, outs):
    known = next((t for t in ins + outs if t is not None), None)
    return [known] * len(ins), [known] * len(outs)


def _initial_values(symbol, args, kwargs, attr_key, convert, what):
    """Known values of variables: from attributes, then positional args, then keywords."""
    arguments = symbol.list_arguments()
    variables = [n for n in symbol._nodes() if n.is_variable]
    by_name = {n.name: n for n in variables}
    values = {}
    for node in variables:
        if attr_key in node.attrs:
            try:
                values[(id(node), 0)] = convert(node.attrs[attr_key])
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
            values[(id(by_name[name]), 0)] = convert(value)
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


def infer_graph_shapes(nodes, values):
    """Fixed-point shape inference on a node list; values keyed by (id(node), index)."""
    return _propagate(nodes, values, "infer_shape", same_shape, ShapeError, "shape",
                      is_complete, merge_shapes)


def infer_graph_types(nodes, values):
    return _propagate(nodes, values, "infer_type", _same_type_rule, TypeInferenceError, "dtype",
                      lambda t: t is not None, _merge_types)


def _collect(symbol, values, partial, complete, show):
    arg_nodes, aux_nodes = symbol._variables()
    result = (
        [values.get((id(n), 0)) for n in arg_nodes],
        [values.get((id(node), i)) for node, i in symbol._outputs],
        [values.get((id(n), 0)) for n in aux_nodes],
    )
    if not partial and not all(complete(v) for group in result for v in group):
        return None, None, None
    return tuple([show(v) for v in group] for group in result)


def _legacy_shape(shape):
    """MXNet's Python form of a partial shape: () when nothing is known, 0 for an unknown dimension."""
    return () if shape is None else tuple(0 if d is None else d for d in shape)


def _shape_values(symbol, args, kwargs):
    values = _initial_values(symbol, args, kwargs, "__shape__", _to_shape, "shape")
    return infer_graph_shapes(symbol._nodes(), values)


@gc_paused()
def infer_shape(symbol, args, kwargs, partial):
    """MXNet's (arg_shapes, out_shapes, aux_shapes); (None, None, None) when incomplete, or with
    partial=True what is known (unknown dimensions as 0, unknown shapes as ())."""
    values = _shape_values(symbol, args, kwargs)
    return _collect(symbol, values, partial, is_complete, _legacy_shape)


@gc_paused()
def unresolved_shapes(symbol, shapes, what):
    """Complete (arg_shapes, aux_shapes) from the given shapes, or a BindError that lists every
    argument and auxiliary state whose shape, or some dimension of it, is still unknown."""
    values = _shape_values(symbol, (), shapes)
    arg_nodes, aux_nodes = symbol._variables()
    found = [values.get((id(n), 0)) for n in arg_nodes + aux_nodes]
    missing = [f"{node.name} {show_shape(shape)}" for node, shape in zip(arg_nodes + aux_nodes, found)
               if not is_complete(shape)]
    if missing:
        raise BindError(f"{what}: cannot infer the shapes of {', '.join(missing)} ('?' marks an "
                        f"unknown dimension); give their shapes (given: {shapes})")
    return found[:len(arg_nodes)], found[len(arg_nodes):]


@gc_paused()
def infer_type(symbol, args, kwargs, partial=False):
    """MXNet's (arg_types, out_types, aux_types) as NumPy scalar types; (None, None, None) when
    incomplete, or with partial=True what is known (None where unknown)."""
    values = _initial_values(symbol, args, kwargs, "__dtype__", _to_dtype, "type")
    infer_graph_types(symbol._nodes(), values)
    return _collect(symbol, values, partial, lambda t: t is not None,
                    lambda t: None if t is None else np.dtype(t).type)
