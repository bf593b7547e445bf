"""Fused RNN kernels (MXNet's RNN operator): vanilla relu/tanh, LSTM (with projection and cell
clipping) and GRU, stacked and bidirectional, over (T, N, I) data and MXNet's flat parameters.

Parameter layout (MXNet's): every weight first, unit by unit (layer-major, then direction), each
unit holding Wx (G*H, in), Wh (G*H, R) and, with a projection, Wr (P, H); then every bias in the
same unit order, each unit holding bx (G*H) and bh (G*H).  G is 1, 4 (i, f, g, o) or 3 (r, z, n);
R is the width of a step's output: the projection size P, or H.

The forward keeps only what the next step needs.  The backward recomputes the forward into its
own planned workspace, keeping every step's gates (the "reserve"), then runs backward through
time with one GEMM per step for the recurrence and whole-sequence GEMMs for dWx, dX and dWh.
Dropout between layers draws its masks from a key that the forward stores in a one-element
array shared with the backward, so the recomputation sees the same masks.
"""
from libc.string cimport memcpy, memset
from cysym._ops._blas cimport real, gemm
from cysym._ops._common cimport common_dtype, expect_size, REQ_NULL, REQ_WRITE, REQ_ADD, req_code
from cysym._ops._math cimport _exp, _tanh
from cysym._ops._random cimport _splitmix64
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops.shape import append_fill

import numpy as np

MODES = ("rnn_relu", "rnn_tanh", "lstm", "gru")

cdef enum:
    RNN_RELU = 0
    RNN_TANH = 1
    LSTM = 2
    GRU = 3


cdef struct Geometry:
    int mode
    int gates            # G
    int layers           # L
    int directions       # D
    Py_ssize_t hidden    # H
    Py_ssize_t proj      # P, 0 without projection
    Py_ssize_t width     # R: P or H
    Py_ssize_t steps     # T
    Py_ssize_t batch     # N
    Py_ssize_t inputs    # I
    bint clip
    bint clip_nan
    double clip_min
    double clip_max
    double dropout


cdef inline Py_ssize_t _layer_inputs(const Geometry* g, int layer) noexcept nogil:
    return g.inputs if layer == 0 else g.width * g.directions


cdef inline Py_ssize_t _unit_weights(const Geometry* g, int layer) noexcept nogil:
    return g.gates * g.hidden * (_layer_inputs(g, layer) + g.width) + g.proj * g.hidden


cdef Py_ssize_t _all_weights(const Geometry* g) noexcept nogil:
    cdef Py_ssize_t total = 0
    cdef int layer
    for layer in range(g.layers):
        total += g.directions * _unit_weights(g, layer)
    return total


cdef inline Py_ssize_t _unit_weight_offset(const Geometry* g, int layer, int direction) noexcept nogil:
    cdef Py_ssize_t offset = 0
    cdef int l
    for l in range(layer):
        offset += g.directions * _unit_weights(g, l)
    return offset + direction * _unit_weights(g, layer)


cdef inline real _sigmoid(real x) noexcept nogil:
    return <real>1 / (<real>1 + _exp(-x))


cdef inline real _clip(const Geometry* g, real c) noexcept nogil:
    """The clipped cell value; NaN becomes clip_min with clip_nan, else passes."""
    if not g.clip:
        return c
    if c != c:
        return <real>g.clip_min if g.clip_nan else c
    if c < g.clip_min:
        return <real>g.clip_min
    if c > g.clip_max:
        return <real>g.clip_max
    return c


cdef inline bint _clipped(const Geometry* g, real c) noexcept nogil:
    return g.clip and (c < g.clip_min or c > g.clip_max or c != c)


cdef void _apply_dropout(const Geometry* g, real* values, Py_ssize_t n, unsigned long long key,
                         int layer) noexcept nogil:
    """values *= mask of layer `layer` (0 or 1/(1-p)), the same mask for the same key and layer."""
    cdef double keep = 1.0 - g.dropout
    cdef real scale = <real>(1.0 / keep)
    # u < keep  <=>  (z >> 11) < keep * 2**53 for the 53 high bits of a uniform draw
    cdef unsigned long long threshold = <unsigned long long>(keep * 9007199254740992.0)
    cdef unsigned long long state = key ^ (<unsigned long long>(layer + 1) * 0xD1B54A32D192ED03ULL)
    cdef Py_ssize_t i
    for i in range(n):
        values[i] = values[i] * scale if (_splitmix64(&state) >> 11) < threshold else <real>0


# ---------------------------------------------------------------------------------------------
# forward of one unit (layer, direction)

cdef struct UnitBuffers:
    # what one unit's forward reads and writes; NULL entries are not wanted
    void* x              # (T*N, in) layer input
    void* hx             # (N, R) initial state
    void* cx             # (N, H) initial cell (LSTM)
    void* y              # (T, N, D*R) layer output; this unit writes columns [d*R, (d+1)*R)
    void* hy             # (N, R) last state out
    void* cy             # (N, H) last cell out
    void* gates          # (T, N, G*H): x-part pre-activations, then the activated gates
    void* cells          # (T, N, H) LSTM cells before clipping (reserve), or (N, H) running
    void* extra          # (T, N, H): GRU's Wh_n h + bh_n, or LSTM's h before projection
    void* step           # (N, G*H) h_prev @ Wh.T
    bint keep_steps      # cells and extra hold every step (the backward's reserve)


cdef inline const real* _state_before(const Geometry* g, Py_ssize_t i, const real* hx,
                                     const real* y, Py_ssize_t t_prev, int direction,
                                     Py_ssize_t* ld) noexcept nogil:
    """The recurrent input of a unit's i-th step, N rows ld[0] apart: the initial state hx,
    then the previous step's (time t_prev) columns of the unit in the layer output y."""
    if i == 0:
        ld[0] = g.width
        return hx
    ld[0] = g.directions * g.width
    return y + t_prev * g.batch * ld[0] + direction * g.width


cdef void _unit_forward(const Geometry* g, int layer, int direction, const real* weights,
                        const real* biases, UnitBuffers* u) noexcept nogil:
    cdef Py_ssize_t T = g.steps, N = g.batch, H = g.hidden, R = g.width, P = g.proj
    cdef Py_ssize_t GH = g.gates * H, inputs = _layer_inputs(g, layer), ldy = g.directions * R
    cdef const real* wx = weights
    cdef const real* wh = wx + GH * inputs
    cdef const real* wr = wh + GH * R
    cdef const real* bx = biases
    cdef const real* bh = biases + GH
    cdef real* y = <real*>u.y
    cdef real* gates = <real*>u.gates
    cdef real* step = <real*>u.step
    cdef real* cells = <real*>u.cells
    cdef real* extra = <real*>u.extra
    cdef const real* hx = <const real*>u.hx
    cdef const real* cx = <const real*>u.cx
    cdef const real* h_prev
    cdef const real* c_prev
    cdef real* c_now
    cdef real* h_now
    cdef real* g_t
    cdef real* y_t
    cdef Py_ssize_t i, t, t_prev = 0, n, k, ld_prev
    cdef real a, gi, gf, gg, go, c, r, z, hn, h
    # gates = x @ wx.T, every step at once
    gemm(False, True, <int>(T * N), <int>GH, <int>inputs, <real>1, <const real*>u.x, <int>inputs,
         wx, <int>inputs, <real>0, gates, <int>GH)
    for i in range(T):
        t = i if direction == 0 else T - 1 - i
        h_prev = _state_before(g, i, hx, y, t_prev, direction, &ld_prev)
        # step = h_prev @ wh.T
        gemm(False, True, <int>N, <int>GH, <int>R, <real>1, h_prev, <int>ld_prev, wh, <int>R,
             <real>0, step, <int>GH)
        g_t = gates + t * N * GH
        y_t = y + t * N * ldy + direction * R
        if u.keep_steps:
            c_now = cells + t * N * H if cells != NULL else NULL
            c_prev = cells + t_prev * N * H if cells != NULL else NULL
            h_now = extra + t * N * H if extra != NULL else NULL
        else:
            c_now = cells
            c_prev = cells
            h_now = extra
        for n in range(N):
            if g.mode == LSTM:
                for k in range(H):
                    gi = _sigmoid(g_t[n * GH + k] + step[n * GH + k] + bx[k] + bh[k])
                    gf = _sigmoid(g_t[n * GH + H + k] + step[n * GH + H + k] + bx[H + k] + bh[H + k])
                    gg = _tanh(g_t[n * GH + 2 * H + k] + step[n * GH + 2 * H + k] + bx[2 * H + k]
                               + bh[2 * H + k])
                    go = _sigmoid(g_t[n * GH + 3 * H + k] + step[n * GH + 3 * H + k] + bx[3 * H + k]
                                  + bh[3 * H + k])
                    # cells hold values before clipping; a step reads its predecessor clipped
                    c = gf * (cx[n * H + k] if i == 0 else _clip(g, c_prev[n * H + k])) + gi * gg
                    c_now[n * H + k] = c
                    h = go * _tanh(_clip(g, c))
                    if P:
                        h_now[n * H + k] = h
                    else:
                        y_t[n * ldy + k] = h
                    g_t[n * GH + k] = gi
                    g_t[n * GH + H + k] = gf
                    g_t[n * GH + 2 * H + k] = gg
                    g_t[n * GH + 3 * H + k] = go
            elif g.mode == GRU:
                for k in range(H):
                    r = _sigmoid(g_t[n * GH + k] + step[n * GH + k] + bx[k] + bh[k])
                    z = _sigmoid(g_t[n * GH + H + k] + step[n * GH + H + k] + bx[H + k] + bh[H + k])
                    # MXNet's (cuDNN's) GRU: the reset gate scales Wh_n h + bh_n
                    hn = step[n * GH + 2 * H + k] + bh[2 * H + k]
                    a = _tanh(g_t[n * GH + 2 * H + k] + bx[2 * H + k] + r * hn)
                    y_t[n * ldy + k] = (1 - z) * a + z * h_prev[n * ld_prev + k]
                    g_t[n * GH + k] = r
                    g_t[n * GH + H + k] = z
                    g_t[n * GH + 2 * H + k] = a
                    if h_now != NULL:
                        h_now[n * H + k] = hn
            else:
                for k in range(H):
                    a = g_t[n * H + k] + step[n * H + k] + bx[k] + bh[k]
                    if g.mode == RNN_RELU:
                        h = a if a > 0 else <real>0
                    else:
                        h = _tanh(a)
                    y_t[n * ldy + k] = h
                    g_t[n * H + k] = h
        if P:
            # y_t = h @ wr.T: the projected state is the step's output and recurrent input
            gemm(False, True, <int>N, <int>P, <int>H, <real>1, h_now, <int>H, wr, <int>H, <real>0,
                 y_t, <int>ldy)
        t_prev = t
    if u.hy != NULL:
        for n in range(N):
            memcpy(<real*>u.hy + n * R, y + t_prev * N * ldy + n * ldy + direction * R, R * sizeof(real))
    if u.cy != NULL:
        c_now = cells + t_prev * N * H if u.keep_steps else cells
        for n in range(N * H):
            (<real*>u.cy)[n] = _clip(g, c_now[n])


cdef struct RnnArrays:
    void* data
    void* params
    void* hx
    void* cx
    void* out
    void* hy
    void* cy
    void* workspace
    unsigned long long* key


cdef Py_ssize_t _layer_output_size(const Geometry* g) noexcept nogil:
    return g.steps * g.batch * g.directions * g.width


cdef void _forward(const Geometry* g, RnnArrays* a, bint train, real* reserve) noexcept nogil:
    """The whole forward.  reserve == NULL: inference-sized scratch in a.workspace, output to
    a.out; else every layer's gates, cells and outputs are kept in `reserve` (see _reserve_layout)."""
    cdef Py_ssize_t T = g.steps, N = g.batch, H = g.hidden, GH = g.gates * g.hidden
    cdef Py_ssize_t layer_out = _layer_output_size(g)
    cdef const real* weights = <const real*>a.params
    cdef const real* biases = weights + _all_weights(g)
    cdef real* ws = <real*>a.workspace
    cdef real* ping = NULL
    cdef real* pong = NULL
    cdef real* x = <real*>a.data
    cdef real* y
    cdef real* unit_reserve
    cdef UnitBuffers u
    cdef int layer, direction, unit
    cdef bint drop = train and g.dropout > 0 and g.layers > 1
    memset(&u, 0, sizeof(UnitBuffers))
    if reserve == NULL:
        u.gates = ws
        u.step = ws + T * N * GH
        u.cells = ws + T * N * GH + N * GH
        u.extra = <real*>u.cells + N * H
        ping = <real*>u.extra + N * H
        pong = ping + layer_out
    else:
        u.step = reserve + _reserve_size(g)
        u.keep_steps = True
    for layer in range(g.layers):
        if reserve == NULL:
            y = <real*>a.out if layer == g.layers - 1 else (ping if layer % 2 == 0 else pong)
        else:
            y = reserve + layer * _reserve_layer(g)
        for direction in range(g.directions):
            unit = layer * g.directions + direction
            u.x = x
            u.y = y
            u.hx = <real*>a.hx + unit * N * g.width
            u.cx = <real*>a.cx + unit * N * H if a.cx != NULL else NULL
            u.hy = <real*>a.hy + unit * N * g.width if a.hy != NULL else NULL
            u.cy = <real*>a.cy + unit * N * H if a.cy != NULL else NULL
            if reserve != NULL:
                unit_reserve = _unit_reserve(g, reserve, layer, direction)
                u.gates = unit_reserve
                u.cells = _reserved_cells(g, unit_reserve)
                u.extra = _reserved_extra(g, unit_reserve)
            _unit_forward(g, layer, direction, weights + _unit_weight_offset(g, layer, direction),
                          biases + unit * 2 * GH, &u)
        if layer < g.layers - 1:
            if reserve != NULL and drop:
                # the next layer's input keeps the dropped-out copy; y stays the recurrence's
                x = reserve + g.layers * _reserve_layer(g) + layer * layer_out
                memcpy(x, y, layer_out * sizeof(real))
            else:
                x = y
            if drop:
                _apply_dropout(g, x, layer_out, a.key[0], layer)


cdef inline bint _has_extra(const Geometry* g) noexcept nogil:
    return g.mode == GRU or g.proj > 0


cdef inline Py_ssize_t _reserve_unit(const Geometry* g) noexcept nogil:
    """Per unit: gates (T, N, G*H), then LSTM cells (T, N, H), then the extra (T, N, H)."""
    cdef Py_ssize_t TNH = g.steps * g.batch * g.hidden
    return TNH * g.gates + (TNH if g.mode == LSTM else 0) + (TNH if _has_extra(g) else 0)


cdef inline Py_ssize_t _reserve_layer(const Geometry* g) noexcept nogil:
    """Per layer: its output (T, N, D*R), then each direction's unit reserve."""
    return _layer_output_size(g) + g.directions * _reserve_unit(g)


cdef inline real* _unit_reserve(const Geometry* g, real* reserve, int layer,
                                int direction) noexcept nogil:
    """Where the reserve of unit (layer, direction) starts: its gates."""
    return reserve + layer * _reserve_layer(g) + _layer_output_size(g) + direction * _reserve_unit(g)


cdef inline real* _reserved_cells(const Geometry* g, real* unit_reserve) noexcept nogil:
    """A unit's LSTM cells in its reserve (NULL for the other modes)."""
    if g.mode != LSTM:
        return NULL
    return unit_reserve + g.steps * g.batch * g.gates * g.hidden


cdef inline real* _reserved_extra(const Geometry* g, real* unit_reserve) noexcept nogil:
    """A unit's extra (GRU's Wh_n h + bh_n, or LSTM's h before projection) in its reserve
    (NULL when its mode has none)."""
    cdef Py_ssize_t TNH = g.steps * g.batch * g.hidden
    if not _has_extra(g):
        return NULL
    return unit_reserve + TNH * g.gates + (TNH if g.mode == LSTM else 0)


cdef inline Py_ssize_t _reserve_size(const Geometry* g) noexcept nogil:
    """Every layer's reserve, then (with dropout) the dropped-out inputs of layers 1..L-1."""
    cdef Py_ssize_t size = g.layers * _reserve_layer(g)
    if g.dropout > 0:
        size += (g.layers - 1) * _layer_output_size(g)
    return size


cdef Py_ssize_t _forward_workspace(const Geometry* g) noexcept nogil:
    cdef Py_ssize_t T = g.steps, N = g.batch, H = g.hidden, GH = g.gates * g.hidden
    cdef int buffers = 0 if g.layers == 1 else (1 if g.layers == 2 else 2)
    return T * N * GH + N * GH + 2 * N * H + buffers * _layer_output_size(g)


# ---------------------------------------------------------------------------------------------
# backward

cdef struct GradArrays:
    void* dout           # (T, N, D*R)
    void* dhy            # (L*D, N, R) or NULL
    void* dcy            # (L*D, N, H) or NULL
    void* ddata          # (T, N, I) or NULL
    void* dparams        # or NULL
    void* dhx            # or NULL
    void* dcx            # or NULL
    int req_data
    int req_params
    int req_hx
    int req_cx


cdef Py_ssize_t _backward_scratch(const Geometry* g) noexcept nogil:
    """After the reserve: the step GEMM (N, G*H), dG and dGh (T, N, G*H), dh_total, dh_next
    (N, R), dc (N, H), dh (N, H), and two (T, N, D*R) buffers for the lower layers' dY."""
    cdef Py_ssize_t T = g.steps, N = g.batch, H = g.hidden, GH = g.gates * g.hidden, R = g.width
    cdef int buffers = 0 if g.layers == 1 else (1 if g.layers == 2 else 2)
    return N * GH + 2 * T * N * GH + 2 * N * R + 2 * N * H + buffers * _layer_output_size(g)


cdef void _store_state(real* target, const real* value, Py_ssize_t n, int req) noexcept nogil:
    cdef Py_ssize_t i
    if req == REQ_ADD:
        for i in range(n):
            target[i] += value[i]
    elif req == REQ_WRITE:
        memcpy(target, value, n * sizeof(real))


cdef void _column_sums(const real* rows, Py_ssize_t n_rows, Py_ssize_t width, real* sums) noexcept nogil:
    """sums += rows.sum(axis=0)"""
    cdef Py_ssize_t i, j
    for i in range(n_rows):
        for j in range(width):
            sums[j] += rows[i * width + j]


cdef void _backward(const Geometry* g, RnnArrays* a, GradArrays* d, real* dummy) noexcept nogil:
    cdef Py_ssize_t T = g.steps, N = g.batch, H = g.hidden, R = g.width, P = g.proj
    cdef Py_ssize_t GH = g.gates * H, ldy = g.directions * R, layer_out = _layer_output_size(g)
    cdef real* reserve = <real*>a.workspace
    cdef real* scratch = reserve + _reserve_size(g)
    cdef real* dG = scratch + N * GH
    cdef real* dGh = dG + T * N * GH
    cdef real* dh_total = dGh + T * N * GH
    cdef real* dh_next = dh_total + N * R
    cdef real* dc = dh_next + N * R
    cdef real* dh_cell = dc + N * H
    cdef real* dbuf0 = dh_cell + N * H
    cdef real* dbuf1 = dbuf0 + layer_out
    cdef const real* weights = <const real*>a.params
    cdef Py_ssize_t n_weights = _all_weights(g)
    cdef real* dweights = <real*>d.dparams
    cdef real* dbiases = dweights + n_weights if dweights != NULL else NULL
    cdef const real* wx
    cdef const real* wh
    cdef const real* wr
    cdef real* dwx
    cdef real* dwh
    cdef real* dwr
    cdef const real* x
    cdef real* dx
    cdef const real* dy
    cdef real* ys
    cdef real* unit_reserve
    cdef real* gates
    cdef real* cells
    cdef real* extra
    cdef real* g_t
    cdef real* dg_t
    cdef real* dgh_t
    cdef const real* dy_t
    cdef const real* h_prev
    cdef const real* hx
    cdef Py_ssize_t inputs, i, t, t_prev, n, k, ld_prev, unit, n_params
    cdef int layer, direction, req_dx
    cdef real dh, dcell, c, tc, c_prev, gi, gf, gg, go, r, z, a_n, hn, da
    cdef bint gru = g.mode == GRU
    if not gru:
        dGh = dG
    _forward(g, a, True, reserve)
    n_params = n_weights + 2 * GH * g.layers * g.directions
    if dweights != NULL and d.req_params == REQ_WRITE:
        memset(dweights, 0, n_params * sizeof(real))
    for layer in range(g.layers - 1, -1, -1):
        inputs = _layer_inputs(g, layer)
        ys = reserve + layer * _reserve_layer(g)
        if layer == 0:
            x = <const real*>a.data
            dx = <real*>d.ddata
            req_dx = d.req_data if dx != NULL else REQ_NULL
        else:
            if g.dropout > 0:
                x = reserve + g.layers * _reserve_layer(g) + (layer - 1) * layer_out
            else:
                x = reserve + (layer - 1) * _reserve_layer(g)
            dx = dbuf0 if (layer - 1) % 2 == 0 else dbuf1
            req_dx = REQ_WRITE
        dy = <const real*>d.dout if layer == g.layers - 1 else (dbuf0 if layer % 2 == 0 else dbuf1)
        for direction in range(g.directions):
            unit = layer * g.directions + direction
            wx = weights + _unit_weight_offset(g, layer, direction)
            wh = wx + GH * inputs
            wr = wh + GH * R
            unit_reserve = _unit_reserve(g, reserve, layer, direction)
            gates = unit_reserve
            cells = _reserved_cells(g, unit_reserve)
            extra = _reserved_extra(g, unit_reserve)
            hx = <const real*>a.hx + unit * N * R
            if d.dhy != NULL:
                memcpy(dh_next, <real*>d.dhy + unit * N * R, N * R * sizeof(real))
            else:
                memset(dh_next, 0, N * R * sizeof(real))
            if g.mode == LSTM:
                if d.dcy != NULL:
                    memcpy(dc, <real*>d.dcy + unit * N * H, N * H * sizeof(real))
                else:
                    memset(dc, 0, N * H * sizeof(real))
            for i in range(T - 1, -1, -1):
                t = i if direction == 0 else T - 1 - i
                t_prev = t - 1 if direction == 0 else t + 1
                h_prev = _state_before(g, i, hx, ys, t_prev, direction, &ld_prev)
                dy_t = dy + t * N * ldy + direction * R
                for n in range(N):
                    for k in range(R):
                        dh_total[n * R + k] = dy_t[n * ldy + k] + dh_next[n * R + k]
                if P:
                    if dweights != NULL and d.req_params != REQ_NULL:
                        # dWr += dh_total.T @ h_t (h before projection)
                        dwr = dweights + (wr - weights)
                        gemm(True, False, <int>P, <int>H, <int>N, <real>1, dh_total, <int>P,
                             extra + t * N * H, <int>H, <real>1, dwr, <int>H)
                    # dh_cell = dh_total @ wr
                    gemm(False, False, <int>N, <int>H, <int>P, <real>1, dh_total, <int>P, wr, <int>H,
                         <real>0, dh_cell, <int>H)
                else:
                    dh_cell = dh_total
                g_t = gates + t * N * GH
                dg_t = dG + t * N * GH
                dgh_t = dGh + t * N * GH
                for n in range(N):
                    if g.mode == LSTM:
                        for k in range(H):
                            gi = g_t[n * GH + k]
                            gf = g_t[n * GH + H + k]
                            gg = g_t[n * GH + 2 * H + k]
                            go = g_t[n * GH + 3 * H + k]
                            c = cells[t * N * H + n * H + k]
                            tc = _tanh(_clip(g, c))
                            if i == 0:
                                c_prev = (<const real*>a.cx)[unit * N * H + n * H + k]
                            else:
                                c_prev = _clip(g, cells[t_prev * N * H + n * H + k])
                            dh = dh_cell[n * H + k]
                            dcell = dc[n * H + k] + dh * go * (1 - tc * tc)
                            if _clipped(g, c):
                                dcell = 0
                            dg_t[n * GH + k] = dcell * gg * gi * (1 - gi)
                            dg_t[n * GH + H + k] = dcell * c_prev * gf * (1 - gf)
                            dg_t[n * GH + 2 * H + k] = dcell * gi * (1 - gg * gg)
                            dg_t[n * GH + 3 * H + k] = dh * tc * go * (1 - go)
                            dc[n * H + k] = dcell * gf
                    elif gru:
                        for k in range(H):
                            r = g_t[n * GH + k]
                            z = g_t[n * GH + H + k]
                            a_n = g_t[n * GH + 2 * H + k]
                            hn = extra[t * N * H + n * H + k]
                            dh = dh_cell[n * H + k]
                            da = dh * (1 - z) * (1 - a_n * a_n)
                            dg_t[n * GH + k] = da * hn * r * (1 - r)
                            dg_t[n * GH + H + k] = dh * (h_prev[n * ld_prev + k] - a_n) * z * (1 - z)
                            dg_t[n * GH + 2 * H + k] = da
                            dgh_t[n * GH + k] = dg_t[n * GH + k]
                            dgh_t[n * GH + H + k] = dg_t[n * GH + H + k]
                            dgh_t[n * GH + 2 * H + k] = da * r
                    else:
                        for k in range(H):
                            z = g_t[n * H + k]
                            if g.mode == RNN_RELU:
                                dg_t[n * H + k] = dh_cell[n * H + k] if z > 0 else <real>0
                            else:
                                dg_t[n * H + k] = dh_cell[n * H + k] * (1 - z * z)
                # dh_next = dgh_t @ wh (+ the direct path z * dh of GRU)
                gemm(False, False, <int>N, <int>R, <int>GH, <real>1, dgh_t, <int>GH, wh, <int>R,
                     <real>0, dh_next, <int>R)
                if gru:
                    for n in range(N):
                        for k in range(H):
                            dh_next[n * R + k] += dh_cell[n * H + k] * g_t[n * GH + H + k]
            if d.dhx != NULL:
                _store_state(<real*>d.dhx + unit * N * R, dh_next, N * R, d.req_hx)
            if d.dcx != NULL and g.mode == LSTM:
                _store_state(<real*>d.dcx + unit * N * H, dc, N * H, d.req_cx)
            if req_dx != REQ_NULL:
                # dx (+)= dG @ wx; the second direction adds to the first
                gemm(False, False, <int>(T * N), <int>inputs, <int>GH, <real>1, dG, <int>GH, wx,
                     <int>inputs, <real>(0 if direction == 0 and req_dx == REQ_WRITE else 1), dx,
                     <int>inputs)
            if dweights != NULL and d.req_params != REQ_NULL:
                dwx = dweights + (wx - weights)
                dwh = dwx + GH * inputs
                # dWx += dG.T @ x
                gemm(True, False, <int>GH, <int>inputs, <int>(T * N), <real>1, dG, <int>GH, x,
                     <int>inputs, <real>1, dwx, <int>inputs)
                # dWh += dGh_t.T @ h_prev_t: the steps after the first read the previous step's
                # output, all of them in one GEMM; the first step reads the initial state
                if T > 1:
                    if direction == 0:
                        gemm(True, False, <int>GH, <int>R, <int>((T - 1) * N), <real>1, dGh + N * GH,
                             <int>GH, ys + direction * R, <int>ldy, <real>1, dwh, <int>R)
                    else:
                        gemm(True, False, <int>GH, <int>R, <int>((T - 1) * N), <real>1, dGh, <int>GH,
                             ys + N * ldy + direction * R, <int>ldy, <real>1, dwh, <int>R)
                t = 0 if direction == 0 else T - 1
                gemm(True, False, <int>GH, <int>R, <int>N, <real>1, dGh + t * N * GH, <int>GH, hx,
                     <int>R, <real>1, dwh, <int>R)
                _column_sums(dG, T * N, GH, dbiases + unit * 2 * GH)
                _column_sums(dGh, T * N, GH, dbiases + unit * 2 * GH + GH)
        if layer > 0 and g.dropout > 0:
            _apply_dropout(g, dx, layer_out, a.key[0], layer - 1)


# ---------------------------------------------------------------------------------------------
# plan entries

cdef void _read_geometry(KernelCall* c, Geometry* g) noexcept nogil:
    # ints: mode, layers, directions, hidden, proj, steps, batch, inputs, clip, clip_nan
    # floats: clip_min, clip_max, dropout
    g.mode = <int>c.ints[0]
    g.gates = 4 if g.mode == LSTM else (3 if g.mode == GRU else 1)
    g.layers = <int>c.ints[1]
    g.directions = <int>c.ints[2]
    g.hidden = c.ints[3]
    g.proj = c.ints[4]
    g.width = g.proj if g.proj else g.hidden
    g.steps = c.ints[5]
    g.batch = c.ints[6]
    g.inputs = c.ints[7]
    g.clip = <bint>c.ints[8]
    g.clip_nan = <bint>c.ints[9]
    g.clip_min = c.floats[0]
    g.clip_max = c.floats[1]
    g.dropout = c.floats[2]


cdef inline void* _slot(KernelCall* c, int k) noexcept nogil:
    # ints[10 + k] says whether array k is present
    return c.arrays[k] if c.ints[10 + k] else NULL


cdef void _arrays(KernelCall* c, RnnArrays* a) noexcept nogil:
    # arrays: data, params, hx, cx, out, hy, cy, workspace, key
    a.data = _slot(c, 0)
    a.params = _slot(c, 1)
    a.hx = _slot(c, 2)
    a.cx = _slot(c, 3)
    a.out = _slot(c, 4)
    a.hy = _slot(c, 5)
    a.cy = _slot(c, 6)
    a.workspace = _slot(c, 7)
    a.key = <unsigned long long*>_slot(c, 8)


cdef void rnn_forward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    cdef Geometry g
    cdef RnnArrays a
    _read_geometry(c, &g)
    _arrays(c, &a)
    if ctx.is_train and g.dropout > 0 and g.layers > 1:
        a.key[0] = _splitmix64(&ctx.rng_state)
    if c.dtype == 0:
        _forward(&g, &a, ctx.is_train, <float*>NULL)
    else:
        _forward(&g, &a, ctx.is_train, <double*>NULL)


cdef void rnn_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    cdef Geometry g
    cdef RnnArrays a
    cdef GradArrays d
    _read_geometry(c, &g)
    _arrays(c, &a)
    # arrays[9:16]: dout, dhy, dcy, ddata, dparams, dhx, dcx
    d.dout = _slot(c, 9)
    d.dhy = _slot(c, 10)
    d.dcy = _slot(c, 11)
    d.ddata = _slot(c, 12)
    d.dparams = _slot(c, 13)
    d.dhx = _slot(c, 14)
    d.dcx = _slot(c, 15)
    d.req_data = <int>c.ints[26]
    d.req_params = <int>c.ints[27]
    d.req_hx = <int>c.ints[28]
    d.req_cx = <int>c.ints[29]
    if c.dtype == 0:
        _backward(&g, &a, &d, <float*>NULL)
    else:
        _backward(&g, &a, &d, <double*>NULL)


# ---------------------------------------------------------------------------------------------
# bind time

cdef Geometry _geometry(dict attrs, tuple data_shape) except *:
    cdef Geometry g
    memset(&g, 0, sizeof(Geometry))
    g.mode = MODES.index(attrs["mode"])
    g.gates = 4 if g.mode == LSTM else (3 if g.mode == GRU else 1)
    g.layers = attrs["num_layers"]
    g.directions = 2 if attrs["bidirectional"] else 1
    g.hidden = attrs["state_size"]
    g.proj = attrs["projection_size"] or 0
    g.width = g.proj if g.proj else g.hidden
    g.steps, g.batch, g.inputs = data_shape
    g.clip = attrs["lstm_state_clip_min"] is not None
    g.clip_nan = attrs["lstm_state_clip_nan"]
    g.clip_min = attrs["lstm_state_clip_min"] or 0.0
    g.clip_max = attrs["lstm_state_clip_max"] or 0.0
    g.dropout = attrs["p"]
    return g


def param_size(mode, int num_layers, bint bidirectional, Py_ssize_t state_size,
               projection_size, Py_ssize_t input_size):
    """Elements of the flat parameter vector (MXNet's GetRnnParamSize)."""
    cdef Geometry g = _geometry(dict(mode=mode, num_layers=num_layers, bidirectional=bidirectional,
                                     state_size=state_size, projection_size=projection_size,
                                     lstm_state_clip_min=None, lstm_state_clip_nan=False,
                                     lstm_state_clip_max=None, p=0.0), (0, 0, input_size))
    return _all_weights(&g) + 2 * g.gates * g.hidden * g.layers * g.directions


def forward_workspace_bytes(dict attrs, tuple data_shape, int itemsize):
    cdef Geometry g = _geometry(attrs, data_shape)
    return _forward_workspace(&g) * itemsize


def backward_workspace_bytes(dict attrs, tuple data_shape, int itemsize):
    cdef Geometry g = _geometry(attrs, data_shape)
    return (_reserve_size(&g) + _backward_scratch(&g)) * itemsize


cdef tuple _geometry_ints(Geometry g):
    return [g.mode, g.layers, g.directions, g.hidden, g.proj, g.steps, g.batch, g.inputs, g.clip,
            g.clip_nan], [g.clip_min, g.clip_max, g.dropout]


def _array_list(list arrays, placeholder):
    """Arrays with None replaced by a valid pointer the kernel does not touch, and presence flags."""
    return [placeholder if a is None else a for a in arrays], [a is not None for a in arrays]


cdef Geometry _check(dict attrs, data, params, hx, cx, out, hy, cy, str label) except *:
    cdef Geometry g = _geometry(attrs, tuple(data.shape))
    cdef Py_ssize_t units = g.layers * g.directions
    expect_size(params, _all_weights(&g) + 2 * g.gates * g.hidden * units, f"{label} parameters")
    expect_size(hx, units * g.batch * g.width, f"{label} state")
    if cx is not None:
        expect_size(cx, units * g.batch * g.hidden, f"{label} state_cell")
    expect_size(out, _layer_output_size(&g), f"{label} output")
    if hy is not None:
        expect_size(hy, units * g.batch * g.width, f"{label} state_output")
    if cy is not None:
        expect_size(cy, units * g.batch * g.hidden, f"{label} statecell_output")
    return g


def append_rnn(Plan plan, dict attrs, data, params, hx, cx, out, hy, cy, workspace, key,
               str label="RNN"):
    """Append the fused RNN forward: out (T, N, D*R) and, when given, hy/cy from data (T, N, I).
    `key` is a one-element uint64 array that receives the dropout key in training."""
    cdef Geometry g = _check(attrs, data, params, hx, cx, out, hy, cy, label)
    if g.batch == 0:    # every output is empty (and so is the workspace: None)
        return
    expect_size(workspace, forward_workspace_bytes(attrs, tuple(data.shape), data.itemsize),
                f"{label} workspace")
    dtype = common_dtype([data, params, hx, cx, out, hy, cy])
    arrays, present = _array_list([data, params, hx, cx, out, hy, cy, workspace, key], data)
    ints, floats = _geometry_ints(g)
    plan.add(rnn_forward_kernel, dtype, arrays, ints + present, floats, label)


def append_rnn_backward(Plan plan, dict attrs, data, params, hx, cx, dout, dhy, dcy,
                        ddata, dparams, dhx, dcx, workspace, key, str req_data="write",
                        str req_params="write", str req_hx="write", str req_cx="write",
                        str label="_backward_RNN"):
    """Append the fused RNN backward: recompute the forward into the workspace, then ddata,
    dparams, dhx and dcx (None or req 'null': not computed) from dout and, when given, dhy, dcy."""
    shape = tuple(data.shape)
    cdef Geometry g = _check(attrs, data, params, hx, cx, dout, dhy, dcy, label)
    if g.batch == 0:    # the parameters' gradient is 0; every other array is empty
        if dparams is not None:
            append_fill(plan, dparams, 0.0, req_params, label)
        return
    expect_size(workspace, backward_workspace_bytes(attrs, shape, data.itemsize), f"{label} workspace")
    reqs = [req_code(r, label) for r in (req_data, req_params, req_hx, req_cx)]
    grads = [ddata, dparams, dhx, dcx]
    for k, (grad, like) in enumerate(zip(grads, (data, params, hx, cx))):
        if grad is None or reqs[k] == REQ_NULL:
            grads[k] = None
            reqs[k] = REQ_NULL
        else:
            expect_size(grad, like.size, f"{label} gradient")
    dtype = common_dtype([data, params, hx, cx, dout, dhy, dcy] + grads)
    arrays, present = _array_list([data, params, hx, cx, None, None, None, workspace, key,
                                   dout, dhy, dcy] + grads, data)
    ints, floats = _geometry_ints(g)
    plan.add(rnn_backward_kernel, dtype, arrays, ints + present + reqs, floats, label)
