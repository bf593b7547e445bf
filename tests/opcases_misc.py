"""Registry-table rows for cysym/ops/misc.py (diag, _slice_assign, _split_v2, khatri_rao, ravel,
_histogram, all_finite, amp_cast, ...).  References are NumPy written from MXNet 1.9.1's
semantics; test_misc_ops.py adds values computed with MXNet itself."""
import numpy as np

from opcase import Case, distinct, signed
from opcases_index import fixed, np_slice


def np_diag(data, k=0, axis1=0, axis2=1):
    if data.ndim == 1:
        return np.diag(data, k)
    # NumPy's diagonal puts the diagonal last, with the other axes in order, as MXNet's diag
    return np.diagonal(data, k, axis1, axis2).copy()


def np_slice_assign(lhs, rhs=None, begin=(), end=(), step=(), scalar=0.0):
    out = lhs.copy()
    index = []
    for axis in range(len(begin)):
        s = step[axis] if step and step[axis] is not None else 1
        index.append(slice(begin[axis], end[axis], s))
    out[tuple(index)] = scalar if rhs is None else rhs
    return out


def np_split_v2(data, indices=(), axis=1, squeeze_axis=False, sections=0):
    pieces = np.split(data, sections if sections else list(indices[1:]), axis=axis)
    return [np.squeeze(p, axis=axis) if squeeze_axis else p for p in pieces]


def np_khatri_rao(*matrices, **_):
    out = matrices[0]
    for m in matrices[1:]:
        out = (out[:, None, :] * m[None, :, :]).reshape(-1, m.shape[1])
    return out


def np_histogram(data, bins=None, bin_cnt=None, range=None):
    edges = np.linspace(range[0], range[1], bin_cnt + 1) if bins is None else bins
    counts, _ = np.histogram(data, edges)
    return [counts.astype(np.int64), edges]


def ints_below(high):
    def gen(rng, shape):
        return rng.integers(0, high, shape).astype(np.float64)
    return gen


def column_indices(bounds):
    """A (len(bounds), N) batch of multi-indices within bounds."""
    def gen(rng, shape):
        return np.stack([rng.integers(0, b, shape[1]) for b in bounds]).astype(np.float64)
    return gen


def with_inf(rng, shape):
    values = signed(rng, shape)
    values.flat[3] = np.inf
    return values


CASE_LIST = [
    Case("_identity_with_attr_like_rhs", {"lhs": ((2, 3, 5), signed), "rhs": ((2, 3, 5), signed)},
         ref=lambda lhs, rhs: lhs, grad=("lhs",),
         bad=[("shapes", {"lhs": (2, 3, 5), "rhs": (2, 5, 3)})]),
    # -- diag ------------------------------------------------------------------------------------
    Case("diag", {"data": ((3, 5), signed)}, params=dict(k=1), ref=np_diag,
         bad=[("params", {"k": 5}), ("params", {"k": -3}), ("params", {"axis2": 0})]),
    Case("diag", {"data": ((4, 3), signed)}, params=dict(k=-2), ref=np_diag, id="diag-below"),
    Case("diag", {"data": ((2, 3, 4), signed)}, params=dict(k=1, axis1=2, axis2=0), ref=np_diag,
         id="diag-3d-axes", bad=[("params", {"axis1": 3})]),
    Case("diag", {"data": ((4,), signed)}, params=dict(k=-1), ref=np_diag, id="diag-build-matrix"),
    # -- _slice_assign, _slice_assign_scalar -----------------------------------------------------
    Case("_slice_assign", {"lhs": ((4, 5, 3), signed), "rhs": ((2, 4, 3), signed)},
         params=dict(begin=(1, 0), end=(3, 4)), ref=np_slice_assign,
         bad=[("shapes", {"lhs": (4, 5, 3), "rhs": (2, 3, 3)}), ("params", {"end": (3, 6)})]),
    Case("_slice_assign", {"lhs": ((4, 5, 3), signed), "rhs": ((2, 2, 3), signed)},
         params=dict(begin=(None, -1, 0), end=(None, 1, 3), step=(2, -2, 1)),
         ref=np_slice_assign, id="_slice_assign-steps"),
    Case("_slice_assign_scalar", {"data": ((4, 5, 3), signed)},
         params=dict(scalar=2.5, begin=(None, -1), end=(None, None), step=(2, -2)),
         ref=lambda data, **kw: np_slice_assign(data, **kw),
         bad=[("params", {"step": (2, 0)})]),
    # -- _split_v2 -------------------------------------------------------------------------------
    Case("_split_v2", {"data": ((2, 6, 3), signed)}, params=dict(indices=(0, 2, 3), axis=1),
         ref=np_split_v2,
         bad=[("params", {"indices": (1, 3)}), ("params", {"indices": (0, 4, 2)})]),
    Case("_split_v2", {"data": ((2, 3, 5), signed)},
         params=dict(indices=(), sections=5, axis=-1, squeeze_axis=True), ref=np_split_v2,
         id="_split_v2-sections-squeeze", bad=[("params", {"sections": 3})]),
    # -- khatri_rao: MXNet has no gradient for it -------------------------------------------------
    Case("khatri_rao", {"arg0": ((2, 3), signed), "arg1": ((4, 3), signed),
                        "arg2": ((5, 3), signed)},
         ref=lambda arg0, arg1, arg2: np_khatri_rao(arg0, arg1, arg2), grad=(),
         bad=[("shapes", {"arg0": (2, 3), "arg1": (4, 2), "arg2": (5, 3)})]),
    # -- ravel / unravel ---------------------------------------------------------------------------
    Case("_ravel_multi_index", {"data": ((2, 5), column_indices((7, 6)))}, params=dict(shape=(7, 6)),
         ref=lambda data, shape: np.ravel_multi_index(data.astype(int), shape).astype(np.float64),
         zero_grad=True, bad=[("params", {"shape": (7, 6, 2)}), ("params", {"shape": ()})]),
    Case("_unravel_index", {"data": ((5,), ints_below(84))}, params=dict(shape=(7, 4, 3)),
         ref=lambda data, shape: np.array(np.unravel_index(data.astype(int), shape), np.float64),
         zero_grad=True, bad=[("shapes", {"data": (5, 2)})]),
    # -- _histogram (no gradient) ------------------------------------------------------------------
    Case("_histogram", {"data": ((2, 3, 5), distinct)}, params=dict(bin_cnt=4, range=(-1.0, 0.9)),
         ref=np_histogram, grad=(),
         bad=[("params", {"range": None}), ("params", {"range": (1.0, -1.0)})]),
    Case("_histogram", {"data": ((2, 3, 5), distinct),
                        "bins": ((4,), fixed([-1.05, -0.2, 0.35, 1.5]))},
         ref=np_histogram, grad=(), id="_histogram-bins",
         bad=[("shapes", {"data": (2, 3, 5), "bins": (1,)})]),
    # -- all_finite: a float32 flag whatever the data's dtype -----------------------------------------
    Case("all_finite", {"data": ((2, 3, 5), signed)}, ref=lambda data, **_: np.ones(1, np.float32),
         grad=()),
    Case("all_finite", {"data": ((2, 3, 5), with_inf)}, ref=lambda data, **_: np.zeros(1, np.float32),
         grad=(), id="all_finite-inf"),
    Case("multi_all_finite", {"arg0": ((2, 3), signed), "arg1": ((4, 5), with_inf)},
         params=dict(num_arrays=2), ref=lambda arg0, arg1, **_: np.zeros(1, np.float32), grad=()),
    # -- amp_cast, amp_multicast: the table's dtypes are not cast (float32 to itself, float64 kept) --
    Case("amp_cast", {"data": ((2, 3, 5), signed)},
         dtype_params=lambda dt: {"dtype": np.dtype(dt).name}, ref=lambda data, **_: data,
         bad=[("params", {"dtype": "complex64"})]),
    Case("amp_multicast", {"arg0": ((2, 3), signed), "arg1": ((4, 5), signed)},
         params=dict(num_outputs=2), ref=lambda arg0, arg1, **_: [arg0, arg1]),
    # -- legacy NDArray functions ------------------------------------------------------------------
    Case("_onehot_encode", {"lhs": ((4,), fixed([2, 0, 4.5, -1])), "rhs": ((4, 3), signed)},
         ref=lambda lhs, rhs: np.eye(3)[[2, 0, 0, 0]] * np.array([[1], [1], [0], [0]]), grad=(),
         bad=[("shapes", {"lhs": (3,), "rhs": (4, 3)})]),
    Case("fill_element_0index", {"lhs": ((3, 4), signed), "mhs": ((3,), signed),
                                 "rhs": ((3,), fixed([1, 3.7, 5]))},
         ref=lambda lhs, mhs, rhs: np.where(np.arange(4) == np.array([[1], [3], [-1]]),
                                            mhs[:, None], lhs), grad=(),
         bad=[("shapes", {"lhs": (3, 4), "mhs": (4,), "rhs": (3,)})]),
]
