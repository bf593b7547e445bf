"""Registry-table rows for the init operators (cysym/ops/init_op.py).

References follow MXNet's init_op.h: _arange's values are start + (i // repeat) * step, its
length ceil((stop - start) / step) * repeat; _linspace's step is (stop - start) / (num - 1)
(num with endpoint=False); _eye has ones on diagonal k of an N x (M or N) matrix."""
import numpy as np

from cysym.base import dtype_code
from opcase import Case, signed


def np_arange(start, stop=None, step=1.0, repeat=1, **_):
    if stop is None:
        start, stop = 0.0, start
    count = int(np.ceil((stop - start) / step))
    return np.repeat(start + np.arange(count) * step, repeat)


def np_arange_like(data, start=0.0, step=1.0, repeat=1, axis=None):
    shape = data.shape if axis is None else (data.shape[axis],)
    count = int(np.prod(shape))
    return (start + (np.arange(count) // repeat) * step).reshape(shape)


def np_linspace(start, stop, num, endpoint=True, **_):
    return np.linspace(start, stop, num, endpoint=endpoint)


def named_dtype(dtype):
    return {"dtype": np.dtype(dtype).name}


CASE_LIST = [
    *[Case(name, {}, params=dict(shape=(2, 3, 5)), ref=lambda shape, fill=fill: fill(shape),
           dtype_params=named_dtype, bad=[("params", {"dtype": "complex64"})])
      for name, fill in (("_zeros", np.zeros), ("_ones", np.ones))],
    Case("_full", {}, params=dict(shape=(2, 3, 5), value=-1.25),
         ref=lambda shape, value: np.full(shape, value), dtype_params=named_dtype,
         bad=[("params", {"dtype": "complex64"}), ("params", {"value": None})]),
    Case("_zeros_without_dtype", {}, params=dict(shape=(2, 3, 5)), ref=lambda shape: np.zeros(shape),
         dtype_params=lambda dtype: {"dtype": dtype_code(dtype)}),
    Case("_arange", {}, params=dict(start=2.0, stop=11.0, step=1.5, repeat=2), ref=np_arange,
         dtype_params=named_dtype,
         bad=[("params", {"step": 0.0}), ("params", {"stop": 1.0}), ("params", {"repeat": 0})]),
    Case("_arange", {}, params=dict(start=5.0), ref=np_arange, dtype_params=named_dtype,
         id="_arange-stop-only"),
    Case("_arange", {}, params=dict(start=3.0, stop=-2.0, step=-0.7), ref=np_arange,
         dtype_params=named_dtype, bad=[("params", {"stop": 4.0})], id="_arange-negative-step"),
    Case("_contrib_arange_like", {"data": ((2, 3, 5), signed)},
         params=dict(start=1.5, step=-0.5, repeat=2), ref=np_arange_like, zero_grad=True,
         bad=[("params", {"axis": 3}), ("params", {"repeat": 0})]),
    Case("_contrib_arange_like", {"data": ((2, 3, 5), signed)}, params=dict(start=4.0, axis=-2),
         ref=np_arange_like, zero_grad=True, id="_contrib_arange_like-axis"),
    Case("_linspace", {}, params=dict(start=-1.0, stop=2.5, num=8), ref=np_linspace,
         dtype_params=named_dtype, bad=[("params", {"num": -1})]),
    Case("_linspace", {}, params=dict(start=-1.0, stop=2.5, num=7, endpoint=False), ref=np_linspace,
         dtype_params=named_dtype, id="_linspace-no-endpoint"),
    Case("_linspace", {}, params=dict(start=0.75, stop=2.5, num=1), ref=np_linspace,
         dtype_params=named_dtype, id="_linspace-one"),
    Case("_eye", {}, params=dict(N=3, M=5, k=1), ref=lambda N, M, k: np.eye(N, M, k),
         dtype_params=named_dtype, bad=[("params", {"N": -1}), ("params", {"dtype": "bool"})]),
    Case("_eye", {}, params=dict(N=4, k=-2), ref=lambda N, k: np.eye(N, N, k),
         dtype_params=named_dtype, id="_eye-square-below"),
    Case("_eye", {}, params=dict(N=3, M=4, k=7), ref=lambda N, M, k: np.zeros((N, M)),
         dtype_params=named_dtype, id="_eye-diagonal-outside"),
    # int64 outputs, as MXNet's (test_int_dtypes.py binds them with integer consumers)
    *[Case(name, {"data": ((2, 3, 5), signed)}, ref=ref, zero_grad=True)
      for name, ref in (("shape_array", lambda data: np.array(data.shape)),
                        ("size_array", lambda data: np.array([data.size])))],
]
