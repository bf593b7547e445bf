"""Registry-table rows for the transformer blocks (cysym/ops/transformer.py).

References follow the NumPy equivalents that MXNet 1.9.1 documents for each op
(src/operator/contrib/transformer.cc): projections are interleaved per head as
(seq, batch, heads, parts, head_dim), attention maps are indexed batch * heads + head."""
import numpy as np

from opcase import Case, signed


def _heads(x, heads, parts, part):
    """Block `part` of every head of an interleaved projection: (batch * heads, seq, head_dim)."""
    length, batch, width = x.shape
    blocks = x.reshape(length, batch, heads, parts, width // (heads * parts))
    return blocks[:, :, :, part, :].transpose(1, 2, 0, 3).reshape(batch * heads, length, -1)


def _merge(out, heads):
    """(batch * heads, seq, head_dim) -> (seq, batch, heads * head_dim)."""
    attn, length, head_dim = out.shape
    return out.reshape(attn // heads, heads, length, head_dim).transpose(2, 0, 1, 3).reshape(
        length, attn // heads, heads * head_dim)


def np_selfatt_qk(queries_keys_values, heads):
    q, k = (_heads(queries_keys_values, heads, 3, p) for p in (0, 1))
    return q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])


def np_selfatt_valatt(queries_keys_values, attention, heads):
    return _merge(attention @ _heads(queries_keys_values, heads, 3, 2), heads)


def np_encdec_qk(queries, keys_values, heads):
    q, k = _heads(queries, heads, 1, 0), _heads(keys_values, heads, 2, 0)
    return q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])


def np_encdec_valatt(keys_values, attention, heads):
    return _merge(attention @ _heads(keys_values, heads, 2, 1), heads)


# seq 5 (queries 3), batch 2, heads 3, head_dim 4
QKV = ((5, 2, 36), signed)
KV = ((5, 2, 24), signed)

CASE_LIST = [
    Case("_contrib_interleaved_matmul_selfatt_qk", {"queries_keys_values": QKV},
         params=dict(heads=3), ref=np_selfatt_qk,
         bad=[("params", {"heads": 5}), ("params", {"heads": 0}),
              ("shapes", {"queries_keys_values": (5, 36)})]),
    Case("_contrib_interleaved_matmul_selfatt_valatt",
         {"queries_keys_values": QKV, "attention": ((6, 5, 5), signed)},
         params=dict(heads=3), ref=np_selfatt_valatt,
         bad=[("shapes", {"queries_keys_values": (5, 2, 36), "attention": (6, 5, 4)}),
              ("shapes", {"queries_keys_values": (5, 2, 36), "attention": (4, 5, 5)})]),
    Case("_contrib_interleaved_matmul_encdec_qk",
         {"queries": ((3, 2, 12), signed), "keys_values": KV}, params=dict(heads=3),
         ref=np_encdec_qk,
         bad=[("shapes", {"queries": (3, 2, 12), "keys_values": (5, 2, 30)}),
              ("shapes", {"queries": (3, 4, 12), "keys_values": (5, 2, 24)}),
              ("params", {"heads": 5})]),
    Case("_contrib_interleaved_matmul_encdec_valatt",
         {"keys_values": KV, "attention": ((6, 3, 5), signed)}, params=dict(heads=3),
         ref=np_encdec_valatt,
         bad=[("shapes", {"keys_values": (5, 2, 24), "attention": (6, 3, 4)}),
              ("shapes", {"keys_values": (5, 2, 24), "attention": (4, 3, 5)})]),
    Case("_contrib_div_sqrt_dim", {"data": ((2, 3, 5), signed)},
         ref=lambda data: data / np.sqrt(data.shape[-1])),
]
