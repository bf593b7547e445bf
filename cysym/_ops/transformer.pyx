"""Transformer-family kernels: the interleaved multi-head attention matmuls of MXNet's
src/operator/contrib/transformer.cc, as strided batches of BLAS GEMMs.

Layouts (R = batch * heads attention batches, d = head_dim, batch index i = b * heads + h):
  queries_keys_values (L, batch, heads * 3 * d): at [l, b, h*3d + t*d + j] with t = q, k, v;
  keys_values (L, batch, heads * 2 * d) interleaves k, v the same way; queries (L, batch,
  heads * d) and the attention outputs hold one d-wide slice per head; attention maps are
  (R, Lq, Lk).  So the d x L block of head i of a projection starts at i * (its width per
  head) and steps by the row width (R times that) from one position to the next: every
  product is one GEMM per attention batch with row strides, no copies.

Every `append_*` function checks shapes with the GIL and appends one call per product.
"""
from libc.math cimport sqrt
from libc.string cimport memset
from cysym._ops._blas cimport real, gemm
from cysym._ops._common cimport common_dtype, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext


cdef void _batched_gemm(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: A, B, C; ints: trans_a, trans_b, m, n, k, offset_a, ld_a, stride_a, offset_b,
    # ld_b, stride_b, offset_c, ld_c, stride_c, batch, clear_c; floats: alpha, beta
    cdef const Py_ssize_t* p = c.ints
    cdef const real* a = <real*>c.arrays[0] + p[5]
    cdef const real* b = <real*>c.arrays[1] + p[8]
    cdef real* out = <real*>c.arrays[2]
    cdef Py_ssize_t i
    if p[15]:
        # an interleaved gradient: the parts no product writes are zero
        memset(out, 0, p[15] * sizeof(real))
    out += p[11]
    for i in range(p[14]):
        # out_i = alpha * op(A_i) @ op(B_i) + beta * out_i
        gemm(p[0] != 0, p[1] != 0, <int>p[2], <int>p[3], <int>p[4], <real>c.floats[0],
             a + i * p[7], <int>p[6], b + i * p[10], <int>p[9], <real>c.floats[1],
             out + i * p[13], <int>p[12])


cdef void batched_gemm_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _batched_gemm(c, <float*>NULL)
    else:
        _batched_gemm(c, <double*>NULL)


cdef class Operand:
    """One strided operand of a batched GEMM: matrix i starts at offset + i * stride and
    its rows are ld elements apart."""
    cdef object array
    cdef Py_ssize_t offset, ld, stride

    def __init__(self, array, Py_ssize_t offset, Py_ssize_t ld, Py_ssize_t stride):
        self.array, self.offset, self.ld, self.stride = array, offset, ld, stride


cdef _append_gemm(Plan plan, bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                  Py_ssize_t k, double alpha, Operand a, Operand b, Operand out, Py_ssize_t batch,
                  int req, bint interleaved_out, str label):
    """out_i (=|+=) alpha * op(a_i) @ op(b_i) for i < batch; req 'write' into an interleaved
    output first zeroes all of it (the other parts of each row belong to no product)."""
    if req == REQ_NULL:
        return
    arrays = [a.array, b.array, out.array]
    clear = out.array.size if interleaved_out and req == REQ_WRITE else 0
    plan.add(batched_gemm_kernel, common_dtype(arrays), arrays,
             [trans_a, trans_b, m, n, k, a.offset, a.ld, a.stride, b.offset, b.ld, b.stride,
              out.offset, out.ld, out.stride, batch, clear],
             [alpha, 1.0 if req == REQ_ADD else 0.0], label)


def _dims(array, str name, str label):
    if array.ndim != 3:
        raise ValueError(f"{label}: {name} must be 3-D, got shape {array.shape}")
    return array.shape


def _expect(array, shape, str name, str label):
    if tuple(array.shape) != tuple(shape):
        raise ValueError(f"{label}: {name} has shape {array.shape}, expected {tuple(shape)}")


def _heads(Py_ssize_t width, Py_ssize_t parts, int heads, str label):
    """head_dim of a projection of `width` holding `parts` interleaved blocks per head."""
    if heads < 1 or width == 0 or width % (parts * heads):
        raise ValueError(f"{label}: projection width {width} does not split into {heads} heads "
                         f"of {parts} blocks")
    return width // (parts * heads)


# ---------------------------------------------------------------------------------------------
# self attention: queries_keys_values (L, batch, heads * 3 * d)

def _selfatt(qkv, int heads, str label):
    """(L, R, d, row width) of an interleaved queries_keys_values."""
    length, batch, width = _dims(qkv, "queries_keys_values", label)
    return length, batch * heads, _heads(width, 3, heads, label), width * batch


def append_selfatt_qk(Plan plan, qkv, out, int heads, str req="write",
                      str label="_contrib_interleaved_matmul_selfatt_qk"):
    """out[i] = q_i @ k_i.T / sqrt(d): (R, L, L)."""
    code = req_code(req, label)
    length, attn, d, row = _selfatt(qkv, heads, label)
    _expect(out, (attn, length, length), "output", label)
    _append_gemm(plan, False, True, length, length, d, 1.0 / sqrt(d), Operand(qkv, 0, row, 3 * d),
                 Operand(qkv, d, row, 3 * d), Operand(out, 0, length, length * length), attn,
                 code, False, label)


def append_selfatt_qk_backward(Plan plan, out_grad, qkv, qkv_grad, int heads, str req="write",
                               str label="_backward_interleaved_matmul_selfatt_qk"):
    """q_grad_i = out_grad_i @ k_i / sqrt(d), k_grad_i = out_grad_i.T @ q_i / sqrt(d),
    v_grad = 0."""
    code = req_code(req, label)
    length, attn, d, row = _selfatt(qkv, heads, label)
    _expect(out_grad, (attn, length, length), "out_grad", label)
    _expect(qkv_grad, qkv.shape, "queries_keys_values_grad", label)
    scale = 1.0 / sqrt(d)
    dy = Operand(out_grad, 0, length, length * length)
    _append_gemm(plan, False, False, length, d, length, scale, dy, Operand(qkv, d, row, 3 * d),
                 Operand(qkv_grad, 0, row, 3 * d), attn, code, True, label)
    _append_gemm(plan, True, False, length, d, length, scale, dy, Operand(qkv, 0, row, 3 * d),
                 Operand(qkv_grad, d, row, 3 * d), attn, code, False, label)


def append_selfatt_valatt(Plan plan, qkv, attention, out, int heads, str req="write",
                          str label="_contrib_interleaved_matmul_selfatt_valatt"):
    """out[:, b, h*d:(h+1)*d] = attention_i @ v_i: (L, batch, heads * d)."""
    code = req_code(req, label)
    length, attn, d, row = _selfatt(qkv, heads, label)
    _expect(attention, (attn, length, length), "attention", label)
    _expect(out, (length, qkv.shape[1], heads * d), "output", label)
    _append_gemm(plan, False, False, length, d, length, 1.0,
                 Operand(attention, 0, length, length * length), Operand(qkv, 2 * d, row, 3 * d),
                 Operand(out, 0, attn * d, d), attn, code, False, label)


def append_selfatt_valatt_backward(Plan plan, out_grad, qkv, attention, qkv_grad,
                                   attention_grad, int heads, str req_qkv="write",
                                   str req_attention="write",
                                   str label="_backward_interleaved_matmul_selfatt_valatt"):
    """v_grad_i = attention_i.T @ out_grad_i (q and k gradients 0),
    attention_grad_i = out_grad_i @ v_i.T."""
    code_qkv, code_att = req_code(req_qkv, label), req_code(req_attention, label)
    length, attn, d, row = _selfatt(qkv, heads, label)
    _expect(attention, (attn, length, length), "attention", label)
    _expect(out_grad, (length, qkv.shape[1], heads * d), "out_grad", label)
    _expect(qkv_grad, qkv.shape, "queries_keys_values_grad", label)
    _expect(attention_grad, attention.shape, "attention_grad", label)
    dy = Operand(out_grad, 0, attn * d, d)
    _append_gemm(plan, True, False, length, d, length, 1.0,
                 Operand(attention, 0, length, length * length), dy,
                 Operand(qkv_grad, 2 * d, row, 3 * d), attn, code_qkv, True, label)
    _append_gemm(plan, False, True, length, length, d, 1.0, dy, Operand(qkv, 2 * d, row, 3 * d),
                 Operand(attention_grad, 0, length, length * length), attn, code_att, False,
                 label)


# ---------------------------------------------------------------------------------------------
# encoder-decoder attention: queries (Lq, batch, heads * d), keys_values (Lk, batch, heads * 2d)

def _encdec(keys_values, int heads, str label):
    """(Lk, R, d, row width) of an interleaved keys_values."""
    length, batch, width = _dims(keys_values, "keys_values", label)
    return length, batch * heads, _heads(width, 2, heads, label), width * batch


def _queries(queries, keys_values, Py_ssize_t d, int heads, str label):
    q_length, batch, width = _dims(queries, "queries", label)
    if batch != keys_values.shape[1] or width != heads * d:
        raise ValueError(f"{label}: queries {queries.shape} do not match keys_values "
                         f"{keys_values.shape} with {heads} heads")
    return q_length


def _attention_queries(attention, keys_values, Py_ssize_t attn, Py_ssize_t k_length, int heads,
                       str label):
    """Lq of an (R, Lq, Lk) attention map over keys_values."""
    att_shape = _dims(attention, "attention", label)
    if att_shape[0] != attn or att_shape[2] != k_length:
        raise ValueError(f"{label}: attention {attention.shape} does not match keys_values "
                         f"{keys_values.shape} with {heads} heads")
    return att_shape[1]


def append_encdec_qk(Plan plan, queries, keys_values, out, int heads, str req="write",
                     str label="_contrib_interleaved_matmul_encdec_qk"):
    """out[i] = q_i @ k_i.T / sqrt(d): (R, Lq, Lk)."""
    code = req_code(req, label)
    k_length, attn, d, row = _encdec(keys_values, heads, label)
    q_length = _queries(queries, keys_values, d, heads, label)
    _expect(out, (attn, q_length, k_length), "output", label)
    _append_gemm(plan, False, True, q_length, k_length, d, 1.0 / sqrt(d),
                 Operand(queries, 0, attn * d, d), Operand(keys_values, 0, row, 2 * d),
                 Operand(out, 0, k_length, q_length * k_length), attn, code, False, label)


def append_encdec_qk_backward(Plan plan, out_grad, queries, keys_values, queries_grad,
                              keys_values_grad, int heads, str req_queries="write",
                              str req_keys_values="write",
                              str label="_backward_interleaved_matmul_encdec_qk"):
    """q_grad_i = out_grad_i @ k_i / sqrt(d), k_grad_i = out_grad_i.T @ q_i / sqrt(d)
    (v gradients 0)."""
    code_q, code_kv = req_code(req_queries, label), req_code(req_keys_values, label)
    k_length, attn, d, row = _encdec(keys_values, heads, label)
    q_length = _queries(queries, keys_values, d, heads, label)
    _expect(out_grad, (attn, q_length, k_length), "out_grad", label)
    _expect(queries_grad, queries.shape, "queries_grad", label)
    _expect(keys_values_grad, keys_values.shape, "keys_values_grad", label)
    scale = 1.0 / sqrt(d)
    dy = Operand(out_grad, 0, k_length, q_length * k_length)
    _append_gemm(plan, False, False, q_length, d, k_length, scale, dy,
                 Operand(keys_values, 0, row, 2 * d), Operand(queries_grad, 0, attn * d, d),
                 attn, code_q, False, label)
    _append_gemm(plan, True, False, k_length, d, q_length, scale, dy,
                 Operand(queries, 0, attn * d, d), Operand(keys_values_grad, 0, row, 2 * d),
                 attn, code_kv, True, label)


def append_encdec_valatt(Plan plan, keys_values, attention, out, int heads, str req="write",
                         str label="_contrib_interleaved_matmul_encdec_valatt"):
    """out[:, b, h*d:(h+1)*d] = attention_i @ v_i: (Lq, batch, heads * d)."""
    code = req_code(req, label)
    k_length, attn, d, row = _encdec(keys_values, heads, label)
    q_length = _attention_queries(attention, keys_values, attn, k_length, heads, label)
    _expect(out, (q_length, keys_values.shape[1], heads * d), "output", label)
    _append_gemm(plan, False, False, q_length, d, k_length, 1.0,
                 Operand(attention, 0, k_length, q_length * k_length),
                 Operand(keys_values, d, row, 2 * d), Operand(out, 0, attn * d, d), attn, code,
                 False, label)


def append_encdec_valatt_backward(Plan plan, out_grad, keys_values, attention, keys_values_grad,
                                  attention_grad, int heads, str req_keys_values="write",
                                  str req_attention="write",
                                  str label="_backward_interleaved_matmul_encdec_valatt"):
    """v_grad_i = attention_i.T @ out_grad_i (k gradients 0),
    attention_grad_i = out_grad_i @ v_i.T."""
    code_kv, code_att = req_code(req_keys_values, label), req_code(req_attention, label)
    k_length, attn, d, row = _encdec(keys_values, heads, label)
    q_length = _attention_queries(attention, keys_values, attn, k_length, heads, label)
    _expect(out_grad, (q_length, keys_values.shape[1], heads * d), "out_grad", label)
    _expect(keys_values_grad, keys_values.shape, "keys_values_grad", label)
    _expect(attention_grad, attention.shape, "attention_grad", label)
    dy = Operand(out_grad, 0, attn * d, d)
    _append_gemm(plan, True, False, k_length, d, q_length, 1.0,
                 Operand(attention, 0, k_length, q_length * k_length), dy,
                 Operand(keys_values_grad, d, row, 2 * d), attn, code_kv, True, label)
    _append_gemm(plan, False, True, q_length, k_length, d, 1.0, dy,
                 Operand(keys_values, d, row, 2 * d),
                 Operand(attention_grad, 0, k_length, q_length * k_length), attn, code_att,
                 False, label)
