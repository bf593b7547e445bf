"""The compiled kernels.  Modules whose loops gain from wider vectors are also built for
AVX2 + FMA, as <family>_avx2 (setup.py); load(family) gives the build this CPU runs fastest.
CYSYM_KERNELS=baseline forces the portable builds (to compare, or to rule a build out)."""
import functools
import importlib
import os

WIDE_SUFFIX = "_avx2"


@functools.cache
def load(family):
    """The kernel module cysym._ops.<family>, or its AVX2 + FMA build where the CPU runs that."""
    if os.environ.get("CYSYM_KERNELS", "best") != "baseline" and _cpu_has_avx2_fma():
        wide = f"{__name__}.{family}{WIDE_SUFFIX}"
        try:
            return importlib.import_module(wide)
        except ModuleNotFoundError as error:
            if error.name != wide:      # the wide build exists but something it needs is missing
                raise
    return importlib.import_module(f"{__name__}.{family}")


def builds(family):
    """Every build of cysym._ops.<family> that this machine has and can run, portable first."""
    found = [importlib.import_module(f"{__name__}.{family}")]
    if _cpu_has_avx2_fma():
        try:
            found.append(importlib.import_module(f"{__name__}.{family}{WIDE_SUFFIX}"))
        except ModuleNotFoundError:
            pass
    return found


@functools.cache
def _cpu_has_avx2_fma():
    from . import cpu
    return cpu.has_avx2_fma()
