"""Registry-table rows for the indexing operators (cysym/ops/index.py).

References are NumPy written from MXNet's documented semantics; index inputs hold float
values, out-of-range ones included where the op defines what happens to them."""
import numpy as np

from opcase import Case, distinct, signed


def np_swapaxes(data, dim1=0, dim2=0):
    return np.swapaxes(data, dim1, dim2)


def np_slice(data, begin, end, step=()):
    index = []
    for axis in range(len(begin)):
        s = step[axis] if step and step[axis] is not None else 1
        index.append(slice(begin[axis], end[axis], s))
    return data[tuple(index)]


def np_tile(data, reps):
    return np.tile(data, reps)


def np_repeat(data, repeats, axis=None):
    return np.repeat(data, repeats, axis=axis)


def np_search(fn):
    def ref(data, axis=None, keepdims=False):
        out = np.asarray(fn(data, axis=axis, keepdims=keepdims), dtype=np.float64)
        if axis is None or data.ndim == 1:
            return out.reshape((1,) * data.ndim if keepdims else (1,))
        return out
    return ref


def np_one_hot(indices, depth, on_value=1.0, off_value=0.0, **_):
    out = np.full(indices.shape + (depth,), off_value)
    positions = np.trunc(indices).astype(int)
    inside = (positions >= 0) & (positions < depth)
    rows = np.argwhere(inside)
    for r in rows:
        out[tuple(r) + (positions[tuple(r)],)] = on_value
    return out


def np_pick(data, index, axis=-1, keepdims=False, mode="clip"):
    axis %= data.ndim
    n = data.shape[axis]
    position = np.trunc(index).astype(int)
    position = np.clip(position, 0, n - 1) if mode == "clip" else np.mod(position, n)
    position = position.reshape([1 if k == axis else d for k, d in enumerate(data.shape)])
    out = np.take_along_axis(data, position, axis)
    return out if keepdims else out.squeeze(axis)


def np_take(a, indices, axis=0, mode="clip"):
    position = np.trunc(indices).astype(int)
    return np.take(a, position, axis=axis, mode="clip" if mode == "raise" else mode)


def np_where(condition, x, y):
    if condition.shape != x.shape:
        condition = condition.reshape((-1,) + (1,) * (x.ndim - 1))
    return np.where(condition != 0, x, y)


def fixed(values):
    values = np.asarray(values, dtype=np.float64)
    return lambda rng, shape: values.reshape(shape)


def zero_or_not(rng, shape):
    """A condition with zeros, ones and other non-zero values (-2.5 counts as true)."""
    return rng.choice([0.0, 1.0, -2.5], shape)


CASE_LIST = [
    # -- SwapAxis, stack ---------------------------------------------------------------------
    Case("SwapAxis", {"data": ((2, 3, 5), signed)}, params=dict(dim1=0, dim2=2), ref=np_swapaxes,
         bad=[("params", {"dim1": 3})]),
    Case("SwapAxis", {"data": ((2, 3, 5, 4), signed)}, params=dict(dim1=-1, dim2=1),
         ref=np_swapaxes, id="SwapAxis-negative"),
    Case("stack", {"arg0": ((2, 3), signed), "arg1": ((2, 3), signed), "arg2": ((2, 3), signed)},
         params=dict(num_args=3, axis=1),
         ref=lambda arg0, arg1, arg2, axis, **_: np.stack([arg0, arg1, arg2], axis=axis),
         bad=[("shapes", {"arg0": (2, 3), "arg1": (3, 2), "arg2": (2, 3)}),
              ("params", {"axis": 3})]),
    Case("stack", {"arg0": ((2, 3), signed), "arg1": ((2, 3), signed)},
         params=dict(num_args=2, axis=-1),
         ref=lambda arg0, arg1, axis, **_: np.stack([arg0, arg1], axis=axis), id="stack-last-axis"),
    # -- slices ------------------------------------------------------------------------------
    Case("slice_axis", {"data": ((2, 5, 3), signed)}, params=dict(axis=1, begin=1, end=4),
         ref=lambda data, axis, begin, end: np.take(data, range(begin, end), axis=axis),
         bad=[("params", {"end": 6}), ("params", {"begin": 3, "end": 2}),
              ("params", {"axis": 3})]),
    Case("slice_axis", {"data": ((2, 5, 3), signed)}, params=dict(axis=-2, begin=-3, end=None),
         ref=lambda data, **_: data[:, -3:], id="slice_axis-negative-end-None"),
    Case("slice_axis", {"data": ((4, 3), signed)}, params=dict(axis=0, begin=0, end=-1),
         ref=lambda data, **_: data[:-1], id="slice_axis-axis0"),
    Case("slice", {"data": ((4, 5, 3), signed)}, params=dict(begin=(1, 0), end=(3, 4)),
         ref=np_slice, bad=[("params", {"begin": (1, 0, 0, 0), "end": (3, 4, 1, 1)}),
                            ("params", {"end": (1, 4)}), ("params", {"end": (3, 6)})]),
    Case("slice", {"data": ((4, 5, 3), signed)},
         params=dict(begin=(None, -1, 0), end=(None, None, 3), step=(2, -2, 2)),
         ref=np_slice, bad=[("params", {"step": (1, 0, 1)})], id="slice-steps-None"),
    Case("slice", {"data": ((4, 5, 3), signed)},
         params=dict(begin=(3, None), end=(0, -6), step=(-1, -1)), ref=np_slice,
         id="slice-reverse"),
    Case("slice", {"data": ((4, 5), signed)}, params=dict(begin=(1, 1), end=(4, 3)), ref=np_slice,
         id="slice-to-the-end"),
    # -- broadcasts ----------------------------------------------------------------------------
    Case("broadcast_to", {"data": ((2, 1, 3), signed)}, params=dict(shape=(2, 4, 3)),
         ref=lambda data, shape: np.broadcast_to(data, shape).copy(),
         bad=[("params", {"shape": (2, 4)}), ("params", {"shape": (3, 4, 3)})]),
    Case("broadcast_to", {"data": ((1, 3, 1), signed)}, params=dict(shape=(5, 0, 2)),
         ref=lambda data, **_: np.broadcast_to(data, (5, 3, 2)).copy(), id="broadcast_to-zero-keeps"),
    Case("broadcast_like", {"lhs": ((2, 1, 3), signed), "rhs": ((2, 4, 3), signed)},
         ref=lambda lhs, rhs: np.broadcast_to(lhs, rhs.shape).copy(),
         bad=[("shapes", {"lhs": (2, 2, 3), "rhs": (2, 4, 3)})]),
    Case("broadcast_like", {"lhs": ((1, 3), signed), "rhs": ((3, 5), signed)},
         params=dict(lhs_axes=(0,), rhs_axes=(1,)),
         ref=lambda lhs, rhs, **_: np.broadcast_to(lhs, (5, 3)).copy(),
         bad=[("params", {"lhs_axes": (1,), "rhs_axes": (1,)})], id="broadcast_like-axes"),
    # -- tile, repeat --------------------------------------------------------------------------
    Case("tile", {"data": ((2, 3), signed)}, params=dict(reps=(2, 1, 3)), ref=np_tile,
         bad=[("params", {"reps": (2, 0)})]),
    Case("tile", {"data": ((2, 3, 4), signed)}, params=dict(reps=(3, 2)), ref=np_tile,
         id="tile-short-reps"),
    Case("repeat", {"data": ((2, 3), signed)}, params=dict(repeats=2), ref=np_repeat,
         bad=[("params", {"repeats": -1})]),
    Case("repeat", {"data": ((2, 3, 4), signed)}, params=dict(repeats=3, axis=-2),
         ref=np_repeat, bad=[("params", {"axis": 3})], id="repeat-axis"),
    # -- Cast ------------------------------------------------------------------------------------
    # the table checks one dtype at a time: Cast to the case's own dtype here; float32 <-> float64
    # and the other dtypes are in test_index_ops.py
    Case("Cast", {"data": ((2, 3, 5), signed)}, dtype_params=lambda dt: {"dtype": np.dtype(dt).name},
         ref=lambda data, **_: data, bad=[("params", {"dtype": "complex64"})]),
    # -- argmax family ---------------------------------------------------------------------------
    *[Case(f"arg{kind}", {"data": ((2, 3, 5), distinct)}, params=params,
           ref=np_search(np.argmax if kind == "max" else np.argmin), zero_grad=True,
           bad=[("params", {"axis": 3})],
           id=f"arg{kind}-" + "-".join(f"{k}={v}" for k, v in params.items()))
      for kind in ("max", "min")
      for params in ({"axis": 1}, {"axis": -1, "keepdims": True}, {"axis": None},
                     {"axis": None, "keepdims": True})],
    Case("argmax", {"data": ((2, 4), fixed([[1, 3, 3, 0], [2, 2, 1, 2]]))}, params=dict(axis=1),
         ref=np_search(np.argmax), zero_grad=True, id="argmax-ties-first"),
    Case("argmax_channel", {"data": ((2, 3, 5), distinct)}, zero_grad=True,
         ref=lambda data: np.argmax(data, axis=-1).astype(np.float64)),
    # -- one_hot -------------------------------------------------------------------------------
    Case("one_hot", {"indices": ((2, 3), fixed([[1, 0, 4], [-1, 2.7, 3]]))},
         params=dict(depth=4, on_value=2.5, off_value=-1.0), ref=np_one_hot, zero_grad=True,
         dtype_params=lambda dt: {"dtype": np.dtype(dt).name},
         bad=[("params", {"depth": -1}), ("params", {"dtype": "complex64"})]),
    # -- pick ------------------------------------------------------------------------------------
    Case("pick", {"data": ((3, 4, 2), signed), "index": ((3, 2), fixed([[0, 3], [5, -1], [2, 1.5]]))},
         params=dict(axis=1), ref=np_pick,
         bad=[("shapes", {"data": (3, 4, 2), "index": (3, 4)}), ("params", {"axis": None}),
              ("params", {"mode": "raise"})]),
    Case("pick", {"data": ((3, 4), signed), "index": ((3, 1), fixed([[1], [6], [-1]]))},
         params=dict(axis=-1, keepdims=True, mode="wrap"), ref=np_pick, id="pick-wrap-keepdims"),
    # -- take ------------------------------------------------------------------------------------
    Case("take", {"a": ((4, 3), signed), "indices": ((2, 3), fixed([[0, 1, 1], [3, 5, -2]]))},
         ref=np_take, bad=[("params", {"axis": 2}), ("params", {"mode": "nearest"})]),
    Case("take", {"a": ((2, 5, 3), signed), "indices": ((4,), fixed([4, 0, 6, -1]))},
         params=dict(axis=1, mode="wrap"), ref=np_take, id="take-axis1-wrap"),
    Case("take", {"a": ((2, 3, 5), signed), "indices": ((2, 2), fixed([[4, 0], [2, 4]]))},
         params=dict(axis=-1, mode="raise"), ref=np_take, id="take-last-axis-raise"),
    # -- where -----------------------------------------------------------------------------------
    Case("where", {"condition": ((2, 3, 5), zero_or_not), "x": ((2, 3, 5), signed),
                   "y": ((2, 3, 5), signed)}, ref=np_where,
         bad=[("shapes", {"condition": (3, 3, 5), "x": (2, 3, 5), "y": (2, 3, 5)}),
              ("shapes", {"condition": (2, 3, 5), "x": (2, 3, 5), "y": (2, 5, 3)})]),
    Case("where", {"condition": ((2,), fixed([0.0, 3.0])), "x": ((2, 3, 5), signed),
                   "y": ((2, 3, 5), signed)}, ref=np_where, id="where-1d-condition"),
]

CASE_LIST += [
    Case("broadcast_axis", {"data": ((1, 3, 1), signed)}, params={"axis": (0, 2), "size": (2, 4)},
         ref=lambda data, axis, size: np.broadcast_to(data, (2, 3, 4)),
         bad=[("params", {"axis": (1,), "size": (4,)}), ("params", {"axis": (0,), "size": (2, 3)})]),
    Case("broadcast_axis", {"data": ((2, 1, 5), signed)}, params={"axis": (-2,), "size": (3,)},
         ref=lambda data, axis, size: np.broadcast_to(data, (2, 3, 5)), id="broadcast_axis-negative"),
]
