"""Registry-table rows for the n-d gathers and scatters (cysym/ops/gather.py).

References are NumPy written from MXNet's documented semantics; index inputs hold float
values, negative ones included where the op wraps them.  Scatter cases use distinct positions
(with repeated ones the kept value, and so the gradient, is MXNet's arbitrary choice)."""
import numpy as np

from opcase import Case, signed
from opcases_index import fixed


def positions(indices, shape):
    """The coordinates (one array per indexed axis) that an (M, ...) index array addresses:
    v + n truncated, modulo n, as MXNet's gather_nd."""
    return tuple(np.trunc(indices[j] + shape[j]).astype(int) % shape[j]
                 for j in range(indices.shape[0]))


def np_gather_nd(data, indices):
    return data[positions(indices, data.shape)]


def np_scatter_nd(data, indices, shape):
    out = np.zeros(shape)
    out[positions(indices, shape)] = data
    return out


def np_scatter_set_nd(lhs, rhs, indices, shape):
    out = lhs.copy()
    out[positions(indices, shape)] = rhs
    return out


def np_batch_take(a, indices):
    rows = a.reshape(-1, a.shape[-1])
    taken = np.clip(np.trunc(indices).astype(int).reshape(-1), 0, a.shape[-1] - 1)
    return rows[np.arange(len(rows)), taken].reshape(indices.shape)


def np_index_copy(old_tensor, index_vector, new_tensor):
    out = old_tensor.copy()
    out[np.trunc(index_vector).astype(int)] = new_tensor
    return out


def np_index_array(data, axes=None):
    grids = np.indices(data.shape)
    axes = range(data.ndim) if axes is None else [a % data.ndim for a in axes]
    return np.stack([grids[a] for a in axes], axis=-1).astype(np.int64)


# (2, 5) positions in a (3, 4, ...) array; columns 0 and 4 are the same position (0, 3),
# written once with negative coordinates
REPEATED_2X5 = [[0, 2, -1, 1, -3], [3, 0, 1.5, -4, -1]]
DISTINCT_2X5 = [[0, 2, -1, 1, 2], [3, 0, 1.5, -4, 2]]

CASE_LIST = [
    # -- gather_nd ------------------------------------------------------------------------------
    Case("gather_nd", {"data": ((3, 4, 2), signed), "indices": ((2, 5), fixed(REPEATED_2X5))},
         ref=np_gather_nd,
         bad=[("shapes", {"data": (3, 4, 2), "indices": (4, 5)}),
              ("shapes", {"data": (3, 4, 2), "indices": (5,)})]),
    Case("gather_nd", {"data": ((3, 4), signed),
                       "indices": ((2, 2, 3), fixed([[[0, 2, 1], [-1, 0, 2]],
                                                     [[3, 0, -4], [1, 1, 2]]]))},
         ref=np_gather_nd, id="gather_nd-every-axis"),
    # -- scatter_nd, _scatter_set_nd -------------------------------------------------------------
    Case("scatter_nd", {"data": ((5, 2), signed), "indices": ((2, 5), fixed(DISTINCT_2X5))},
         params=dict(shape=(3, 4, 2)), ref=np_scatter_nd,
         bad=[("shapes", {"data": (4, 2), "indices": (2, 5)}), ("params", {"shape": (3, 4, 3)}),
              ("params", {"shape": (3,)})]),
    Case("scatter_nd", {"data": ((2, 3), signed),
                        "indices": ((2, 2, 3), fixed([[[0, 2, 1], [-1, 0, 2]],
                                                      [[3, 0, -4], [1, 1, 2]]]))},
         params=dict(shape=(3, 4)), ref=np_scatter_nd, id="scatter_nd-every-axis"),
    Case("_scatter_set_nd", {"lhs": ((3, 4, 2), signed), "rhs": ((5, 2), signed),
                             "indices": ((2, 5), fixed(DISTINCT_2X5))},
         params=dict(shape=(3, 4, 2)), ref=np_scatter_set_nd,
         bad=[("params", {"shape": (3, 4, 3)}),
              ("shapes", {"lhs": (3, 4, 2), "rhs": (4, 2), "indices": (2, 5)})]),
    # -- batch_take -------------------------------------------------------------------------------
    Case("batch_take", {"a": ((4, 3), signed), "indices": ((4,), fixed([0, 2, -1, 5]))},
         ref=np_batch_take, bad=[("shapes", {"a": (4, 3), "indices": (3,)}),
                                 ("shapes", {"a": (4,), "indices": (4,)})]),
    Case("batch_take", {"a": ((2, 3, 5), signed),
                        "indices": ((2, 3), fixed([[4, 0, 1.7], [3, 3, 2]]))},
         ref=np_batch_take, id="batch_take-rows-of-3d"),
    # -- _contrib_index_copy ----------------------------------------------------------------------
    Case("_contrib_index_copy", {"old_tensor": ((5, 3), signed),
                                 "index_vector": ((3,), fixed([0, 4, 2.5])),
                                 "new_tensor": ((3, 3), signed)},
         ref=np_index_copy,
         bad=[("shapes", {"old_tensor": (5, 3), "index_vector": (3,), "new_tensor": (3, 2)}),
              ("shapes", {"old_tensor": (5, 3), "index_vector": (2,), "new_tensor": (3, 3)}),
              ("shapes", {"old_tensor": (5, 3), "index_vector": (3, 1), "new_tensor": (3, 3)}),
              ("shapes", {"old_tensor": (2, 3), "index_vector": (3,), "new_tensor": (3, 3)})]),
    Case("_contrib_index_copy", {"old_tensor": ((4, 2, 3), signed),
                                 "index_vector": ((2,), fixed([3, 1])),
                                 "new_tensor": ((2, 2, 3), signed)},
         ref=np_index_copy, id="_contrib_index_copy-3d"),
    # -- _contrib_index_array ---------------------------------------------------------------------
    Case("_contrib_index_array", {"data": ((2, 3, 4), signed)}, params=dict(axes=(-1, 0)),
         ref=np_index_array, grad=()),
    # -- _contrib_boolean_mask: loads, infers, refuses to bind ----------------------------------
    Case("_contrib_boolean_mask", {"data": ((3, 4), signed), "index": ((3,), fixed([0, 1, 2]))},
         ref=lambda data, index, axis=0: data[index != 0], grad=(),
         bad=[("shapes", {"data": (3, 4), "index": (4,)}), ("params", {"axis": 2})]),
]
