"""Build the Cython kernels in cysym/_ops.

CYSYM_CHECKED=1 turns on bounds/wraparound/initialized checks (debugging);
CYSYM_ANNOTATE=1 writes Cython's HTML annotation next to each .pyx (find Python calls in hot loops).
CYSYM_ONLY=dense,runner limits an in-place development build to those modules.
"""
import os
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

checked = os.environ.get("CYSYM_CHECKED") == "1"
compiler_directives = {
    "language_level": 3,
    "boundscheck": checked,
    "wraparound": checked,
    "initializedcheck": checked,
    "cdivision": not checked,
}

extensions = [
    Extension(
        "cysym._ops." + os.path.splitext(os.path.basename(path))[0],
        [path],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3", "-fno-trapping-math", "-falign-loops=64"],
    )
    for path in sorted(glob(os.path.join("cysym", "_ops", "*.pyx")))
]
only = os.environ.get("CYSYM_ONLY")
if only:
    wanted = {"cysym._ops." + name.strip() for name in only.split(",")}
    extensions = [ext for ext in extensions if ext.name in wanted]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=compiler_directives,
        annotate=os.environ.get("CYSYM_ANNOTATE") == "1",
    )
)
