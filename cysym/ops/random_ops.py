"""Random sampling as graph operators, MXNet's src/operator/random: _random_<distribution>
(scalar parameters, aliases random_<distribution>, and `uniform`/`normal`),
_random_<distribution>_like (the shape and dtype of an input), _sample_<distribution>
(parameters from input arrays, aliases sample_<distribution>), _sample_multinomial, and the
densities _random_pdf_<distribution> with their gradients.  Kernels: cysym/_ops/sampling.pyx.

Every forward draws new numbers from a stream that `cysym.random.seed` fixes; the streams are
not MXNet's.  MXNet gives the samplers a zero gradient (the `_like` ops and _sample_* too);
_sample_multinomial with get_prob=True passes the gradient of its log-likelihood output to
the probabilities.  _shuffle (which has no gradient in MXNet) passes its gradient back through
the permutation it drew."""
import math

import numpy as np

from ..registry import NUMBER_DTYPES, OpDef, Param, register
from ..shapes import partial_shape_rule
from .common import kernels

_FLOAT_CHOICES = ("None", "float16", "float32", "float64")
_FLOATS = ("float32", "float64")

# distribution -> (scalar parameters of _random_*: (name, kind, default, doc)), input names of
# _sample_*); in MXNet's order
_DISTRIBUTIONS = {
    "uniform": ([("low", "float", 0.0, "Lower bound of the distribution."),
                 ("high", "float", 1.0, "Upper bound of the distribution.")],
                ("low", "high")),
    "normal": ([("loc", "float", 0.0, "Mean of the distribution."),
                ("scale", "float", 1.0, "Standard deviation of the distribution.")],
               ("mu", "sigma")),
    "gamma": ([("alpha", "float", 1.0, "Alpha parameter (shape) of the gamma distribution."),
               ("beta", "float", 1.0, "Beta parameter (scale) of the gamma distribution.")],
              ("alpha", "beta")),
    "exponential": ([("lam", "float", 1.0, "Lambda parameter (rate) of the exponential "
                                           "distribution.")],
                    ("lam",)),
    "poisson": ([("lam", "float", 1.0, "Lambda parameter (rate) of the Poisson distribution.")],
                ("lam",)),
    "negative_binomial": ([("k", "int", 1, "Limit of unsuccessful experiments."),
                           ("p", "float", 1.0, "Failure probability in each experiment.")],
                          ("k", "p")),
    "generalized_negative_binomial": (
        [("mu", "float", 1.0, "Mean of the negative binomial distribution."),
         ("alpha", "float", 1.0, "Alpha (dispersion) parameter of the negative binomial "
                                 "distribution.")],
        ("mu", "alpha")),
}


# the samplers of these loop until a draw is accepted: with a NaN or infinite parameter, forever
_REJECTION_SAMPLED = ("gamma", "poisson", "negative_binomial", "generalized_negative_binomial")


def _check_scalars(ctx, distribution):
    p = ctx.params
    for name, kind, *_ in _DISTRIBUTIONS.get(distribution, ((),))[0]:
        if kind == "float" and (math.isnan(p[name]) or
                                (distribution in _REJECTION_SAMPLED and math.isinf(p[name]))):
            raise ctx.error(f"{name} {p[name]} is not a number the distribution can take")
    if distribution == "uniform" and p["low"] > p["high"]:
        raise ctx.error(f"low {p['low']} is above high {p['high']}")
    if distribution == "normal" and p["scale"] < 0:
        raise ctx.error(f"scale {p['scale']} is negative")
    if distribution == "gamma" and (p["alpha"] <= 0 or p["beta"] < 0):
        raise ctx.error(f"alpha {p['alpha']} must be positive and beta {p['beta']} non-negative")
    if distribution in ("exponential", "poisson") and p["lam"] < 0:
        raise ctx.error(f"lam {p['lam']} is negative")
    if distribution == "negative_binomial" and (p["k"] < 0 or not 0 < p["p"] <= 1):
        raise ctx.error(f"k {p['k']} must be non-negative and p {p['p']} in (0, 1]")
    if distribution == "generalized_negative_binomial" and (p["mu"] < 0 or p["alpha"] < 0):
        raise ctx.error(f"mu {p['mu']} and alpha {p['alpha']} must be non-negative")
    if distribution == "randint" and p["low"] >= p["high"]:
        raise ctx.error(f"low {p['low']} must be below high {p['high']}")


def _output_dtype(ctx, known, default="float32"):
    """The dtype parameter when given, else what is known of the output, else MXNet's default."""
    wanted = ctx.params["dtype"]
    if wanted not in (None, "None"):
        return np.dtype(wanted)
    return known if known is not None else np.dtype(default)


def _scalar_values(distribution, params):
    return tuple(float(params[name]) for name, *_ in _DISTRIBUTIONS[distribution][0]) \
        if distribution != "randint" else (float(params["low"]), float(params["high"]))


# ---------------------------------------------------------------------------------------------
# _random_<distribution>: scalar parameters, the shape parameter

def _random_shape(distribution):
    @partial_shape_rule
    def rule(ctx, ins, outs):
        """no inputs -> shape (the parameter); a 0 in it is an unknown dimension, left to inference."""
        _check_scalars(ctx, distribution)
        shape = ctx.params["shape"]
        return [], [tuple(d or None for d in shape) if shape else outs[0]]
    return rule


def _random_kernel(distribution):
    def kernel(b):
        kernels("sampling").append_sample(b.plan, distribution, b.outputs[0], [],
                                          _scalar_values(distribution, b.params), b.req[0], b.label)
    return kernel


def _no_gradient(g):
    """MXNet's MakeZeroGradNodes: the inputs of a sampler get zeros."""
    return [g.op("zeros_like", entry) for entry in g.inputs]


_SHAPE = Param("shape", "shape", (), "Shape of the output.")
_CTX = Param("ctx", "str", "", "Context of output, in format [cpu|gpu|cpu_pinned](n). Only used "
                               "for imperative calls (ignored: cysym runs on the CPU).")


def _dtype_param(choices=_FLOAT_CHOICES, default=None):
    return Param("dtype", "str", default, "DType of the output in case this can't be inferred. "
                                          "Defaults to float32 (randint: int32) if not defined "
                                          "(dtype=None).",
                 choices=choices, optional=True)


for _distribution, (_scalars, _) in _DISTRIBUTIONS.items():
    register(OpDef(
        f"_random_{_distribution}",
        aliases=(f"random_{_distribution}",) + ((_distribution,) if _distribution in ("uniform", "normal")
                                                else ()),
        params=[Param(name, kind, default, doc) for name, kind, default, doc in _scalars]
        + [_SHAPE, _CTX, _dtype_param()],
        inputs=(),
        infer_shape=_random_shape(_distribution),
        infer_type=lambda ctx, ins, outs: ([], [_output_dtype(ctx, outs[0])]),
        kernel=_random_kernel(_distribution),
        gradient=lambda g: [],
        doc=f"Samples of the {_distribution.replace('_', ' ')} distribution with the given "
            f"parameters, in an array of `shape`.",
    ))

register(OpDef(
    "_random_randint", aliases=("random_randint",),
    params=[Param("low", "int", doc="Lower bound of the distribution."),
            Param("high", "int", doc="Upper bound of the distribution."),
            # the default is the string 'None', as imperative calls make a default None float32
            _SHAPE, _CTX, _dtype_param(("None", "int32", "int64"), default="None")],
    inputs=(),
    infer_shape=_random_shape("randint"),
    infer_type=lambda ctx, ins, outs: ([], [_output_dtype(ctx, outs[0], "int32")]),
    dtypes=("int32", "int64"),
    kernel=_random_kernel("randint"),
    gradient=lambda g: [],
    doc="Integers drawn uniformly from [low, high), in an array of `shape`.",
))


# ---------------------------------------------------------------------------------------------
# _random_<distribution>_like: the shape and dtype of `data`

def _like_shape(distribution):
    def rule(ctx, ins, outs):
        """data -> data's shape."""
        _check_scalars(ctx, distribution)
        shape = ins[0] if ins[0] is not None else outs[0]
        return [shape], [shape]
    return rule


for _distribution, (_scalars, _) in _DISTRIBUTIONS.items():
    register(OpDef(
        f"_random_{_distribution}_like",
        params=[Param(name, kind, default, doc) for name, kind, default, doc in _scalars],
        inputs=("data",),
        infer_shape=_like_shape(_distribution),
        shape_only=("data",),
        kernel=_random_kernel(_distribution),
        gradient=_no_gradient,
        doc=f"Samples of the {_distribution.replace('_', ' ')} distribution with the given "
            f"parameters, in an array of the shape and dtype of `data`.",
    ))


# ---------------------------------------------------------------------------------------------
# _sample_<distribution>: one set of parameters per element of the input arrays

def _sample_shape(ctx, ins, outs):
    """parameter arrays of one shape S -> (*S, *shape)."""
    shape = tuple(ctx.params["shape"])
    if any(d <= 0 for d in shape):
        raise ctx.error(f"shape {shape} must have positive dimensions")
    known = next((s for s in ins if s is not None), None)
    if known is None and outs[0] is not None and len(outs[0]) > len(shape):
        known = tuple(outs[0][:len(outs[0]) - len(shape)])
    if known is None:
        return ins, outs
    for name, s in zip(ctx.input_names, ins):
        if s is not None and tuple(s) != tuple(known):
            raise ctx.error(f"input '{name}' has shape {tuple(s)}; the parameter arrays must "
                            f"share one shape, here {tuple(known)}")
    return [known] * len(ins), [tuple(known) + shape]


def _sample_type(ctx, ins, outs):
    known = next((t for t in ins if t is not None), None)
    return [known] * len(ins), [_output_dtype(ctx, outs[0])]


def _sample_kernel(distribution):
    def kernel(b):
        kernels("sampling").append_sample(b.plan, distribution, b.outputs[0], list(b.inputs), (),
                                          b.req[0], b.label)
    return kernel


_SAMPLE_PARAMS = [
    Param("shape", "shape", (), "Shape to be sampled from each random distribution."),
    _dtype_param(),
]

for _distribution, (_, _inputs) in _DISTRIBUTIONS.items():
    register(OpDef(
        f"_sample_{_distribution}", aliases=(f"sample_{_distribution}",),
        params=_SAMPLE_PARAMS,
        inputs=_inputs,
        infer_shape=_sample_shape,
        infer_type=_sample_type,
        kernel=_sample_kernel(_distribution),
        gradient=_no_gradient,
        doc=f"Samples of {_distribution.replace('_', ' ')} distributions whose parameters are "
            f"the elements of {', '.join(_inputs)}: the output has their shape followed by "
            f"`shape`, out[i] holding the samples of the distribution at index i.",
    ))


# ---------------------------------------------------------------------------------------------
# _sample_multinomial

def _multinomial_shape(ctx, ins, outs):
    """data (*batch, K) probabilities -> (*batch, *shape) ((1,) when empty); twice with get_prob
    (the samples and their log-probabilities)."""
    data = ins[0]
    shape = tuple(ctx.params["shape"])
    if any(d <= 0 for d in shape):
        raise ctx.error(f"shape {shape} must have positive dimensions")
    if data is None:
        return ins, outs
    if not data:
        raise ctx.error("input 'data' needs at least one dimension (the outcomes)")
    out = tuple(data[:-1]) + shape
    out = out if out else (1,)
    return ins, [out] * (2 if ctx.params["get_prob"] else 1)


def _multinomial_type(ctx, ins, outs):
    sample = np.dtype(ctx.params["dtype"])
    return ins, [sample] + ([ins[0]] if ctx.params["get_prob"] else [])


def _multinomial_kernel(b):
    kernels("sampling").append_multinomial(b.plan, b.inputs[0], b.outputs[0],
                                           b.outputs[1] if len(b.outputs) > 1 else None, b.label)


def _multinomial_gradient(g):
    if not g.params["get_prob"] or g.out_grads[1] is None:
        return [g.op("zeros_like", g.inputs[0])]
    return [g.op("_backward_sample_multinomial", g.out_grads[1], g.inputs[0], g.outputs[0],
                 **g.forward_attrs())]


_MULTINOMIAL_PARAMS = [
    Param("shape", "shape", (), "Shape to be sampled from each random distribution."),
    Param("get_prob", "bool", False, "Whether to also return the log probability of sampled "
                                     "result. This is usually used for differentiating through "
                                     "stochastic variables, e.g. in reinforcement learning."),
    Param("dtype", "str", "int32", "DType of the output in case this can't be inferred.",
          choices=("float16", "float32", "float64", "int32", "uint8")),
]

register(OpDef(
    "_sample_multinomial", aliases=("sample_multinomial",),
    params=_MULTINOMIAL_PARAMS,
    inputs=("data",),
    outputs=lambda params: ("output0", "output1") if params["get_prob"] else ("output",),
    infer_shape=_multinomial_shape,
    infer_type=_multinomial_type,
    dtypes={"output0": ("float32", "float64", "int32"), "output": ("float32", "float64", "int32")},
    kernel=_multinomial_kernel,
    gradient=_multinomial_gradient,
    doc="Samples of the categorical distributions whose probabilities are the last axis of "
        "`data` (each row must sum to 1): `shape` outcomes per distribution; with get_prob, "
        "also their log-probabilities.",
))


def _multinomial_backward_kernel(b):
    kernels("sampling").append_multinomial_backward(b.plan, b.inputs[0], b.inputs[1], b.inputs[2],
                                                    b.outputs[0], b.req[0], b.label)


register(OpDef(
    "_backward_sample_multinomial",
    params=_MULTINOMIAL_PARAMS,
    inputs=("log_prob_grad", "data", "sample"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    infer_type=lambda ctx, ins, outs: (ins, [ins[1]]),
    dtypes={"sample": ("float32", "float64", "int32")},
    kernel=_multinomial_backward_kernel,
    hidden=True,
    doc="data_grad[r, sample[r, j]] += log_prob_grad[r, j] / data[r, sample[r, j]]",
))

# ---------------------------------------------------------------------------------------------
# _shuffle, _sample_unique_zipfian

def _shuffle_shape(ctx, ins, outs):
    """data -> the same shape, and a hidden (data.shape[0],)."""
    data = ins[0] if ins[0] is not None else outs[0]
    if data is None:
        return ins, outs
    return [data], [data, (data[0] if data else 1,)]


register(OpDef(
    "_shuffle", aliases=("shuffle", "_npi_shuffle"),
    inputs=("data",),
    # the hidden permutation (which row of data each row of the output holds) serves the
    # gradient, which MXNet does not define
    outputs=("output", "permutation"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_shuffle_shape,
    infer_type=lambda ctx, ins, outs: ([ins[0] or outs[0]], [ins[0] or outs[0], np.dtype(np.int64)]),
    inplace=[(0, 0)],
    dtypes={"data": NUMBER_DTYPES, "output": NUMBER_DTYPES, "permutation": ("int64",)},
    kernel=lambda b: kernels("sampling").append_shuffle(b.plan, b.inputs[0], b.outputs[0],
                                                        b.outputs[1], b.label),
    gradient=lambda g: [None if g.out_grads[0] is None else
                        g.op("_backward_shuffle", g.out_grads[0], g.outputs[1])],
    doc="The rows of `data` (its first axis) in a random order; each row keeps its elements.",
))

register(OpDef(
    "_backward_shuffle",
    inputs=("out_grad", "permutation"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[0]]),
    infer_type=lambda ctx, ins, outs: (ins, [ins[0]]),
    dtypes={"permutation": ("int64",)},
    kernel=lambda b: kernels("sampling").append_shuffle_backward(b.plan, b.inputs[0], b.inputs[1],
                                                                 b.outputs[0], b.req[0], b.label),
    hidden=True,
    doc="data_grad[permutation[i]] = out_grad[i] (rows)",
))


def _unique_zipfian_shape(ctx, ins, outs):
    """no inputs -> samples shape = (batch_size, num_sampled) and the trial counts (batch_size,)."""
    shape = tuple(ctx.params["shape"])
    if not shape and outs[0] is not None and len(outs[0]) == 2:
        shape = tuple(outs[0])
    if len(shape) != 2:
        raise ctx.error(f"shape {shape} must be (batch_size, num_sampled)")
    if shape[1] > ctx.params["range_max"]:
        raise ctx.error(f"cannot draw {shape[1]} distinct classes out of range_max="
                        f"{ctx.params['range_max']}")
    return [], [shape, (shape[0],)]


register(OpDef(
    "_sample_unique_zipfian",
    params=[Param("range_max", "int", doc="The number of possible classes.", low=1),
            Param("shape", "shape", (), "2-D shape of the output, where shape[0] is the batch "
                                        "size, and shape[1] is the number of candidates to "
                                        "sample for each batch.")],
    inputs=(),
    outputs=("output0", "output1"),
    infer_shape=_unique_zipfian_shape,
    infer_type=lambda ctx, ins, outs: ([], [np.dtype(np.int64)] * 2),
    dtypes=("int64",),
    workspace=lambda params, ins, outs, dtype: params["range_max"],
    kernel=lambda b: kernels("sampling").append_unique_zipfian(
        b.plan, b.outputs[0], b.outputs[1], b.workspace, b.params["range_max"], b.label),
    gradient=lambda g: [],
    doc="Per row of shape (batch_size, num_sampled): num_sampled distinct classes of the "
        "log-uniform distribution P(c) = log((c + 2) / (c + 1)) / log(range_max + 1) on "
        "[0, range_max), and the number of draws that took (int64).",
))

from . import random_pdf  # noqa: E402,F401  (_random_pdf_*)
