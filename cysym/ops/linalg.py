"""The linalg family, MXNet's src/operator/tensor/la_op.cc: `_linalg_gemm` ... `_linalg_syevd`
(aliases `linalg_<name>`, and `mx.sym.linalg.<name>` / `mx.nd.linalg.<name>`), each op acting on
the trailing two dimensions of its inputs, batched over the leading ones.  Kernels:
cysym/_ops/linalg.pyx (BLAS 3 and LAPACK through scipy).

Differences from MXNet: det and slogdet have no hidden LU and pivot outputs (their backward
factorizes A again); a failed factorization (potrf of a matrix that is not positive definite,
inverse of a singular matrix) gives NaN instead of an error."""
import numpy as np

from ..registry import OpDef, Param, register
from .common import kernels, prod


def _shape_error(ctx, what, shape):
    return ctx.error(f"input 'A' has shape {tuple(shape)}: {what}")


def _matrices(ctx, shape, name="A", square=True, min_ndim=2):
    """Check a batch of matrices; returns (batch, rows, cols)."""
    if len(shape) < min_ndim:
        raise ctx.error(f"input '{name}' has shape {tuple(shape)}: expected at least {min_ndim} "
                        f"dimensions (a batch of matrices)")
    if square and shape[-2] != shape[-1]:
        raise ctx.error(f"input '{name}' has shape {tuple(shape)}: expected square matrices on the "
                        f"last two dimensions")
    return prod(shape[:-2]), shape[-2], shape[-1]


def _batch_of(array):
    return prod(array.shape[:-2])


# ---------------------------------------------------------------------------------------------
# gemm, gemm2

def _row_axis(ctx, ndim):
    axis = ctx.params["axis"]
    axis = axis + ndim if axis < 0 else axis
    if not 0 <= axis < ndim - 1:
        raise ctx.error(f"invalid row axis {ctx.params['axis']} for {ndim}-dimensional inputs "
                        f"(it must come before the last axis, which holds the columns)")
    return axis


def _gemm_shape(ctx, ins, outs):
    """A (..., m, k), B (..., k, n), after transpose_a/transpose_b (axis: the row axis) -> (..., m,
    n); gemm's C has that shape."""
    a, b = ins[0], ins[1]
    if a is None or b is None:
        return ins, outs
    if len(a) < 2 or len(a) != len(b):
        raise ctx.error(f"inputs 'A' {tuple(a)} and 'B' {tuple(b)} must have the same number (>= 2) "
                        f"of dimensions")
    ndim = len(a)
    axis = _row_axis(ctx, ndim)
    p = ctx.params
    for i in range(ndim - 1):
        if i != axis and a[i] != b[i]:
            raise ctx.error(f"inputs 'A' {tuple(a)} and 'B' {tuple(b)} must have the same shape "
                            f"except on the row axis {axis} and the last axis")
    inner_a = a[axis] if p["transpose_a"] else a[-1]
    inner_b = b[-1] if p["transpose_b"] else b[axis]
    if inner_a != inner_b:
        raise ctx.error(f"inputs 'A' {tuple(a)} and 'B' {tuple(b)}: incompatible matrix dimensions "
                        f"for multiplication (transpose_a={p['transpose_a']}, "
                        f"transpose_b={p['transpose_b']}, row axis {axis})")
    out = list(a)
    out[axis] = a[-1] if p["transpose_a"] else a[axis]
    out[-1] = b[axis] if p["transpose_b"] else b[-1]
    out = tuple(out)
    if len(ins) == 3:
        if ins[2] is not None and tuple(ins[2]) != out:
            raise ctx.error(f"input 'C' has shape {tuple(ins[2])}, but op(A) @ op(B) has shape {out}")
        return [a, b, out], [out]
    return ins, [out]


def _layout(shape, axis):
    """(outer, rows, inner, cols): the view of a batch of matrices with rows on `axis`."""
    ndim = len(shape)
    axis = axis + ndim if axis < 0 else axis
    return (prod(shape[:axis]), shape[axis], prod(shape[axis + 1:ndim - 1]), shape[-1])


def _gemm_kernel(b):
    p = b.params
    A, B = b.inputs[0], b.inputs[1]
    C = b.inputs[2] if len(b.inputs) == 3 else None
    out = b.outputs[0]
    axis = p["axis"]
    kernels("linalg").append_gemm(b.plan, A, B, C, out, _layout(A.shape, axis), _layout(B.shape, axis),
                                  _layout(out.shape, axis), p["transpose_a"], p["transpose_b"],
                                  p["alpha"], p.get("beta", 0.0), b.req[0], b.label)


def _matmul_grads(g, dout, a, b):
    """The gradients of alpha * op(A) @ op(B) through gemm2 with the forward's flags."""
    p = g.params
    ta, tb, alpha, axis = p["transpose_a"], p["transpose_b"], p["alpha"], p["axis"]
    if ta:   # dA = alpha * op(B) @ dout^T
        da = g.op("_linalg_gemm2", b, dout, transpose_a=tb, transpose_b=True, alpha=alpha, axis=axis)
    else:    # dA = alpha * dout @ op(B)^T
        da = g.op("_linalg_gemm2", dout, b, transpose_a=False, transpose_b=not tb, alpha=alpha,
                  axis=axis)
    if tb:   # dB = alpha * dout^T @ op(A)
        db = g.op("_linalg_gemm2", dout, a, transpose_a=True, transpose_b=ta, alpha=alpha, axis=axis)
    else:    # dB = alpha * op(A)^T @ dout
        db = g.op("_linalg_gemm2", a, dout, transpose_a=not ta, transpose_b=False, alpha=alpha,
                  axis=axis)
    return [da, db]


def _gemm_gradient(g):
    dout = g.out_grads[0]
    grads = _matmul_grads(g, dout, g.inputs[0], g.inputs[1])
    return grads + [g.op("_mul_scalar", dout, scalar=g.params["beta"])]


_TRANSPOSE_PARAMS = [
    Param("transpose_a", "bool", False, "Multiply with transposed of first input (A)."),
    Param("transpose_b", "bool", False, "Multiply with transposed of second input (B)."),
    Param("alpha", "float", 1.0, "Scalar factor multiplied with A*B."),
]
_AXIS = Param("axis", "int", -2, "Axis corresponding to the matrix rows.")

register(OpDef(
    "_linalg_gemm", aliases=("linalg_gemm",),
    params=_TRANSPOSE_PARAMS + [Param("beta", "float", 1.0, "Scalar factor multiplied with C."), _AXIS],
    inputs=("A", "B", "C"),
    infer_shape=_gemm_shape,
    inplace=[(2, 0)],
    kernel=_gemm_kernel,
    gradient=_gemm_gradient,
    doc="out = alpha * op(A) @ op(B) + beta * C, per matrix of the batch (BLAS gemm); op() "
        "transposes or not (transpose_a, transpose_b); the rows are on `axis`, the columns on "
        "the last axis.",
))

register(OpDef(
    "_linalg_gemm2", aliases=("linalg_gemm2",),
    params=_TRANSPOSE_PARAMS + [_AXIS],
    inputs=("A", "B"),
    infer_shape=_gemm_shape,
    kernel=_gemm_kernel,
    gradient=lambda g: _matmul_grads(g, g.out_grads[0], g.inputs[0], g.inputs[1]),
    doc="out = alpha * op(A) @ op(B), per matrix of the batch (BLAS gemm).",
))


# ---------------------------------------------------------------------------------------------
# potrf, potri

_LOWER = Param("lower", "bool", True, "True if the triangular matrix is lower triangular, false "
                                      "if it is upper triangular.")


def _square_same_shape(ctx, ins, outs):
    """A (..., n, n) -> the same shape."""
    shape = ins[0] if ins[0] is not None else outs[0]
    if shape is None:
        return ins, outs
    _matrices(ctx, shape)
    return [shape], [shape]


def _cholesky_kernel(which):
    def kernel(b):
        A = b.inputs[0]
        kernels("linalg").append_cholesky(b.plan, which, A, b.outputs[0], _batch_of(A), A.shape[-1],
                                          b.params["lower"], b.req[0], b.label)
    return kernel


def _cholesky_backward_kernel(which):
    def kernel(b):
        grad = b.outputs[0]
        kernels("linalg").append_cholesky_backward(b.plan, which, list(b.inputs), grad,
                                                   _batch_of(grad), grad.shape[-1],
                                                   b.params["lower"], b.req[0], b.label)
    return kernel


register(OpDef(
    "_linalg_potrf", aliases=("linalg_potrf",),
    params=[_LOWER],
    inputs=("A",),
    infer_shape=_square_same_shape,
    inplace=[(0, 0)],
    kernel=_cholesky_kernel("potrf"),
    gradient=lambda g: [g.op("_backward_linalg_potrf", g.out_grads[0], g.outputs[0],
                             **g.forward_attrs())],
    doc="The Cholesky factor L of symmetric positive-definite matrices: A = L @ L.T (lower) or "
        "A = L.T @ L (upper), the other triangle zero (LAPACK potrf; reads the `lower` triangle "
        "of A). The gradient is MXNet's symmetric one.",
))

register(OpDef(
    "_linalg_potri", aliases=("linalg_potri",),
    params=[_LOWER],
    inputs=("A",),
    infer_shape=_square_same_shape,
    inplace=[(0, 0)],
    kernel=_cholesky_kernel("potri"),
    gradient=lambda g: [g.op("_backward_linalg_potri", g.out_grads[0], g.inputs[0], g.outputs[0],
                             **g.forward_attrs())],
    doc="The inverse of B from its Cholesky factor A: out = inv(A @ A.T) (lower) or "
        "inv(A.T @ A) (upper) (LAPACK potri; reads the `lower` triangle of A).",
))

for _name, _inputs in (("potrf", ("out_grad", "output")), ("potri", ("out_grad", "A", "output"))):
    register(OpDef(
        f"_backward_linalg_{_name}",
        params=[_LOWER],
        inputs=_inputs,
        outputs=("A_grad",),
        infer_shape=lambda ctx, ins, outs: (ins, [ins[0]]),
        kernel=_cholesky_backward_kernel(_name),
        hidden=True,
        doc=f"The gradient of {_name} (MXNet's formula).",
    ))


# ---------------------------------------------------------------------------------------------
# trmm, trsm

def _triangular_shape(ctx, ins, outs):
    """A (..., n, n), B (..., n, m), or (..., m, n) with rightside -> B's shape."""
    a, b = ins
    p = ctx.params
    if a is not None and b is not None:
        if len(a) < 2 or len(a) != len(b):
            raise ctx.error(f"inputs 'A' {tuple(a)} and 'B' {tuple(b)} must have the same number "
                            f"(>= 2) of dimensions")
        _matrices(ctx, a)
        if tuple(a[:-2]) != tuple(b[:-2]):
            raise ctx.error(f"inputs 'A' {tuple(a)} and 'B' {tuple(b)} must have the same shape "
                            f"except on the last two dimensions")
        if (b[-1] if p["rightside"] else b[-2]) != a[-1]:
            raise ctx.error(f"inputs 'A' {tuple(a)} and 'B' {tuple(b)}: incompatible matrix "
                            f"dimensions for multiplication (rightside={p['rightside']})")
        return ins, [tuple(b)]
    out = outs[0]
    if out is not None and len(out) >= 2:
        order = out[-1] if p["rightside"] else out[-2]
        return [tuple(out[:-2]) + (order, order), tuple(out)], outs
    return ins, outs


def _triangular_kernel(solve):
    def kernel(b):
        p = b.params
        B = b.inputs[1]
        kernels("linalg").append_triangular(b.plan, b.inputs[0], B, b.outputs[0], _batch_of(B),
                                            B.shape[-2], B.shape[-1], p["rightside"], p["lower"],
                                            p["transpose"], p["alpha"], solve, b.req[0], b.label)
    return kernel


def _triangular_backward_kernel(solve):
    def kernel(b):
        p = b.params
        dout, A, B = b.inputs[:3]
        out = b.inputs[3] if solve else dout
        kernels("linalg").append_triangular_backward(
            b.plan, dout, A, B, out, b.outputs[0], b.outputs[1], _batch_of(B), B.shape[-2],
            B.shape[-1], p["rightside"], p["lower"], p["transpose"], p["alpha"], solve, b.label)
    return kernel


_TRIANGULAR_PARAMS = [
    Param("transpose", "bool", False, "Use transposed of the triangular matrix"),
    Param("rightside", "bool", False, "Multiply triangular matrix from the right to non-triangular one."),
    _LOWER,
    Param("alpha", "float", 1.0, "Scalar factor to be applied to the result."),
]

register(OpDef(
    "_linalg_trmm", aliases=("linalg_trmm",),
    params=_TRIANGULAR_PARAMS,
    inputs=("A", "B"),
    infer_shape=_triangular_shape,
    inplace=[(1, 0)],
    kernel=_triangular_kernel(False),
    gradient=lambda g: g.op("_backward_linalg_trmm", g.out_grads[0], g.inputs[0], g.inputs[1],
                            **g.forward_attrs()),
    doc="out = alpha * op(A) @ B, or alpha * B @ op(A) with rightside, A triangular (BLAS trmm; "
        "reads the `lower` triangle of A).",
))

register(OpDef(
    "_linalg_trsm", aliases=("linalg_trsm",),
    params=_TRIANGULAR_PARAMS,
    inputs=("A", "B"),
    infer_shape=_triangular_shape,
    inplace=[(1, 0)],
    kernel=_triangular_kernel(True),
    gradient=lambda g: g.op("_backward_linalg_trsm", g.out_grads[0], g.inputs[0], g.inputs[1],
                            g.outputs[0], **g.forward_attrs()),
    doc="Solves op(A) @ out = alpha * B, or out @ op(A) = alpha * B with rightside, A triangular "
        "(BLAS trsm; reads the `lower` triangle of A).",
))

for _name, _inputs, _solve in (("trmm", ("out_grad", "A", "B"), False),
                               ("trsm", ("out_grad", "A", "B", "output"), True)):
    register(OpDef(
        f"_backward_linalg_{_name}",
        params=_TRIANGULAR_PARAMS,
        inputs=_inputs,
        outputs=("A_grad", "B_grad"),
        infer_shape=lambda ctx, ins, outs: (ins, [ins[1], ins[2]]),
        inplace=[(0, 1)],
        kernel=_triangular_backward_kernel(_solve),
        hidden=True,
        doc=f"The gradients of {_name} (MXNet's formulas; dA keeps the `lower` triangle).",
    ))


# ---------------------------------------------------------------------------------------------
# syrk

def _syrk_shape(ctx, ins, outs):
    """A (..., m, n) -> (..., m, m), or (..., n, n) with transpose."""
    a = ins[0]
    if a is None:
        return ins, outs
    _matrices(ctx, a, square=False)
    order = a[-1] if ctx.params["transpose"] else a[-2]
    return ins, [tuple(a[:-2]) + (order, order)]


def _syrk_kernel(b):
    A = b.inputs[0]
    kernels("linalg").append_syrk(b.plan, A, b.outputs[0], _batch_of(A), A.shape[-2], A.shape[-1],
                                  b.params["transpose"], b.params["alpha"], b.req[0], b.label)


def _syrk_gradient(g):
    """dA = alpha * (dout + dout^T) @ A, or alpha * A @ (dout + dout^T) with transpose."""
    dout, a, alpha = g.out_grads[0], g.inputs[0], g.params["alpha"]
    if g.params["transpose"]:
        parts = [g.op("_linalg_gemm2", a, dout, alpha=alpha),
                 g.op("_linalg_gemm2", a, dout, transpose_b=True, alpha=alpha)]
    else:
        parts = [g.op("_linalg_gemm2", dout, a, alpha=alpha),
                 g.op("_linalg_gemm2", dout, a, transpose_a=True, alpha=alpha)]
    return [g.op("elemwise_add", *parts)]


register(OpDef(
    "_linalg_syrk", aliases=("linalg_syrk",),
    params=[Param("transpose", "bool", False, "Use transpose of input matrix."),
            Param("alpha", "float", 1.0, "Scalar factor to be applied to the result.")],
    inputs=("A",),
    infer_shape=_syrk_shape,
    kernel=_syrk_kernel,
    gradient=_syrk_gradient,
    doc="out = alpha * A @ A.T, or alpha * A.T @ A with transpose.",
))


# ---------------------------------------------------------------------------------------------
# gelqf, syevd

def _gelqf_shape(ctx, ins, outs):
    """A (..., m, n) with m <= n -> Q (..., m, n) and L (..., m, m)."""
    a = ins[0]
    if a is None:
        return ins, outs
    _matrices(ctx, a, square=False)
    if a[-2] > a[-1]:
        raise _shape_error(ctx, "gelqf needs matrices with no more rows than columns", a)
    return ins, [tuple(a), tuple(a[:-1]) + (a[-2],)]


def _syevd_shape(ctx, ins, outs):
    """A (..., n, n) -> U (..., n, n) and L (..., n)."""
    a = ins[0]
    if a is None:
        return ins, outs
    _matrices(ctx, a)
    return ins, [tuple(a), tuple(a[:-1])]


def _factor_workspace(kind):
    def workspace(params, in_shapes, out_shapes, dtype):
        return kernels("linalg").workspace_bytes(kind, in_shapes[0][-2], np.dtype(dtype).itemsize)
    return workspace


def _gelqf_kernel(b):
    A = b.inputs[0]
    kernels("linalg").append_gelqf(b.plan, A, b.outputs[0], b.outputs[1], b.workspace, _batch_of(A),
                                   A.shape[-2], A.shape[-1], b.label)


def _syevd_kernel(b):
    A = b.inputs[0]
    kernels("linalg").append_syevd(b.plan, A, b.outputs[0], b.outputs[1], b.workspace, _batch_of(A),
                                   A.shape[-1], b.label)


def _factor_backward_kernel(which):
    def kernel(b):
        grad = b.outputs[0]
        kernels("linalg").append_factor_backward(b.plan, which, list(b.inputs), grad, b.workspace,
                                                 _batch_of(grad), grad.shape[-2], grad.shape[-1],
                                                 b.label)
    return kernel


def _factor_gradient(name):
    def gradient(g):
        if all(grad is None for grad in g.out_grads):
            return [None]
        heads = [grad if grad is not None else g.op("zeros_like", out)
                 for grad, out in zip(g.out_grads, g.outputs)]
        return [g.op(f"_backward_linalg_{name}", *heads, *g.outputs)]
    return gradient


register(OpDef(
    "_linalg_gelqf", aliases=("linalg_gelqf",),
    inputs=("A",),
    outputs=("output0", "output1"),
    infer_shape=_gelqf_shape,
    kernel=_gelqf_kernel,
    workspace=_factor_workspace("gelqf"),
    gradient=_factor_gradient("gelqf"),
    doc="LQ factorization A = L @ Q of (x, y) matrices, x <= y, full rank: outputs Q (x, y), "
        "row-orthonormal, and L (x, x), lower triangular (LAPACK geqrf + orgqr on A^T).",
))

register(OpDef(
    "_linalg_syevd",
    inputs=("A",),
    outputs=("output0", "output1"),
    infer_shape=_syevd_shape,
    kernel=_syevd_kernel,
    workspace=_factor_workspace("syevd"),
    gradient=_factor_gradient("syevd"),
    doc="Eigendecomposition of symmetric matrices: U @ A = diag(L) @ U, U orthonormal (one "
        "eigenvector per row, signed so that its largest entry is positive), L ascending "
        "(LAPACK syevd; reads the lower triangle of A). Gradients need distinct eigenvalues.",
))

register(OpDef(
    "_backward_linalg_gelqf",
    inputs=("Q_grad", "L_grad", "Q", "L"),
    outputs=("A_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[2]]),
    kernel=_factor_backward_kernel("gelqf"),
    workspace=lambda params, ins, outs, dtype: _factor_workspace("square")(params, [ins[3]], outs, dtype),
    hidden=True,
    doc="The gradient of gelqf (MXNet's formula).",
))

register(OpDef(
    "_backward_linalg_syevd",
    inputs=("U_grad", "L_grad", "U", "L"),
    outputs=("A_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[2]]),
    kernel=_factor_backward_kernel("syevd"),
    workspace=lambda params, ins, outs, dtype: _factor_workspace("square")(params, [ins[2]], outs, dtype),
    hidden=True,
    doc="The gradient of syevd (MXNet's formula).",
))


# ---------------------------------------------------------------------------------------------
# inverse, det, slogdet

def _inverse_kernel(b):
    A = b.inputs[0]
    kernels("linalg").append_inverse(b.plan, A, b.outputs[0], b.workspace, _batch_of(A), A.shape[-1],
                                     b.req[0], b.label)


def _inverse_backward_kernel(b):
    grad = b.outputs[0]
    kernels("linalg").append_inverse_backward(b.plan, b.inputs[0], b.inputs[1], grad, b.workspace,
                                              _batch_of(grad), grad.shape[-1], b.req[0], b.label)


register(OpDef(
    "_linalg_inverse", aliases=("linalg_inverse", "_npi_inv"),
    inputs=("A",),
    infer_shape=_square_same_shape,
    inplace=[(0, 0)],
    kernel=_inverse_kernel,
    workspace=_factor_workspace("inverse"),
    gradient=lambda g: [g.op("_backward_linalg_inverse", g.out_grads[0], g.outputs[0])],
    doc="out = inv(A) per matrix of the batch (LAPACK getrf + getri).",
))

register(OpDef(
    "_backward_linalg_inverse",
    inputs=("out_grad", "output"),
    outputs=("A_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    kernel=_inverse_backward_kernel,
    workspace=_factor_workspace("square"),
    hidden=True,
    doc="A_grad = -output.T @ out_grad @ output.T",
))


def _det_shape(count):
    def rule(ctx, ins, outs):
        """A (..., n, n) -> (...) for each output ((1,) for a single matrix)."""
        a = ins[0]
        if a is None:
            return ins, outs
        _matrices(ctx, a)
        out = tuple(a[:-2]) if len(a) > 2 else (1,)
        return ins, [out] * count
    return rule


def _det_kernel(b):
    A = b.inputs[0]
    kernels("linalg").append_det(b.plan, A, list(b.outputs), b.workspace, _batch_of(A), A.shape[-1],
                                 b.label)


def _det_backward_kernel(take_log):
    def kernel(b):
        grad = b.outputs[0]
        kernels("linalg").append_det_backward(b.plan, b.inputs[0], b.inputs[1], b.inputs[2], grad,
                                              b.workspace, _batch_of(grad), grad.shape[-1],
                                              take_log, b.req[0], b.label)
    return kernel


register(OpDef(
    "_linalg_det", aliases=("linalg_det", "_npi_det"),
    inputs=("A",),
    outputs=("output0",),
    infer_shape=_det_shape(1),
    kernel=_det_kernel,
    workspace=_factor_workspace("det"),
    gradient=lambda g: [g.op("_backward_linalg_det", g.out_grads[0], g.inputs[0], g.outputs[0])],
    doc="det(A) per matrix of the batch, through an LU factorization with partial pivoting; "
        "shape (1,) for one matrix. No gradient reaches a matrix whose determinant is 0.",
))

register(OpDef(
    "_linalg_slogdet", aliases=("linalg_slogdet", "_npi_slogdet"),
    inputs=("A",),
    outputs=("output0", "output1"),
    infer_shape=_det_shape(2),
    kernel=_det_kernel,
    workspace=_factor_workspace("det"),
    gradient=lambda g: [None if g.out_grads[1] is None else
                        g.op("_backward_linalg_slogdet", g.out_grads[1], g.inputs[0], g.outputs[1])],
    doc="sign(det(A)) and log(abs(det(A))) per matrix of the batch; the gradient flows through "
        "logabsdet only, and not into matrices whose determinant is 0.",
))

for _name, _log in (("det", False), ("slogdet", True)):
    register(OpDef(
        f"_backward_linalg_{_name}",
        inputs=("out_grad", "A", "logabsdet" if _log else "det"),
        outputs=("A_grad",),
        infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
        kernel=_det_backward_kernel(_log),
        workspace=lambda params, ins, outs, dtype: _factor_workspace("inverse_of_input")(
            params, [ins[1]], outs, dtype),
        hidden=True,
        doc=f"The gradient of {_name}: out_grad {'' if _log else '* det '}* inv(A).T",
    ))


# ---------------------------------------------------------------------------------------------
# sumlogdiag, extractdiag, makediag, extracttrian, maketrian

def _sumlogdiag_kernel(b):
    A = b.inputs[0]
    kernels("linalg").append_sumlogdiag(b.plan, A, b.outputs[0], _batch_of(A), A.shape[-1], b.req[0],
                                        b.label)


def _sumlogdiag_backward_kernel(b):
    grad = b.outputs[0]
    kernels("linalg").append_sumlogdiag_backward(b.plan, b.inputs[0], b.inputs[1], grad,
                                                 _batch_of(grad), grad.shape[-1], b.req[0], b.label)


register(OpDef(
    "_linalg_sumlogdiag", aliases=("linalg_sumlogdiag",),
    inputs=("A",),
    infer_shape=_det_shape(1),
    kernel=_sumlogdiag_kernel,
    gradient=lambda g: [g.op("_backward_linalg_sumlogdiag", g.out_grads[0], g.inputs[0])],
    doc="The sum of the logarithms of the diagonal of each square matrix; shape (1,) for one matrix.",
))

register(OpDef(
    "_backward_linalg_sumlogdiag",
    inputs=("out_grad", "A"),
    outputs=("A_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    kernel=_sumlogdiag_backward_kernel,
    hidden=True,
    doc="A_grad = diag(out_grad / diag(A))",
))


def _packing_shape(triangle, extract):
    def rule(ctx, ins, outs):
        """extractdiag (..., n, n) -> (..., n - |offset|); extracttrian -> (..., m * (m + 1) / 2), m
        = n - |offset|; makediag (..., n) -> (..., n + |offset|, n + |offset|); maketrian (..., m
        * (m + 1) / 2) -> (..., m + |offset|, m + |offset|)."""
        a = ins[0]
        if a is None:
            return ins, outs
        k = abs(ctx.params["offset"])
        if extract:
            _matrices(ctx, a)
            n = a[-1] - k
            if n <= 0:
                raise ctx.error(f"offset {ctx.params['offset']} leaves no "
                                f"{'triangle' if triangle else 'diagonal'} in matrices of shape "
                                f"{tuple(a)}")
            return ins, [tuple(a[:-2]) + ((n * (n + 1)) // 2 if triangle else n,)]
        if not a:
            raise ctx.error("input 'A' needs at least one dimension")
        n = a[-1]
        if triangle:
            m = int((((8 * n + 1) ** 0.5) - 1) / 2 + 0.5)
            if m * (m + 1) // 2 != n:
                raise ctx.error(f"input 'A' has shape {tuple(a)}: its last dimension {n} is not the "
                                f"size of a triangle (m * (m + 1) / 2)")
            n = m
        return ins, [tuple(a[:-1]) + (n + k, n + k)]
    return rule


def _packing_kernel(triangle, extract):
    def kernel(b):
        p = b.params
        matrices, packed = (b.inputs[0], b.outputs[0]) if extract else (b.outputs[0], b.inputs[0])
        kernels("linalg").append_packing(b.plan, matrices, packed, _batch_of(matrices),
                                         matrices.shape[-1], p["offset"], p.get("lower", True),
                                         triangle, extract, b.req[0], b.label)
    return kernel


_OFFSET = Param("offset", "int", 0, "Offset of the diagonal versus the main diagonal. 0 corresponds "
                                    "to the main diagonal, a negative/positive value to diagonals "
                                    "below/above the main diagonal.")
_TRIAN_LOWER = Param("lower", "bool", True, "Refer to the lower triangular matrix if lower=true, "
                                            "refer to the upper otherwise. Only relevant when offset=0")

for _name, _inverse_name, _triangle, _extract, _doc in (
        ("extractdiag", "makediag", False, True,
         "The diagonal at `offset` of each square matrix."),
        ("makediag", "extractdiag", False, False,
         "Square matrices with the input on the diagonal at `offset`, zero elsewhere."),
        ("extracttrian", "maketrian", True, True,
         "The triangle at `offset` of each square matrix, packed row by row (the lower triangle) "
         "or column by column (the upper one: offset > 0, or offset 0 and lower=False)."),
        ("maketrian", "extracttrian", True, False,
         "Square matrices with the input as the packed triangle at `offset` (extracttrian's "
         "packing), zero elsewhere.")):
    register(OpDef(
        f"_linalg_{_name}", aliases=(f"linalg_{_name}",),
        params=[_OFFSET, _TRIAN_LOWER] if _triangle else [_OFFSET],
        inputs=("A",),
        infer_shape=_packing_shape(_triangle, _extract),
        kernel=_packing_kernel(_triangle, _extract),
        gradient=lambda g, _inverse_name=_inverse_name: [
            g.op(f"_linalg_{_inverse_name}", g.out_grads[0], **g.forward_attrs())],
        doc=_doc,
    ))
