"""Registry-table rows for cysym/ops/contrib_misc.py: _contrib_quadratic against NumPy (its
gradient by finite differences), and the forwards of _contrib_gradientmultiplier and the
straight-through estimators, whose gradients are by design not the forward's derivative
(tests/test_contrib_misc.py checks them)."""
import numpy as np

from opcase import Case, signed
from opcases_unary import halves_and_between, np_round


def np_quadratic(data, a=0.0, b=0.0, c=0.0):
    # MXNet's coefficients are float32: float64 arrays see them rounded
    a, b, c = (np.float32(v).item() for v in (a, b, c))
    return data * (a * data + b) + c


CASE_LIST = [
    Case("_contrib_quadratic", {"data": ((2, 3, 5), signed)}, params=dict(a=0.7, b=-1.3, c=0.4),
         ref=np_quadratic, bad=[("params", {"a": "steep"})]),
    Case("_contrib_quadratic", {"data": ((3, 5, 2), signed)}, params=dict(b=2.5),
         ref=np_quadratic, id="_contrib_quadratic-linear"),
    Case("_contrib_gradientmultiplier", {"data": ((2, 3, 5), signed)}, params=dict(scalar=-0.5),
         ref=lambda data, scalar: data, grad=(), bad=[("params", {"scalar": "many"})]),
    Case("_contrib_round_ste", {"data": ((2, 3, 5), halves_and_between)}, ref=lambda data: np_round(data), grad=()),
    Case("_contrib_sign_ste", {"data": ((3, 2, 5), signed)}, ref=lambda data: np.sign(data), grad=()),
]
