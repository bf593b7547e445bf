"""Every public function, class, method and property of every public cysym module has a
docstring, beyond the names the API reference lists (tests/test_docstrings.py checks those):
internal-looking modules such as cysym.symbol.graph or cysym.onnx.import_ops are public by
name, and people read them with help(). Modules and names starting with '_', the operator
declarations (cysym.ops, documented by the operator reference) and the compiled kernels
(cysym._ops) are left out. Needs no Sphinx."""
import importlib
import inspect
import pkgutil

import cysym
from test_docstrings import _members


def public_modules():
    for info in pkgutil.walk_packages(cysym.__path__, "cysym."):
        parts = info.name.split(".")[1:]
        if parts[0] != "ops" and not any(part.startswith("_") for part in parts):
            yield importlib.import_module(info.name)


def test_every_public_function_and_method_has_a_docstring():
    missing = []
    for module in public_modules():
        public = getattr(module, "__all__", None)
        for name, value in vars(module).items():
            if (name.startswith("_") or (public is not None and name not in public)
                    or getattr(value, "__module__", None) != module.__name__
                    or not (inspect.isfunction(value) or inspect.isclass(value))):
                continue
            if not inspect.getdoc(value):
                missing.append(f"{module.__name__}.{name}")
            if inspect.isclass(value):
                # getdoc inherits: an override of a documented method needs no docstring of its own
                missing += [f"{module.__name__}.{name}.{member}" for member in _members(value)
                            if not inspect.getdoc(getattr(value, member))]
    assert missing == [], "no docstring for:\n" + "\n".join(missing)
