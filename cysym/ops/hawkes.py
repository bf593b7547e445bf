"""_contrib_hawkesll: the log likelihood of K independent Hawkes processes with exponential
kernels (src/operator/contrib/hawkes_ll-inl.h), for N samples of ragged event sequences.

Inputs: lda (N, K) background intensities, alpha (K,) branching ratios, beta (K,) decays, state
(N, K) the processes' memory at time 0, lags (N, T) inter-arrival times, marks (N, T) which
process each event belongs to, valid_length (N,) how many events of each row count, max_time
(N,) the end of each observation period. Outputs: the log likelihood (N,) and the states at
max_time (N, K). The kernels (cysym/_ops/hawkes.pyx) give the formulas.

Where this differs from MXNet 1.9.1:
* float64 data is computed with double exp and log (MXNet calls the float functions expf and
  logf for it too: its float64 results are float32-accurate);
* the gradient also takes the out_state output's gradient and gives the state input one (MXNet
  ignores the first and leaves the second unwritten); with no gradient for out_state, lda's,
  alpha's and beta's are MXNet's. lags, marks, valid_length and max_time get none (MXNet's
  backward requires that they need none);
* an event whose mark is outside [0, K) is skipped (MXNet reads outside its arrays), and
  valid_length beyond T counts T events;
* marks may be float32, float64, int32 or int64 (MXNet's are int32, what inference gives them).
"""
import numpy as np

from ..registry import NUMBER_DTYPES, OpDef, register
from .common import kernels

_INPUTS = ("lda", "alpha", "beta", "state", "lags", "marks", "valid_length", "max_time")
_DIMS = {"lda": "NK", "alpha": "K", "beta": "K", "state": "NK", "lags": "NT", "marks": "NT",
         "valid_length": "N", "max_time": "N"}


def _hawkes_shape(ctx, ins, outs):
    """lda (N, K), alpha (K,), beta (K,), state (N, K), lags (N, T), marks (N, T), valid_length
    (N,), max_time (N,) -> the log-likelihood (N,) and the new state (N, K)."""
    sizes = {}
    for name, shape in zip(_INPUTS, ins):
        if shape is None:
            continue
        dims = _DIMS[name]
        if len(shape) != len(dims):
            raise ctx.error(f"input '{name}' must have {len(dims)} dimensions "
                            f"({', '.join(dims)}), got {tuple(shape)}")
        for letter, size in zip(dims, shape):
            if sizes.setdefault(letter, (size, name))[0] != size:
                known, source = sizes[letter]
                raise ctx.error(f"input '{name}' has shape {tuple(shape)}, but {letter} is {known} "
                                f"in '{source}' {tuple(ins[_INPUTS.index(source)])}")
    size = {letter: value for letter, (value, _) in sizes.items()}
    ins = [tuple(size[d] for d in _DIMS[name]) if all(d in size for d in _DIMS[name]) else shape
           for name, shape in zip(_INPUTS, ins)]
    if "N" in size and "K" in size:
        outs = [(size["N"],), (size["N"], size["K"])]
    return ins, outs


def _hawkes_type(ctx, ins, outs):
    known = next((t for i, t in enumerate(ins) if t is not None and _INPUTS[i] != "marks"),
                 outs[0] or outs[1])
    types = [known if name != "marks" else (ins[5] or np.dtype("int32")) for name in _INPUTS]
    return types, [known, known]


def _hawkes_gradient(g):
    if all(grad is None for grad in g.out_grads):
        return [None] * len(_INPUTS)
    heads = [grad if grad is not None else g.op("zeros_like", out)
             for grad, out in zip(g.out_grads, g.outputs)]
    grads = g.op("_backward_hawkesll", *heads, *g.inputs)
    return list(grads) + [None] * 4


register(OpDef(
    "_contrib_hawkesll",
    inputs=_INPUTS,
    outputs=("output", "out_state"),
    dtypes={"marks": NUMBER_DTYPES},
    infer_shape=_hawkes_shape,
    infer_type=_hawkes_type,
    gradient=_hawkes_gradient,
    no_grad=("lags", "marks", "valid_length", "max_time"),
    kernel=lambda b: kernels("hawkes").append_hawkes(
        b.plan, *b.inputs, b.outputs[0], b.outputs[1], b.req[0], b.req[1], b.label),
    doc="Computes the log likelihood of K independent Hawkes processes with exponential "
        "kernels, intensity lda[k] + alpha[k] * sum over earlier events t_i of mark k of "
        "beta[k] * exp(-beta[k] * (t - t_i)), from ragged sequences of inter-arrival times "
        "(lags) and marks, valid_length events each, observed over (0, max_time]; returns it "
        "and the processes' states at max_time.",
))

register(OpDef(
    "_backward_hawkesll",
    inputs=("out_grad", "out_state_grad") + _INPUTS,
    outputs=("lda_grad", "alpha_grad", "beta_grad", "state_grad"),
    dtypes={"marks": NUMBER_DTYPES},
    infer_shape=lambda ctx, ins, outs: (ins, [ins[2], ins[3], ins[4], ins[5]]),
    infer_type=lambda ctx, ins, outs: (ins, [ins[2]] * 4),
    kernel=lambda b: kernels("hawkes").append_hawkes_backward(
        b.plan, *b.inputs, *b.outputs, b.req, b.label),
    hidden=True,
    doc="The gradients of lda, alpha, beta and state, carried forward through each process's "
        "recursion.",
))
