"""The global random state: `cysym.random.seed(n)` makes initializers, iterators' shuffles and
Dropout masks reproducible."""
import numpy as np

__all__ = ["seed", "next_seed", "generator", "uniform", "normal"]

_state = {"generator": np.random.default_rng(0)}


def seed(seed_state, ctx="all"):
    """Reset every random stream of cysym from one integer (ctx is accepted for MXNet code)."""
    if not isinstance(seed_state, (int, np.integer)) or isinstance(seed_state, bool):
        raise ValueError(f"seed must be an integer, not {seed_state!r}")
    _state["generator"] = np.random.default_rng(int(seed_state))


def generator():
    """The NumPy Generator behind cysym's randomness (initializers, shuffling)."""
    return _state["generator"]


def next_seed():
    """A 64-bit seed for a kernel's own generator (one per training forward)."""
    return int(_state["generator"].integers(0, 2 ** 63 - 1))


def uniform(low=0.0, high=1.0, shape=(1,), dtype="float32"):
    return _state["generator"].uniform(low, high, size=shape).astype(dtype)


def normal(loc=0.0, scale=1.0, shape=(1,), dtype="float32"):
    return _state["generator"].normal(loc, scale, size=shape).astype(dtype)
