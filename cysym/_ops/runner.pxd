# The contract between the run loop and every kernel family.
#
# A bound executor is a flat list of KernelCall records.  Each kernel family's
# `append_<op>` function (Python-callable, in its own .pyx) validates nothing
# about the graph: it receives arrays the executor already checked, stores their
# data pointers and the integer/float parameters the kernel needs, and registers
# a C function pointer.  The loop then runs every call without touching Python.

cdef struct RunContext:
    bint is_train
    unsigned long long rng_state   # advanced by random kernels (Dropout)
    int error_code                 # set by a kernel that met bad data (e.g. an index out of range)
    Py_ssize_t error_call


cdef struct KernelCall:
    void (*fn)(KernelCall* call, RunContext* ctx) noexcept nogil
    int dtype                      # 0: float32, 1: float64 (others by kernel convention)
    int n_arrays
    int n_ints
    int n_floats
    char** arrays                  # data pointers, in the order the append_ function chose
    Py_ssize_t* ints
    double* floats
    Py_ssize_t python_index        # >= 0: no fn; call Plan.python_calls[python_index] with the GIL


ctypedef void (*kernel_fn)(KernelCall* call, RunContext* ctx) noexcept nogil


cdef class Plan:
    cdef KernelCall* calls
    cdef Py_ssize_t n_calls
    cdef Py_ssize_t capacity
    cdef RunContext ctx
    cdef readonly list keepalive      # every array a call points into stays alive with the plan
    cdef readonly list python_calls
    cdef readonly list labels         # one label per call, for error messages and debug output

    cdef KernelCall* _grow(self) except NULL
    cdef KernelCall* add(self, kernel_fn fn, int dtype, list arrays, ints, floats, str label) except NULL
    # (declared after add: modules built against the earlier list of methods keep working)
    cdef KernelCall* reserve(self, kernel_fn fn, int dtype, Py_ssize_t n_arrays, Py_ssize_t n_ints,
                             Py_ssize_t n_floats, object keepalive, str label) except NULL
    cdef void _drop_last(self) noexcept


cdef int dtype_code(object array) except -1
cdef char* data_pointer(object array) except NULL
