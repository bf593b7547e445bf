"""Generates one Python function per registered operator (cysym.sym.FullyConnected, ...).

Each function has a real inspect.Signature (inputs, then the parameters with their
defaults, then name and attr) and a docstring built from the declaration, so that
help(cysym.sym.FullyConnected) reads like MXNet's documentation.  No source is exec'd.
"""
import inspect

from ..registry import REQUIRED, all_ops
from .symbol import create_op

__all__ = ["make_op_function", "public_functions"]


def operator_signature(op, input_names, trailing):
    """inspect.Signature of a generated operator function: `*data` for a variadic op, then
    the named inputs (positional or keyword), then the parameters and `trailing` names as
    keyword-only arguments."""
    P = inspect.Parameter
    parameters = [P("data", P.VAR_POSITIONAL)] if op.variadic else []
    parameters += [P(name, P.POSITIONAL_OR_KEYWORD, default=None) for name in input_names]
    for param in op.params.values():
        if op.variadic and param.name == op.variadic:
            continue
        default = P.empty if param.default is REQUIRED else param.default
        parameters.append(P(param.name, P.KEYWORD_ONLY, default=default))
    parameters += [P(name, P.KEYWORD_ONLY, default=None) for name in trailing]
    return inspect.Signature(parameters)


def _signature(op):
    inputs = []
    if not op.variadic:
        defaults = {k: (None if p.required else p.default) for k, p in op.params.items()}
        inputs = op.input_names(defaults) + op.aux_names(defaults)
    return operator_signature(op, inputs, ("name", "attr"))


def _docstring(op, func_name):
    lines = [op.doc or op.name, ""]
    if func_name != op.name:
        lines += [f"Alias of {op.name}.", ""]
    lines += ["Parameters", "----------"]
    if op.variadic:
        lines += ["*data : Symbol", "    The input symbols."]
    else:
        defaults = {k: (None if p.required else p.default) for k, p in op.params.items()}
        for input_name in op.input_names(defaults):
            lines += [f"{input_name} : Symbol", f"    The {input_name} input."]
        for aux_name in op.aux_names(defaults):
            lines += [f"{aux_name} : Symbol", f"    Auxiliary state {aux_name}."]
    lines += [param.describe() for param in op.params.values()]
    lines += ["name : str, optional", "    Name of the resulting symbol.",
              "attr : dict of str to str, optional", "    Attributes to attach.",
              "", "Returns", "-------", "Symbol"]
    return "\n".join(lines)


def make_op_function(op, func_name):
    """The function mx.sym.<func_name>: builds a node of op, with op's signature and docstring."""

    def op_function(*args, **kwargs):
        return create_op(func_name, *args, **kwargs)

    op_function.__name__ = func_name
    op_function.__qualname__ = func_name
    op_function.__signature__ = _signature(op)
    op_function.__doc__ = _docstring(op, func_name)
    return op_function


def public_functions():
    """{function name: function} for every registered name, aliases included."""
    functions = {}
    for op in all_ops():
        if op.hidden:
            continue
        for func_name in (op.name,) + op.aliases:
            functions[func_name] = make_op_function(op, func_name)
    return functions
