"""Build the Cython kernels in cysym/_ops.

CYSYM_CHECKED=1 turns on bounds/wraparound/initialized checks (debugging);
CYSYM_ANNOTATE=1 writes Cython's HTML annotation next to each .pyx (find Python calls in hot loops).
CYSYM_ONLY=dense,runner limits an in-place development build to those modules
(name a wide build as elemwise_avx2).
CYSYM_BUILD_JOBS=n compiles on n cores (default: all of them; `build_ext -j n` does the same).
CYSYM_DEBUG_BUILD=1 compiles at -O1 with debug information and only the portable builds: the build
that sanitizers check (the wide builds are the same source), ~4x faster to compile.
CYSYM_CYTHON_CACHE=dir keeps the C that Cython generates in dir and reuses it for a module whose
inputs are unchanged (asv_bench/dashboard.sh sets it, so a commit translates only what it changed).
"""
import hashlib
import os
import platform
import threading
import time
from glob import glob

import numpy
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

# <family>_avx2.pyx and <family>_avx512.pyx include <family>.pyx and are compiled for wider
# vectors; cysym._ops.load picks the widest build the CPU runs, so one installation runs everywhere.
# The flags per compiler family: GCC's spelling (GCC, Clang, MinGW) and MSVC's.
WIDE_FLAGS = {
    "avx2": {"gcc": ["-mavx2", "-mfma"], "msvc": ["/arch:AVX2"]},   # /arch:AVX2 also allows FMA
    # AVX-512 F/BW/DQ/VL (Intel since 2017, AMD since Zen 4); GCC's default tuning would keep
    # its loops at 256 bits, half the width of the cores that run 512-bit FMAs at full rate
    "avx512": {"gcc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma",
                       "-mprefer-vector-width=512"],
               "msvc": ["/arch:AVX512"]},
}
# Not on Windows yet: cysym/_ops/cpu.pyx detects AVX2 under MSVC too, and conv.pyx's direct
# block has plain loops for compilers without GCC's vector extension (_direct_block.h), but no
# Windows build has been run.
wide_possible = (platform.machine().lower() in ("x86_64", "amd64") and os.name != "nt"
                 and not debug_build)
# The portable element-wise loops move 16 bytes per iteration (SSE2), few enough that loop
# overhead bounds a compare-and-select such as relu at 1.6x a copy; unrolled, it runs at 1.1x.
UNROLLED = {"elemwise": ["-funroll-loops"]}
# conv's AVX-512 build keeps the loops GCC vectorizes at 256 bits (its explicit blocks,
# _direct_block.h, _depthwise_lanes.h, _depthwise_rows.h and _pointwise_block.h, stay 512 bits
# wide): at 512 the loops over short rows fall to their scalar remainders.  One thread, Zen 5, the two settings: LeNet's training step
# (2x2 max-pool backward over 12- and 4-wide rows) 10.5 ms at 512, 8.3 at 256 (8.9 with the AVX2
# build); MobileNet v1/v2, ResNet-50 and VGG-11 at batch 1 and 2 the same either way (0.99-1.02).
NARROW_WIDE_BUILDS = {"conv_avx512": ["-mprefer-vector-width=256"]}


def build_of(name):
    """'avx2' for elemwise_avx2, None for a portable module."""
    suffix = name.rpartition("_")[2]
    return suffix if suffix in WIDE_FLAGS else None


def compiler_flags(compiler_type, name, system=platform.system()):
    """(compile arguments, link arguments) of kernel module `name` (e.g. 'conv_avx2') for a
    compiler of distutils' `compiler_type` ('unix', 'msvc', 'mingw32', ...) on `system`."""
    build = build_of(name)
    if compiler_type == "msvc":
        # MSVC's OpenMP (2.0) covers the kernels' parallel loops; it needs no link flag
        optimize = ["/Od", "/Zi"] if debug_build else ["/O2"]
        return optimize + ["/openmp"] + (WIDE_FLAGS[build]["msvc"] if build else []), []
    # no errno from libm calls, so sqrt becomes one instruction and loops over it vectorize;
    # no debug information in a release build: it made compiling conv.c 45% slower
    optimize = ["-O1", "-g"] if debug_build else ["-O3", "-g0"]
    flags = optimize + ["-fno-trapping-math", "-fno-math-errno", "-falign-loops=64"]
    # The kernels' threads (cysym/_ops/threads.pyx): OpenMP where GCC or Clang on Linux has it
    # (Apple's Clang has none); elsewhere the same code runs on one thread.
    openmp = ["-fopenmp"] if system == "Linux" else []
    if build:
        return flags + openmp + WIDE_FLAGS[build]["gcc"] + NARROW_WIDE_BUILDS.get(name, []), openmp
    return flags + openmp + UNROLLED.get(name, []), openmp


def extension(path):
    """The module's Extension; its compiler flags are set when the compiler is known
    (ParallelBuildExt.set_compiler_flags)."""
    name = os.path.splitext(os.path.basename(path))[0]
    return Extension(
        "cysym._ops." + name,
        [path],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
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

    def set_compiler_flags(self):
        """Each module's flags in the spelling of the compiler this build runs."""
        for ext in self.extensions:
            ext.extra_compile_args, ext.extra_link_args = compiler_flags(
                self.compiler.compiler_type, ext.name.rpartition(".")[2])

    def build_extensions(self):
        self.set_compiler_flags()
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


def cython_cache(root):
    """The folder under `root` for Cython's cache (cythonize(cache=...)). Cython's key covers the
    module's source, its version, the directives and the .pxd files its dependency scan finds; the
    scan misses `from package cimport module` (threads.pxd, SciPy's cython_blas.pxd). So the folder
    is named after what the key can miss: every .pxd/.pxi of the package, NumPy's and SciPy's
    versions, and NumPy's include folder (written into the C's metadata comment)."""
    import scipy

    digest = hashlib.sha256(f"{numpy.__version__} {scipy.__version__} {numpy.get_include()}".encode())
    for path in sorted(glob(os.path.join("cysym", "**", "*.pxd"), recursive=True)
                       + glob(os.path.join("cysym", "**", "*.pxi"), recursive=True)):
        with open(path, "rb") as source:
            digest.update(f"\0{path}\0".encode() + source.read())
    return os.path.join(root, digest.hexdigest()[:16])


# pip's build runs this file as __main__ too; tests/test_setup_flags.py imports it for its flags
if __name__ == "__main__":
    from Cython.Build import cythonize   # a build requirement, not one of the tests'

    cache_root = os.environ.get("CYSYM_CYTHON_CACHE")
    setup(
        ext_modules=cythonize(
            extensions,
            compiler_directives=compiler_directives,
            annotate=os.environ.get("CYSYM_ANNOTATE") == "1",
            nthreads=jobs,
            cache=cython_cache(cache_root) if cache_root else None,
        ),
        cmdclass={"build_ext": ParallelBuildExt},
    )
