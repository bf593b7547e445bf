"""Shape-family kernels: copies (Flatten/Reshape/expand_dims), Concat/SliceChannel, transpose,
Embedding, Dropout and the *_like fills.

Every `append_*` function validates sizes and dtypes with the GIL, then appends one native
call.  Strided walks (transpose, Dropout with `axes`) use a shape and a stride list that
`coalesce` has already simplified, so most calls reduce to one or two dimensions.
"""
from libc.stdint cimport int32_t, int64_t
from libc.string cimport memcpy, memset
from cysym._ops._blas cimport real
from cysym._ops._common cimport (common_dtype, expect_size, move_dtype, number, numeric_dtype, REQ_NULL,
                                 REQ_WRITE, REQ_ADD, step_index, req_code, DTYPE_FLOAT32,
                                 DTYPE_FLOAT64, DTYPE_INT32, DTYPE_INT64)
from cysym._ops._index cimport index_code, read_index
from cysym._ops._random cimport _splitmix64
from cysym._ops.runner cimport Plan, KernelCall, RunContext

import math

import numpy as np

cdef enum:
    MAX_DIMS = 32


def coalesce_walks(shape, stride_lists, str label="kernel", int max_dims=MAX_DIMS):
    """Simplify a walk over a C-ordered array of `shape` that reads other operands with the
    given element strides (one list per operand): drop size-1 axes and merge neighbours that
    every operand walks contiguously.  Returns (shape, [strides per operand]), at least one axis."""
    dims = []
    walks = [[] for _ in stride_lists]
    for axis in range(len(shape)):
        size = int(shape[axis])
        if size == 1:
            continue
        last = len(dims) - 1        # (no negative indexing: the module has wraparound off)
        if dims and all(walk[last] == int(st[axis]) * size for walk, st in zip(walks, stride_lists)):
            dims[last] *= size
            for walk, st in zip(walks, stride_lists):
                walk[last] = int(st[axis])
            continue
        dims.append(size)
        for walk, st in zip(walks, stride_lists):
            walk.append(int(st[axis]))
    if not dims:
        return [1], [[0] for _ in stride_lists]
    if len(dims) > max_dims:
        raise ValueError(f"{label}: kernels walk at most {max_dims} dimensions, got {len(dims)}")
    return dims, walks


def coalesce(shape, strides, str label="kernel"):
    """coalesce_walks for one strided operand: (shape, strides)."""
    dims, (walk,) = coalesce_walks(shape, [strides], label)
    return dims, walk


def c_strides(shape):
    strides, step = [], 1
    for d in reversed(tuple(shape)):
        strides.append(step)
        step *= int(d)
    return strides[::-1]


# ---------------------------------------------------------------------------------------------
# copy / fill: Flatten, Reshape, expand_dims, reshape_like, zeros_like, ones_like

cdef inline void _put(real* dst, const real* src, Py_ssize_t n, int req) noexcept nogil:
    """dst = src (skipped when they are the same memory) or dst += src."""
    cdef Py_ssize_t i
    if req == REQ_WRITE:
        if dst != src and n > 0:
            memcpy(dst, src, n * sizeof(real))
    elif req == REQ_ADD:
        for i in range(n):
            dst[i] += src[i]


cdef void copy_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, y; ints: n, req
    if c.dtype == 0:
        _put(<float*>c.arrays[1], <float*>c.arrays[0], c.ints[0], <int>c.ints[1])
    else:
        _put(<double*>c.arrays[1], <double*>c.arrays[0], c.ints[0], <int>c.ints[1])


cdef void _fill(number* y, Py_ssize_t n, number value, int req) noexcept nogil:
    cdef Py_ssize_t i
    if req == REQ_WRITE:
        if value == 0:
            memset(y, 0, n * sizeof(number))
        else:
            for i in range(n):
                y[i] = value
    elif req == REQ_ADD:
        for i in range(n):
            y[i] += value


cdef void fill_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: y; ints: n, req, value (for integer arrays); floats: value
    if c.dtype == DTYPE_FLOAT32:
        _fill(<float*>c.arrays[0], c.ints[0], <float>c.floats[0], <int>c.ints[1])
    elif c.dtype == DTYPE_FLOAT64:
        _fill(<double*>c.arrays[0], c.ints[0], c.floats[0], <int>c.ints[1])
    elif c.dtype == DTYPE_INT32:
        _fill(<int32_t*>c.arrays[0], c.ints[0], <int32_t>c.ints[2], <int>c.ints[1])
    else:
        _fill(<int64_t*>c.arrays[0], c.ints[0], <int64_t>c.ints[2], <int>c.ints[1])


def append_copy(Plan plan, x, y, str req="write", str label="_copy"):
    """y = x with y's shape (Flatten, Reshape, expand_dims, reshape_like); nothing is copied
    when the planner made y share x's memory."""
    code = req_code(req, label)
    if y.size != x.size:
        raise ValueError(f"{label}: cannot copy {x.shape} ({x.size} elements) into {y.shape} "
                         f"({y.size} elements)")
    if code == REQ_NULL:
        return
    arrays = [x, y]
    plan.add(copy_kernel, move_dtype(arrays, code, label), arrays, [x.size, code], [], label)


def append_fill(Plan plan, y, double value, str req="write", str label="_fill"):
    """y[...] = value (zeros_like, ones_like, _full); an integer y takes value converted as
    MXNet converts it (truncated toward zero)."""
    code = req_code(req, label)
    dtype = numeric_dtype([y])
    if dtype > DTYPE_INT64:
        raise TypeError(f"{label}: cannot fill a {y.dtype} array")
    if code == REQ_NULL:
        return
    integer = 0 if dtype <= DTYPE_FLOAT64 else int(np.array(value).astype(y.dtype))
    plan.add(fill_kernel, dtype, [y], [y.size, code, integer], [value], label)


# ---------------------------------------------------------------------------------------------
# Concat and SliceChannel: both view every array as (outer, axis, inner)

cdef void _concat(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: in_0..in_{n-1}, out; ints: n, outer, inner, req, a_0..a_{n-1}
    cdef Py_ssize_t n = c.ints[0], outer = c.ints[1], inner = c.ints[2]
    cdef int req = <int>c.ints[3]
    cdef Py_ssize_t total = 0, offset = 0, k, i, a
    cdef real* out = <real*>c.arrays[n]
    cdef real* src
    for k in range(n):
        total += c.ints[4 + k]
    for k in range(n):
        a = c.ints[4 + k]
        src = <real*>c.arrays[k]
        for i in range(outer):
            # out[i, offset:offset + a] = in_k[i]
            _put(out + (i * total + offset) * inner, src + i * a * inner, a * inner, req)
        offset += a


cdef void concat_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _concat(c, <float*>NULL)
    else:
        _concat(c, <double*>NULL)


cdef void _split(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: in, out_0..out_{n-1}; ints: n, outer, inner, a_0..a_{n-1}, req_0..req_{n-1}
    cdef Py_ssize_t n = c.ints[0], outer = c.ints[1], inner = c.ints[2]
    cdef Py_ssize_t total = 0, offset = 0, k, i, a
    cdef int req
    cdef real* src = <real*>c.arrays[0]
    cdef real* out
    for k in range(n):
        total += c.ints[3 + k]
    for k in range(n):
        a = c.ints[3 + k]
        req = <int>c.ints[3 + n + k]
        out = <real*>c.arrays[1 + k]
        if req != REQ_NULL:
            for i in range(outer):
                # out_k[i] = in[i, offset:offset + a]
                _put(out + i * a * inner, src + (i * total + offset) * inner, a * inner, req)
        offset += a


cdef void split_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _split(c, <float*>NULL)
    else:
        _split(c, <double*>NULL)


def axis_layout(shape, axis):
    """(outer, n, inner) of `shape` around a valid, non-negative `axis`: the element (o, j, i)
    sits at (o * n + j) * inner + i.  axis None flattens the shape: (1, size, 1)."""
    shape = [int(d) for d in shape]
    if axis is None:
        return 1, math.prod(shape), 1
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _pieces_along(str label, str what, whole, pieces, int axis, bint squeeze):
    """Check that `pieces` (shapes) stack along `axis` into `whole`; returns their axis sizes."""
    whole = tuple(whole)
    if not -len(whole) <= axis < len(whole):
        raise ValueError(f"{label}: axis {axis} is out of range for {what} shape {whole}")
    if axis < 0:
        axis += len(whole)      # (C division semantics: no negative modulo here)
    sizes = []
    for k, p in enumerate(pieces):
        p = tuple(p)
        if squeeze:
            p = p[:axis] + (1,) + p[axis:]
        if len(p) != len(whole) or p[:axis] != whole[:axis] or p[axis + 1:] != whole[axis + 1:]:
            raise ValueError(f"{label}: piece {k} of shape {tuple(pieces[k])} does not match "
                             f"{what} shape {whole} outside axis {axis}")
        sizes.append(p[axis])
    if sum(sizes) != whole[axis]:
        raise ValueError(f"{label}: pieces of sizes {sizes} along axis {axis} do not add up to "
                         f"{what} shape {whole}")
    return axis, sizes


def append_concat(Plan plan, list inputs, out, int dim=1, str req="write", str label="Concat"):
    """out = np.concatenate(inputs, axis=dim)."""
    code = req_code(req, label)
    if not inputs:
        raise ValueError(f"{label}: Concat needs at least one input")
    axis, sizes = _pieces_along(label, "output", out.shape, [a.shape for a in inputs], dim, False)
    if code == REQ_NULL:
        return
    outer, _, inner = axis_layout(out.shape, axis)
    arrays = list(inputs) + [out]
    plan.add(concat_kernel, move_dtype(arrays, code, label), arrays,
             [len(inputs), outer, inner, code] + sizes, [], label)


def append_split(Plan plan, x, list outputs, int axis=1, bint squeeze_axis=False, reqs=None,
                 str label="SliceChannel"):
    """outputs[k] = x's k-th block along `axis` (np.split; squeezed when squeeze_axis)."""
    if not outputs:
        raise ValueError(f"{label}: SliceChannel needs at least one output")
    reqs = ["write"] * len(outputs) if reqs is None else list(reqs)
    if len(reqs) != len(outputs):
        raise ValueError(f"{label}: {len(reqs)} reqs for {len(outputs)} outputs")
    codes = [req_code(r, label) for r in reqs]
    axis, sizes = _pieces_along(label, "input", x.shape, [o.shape for o in outputs], axis, squeeze_axis)
    if all(code == REQ_NULL for code in codes):
        return
    outer, _, inner = axis_layout(x.shape, axis)
    arrays = [x] + list(outputs)
    plan.add(split_kernel, move_dtype(arrays, max(codes), label), arrays,
             [len(outputs), outer, inner] + sizes + codes, [], label)


# ---------------------------------------------------------------------------------------------
# transpose: walk the output in order, read the input through permuted strides

cdef enum:
    TILE = 32


cdef void _transpose_2d_tiled(const real* x, real* y, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """y (rows, cols) = x.T with x of shape (cols, rows), in cache-sized tiles."""
    cdef Py_ssize_t r0 = 0, c0, r, c, r1, c1
    while r0 < rows:
        r1 = min(r0 + TILE, rows)
        c0 = 0
        while c0 < cols:
            c1 = min(c0 + TILE, cols)
            for r in range(r0, r1):
                for c in range(c0, c1):
                    y[r * cols + c] = x[c * rows + r]
            c0 = c1
        r0 = r1


cdef void _strided_copy(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: src, dst; ints: req, ndim, offset, shape[ndim] (of dst, coalesced), stride[ndim] (in src)
    cdef int req = <int>c.ints[0]
    cdef Py_ssize_t ndim = c.ints[1]
    cdef Py_ssize_t* shape = c.ints + 3
    cdef Py_ssize_t* stride = c.ints + 3 + ndim
    cdef const real* x = <real*>c.arrays[0] + c.ints[2]
    cdef real* y = <real*>c.arrays[1]
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t total = 1, d, j, n_inner = shape[ndim - 1], s = stride[ndim - 1]
    cdef Py_ssize_t o = 0, i = 0, rows, r
    for d in range(ndim):
        total *= shape[d]
        idx[d] = 0
    if total == 0:
        return
    if ndim == 2 and stride[0] == 1 and stride[1] == shape[0] and req == REQ_WRITE:
        # a plain matrix transpose
        _transpose_2d_tiled(x, y, shape[0], shape[1])
        return
    rows = total // n_inner
    for r in range(rows):
        # y[o:o + n_inner] (=|+=) x[i::s][:n_inner]
        if req == REQ_ADD:
            for j in range(n_inner):
                y[o + j] += x[i + j * s]
        else:
            for j in range(n_inner):
                y[o + j] = x[i + j * s]
        o += n_inner
        step_index(idx, shape, stride, ndim - 1, &i)


cdef void strided_copy_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _strided_copy(c, <float*>NULL)
    else:
        _strided_copy(c, <double*>NULL)


def strided_walk(shape, strides, Py_ssize_t offset, Py_ssize_t size, str label, str what):
    """The coalesced (shape, strides) of a walk over `shape` with element `strides` from
    `offset`, after checking that every address offset + sum(index * stride) stays inside
    an array of `size` elements."""
    shape = [int(d) for d in shape]
    strides = [int(s) for s in strides]
    if len(shape) != len(strides):
        raise ValueError(f"{label}: {len(strides)} strides for the {len(shape)}-D {what}")
    if any(d == 0 for d in shape):
        return [0], [0]
    low = offset + sum(min(0, (d - 1) * s) for d, s in zip(shape, strides))
    high = offset + sum(max(0, (d - 1) * s) for d, s in zip(shape, strides))
    if low < 0 or high >= size:
        raise ValueError(f"{label}: a strided walk of shape {tuple(shape)}, strides "
                         f"{tuple(strides)} from offset {offset} leaves an array of {size} "
                         f"elements")
    return coalesce(shape, strides, label)


def append_strided_copy(Plan plan, src, dst, Py_ssize_t offset, strides, str req="write",
                        str label="strided_copy"):
    """dst (=|+=) the view of src's flat data starting at `offset` with element `strides`
    and dst's shape: np.lib.stride_tricks.as_strided(src.ravel()[offset:], dst.shape, ...).
    Strides may be negative (reversed slices) or zero (broadcasts)."""
    code = req_code(req, label)
    shape, walk = strided_walk(dst.shape, strides, offset, src.size, label, "output")
    if code == REQ_NULL or dst.size == 0:
        return
    arrays = [src, dst]
    plan.add(strided_copy_kernel, move_dtype(arrays, code, label), arrays, [code, len(shape), offset] + shape + walk,
             [], label)


def normalize_axes(axes, int ndim, str label):
    axes = tuple(axes) if axes else tuple(range(ndim - 1, -1, -1))
    if len(axes) != ndim or not all(-ndim <= a < ndim for a in axes) or \
            sorted(a % ndim for a in axes) != list(range(ndim)):
        raise ValueError(f"{label}: axes={axes} is not a permutation of {ndim} dimensions")
    return tuple(a % ndim for a in axes)


def append_transpose(Plan plan, x, y, axes=(), str req="write", str label="transpose"):
    """y = np.transpose(x, axes); empty axes reverse the dimensions."""
    code = req_code(req, label)
    axes = normalize_axes(axes, x.ndim, label)
    expected = tuple(x.shape[a] for a in axes)
    if tuple(y.shape) != expected:
        raise ValueError(f"{label}: output shape {y.shape} is not {expected} "
                         f"(input {x.shape}, axes {axes})")
    in_strides = c_strides(x.shape)
    append_strided_copy(plan, x, y, 0, [in_strides[a] for a in axes], req, label)


# ---------------------------------------------------------------------------------------------
# Embedding: indices (float or integer) clipped into [0, input_dim) as MXNet's take(clip) does

cdef inline Py_ssize_t _row(const char* data, int code, Py_ssize_t i, Py_ssize_t rows) noexcept nogil:
    cdef double v = read_index(data, code, i)
    if v >= rows:
        return rows - 1
    if v >= 0:
        return <Py_ssize_t>v
    return 0        # negative indices and NaN


cdef void _embedding(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: data, weight, out; ints: n, input_dim, output_dim, req, data_code
    cdef Py_ssize_t n = c.ints[0], rows = c.ints[1], width = c.ints[2], i
    cdef int req = <int>c.ints[3], code = <int>c.ints[4]
    cdef const real* w = <real*>c.arrays[1]
    cdef real* out = <real*>c.arrays[2]
    for i in range(n):
        # out[i] = weight[clip(int(data[i]))]
        _put(out + i * width, w + _row(c.arrays[0], code, i, rows) * width, width, req)


cdef void embedding_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _embedding(c, <float*>NULL)
    else:
        _embedding(c, <double*>NULL)


cdef void _embedding_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out_grad, data, weight_grad; ints: n, input_dim, output_dim, req, data_code
    cdef Py_ssize_t n = c.ints[0], rows = c.ints[1], width = c.ints[2], i, j
    cdef int req = <int>c.ints[3], code = <int>c.ints[4]
    cdef const real* dy = <real*>c.arrays[0]
    cdef real* dw = <real*>c.arrays[2]
    cdef real* row
    if req == REQ_NULL:
        return
    if req == REQ_WRITE:
        memset(dw, 0, rows * width * sizeof(real))
    # np.add.at(dw, rows_of(data), dy): only the rows that occur are touched
    for i in range(n):
        row = dw + _row(c.arrays[1], code, i, rows) * width
        for j in range(width):
            row[j] += dy[i * width + j]


cdef void embedding_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _embedding_backward(c, <float*>NULL)
    else:
        _embedding_backward(c, <double*>NULL)


def _embedding_check(data, weight_shape, rows_out, str label):
    if len(weight_shape) != 2:
        raise ValueError(f"{label}: weight shape {tuple(weight_shape)} is not 2-D")
    input_dim, output_dim = weight_shape
    expected = tuple(data.shape) + (output_dim,)
    if tuple(rows_out.shape) != expected:
        raise ValueError(f"{label}: output shape {rows_out.shape} is not {expected} "
                         f"(data {data.shape}, weight {tuple(weight_shape)})")
    return input_dim, output_dim


def append_embedding(Plan plan, data, weight, out, str req="write", str label="Embedding"):
    """out = weight[np.clip(data.astype(int), 0, input_dim - 1)]."""
    code = req_code(req, label)
    input_dim, output_dim = _embedding_check(data, weight.shape, out, label)
    if code == REQ_NULL:
        return
    plan.add(embedding_kernel, common_dtype([weight, out]), [data, weight, out],
             [data.size, input_dim, output_dim, code, index_code(data, label, "data")], [], label)


def append_embedding_backward(Plan plan, out_grad, data, weight_grad, str req="write",
                              str label="_backward_Embedding"):
    """weight_grad (=|+=) np.add.at(zeros, clip(data), out_grad); data gets no gradient."""
    code = req_code(req, label)
    input_dim, output_dim = _embedding_check(data, weight_grad.shape, out_grad, label)
    if code == REQ_NULL:
        return
    plan.add(embedding_backward_kernel, common_dtype([out_grad, weight_grad]),
             [out_grad, data, weight_grad],
             [data.size, input_dim, output_dim, code, index_code(data, label, "data")], [], label)


# ---------------------------------------------------------------------------------------------
# Dropout: mask[i] = (u_i < 1 - p) / (1 - p), u from splitmix64 seeded by ctx.rng_state

cdef void _broadcast_mul(const real* x, const real* m, real* y, Py_ssize_t ndim,
                         const Py_ssize_t* shape, const Py_ssize_t* mstride, int req) noexcept nogil:
    """y (=|+=) x * m broadcast: x and y are contiguous with `shape`; m is read via mstride."""
    cdef Py_ssize_t idx[MAX_DIMS]
    cdef Py_ssize_t total = 1, d, j, n_inner = shape[ndim - 1], s = mstride[ndim - 1]
    cdef Py_ssize_t o = 0, i = 0, rows, r
    for d in range(ndim):
        total *= shape[d]
        idx[d] = 0
    if total == 0:
        return
    rows = total // n_inner
    for r in range(rows):
        if req == REQ_ADD:
            for j in range(n_inner):
                y[i + j] += x[i + j] * m[o + j * s]
        else:
            for j in range(n_inner):
                y[i + j] = x[i + j] * m[o + j * s]
        i += n_inner
        step_index(idx, shape, mstride, ndim - 1, &o)


cdef void _dropout(KernelCall* c, RunContext* ctx, real* dummy) noexcept nogil:
    # arrays: x, y, mask; ints: n_mask, always, req, ndim, shape[ndim], mstride[ndim]; floats: p
    cdef const real* x = <real*>c.arrays[0]
    cdef real* y = <real*>c.arrays[1]
    cdef real* mask = <real*>c.arrays[2]
    cdef Py_ssize_t n_mask = c.ints[0], i, n = 1
    cdef int req = <int>c.ints[2]
    cdef Py_ssize_t ndim = c.ints[3]
    cdef double keep = 1.0 - c.floats[0]
    cdef real scale = <real>(1.0 / keep) if keep > 0 else <real>0
    # u < keep  <=>  (z >> 11) < keep * 2**53 for the 53 high bits z >> 11 of a uniform draw
    cdef unsigned long long threshold = <unsigned long long>(keep * 9007199254740992.0)
    cdef unsigned long long state
    for i in range(ndim):
        n *= c.ints[4 + i]
    if not (ctx.is_train or c.ints[1]):
        # inference: the identity (nothing to do when y aliases x)
        _put(y, x, n, req)
        return
    state = ctx.rng_state
    for i in range(n_mask):
        mask[i] = scale if (_splitmix64(&state) >> 11) < threshold else <real>0
    ctx.rng_state = state
    _broadcast_mul(x, mask, y, ndim, c.ints + 4, c.ints + 4 + ndim, req)


cdef void dropout_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _dropout(c, ctx, <float*>NULL)
    else:
        _dropout(c, ctx, <double*>NULL)


cdef void _dropout_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: dy, mask, dx; ints: req, ndim, shape[ndim], mstride[ndim]
    cdef Py_ssize_t ndim = c.ints[1]
    _broadcast_mul(<real*>c.arrays[0], <real*>c.arrays[1], <real*>c.arrays[2], ndim,
                   c.ints + 2, c.ints + 2 + ndim, <int>c.ints[0])


cdef void dropout_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _dropout_backward(c, <float*>NULL)
    else:
        _dropout_backward(c, <double*>NULL)


def dropout_mask_shape(shape, axes, str label="Dropout"):
    """The mask's shape: the data's, with every axis in `axes` set to 1 (variational dropout)."""
    mask = list(shape)
    for a in axes or ():
        if not -len(mask) <= a < len(mask):
            raise ValueError(f"{label}: axis {a} in axes={tuple(axes)} is out of range for "
                             f"data shape {tuple(shape)}")
        mask[a % len(mask)] = 1
    return tuple(mask)


def _mask_walk(x, mask, axes, str label):
    expected = dropout_mask_shape(x.shape, axes, label)
    if tuple(mask.shape) != expected:
        raise ValueError(f"{label}: mask shape {mask.shape} is not {expected} (data {x.shape}, "
                         f"axes {tuple(axes or ())})")
    strides = [0 if m == 1 else s for m, s in zip(expected, c_strides(expected))]
    return coalesce(x.shape, strides)


def append_dropout(Plan plan, x, y, mask, double p=0.5, str mode="training", axes=(),
                   str req="write", str label="Dropout"):
    """Training (or mode='always'): mask = (uniform < 1-p) / (1-p) drawn from the plan's RNG
    state, y = x * mask (broadcast over `axes`).  Otherwise y = x and mask is untouched."""
    code = req_code(req, label)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{label}: p={p} is outside [0, 1]")
    if mode not in ("training", "always"):
        raise ValueError(f"{label}: mode must be 'training' or 'always', not {mode!r}")
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(f"{label}: output shape {y.shape} differs from data shape {x.shape}")
    shape, strides = _mask_walk(x, mask, axes, label)
    arrays = [x, y, mask]
    plan.add(dropout_kernel, common_dtype(arrays), arrays,
             [mask.size, mode == "always", code, len(shape)] + shape + strides, [p], label)


def append_dropout_backward(Plan plan, out_grad, mask, data_grad, axes=(), str req="write",
                            str label="_backward_Dropout"):
    """data_grad (=|+=) out_grad * mask (broadcast over `axes`)."""
    code = req_code(req, label)
    if tuple(data_grad.shape) != tuple(out_grad.shape):
        raise ValueError(f"{label}: gradient shape {data_grad.shape} differs from {out_grad.shape}")
    shape, strides = _mask_walk(out_grad, mask, axes, label)
    if code == REQ_NULL:
        return
    arrays = [out_grad, mask, data_grad]
    plan.add(dropout_backward_kernel, common_dtype(arrays), arrays,
             [code, len(shape)] + shape + strides, [], label)
