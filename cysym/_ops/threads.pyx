"""Threads of the kernels: how many, and the BLAS library's own count.

A kernel splits its work over `count()` threads (OpenMP) only into independent parts (output
tiles, channels, planes, element ranges, column blocks of a GEMM).  Parts split by channels,
planes or elements give the same bits at any thread count; a GEMM split into blocks agrees with
the whole product to float rounding (OpenBLAS's summation depends on the matrix shape), so in
deterministic mode (`set_deterministic`) the GEMMs split into the same blocks at every thread
count, and results are the same bits whatever the count.  The BLAS that SciPy links (OpenBLAS)
runs one thread while a
plan runs: the kernels split the GEMMs themselves, and two thread pools on the same cores
thrash.  Holding it costs two calls per run, so cysym sets it to one thread at import (the
thread count it started with becomes the kernels' default) and a run only checks it."""
import ctypes
import os
import warnings

cdef int _count = 1
cdef bint _deterministic = False
cdef void (*_blas_set)(int) noexcept nogil
cdef int (*_blas_get)() noexcept nogil
cdef bint _blas_small_gemm = False
_blas_avx512 = False

# OpenBLAS's AVX-512 kernel sets (its core names, lower case; the SkylakeX family, which
# DYNAMIC_ARCH also picks for AMD's AVX-512 cores): their GEMM runs twice the multiply-adds per
# cycle of the AVX2 sets, and has small-matrix kernels that read the operands in place instead
# of packing them (OpenBLAS's SMALL_MATRIX_OPT)
_AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")

# SciPy's OpenBLAS prefixes its symbols (scipy_openblas...); other builds do not
_BLAS_SETTERS = ("scipy_openblas_set_num_threads", "openblas_set_num_threads",
                 "scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_")


cdef int count() noexcept nogil:
    return _count


cdef bint deterministic() noexcept nogil:
    return _deterministic


cdef int hold_blas() noexcept nogil:
    """OpenBLAS's thread count before holding it to one (0: nothing held).  cysym set it to one
    at import; this costs one read unless the user raised it since (threadpoolctl)."""
    cdef int held
    if _blas_set == NULL:
        return 0
    held = _blas_get()
    if held > 1:
        _blas_set(1)
        return held
    return 0


cdef void release_blas(int held) noexcept nogil:
    if held > 1:
        _blas_set(held)


cdef bint blas_small_gemm() noexcept nogil:
    """Whether the BLAS's GEMM has small-matrix kernels (_AVX512_CORES)."""
    return _blas_small_gemm


def _find_blas_controls():
    """The thread-count functions of the BLAS that scipy.linalg.cython_blas calls (dlsym on
    that module's handle also searches the libraries it links), and its kernel set."""
    global _blas_set, _blas_get, _blas_small_gemm, _blas_avx512
    from scipy.linalg import cython_blas
    library = ctypes.CDLL(cython_blas.__file__)
    _blas_avx512 = _blas_small_gemm = (blas_core_name(library) or "").lower() in _AVX512_CORES
    for setter in _BLAS_SETTERS:
        getter = setter.replace("set_", "get_")
        try:
            set_fn, get_fn = getattr(library, setter), getattr(library, getter)
        except AttributeError:
            continue
        _blas_set = <void (*)(int) noexcept nogil><size_t>ctypes.cast(set_fn, ctypes.c_void_p).value
        _blas_get = <int (*)() noexcept nogil><size_t>ctypes.cast(get_fn, ctypes.c_void_p).value
        return setter
    return None


def blas_core_name(library=None):
    """The kernel set OpenBLAS chose for this CPU ('Haswell', 'SkylakeX', ...; OPENBLAS_CORETYPE
    overrides its choice), or None for another BLAS."""
    if library is None:
        from scipy.linalg import cython_blas
        library = ctypes.CDLL(cython_blas.__file__)
    for name in ("scipy_openblas_get_corename", "openblas_get_corename",
                 "scipy_openblas_get_corename64_", "openblas_get_corename64_"):
        function = getattr(library, name, None)
        if function is not None:
            function.restype = ctypes.c_char_p
            return function().decode()
    return None


def blas_avx512_kernels():
    """Whether the BLAS's GEMM runs OpenBLAS's AVX-512 kernels (_AVX512_CORES)."""
    return _blas_avx512


def blas_small_gemm_kernels():
    """Whether cysym runs small float32 products against large weights in blocks that the
    BLAS's small-matrix GEMM kernels take (cysym/_ops/dense.pyx)."""
    return _blas_small_gemm


def _set_blas_small_gemm_kernels(bint enabled):
    """Override blas_small_gemm_kernels (tests run both ways of the product on any BLAS: the
    blocks give the same numbers with or without those kernels, only slower without)."""
    global _blas_small_gemm
    _blas_small_gemm = enabled


def blas_controls():
    """The name of the BLAS function cysym holds the BLAS threads with (None: not found)."""
    return _BLAS_NAME


def blas_num_threads():
    """The BLAS library's own thread count now (None where cysym cannot read it)."""
    return _blas_get() if _blas_get != NULL else None


def set_num_threads(int threads):
    """Run the kernels on `threads` threads (at least 1; one where the kernels were compiled
    without OpenMP, and in a child process forked from one whose kernels ran threads)."""
    global _count
    if threads < 1:
        raise ValueError(f"set_num_threads: the thread count must be at least 1, got {threads}")
    if threads > 1 and _forked:
        warnings.warn("cysym: this process was forked from one whose kernels ran OpenMP threads, "
                      "which do not survive fork(); its kernels keep to one thread",
                      RuntimeWarning, stacklevel=2)
        threads = 1
    _count = threads if _OPENMP_BUILD else 1


def set_deterministic(bint enabled):
    """Whether the kernels give the same bits at every thread count (default: off, or on when
    the environment sets CYSYM_DETERMINISTIC or MXNET_ENFORCE_DETERMINISM to 1).  On, a large
    GEMM always splits into the same blocks, whichever threads run them: on one thread that
    costs a few percent (more BLAS calls); on more threads than the blocks, some threads idle."""
    global _deterministic
    _deterministic = enabled


def get_deterministic():
    """Whether the kernels' numbers are independent of the thread count (set_deterministic)."""
    return _deterministic


cdef bint _forked = False


def _after_fork_in_child():
    # GNU OpenMP keeps its thread pool's bookkeeping across fork() but not the threads: the
    # child's first parallel region would wait for them forever
    global _count, _forked
    _forked = True
    _count = 1


def get_num_threads():
    """The threads the kernels run on."""
    return _count


def openmp():
    """Whether the kernels were compiled with OpenMP (without it they run on one thread)."""
    return _OPENMP_BUILD


cdef extern from *:
    """
    #ifdef _OPENMP
    #define CYSYM_OPENMP 1
    #else
    #define CYSYM_OPENMP 0
    #endif
    """
    int CYSYM_OPENMP



def _default_count():
    """OMP_NUM_THREADS as MXNet read it, else as many threads as OpenBLAS starts with (its own
    variables, else one per CPU this process may run on)."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return blas_num_threads() or _cpus_available()


def _cpus_available():
    """The CPUs this process may run on (its affinity mask where the OS has one: Linux)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _default_deterministic():
    """CYSYM_DETERMINISTIC, else MXNet's MXNET_ENFORCE_DETERMINISM, set to a non-zero integer."""
    for name in ("CYSYM_DETERMINISTIC", "MXNET_ENFORCE_DETERMINISM"):
        value = os.environ.get(name, "").strip()
        if value:
            return value.lstrip("-").isdigit() and int(value) != 0
    return False


_OPENMP_BUILD = bool(CYSYM_OPENMP)
_deterministic = _default_deterministic()
_BLAS_NAME = _find_blas_controls()
set_num_threads(_default_count())
if _blas_set != NULL:
    _blas_set(1)
if hasattr(os, "register_at_fork"):   # not on Windows, which has no fork()
    os.register_at_fork(after_in_child=_after_fork_in_child)
