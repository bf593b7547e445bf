"""Registry-table rows for the unary math operators of cysym/ops/elemwise.py: trigonometric and
hyperbolic maps, degrees/radians, rounding, roots, logarithms, erf/erfinv, gamma/gammaln,
hard_sigmoid, smooth_l1 and softmin.

References are NumPy/SciPy written from MXNet 1.9.1's mshadow_op maps.  Two differ from NumPy:
MXNet's rint sends halves to floor (rint(2.5) = 2, rint(-2.5) = -3) and its round sends them
away from 0 (NumPy's round and rint both go to even).  The rounding maps have zero gradients
(MXNet's MakeZeroGradNodes).  Inputs stay inside each map's domain and away from its kinks,
so that finite differences are meaningful."""
import numpy as np
from scipy import special

from opcase import Case, positive, scalar, signed, unary


def inside_unit(rng, shape):
    """+-[0.1, 0.85]: the domain of arcsin, arccos, arctanh and erfinv, away from its ends."""
    return signed(rng, shape, 0.1, 0.85)


def above_one(rng, shape):
    return rng.uniform(1.2, 3.0, shape)


def above_minus_half(rng, shape):
    return rng.uniform(-0.5, 2.0, shape)


def halves_and_between(rng, shape):
    """Multiples of 0.5 in [-4, 3.5] (ties for the rounding maps), some moved by 0.2 either way."""
    return rng.integers(-8, 8, shape) / 2 + rng.choice([0.0, 0.0, 0.2, -0.2], shape)


def away_from(*kinks):
    """+-[0.1, 3.5], redrawn until no value is within 0.1 of a kink (a gradient jump)."""
    def gen(rng, shape):
        x = signed(rng, shape, 0.1, 3.5)
        while True:
            near = np.any([np.abs(x - k) < 0.1 for k in kinks], axis=0)
            if not near.any():
                return x
            x[near] = signed(rng, int(near.sum()), 0.1, 3.5)
    return gen


def np_rint(x):
    below, above = np.floor(x), np.ceil(x)
    return np.where(x - below <= above - x, below, above)


def np_fix(x):
    below, above = np.floor(x), np.ceil(x)
    return np.where(np.abs(below) < np.abs(above), below, above)


def np_round(x):
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5))


def np_smooth_l1(x, sigma):
    bound = 1 / sigma ** 2
    return np.where(np.abs(x) > bound, np.abs(x) - 0.5 * bound, 0.5 * (sigma * x) ** 2)


def np_hard_sigmoid(data, alpha=0.2, beta=0.5):
    # MXNet's alpha and beta are float32 parameters: float64 arrays see them rounded
    return np.clip(np.float32(alpha).item() * data + np.float32(beta).item(), 0, 1)


def np_softmin(data, axis, temperature):
    shifted = -data / temperature
    e = np.exp(shifted - shifted.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ROUNDING = (("floor", np.floor), ("ceil", np.ceil), ("round", np_round), ("rint", np_rint),
            ("fix", np_fix), ("trunc", np.trunc))

CASE_LIST = [
    unary("sin", np.sin, gen=away_from()), unary("cos", np.cos, gen=away_from()),
    unary("tan", np.tan), unary("arcsin", np.arcsin, gen=inside_unit),
    unary("arccos", np.arccos, gen=inside_unit), unary("arctan", np.arctan, gen=away_from()),
    unary("sinh", np.sinh), unary("cosh", np.cosh), unary("arcsinh", np.arcsinh, gen=away_from()),
    unary("arccosh", np.arccosh, gen=above_one), unary("arctanh", np.arctanh, gen=inside_unit),
    unary("degrees", np.degrees), unary("radians", np.radians, gen=away_from()),
    *[unary(name, fn, gen=halves_and_between, zero_grad=True) for name, fn in ROUNDING],
    unary("cbrt", np.cbrt), unary("rcbrt", lambda x: 1 / np.cbrt(x)),
    unary("log10", np.log10, gen=positive), unary("log2", np.log2, gen=positive),
    unary("log1p", np.log1p, gen=above_minus_half), unary("expm1", np.expm1, gen=away_from()),
    unary("erf", special.erf, gen=away_from()), unary("erfinv", special.erfinv, gen=inside_unit),
    unary("gamma", special.gamma, gen=positive),
    unary("gammaln", special.gammaln, gen=positive),
    # between the poles at -1 and 0 gamma is negative: gammaln is log|gamma|
    unary("gammaln", special.gammaln, gen=lambda rng, shape: rng.uniform(-0.9, -0.1, shape),
          id="gammaln-negative"),
    Case("hard_sigmoid", {"data": ((2, 3, 5), away_from(2.5))}, ref=np_hard_sigmoid,
         bad=[("params", {"alpha": "steep"})]),
    # kinks at x = -4/3 and 2
    Case("hard_sigmoid", {"data": ((3, 5, 2), away_from(-4 / 3, 2.0))},
         params=dict(alpha=0.3, beta=0.4), ref=np_hard_sigmoid, id="hard_sigmoid-alpha-beta"),
    # softmin (cysym/ops/activation.py, beside softmax): softmax of -x
    Case("softmin", {"data": ((2, 3, 5), signed)}, ref=lambda data: np_softmin(data, -1, 1.0),
         bad=[("params", {"axis": 3})]),
    Case("softmin", {"data": ((3, 5, 2), signed)}, params=dict(axis=1, temperature=0.7),
         ref=np_softmin, id="softmin-axis-temperature"),
    # kinks at |x| = 1 / 1.5**2 = 0.444 (and 1 for the default scalar)
    scalar("smooth_l1", np_smooth_l1, scalar_value=1.5, gen=away_from(4 / 9, -4 / 9),
           bad=[("params", {"scalar": "wide"})]),
    Case("smooth_l1", {"data": ((5, 2, 3), away_from(1.0, -1.0))}, ref=lambda data: np_smooth_l1(data, 1.0),
         id="smooth_l1-default"),
]
