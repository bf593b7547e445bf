# The one BLAS shim: every kernel cimports these instead of scipy's routines directly.
# `real` resolves at compile time to float (s-routines) or double (d-routines).
# All helpers take row-major operands (NumPy's C order) and swap them into the
# column-major call, since C^T = B^T A^T needs no copy.
from cython.parallel cimport prange
from scipy.linalg cimport cython_blas as blas
from cysym._ops cimport threads

ctypedef fused real:
    float
    double


# Below these sizes (multiply-adds) a product runs on one thread: waking a second costs more.
cdef enum:
    GEMM_SPLIT_WORK = 1 << 19
    GEMV_SPLIT_WORK = 1 << 17
    SPLIT_ALIGN = 16           # column/row blocks of whole micro-kernel tiles
    # Blocks of a split product in deterministic mode, whatever the thread count (up to this
    # many threads share them)
    DETERMINISTIC_BLOCKS = 4


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k, real alpha,
                      const real* a, int lda, const real* b, int ldb, real beta,
                      real* c, int ldc) noexcept nogil:
    """C[m, n] := alpha * op(A) @ op(B) + beta * C, all row-major; lda/ldb/ldc are row strides.
    Split as gemm_split_from says from GEMM_SPLIT_WORK multiply-adds."""
    gemm_split_from(GEMM_SPLIT_WORK, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc)


cdef inline void gemm_split_from(double split_work, bint trans_a, bint trans_b, int m, int n,
                                 int k, real alpha, const real* a, int lda, const real* b,
                                 int ldb, real beta, real* c, int ldc) noexcept nogil:
    """gemm; a product of at least `split_work` multiply-adds is split into column (or row)
    blocks.  The blocks agree with one call only to float rounding (OpenBLAS's summation depends
    on the matrix shape), so the split decides the bits: one block per kernel thread by default;
    DETERMINISTIC_BLOCKS blocks in deterministic mode (threads.deterministic()), whichever
    threads run them, so that the numbers do not depend on the thread count."""
    cdef int workers = threads.count()
    if m == 0 or n == 0:
        return
    if <double>m * n * k < split_work:
        gemm_unsplit(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    elif threads.deterministic():
        _gemm_blocks(DETERMINISTIC_BLOCKS, 1 if threads.omp_in_parallel() else workers,
                     trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    elif workers > 1 and not threads.omp_in_parallel():
        _gemm_blocks(workers, workers, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                     ldc)
    else:
        gemm_unsplit(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


cdef inline void gemm_unsplit(bint trans_a, bint trans_b, int m, int n, int k, real alpha,
                              const real* a, int lda, const real* b, int ldb, real beta,
                              real* c, int ldc) noexcept nogil:
    """gemm in one BLAS call, for a caller that splits its work into shape-chosen parts itself
    (the same bits at any thread count, and in deterministic mode no further split)."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if real is float:
        blas.sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*>b, &ldb, <float*>a, &lda, &beta, c, &ldc)
    else:
        blas.dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*>b, &ldb, <double*>a, &lda, &beta, c, &ldc)


cdef inline void _gemm_blocks(int blocks, int workers, bint trans_a, bint trans_b, int m,
                              int n, int k, real alpha, const real* a, int lda, const real* b,
                              int ldb, real beta, real* c, int ldc) noexcept nogil:
    cdef int block
    workers = min(workers, blocks)
    if workers <= 1:
        for block in range(blocks):
            _gemm_block(block, blocks, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                        ldc)
    else:
        for block in prange(blocks, num_threads=workers, schedule="static"):
            _gemm_block(block, blocks, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                        ldc)


cdef inline void _gemm_block(int block, int blocks, bint trans_a, bint trans_b, int m, int n,
                             int k, real alpha, const real* a, int lda, const real* b, int ldb,
                             real beta, real* c, int ldc) noexcept nogil:
    # block `block` of `blocks` column blocks of C (row blocks when C has more rows)
    cdef int start, stop
    if n >= m:
        start = <int>threads.split_point(n, blocks, block, SPLIT_ALIGN)
        stop = <int>threads.split_point(n, blocks, block + 1, SPLIT_ALIGN)
        if stop > start:
            gemm_unsplit(trans_a, trans_b, m, stop - start, k, alpha, a, lda,
                  b + (start * ldb if trans_b else start), ldb, beta, c + start, ldc)
    else:
        start = <int>threads.split_point(m, blocks, block, SPLIT_ALIGN)
        stop = <int>threads.split_point(m, blocks, block + 1, SPLIT_ALIGN)
        if stop > start:
            gemm_unsplit(trans_a, trans_b, stop - start, n, k, alpha,
                  a + (start if trans_a else start * lda), lda, b, ldb, beta, c + start * ldc,
                  ldc)


cdef inline void gemv(bint trans_a, int m, int n, real alpha, const real* a, int lda,
                      const real* x, int incx, real beta, real* y, int incy) noexcept nogil:
    """y := alpha * op(A) @ x + beta * y, with A row-major of shape (m, n); from GEMV_SPLIT_WORK
    multiply-adds split into blocks of y as gemm_split_from splits a product."""
    cdef int workers = threads.count()
    if m == 0 or n == 0:
        return
    if <double>m * n < GEMV_SPLIT_WORK:
        _gemv(trans_a, m, n, alpha, a, lda, x, incx, beta, y, incy)
    elif threads.deterministic():
        _gemv_blocks(DETERMINISTIC_BLOCKS, 1 if threads.omp_in_parallel() else workers, trans_a,
                     m, n, alpha, a, lda, x, incx, beta, y, incy)
    elif workers > 1 and not threads.omp_in_parallel():
        _gemv_blocks(workers, workers, trans_a, m, n, alpha, a, lda, x, incx, beta, y, incy)
    else:
        _gemv(trans_a, m, n, alpha, a, lda, x, incx, beta, y, incy)


cdef inline void _gemv_blocks(int blocks, int workers, bint trans_a, int m, int n, real alpha,
                              const real* a, int lda, const real* x, int incx, real beta,
                              real* y, int incy) noexcept nogil:
    cdef int block
    workers = min(workers, blocks)
    if workers <= 1:
        for block in range(blocks):
            _gemv_block(block, blocks, trans_a, m, n, alpha, a, lda, x, incx, beta, y, incy)
    else:
        for block in prange(blocks, num_threads=workers, schedule="static"):
            _gemv_block(block, blocks, trans_a, m, n, alpha, a, lda, x, incx, beta, y, incy)


cdef inline void _gemv_block(int block, int blocks, bint trans_a, int m, int n, real alpha,
                             const real* a, int lda, const real* x, int incx, real beta, real* y,
                             int incy) noexcept nogil:
    cdef int out_length = n if trans_a else m
    cdef int start = <int>threads.split_point(out_length, blocks, block, SPLIT_ALIGN)
    cdef int stop = <int>threads.split_point(out_length, blocks, block + 1, SPLIT_ALIGN)
    if stop > start:
        if trans_a:
            _gemv(True, m, stop - start, alpha, a + start, lda, x, incx, beta, y + start * incy,
                  incy)
        else:
            _gemv(False, stop - start, n, alpha, a + start * lda, lda, x, incx, beta,
                  y + start * incy, incy)


cdef inline void _gemv(bint trans_a, int m, int n, real alpha, const real* a, int lda,
                       const real* x, int incx, real beta, real* y, int incy) noexcept nogil:
    # A row-major (m, n) is A^T column-major (n, m): flip the transpose flag.
    cdef char t = b'N' if trans_a else b'T'
    if real is float:
        blas.sgemv(&t, &n, &m, &alpha, <float*>a, &lda, <float*>x, &incx, &beta, y, &incy)
    else:
        blas.dgemv(&t, &n, &m, &alpha, <double*>a, &lda, <double*>x, &incx, &beta, y, &incy)


cdef inline void ger(int m, int n, real alpha, const real* x, int incx, const real* y, int incy,
                     real* a, int lda) noexcept nogil:
    """A[m, n] += alpha * outer(x, y), with A row-major; lda is its row stride."""
    # A row-major (m, n) is A^T column-major (n, m), and A^T += alpha * outer(y, x).
    if m == 0 or n == 0:
        return
    if real is float:
        blas.sger(&n, &m, &alpha, <float*>y, &incy, <float*>x, &incx, a, &lda)
    else:
        blas.dger(&n, &m, &alpha, <double*>y, &incy, <double*>x, &incx, a, &lda)


cdef inline void axpy(int n, real alpha, const real* x, real* y) noexcept nogil:
    """y += alpha * x"""
    cdef int one = 1
    if real is float:
        blas.saxpy(&n, &alpha, <float*>x, &one, y, &one)
    else:
        blas.daxpy(&n, &alpha, <double*>x, &one, y, &one)


cdef inline real dot(int n, const real* x, const real* y) noexcept nogil:
    """x @ y"""
    cdef int one = 1
    if real is float:
        return blas.sdot(&n, <float*>x, &one, <float*>y, &one)
    else:
        return blas.ddot(&n, <double*>x, &one, <double*>y, &one)


cdef inline void scal(int n, real alpha, real* x) noexcept nogil:
    """x *= alpha"""
    cdef int one = 1
    if real is float:
        blas.sscal(&n, &alpha, x, &one)
    else:
        blas.dscal(&n, &alpha, x, &one)
