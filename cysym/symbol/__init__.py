"""cysym.sym / cysym.symbol: Variable, Group, load, and one function per operator."""
import numpy as np

from .. import ops as _ops  # noqa: F401  (registers every operator)
from .creation import arange, eye, full, linspace
from .json_format import load, load_json
from .op_functions import public_functions as _public_functions
from .op_namespace import OpNamespace as _OpNamespace, symbol_function as _symbol_function
from .random_functions import install as _install_samplers
from .symbol import Group, Symbol, Variable, var, hypot, maximum, minimum, pow, power  # noqa: A004
from .symbol import install_fluent_methods as _install_fluent_methods


class _Namespace:
    """Holds the functions whose names start with '_' (MXNet's `sym._internal`)."""


_internal = _Namespace()
for _name, _function in _public_functions().items():
    if _name.startswith("_"):
        setattr(_internal, _name, _function)
    globals()[_name] = _function
del _name, _function



def zeros(shape, dtype=None, **kwargs):
    """A symbol of zeros of the given shape (MXNet's mx.sym.zeros); dtype None takes the
    consumers' dtype."""
    return _internal._zeros(shape=shape, dtype=None if dtype is None else np.dtype(dtype).name, **kwargs)


def ones(shape, dtype=None, **kwargs):
    """A symbol of ones of the given shape (MXNet's mx.sym.ones); dtype None takes the
    consumers' dtype."""
    return _internal._ones(shape=shape, dtype=None if dtype is None else np.dtype(dtype).name, **kwargs)


contrib = _OpNamespace(f"{__name__}.contrib", "_contrib_", _symbol_function)
linalg = _OpNamespace(f"{__name__}.linalg", "_linalg_", _symbol_function)
image = _OpNamespace(f"{__name__}.image", "_image_", _symbol_function)
# mx.sym.random: MXNet's samplers (uniform, normal, ...) and the other _random_<name> operators
random = _OpNamespace(f"{__name__}.random", "_random_", _symbol_function)
_install_samplers(random)

_install_fluent_methods()

__all__ = ["Symbol", "Variable", "var", "Group", "load", "load_json", "zeros", "ones", "arange", "linspace",
           "full", "eye", "contrib", "linalg", "image", "random", "pow", "power", "maximum", "minimum", "hypot"] + sorted(
    n for n in _public_functions() if not n.startswith("_"))
