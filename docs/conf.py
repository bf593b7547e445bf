"""Sphinx configuration of cysym's documentation site.

Build it from the repository root (cysym's kernels built in place or cysym installed):

    python -m sphinx -W -b html docs docs/_build/html      # the site
    python -m sphinx -W -b doctest docs docs/_build/doctest  # run the examples
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "_ext"))
# the checkout's cysym, unless an installed one comes first (CI tests the installed wheel)
sys.path.append(os.path.dirname(HERE))

import cysym  # noqa: E402

project = "cysym"
author = "the cysym developers"
copyright = "the cysym developers, Apache-2.0"
release = version = cysym.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "cysym_operators",
    "cysym_figures",
]

exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"cysym {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "none"
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# no network at build time: links to Python's and NumPy's docs are written out where needed
intersphinx_mapping = {}

doctest_global_setup = """
import numpy as np
import cysym as mx
"""
