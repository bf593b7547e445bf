"""Every public name of the API reference (docs/api/*.rst) has a docstring, and so has every
public method and property of its classes: Sphinx's autodoc leaves undocumented members out of
the site silently, so this is what keeps the reference complete. Needs no Sphinx."""
import importlib
import inspect
import re
from pathlib import Path

import pytest

API = Path(__file__).parent.parent / "docs" / "api"
DIRECTIVE = re.compile(r"\.\. automodule:: (?P<module>[\w.]+)\n(?P<options>(?:   :[^\n]*\n)*)")


def documented_names():
    """(module, [names]) per automodule directive: its explicit :members: list, else __all__,
    less :exclude-members:."""
    pages = []
    for page in sorted(API.glob("*.rst")):
        for match in DIRECTIVE.finditer(page.read_text()):
            module = importlib.import_module(match["module"])
            options = dict(re.findall(r"   :([\w-]+):(.*)", match["options"]))
            listed = [n.strip() for n in options.get("members", "").split(",") if n.strip()]
            excluded = {n.strip() for n in options.get("exclude-members", "").split(",")}
            names = listed or list(getattr(module, "__all__", []))
            pages.append((match["module"], [n for n in names if n not in excluded]))
    return pages


def _members(cls):
    """Public methods and properties a class defines itself (inherited ones are documented where
    they are defined)."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property) or inspect.isfunction(value):
            yield name


def test_the_reference_names_modules():
    modules = {module for module, _ in documented_names()}
    assert {"cysym.symbol", "cysym.module", "cysym.executor", "cysym.visualization"} <= modules


@pytest.mark.parametrize("module_name,names", documented_names(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_public_name_has_a_docstring(module_name, names):
    module = importlib.import_module(module_name)
    missing = []
    for name in names:
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj) and obj.__module__.startswith("cysym"):
            # getdoc inherits: an override of a documented method needs no docstring of its own
            missing += [f"{name}.{member}" for member in _members(obj)
                        if not inspect.getdoc(getattr(obj, member))]
    assert missing == [], f"{module_name}: no docstring for {missing}"
