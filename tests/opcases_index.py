"""Registry-table rows for the indexing operators (cysym/ops/index.py)."""
import numpy as np

from opcase import Case, distinct, integers, signed


def np_swapaxes(data, dim1=0, dim2=0):
    return np.swapaxes(data, dim1, dim2)


CASE_LIST = [
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
]
