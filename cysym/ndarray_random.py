"""mx.nd.random: MXNet's imperative samplers (python/mxnet/ndarray/random.py), each a call of
the graph operator _random_<distribution> (scalar parameters) or _sample_<distribution>
(NDArray parameters, one distribution per element); the `<distribution>_like` operators and
the densities are reached through the namespace (mx.nd.random.uniform_like).  Numbers come
from the stream that cysym.random.seed fixes."""
import numbers

import numpy as np

from .context import current_context

__all__ = ["uniform", "normal", "randn", "poisson", "exponential", "gamma", "multinomial",
           "negative_binomial", "generalized_negative_binomial", "randint", "shuffle"]


def _internal():
    from . import ndarray
    return ndarray._internal


def _given(**kwargs):
    """The keyword arguments that were given (MXNet's _Null is None here)."""
    return {k: v for k, v in kwargs.items() if v is not None}


def _random_helper(random, sampler, params, shape, dtype, ctx, out, kwargs):
    """MXNet's dispatch: NDArray parameters -> the _sample_ operator, numbers -> the _random_
    operator (one sample when no shape and no out are given)."""
    values = list(params.values())
    if isinstance(values[0], np.ndarray):
        if not all(isinstance(v, np.ndarray) for v in values):
            raise TypeError(f"Distribution parameters must all have the same type, but got "
                            f"{[type(v).__name__ for v in values]}")
        if sampler is None:
            raise TypeError("NDArray parameters are not supported by this distribution")
        return getattr(_internal(), sampler)(*values, out=out, **_given(shape=shape, dtype=dtype),
                                             **kwargs)
    if isinstance(values[0], numbers.Number):
        if not all(isinstance(v, numbers.Number) for v in values):
            raise TypeError(f"Distribution parameters must all have the same type, but got "
                            f"{[type(v).__name__ for v in values]}")
        if shape is None:
            shape = out.shape if out is not None else (1,)
        ctx = current_context() if ctx is None else ctx
        return getattr(_internal(), random)(out=out, shape=shape, ctx=str(ctx),
                                            **_given(dtype=dtype), **params, **kwargs)
    raise ValueError(f"Distribution parameters must be either NDArray or numbers, but got "
                     f"{type(values[0]).__name__}")


def uniform(low=0, high=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples of the uniform distribution over [low, high) (arrays: one per element)."""
    return _random_helper("_random_uniform", "_sample_uniform", {"low": low, "high": high}, shape,
                          dtype, ctx, out, kwargs)


def normal(loc=0, scale=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples of the normal distribution N(loc, scale**2)."""
    return _random_helper("_random_normal", "_sample_normal", {"loc": loc, "scale": scale}, shape,
                          dtype, ctx, out, kwargs)


def randn(*shape, **kwargs):
    """Samples of N(loc, scale**2) (keywords loc=0, scale=1) in an array of the given shape."""
    loc, scale = kwargs.pop("loc", 0), kwargs.pop("scale", 1)
    dtype, ctx, out = kwargs.pop("dtype", None), kwargs.pop("ctx", None), kwargs.pop("out", None)
    return _random_helper("_random_normal", "_sample_normal", {"loc": loc, "scale": scale},
                          shape or None, dtype, ctx, out, kwargs)


def poisson(lam=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples of the Poisson distribution with rate lam."""
    return _random_helper("_random_poisson", "_sample_poisson", {"lam": lam}, shape, dtype, ctx,
                          out, kwargs)


def exponential(scale=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples of the exponential distribution with scale beta = 1 / lambda."""
    return _random_helper("_random_exponential", "_sample_exponential", {"lam": 1.0 / scale},
                          shape, dtype, ctx, out, kwargs)


def gamma(alpha=1, beta=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples of the gamma distribution with shape alpha and scale beta."""
    return _random_helper("_random_gamma", "_sample_gamma", {"alpha": alpha, "beta": beta},
                          shape, dtype, ctx, out, kwargs)


def negative_binomial(k=1, p=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples of the negative binomial distribution: failures before k successes, p the
    success probability."""
    return _random_helper("_random_negative_binomial", "_sample_negative_binomial",
                          {"k": k, "p": p}, shape, dtype, ctx, out, kwargs)


def generalized_negative_binomial(mu=1, alpha=1, shape=None, dtype=None, ctx=None, out=None,
                                  **kwargs):
    """Samples of the negative binomial distribution with mean mu and dispersion alpha."""
    return _random_helper("_random_generalized_negative_binomial",
                          "_sample_generalized_negative_binomial", {"mu": mu, "alpha": alpha},
                          shape, dtype, ctx, out, kwargs)


def multinomial(data, shape=None, get_prob=False, out=None, dtype="int32", **kwargs):
    """Samples of the categorical distributions on the last axis of data (rows summing to 1);
    with get_prob, also their log-probabilities."""
    return _internal()._sample_multinomial(data, out=out, get_prob=get_prob, dtype=dtype,
                                           **_given(shape=shape), **kwargs)


def randint(low, high, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Integers drawn uniformly from [low, high) (int32 unless dtype says int64)."""
    return _random_helper("_random_randint", None, {"low": low, "high": high}, shape, dtype, ctx,
                          out, kwargs)


def shuffle(data, **kwargs):
    """data with its rows (first axis) in a random order."""
    return _internal()._shuffle(data, **kwargs)
