"""mx.sym.random's samplers (MXNet's python/mxnet/symbol/random.py): Symbol parameters make a
_sample_<distribution> node (one distribution per element), numbers a _random_<distribution>
node.  install() puts them on the mx.sym.random namespace, which serves the other
_random_<name> operators (uniform_like, ...) itself."""
import numbers

from .symbol import Symbol, create_op

__all__ = ["install"]


def _random_helper(random, sampler, params, shape, dtype, kwargs):
    values = list(params.values())
    given = {k: v for k, v in (("shape", shape), ("dtype", dtype)) if v is not None}
    if isinstance(values[0], Symbol):
        if not all(isinstance(v, Symbol) for v in values):
            raise TypeError(f"Distribution parameters must all have the same type, but got "
                            f"{[type(v).__name__ for v in values]}")
        if sampler is None:
            raise TypeError("Symbol parameters are not supported by this distribution")
        return create_op(sampler, *values, **given, **kwargs)
    if isinstance(values[0], numbers.Number):
        if not all(isinstance(v, numbers.Number) for v in values):
            raise TypeError(f"Distribution parameters must all have the same type, but got "
                            f"{[type(v).__name__ for v in values]}")
        return create_op(random, **params, **given, **kwargs)
    raise ValueError(f"Distribution parameters must be either Symbol or numbers, but got "
                     f"{type(values[0]).__name__}")


def uniform(low=0, high=1, shape=None, dtype=None, **kwargs):
    """Samples of the uniform distribution over [low, high) (Symbols: one per element)."""
    return _random_helper("_random_uniform", "_sample_uniform", {"low": low, "high": high}, shape,
                          dtype, kwargs)


def normal(loc=0, scale=1, shape=None, dtype=None, **kwargs):
    """Samples of the normal distribution N(loc, scale**2)."""
    return _random_helper("_random_normal", "_sample_normal", {"loc": loc, "scale": scale}, shape,
                          dtype, kwargs)


def randn(*shape, **kwargs):
    """Samples of N(loc, scale**2) (keywords loc=0, scale=1) of the given shape."""
    loc, scale, dtype = kwargs.pop("loc", 0), kwargs.pop("scale", 1), kwargs.pop("dtype", None)
    return _random_helper("_random_normal", "_sample_normal", {"loc": loc, "scale": scale},
                          shape or None, dtype, kwargs)


def poisson(lam=1, shape=None, dtype=None, **kwargs):
    """Samples of the Poisson distribution with rate lam."""
    return _random_helper("_random_poisson", "_sample_poisson", {"lam": lam}, shape, dtype, kwargs)


def exponential(scale=1, shape=None, dtype=None, **kwargs):
    """Samples of the exponential distribution with scale beta = 1 / lambda."""
    return _random_helper("_random_exponential", "_sample_exponential", {"lam": 1.0 / scale},
                          shape, dtype, kwargs)


def gamma(alpha=1, beta=1, shape=None, dtype=None, **kwargs):
    """Samples of the gamma distribution with shape alpha and scale beta."""
    return _random_helper("_random_gamma", "_sample_gamma", {"alpha": alpha, "beta": beta}, shape,
                          dtype, kwargs)


def negative_binomial(k=1, p=1, shape=None, dtype=None, **kwargs):
    """Samples of the negative binomial distribution (k successes, success probability p)."""
    return _random_helper("_random_negative_binomial", "_sample_negative_binomial",
                          {"k": k, "p": p}, shape, dtype, kwargs)


def generalized_negative_binomial(mu=1, alpha=1, shape=None, dtype=None, **kwargs):
    """Samples of the negative binomial distribution with mean mu and dispersion alpha."""
    return _random_helper("_random_generalized_negative_binomial",
                          "_sample_generalized_negative_binomial", {"mu": mu, "alpha": alpha},
                          shape, dtype, kwargs)


def multinomial(data, shape=None, get_prob=True, dtype="int32", **kwargs):
    """Samples of the categorical distributions on the last axis of data; with get_prob (the
    default here, as in MXNet's symbolic API), also their log-probabilities."""
    given = {} if shape is None else {"shape": shape}
    return create_op("_sample_multinomial", data, get_prob=get_prob, dtype=dtype, **given,
                     **kwargs)


def randint(low, high, shape=None, dtype=None, **kwargs):
    """Integers drawn uniformly from [low, high)."""
    return _random_helper("_random_randint", None, {"low": low, "high": high}, shape, dtype,
                          kwargs)


def shuffle(data, **kwargs):
    """data with its rows (first axis) in a random order."""
    return create_op("_shuffle", data, **kwargs)


_SAMPLERS = (uniform, normal, randn, poisson, exponential, gamma, negative_binomial,
             generalized_negative_binomial, multinomial, randint, shuffle)


def install(namespace):
    """Set the samplers on the mx.sym.random namespace module."""
    for function in _SAMPLERS:
        setattr(namespace, function.__name__, function)
