"""Registry-table rows for the sorting operators (cysym/ops/sort.py): topk in every ret_typ,
sort, argsort.

The references are NumPy written from MXNet's documented semantics, on distinct values (the
order of equal values is MXNet's own and is checked against MXNet in test_sort_gather_ops.py).
Index outputs take the case's dtype through the `dtype` parameter."""
import numpy as np

from opcase import Case, distinct


def np_topk(data, axis=-1, k=1, ret_typ="indices", is_ascend=False, dtype="float32"):
    rows = data.reshape(-1) if axis is None else np.moveaxis(data, axis, -1)
    n = rows.shape[-1]
    k = n if k <= 0 else k
    order = np.argsort(rows if is_ascend else -rows, axis=-1, kind="stable")[..., :k]

    def back(a):
        return a if axis is None else np.moveaxis(a, -1, axis)

    if ret_typ == "mask":
        mask = np.zeros_like(rows)
        np.put_along_axis(mask, order, 1.0, -1)
        return back(mask).reshape(data.shape)
    values = back(np.take_along_axis(rows, order, -1))
    indices = back(order.astype(np.float64))
    return {"value": values, "indices": indices, "both": [values, indices]}[ret_typ]


def np_sort(data, axis=-1, is_ascend=True):
    return np_topk(data, axis, 0, "value", is_ascend)


def np_argsort(data, axis=-1, is_ascend=True, dtype="float32"):
    return np_topk(data, axis, 0, "indices", is_ascend)


def index_dtype(dtype):
    return {"dtype": np.dtype(dtype).name}


CASE_LIST = [
    # -- topk --------------------------------------------------------------------------------
    Case("topk", {"data": ((2, 3, 5), distinct)}, params=dict(k=2), ref=np_topk,
         dtype_params=index_dtype, zero_grad=True,
         bad=[("params", {"k": 6}), ("params", {"axis": 3}), ("params", {"ret_typ": "values"}),
              ("params", {"dtype": "int8"})]),
    Case("topk", {"data": ((2, 5, 3), distinct)}, params=dict(k=3, axis=1, ret_typ="value"),
         ref=np_topk, bad=[("params", {"k": 6})], id="topk-value-middle-axis"),
    Case("topk", {"data": ((2, 3, 5), distinct)},
         params=dict(k=4, axis=None, ret_typ="both", is_ascend=True), ref=np_topk,
         dtype_params=index_dtype, bad=[("params", {"k": 31})], id="topk-both-flattened-ascend"),
    Case("topk", {"data": ((4, 3, 5), distinct)}, params=dict(k=2, axis=0, ret_typ="mask"),
         ref=np_topk, zero_grad=True, bad=[("params", {"k": 5})], id="topk-mask-axis0"),
    Case("topk", {"data": ((2, 3, 5), distinct)}, params=dict(k=3, axis=None, ret_typ="mask"),
         ref=np_topk, zero_grad=True, id="topk-mask-flattened"),
    Case("topk", {"data": ((3, 5, 2), distinct)},
         params=dict(k=0, axis=-2, ret_typ="value", is_ascend=True), ref=np_topk,
         id="topk-value-k0-sorts-all"),
    # -- sort, argsort ---------------------------------------------------------------------------
    Case("sort", {"data": ((2, 3, 5), distinct)}, ref=np_sort, bad=[("params", {"axis": -4})]),
    Case("sort", {"data": ((2, 3, 5), distinct)}, params=dict(axis=None, is_ascend=False),
         ref=np_sort, id="sort-flattened-descending"),
    Case("sort", {"data": ((4, 3, 2), distinct)}, params=dict(axis=0), ref=np_sort,
         id="sort-axis0"),
    Case("argsort", {"data": ((2, 3, 5), distinct)}, params=dict(axis=1, is_ascend=False),
         ref=np_argsort, dtype_params=index_dtype, zero_grad=True,
         bad=[("params", {"axis": 3}), ("params", {"dtype": "bool"})]),
    Case("argsort", {"data": ((2, 3, 5), distinct)}, params=dict(axis=None), ref=np_argsort,
         dtype_params=index_dtype, zero_grad=True, id="argsort-flattened"),
]
