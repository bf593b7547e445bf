"""Operators written in Python: MXNet's CustomOp / CustomOpProp API and `register`::

    @cysym.operator.register("softmax")
    class SoftmaxProp(cysym.operator.CustomOpProp):
        def __init__(self):
            super().__init__(need_top_grad=False)
        def list_arguments(self):
            return ["data", "label"]
        def create_operator(self, ctx, shapes, dtypes):
            return Softmax()

    net = cysym.sym.Custom(data, label, op_type="softmax", name="softmax")

The prop describes the operator to the graph (inputs, outputs, auxiliary states, shape and
dtype rules, which arrays backward reads); the op computes it.  At bind, one op instance is
made per graph node (`create_operator` with the inferred shapes and dtypes), and its
forward/backward run inside the executor's plan on the planned arrays, like any kernel.
The graph side (the `Custom` and `_backward_Custom` declarations) is in cysym/ops/custom.py.
"""
import collections

from .base import MXNetError

__all__ = ["CustomOp", "CustomOpProp", "register", "get_prop_class", "registered_op_types",
           "get_all_registered_operators", "get_operator_arguments", "OperatorArguments"]

_PROPS = {}   # op_type -> CustomOpProp subclass


class CustomOp:
    """Base class of a Python operator's computation: subclass it and override
    forward and backward, writing results with `self.assign`."""

    def __init__(self):
        pass

    def forward(self, is_train, req, in_data, out_data, aux):
        """Compute out_data from in_data (and aux).

        is_train : bool, whether this is a training pass
        req : list of str, one per output: 'null', 'write', 'inplace' or 'add'
        in_data, out_data, aux : lists of NDArray (the executor's own buffers)
        """
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        """Compute in_grad (one per argument) from out_grad, in_data and out_data.

        req has one entry per in_grad; out_grad entries are None when the prop's
        need_top_grad is False (or declare_backward_dependency leaves them out).
        """
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def assign(self, dst, req, src):
        """dst := src ('write', 'inplace'), dst += src ('add'), or nothing ('null')."""
        if req == "null":
            return
        if req in ("write", "inplace"):
            dst[...] = src
        elif req == "add":
            dst[...] += src
        else:
            raise MXNetError(f"assign: unknown req {req!r}; expected 'null', 'write', 'inplace' or 'add'")


class CustomOpProp:
    """Base class of a Python operator's description: subclass it, override what differs
    from the defaults (one argument 'data', one output 'output' of the same shape and
    dtype, no auxiliary states) and `create_operator`, and register it with `register`.

    need_top_grad=False declares a loss head: backward does not read the gradient of the
    outputs, so the executor needs no head gradient for it (as SoftmaxOutput).
    """

    def __init__(self, need_top_grad=True):
        self.need_top_grad_ = need_top_grad

    def infer_shape(self, in_shape):
        """(argument shapes, output shapes, auxiliary shapes) from the argument shapes."""
        return (in_shape, [in_shape[0]] * len(self.list_outputs()),
                [in_shape[0]] * len(self.list_auxiliary_states()))

    def infer_type(self, in_type):
        """(argument dtypes, output dtypes, auxiliary dtypes) from the argument dtypes."""
        return (in_type, [in_type[0]] * len(self.list_outputs()),
                [in_type[0]] * len(self.list_auxiliary_states()))

    def infer_storage_type(self, in_stype):
        """Only dense storage exists in cysym."""
        return (["default"] * len(in_stype), ["default"] * len(self.list_outputs()),
                ["default"] * len(self.list_auxiliary_states()))

    def list_outputs(self):
        """The operator's output names (default ['output'])."""
        return ["output"]

    def list_arguments(self):
        """The operator's input names (default ['data'])."""
        return ["data"]

    def list_auxiliary_states(self):
        """The operator's auxiliary-state names (default none)."""
        return []

    def declare_backward_dependency(self, out_grad, in_data, out_data):
        """The ids (from the three lists) that backward reads; the others may be freed
        before it runs.  Default: all of them, out_grad only when need_top_grad."""
        deps = []
        if self.need_top_grad_:
            deps.extend(out_grad)
        deps.extend(in_data)
        deps.extend(out_data)
        return deps

    def create_operator(self, ctx, in_shapes, in_dtypes):
        """A CustomOp instance for one graph node, given its input shapes and dtypes."""
        return CustomOp()


def register(reg_name):
    """Class decorator registering a CustomOpProp subclass as op_type `reg_name`.

    Registering a name again replaces the class (as in MXNet); graphs built afterwards
    and executors bound afterwards use the new one.
    """
    if not isinstance(reg_name, str) or not reg_name:
        raise MXNetError(f"register: the op_type must be a non-empty string, got {reg_name!r}")

    def do_register(prop_cls):
        if not (isinstance(prop_cls, type) and issubclass(prop_cls, CustomOpProp)):
            raise MXNetError(f"register({reg_name!r}): expected a subclass of CustomOpProp, "
                             f"got {prop_cls!r}")
        _PROPS[reg_name] = prop_cls
        return prop_cls

    return do_register


def get_prop_class(op_type):
    """The CustomOpProp subclass registered as `op_type`, or None."""
    return _PROPS.get(op_type)


def registered_op_types():
    """The op_type names registered with ``register``, sorted."""
    return sorted(_PROPS)


# -- the operator registry, as MXNet's C API lists it ------------------------------------------

OperatorArguments = collections.namedtuple("OperatorArguments", ["narg", "names", "types"])

_KIND_NAMES = {"int": "int", "float": "float", "bool": "boolean", "str": "string",
               "shape": "Shape(tuple)", "floats": "tuple of <float>"}


def get_all_registered_operators():
    """Every registered operator name, aliases and hidden (`_backward_*`) ones included, sorted."""
    from .registry import _REGISTRY
    from . import ops  # noqa: F401  (registers every operator)
    return sorted(_REGISTRY)


def _describe_type(param):
    """MXNet's type string of a parameter: 'int, required', 'boolean, optional, default=0'."""
    kind = _KIND_NAMES[param.kind]
    if param.choices:
        kind = "{" + ", ".join(repr(c) for c in sorted(param.choices, key=str)) + "}"
    if param.optional:
        kind += " or None"
    if param.required:
        return f"{kind}, required"
    default = param.default
    if isinstance(default, bool):
        default = int(default)
    elif isinstance(default, tuple):
        default = list(default)
    elif isinstance(default, str):
        default = repr(default)
    return f"{kind}, optional, default={default}"


def get_operator_arguments(op_name):
    """OperatorArguments(narg, names, types) of operator `op_name`: its inputs ('NDArray-or-Symbol',
    or 'NDArray-or-Symbol[]' for a variadic op's inputs) then its parameters, as MXNet lists them."""
    from .registry import find_op
    from . import ops  # noqa: F401
    op = find_op(op_name)
    if op is None:
        raise MXNetError(f"Operator {op_name} is not registered")
    names, types = [], []
    if op.variadic:
        names.append("data")
        types.append("NDArray-or-Symbol[]")
    else:
        defaults = {k: (None if p.required else p.default) for k, p in op.params.items()}
        for name in op.input_names(defaults) + op.aux_names(defaults):
            names.append(name)
            types.append("NDArray-or-Symbol")
    for param in op.params.values():
        names.append(param.name)
        types.append(_describe_type(param))
    return OperatorArguments(len(names), names, types)
