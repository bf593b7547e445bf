"""Build the Cython kernels in cysym/_ops.

CYSYM_CHECKED=1 turns on bounds/wraparound/initialized checks (debugging);
CYSYM_ANNOTATE=1 writes Cython's HTML annotation next to each .pyx (find Python calls in hot loops).
CYSYM_ONLY=dense,runner limits an in-place development build to those modules
(name a wide build as elemwise_avx2).
CYSYM_BUILD_JOBS=n compiles on n cores (default: all of them; `build_ext -j n` does the same).
CYSYM_DEBUG_BUILD=1 compiles at -O1 with debug information and only the portable builds: the build
that sanitizers check (the wide builds are the same source), ~4x faster to compile.
"""
import os
import platform
import threading
import time
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

checked = os.environ.get("CYSYM_CHECKED") == "1"
debug_build = os.environ.get("CYSYM_DEBUG_BUILD") == "1"
compiler_directives = {
    "language_level": 3,
    "boundscheck": checked,
    "wraparound": checked,
    "initializedcheck": checked,
    "cdivision": not checked,
}

# <family>_avx2.pyx includes <family>.pyx and is compiled for wider vectors; cysym._ops.load
# picks the widest build the CPU runs, so one installation runs everywhere.
# The flags are GCC's and Clang's; elsewhere only the portable builds are made.
WIDE_FLAGS = {
    "avx2": ["-mavx2", "-mfma"],
}
wide_possible = (platform.machine().lower() in ("x86_64", "amd64") and os.name != "nt"
                 and not debug_build)
# The portable element-wise loops move 16 bytes per iteration (SSE2), few enough that loop
# overhead bounds a compare-and-select such as relu at 1.6x a copy; unrolled, it runs at 1.1x.
UNROLLED = {"elemwise": ["-funroll-loops"]}
# The kernels' threads (cysym/_ops/threads.pyx): OpenMP where GCC or Clang on Linux has it;
# elsewhere the same code runs on one thread.
OPENMP = ["-fopenmp"] if platform.system() == "Linux" else []


def build_of(name):
    """'avx2' for elemwise_avx2, None for a portable module."""
    suffix = name.rpartition("_")[2]
    return suffix if suffix in WIDE_FLAGS else None


def extension(path):
    name = os.path.splitext(os.path.basename(path))[0]
    # no errno from libm calls, so sqrt becomes one instruction and loops over it vectorize;
    # no debug information in a release build: it made compiling conv.c 45% slower
    optimize = ["-O1", "-g"] if debug_build else ["-O3", "-g0"]
    flags = optimize + ["-fno-trapping-math", "-fno-math-errno", "-falign-loops=64"]
    build = build_of(name)
    return Extension(
        "cysym._ops." + name,
        [path],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=flags + OPENMP + (WIDE_FLAGS[build] if build else UNROLLED.get(name, [])),
        extra_link_args=OPENMP,
    )


extensions = [
    extension(path)
    for path in sorted(glob(os.path.join("cysym", "_ops", "*.pyx")))
    if wide_possible or not build_of(os.path.splitext(os.path.basename(path))[0])
]
only = os.environ.get("CYSYM_ONLY")
if only:
    wanted = {"cysym._ops." + name.strip() for name in only.split(",")}
    extensions = [ext for ext in extensions if ext.name in wanted]

# Every core compiles: an install builds ~40 modules, one at a time otherwise.
jobs = int(os.environ.get("CYSYM_BUILD_JOBS") or 0) or os.cpu_count() or 1


class ParallelBuildExt(build_ext):
    """build_ext on `jobs` cores unless -j says otherwise (pip's build passes no options, so the
    default is set here), printing a line as each module is compiled (`pip install -v` shows
    them; pip hides a build's output otherwise)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = jobs

    def build_extensions(self):
        self._finished = 0
        self._lock = threading.Lock()
        print(f"cysym: building the kernel modules ({len(self.extensions)}), {self.parallel} at a time",
              flush=True)
        super().build_extensions()

    def build_extension(self, ext):
        start = time.perf_counter()
        target = self.get_ext_fullpath(ext.name)
        before = os.path.getmtime(target) if os.path.exists(target) else None
        super().build_extension(ext)
        done = ("up to date" if before == os.path.getmtime(target)
                else f"{time.perf_counter() - start:.0f} s")
        with self._lock:
            self._finished += 1
            print(f"cysym: [{self._finished}/{len(self.extensions)}] {ext.name} ({done})", flush=True)


setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=compiler_directives,
        annotate=os.environ.get("CYSYM_ANNOTATE") == "1",
        nthreads=jobs,
    ),
    cmdclass={"build_ext": ParallelBuildExt},
)
