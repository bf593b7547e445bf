"""The densities _random_pdf_<distribution> (aliases random_pdf_<distribution>), MXNet's
src/operator/random/pdf_op.cc: the density (or, with is_log, its logarithm) of `sample` under
distributions whose parameters are the other inputs.  The parameter arrays share one shape,
the leading dimensions of `sample`; each distribution scores the samples below its index.
dirichlet's samples are vectors on the last axis, as its parameters.  Kernels:
cysym/_ops/sampling.pyx (sampling_pdf.pxi)."""
from ..registry import OpDef, Param, register
from .common import kernels

_PARAMETERS = {
    "uniform": ("low", "high"),
    "normal": ("mu", "sigma"),
    "gamma": ("alpha", "beta"),
    "exponential": ("lam",),
    "poisson": ("lam",),
    "negative_binomial": ("k", "p"),
    "generalized_negative_binomial": ("mu", "alpha"),
    "dirichlet": ("alpha",),
}

_IS_LOG = Param("is_log", "bool", False, "If set, compute the density of the log-probability "
                                         "instead of the probability.")


def _pdf_shape(vector):
    def rule(ctx, ins, outs):
        """sample (*S, *T), parameter arrays S -> (*S, *T); dirichlet: alpha (*S, k), sample (*S,
        *T, k) -> (*S, *T)."""
        sample, params = ins[0], ins[1:]
        known = next((p for p in params if p is not None), None)
        if sample is None or known is None:
            return ins, outs
        for name, p in zip(ctx.input_names[1:], params):
            if p is not None and tuple(p) != tuple(known):
                raise ctx.error(f"input '{name}' has shape {tuple(p)}; the parameter arrays must "
                                f"share one shape, here {tuple(known)}")
        if len(known) > len(sample):
            raise ctx.error(f"input 'sample' {tuple(sample)} has fewer dimensions than the "
                            f"parameters {tuple(known)}")
        leading = tuple(sample[:len(known)])
        if vector:
            leading = leading[:-1] + (sample[-1],)
        if leading != tuple(known):
            raise ctx.error(f"the parameters have shape {tuple(known)}, but the samples "
                            f"{tuple(sample)} need {leading}")
        if vector:
            out = tuple(sample[:-1]) or (1,)
        else:
            out = tuple(sample)
        return [tuple(sample)] + [tuple(known)] * len(params), [out]
    return rule


def _pdf_kernel(distribution):
    def kernel(b):
        kernels("sampling").append_pdf(b.plan, distribution, b.inputs[0], list(b.inputs[1:]),
                                       b.outputs[0], b.params["is_log"], b.req[0], b.label)
    return kernel


def _pdf_backward_kernel(distribution):
    def kernel(b):
        count = len(_PARAMETERS[distribution])
        kernels("sampling").append_pdf_backward(b.plan, distribution, b.inputs[0], b.inputs[1],
                                                list(b.inputs[2:2 + count]), b.inputs[2 + count],
                                                list(b.outputs), b.params["is_log"], b.label)
    return kernel


for _distribution, _names in _PARAMETERS.items():
    register(OpDef(
        f"_random_pdf_{_distribution}", aliases=(f"random_pdf_{_distribution}",),
        params=[_IS_LOG],
        inputs=("sample",) + _names,
        infer_shape=_pdf_shape(_distribution == "dirichlet"),
        kernel=_pdf_kernel(_distribution),
        gradient=lambda g, _distribution=_distribution: g.op(
            f"_backward_pdf_{_distribution}", g.out_grads[0], *g.inputs, g.outputs[0],
            **g.forward_attrs()),
        doc=f"The density of `sample` under {_distribution.replace('_', ' ')} distributions with "
            f"parameters {', '.join(_names)} (MXNet's formula; gamma's beta acts as a rate), or "
            f"its logarithm with is_log.",
    ))
    register(OpDef(
        f"_backward_pdf_{_distribution}",
        params=[_IS_LOG],
        inputs=("out_grad", "sample") + _names + ("output",),
        outputs=("sample_grad",) + tuple(f"{name}_grad" for name in _names),
        infer_shape=lambda ctx, ins, outs, _count=len(_names): (ins, ins[1:2 + _count]),
        kernel=_pdf_backward_kernel(_distribution),
        hidden=True,
        doc="The gradients of the density with respect to the sample and to each parameter "
            "(summed over the parameter's samples).",
    ))
