"""Registry-table rows for the reductions of cysym/ops/reduce.py beyond sum/mean/max/min: prod,
nansum, nanprod, _square_sum, norm (ord 1 and 2), moments and _np_cumsum (MXNet's cumsum).

References are NumPy written from MXNet 1.9.1's semantics: a reduction over every axis gives
shape (1,) (MXNet 1.x has no 0-d arrays), exclude=True reduces the axes not named, nansum and
nanprod count NaN as 0 and 1 (and give it a zero gradient), norm's axis reduces every axis it
names, moments' var is the biased variance, and cumsum without an axis sums the flattened
array.  Inputs avoid 0 where a gradient divides by the data (prod) or has a kink (L1 norm)."""
import numpy as np

from opcase import Case, signed

REDUCE_PARAMS = ({}, {"axis": 1}, {"axis": (0, 2), "keepdims": True}, {"axis": -1, "exclude": True})


def np_reduce(fn):
    def ref(data, axis=None, keepdims=False, exclude=False):
        if axis is not None and exclude:
            axis = tuple(i for i in range(data.ndim) if i not in np.atleast_1d(axis) % data.ndim)
        out = np.asarray(fn(data, axis=axis, keepdims=keepdims))
        return out.reshape(1) if out.ndim == 0 else out
    return ref


def with_nans(rng, shape):
    """signed values, about one in five replaced by NaN (never a whole row of 5)."""
    x = signed(rng, shape)
    x[rng.random(shape) < 0.2] = np.nan
    return x


def np_square_sum(data, axis=None, keepdims=False):
    return np.sum(data * data, axis=axis, keepdims=keepdims)


def np_norm(data, ord=2, axis=None, keepdims=False):
    summed = np.sum(np.abs(data) if ord == 1 else data * data, axis=axis, keepdims=keepdims)
    out = np.asarray(summed if ord == 1 else np.sqrt(summed))
    return out.reshape(1) if out.ndim == 0 else out


def np_moments(data, axes, keepdims=False):
    return [np_reduce(fn)(data, axis=axes, keepdims=keepdims) for fn in (np.mean, np.var)]


def np_cumsum(a, axis=None):
    return np.cumsum(a, axis=axis)


def case_id(name, params):
    return f"{name}-" + "-".join(f"{k}={v}" for k, v in params.items()) if params else name


CASE_LIST = [
    *[Case(name, {"data": ((2, 3, 5), gen)}, params=params, ref=np_reduce(fn),
           bad=[("params", {"axis": 3})], id=case_id(name, params))
      for name, fn, gen in (("prod", np.prod, signed), ("nansum", np.nansum, with_nans),
                            ("nanprod", np.nanprod, with_nans),
                            ("_square_sum", np_square_sum, signed))
      for params in REDUCE_PARAMS],
    *[Case("norm", {"data": ((2, 3, 5), signed)}, params=params, ref=np_norm,
           bad=[("params", {"ord": 3}), ("params", {"axis": (0, 3)})], id=case_id("norm", params))
      for params in ({}, {"ord": 1}, {"axis": 1}, {"ord": 1, "axis": (0, 2), "keepdims": True},
                     {"axis": (-1, 0)}, {"axis": (0, 1, 2), "keepdims": True})],
    *[Case("moments", {"data": ((2, 3, 5), signed)}, params=params, ref=np_moments,
           bad=[("params", {"axes": ()}), ("params", {"axes": (1, 3)})], id=case_id("moments", params))
      for params in ({"axes": (0, 2)}, {"axes": (1,), "keepdims": True}, {"axes": (0, 1, 2)},
                     {"axes": (-1,)})],
    *[Case("_np_cumsum", {"a": ((2, 3, 5), signed)}, params=params, ref=np_cumsum,
           bad=[("params", {"axis": 3}), ("params", {"axis": "one"})], id=case_id("_np_cumsum", params))
      for params in ({}, {"axis": 0}, {"axis": 1}, {"axis": -1})],
]
