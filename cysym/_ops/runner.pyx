"""The loop that executes a bound plan: a C array of kernel calls, run without the GIL."""
from libc.stdlib cimport malloc, free, realloc
from libc.string cimport memset
cimport numpy as cnp
from cysym._ops cimport threads
import numpy as np

cdef extern from *:
    """
    /* a monotonic clock in seconds: POSIX's clock_gettime, Windows' performance counter */
    #ifdef _WIN32
    #include <windows.h>
    static double cysym_seconds(void) {
        LARGE_INTEGER count, frequency;
        QueryPerformanceCounter(&count);
        QueryPerformanceFrequency(&frequency);
        return (double)count.QuadPart / (double)frequency.QuadPart;
    }
    #else
    #include <time.h>
    static double cysym_seconds(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec + 1e-9 * t.tv_nsec;
    }
    #endif
    """
    double cysym_seconds() noexcept nogil

cnp.import_array()

KERNEL_ERRORS = {
    1: "index out of range",
    2: "out of memory for the kernel's scratch",
}


class KernelError(RuntimeError):
    """A kernel met bad data; the executor turns this into an MXNetError naming the operator."""


cdef int dtype_code(object array) except -1:
    cdef cnp.ndarray a = <cnp.ndarray?>array
    cdef int num = cnp.PyArray_TYPE(a)
    if num == cnp.NPY_FLOAT32:
        return 0
    if num == cnp.NPY_FLOAT64:
        return 1
    raise TypeError(f"kernels take float32 or float64 arrays, not {array.dtype}")


cdef char* data_pointer(object array) except NULL:
    cdef cnp.ndarray a = <cnp.ndarray?>array
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError("kernels take C-contiguous arrays")
    cdef char* p = <char*>cnp.PyArray_DATA(a)
    if p == NULL:
        # a zero-size array may have no data; any non-NULL address is safe as nothing is read
        return <char*>&_empty_sentinel
    return p


cdef double _empty_sentinel = 0.0


cdef class Plan:
    """A flat list of kernel calls on pre-resolved buffers."""

    def __cinit__(self):
        self.calls = NULL
        self.n_calls = 0
        self.capacity = 0
        memset(&self.ctx, 0, sizeof(RunContext))
        self.keepalive = []
        self.python_calls = []
        self.labels = []

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.calls != NULL:
            for i in range(self.n_calls):
                free(self.calls[i].arrays)     # the call's one block (see add)
            free(self.calls)

    def __len__(self):
        return self.n_calls

    cdef KernelCall* _grow(self) except NULL:
        cdef KernelCall* grown
        cdef Py_ssize_t new_capacity
        if self.n_calls == self.capacity:
            new_capacity = max(16, 2 * self.capacity)
            grown = <KernelCall*>realloc(self.calls, new_capacity * sizeof(KernelCall))
            if grown == NULL:
                raise MemoryError()
            self.calls = grown
            self.capacity = new_capacity
        cdef KernelCall* call = &self.calls[self.n_calls]
        memset(call, 0, sizeof(KernelCall))
        call.python_index = -1
        self.n_calls += 1
        return call

    cdef KernelCall* add(self, kernel_fn fn, int dtype, list arrays, ints, floats, str label) except NULL:
        cdef Py_ssize_t i
        cdef object value
        if type(ints) is not list and type(ints) is not tuple:
            ints = list(ints)
        if type(floats) is not list and type(floats) is not tuple:
            floats = list(floats)
        cdef Py_ssize_t n_arrays = len(arrays), n_ints = len(ints), n_floats = len(floats)
        cdef KernelCall* call = self.reserve(fn, dtype, n_arrays, n_ints, n_floats, arrays, label)
        try:
            for i in range(n_arrays):
                call.arrays[i] = data_pointer(arrays[i])
            for i in range(n_ints):
                value = ints[i]
                call.ints[i] = value if type(value) is int else int(value)
            for i in range(n_floats):
                value = floats[i]
                call.floats[i] = value if type(value) is float else float(value)
        except BaseException:
            self._drop_last()
            raise
        return call

    cdef KernelCall* reserve(self, kernel_fn fn, int dtype, Py_ssize_t n_arrays, Py_ssize_t n_ints,
                             Py_ssize_t n_floats, object keepalive, str label) except NULL:
        """A new call of `fn` with room for its array pointers, ints and floats, which the caller
        fills (keepalive: what holds its arrays): for entry points that fill them from values
        they have checked, without making lists."""
        cdef KernelCall* call = self._grow()
        # one block for the three lists (all 8-byte items), each with one spare item so that an
        # empty list still has an address: a bind makes one call per node of graphs of 10^5
        cdef char* block = <char*>malloc((n_arrays + n_ints + n_floats + 3) * 8)
        if block == NULL:
            self.n_calls -= 1
            raise MemoryError()
        call.fn = fn
        call.dtype = dtype
        call.arrays = <char**>block
        call.ints = <Py_ssize_t*>(block + (n_arrays + 1) * 8)
        call.floats = <double*>(block + (n_arrays + n_ints + 2) * 8)
        call.n_arrays = <int>n_arrays
        call.n_ints = <int>n_ints
        call.n_floats = <int>n_floats
        self.keepalive.append(keepalive)
        self.labels.append(label)
        return call

    cdef void _drop_last(self) noexcept:
        """Undo the last reserve (its filling failed)."""
        self.n_calls -= 1
        free(self.calls[self.n_calls].arrays)
        self.calls[self.n_calls].arrays = NULL
        self.keepalive.pop()
        self.labels.pop()

    def add_python(self, callback, str label):
        """Append a call that runs `callback()` with the GIL held (CustomOp, reference kernels)."""
        cdef KernelCall* call = self._grow()
        call.python_index = len(self.python_calls)
        self.python_calls.append(callback)
        self.labels.append(label)

    def set_seed(self, unsigned long long state):
        self.ctx.rng_state = state

    @property
    def is_train(self):
        """The flag of the pass running now, for Python calls (CustomOp.forward's is_train)."""
        return bool(self.ctx.is_train)

    def run(self, Py_ssize_t begin=0, Py_ssize_t end=-1, bint is_train=False):
        """Run calls[begin:end]; native calls run back to back without the GIL."""
        cdef Py_ssize_t i = begin
        cdef Py_ssize_t stop = self.n_calls if end < 0 else min(end, self.n_calls)
        cdef int held_blas
        self.ctx.is_train = is_train
        self.ctx.error_code = 0
        while i < stop:
            if self.calls[i].fn == NULL:
                self.python_calls[self.calls[i].python_index]()
                i += 1
                continue
            with nogil:
                held_blas = threads.hold_blas()
                while i < stop and self.calls[i].fn != NULL:
                    self.calls[i].fn(&self.calls[i], &self.ctx)
                    if self.ctx.error_code != 0:
                        self.ctx.error_call = i
                        break
                    i += 1
                threads.release_blas(held_blas)
            if self.ctx.error_code != 0:
                self._raise_kernel_error()

    def run_timed(self, Py_ssize_t begin, Py_ssize_t end, bint is_train, double[:, ::1] spans):
        """Run calls[begin:end] as run() does, one at a time, writing each call's start and
        duration in seconds (monotonic clock) to spans[i - begin] (for cysym.profiler)."""
        cdef Py_ssize_t i
        cdef Py_ssize_t stop = self.n_calls if end < 0 else min(end, self.n_calls)
        cdef double start
        cdef int held_blas
        if spans.shape[0] < stop - begin or spans.shape[1] != 2:
            raise ValueError(f"spans must have shape ({stop - begin}, 2)")
        self.ctx.is_train = is_train
        self.ctx.error_code = 0
        for i in range(begin, stop):
            start = cysym_seconds()
            if self.calls[i].fn == NULL:
                self.python_calls[self.calls[i].python_index]()
            else:
                with nogil:
                    held_blas = threads.hold_blas()
                    self.calls[i].fn(&self.calls[i], &self.ctx)
                    threads.release_blas(held_blas)
                if self.ctx.error_code != 0:
                    self.ctx.error_call = i
                    self._raise_kernel_error()
            spans[i - begin, 0] = start
            spans[i - begin, 1] = cysym_seconds() - start

    def _raise_kernel_error(self):
        code = self.ctx.error_code
        raise KernelError(f"{self.labels[self.ctx.error_call]}: "
                         f"{KERNEL_ERRORS.get(code, 'kernel error %d' % code)}")

