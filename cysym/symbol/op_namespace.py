"""MXNet's operator sub-namespaces: `mx.sym.contrib.<name>` (and `mx.nd.contrib.<name>`) is the
operator registered as `_contrib_<name>`, as MXNet's generated `contrib` modules are."""
import functools
import sys
import types

from ..registry import all_ops, find_op
from .op_functions import make_op_function
from .symbol import create_op

__all__ = ["OpNamespace", "symbol_function"]


def symbol_function(op, registered_name, function_name):
    """The Symbol function `function_name` of an operator: like cysym.sym's, but an unnamed node
    is named after `function_name` (`mx.sym.contrib.arange_like` makes `arange_like0`, as in
    MXNet)."""
    generated = make_op_function(op, registered_name)

    @functools.wraps(generated)
    def op_function(*args, **kwargs):
        return create_op(registered_name, *args, hint=function_name, **kwargs)

    op_function.__name__ = op_function.__qualname__ = function_name
    return op_function


class OpNamespace(types.ModuleType):
    """A module whose attribute `<name>` is the function of operator `<prefix><name>`, made on
    first use by `make_function(op, registered_name, name)`; importable as `module_name`."""

    def __init__(self, module_name, prefix, make_function):
        super().__init__(module_name, f"The operators registered as {prefix}<name>, as <name>.")
        self._prefix = prefix
        self._make_function = make_function
        sys.modules[module_name] = self

    def _registered_names(self):
        return sorted(name for op in all_ops() if not op.hidden for name in (op.name,) + op.aliases
                      if name.startswith(self._prefix))

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        registered = self._prefix + attribute
        op = find_op(registered)
        if op is None or op.hidden:
            raise AttributeError(f"module {self.__name__!r} has no operator {attribute!r} "
                                 f"(no operator {registered!r} is registered)")
        function = self._make_function(op, registered, attribute)
        setattr(self, attribute, function)
        return function

    def __dir__(self):
        return sorted(set(super().__dir__())
                      | {name[len(self._prefix):] for name in self._registered_names()})

    @property
    def __all__(self):
        return [name[len(self._prefix):] for name in self._registered_names()]
