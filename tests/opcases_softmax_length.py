"""Registry-table rows for softmax with use_length=True (cysym/_ops/softmax_length.pyx): the
softmax of the first length[...] elements along the axis, zeros after them. Lengths are
integer-valued floats here (the kernel reads int32, int64, float32 and float64 lengths);
test_mxnet_deviations.py checks int32 lengths against MXNet 1.9.1's values."""
import numpy as np

from opcase import Case, integers, signed


def np_softmax_length(data, length, axis=-1, temperature=1.0, use_length=True):
    axis %= data.ndim
    moved = np.moveaxis(data, axis, -1) / temperature
    out = np.zeros_like(moved)
    valid = np.clip(np.trunc(length), 0, moved.shape[-1]).astype(int)
    for index in np.ndindex(valid.shape):
        n = valid[index]
        if n:
            row = np.exp(moved[index][:n] - moved[index][:n].max())
            out[index][:n] = row / row.sum()
    return np.moveaxis(out, -1, axis)


CASE_LIST = [
    Case("softmax", {"data": ((3, 5), signed), "length": ((3,), integers(6))},
         params=dict(use_length=True), ref=np_softmax_length, id="softmax-use_length",
         bad=[("shapes", {"data": (3, 5), "length": (5,)}), ("params", {"axis": 2})]),
    Case("softmax", {"data": ((2, 4, 3), signed), "length": ((2, 3), integers(5))},
         params=dict(use_length=True, axis=1, temperature=1.5), ref=np_softmax_length,
         id="softmax-use_length-axis1"),
]
