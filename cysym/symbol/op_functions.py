"""Generates one Python function per registered operator (cysym.sym.FullyConnected, ...).

Each function has a real inspect.Signature (inputs, then the parameters with their
defaults, then name and attr) and a docstring built from the declaration, so that
help(cysym.sym.FullyConnected) reads like MXNet's documentation.  No source is exec'd.
"""
import inspect

from ..registry import REQUIRED, all_ops
from .symbol import create_op

__all__ = ["make_op_function", "public_functions"]


def _signature(op):
    P = inspect.Parameter
    parameters = []
    if op.variadic:
        parameters.append(P("data", P.VAR_POSITIONAL))
    else:
        defaults = {k: (None if p.required else p.default) for k, p in op.params.items()}
        for input_name in op.input_names(defaults) + op.aux_names(defaults):
            parameters.append(P(input_name, P.POSITIONAL_OR_KEYWORD, default=None))
    kind = P.KEYWORD_ONLY
    for param in op.params.values():
        if op.variadic and param.name == op.variadic:
            continue
        default = P.empty if param.default is REQUIRED else param.default
        parameters.append(P(param.name, kind, default=default))
    parameters.append(P("name", kind, default=None))
    parameters.append(P("attr", kind, default=None))
    return inspect.Signature(parameters)


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
