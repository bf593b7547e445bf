"""Registry-table rows for the init operators (cysym/ops/init_op.py)."""
import numpy as np

from opcase import Case


CASE_LIST = [
    Case("_zeros", {}, params=dict(shape=(2, 3, 5)), ref=lambda shape: np.zeros(shape),
         dtype_params=lambda dtype: {"dtype": np.dtype(dtype).name},
         bad=[("params", {"dtype": "complex64"})]),
]
