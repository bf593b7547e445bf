"""The compiled kernels.  Modules whose loops gain from wider vectors are also built for AVX2 +
FMA, as <family>_avx2, and for AVX-512, as <family>_avx512 (setup.py); load(family) gives the
widest build this CPU runs.  CYSYM_KERNELS=baseline (or avx2) caps the builds it picks from (to
compare builds, or to rule one out).

The AVX-512 builds pay where the core runs 512-bit FMAs at full rate (AMD Zen 5, one thread,
against the AVX2 builds in the same run): softmax 1.4-1.8x faster, Adam 1.5-1.9x, exp, sigmoid
and tanh about 2x, BatchNorm 8-16%, whole networks' inference at batch 1 up to 14% faster
(SqueezeNet); the memory-bound maps run as fast as before, except relu's float64 gradient
(1.1-1.3x slower).  The convolution build vectorizes at 256 bits (setup.py, NARROW_WIDE_BUILDS).
On Zen 4, whose AVX-512 is two 256-bit halves, an element-wise build had made exp 1.6x faster
and two-input float64 maps 15% slower."""
import functools
import importlib
import importlib.util
import os

if importlib.util.find_spec(f"{__name__}.runner") is None:
    # A clear message instead of the first failing `from cysym._ops import ...` elsewhere
    raise ImportError(
        f"cysym's compiled kernels are not built in {os.path.dirname(__file__)} (this is the "
        "source tree, or a copy of it without the extension modules). Either install cysym "
        "(`pip install .` in the repository) and import it from outside the repository, so that "
        "the installed copy is found, or build the kernels in place for development: "
        "`python3 setup.py build_ext --inplace` in the repository root.")

WIDE_BUILDS = ("avx2", "avx512")     # narrowest first
SETTINGS = ("best", "baseline") + WIDE_BUILDS


@functools.cache
def load(family):
    """cysym._ops.<family> in the widest build that this CPU runs and CYSYM_KERNELS allows
    (only that build is imported)."""
    setting = os.environ.get("CYSYM_KERNELS", "best")
    if setting not in SETTINGS:
        raise ValueError(f"CYSYM_KERNELS={setting!r}: expected one of {', '.join(SETTINGS)}")
    if setting in WIDE_BUILDS:
        allowed = WIDE_BUILDS[:WIDE_BUILDS.index(setting) + 1]
    else:
        allowed = WIDE_BUILDS if setting == "best" else ()
    for build in reversed(allowed):
        module = _import(family, build)
        if module is not None:
            return module
    return _import(family, "baseline")


def builds(family):
    """Every build of cysym._ops.<family> that this machine has and can run, portable first."""
    found = (_import(family, build) for build in ("baseline",) + WIDE_BUILDS)
    return [module for module in found if module is not None]


def _import(family, build):
    """The module of one build of a family; None for a wide build that this CPU cannot run or
    that was not compiled (on other architectures)."""
    if build == "baseline":
        return importlib.import_module(f"{__name__}.{family}")
    if not _cpu_runs(build):
        return None
    name = f"{__name__}.{family}_{build}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:      # the build exists but something it needs is missing
            raise
        return None


@functools.cache
def _cpu_runs(build):
    from . import cpu
    return cpu.runs(build)
