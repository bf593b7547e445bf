"""Dense-layer kernels: FullyConnected forward and its one-pass backward (dX, dW, db), and the
same with a relu after the layer (cysym/dense_fusion.py binds them)."""
from libc.string cimport memset

from cython.parallel cimport prange

from cysym._ops cimport threads
from cysym._ops._blas cimport real, gemm_split_from, gemm_unsplit, gemv, ger
from cysym._ops._common cimport (common_dtype, expect_size, scratch, REQ_NULL, REQ_WRITE, REQ_ADD,
                                 req_code)
from cysym._ops.runner cimport Plan, KernelCall, RunContext


cdef enum Shape:
    GENERAL = 0     # gemm
    ONE_ROW = 1     # batch 1: gemv over w, outer products for dw
    ONE_COLUMN = 2  # one hidden unit: gemv over x, outer products for dx


# The float32 forward of a few rows (a small batch) against many outputs runs faster in OpenBLAS
# as the transposed product w @ x.T (outputs x rows) followed by one pass that transposes it into
# y and adds the bias.  Measured on a Zen 3 core with OpenBLAS's Haswell kernels, one layer, best
# of 9 (bench_dense.py): 256 -> 256 at 2-8 rows 2.5-3.3x faster, 16 rows 1.8x, 32 rows 1.4x;
# 784 -> 128 at 32 rows 1.4x.  Not taken: from 48-64 rows on the gain shrinks (1.1-1.25x, and
# losses before the transposing pass went by blocks), nor in float64 (dgemm, 0.8-1.0x).  The
# input gradient as w.T @ dy.T won alone (1.15-1.6x) but lost inside the 20-layer MLP's
# training step (1.3x its time; the forward alone 0.90-0.93x), and keeps the direct product.
cdef enum:
    TRANSPOSED_MAX_ROWS = 32
    TRANSPOSED_MIN_OUTPUTS = 64
    TRANSPOSED_INNER_PER_ROW = 4
    TRANSPOSE_BLOCK = 16


# A dense layer's GEMM runs on one thread below this many multiply-adds (the kernels' general
# rule, _blas.pxd's GEMM_SPLIT_WORK, splits from 2^19).  FullyConnected + relu forward and
# backward on 2 threads against 1, pinned to both cores, at a load of 11 (bench_dense shapes):
# 16x256x256 (1M per GEMM) 1.30x slower, 64x256x256 (4M) 0.97x, 32x784x128 (3.2M) 0.88x,
# 128x784x128 0.76x, 1024x784x128 0.57x.
cdef enum:
    DENSE_SPLIT_WORK = 1 << 21


# The transposed product of a few rows against a large float32 weight, on a BLAS whose GEMM has
# small-matrix kernels (threads.blas_small_gemm: OpenBLAS on AVX-512 cores), runs in blocks of
# weight rows of at most SMALL_GEMM_WORK multiply-adds, which those kernels take: in one call,
# OpenBLAS's packed path copies the whole weight first.  One thread, Zen 5, SkylakeX kernels,
# best of 8, one call -> blocks: 9216 -> 4096 (AlexNet's fc6) at 2 / 4 / 8 rows 15.0 -> 4.7 /
# 6.5 / 9.6 ms, 4096 -> 4096 at 2 / 16 / 32 rows 6.7 -> 2.1 / 5.0 / 9.1 ms, 2048 -> 512 at 2 rows
# 0.36 -> 0.05 ms, 512 -> 1000 at 2 / 32 rows 0.128 -> 0.025 / 0.244 -> 0.220 ms.  Not taken:
# blocks under SMALL_GEMM_MIN_ROWS rows (9216 -> 4096 at 16 rows, 3-row blocks: 1.11x slower),
# weights under SMALL_GEMM_MIN_WEIGHTS (256 -> 256 at 32 rows: 1.17x), float64 (its gains are
# half as large and turn to losses at 4-row blocks), and the Haswell kernels (no small-matrix
# kernels: blocks 1.0-8x slower).  The backward's products take blocks of at least
# SMALL_GEMM_MIN_GRADIENT_ROWS weight rows: dw = dy.T @ x by blocks of its rows, 9216 -> 4096 at
# 2 / 8 rows 15.5 -> 8.4 / 14.8 -> 8.5 ms, 1000 -> 2048 at 8 rows 0.63 -> 0.25 ms (8-row blocks:
# 0.68-1.40x); dx = dy @ w summed over blocks of w's rows, 9216 -> 4096 at 2 / 4 rows 14.3 ->
# 7.2 / 19.0 -> 8.4 ms, 2048 -> 1000 at 4 rows 0.59 -> 0.17 ms (8-row blocks: 0.86-2.8x; blocks
# of w's columns instead: up to 4x slower).
cdef enum:
    SMALL_GEMM_WORK = 1 << 19
    SMALL_GEMM_MIN_ROWS = 4
    SMALL_GEMM_MIN_GRADIENT_ROWS = 16
    SMALL_GEMM_MIN_WEIGHTS = 1 << 17
    SMALL_GEMM_COLUMN_ALIGN = 16


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k, real alpha,
                      const real* a, int lda, const real* b, int ldb, real beta,
                      real* c, int ldc) noexcept nogil:
    """_blas.gemm, split only from DENSE_SPLIT_WORK multiply-adds."""
    gemm_split_from(DENSE_SPLIT_WORK, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc)


cdef inline Shape _shape(Py_ssize_t rows, Py_ssize_t in_dim, Py_ssize_t hidden) noexcept nogil:
    # One row or one output column is a matrix-vector product: OpenBLAS's gemm with a single
    # column on either side runs far below its gemv (10x and more on this machine).  Empty
    # sizes stay with gemm, which writes beta * C when the summed length is 0; gemv returns.
    if rows == 0 or in_dim == 0 or hidden == 0:
        return GENERAL
    if rows == 1:
        return ONE_ROW
    if hidden == 1:
        return ONE_COLUMN
    return GENERAL


cdef inline real _relu(real v) noexcept nogil:
    # relu's own rule (cysym/_ops/elemwise.pyx): NaN gives 0
    return v if v > 0 else <real>0


cdef void _fc_forward(real* x, real* w, real* b, real* y, real* work,
                      Py_ssize_t rows, Py_ssize_t in_dim, Py_ssize_t hidden, bint relu) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef real beta = 0
    if work != NULL:
        # work = w @ x.T, then y = work.T + b (relu'd) in one pass (see fc_transposed)
        _transposed_product(x, w, work, rows, in_dim, hidden)
        _transpose_into(work, y, hidden, rows, b, relu)
        return
    if b != NULL:
        for i in range(rows):
            for j in range(hidden):
                y[i * hidden + j] = b[j]
        beta = 1
    if in_dim == 0:     # y = b (or 0); BLAS refuses the leading dimension 0 of empty rows
        if b == NULL:
            memset(y, 0, rows * hidden * sizeof(real))
    else:
        _fc_product(x, w, y, rows, in_dim, hidden, beta)
    if relu:
        # the product is still in cache: y = relu(y), the bias already in it as in the
        # unfused layer (the same bits)
        for i in range(rows * hidden):
            y[i] = _relu(y[i])


cdef inline Py_ssize_t _small_gemm_block(const real* w, Py_ssize_t rows, Py_ssize_t in_dim,
                                         Py_ssize_t hidden, Py_ssize_t min_block) noexcept nogil:
    """Weight rows per BLAS call for a product of `rows` rows against the (hidden, in_dim)
    weight w, each call at most SMALL_GEMM_WORK multiply-adds; 0: one call (float64, no
    small-matrix kernels, a small weight, blocks under min_block rows, or one block anyway)."""
    cdef Py_ssize_t block = SMALL_GEMM_WORK // max(1, rows * in_dim)
    if (real is double or not threads.blas_small_gemm() or hidden * in_dim < SMALL_GEMM_MIN_WEIGHTS
            or block < min_block or block >= hidden):
        return 0
    return block


cdef void _gemm_row_blocks(bint trans_a, bint trans_b, int m, int n, int k, const real* a,
                           int lda, const real* b, int ldb, real beta, real* c, int ldc,
                           Py_ssize_t block) noexcept nogil:
    """C[m, n] = op(A) @ op(B) + beta * C (row-major, _blas.gemm's conventions) in blocks of
    `block` rows of C, each one BLAS call; the blocks depend on the shape only and are shared
    by the threads."""
    cdef Py_ssize_t blocks = (m + block - 1) // block, first, last
    cdef int parts = min(threads.parts_for(<double>m * k), <int>blocks), part
    for part in prange(parts, num_threads=parts, schedule="static"):
        first = threads.split_point(blocks, parts, part, 1) * block
        last = min(threads.split_point(blocks, parts, part + 1, 1) * block, m)
        _row_blocks(trans_a, trans_b, first, last, n, k, a, lda, b, ldb, beta, c, ldc, block)


cdef inline void _row_blocks(bint trans_a, bint trans_b, Py_ssize_t first, Py_ssize_t last,
                             int n, int k, const real* a, int lda, const real* b, int ldb,
                             real beta, real* c, int ldc, Py_ssize_t block) noexcept nogil:
    # rows first..last of _gemm_row_blocks' C, `block` rows per call
    cdef Py_ssize_t start = first
    while start < last:         # (a range with a variable step needs the GIL)
        gemm_unsplit(trans_a, trans_b, <int>(min(start + block, last) - start), n, k, <real>1,
                     a + (start if trans_a else start * lda), lda, b, ldb, beta,
                     c + start * ldc, ldc)
        start += block


cdef void _transposed_product(const real* x, const real* w, real* work, Py_ssize_t rows,
                              Py_ssize_t in_dim, Py_ssize_t hidden) noexcept nogil:
    """work = w @ x.T: one GEMM, or blocks of w's rows for small-matrix kernels (see
    SMALL_GEMM_WORK)."""
    cdef Py_ssize_t block = _small_gemm_block(w, rows, in_dim, hidden, SMALL_GEMM_MIN_ROWS)
    if block:
        _gemm_row_blocks(False, True, <int>hidden, <int>rows, <int>in_dim, w, <int>in_dim, x,
                         <int>in_dim, <real>0, work, <int>rows, block)
    else:
        gemm(False, True, <int>hidden, <int>rows, <int>in_dim, <real>1, w, <int>in_dim,
             x, <int>in_dim, <real>0, work, <int>rows)


cdef void _fc_product(real* x, real* w, real* y, Py_ssize_t rows, Py_ssize_t in_dim, Py_ssize_t hidden,
                      real beta) noexcept nogil:
    """y = x @ w.T + beta * y, through gemv for one row or one output column."""
    cdef Shape shape = _shape(rows, in_dim, hidden)
    if shape == ONE_ROW:
        # y[0] = w @ x[0] (+ y)
        gemv(False, <int>hidden, <int>in_dim, <real>1, w, <int>in_dim, x, 1, beta, y, 1)
    elif shape == ONE_COLUMN:
        # y[:, 0] = x @ w[0] (+ y)
        gemv(False, <int>rows, <int>in_dim, <real>1, x, <int>in_dim, w, 1, beta, y, 1)
    else:
        # y = x @ w.T (+ y holding the broadcast bias)
        gemm(False, True, <int>rows, <int>hidden, <int>in_dim, <real>1, x, <int>in_dim,
             w, <int>in_dim, beta, y, <int>hidden)


cdef void _transpose_into(const real* source, real* target, Py_ssize_t m, Py_ssize_t n,
                          const real* b, bint relu) noexcept nogil:
    """target[n, m] = source[m, n].T, plus b[j] on column j when b is given, relu'd when asked.
    n is small (the rows of a small batch); a block of columns at a time, each target row
    written in order (column by column, a row length that is a multiple of 4 KB made the writes
    alias: 8x slower at 1024 columns)."""
    cdef Py_ssize_t i, j, block, j0, j1
    for block in range((m + TRANSPOSE_BLOCK - 1) // TRANSPOSE_BLOCK):
        j0 = block * TRANSPOSE_BLOCK
        j1 = min(j0 + TRANSPOSE_BLOCK, m)
        for i in range(n):
            if b != NULL:
                for j in range(j0, j1):
                    target[i * m + j] = source[j * n + i] + b[j]
            else:
                for j in range(j0, j1):
                    target[i * m + j] = source[j * n + i]
            if relu:
                for j in range(j0, j1):
                    target[i * m + j] = _relu(target[i * m + j])


cdef void fc_forward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: x, w, b (or absent), y, workspace (or absent); ints: rows, in_dim, hidden, has_bias,
    # transposed, relu
    cdef bint has_bias = c.ints[3]
    cdef int y_slot = 3 if has_bias else 2
    cdef bint transposed = c.ints[4]
    if c.dtype == 0:
        _fc_forward(<float*>c.arrays[0], <float*>c.arrays[1],
                    <float*>c.arrays[2] if has_bias else NULL, <float*>c.arrays[y_slot],
                    <float*>c.arrays[y_slot + 1] if transposed else NULL,
                    c.ints[0], c.ints[1], c.ints[2], c.ints[5])
    else:
        _fc_forward(<double*>c.arrays[0], <double*>c.arrays[1],
                    <double*>c.arrays[2] if has_bias else NULL, <double*>c.arrays[y_slot],
                    <double*>c.arrays[y_slot + 1] if transposed else NULL,
                    c.ints[0], c.ints[1], c.ints[2], c.ints[5])


cdef void _outer(Py_ssize_t m, Py_ssize_t n, real* u, real* v, real* a, int req) noexcept nogil:
    """a[m, n] = outer(u, v) ('write') or a += outer(u, v) ('add'), row-major."""
    if req == REQ_WRITE:
        memset(a, 0, m * n * sizeof(real))
    if n == 1:
        # a[:, 0] += u * v[0], as the one row a.T of the same memory: BLAS's ger walks
        # columns, and m columns of length 1 cost ~100x one of length m
        ger(1, <int>m, <real>1, v, 1, u, 1, a, <int>m)
    else:
        # a += np.outer(u, v)
        ger(<int>m, <int>n, <real>1, u, 1, v, 1, a, <int>n)


cdef void _input_gradient(const real* dy, const real* w, real* dx, Py_ssize_t rows,
                          Py_ssize_t in_dim, Py_ssize_t hidden, real beta) noexcept nogil:
    """dx = dy @ w + beta * dx: one GEMM, or, for small-matrix kernels, a sum over blocks of
    w's rows (contiguous: blocks of its columns ran slower), each thread summing them for its
    own columns of dx; the blocks depend on the shape only."""
    cdef Py_ssize_t block = _small_gemm_block(w, rows, in_dim, hidden, SMALL_GEMM_MIN_GRADIENT_ROWS)
    cdef Py_ssize_t first, last
    cdef int parts, part
    if not block:
        gemm(False, False, <int>rows, <int>in_dim, <int>hidden, <real>1, dy, <int>hidden,
             w, <int>in_dim, beta, dx, <int>in_dim)
        return
    parts = threads.parts_for(<double>hidden * in_dim)
    for part in prange(parts, num_threads=parts, schedule="static"):
        first = threads.split_point(in_dim, parts, part, SMALL_GEMM_COLUMN_ALIGN)
        last = threads.split_point(in_dim, parts, part + 1, SMALL_GEMM_COLUMN_ALIGN)
        if last > first:
            _input_gradient_columns(dy, w, dx, rows, in_dim, hidden, beta, first, last, block)


cdef inline void _input_gradient_columns(const real* dy, const real* w, real* dx, Py_ssize_t rows,
                                         Py_ssize_t in_dim, Py_ssize_t hidden, real beta,
                                         Py_ssize_t first, Py_ssize_t last,
                                         Py_ssize_t block) noexcept nogil:
    # columns first..last of _input_gradient's dx, summed over blocks of `block` weight rows
    cdef Py_ssize_t start = 0
    while start < hidden:       # (a range with a variable step needs the GIL)
        gemm_unsplit(False, False, <int>rows, <int>(last - first),
                     <int>(min(start + block, hidden) - start), <real>1, dy + start, <int>hidden,
                     w + start * in_dim + first, <int>in_dim, beta if start == 0 else <real>1,
                     dx + first, <int>in_dim)
        start += block


cdef void _fc_backward(real* dy, real* x, real* w, real* dx, real* dw, real* db,
                       Py_ssize_t rows, Py_ssize_t in_dim, Py_ssize_t hidden,
                       int req_dx, int req_dw, int req_db) noexcept nogil:
    cdef Py_ssize_t i, j, block
    cdef real beta_dx = 1 if req_dx == REQ_ADD else 0
    cdef real beta_dw = 1 if req_dw == REQ_ADD else 0
    cdef Shape shape = _shape(rows, in_dim, hidden)
    if in_dim == 0:     # dx and dw are empty (and BLAS refuses their leading dimension 0)
        req_dx = req_dw = REQ_NULL
    if req_dx != REQ_NULL:
        if shape == ONE_ROW:
            # dx[0] = w.T @ dy[0]   (+= when req is add)
            gemv(True, <int>hidden, <int>in_dim, <real>1, w, <int>in_dim, dy, 1, beta_dx, dx, 1)
        elif shape == ONE_COLUMN:
            # dx = np.outer(dy[:, 0], w[0])
            _outer(rows, in_dim, dy, w, dx, req_dx)
        else:
            # dx = dy @ w
            _input_gradient(dy, w, dx, rows, in_dim, hidden, beta_dx)
    if req_dw != REQ_NULL:
        if shape == ONE_ROW:
            # dw = np.outer(dy[0], x[0])
            _outer(hidden, in_dim, dy, x, dw, req_dw)
        elif shape == ONE_COLUMN:
            # dw[0] = x.T @ dy[:, 0]
            gemv(True, <int>rows, <int>in_dim, <real>1, x, <int>in_dim, dy, 1, beta_dw, dw, 1)
        else:
            # dw = dy.T @ x, in blocks of dw's rows for small-matrix kernels
            block = _small_gemm_block(w, rows, in_dim, hidden, SMALL_GEMM_MIN_GRADIENT_ROWS)
            if block:
                _gemm_row_blocks(True, False, <int>hidden, <int>in_dim, <int>rows, dy,
                                 <int>hidden, x, <int>in_dim, beta_dw, dw, <int>in_dim, block)
            else:
                gemm(True, False, <int>hidden, <int>in_dim, <int>rows, <real>1, dy, <int>hidden,
                     x, <int>in_dim, beta_dw, dw, <int>in_dim)
    if req_db != REQ_NULL:
        if req_db == REQ_WRITE:
            for j in range(hidden):
                db[j] = 0
        # db += dy.sum(axis=0), row by row so that memory is read in order
        for i in range(rows):
            for j in range(hidden):
                db[j] += dy[i * hidden + j]


cdef void fc_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dy, x, w, dx, dw, db; ints: rows, in_dim, hidden, req_dx, req_dw, req_db
    if c.dtype == 0:
        _fc_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                     <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                     c.ints[0], c.ints[1], c.ints[2], <int>c.ints[3], <int>c.ints[4], <int>c.ints[5])
    else:
        _fc_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                     <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                     c.ints[0], c.ints[1], c.ints[2], <int>c.ints[3], <int>c.ints[4], <int>c.ints[5])


cdef void _fc_relu_backward(real* dh, real* h, real* x, real* w, real* dx, real* dw, real* db,
                            real* dy, Py_ssize_t rows, Py_ssize_t in_dim, Py_ssize_t hidden,
                            int req_dx, int req_dw, int req_db) noexcept nogil:
    """The backward of h = relu(x @ w.T + b): dy = dh where h > 0 (else 0) into the workspace dy
    and db = dy.sum(0) in one pass, then dx and dw from dy as _fc_backward."""
    cdef Py_ssize_t i, j
    cdef real* row
    cdef real value
    if req_db == REQ_WRITE:
        for j in range(hidden):
            db[j] = 0
    for i in range(rows):
        # one row at a time, so that both loops vectorize and db reads the row from cache
        row = dy + i * hidden
        for j in range(hidden):
            # relu's gradient rule (relu_grad_y): a select, so a NaN dh where h <= 0 gives 0.
            # dh is loaded whatever h is: a conditional load kept the loop scalar and branching
            # (8 us at 16 x 256, against 1.3 us for the unfused relu gradient)
            value = dh[i * hidden + j]
            row[j] = value if h[i * hidden + j] > 0 else <real>0
        if req_db != REQ_NULL:
            for j in range(hidden):
                db[j] += row[j]
    _fc_backward(dy, x, w, dx, dw, db, rows, in_dim, hidden, req_dx, req_dw, REQ_NULL)


cdef void fc_relu_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: dh, h, x, w, dx, dw, db, dy (workspace); ints: rows, in_dim, hidden, req_dx, req_dw,
    # req_db
    if c.dtype == 0:
        _fc_relu_backward(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                          <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                          <float*>c.arrays[6], <float*>c.arrays[7], c.ints[0], c.ints[1], c.ints[2],
                          <int>c.ints[3], <int>c.ints[4], <int>c.ints[5])
    else:
        _fc_relu_backward(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                          <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                          <double*>c.arrays[6], <double*>c.arrays[7], c.ints[0], c.ints[1], c.ints[2],
                          <int>c.ints[3], <int>c.ints[4], <int>c.ints[5])


def _dims(x, w, hidden_out):
    hidden, in_dim = w.shape
    if x.size % in_dim if in_dim else x.size:
        raise ValueError(f"FullyConnected kernel: data of shape {x.shape} does not split into rows of {in_dim}")
    # rows of no features (in_dim 0) are counted from the output
    rows = x.size // in_dim if in_dim else (hidden_out.size // hidden if hidden else 0)
    expect_size(hidden_out, rows * hidden, "FullyConnected kernel output")
    return rows, in_dim, hidden


def fc_transposed(Py_ssize_t rows, Py_ssize_t in_dim, Py_ssize_t hidden, Py_ssize_t itemsize):
    """Whether the forward of `rows` rows of in_dim -> hidden, in elements of `itemsize` bytes,
    runs as the transposed product (through a workspace of hidden x rows elements)."""
    return (itemsize == 4 and 2 <= rows <= TRANSPOSED_MAX_ROWS and hidden >= TRANSPOSED_MIN_OUTPUTS
            and in_dim >= TRANSPOSED_INNER_PER_ROW * rows)


def fc_workspace_elements(Py_ssize_t rows, Py_ssize_t in_dim, Py_ssize_t hidden, Py_ssize_t itemsize):
    """Elements of the workspace the forward of this layer uses; 0 for none."""
    return hidden * rows if fc_transposed(rows, in_dim, hidden, itemsize) else 0


def append_fully_connected(Plan plan, x, w, b, y, str label="FullyConnected", workspace=None,
                           transposed=None, bint relu=False):
    """Append y = x.reshape(rows, in_dim) @ w.T + b (b may be None for no_bias), relu(...) with
    relu=True.  One row (batch 1) or one output column runs as gemv instead of gemm; a few rows
    against many outputs as the transposed product in `workspace` (fc_transposed decides;
    transposed=True or False overrides it; without a planned workspace the call gets its own)."""
    rows, in_dim, hidden = _dims(x, w, y)
    if b is not None:
        expect_size(b, hidden, "FullyConnected kernel bias")
    arrays = [x, w, y] if b is None else [x, w, b, y]
    dtype = common_dtype(arrays)
    if transposed is None:
        transposed = fc_transposed(rows, in_dim, hidden, y.dtype.itemsize)
    transposed = transposed and _shape(rows, in_dim, hidden) == GENERAL and in_dim > 0
    if transposed:
        arrays.append(scratch(workspace, hidden * rows, y.dtype))
    plan.add(fc_forward_kernel, dtype, arrays, [rows, in_dim, hidden, b is not None, transposed, relu],
             [], label)


def append_fully_connected_backward(Plan plan, dy, x, w, dx, dw, db, str req_dx="write",
                                    str req_dw="write", str req_db="write",
                                    str label="_backward_FullyConnected", relu_of=None, workspace=None):
    """Append dx = dy @ w, dw = dy.T @ x, db = dy.sum(0); a None output or req 'null' is skipped.
    One row (batch 1) or one output column runs as gemv and ger instead of gemm.
    relu_of=h: the layer's output h = relu(x @ w.T + b) follows it and dy is h's gradient: the
    layer's is dy where h > 0, written to `workspace` (rows x hidden) with db in one pass."""
    rows, in_dim, hidden = _dims(x, w, dy)
    reqs = [req_code(r, label) for r in (req_dx, req_dw, req_db)]
    outputs = [dx, dw, db]
    for k, (out, size) in enumerate(zip(outputs, (rows * in_dim, hidden * in_dim, hidden))):
        if out is None:
            reqs[k] = REQ_NULL
            outputs[k] = dy   # any valid pointer; the kernel does not touch it
        else:
            expect_size(out, size, "FullyConnected backward output")
    if relu_of is None:
        arrays = [dy, x, w] + outputs
        plan.add(fc_backward_kernel, common_dtype(arrays), arrays, [rows, in_dim, hidden] + reqs, [], label)
        return
    expect_size(relu_of, rows * hidden, "FullyConnected backward relu output")
    arrays = [dy, relu_of, x, w] + outputs
    dtype = common_dtype(arrays)
    arrays.append(scratch(workspace, rows * hidden, dy.dtype))
    plan.add(fc_relu_backward_kernel, dtype, arrays, [rows, in_dim, hidden] + reqs, [], label)
