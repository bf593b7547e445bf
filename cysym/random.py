"""The global random state: `cysym.random.seed(n)` makes initializers, iterators' shuffles,
Dropout masks and the sampling operators (mx.random.uniform, ...) reproducible."""
import numpy as np

__all__ = ["seed", "next_seed", "generator", "uniform", "normal", "randn", "poisson", "exponential",
           "gamma", "multinomial", "negative_binomial", "generalized_negative_binomial", "randint",
           "shuffle"]

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


# MXNet's mx.random.<sampler> is mx.nd.random.<sampler>: the graph operators' imperative calls
_SAMPLERS = ("uniform", "normal", "randn", "poisson", "exponential", "gamma", "multinomial",
             "negative_binomial", "generalized_negative_binomial", "randint", "shuffle")


def __getattr__(name):
    if name in _SAMPLERS:
        from . import ndarray_random   # imported on use: the operators sit above this module
        return getattr(ndarray_random, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
