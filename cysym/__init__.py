"""cysym: MXNet's Symbol API on modern Python, with statically planned memory and Cython kernels."""
__version__ = "0.1.0"

from . import base, name, attribute, registry  # noqa: F401
from .base import MXNetError
from .attribute import AttrScope
from . import symbol
from . import symbol as sym

__all__ = ["MXNetError", "AttrScope", "sym", "symbol", "name", "attribute", "base"]
