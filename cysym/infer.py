"""Shape and dtype inference over the operators' declared rules.

Both run the same fixed-point loop: sweep the nodes forward then backward, letting each
operator's rule fill in what it can from what is known, until nothing changes.  A rule
returns its view of every input and output; a view that contradicts a known value is
an error naming the operator instance, the argument and both values.
"""
import numpy as np

from .base import MXNetError, ShapeError, TypeInferenceError, dtype_from_code, parse_tuple

__all__ = ["infer_shape", "infer_type", "infer_graph_shapes", "infer_graph_types", "RuleContext"]


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


def _propagate(nodes, values, rule_name, default_rule, kind, what):
    """Run rules to a fixed point; `values` maps (id(node), index) -> known value (updated)."""
    op_nodes = [n for n in nodes if not n.is_variable]
    contexts = {id(n): RuleContext(n) for n in op_nodes}
    for _ in range(len(op_nodes) + 2):
        changed = False
        for node in op_nodes + op_nodes[::-1]:
            in_keys = [(id(src), i) for src, i in node.inputs]
            out_keys = [(id(node), i) for i in range(node.num_outputs())]
            ins = [values.get(k) for k in in_keys]
            outs = [values.get(k) for k in out_keys]
            if all(v is not None for v in ins + outs):
                continue
            ctx = contexts[id(node)]
            rule = getattr(node.op, rule_name) or default_rule
            new_ins, new_outs = rule(ctx, list(ins), list(outs))
            out_names = [f"output {n}" for n in node.op.output_names(ctx.params)]
            for keys, old_values, new_values, names in (
                    (in_keys, ins, new_ins, ctx.input_names), (out_keys, outs, new_outs, out_names)):
                for key, old, new, name in zip(keys, old_values, new_values, names):
                    if new is None:
                        continue
                    if old is None:
                        values[key] = new
                        changed = True
                    elif old != new:
                        raise ctx.error(
                            f"{'' if name.startswith('output') else 'input '}'{name}' has {what} "
                            f"{_show(old)}, but the operator infers {_show(new)} from "
                            f"({_describe(map(_show_or_none, ins), ctx.input_names)})", kind)
        if not changed:
            break
    return values


def _show(value):
    return np.dtype(value).name if isinstance(value, (np.dtype, type)) else str(value)


def _show_or_none(value):
    return None if value is None else _show(value)


def _same_shape_rule(ctx, ins, outs):
    known = next((s for s in ins + outs if s is not None), None)
    return [known] * len(ins), [known] * len(outs)


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
    shape = parse_tuple(value) if isinstance(value, str) else tuple(int(v) for v in value)
    if any(d is None or d < 0 for d in shape):
        raise ValueError("dimensions must be non-negative integers")
    return shape


def _to_dtype(value):
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return dtype_from_code(int(value))
    return np.dtype(value)


def infer_graph_shapes(nodes, values):
    """Fixed-point shape inference on a node list; values keyed by (id(node), index)."""
    return _propagate(nodes, values, "infer_shape", _same_shape_rule, ShapeError, "shape")


def infer_graph_types(nodes, values):
    return _propagate(nodes, values, "infer_type", _same_type_rule, TypeInferenceError, "dtype")


def _collect(symbol, values, partial, empty):
    arg_nodes, aux_nodes = symbol._variables()
    result = (
        [values.get((id(n), 0)) for n in arg_nodes],
        [values.get((id(node), i)) for node, i in symbol._outputs],
        [values.get((id(n), 0)) for n in aux_nodes],
    )
    if not partial and any(v is None for group in result for v in group):
        return None, None, None
    return tuple([empty if v is None else v for v in group] for group in result)


def infer_shape(symbol, args, kwargs, partial):
    """MXNet's (arg_shapes, out_shapes, aux_shapes); (None, None, None) when incomplete."""
    values = _initial_values(symbol, args, kwargs, "__shape__", _to_shape, "shape")
    infer_graph_shapes(symbol._nodes(), values)
    return _collect(symbol, values, partial, ())


def infer_type(symbol, args, kwargs):
    """MXNet's (arg_types, out_types, aux_types) as NumPy scalar types."""
    values = _initial_values(symbol, args, kwargs, "__dtype__", _to_dtype, "type")
    infer_graph_types(symbol._nodes(), values)
    arg_types, out_types, aux_types = _collect(symbol, values, False, None)
    if arg_types is None:
        return None, None, None
    return tuple([np.dtype(t).type for t in group] for group in (arg_types, out_types, aux_types))
