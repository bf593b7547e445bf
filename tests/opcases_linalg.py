"""Registry-table rows for the linalg family (cysym/ops/linalg.py).

References are NumPy, written from MXNet's la_op documentation.  Matrices are batched over
leading dimensions that differ from the matrix orders; triangular inputs carry values in the
triangle the op does not read (the reference ignores them too).  potrf and syevd read one
triangle of a matrix that they take as symmetric, and MXNet's gradient is the symmetric one,
which finite differences on a full matrix cannot see: their gradients are checked on symmetric
inputs in test_linalg.py."""
import numpy as np

from opcase import Case, positive, signed


def well_conditioned(rng, shape):
    """Matrices (square, or wider than tall) with a dominant diagonal of either sign: far from
    singular."""
    a = signed(rng, shape, 0.1, 0.6)
    n = min(shape[-2:])
    a[..., range(n), range(n)] = signed(rng, shape[:-2] + (n,), n * 0.5 + 0.5, n * 0.5 + 1.5)
    return a


def spd(rng, shape):
    """Symmetric positive-definite matrices."""
    x = signed(rng, shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def triangular_operand(rng, shape):
    """A positive, dominant diagonal (trsm, potri divide by it) and anything off it."""
    a = signed(rng, shape, 0.1, 0.8)
    n = shape[-1]
    a[..., range(n), range(n)] = positive(rng, shape[:-1], 1.0, 2.0)
    return a


def symmetric_distinct(rng, shape):
    """Symmetric matrices with well separated eigenvalues (syevd's gradient needs them)."""
    n = shape[-1]
    q, _ = np.linalg.qr(signed(rng, shape))
    values = np.arange(1, n + 1) * 1.5 + rng.uniform(-0.2, 0.2, shape[:-1])
    return (q * values[..., None, :]) @ np.swapaxes(q, -1, -2)


def T(x):
    return np.swapaxes(x, -1, -2)


def tri(a, lower):
    return np.tril(a) if lower else np.triu(a)


def np_gemm(A, B, C=None, transpose_a=False, transpose_b=False, alpha=1.0, beta=1.0, axis=-2):
    a, b = np.moveaxis(A, axis, -2), np.moveaxis(B, axis, -2)
    out = alpha * ((T(a) if transpose_a else a) @ (T(b) if transpose_b else b))
    if C is not None:
        out = out + beta * np.moveaxis(C, axis, -2)
    return np.moveaxis(out, -2, axis)


def np_potrf(A, lower=True):
    sym = tri(A, lower) + T(tri(A, lower)) - np.eye(A.shape[-1]) * A
    factor = np.linalg.cholesky(sym)
    return factor if lower else T(factor)


def np_potri(A, lower=True):
    f = tri(A, lower)
    return np.linalg.inv(f @ T(f) if lower else T(f) @ f)


def np_triangular(solve):
    def ref(A, B, transpose=False, rightside=False, lower=True, alpha=1.0):
        op = tri(A, lower)
        op = T(op) if transpose else op
        if solve:
            return alpha * (np.linalg.solve(T(op), T(B)).swapaxes(-1, -2) if rightside
                            else np.linalg.solve(op, B))
        return alpha * (B @ op if rightside else op @ B)
    return ref


def np_gelqf(A):
    q, r = np.linalg.qr(T(A))
    return [T(q), T(r)]


def np_syevd(A):
    w, v = np.linalg.eigh(A, UPLO="L")
    u = T(v)
    largest = np.take_along_axis(u, np.abs(u).argmax(-1)[..., None], -1)
    return [u * np.where(largest < 0, -1.0, 1.0), w]


def batch_scalar(value, A):
    """det-like results: leading dimensions, or (1,) for one matrix."""
    return np.asarray(value).reshape(A.shape[:-2] if A.ndim > 2 else (1,))


def np_diag(A, offset=0):
    return np.diagonal(A, offset, -2, -1).copy()


def np_makediag(A, offset=0):
    n = A.shape[-1] + abs(offset)
    out = np.zeros(A.shape[:-1] + (n, n))
    rows = np.arange(A.shape[-1]) + max(-offset, 0)
    out[..., rows, rows + offset] = A
    return out


def trian_positions(n, offset, lower):
    """(row, col) of the packed triangle, in MXNet's order (upper: column by column)."""
    k = abs(offset)
    if offset < 0 or (offset == 0 and lower):
        return [(r + k, c) for r in range(n - k) for c in range(r + 1)]
    return [(c, r + k) for r in range(n - k) for c in range(r + 1)]


def np_extracttrian(A, offset=0, lower=True):
    rows, cols = zip(*trian_positions(A.shape[-1], offset, lower))
    return A[..., list(rows), list(cols)]


def np_maketrian(A, offset=0, lower=True):
    m = int(round((np.sqrt(8 * A.shape[-1] + 1) - 1) / 2))
    n = m + abs(offset)
    out = np.zeros(A.shape[:-1] + (n, n))
    rows, cols = zip(*trian_positions(n, offset, lower))
    out[..., list(rows), list(cols)] = A
    return out


def _gemm_case(params, a, b, c=None, id=None, bad=()):
    inputs = {"A": (a, signed), "B": (b, signed)}
    if c is not None:
        inputs["C"] = (c, signed)
    return Case("_linalg_gemm" if c is not None else "_linalg_gemm2", inputs, params=params,
                ref=np_gemm, id=id, bad=bad)


CASE_LIST = [
    # -- gemm, gemm2 -----------------------------------------------------------------------------
    _gemm_case(dict(alpha=1.5, beta=-0.5), (2, 3, 4), (2, 4, 5), (2, 3, 5),
               bad=[("shapes", {"A": (2, 3, 4), "B": (2, 5, 4), "C": (2, 3, 5)}),
                    ("shapes", {"A": (2, 3, 4), "B": (2, 4, 5), "C": (2, 3, 4)}),
                    ("params", {"axis": -1})]),
    _gemm_case(dict(transpose_a=True, transpose_b=True, alpha=0.5, beta=2.0), (4, 3), (5, 4), (3, 5),
               id="_linalg_gemm-transposed-2d"),
    _gemm_case(dict(transpose_b=True, axis=1), (2, 3, 4, 5), (2, 6, 4, 5), (2, 3, 4, 6),
               id="_linalg_gemm-axis1"),
    _gemm_case(dict(alpha=-2.0), (3, 4), (4, 5), bad=[("shapes", {"A": (3, 4), "B": (5, 4)}),
                                                      ("shapes", {"A": (2, 3, 4), "B": (3, 4, 5)})]),
    _gemm_case(dict(transpose_a=True), (2, 4, 3), (2, 4, 5), id="_linalg_gemm2-transpose-a"),
    _gemm_case(dict(transpose_a=True, transpose_b=True, axis=0), (4, 2, 3), (5, 2, 4),
               id="_linalg_gemm2-axis0"),
    # -- Cholesky --------------------------------------------------------------------------------
    Case("_linalg_potrf", {"A": ((2, 3, 4, 4), spd)}, ref=np_potrf, grad=(),
         bad=[("shapes", {"A": (2, 4, 3)}), ("shapes", {"A": (4,)})]),
    Case("_linalg_potrf", {"A": ((3, 3), spd)}, params=dict(lower=False), ref=np_potrf, grad=(),
         id="_linalg_potrf-upper"),
    Case("_linalg_potri", {"A": ((2, 4, 4), triangular_operand)}, ref=np_potri,
         bad=[("shapes", {"A": (2, 4, 3)})]),
    Case("_linalg_potri", {"A": ((3, 3), triangular_operand)}, params=dict(lower=False),
         ref=np_potri, id="_linalg_potri-upper"),
    # -- trmm, trsm ------------------------------------------------------------------------------
    *[Case(f"_linalg_{name}", {"A": ((2, order, order), triangular_operand), "B": ((2, 3, 5), signed)},
           params=params, ref=np_triangular(name == "trsm"),
           bad=[("shapes", {"A": (2, 4, 4), "B": (2, 3, 5)}),
                ("shapes", {"A": (3, order, order), "B": (2, 3, 5)})],
           id=f"_linalg_{name}-" + "-".join(f"{k}={v}" for k, v in params.items()))
      for name in ("trmm", "trsm")
      for order, params in ((3, dict(alpha=1.5)),
                            (3, dict(transpose=True, lower=False, alpha=-0.5)),
                            (5, dict(rightside=True)),
                            (5, dict(rightside=True, transpose=True, lower=False, alpha=2.0)))],
    # -- syrk ------------------------------------------------------------------------------------
    Case("_linalg_syrk", {"A": ((2, 3, 5), signed)}, params=dict(alpha=1.5),
         ref=lambda A, transpose=False, alpha=1.0: alpha * (T(A) @ A if transpose else A @ T(A)),
         bad=[("shapes", {"A": (5,)})]),
    Case("_linalg_syrk", {"A": ((3, 5), signed)}, params=dict(transpose=True, alpha=-0.5),
         ref=lambda A, transpose=False, alpha=1.0: alpha * (T(A) @ A if transpose else A @ T(A)),
         id="_linalg_syrk-transpose"),
    # -- gelqf, syevd ----------------------------------------------------------------------------
    Case("_linalg_gelqf", {"A": ((2, 3, 5), well_conditioned)}, ref=np_gelqf,
         bad=[("shapes", {"A": (2, 5, 3)})]),
    Case("_linalg_gelqf", {"A": ((4, 4), well_conditioned)}, ref=np_gelqf, id="_linalg_gelqf-square"),
    Case("_linalg_syevd", {"A": ((2, 3, 4, 4), symmetric_distinct)}, ref=np_syevd, grad=(),
         bad=[("shapes", {"A": (3, 4)})]),
    # -- inverse, det, slogdet, sumlogdiag -------------------------------------------------------
    Case("_linalg_inverse", {"A": ((2, 3, 4, 4), well_conditioned)}, ref=lambda A: np.linalg.inv(A),
         bad=[("shapes", {"A": (2, 3, 4)})]),
    Case("_linalg_det", {"A": ((2, 3, 4, 4), well_conditioned)},
         ref=lambda A: batch_scalar(np.linalg.det(A), A), bad=[("shapes", {"A": (3, 4)})]),
    Case("_linalg_det", {"A": ((3, 3), well_conditioned)},
         ref=lambda A: batch_scalar(np.linalg.det(A), A), id="_linalg_det-one-matrix"),
    Case("_linalg_slogdet", {"A": ((2, 3, 4, 4), well_conditioned)},
         ref=lambda A: [batch_scalar(v, A) for v in np.linalg.slogdet(A)],
         bad=[("shapes", {"A": (3,)})]),
    Case("_linalg_slogdet", {"A": ((3, 3), well_conditioned)},
         ref=lambda A: [batch_scalar(v, A) for v in np.linalg.slogdet(A)],
         id="_linalg_slogdet-one-matrix"),
    Case("_linalg_sumlogdiag", {"A": ((2, 3, 4, 4), triangular_operand)},
         ref=lambda A: batch_scalar(np.log(np.diagonal(A, 0, -2, -1)).sum(-1), A),
         bad=[("shapes", {"A": (3, 4)})]),
    Case("_linalg_sumlogdiag", {"A": ((3, 3), triangular_operand)},
         ref=lambda A: batch_scalar(np.log(np.diagonal(A, 0, -2, -1)).sum(-1), A),
         id="_linalg_sumlogdiag-one-matrix"),
    # -- diagonals and triangles -----------------------------------------------------------------
    *[Case("_linalg_extractdiag", {"A": ((2, 3, 4, 4), signed)}, params=dict(offset=k), ref=np_diag,
           bad=[("params", {"offset": 4}), ("shapes", {"A": (2, 3, 4)})],
           id=f"_linalg_extractdiag-offset{k}") for k in (0, 2, -1)],
    *[Case("_linalg_makediag", {"A": ((2, 3, 4), signed)}, params=dict(offset=k), ref=np_makediag,
           id=f"_linalg_makediag-offset{k}") for k in (0, 1, -2)],
    *[Case("_linalg_extracttrian", {"A": ((2, 3, 4, 4), signed)}, params=params,
           ref=np_extracttrian, bad=[("params", {"offset": -4}), ("shapes", {"A": (3, 4)})],
           id="_linalg_extracttrian-" + "-".join(f"{k}={v}" for k, v in params.items()))
      for params in (dict(), dict(lower=False), dict(offset=1), dict(offset=-2))],
    *[Case("_linalg_maketrian", {"A": ((2, 3, 6), signed)}, params=params, ref=np_maketrian,
           bad=[("shapes", {"A": (2, 3, 5)})],
           id="_linalg_maketrian-" + "-".join(f"{k}={v}" for k, v in params.items()))
      for params in (dict(), dict(lower=False), dict(offset=2), dict(offset=-1))],
]
