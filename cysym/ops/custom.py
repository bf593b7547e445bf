"""Custom: an operator written in Python (cysym.operator.CustomOpProp / CustomOp).

The node's structure and rules come from the prop registered as its `op_type`: its
arguments, outputs and auxiliary states name the node's entries, and its infer_shape /
infer_type are the shape and dtype rules.  Every other keyword given to `sym.Custom` is
kept as a string attribute (MXNet passes them as strings) and given to the prop's
constructor, so they survive a JSON round trip.

At bind, the kernel makes one CustomOp per node (`create_operator` with the inferred
shapes and dtypes) and appends a Python call to the plan that runs its forward on the
planned arrays.  The gradient is one hidden `_backward_Custom` node whose inputs are the
output gradients (when the prop needs them), the forward inputs, the forward outputs that
`declare_backward_dependency` names, and the auxiliary states; its outputs are the input
gradients, computed by the same CustomOp instance's backward.
"""

import numpy as np

from .. import operator as _operator
from ..base import BindError, MXNetError, OperatorError, format_value
from ..registry import FLOAT_DTYPES, OpDef, Param, get_op, register
from ..symbol.graph import Node

# The node's prop instance rides in its parsed parameters under this key (never in attrs,
# so it is not written to JSON).
PROP_KEY = "__prop__"
# The backward node names its forward node so that both use one CustomOp instance.
FORWARD_KEY = "__forward_node__"
# A CustomOp is given the arrays of the dtypes its prop infers, float16 ones too, as MXNet's
# (the bind-time float16 pass, cysym/float16.py, leaves it alone)
PYTHON_DTYPES = FLOAT_DTYPES + ("float16",)


def _is_prop_kwarg(key):
    """True for a keyword that goes to the prop constructor.

    `__key__` attributes (`__lr_mult__`, `__shape__`, ...) and the user attributes MXNet
    stores that way (lr_mult, ctx_group, ...) stay attributes, as for any operator.
    """
    from ..symbol.symbol import HIDDEN_KEYS   # late: cysym.symbol imports the ops first
    return isinstance(key, str) and not key.startswith("__") and key not in HIDDEN_KEYS


class _OpenParams(dict):
    """The declared parameters; `in` is also true of any keyword meant for the prop, so that
    create_op keeps them instead of rejecting them as unknown parameters."""

    def __contains__(self, key):
        return dict.__contains__(self, key) or _is_prop_kwarg(key)


def node_prop(params):
    """The CustomOpProp instance of a node, from its parsed parameters (None when the
    parameters are the declaration's defaults, as for the generated signature)."""
    return params.get(PROP_KEY)


def _is_loss(params):
    """A Custom node is a loss head exactly when its prop says need_top_grad=False."""
    prop = node_prop(params)
    return prop is not None and not prop.need_top_grad_


class CustomOpDef(OpDef):
    """OpDef of Custom and _backward_Custom: parameters are op_type plus free keywords."""

    def __init__(self, name, **kwargs):
        super().__init__(name, **kwargs)
        self.params = _OpenParams(self.params)

    def parse_params(self, attrs, instance=None):
        parsed = super().parse_params(attrs, instance)
        op_type = parsed["op_type"]
        prop_cls = _operator.get_prop_class(op_type)
        label = self.label(instance)
        if prop_cls is None:
            registered = _operator.registered_op_types()
            raise OperatorError(
                f"{label}: op_type {op_type!r} is not registered; register a CustomOpProp "
                f"subclass with @cysym.operator.register({op_type!r}) first "
                f"(registered: {registered if registered else 'none'})")
        kwargs = {key: value if isinstance(value, str) else format_value(value)
                  for key, value in attrs.items()
                  if key != "op_type" and key != FORWARD_KEY and _is_prop_kwarg(key)}
        try:
            prop = prop_cls(**kwargs)
        except Exception as err:
            raise OperatorError(f"{label}: {prop_cls.__name__}(**{kwargs}) raised "
                                f"{type(err).__name__}: {err}") from err
        for method in ("list_arguments", "list_outputs", "list_auxiliary_states"):
            names = _call_prop(prop, method, label)
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                raise OperatorError(f"{label}: {prop_cls.__name__}.{method}() must return a list "
                                    f"of strings, got {names!r}")
        if not _call_prop(prop, "list_outputs", label):
            raise OperatorError(f"{label}: {prop_cls.__name__}.list_outputs() is empty")
        parsed.update(kwargs)
        parsed[PROP_KEY] = prop
        return parsed


def _call_prop(prop, method, label, *args):
    try:
        return getattr(prop, method)(*args)
    except MXNetError:
        raise
    except Exception as err:
        raise OperatorError(f"{label}: {type(prop).__name__}.{method}() raised "
                            f"{type(err).__name__}: {err}") from err


def _arguments(params):
    prop = node_prop(params)
    return [] if prop is None else list(prop.list_arguments())


def _outputs(params):
    prop = node_prop(params)
    return ["output"] if prop is None else list(prop.list_outputs())


def _auxiliary(params):
    prop = node_prop(params)
    return [] if prop is None else list(prop.list_auxiliary_states())


# -- shape and dtype rules: the prop's ------------------------------------------------------

def _run_rule(ctx, ins, outs, method, to_value, to_prop, what):
    """Fill in what prop.<method> says once the first argument is known.

    The prop sees argument values only (MXNet's contract); unknown ones are passed as
    to_prop(None).  With some unknown, a prop that cannot cope (raises, or returns a
    malformed answer) is simply asked again later; with all known, that is an error.
    """
    prop = node_prop(ctx.params)
    n_args = len(prop.list_arguments())
    n_out = len(prop.list_outputs())
    n_aux = len(prop.list_auxiliary_states())
    arguments = ins[:n_args]
    if n_args and arguments[0] is None:
        return ins, outs
    partial = any(v is None for v in arguments)
    given = [to_prop(v) for v in arguments]
    try:
        result = getattr(prop, method)(given)
        result = list(result)
        if len(result) == 2:
            result.append([])
        if len(result) != 3:
            raise ValueError(f"expected (in, out) or (in, out, aux) lists, got {len(result)} items")
        new_args, new_outs, new_aux = (list(r) for r in result)
        for values, count, kind in ((new_args, n_args, "argument"), (new_outs, n_out, "output"),
                                    (new_aux, n_aux, "auxiliary")):
            if len(values) != count:
                raise ValueError(f"returned {len(values)} {kind} {what}s, expected {count}")
        converted = [[to_value(v, partial) for v in values] for values in (new_args, new_outs, new_aux)]
    except Exception as err:
        if partial:
            return ins, outs
        raise ctx.error(f"{type(prop).__name__}.{method}({given}) raised {type(err).__name__}: {err}"
                        ) from err
    new_args, new_outs, new_aux = converted
    return new_args + new_aux, new_outs


def _shape_value(value, partial):
    shape = tuple(int(d) for d in value)
    if partial and (not shape or 0 in shape):
        return None   # computed from an unknown argument
    if any(d < 0 for d in shape):
        raise ValueError(f"shape {shape} has negative dimensions")
    return shape


def _type_value(value, partial):
    if value is None:
        if partial:
            return None
        raise ValueError("a dtype is None")
    return np.dtype(value)


def _custom_shape(ctx, ins, outs):
    """What the registered CustomOpProp's infer_shape returns for the arguments' shapes (arguments,
    outputs, auxiliary states)."""
    return _run_rule(ctx, ins, outs, "infer_shape", _shape_value,
                     lambda s: [] if s is None else list(s), "shape")


def _custom_type(ctx, ins, outs):
    return _run_rule(ctx, ins, outs, "infer_type", _type_value,
                     lambda t: None if t is None else np.dtype(t).type, "dtype")


# -- running ---------------------------------------------------------------------------------

class _UserCodeCall:
    """A plan entry calling into a CustomOp; errors become MXNetError naming the node."""

    def __init__(self, node, operator, label):
        self.node = node
        self.operator = operator
        self.label = label

    def _fail(self, method, err):
        return MXNetError(f"Error in operator {self.node.name}: {self.label}: "
                          f"{type(self.operator).__name__}.{method} raised {type(err).__name__}: {err}")


class _ForwardCall(_UserCodeCall):

    def __init__(self, node, operator, label, plan, req, in_data, out_data, aux):
        super().__init__(node, operator, label)
        self.plan = plan
        self.req, self.in_data, self.out_data, self.aux = req, in_data, out_data, aux

    def __call__(self):
        try:
            self.operator.forward(is_train=self.plan.is_train, req=list(self.req), in_data=list(self.in_data),
                                  out_data=list(self.out_data), aux=list(self.aux))
        except Exception as err:
            raise self._fail("forward", err) from err


class _BackwardCall(_UserCodeCall):

    def __init__(self, node, operator, label, req, out_grad, in_data, out_data, in_grad, aux):
        super().__init__(node, operator, label)
        self.req, self.out_grad, self.in_data = req, out_grad, in_data
        self.out_data, self.in_grad, self.aux = out_data, in_grad, aux

    def __call__(self):
        # planned buffers hold old values: a backward that leaves an input gradient alone
        # (a label's, typically) gives zeros, not garbage
        for grad, req in zip(self.in_grad, self.req):
            if req == "write":
                grad[...] = 0
        try:
            self.operator.backward(req=list(self.req), out_grad=list(self.out_grad),
                                   in_data=list(self.in_data), out_data=list(self.out_data),
                                   in_grad=list(self.in_grad), aux=list(self.aux))
        except Exception as err:
            raise self._fail("backward", err) from err


def _custom_kernel(b):
    from ..context import cpu
    prop = node_prop(b.params)
    n_args = len(prop.list_arguments())
    shapes = [list(a.shape) for a in b.inputs]
    dtypes = [a.dtype.type for a in b.inputs]
    try:
        operator = prop.create_operator(cpu(), shapes, dtypes)
    except Exception as err:
        raise BindError(f"Error in operator {b.node.name}: {b.label}: {type(prop).__name__}"
                        f".create_operator raised {type(err).__name__}: {err}") from err
    if not isinstance(operator, _operator.CustomOp):
        raise BindError(f"Error in operator {b.node.name}: {b.label}: {type(prop).__name__}"
                        f".create_operator returned {operator!r}, not a CustomOp")
    b.plan.add_python(_ForwardCall(b.node, operator, b.label, b.plan, b.req, b.inputs[:n_args],
                                   b.outputs, b.inputs[n_args:]), b.label)


register(CustomOpDef(
    "Custom",
    loss=_is_loss,
    params=[Param("op_type", "str", doc="Name the CustomOpProp was registered under "
                                        "(@cysym.operator.register).")],
    inputs=_arguments,
    aux=_auxiliary,
    outputs=_outputs,
    infer_shape=_custom_shape,
    infer_type=_custom_type,
    gradient=lambda g: _custom_gradient(g),
    kernel=_custom_kernel,
    dtypes=PYTHON_DTYPES,
    doc="Apply an operator written in Python: Custom(*inputs, op_type='name', **kwargs).\n\n"
        "Inputs, outputs, auxiliary states, shapes and dtypes come from the CustomOpProp "
        "registered as op_type; the other keyword arguments are passed to its constructor "
        "as strings.",
))


# -- backward ---------------------------------------------------------------------------------

def _backward_layout(prop):
    """(indices of the output gradients read, indices of the forward outputs read), from the
    prop's declare_backward_dependency (MXNet's numbering: out_grad, in_data, out_data)."""
    n_args, n_out = len(prop.list_arguments()), len(prop.list_outputs())
    out_grad_ids = list(range(n_out))
    in_data_ids = list(range(n_out, n_out + n_args))
    out_data_ids = list(range(n_out + n_args, n_out + n_args + n_out))
    deps = set(prop.declare_backward_dependency(out_grad_ids, in_data_ids, out_data_ids))
    grads_read = [i for i in range(n_out) if prop.need_top_grad_ and out_grad_ids[i] in deps]
    outputs_read = [i for i in range(n_out) if out_data_ids[i] in deps]
    return grads_read, outputs_read


def _backward_inputs(params):
    """Output gradients read, every argument (their shapes size the input gradients),
    forward outputs read, auxiliary states."""
    prop = node_prop(params)
    if prop is None:
        return []
    outputs = prop.list_outputs()
    grads_read, outputs_read = _backward_layout(prop)
    return ([f"{outputs[i]}_grad" for i in grads_read] + list(prop.list_arguments())
            + [outputs[i] for i in outputs_read] + list(prop.list_auxiliary_states()))


def _backward_outputs(params):
    prop = node_prop(params)
    return [] if prop is None else [f"{name}_grad" for name in prop.list_arguments()]


def _backward_split(prop, entries):
    """entries (the backward node's inputs) -> (out_grad, in_data, out_data, aux) lists;
    out_grad and out_data have None where backward does not read them."""
    n_args, n_out = len(prop.list_arguments()), len(prop.list_outputs())
    grads_read, outputs_read = _backward_layout(prop)
    entries = list(entries)
    out_grad, out_data = [None] * n_out, [None] * n_out
    for i in grads_read:
        out_grad[i] = entries.pop(0)
    in_data, entries = entries[:n_args], entries[n_args:]
    for i in outputs_read:
        out_data[i] = entries.pop(0)
    return out_grad, in_data, out_data, entries


def _backward_shape(ctx, ins, outs):
    _, in_data, _, _ = _backward_split(node_prop(ctx.params), ins)
    return ins, list(in_data)


def _custom_gradient(g):
    prop = node_prop(g.params)
    n_args = len(prop.list_arguments())
    grads_read, outputs_read = _backward_layout(prop)
    entries = []
    for i in grads_read:
        grad = g.out_grads[i]
        if grad is None:   # an output nothing downstream differentiates: its gradient is 0
            zeros = Node(get_op("zeros_like"), f"{g.name}_{prop.list_outputs()[i]}_zero_grad",
                         {}, [g.outputs[i]])
            grad = (zeros, 0)
        entries.append(grad)
    entries += g.inputs[:n_args]
    entries += [g.outputs[i] for i in outputs_read]
    entries += g.inputs[n_args:]
    attrs = {k: v for k, v in g.node.attrs.items() if k == "op_type" or _is_prop_kwarg(k)}
    attrs[FORWARD_KEY] = str(id(g.node))
    node = Node(get_op("_backward_Custom"), f"{g.name}_backward", attrs, entries)
    return [(node, i) for i in range(n_args)]


def _backward_kernel(b):
    prop = node_prop(b.params)
    forward_id = int(b.node.attrs[FORWARD_KEY])
    forward = next((call for call in b.plan.python_calls
                    if isinstance(call, _ForwardCall) and id(call.node) == forward_id), None)
    if forward is None:
        raise BindError(f"Error in operator {b.node.name}: the forward Custom node it "
                        f"differentiates is not in this executor's plan")
    out_grad, in_data, out_data, aux = _backward_split(prop, b.inputs)
    b.plan.add_python(_BackwardCall(forward.node, forward.operator, forward.label, b.req, out_grad,
                                    in_data, out_data, b.outputs, aux), b.label)


register(CustomOpDef(
    "_backward_Custom",
    params=[Param("op_type", "str", doc="Name the CustomOpProp was registered under.")],
    inputs=_backward_inputs,
    outputs=_backward_outputs,
    infer_shape=_backward_shape,
    infer_type=_backward_shape,
    kernel=_backward_kernel,
    dtypes=PYTHON_DTYPES,
    hidden=True,
    doc="The input gradients of a Custom node, from its CustomOp's backward.",
))
