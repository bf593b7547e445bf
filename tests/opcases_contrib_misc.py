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


def np_allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=True):
    # MXNet's tolerances are float32 values
    rtol, atol = np.float32(rtol).item(), np.float32(atol).item()
    return np.array(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan), np.uint8)


def close_to_a(rng, shape):
    """What `a` (signed, seed order) is, moved by a relative 1e-6: allclose holds."""
    return signed(np.random.default_rng(0), shape) * (1 + 1e-6)


CASE_LIST += [
    # no gradient flows through the test (zero_grad)
    Case("_contrib_allclose", {"a": ((2, 3, 5), signed), "b": ((2, 3, 5), signed)},
         ref=np_allclose, zero_grad=True, bad=[("shapes", {"a": (2, 3, 5), "b": (2, 5, 3)})]),
    Case("_contrib_allclose", {"a": ((3, 5, 2), signed), "b": ((3, 5, 2), signed)},
         params=dict(rtol=0.5, atol=2.0), ref=np_allclose, zero_grad=True,
         id="_contrib_allclose-loose"),
]
