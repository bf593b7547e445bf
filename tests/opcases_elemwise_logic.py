"""Registry-table rows for the comparison, logical, mod and hypot operators of
cysym/ops/elemwise.py (scalar, same-shape and broadcast forms).

References are NumPy written from MXNet's mshadow_op maps: comparisons and logical maps give
1.0 or 0.0 (any non-zero value, NaN included, is true) and have zero gradients; mod takes the
sign of the divisor, as Python's %, and gives 0 for a 0 divisor; d mod(a, b)/da = 1 and
d mod(a, b)/db = -floor(a / b)."""
import numpy as np

from opcase import Case, binary, broadcast, scalar, signed, small_ints


def np_mod(a, b):
    """MXNet's mod: NumPy's (sign of the divisor), and 0 where the divisor is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, np.mod(a, b))


def zero_or_not(rng, shape):
    """Truth values for the logical maps: zeros, ones and other non-zero values."""
    return rng.choice([0.0, 1.0, -2.5], shape)


def half_integers(rng, shape):
    """k + 0.5 for k in [-4, 3]: never within 1/8 of a multiple of the divisors below, so
    mod has no jump near any of them (finite differences stay meaningful)."""
    return rng.integers(-4, 4, shape) + 0.5


def even_divisors(rng, shape):
    return rng.choice([-4.0, -2.0, 2.0, 4.0], shape)


def away_from_multiples(divisor):
    """Values whose quotient by `divisor` is 0.2 to 0.8 past an integer, of both signs."""
    def gen(rng, shape):
        return divisor * (rng.integers(-3, 3, shape) + rng.uniform(0.2, 0.8, shape))
    return gen


def dividing_away_from_integers(numerator):
    """x in +-[0.4, 2.5] with numerator / x at least 0.1 away from an integer (rmod's jumps)."""
    def gen(rng, shape):
        x = signed(rng, shape, 0.4, 2.5)
        while True:
            quotient = numerator / x
            near = np.abs(quotient - np.round(quotient)) < 0.1
            if not near.any():
                return x
            x[near] = signed(rng, int(near.sum()), 0.4, 2.5)
    return gen


def as_float(fn):
    return lambda *args: fn(*args).astype(np.float64)


COMPARISONS = (("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater),
               ("greater_equal", np.greater_equal), ("lesser", np.less),
               ("lesser_equal", np.less_equal))
LOGICAL = (("logical_and", lambda a, b: (a != 0) & (b != 0)),
           ("logical_or", lambda a, b: (a != 0) | (b != 0)),
           ("logical_xor", lambda a, b: (a != 0) ^ (b != 0)))

CASE_LIST = [
    # -- scalar ---------------------------------------------------------------------------------
    # scalar 1 meets the inputs {0, 1, 2}: ties on both sides
    *[scalar(f"_{name}_scalar", lambda x, s, fn=fn: fn(x, s).astype(np.float64), scalar_value=1.0,
             gen=small_ints, zero_grad=True)
      for name, fn in COMPARISONS],
    scalar("_greater_scalar", lambda x, s: (x > s).astype(np.float64), scalar_value=-0.3,
           zero_grad=True, id="_greater_scalar-fractional",
           bad=[("params", {"scalar": "one"})]),
    *[scalar(f"_{name}_scalar", lambda x, s, fn=fn: fn(x, s).astype(np.float64), scalar_value=value,
             gen=zero_or_not, zero_grad=True, id=f"_{name}_scalar-{value}")
      for name, fn in LOGICAL for value in (0.0, -0.5)],
    scalar("_hypot_scalar", np.hypot, scalar_value=-1.5),
    scalar("_mod_scalar", np_mod, scalar_value=1.5, gen=away_from_multiples(1.5)),
    scalar("_mod_scalar", np_mod, scalar_value=-1.5, gen=away_from_multiples(1.5),
           id="_mod_scalar-negative-divisor"),
    # a 0 divisor gives 0, yet MXNet's gradient there is still dy: no finite-difference check
    scalar("_mod_scalar", np_mod, scalar_value=0.0, gen=signed, id="_mod_scalar-zero-divisor", grad=()),
    scalar("_rmod_scalar", lambda x, s: np_mod(s, x), scalar_value=2.5,
           gen=dividing_away_from_integers(2.5)),
    scalar("_rmod_scalar", lambda x, s: np_mod(s, x), scalar_value=-2.5,
           gen=dividing_away_from_integers(2.5), id="_rmod_scalar-negative"),
    Case("logical_not", {"data": ((2, 3, 5), zero_or_not)},
         ref=lambda data: (data == 0).astype(np.float64), zero_grad=True),
    # -- same shape -----------------------------------------------------------------------------
    *[binary(f"_{name}", as_float(fn), gen_l=small_ints, gen_r=small_ints, zero_grad=True)
      for name, fn in COMPARISONS + LOGICAL],
    binary("_mod", np_mod, gen_l=half_integers, gen_r=even_divisors),
    Case("_mod", {"lhs": ((2, 3, 5), signed), "rhs": ((2, 3, 5), lambda r, s: r.choice([0.0, 1.5], s))},
         ref=lambda lhs, rhs: np_mod(lhs, rhs), grad=(), id="_mod-zero-divisor"),
    # -- broadcast ------------------------------------------------------------------------------
    *[broadcast(f"broadcast_{name}", as_float(fn), gen_l=zero_or_not, gen_r=zero_or_not,
                rhs_shape=(2, 1, 5), zero_grad=True)
      for name, fn in LOGICAL],
    broadcast("broadcast_mod", np_mod, gen_l=half_integers, gen_r=even_divisors),
    broadcast("broadcast_mod", np_mod, gen_l=half_integers, gen_r=even_divisors,
              lhs_shape=(2, 1, 5), rhs_shape=(1, 3, 1)),
]
