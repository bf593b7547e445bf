"""Kernels of the odds and ends of cysym/ops/misc.py: writing into a strided window
(_slice_assign, _slice_assign_scalar), one element per row (fill_element_0index), all_finite,
ravel/unravel of multi-indices, the Khatri-Rao product and _histogram.

As in the other families, every `append_*` function checks sizes with the GIL and appends one
native call; the loops never raise.
"""
from libc.math cimport isfinite
from cysym._ops._blas cimport real
from libc.stdint cimport int32_t, int64_t
from cysym._ops._common cimport (common_dtype, move_dtype, number, numeric_dtype, step_index,
                                 REQ_WRITE, DTYPE_FLOAT32, DTYPE_FLOAT64, DTYPE_INT32, DTYPE_INT64)
from cysym._ops._index cimport index_code, read_index
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops.shape import strided_walk

cdef enum:
    MAX_DIMS = 32


# ---------------------------------------------------------------------------------------------
# window assignment: dst's view at (offset, strides) = src, or = a scalar

cdef void _window_assign(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: dst[, src (contiguous, the window's shape)]; ints: ndim, offset, shape, strides;
    # floats: scalar (when there is no src)
    cdef Py_ssize_t ndim = c.ints[0]
    cdef Py_ssize_t* shape = c.ints + 2
    cdef Py_ssize_t* stride = c.ints + 2 + ndim
    cdef real* dst = <real*>c.arrays[0] + c.ints[1]
    cdef const real* src = <real*>c.arrays[1] if c.n_arrays > 1 else NULL
    cdef real value = <real>c.floats[0]
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t total = 1, d, j, n_inner = shape[ndim - 1], s = stride[ndim - 1]
    cdef Py_ssize_t o = 0, i = 0, r
    for d in range(ndim):
        total *= shape[d]
        idx[d] = 0
    if total == 0:
        return
    for r in range(total // n_inner):
        # dst[i::s][:n_inner] = src[o:o + n_inner] (or value)
        if src != NULL:
            for j in range(n_inner):
                dst[i + j * s] = src[o + j]
        else:
            for j in range(n_inner):
                dst[i + j * s] = value
        o += n_inner
        step_index(idx, shape, stride, ndim - 1, &i)


cdef void window_assign_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _window_assign(c, <float*>NULL)
    else:
        _window_assign(c, <double*>NULL)


def append_window_assign(Plan plan, dst, window_shape, Py_ssize_t offset, strides, src=None,
                         double scalar=0.0, str label="window_assign"):
    """The view of dst at `offset`/`strides` with `window_shape` = src (its shape) or = scalar;
    the rest of dst is left as it is (the caller copies the base in first)."""
    if src is not None and tuple(src.shape) != tuple(window_shape):
        raise ValueError(f"{label}: the value has shape {src.shape}, the window {tuple(window_shape)}")
    shape, walk = strided_walk(window_shape, strides, offset, dst.size, label, "window")
    if any(s == 0 for d, s in zip(shape, walk) if d > 1):
        raise ValueError(f"{label}: a window may not repeat addresses (zero stride)")
    arrays = [dst] + ([] if src is None else [src])
    # copying src moves bits, so integer arrays go as the float of their width
    dtype = common_dtype(arrays) if src is None else move_dtype(arrays, REQ_WRITE, label)
    plan.add(window_assign_kernel, dtype, arrays, [len(shape), offset] + shape + walk, [scalar], label)


# ---------------------------------------------------------------------------------------------
# fill_element_0index: out[i, int(index[i])] = values[i] in each row of a matrix

cdef void _fill_row_element(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out (rows, columns), values (rows,), index (rows,); ints: rows, columns, index code
    cdef Py_ssize_t rows = c.ints[0], columns = c.ints[1], i, j
    cdef int code = <int>c.ints[2]
    cdef real* out = <real*>c.arrays[0]
    cdef const real* values = <real*>c.arrays[1]
    cdef double position
    for i in range(rows):
        # an index outside the row (or NaN) fills nothing, as MXNet's comparison x == int(index)
        position = read_index(c.arrays[2], code, i)
        if position > -1 and position < columns:
            j = <Py_ssize_t>position
            out[i * columns + j] = values[i]


cdef void fill_row_element_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _fill_row_element(c, <float*>NULL)
    else:
        _fill_row_element(c, <double*>NULL)


def append_fill_row_element(Plan plan, out, values, index, str label="fill_element_0index"):
    """out[i, int(index[i])] = values[i] for each row i of the matrix out (the rest unchanged)."""
    if out.ndim != 2 or values.shape != (out.shape[0],) or index.shape != (out.shape[0],):
        raise ValueError(f"{label}: values {values.shape} and index {index.shape} must have one "
                         f"entry per row of {out.shape}")
    plan.add(fill_row_element_kernel, common_dtype([out, values]), [out, values, index],
             [out.shape[0], out.shape[1], index_code(index, label, "index")], [], label)


# ---------------------------------------------------------------------------------------------
# all_finite, multi_all_finite: out[0] = 1 when every element of every input is finite

cdef void all_finite_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: inputs..., out (float32, one element); ints: init_output, then per input its size
    # and dtype code (0 float32, 1 float64)
    cdef Py_ssize_t k, i, n
    cdef Py_ssize_t count = c.n_arrays - 1
    cdef float* out = <float*>c.arrays[count]
    cdef bint finite = True
    for k in range(count):
        n = c.ints[1 + 2 * k]
        if c.ints[2 + 2 * k] == 0:
            for i in range(n):
                if not isfinite((<const float*>c.arrays[k])[i]):
                    finite = False
                    break
        else:
            for i in range(n):
                if not isfinite((<const double*>c.arrays[k])[i]):
                    finite = False
                    break
        if not finite:
            break
    if c.ints[0]:
        out[0] = 1
    if not finite:
        out[0] = 0


def append_all_finite(Plan plan, list inputs, out, bint init_output=True, str label="all_finite"):
    """out[0] = 0 if any element of the inputs is inf or NaN, else 1 (init_output) or unchanged."""
    if out.size != 1 or out.dtype.name != "float32":
        raise ValueError(f"{label}: the output must be one float32 element, got {out.dtype} {out.shape}")
    ints = [init_output]
    for array in inputs:
        ints += [array.size, common_dtype([array])]
    plan.add(all_finite_kernel, 0, inputs + [out], ints, [], label)


# ---------------------------------------------------------------------------------------------
# ravel / unravel of multi-indices (float or integer index arrays, the output in the input's type)

cdef void _ravel(KernelCall* c, number* dummy) noexcept nogil:
    # arrays: data (ndim, N), out (N,) or data (N,), out (ndim, N); ints: unravel, N, ndim, shape
    cdef bint unravel = c.ints[0] != 0
    cdef Py_ssize_t n = c.ints[1], ndim = c.ints[2], i, j, index, quotient
    cdef Py_ssize_t* shape = c.ints + 3
    cdef const number* data = <number*>c.arrays[0]
    cdef number* out = <number*>c.arrays[1]
    for i in range(n):
        if unravel:
            # C-order digits of the index; the first axis keeps whatever is left (no modulo)
            index = <Py_ssize_t>data[i]
            for j in range(ndim - 1, 0, -1):
                quotient = index // shape[j] if index >= 0 else -((-index) // shape[j])
                out[i + j * n] = <number>(index - quotient * shape[j])
                index = quotient
            out[i] = <number>index
        else:
            index = 0
            for j in range(ndim):
                index = index * shape[j] + <Py_ssize_t>data[i + j * n]
            out[i] = <number>index


cdef void ravel_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == DTYPE_FLOAT32:
        _ravel(c, <float*>NULL)
    elif c.dtype == DTYPE_FLOAT64:
        _ravel(c, <double*>NULL)
    elif c.dtype == DTYPE_INT32:
        _ravel(c, <int32_t*>NULL)
    else:
        _ravel(c, <int64_t*>NULL)


def append_ravel(Plan plan, data, out, shape, bint unravel, str label="ravel_multi_index"):
    """out = np.ravel_multi_index(data, shape) (data (ndim, N)) or, unravel, the inverse (data
    (N,), out (ndim, N)), with MXNet's integer arithmetic: no range check or wrapping."""
    ndim = len(shape)
    n = data.size if unravel else (data.shape[1] if data.ndim == 2 else 0)
    if out.size != (ndim * n if unravel else n) or data.size != (n if unravel else ndim * n):
        raise ValueError(f"{label}: data {data.shape} and output {out.shape} do not match "
                         f"shape={tuple(shape)}")
    arrays = [data, out]
    code = numeric_dtype(arrays)
    if code > DTYPE_INT64:
        raise TypeError(f"{label}: indices must be float32, float64, int32 or int64, not {data.dtype}")
    plan.add(ravel_kernel, code, arrays, [unravel, n, ndim] + list(shape), [], label)


# ---------------------------------------------------------------------------------------------
# khatri_rao: the column-wise Kronecker product of matrices (I_k, J) -> (prod I_k, J)

cdef void _khatri_rao(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: inputs..., out; ints: count, J, rows of each input
    cdef Py_ssize_t count = c.ints[0], columns = c.ints[1], k, j, row, total = 1
    cdef Py_ssize_t* rows = c.ints + 2
    cdef real* out = <real*>c.arrays[count]
    cdef Py_ssize_t index[MAX_DIMS]
    cdef real product
    for k in range(count):
        total *= rows[k]
        index[k] = 0
    for row in range(total):
        # out[row, :] = prod_k inputs[k][index[k], :] where row = ravel(index)
        for j in range(columns):
            product = 1
            for k in range(count):
                product = product * (<const real*>c.arrays[k])[index[k] * columns + j]
            out[row * columns + j] = product
        k = count - 1
        while k >= 0:
            index[k] += 1
            if index[k] < rows[k]:
                break
            index[k] = 0
            k -= 1


cdef void khatri_rao_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _khatri_rao(c, <float*>NULL)
    else:
        _khatri_rao(c, <double*>NULL)


def append_khatri_rao(Plan plan, list inputs, out, str label="khatri_rao"):
    """out = the column-wise Kronecker product of the (I_k, J) inputs, shape (prod I_k, J)."""
    if len(inputs) > MAX_DIMS:
        raise ValueError(f"{label}: at most {MAX_DIMS} inputs, got {len(inputs)}")
    columns = out.shape[1] if out.ndim == 2 else 0
    rows = [a.shape[0] for a in inputs]
    total = 1
    for r in rows:
        total *= r
    if any(a.ndim != 2 or a.shape[1] != columns for a in inputs) or out.shape != (total, columns):
        raise ValueError(f"{label}: inputs {[a.shape for a in inputs]} do not give {out.shape}")
    arrays = inputs + [out]
    plan.add(khatri_rao_kernel, common_dtype(arrays), arrays, [len(inputs), columns] + rows, [],
             label)


# ---------------------------------------------------------------------------------------------
# _histogram: counts of data in bins given by their edges (uniform over a range, or an array)

cdef void _histogram(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: data, edges (out, bins + 1), counts (int64, bins)[, bounds (the bins input)];
    # ints: n, bins; floats: low, high (uniform bins, when there is no bounds input)
    cdef Py_ssize_t n = c.ints[0], bins = c.ints[1], i, b, low_b, high_b, middle
    cdef bint uniform = c.n_arrays == 3
    cdef const real* data = <real*>c.arrays[0]
    cdef real* edges = <real*>c.arrays[1]
    cdef long long* counts = <long long*>c.arrays[2]
    cdef double low = c.floats[0], high = c.floats[1]
    cdef real x
    for b in range(bins + 1):
        if uniform:
            edges[b] = <real>((high * b + (bins - b) * low) / bins)
        else:
            edges[b] = (<const real*>c.arrays[3])[b]
    for b in range(bins):
        counts[b] = 0
    for i in range(n):
        x = data[i]
        if uniform:
            # MXNet's ComputeBinKernel: the bin of the range's arithmetic, corrected by one
            # where the rounded edges disagree
            if not (x >= low and x <= high):
                continue
            b = <Py_ssize_t>((x - low) * bins / (high - low))
            if b > bins - 1:
                b = bins - 1
            if x < edges[b]:
                b -= 1
            if x >= edges[b + 1] and b != bins - 1:
                b += 1
        else:
            # outside [edges[0], edges[bins]] (or NaN): not counted; else the last edge <= x,
            # the last bin closed
            if not (x >= edges[0] and x <= edges[bins]):
                continue
            low_b, high_b = 0, bins
            while high_b - low_b > 1:
                middle = (low_b + high_b) // 2
                if edges[middle] <= x:
                    low_b = middle
                else:
                    high_b = middle
            b = low_b
        counts[b] += 1


cdef void histogram_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _histogram(c, <float*>NULL)
    else:
        _histogram(c, <double*>NULL)


def append_histogram(Plan plan, data, edges, counts, bounds=None, double low=0.0, double high=1.0,
                     str label="_histogram"):
    """counts[b] = the number of data values in [edges[b], edges[b + 1]) (the last bin closed);
    edges = the bounds input, or bins + 1 evenly spaced ones over [low, high]."""
    bins = counts.size
    if edges.size != bins + 1 or counts.dtype.name != "int64" or bins < 1:
        raise ValueError(f"{label}: {edges.size} edges and {counts.dtype} counts of {bins} bins")
    arrays = [data, edges, counts] + ([] if bounds is None else [bounds])
    plan.add(histogram_kernel, common_dtype([data, edges] + arrays[3:]), arrays, [data.size, bins],
             [low, high], label)
