"""Registry-table rows for the init operators (cysym/ops/init_op.py)."""
import numpy as np

from opcase import Case


CASE_LIST = [
    Case(name, {}, params=dict(shape=(2, 3, 5)), ref=lambda shape, fill=fill: fill(shape),
         dtype_params=lambda dtype: {"dtype": np.dtype(dtype).name},
         bad=[("params", {"dtype": "complex64"})])
    for name, fill in (("_zeros", np.zeros), ("_ones", np.ones))
]
