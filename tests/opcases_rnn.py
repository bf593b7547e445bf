"""Registry-table rows for the fused RNN operator and _rnn_param_concat (cysym/ops/rnn.py).

np_rnn is a step-by-step NumPy RNN written from MXNet 1.9.1's src/operator/rnn-inl.h and
rnn_impl.h: the flat parameter vector holds every unit's (layer-major, forward direction first)
i2h weight (G*H, in), h2h weight (G*H, R) and, with a projection, h2r weight (P, H), then every
unit's i2h and h2h biases; LSTM gates i, f, g, o; GRU gates r, z, n with
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); the cell clipped (cuDNN's LSTM clipping) after
each step."""
import numpy as np

from cysym.ops.rnn import param_size
from opcase import Case

GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def split_params(flat, mode, num_layers, directions, input_size, state_size, projection_size=None):
    """[(wx, wh, wr or None, bx, bh)] per unit, from MXNet's flat layout."""
    gates, hidden = GATES[mode], state_size
    width = projection_size or hidden
    units, offset = [], 0
    for layer in range(num_layers):
        inputs = input_size if layer == 0 else width * directions
        for _ in range(directions):
            wx = flat[offset:offset + gates * hidden * inputs].reshape(gates * hidden, inputs)
            offset += wx.size
            wh = flat[offset:offset + gates * hidden * width].reshape(gates * hidden, width)
            offset += wh.size
            wr = None
            if projection_size:
                wr = flat[offset:offset + projection_size * hidden].reshape(projection_size, hidden)
                offset += wr.size
            units.append([wx, wh, wr])
    for unit in units:
        unit.append(flat[offset:offset + gates * hidden])
        unit.append(flat[offset + gates * hidden:offset + 2 * gates * hidden])
        offset += 2 * gates * hidden
    assert offset == flat.size, (offset, flat.size)
    return units


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_rnn(data, parameters, state, state_cell=None, *, state_size, num_layers, mode,
           bidirectional=False, state_outputs=False, projection_size=None, lstm_state_clip_min=None,
           lstm_state_clip_max=None, lstm_state_clip_nan=False, p=0.0, **_):
    directions = 2 if bidirectional else 1
    units = split_params(parameters, mode, num_layers, directions, data.shape[2], state_size,
                         projection_size)
    steps = data.shape[0]
    x = data
    hy, cy = [], []

    def clip(c):
        if lstm_state_clip_min is None:
            return c
        clipped = np.clip(c, lstm_state_clip_min, lstm_state_clip_max)
        return np.where(np.isnan(c), lstm_state_clip_min, clipped) if lstm_state_clip_nan else clipped

    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            unit = layer * directions + direction
            wx, wh, wr, bx, bh = units[unit]
            h = state[unit]
            c = state_cell[unit] if mode == "lstm" else None
            ys = [None] * steps
            order = range(steps) if direction == 0 else range(steps - 1, -1, -1)
            for t in order:
                gx = x[t] @ wx.T + bx
                gh = h @ wh.T + bh
                if mode == "lstm":
                    i, f, g, o = np.split(gx + gh, 4, axis=1)
                    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
                    c = clip(c)
                    h = sigmoid(o) * np.tanh(c)
                    if wr is not None:
                        h = h @ wr.T
                elif mode == "gru":
                    xr, xz, xn = np.split(gx, 3, axis=1)
                    hr, hz, hn = np.split(gh, 3, axis=1)
                    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
                    n = np.tanh(xn + r * hn)
                    h = (1 - z) * n + z * h
                else:
                    a = gx + gh
                    h = np.maximum(a, 0) if mode == "rnn_relu" else np.tanh(a)
                ys[t] = h
            outputs.append(np.stack(ys))
            hy.append(h)
            cy.append(c)
        x = np.concatenate(outputs, axis=2)
    if not state_outputs:
        return x
    result = [x, np.stack(hy)]
    return result + [np.stack(cy)] if mode == "lstm" else result


def small(rng, shape):
    return rng.uniform(-0.6, 0.6, shape)


def rnn_case(mode, layers=1, bidirectional=False, state_outputs=False, steps=3, batch=2,
             input_size=4, hidden=5, projection=None, **params):
    params = dict(state_size=hidden, num_layers=layers, mode=mode, bidirectional=bidirectional,
                  state_outputs=state_outputs, **params)
    if projection:
        params["projection_size"] = projection
    directions = 2 if bidirectional else 1
    width = projection or hidden
    full = dict(params, projection_size=projection)
    inputs = {"data": ((steps, batch, input_size), small),
              "parameters": ((param_size(full, input_size),), small),
              "state": ((layers * directions, batch, width), small)}
    if mode == "lstm":
        inputs["state_cell"] = ((layers * directions, batch, hidden), small)
    name = "-".join([f"RNN-{mode}", f"L{layers}", "bi" if bidirectional else "uni"]
                    + (["states"] if state_outputs else []) + ([f"proj{projection}"] if projection else [])
                    + [f"{k}={v}" for k, v in params.items() if k.startswith("lstm_state_clip")])
    bad = [("params", {"projection_size": hidden + 1})] if projection else []
    return Case("RNN", inputs, params=params, ref=np_rnn, id=name,
                bad=bad + [("shapes", {"data": (steps, batch)})])


CASE_LIST = [
    rnn_case(mode, layers, bidirectional, state_outputs)
    for mode in ("rnn_relu", "rnn_tanh", "lstm", "gru")
    for layers, bidirectional, state_outputs in ((1, False, False), (2, True, True), (2, False, True),
                                                 (1, True, False))
] + [
    rnn_case("lstm", 2, True, True, projection=3),
    rnn_case("lstm", 1, False, True, projection=2),
    rnn_case("lstm", 2, False, True, lstm_state_clip_min=-0.3, lstm_state_clip_max=0.25),
]


def np_param_concat(num_args, dim=1, **args):
    return np.concatenate([args[f"arg{i}"] for i in range(num_args)], axis=dim)


CASE_LIST += [
    Case("_rnn_param_concat", {"arg0": ((6,), small), "arg1": ((10,), small), "arg2": ((3,), small)},
         params={"num_args": 3, "dim": 0}, ref=np_param_concat, id="_rnn_param_concat-1d",
         bad=[("shapes", {"arg0": (6,), "arg1": (10, 2)})]),
    Case("_rnn_param_concat", {"arg0": ((2, 3), small), "arg1": ((2, 4), small)},
         params={"num_args": 2, "dim": 1}, ref=np_param_concat, id="_rnn_param_concat-2d",
         bad=[("shapes", {"arg0": (2, 3), "arg1": (3, 4)})]),
]
