"""MXNet's transformer blocks (src/operator/contrib/transformer.cc): the interleaved
multi-head attention matmuls and div_sqrt_dim.

Projections are interleaved per head: queries_keys_values has shape (seq, batch,
heads * 3 * head_dim) with [q | k | v] of head h at columns h*3*head_dim...; keys_values has
(seq, batch, heads * 2 * head_dim) with [k | v] per head.  Attention maps are
(batch * heads, seq_q, seq_k), map b * heads + h for batch b and head h.  MXNet runs these on
CPU in float32 only; cysym also in float64.  Kernels: cysym._ops.transformer (BLAS GEMMs).
Shape rules check what MXNet does, and also that the projection width splits into the heads
(where MXNet would silently read misaligned blocks).
"""
import math

from ..registry import OpDef, Param, register
from .common import backward_grads, kernels, same_shape

HEADS = Param("heads", "int", doc="Set number of heads", low=1)


def _three_d(ctx, shape, name):
    if len(shape) != 3:
        raise ctx.error(f"input '{name}' must be 3-D (seq_length, batch, projection), got "
                        f"shape {tuple(shape)}")


def _head_dim(ctx, shape, name, parts):
    """head_dim of a projection holding `parts` blocks per head."""
    _three_d(ctx, shape, name)
    heads = ctx.params["heads"]
    if shape[2] == 0 or shape[2] % (parts * heads):
        raise ctx.error(f"input '{name}' {tuple(shape)}: its last axis must split into "
                        f"heads={heads} x {parts} blocks")
    return shape[2] // (parts * heads)


def _attention(ctx, attention, expected):
    if attention is not None and tuple(attention) != tuple(expected):
        raise ctx.error(f"input 'attention' has shape {tuple(attention)}, expected "
                        f"{tuple(expected)} (batch * heads, seq_length, seq_length)")
    return tuple(expected)


def _selfatt_qk_shape(ctx, ins, outs):
    """queries_keys_values (L, B, 3 * heads * d) -> (B * heads, L, L)."""
    qkv = ins[0]
    if qkv is None:
        return ins, outs
    _head_dim(ctx, qkv, "queries_keys_values", 3)
    return ins, [(ctx.params["heads"] * qkv[1], qkv[0], qkv[0])]


def _selfatt_valatt_shape(ctx, ins, outs):
    """queries_keys_values (L, B, 3 * heads * d), attention (B * heads, L, L) -> (L, B, heads * d)."""
    qkv, attention = ins
    if qkv is None:
        return ins, outs
    _head_dim(ctx, qkv, "queries_keys_values", 3)
    expected = (ctx.params["heads"] * qkv[1], qkv[0], qkv[0])
    return [qkv, _attention(ctx, attention, expected)], [(qkv[0], qkv[1], qkv[2] // 3)]


def _encdec_qk_shape(ctx, ins, outs):
    """queries (Lq, B, heads * d), keys_values (Lk, B, 2 * heads * d) -> (B * heads, Lq, Lk)."""
    queries, keys_values = ins
    if queries is None or keys_values is None:
        return ins, outs
    _three_d(ctx, queries, "queries")
    _head_dim(ctx, keys_values, "keys_values", 2)
    if keys_values[2] != 2 * queries[2] or keys_values[1] != queries[1]:
        raise ctx.error(f"input 'keys_values' {tuple(keys_values)} must have the batch of "
                        f"input 'queries' {tuple(queries)} and twice its projection width")
    return ins, [(queries[1] * ctx.params["heads"], queries[0], keys_values[0])]


def _encdec_valatt_shape(ctx, ins, outs):
    """keys_values (Lk, B, 2 * heads * d), attention (B * heads, Lq, Lk) -> (Lq, B, heads * d)."""
    keys_values, attention = ins
    if keys_values is None or attention is None:
        return ins, outs
    _head_dim(ctx, keys_values, "keys_values", 2)
    if len(attention) != 3 or attention[2] != keys_values[0] or \
            attention[0] != keys_values[1] * ctx.params["heads"]:
        raise ctx.error(f"input 'attention' {tuple(attention)} must be (batch * heads, "
                        f"seq_length_q, seq_length_kv) for input 'keys_values' "
                        f"{tuple(keys_values)} and heads={ctx.params['heads']}")
    return ins, [(attention[1], keys_values[1], keys_values[2] // 2)]


def _gradients_like(positions):
    """Shape rule of a backward node: its outputs have the shapes of the forward inputs at
    these input positions."""
    return lambda ctx, ins, outs: (ins, [ins[k] for k in positions])


def _transformer_op(name, kernel, inputs, infer_shape, doc):
    """The forward op `_contrib_<name>` (kernel append_<kernel>) and its `_backward_<name>`
    node (out_grad, inputs...) -> one gradient per input (kernel append_<kernel>_backward)."""
    register(OpDef(
        f"_contrib_{name}",
        params=[HEADS],
        inputs=inputs,
        infer_shape=infer_shape,
        kernel=lambda b: getattr(kernels("transformer"), f"append_{kernel}")(
            b.plan, *b.inputs, b.outputs[0], b.params["heads"], b.req[0], b.label),
        gradient=lambda g: backward_grads(g, f"_backward_{name}", *g.inputs),
        doc=doc,
    ))
    register(OpDef(
        f"_backward_{name}",
        params=[HEADS],
        inputs=("out_grad",) + tuple(inputs),
        outputs=tuple(f"{n}_grad" for n in inputs),
        infer_shape=_gradients_like(range(1, len(inputs) + 1)),
        kernel=lambda b: getattr(kernels("transformer"), f"append_{kernel}_backward")(
            b.plan, *b.inputs, *b.outputs, b.params["heads"], *b.req, b.label),
        hidden=True,
        doc=f"The gradients of _contrib_{name} with respect to {', '.join(inputs)}.",
    ))


_transformer_op(
    "interleaved_matmul_selfatt_qk", "selfatt_qk", ("queries_keys_values",), _selfatt_qk_shape,
    "Self-attention scores from interleaved projections: out[b*heads + h] = "
    "q @ k.T / sqrt(head_dim) for the queries and keys of head h of sequence b; "
    "(seq, batch, heads*3*head_dim) -> (batch*heads, seq, seq).\n\n"
    "Example: queries_keys_values of shape (5, 2, 24) with heads=2 -> shape (4, 5, 5).")

_transformer_op(
    "interleaved_matmul_selfatt_valatt", "selfatt_valatt", ("queries_keys_values", "attention"),
    _selfatt_valatt_shape,
    "Self-attention output: out[:, b, h*head_dim:(h+1)*head_dim] = attention[b*heads + h] @ v "
    "for the values v of head h of sequence b; -> (seq, batch, heads*head_dim).\n\n"
    "Example: queries_keys_values (5, 2, 24), attention (4, 5, 5), heads=2 -> shape (5, 2, 8).")

_transformer_op(
    "interleaved_matmul_encdec_qk", "encdec_qk", ("queries", "keys_values"), _encdec_qk_shape,
    "Encoder-decoder attention scores: out[b*heads + h] = q @ k.T / sqrt(head_dim) for the "
    "queries (seq_q, batch, heads*head_dim) and the keys interleaved in keys_values "
    "(seq_kv, batch, heads*2*head_dim); -> (batch*heads, seq_q, seq_kv).\n\n"
    "Example: queries (3, 2, 8), keys_values (5, 2, 16), heads=2 -> shape (4, 3, 5).")

_transformer_op(
    "interleaved_matmul_encdec_valatt", "encdec_valatt", ("keys_values", "attention"),
    _encdec_valatt_shape,
    "Encoder-decoder attention output: out[:, b, h*head_dim:(h+1)*head_dim] = "
    "attention[b*heads + h] @ v for the values interleaved in keys_values; -> "
    "(seq_q, batch, heads*head_dim).\n\n"
    "Example: keys_values (5, 2, 16), attention (4, 3, 5), heads=2 -> shape (3, 2, 8).")


# ---------------------------------------------------------------------------------------------
# div_sqrt_dim

def _div_sqrt_dim_shape(ctx, ins, outs):
    """data -> the same shape."""
    known = ins[0] if ins[0] is not None else outs[0]
    if known is not None and len(known) < 1:
        raise ctx.error("input 'data' needs at least one dimension")
    return same_shape(ctx, ins, outs)


register(OpDef(
    "_contrib_div_sqrt_dim",
    infer_shape=_div_sqrt_dim_shape,
    inplace=[(0, 0)],
    kernel=lambda b: kernels("elemwise").append_unary(
        b.plan, "div_scalar", b.inputs[0], b.outputs[0], b.req[0], b.label,
        math.sqrt(b.inputs[0].shape[-1])),
    gradient=lambda g: [g.op("_contrib_div_sqrt_dim", g.out_grads[0])],
    doc="Rescales the input by the square root of its last dimension: "
        "out = data / sqrt(data.shape[-1]).\n\n"
        "Example: x of shape (2, 4) -> div_sqrt_dim(x) = x / 2.",
))
