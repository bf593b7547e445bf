"""Registry-table rows for the random-sampling family (cysym/ops/random_ops.py, random_pdf.py).

A sampler's numbers cannot be predicted, so its rows use the parameters that make a
distribution a point mass (low == high, scale 0, rate 0, p 1...), as Dropout's row runs it in
inference mode: the forward checks then see exact values through the same kernels, and the
statistics of real draws are tested in test_random_ops.py.  Samplers have MXNet's zero
gradient; the densities have exact references and finite-difference gradients."""
import numpy as np
from scipy import special

from opcase import Case, positive, signed, small_ints

SHAPE = (2, 3, 5)


def fixed(values):
    values = np.asarray(values, dtype=np.float64)
    return lambda rng, shape: values.reshape(shape)


def constant(value):
    return lambda rng, shape: np.full(shape, float(value))


def float_dtype(dtype):
    return {"dtype": np.dtype(dtype).name}


def full(value, dtype=np.float64):
    return lambda **_: np.full(SHAPE, value, dtype=dtype)


# -- _random_<distribution>: point masses ----------------------------------------------------------
_POINT_MASSES = [
    ("uniform", dict(low=1.5, high=1.5), 1.5, [("params", {"low": 2.0, "high": 1.0})]),
    ("normal", dict(loc=-0.5, scale=0.0), -0.5, [("params", {"scale": -1.0})]),
    ("gamma", dict(alpha=2.0, beta=0.0), 0.0, [("params", {"alpha": 0.0})]),
    ("exponential", dict(lam=float("inf")), 0.0, [("params", {"lam": -1.0})]),
    ("poisson", dict(lam=0.0), 0.0, [("params", {"lam": -2.0})]),
    ("negative_binomial", dict(k=3, p=1.0), 0.0, [("params", {"p": 0.0})]),
    ("generalized_negative_binomial", dict(mu=0.0, alpha=0.5), 0.0, [("params", {"mu": -1.0})]),
]

CASE_LIST = [
    *[Case(f"_random_{name}", {}, params=dict(params, shape=SHAPE), ref=full(value),
           dtype_params=float_dtype, bad=bad + [("params", {"shape": (2, -1)})])
      for name, params, value, bad in _POINT_MASSES],
    Case("_random_randint", {}, params=dict(low=-4, high=-3, shape=SHAPE),
         ref=full(-4, np.int32), bad=[("params", {"low": 3, "high": 3}),
                                      ("params", {"shape": (2, -1)})]),
    Case("_random_randint", {}, params=dict(low=7, high=8, shape=SHAPE, dtype="int64"),
         ref=full(7, np.int64), id="_random_randint-int64"),
    # -- the _like variants: data's shape and dtype --------------------------------------------
    *[Case(f"_random_{name}_like", {"data": (SHAPE, signed)}, params=params,
           ref=lambda data, value=value, **_: np.full(data.shape, value), zero_grad=True,
           bad=bad[:1])
      for name, params, value, bad in _POINT_MASSES],
]

# -- _sample_<distribution>: one point mass per element of the parameter arrays -------------------
_LOW = [[0.5, -1.5, 2.0], [3.0, -0.25, 1.0]]
_SAMPLE_POINT_MASSES = [
    ("uniform", {"low": fixed(_LOW), "high": fixed(_LOW)}, lambda low, **_: low),
    ("normal", {"mu": signed, "sigma": constant(0)}, lambda mu, **_: mu),
    ("gamma", {"alpha": positive, "beta": constant(0)}, lambda alpha, **_: 0 * alpha),
    ("exponential", {"lam": constant(np.inf)}, lambda lam, **_: np.zeros_like(lam)),
    ("poisson", {"lam": constant(0)}, lambda lam, **_: lam),
    ("negative_binomial", {"k": fixed([[1, 2, 3], [4, 5, 6]]), "p": constant(1)},
     lambda k, **_: 0 * k),
    ("generalized_negative_binomial", {"mu": constant(0), "alpha": positive},
     lambda mu, **_: mu),
]


def _repeated(ref):
    """The reference of one sample per distribution, repeated for shape=(4,)."""
    return lambda shape, dtype=None, **inputs: np.repeat(ref(**inputs)[..., None], 4, axis=-1)


CASE_LIST += [
    Case(f"_sample_{name}", {k: ((2, 3), gen) for k, gen in inputs.items()},
         params=dict(shape=(4,)), ref=_repeated(ref), dtype_params=float_dtype, zero_grad=True,
         bad=[("params", {"shape": (0,)})]
         + ([("shapes", {k: s for k, s in zip(inputs, [(2, 3), (3, 2)])})] if len(inputs) == 2
            else []))
    for name, inputs, ref in _SAMPLE_POINT_MASSES
]
CASE_LIST.append(Case("_sample_normal", {"mu": ((2, 3), signed), "sigma": ((2, 3), constant(0))},
                      ref=lambda mu, **_: mu, dtype_params=float_dtype, zero_grad=True,
                      id="_sample_normal-one-per-distribution"))


# -- _sample_multinomial: one-hot distributions ---------------------------------------------------
_CHOSEN = np.array([[0, 2, 1], [3, 0, 0]])


def one_hot(rng, shape):
    return np.eye(shape[-1])[_CHOSEN]


CASE_LIST += [
    Case("_sample_multinomial", {"data": ((2, 3, 4), one_hot)}, params=dict(shape=(5,)),
         ref=lambda data, **_: np.repeat(_CHOSEN[..., None], 5, -1).astype(np.int32),
         zero_grad=True, bad=[("params", {"shape": (2, -1)})]),
    Case("_sample_multinomial", {"data": ((2, 3, 4), one_hot)},
         params=dict(get_prob=True, dtype="int32"),
         ref=lambda data, **_: [_CHOSEN.astype(np.int32), np.zeros(_CHOSEN.shape)],
         grad_tol=(1e-4, 1e-6), id="_sample_multinomial-get-prob"),
    Case("_sample_multinomial", {"data": ((4,), fixed([0.0, 0.0, 1.0, 0.0]))},
         params=dict(shape=(2, 3)), dtype_params=float_dtype,
         ref=lambda data, **_: np.full((2, 3), 2.0), zero_grad=True,
         id="_sample_multinomial-float-output"),
]


# -- _random_pdf_<distribution> ---------------------------------------------------------------------
def _log_pdf(name, sample, *params):
    """MXNet's log-densities (pdf_op.h); gamma's beta is a rate there."""
    p = [np.expand_dims(v, tuple(range(v.ndim, sample.ndim))) for v in params]
    if name == "uniform":
        return np.broadcast_to(-np.log(p[1] - p[0]), sample.shape)
    if name == "normal":
        return -0.5 * (sample - p[0]) ** 2 / p[1] ** 2 - np.log(np.sqrt(2 * np.pi) * p[1])
    if name == "gamma":
        return p[0] * np.log(p[1]) + (p[0] - 1) * np.log(sample) - p[1] * sample \
            - special.gammaln(p[0])
    if name == "exponential":
        return np.log(p[0]) - p[0] * sample
    if name == "poisson":
        return sample * np.log(p[0]) - special.gammaln(sample + 1) - p[0]
    if name == "generalized_negative_binomial":
        p = [1 / p[1], 1 / (p[0] * p[1] + 1)]
    return special.gammaln(sample + p[0]) - special.gammaln(sample + 1) - special.gammaln(p[0]) \
        + p[0] * np.log(p[1]) + sample * np.log(1 - p[1])


def np_pdf(name):
    def ref(sample, is_log=False, **params):
        value = _log_pdf(name, sample, *params.values())
        return value if is_log else np.exp(value)
    return ref


def np_dirichlet(sample, alpha, is_log=False):
    a = alpha[:, None, :]
    value = ((a - 1) * np.log(sample)).sum(-1) + special.gammaln(a.sum(-1)) \
        - special.gammaln(a).sum(-1)
    return value if is_log else np.exp(value)


def probability(rng, shape):
    return rng.uniform(0.2, 0.8, shape)


_PDF_INPUTS = [
    ("uniform", {"low": lambda rng, s: rng.uniform(-2, -1, s), "high": positive}, None, signed),
    ("normal", {"mu": signed, "sigma": positive}, None, signed),
    ("gamma", {"alpha": positive, "beta": positive}, None, positive),
    ("exponential", {"lam": positive}, None, positive),
    ("poisson", {"lam": positive}, ("lam",), small_ints),
    ("negative_binomial", {"k": positive, "p": probability}, ("k", "p"), small_ints),
    ("generalized_negative_binomial", {"mu": positive, "alpha": positive}, ("mu", "alpha"),
     small_ints),
]

CASE_LIST += [
    Case(f"_random_pdf_{name}",
         {"sample": ((2, 3, 5), sample), **{k: ((2, 3), g) for k, g in params.items()}},
         params=dict(is_log=is_log), ref=np_pdf(name), grad=grad,
         bad=[("shapes", {"sample": (2, 4, 5), **{k: (2, 3) for k in params}})],
         id=f"_random_pdf_{name}" + ("-log" if is_log else ""))
    for name, params, grad, sample in _PDF_INPUTS for is_log in (False, True)
]
CASE_LIST += [
    Case("_random_pdf_dirichlet", {"sample": ((2, 3, 4), positive), "alpha": ((2, 4), positive)},
         params=dict(is_log=is_log), ref=np_dirichlet,
         bad=[("shapes", {"sample": (2, 3, 4), "alpha": (2, 5)})],
         id="_random_pdf_dirichlet" + ("-log" if is_log else ""))
    for is_log in (False, True)
]


# -- _shuffle: rows that are all equal come out as they went in (the gradient's finite
# differences see its permutation, fixed by the seed of each forward); _sample_unique_zipfian
# with one class to draw from
def equal_rows(rng, shape):
    return np.broadcast_to(signed(rng, shape[1:]), shape).copy()


CASE_LIST += [
    Case("_shuffle", {"data": ((4, 3, 2), equal_rows)}, ref=lambda data: data),
    Case("_shuffle", {"data": ((5,), constant(2.5))}, ref=lambda data: data, id="_shuffle-1d"),
    Case("_sample_unique_zipfian", {}, params=dict(range_max=1, shape=(3, 1)),
         ref=lambda **_: [np.zeros((3, 1), np.int64), np.ones(3, np.int64)],
         bad=[("params", {"shape": (3, 2)}), ("params", {"shape": (3,)})]),
]
