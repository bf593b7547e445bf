"""MXNet 1.x's symbolic RNN cells (`mxnet.rnn.rnn_cell`), composed of existing operators.

A cell builds the graph of one time step (`cell(inputs, states)`); `unroll` calls it once per
step, sharing the weight variables held by an `RNNParams`.  Names of layers, weights and begin
states are MXNet's, so that parameter files and `list_arguments()` match.

One difference from MXNet's graphs: the hidden-to-hidden FullyConnected runs with
flatten=False (identical numbers, since a state is always (batch, num_hidden)).  MXNet infers
the batch size of a zero begin state `zeros(shape=(0, num_hidden))` from partial shapes,
which cysym's inference does not have; with flatten=False the FullyConnected rule recovers
the state's shape from its output and weight, and the h2h_weight variables carry their shape
(`__shape__`, always (gates * num_hidden, num_hidden)) for one-step unrolls.
"""
import warnings

import numpy as np

from .. import initializer as init
from .. import ndarray
from .. import symbol
from ..ops import init_op as _init_op  # noqa: F401  (registers _zeros)
from ..symbol.symbol import create_op

__all__ = ["RNNParams", "BaseRNNCell", "RNNCell", "LSTMCell", "GRUCell", "FusedRNNCell",
           "SequentialRNNCell", "DropoutCell", "ModifierCell", "ZoneoutCell", "ResidualCell",
           "BidirectionalCell", "zeros"]


def zeros(shape, dtype=None, **kwargs):
    """A `_zeros` node (MXNet's `symbol.zeros`); 0 in `shape` marks a dimension to infer.

    Keywords written `__key__` (such as the cells' `__layout__`) become attributes.
    """
    attr = dict(kwargs.pop("attr", None) or {})
    for key in [k for k in kwargs if k.startswith("__") and k.endswith("__")]:
        attr[key] = str(kwargs.pop(key))
    if dtype is not None:
        kwargs["dtype"] = np.dtype(dtype).name
    return create_op("_zeros", shape=tuple(shape), attr=attr or None, **kwargs)


def _cells_state_info(cells):
    return sum([c.state_info for c in cells], [])


def _cells_begin_state(cells, **kwargs):
    return sum([c.begin_state(**kwargs) for c in cells], [])


def _cells_unpack_weights(cells, args):
    for cell in cells:
        args = cell.unpack_weights(args)
    return args


def _cells_pack_weights(cells, args):
    for cell in cells:
        args = cell.pack_weights(args)
    return args


def _split(inputs, axis, length):
    return list(symbol.SliceChannel(inputs, axis=axis, num_outputs=length, squeeze_axis=1))


def _normalize_sequence(length, inputs, layout, merge, in_layout=None):
    """`inputs` as a list of per-step symbols (merge=False), one symbol with a time axis
    (merge=True), or unchanged (merge=None); returns (inputs, time axis of `layout`)."""
    if inputs is None:
        raise ValueError("unroll(inputs=None) has been deprecated. "
                         "Please create input variables outside unroll.")
    axis = layout.find("T")
    if axis < 0:
        raise ValueError(f"layout {layout!r} has no time axis 'T'")
    in_axis = in_layout.find("T") if in_layout is not None else axis
    if isinstance(inputs, symbol.Symbol):
        if merge is False:
            if len(inputs.list_outputs()) != 1:
                raise ValueError("unroll doesn't allow grouped symbol as input. Please convert "
                                 "to list with list(inputs) first or let unroll handle splitting.")
            inputs = _split(inputs, in_axis, length)
    else:
        inputs = list(inputs)
        if length is not None and len(inputs) != length:
            raise ValueError(f"unroll: {len(inputs)} input symbols for length={length}")
        if merge is True:
            inputs = [symbol.expand_dims(i, axis=axis) for i in inputs]
            inputs = symbol.Concat(*inputs, dim=axis)
            in_axis = axis
    if isinstance(inputs, symbol.Symbol) and axis != in_axis:
        inputs = symbol.SwapAxis(inputs, dim1=axis, dim2=in_axis)
    return inputs, axis


class RNNParams:
    """Container of the weight variables of one or more cells (for sharing weights).

    Every variable it creates is named `prefix + name`.
    """

    def __init__(self, prefix=""):
        self._prefix = prefix
        self._params = {}

    def get(self, name, **kwargs):
        """The variable `prefix + name`, created with `symbol.Variable(**kwargs)` if missing."""
        name = self._prefix + name
        if name not in self._params:
            self._params[name] = symbol.Variable(name, **kwargs)
        return self._params[name]


class BaseRNNCell:
    """Abstract base class of the RNN cells.

    Parameters
    ----------
    prefix : str
        Prefix of the names of layers (and of weights when `params` is None).
    params : RNNParams or None
        Container for weight sharing between cells; created if None.
    """

    def __init__(self, prefix="", params=None):
        if params is None:
            params = RNNParams(prefix)
            self._own_params = True
        else:
            self._own_params = False
        self._prefix = prefix
        self._params = params
        self._modified = False
        self.reset()

    def reset(self):
        """Reset the step counters before re-using the cell for another graph."""
        self._init_counter = -1
        self._counter = -1
        for cell in getattr(self, "_cells", ()):
            cell.reset()

    def __call__(self, inputs, states):
        """(output, next states) of one time step; `inputs` is (batch, num_inputs)."""
        raise NotImplementedError()

    @property
    def params(self):
        """The RNNParams holding this cell's weights."""
        self._own_params = False
        return self._params

    @property
    def state_info(self):
        """Shape and layout of each state: [{'shape': (0, num_hidden), '__layout__': 'NC'}, ...]."""
        raise NotImplementedError()

    @property
    def state_shape(self):
        """The shape of each begin state (0 for the batch size, inferred at bind)."""
        return [info["shape"] for info in self.state_info]

    @property
    def _gate_names(self):
        return ()

    def begin_state(self, func=zeros, **kwargs):
        """Initial states, `func(name='<prefix>begin_state_<i>', shape=..., __layout__=..., **kwargs)`.

        func=cysym.rnn.zeros (the default) gives zero states whose batch size is inferred;
        func=cysym.sym.Variable makes states that are fed as inputs.
        """
        if self._modified:
            raise RuntimeError("After applying modifier cells (e.g. ZoneoutCell) the base cell "
                               "cannot be called directly. Call the modifier cell instead.")
        states = []
        for info in self.state_info:
            self._init_counter += 1
            if info is not None:
                kwargs.update(info)
            states.append(func(name=f"{self._prefix}begin_state_{self._init_counter}", **kwargs))
        return states

    def unpack_weights(self, args):
        """Split the fused gate weights `<prefix>i2h_weight` into `<prefix>i2h<gate>_weight` (copies)."""
        args = args.copy()
        if not self._gate_names:
            return args
        h = self._num_hidden
        for group in ("i2h", "h2h"):
            weight = args.pop(f"{self._prefix}{group}_weight")
            bias = args.pop(f"{self._prefix}{group}_bias")
            for j, gate in enumerate(self._gate_names):
                args[f"{self._prefix}{group}{gate}_weight"] = weight[j * h:(j + 1) * h].copy()
                args[f"{self._prefix}{group}{gate}_bias"] = bias[j * h:(j + 1) * h].copy()
        return args

    def pack_weights(self, args):
        """The inverse of unpack_weights: concatenate the gates' weights and biases."""
        args = args.copy()
        if not self._gate_names:
            return args
        for group in ("i2h", "h2h"):
            weights, biases = [], []
            for gate in self._gate_names:
                weights.append(args.pop(f"{self._prefix}{group}{gate}_weight"))
                biases.append(args.pop(f"{self._prefix}{group}{gate}_bias"))
            args[f"{self._prefix}{group}_weight"] = ndarray.concat(*weights, dim=0)
            args[f"{self._prefix}{group}_bias"] = ndarray.concat(*biases, dim=0)
        return args

    def unroll(self, length, inputs=None, begin_state=None, layout="NTC", merge_outputs=None,
               input_prefix=None):
        """Unroll the cell over `length` time steps.

        inputs: one symbol (batch, length, ...) for layout 'NTC' or (length, batch, ...) for
        'TNC', or a list of `length` symbols (batch, ...).  (MXNet < 1.0 also accepted None with
        `input_prefix`, creating variables `<input_prefix>t<i>_data`; so does cysym.)
        merge_outputs: True gives one symbol with a time axis, False a list, None whatever is
        at hand.  Returns (outputs, states), states as begin_state() structures them.
        """
        self.reset()
        inputs = _default_inputs(length, inputs, input_prefix)
        inputs, _ = _normalize_sequence(length, inputs, layout, False)
        if begin_state is None:
            begin_state = self.begin_state()
        states = begin_state
        outputs = []
        for i in range(length):
            output, states = self(inputs[i], states)
            outputs.append(output)
        outputs, _ = _normalize_sequence(length, outputs, layout, merge_outputs)
        return outputs, states

    def _get_activation(self, inputs, activation, **kwargs):
        if isinstance(activation, str):
            return symbol.Activation(inputs, act_type=activation, **kwargs)
        return activation(inputs, **kwargs)


def _default_inputs(length, inputs, input_prefix):
    if inputs is None and input_prefix is not None:
        return [symbol.Variable(f"{input_prefix}t{i}_data") for i in range(length)]
    return inputs


class RNNCell(BaseRNNCell):
    """Elman RNN: h' = activation(W_i x + b_i + W_h h + b_h).

    Parameters
    ----------
    num_hidden : int
    activation : str or callable, default 'tanh'
    prefix : str, default ``'rnn_'``
    params : RNNParams or None
    """

    def __init__(self, num_hidden, activation="tanh", prefix="rnn_", params=None):
        super().__init__(prefix=prefix, params=params)
        self._num_hidden = num_hidden
        self._activation = activation
        self._iW = self.params.get("i2h_weight")
        self._iB = self.params.get("i2h_bias")
        self._hW = _h2h_weight(self.params, len(self._gate_names), num_hidden)
        self._hB = self.params.get("h2h_bias")

    @property
    def state_info(self):
        return [{"shape": (0, self._num_hidden), "__layout__": "NC"}]

    @property
    def _gate_names(self):
        return ("",)

    def __call__(self, inputs, states):
        self._counter += 1
        name = f"{self._prefix}t{self._counter}_"
        i2h = symbol.FullyConnected(data=inputs, weight=self._iW, bias=self._iB,
                                    num_hidden=self._num_hidden, name=f"{name}i2h")
        h2h = _h2h(states[0], self._hW, self._hB, self._num_hidden, f"{name}h2h")
        output = self._get_activation(i2h + h2h, self._activation, name=f"{name}out")
        return output, [output]


def _h2h_weight(params, num_gates, num_hidden):
    # The shape is given because nothing else tells it when a one-step unroll starts from a
    # zero state (MXNet reads num_hidden off the state's partial shape (0, num_hidden)).
    return params.get("h2h_weight", shape=(num_gates * num_hidden, num_hidden))


def _h2h(state, weight, bias, num_hidden, name):
    # flatten=False: see the module docstring (a zero begin state gets its batch size from here)
    return symbol.FullyConnected(data=state, weight=weight, bias=bias, num_hidden=num_hidden,
                                 flatten=False, name=name)


class LSTMCell(BaseRNNCell):
    """Long short-term memory; gates sliced from W_i x + b_i + W_h h + b_h in the order
    input, forget, cell transform, output:

        c' = sigmoid(f) * c + sigmoid(i) * tanh(g);   h' = sigmoid(o) * tanh(c')

    Parameters
    ----------
    num_hidden : int
    prefix : str, default ``'lstm_'``
    params : RNNParams or None
    forget_bias : float, default 1.0
        Initial value of the forget gate's part of i2h_bias (init.LSTMBias).
    """

    def __init__(self, num_hidden, prefix="lstm_", params=None, forget_bias=1.0):
        super().__init__(prefix=prefix, params=params)
        self._num_hidden = num_hidden
        self._iW = self.params.get("i2h_weight")
        self._hW = _h2h_weight(self.params, len(self._gate_names), num_hidden)
        self._iB = self.params.get("i2h_bias", init=init.LSTMBias(forget_bias=forget_bias))
        self._hB = self.params.get("h2h_bias")

    @property
    def state_info(self):
        return [{"shape": (0, self._num_hidden), "__layout__": "NC"},
                {"shape": (0, self._num_hidden), "__layout__": "NC"}]

    @property
    def _gate_names(self):
        return ["_i", "_f", "_c", "_o"]

    def __call__(self, inputs, states):
        self._counter += 1
        name = f"{self._prefix}t{self._counter}_"
        i2h = symbol.FullyConnected(data=inputs, weight=self._iW, bias=self._iB,
                                    num_hidden=self._num_hidden * 4, name=f"{name}i2h")
        h2h = _h2h(states[0], self._hW, self._hB, self._num_hidden * 4, f"{name}h2h")
        gates = i2h + h2h
        slice_gates = symbol.SliceChannel(gates, num_outputs=4, name=f"{name}slice")
        in_gate = symbol.Activation(slice_gates[0], act_type="sigmoid", name=f"{name}i")
        forget_gate = symbol.Activation(slice_gates[1], act_type="sigmoid", name=f"{name}f")
        in_transform = symbol.Activation(slice_gates[2], act_type="tanh", name=f"{name}c")
        out_gate = symbol.Activation(slice_gates[3], act_type="sigmoid", name=f"{name}o")
        next_c = symbol._internal._plus(forget_gate * states[1], in_gate * in_transform,
                                        name=f"{name}state")
        next_h = symbol._internal._mul(out_gate, symbol.Activation(next_c, act_type="tanh"),
                                       name=f"{name}out")
        return next_h, [next_h, next_c]


class GRUCell(BaseRNNCell):
    """Gated recurrent unit, cuDNN's variant (reset gate applied after the h2h product):

        r = sigmoid(i_r + h_r);  z = sigmoid(i_z + h_z);  n = tanh(i_n + r * h_n)
        h' = (1 - z) * n + z * h

    where i_* and h_* are the three slices of W_i x + b_i and W_h h + b_h.

    Parameters
    ----------
    num_hidden : int
    prefix : str, default ``'gru_'``
    params : RNNParams or None
    """

    def __init__(self, num_hidden, prefix="gru_", params=None):
        super().__init__(prefix=prefix, params=params)
        self._num_hidden = num_hidden
        self._iW = self.params.get("i2h_weight")
        self._iB = self.params.get("i2h_bias")
        self._hW = _h2h_weight(self.params, len(self._gate_names), num_hidden)
        self._hB = self.params.get("h2h_bias")

    @property
    def state_info(self):
        return [{"shape": (0, self._num_hidden), "__layout__": "NC"}]

    @property
    def _gate_names(self):
        return ["_r", "_z", "_o"]

    def __call__(self, inputs, states):
        self._counter += 1
        name = f"{self._prefix}t{self._counter}_"
        prev_state_h = states[0]
        i2h = symbol.FullyConnected(data=inputs, weight=self._iW, bias=self._iB,
                                    num_hidden=self._num_hidden * 3, name=f"{name}_i2h")
        h2h = _h2h(prev_state_h, self._hW, self._hB, self._num_hidden * 3, f"{name}_h2h")
        i2h_r, i2h_z, i2h = symbol.SliceChannel(i2h, num_outputs=3, name=f"{name}_i2h_slice")
        h2h_r, h2h_z, h2h = symbol.SliceChannel(h2h, num_outputs=3, name=f"{name}_h2h_slice")
        reset_gate = symbol.Activation(i2h_r + h2h_r, act_type="sigmoid", name=f"{name}_r_act")
        update_gate = symbol.Activation(i2h_z + h2h_z, act_type="sigmoid", name=f"{name}_z_act")
        next_h_tmp = symbol.Activation(i2h + reset_gate * h2h, act_type="tanh",
                                       name=f"{name}_h_act")
        next_h = symbol._internal._plus((1. - update_gate) * next_h_tmp,
                                        update_gate * prev_state_h, name=f"{name}out")
        return next_h, [next_h]


class FusedRNNCell(BaseRNNCell):
    """Every layer and time step in one fused `RNN` operator (MXNet's FusedRNNCell).

    Its weights are one flat vector, the variable `<prefix>parameters`, in the RNN operator's
    layout; unpack_weights/pack_weights convert it to and from the per-gate weights that the
    unfused cells use (`<prefix>l0_i2h_i_weight`, ...), as MXNet does.

    Parameters
    ----------
    num_hidden : int
        Number of units in output symbol.
    num_layers : int, default 1
        Number of layers in the cell.
    mode : str, default 'lstm'
        Type of RNN: 'rnn_relu', 'rnn_tanh', 'lstm' or 'gru'.
    bidirectional : bool, default False
        Whether to use bidirectional unroll (the output size is doubled).
    dropout : float, default 0.
        Fraction of each layer's output (but the last's) dropped out in training.
    get_next_state : bool, default False
        Whether unroll returns the final states (usable as the next begin states).
    forget_bias : float, default 1.0
        Bias added to the forget gate by the parameters' initializer.
    prefix : str, default '<mode>_'
        Prefix of the names of layers (and of weights if `params` is None).
    params : RNNParams, default None
        Container for weight sharing between cells; created if None.
    """

    def __init__(self, num_hidden, num_layers=1, mode="lstm", bidirectional=False, dropout=0.,
                 get_next_state=False, forget_bias=1.0, prefix=None, params=None):
        if mode not in ("rnn_relu", "rnn_tanh", "lstm", "gru"):
            raise ValueError(f"FusedRNNCell: mode {mode!r} is not one of "
                             "'rnn_relu', 'rnn_tanh', 'lstm', 'gru'")
        if prefix is None:
            prefix = f"{mode}_"
        super().__init__(prefix=prefix, params=params)
        self._num_hidden = num_hidden
        self._num_layers = num_layers
        self._mode = mode
        self._bidirectional = bidirectional
        self._dropout = dropout
        self._get_next_state = get_next_state
        self._forget_bias = forget_bias
        self._directions = ["l", "r"] if bidirectional else ["l"]
        initializer = init.FusedRNN(None, num_hidden, num_layers, mode, bidirectional, forget_bias)
        self._parameter = self.params.get("parameters", init=initializer)

    @property
    def state_info(self):
        b = self._bidirectional + 1
        n = (self._mode == "lstm") + 1
        return [{"shape": (b * self._num_layers, 0, self._num_hidden), "__layout__": "LNC"}
                for _ in range(n)]

    @property
    def _gate_names(self):
        return {"rnn_relu": [""], "rnn_tanh": [""], "lstm": ["_i", "_f", "_c", "_o"],
                "gru": ["_r", "_z", "_o"]}[self._mode]

    def _slice_weights(self, arr, num_input):
        """Views of `arr` (the flat vector) as the per-gate weights, by name."""
        views, position = {}, 0
        h, b = self._num_hidden, len(self._directions)

        def take(name, shape):
            nonlocal position
            size = int(np.prod(shape))
            views[name] = arr[position:position + size].reshape(shape)
            position += size

        for layer in range(self._num_layers):
            for direction in self._directions:
                for gate in self._gate_names:
                    take(f"{self._prefix}{direction}{layer}_i2h{gate}_weight",
                         (h, b * h) if layer > 0 else (h, num_input))
                for gate in self._gate_names:
                    take(f"{self._prefix}{direction}{layer}_h2h{gate}_weight", (h, h))
        for layer in range(self._num_layers):
            for direction in self._directions:
                for group in ("i2h", "h2h"):
                    for gate in self._gate_names:
                        take(f"{self._prefix}{direction}{layer}_{group}{gate}_bias", (h,))
        if position != arr.size:
            raise ValueError(f"FusedRNNCell: the parameter vector has {arr.size} elements, "
                             f"{position} expected")
        return views

    def unpack_weights(self, args):
        """Replace `<prefix>parameters` by the per-gate weights and biases (copies)."""
        args = args.copy()
        arr = args.pop(self._parameter.name)
        b, m, h = len(self._directions), len(self._gate_names), self._num_hidden
        num_input = arr.size // b // h // m - (self._num_layers - 1) * (h + b * h + 2) - h - 2
        args.update({name: view.copy() for name, view in self._slice_weights(arr, num_input).items()})
        return args

    def pack_weights(self, args):
        """The inverse of unpack_weights: one `<prefix>parameters` vector from the gates' weights."""
        args = args.copy()
        b, m, h = len(self._directions), len(self._gate_names), self._num_hidden
        first = args[f"{self._prefix}l0_i2h{self._gate_names[0]}_weight"]
        num_input = first.shape[1]
        total = (num_input + h + 2) * h * m * b + (self._num_layers - 1) * m * h * (h + b * h + 2) * b
        arr = ndarray.zeros((total,), dtype=first.dtype)
        for name, view in self._slice_weights(arr, num_input).items():
            view[:] = args.pop(name)
        args[self._parameter.name] = arr
        return args

    def __call__(self, inputs, states):
        raise NotImplementedError("FusedRNNCell cannot be stepped. Please use unroll")

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """One RNN node `<prefix>rnn` over the whole sequence; (outputs, states), states empty
        unless get_next_state."""
        self.reset()
        inputs, axis = _normalize_sequence(length, inputs, layout, True)
        if axis == 1:
            warnings.warn("NTC layout detected. Consider using TNC for FusedRNNCell for faster "
                          "speed")
            inputs = symbol.swapaxes(inputs, dim1=0, dim2=1)
        elif axis != 0:
            raise ValueError(f"FusedRNNCell: unsupported layout {layout!r}")
        if begin_state is None:
            begin_state = self.begin_state()
        states = {"state": begin_state[0]}
        if self._mode == "lstm":
            states["state_cell"] = begin_state[1]
        rnn = symbol.RNN(data=inputs, parameters=self._parameter, state_size=self._num_hidden,
                         num_layers=self._num_layers, bidirectional=self._bidirectional,
                         p=self._dropout, state_outputs=self._get_next_state, mode=self._mode,
                         name=self._prefix + "rnn", **states)
        if not self._get_next_state:
            outputs, states = rnn, []
        else:
            states = [rnn[k] for k in range(1, 3 if self._mode == "lstm" else 2)]
            for state in states:
                state._set_attr(__layout__="LNC")
            outputs = rnn[0]
        if axis == 1:
            outputs = symbol.swapaxes(outputs, dim1=0, dim2=1)
        outputs, _ = _normalize_sequence(length, outputs, layout, merge_outputs)
        return outputs, states

    def unfuse(self):
        """The same network as a SequentialRNNCell of unfused cells."""
        stack = SequentialRNNCell()
        makers = {
            "rnn_relu": lambda p: RNNCell(self._num_hidden, activation="relu", prefix=p),
            "rnn_tanh": lambda p: RNNCell(self._num_hidden, activation="tanh", prefix=p),
            "lstm": lambda p: LSTMCell(self._num_hidden, prefix=p, forget_bias=self._forget_bias),
            "gru": lambda p: GRUCell(self._num_hidden, prefix=p),
        }
        get_cell = makers[self._mode]
        for i in range(self._num_layers):
            if self._bidirectional:
                stack.add(BidirectionalCell(get_cell(f"{self._prefix}l{i}_"),
                                            get_cell(f"{self._prefix}r{i}_"),
                                            output_prefix=f"{self._prefix}bi_l{i}_"))
            else:
                stack.add(get_cell(f"{self._prefix}l{i}_"))
            if self._dropout > 0 and i != self._num_layers - 1:
                stack.add(DropoutCell(self._dropout, prefix=f"{self._prefix}_dropout{i}_"))
        return stack


class SequentialRNNCell(BaseRNNCell):
    """Cells stacked: each one's output is the next one's input.

    Parameters
    ----------
    params : RNNParams or None
        If given, the child cells must not have their own (weights are shared through it).
    """

    def __init__(self, params=None):
        super().__init__(prefix="", params=params)
        self._override_cell_params = params is not None
        self._cells = []

    def add(self, cell):
        """Append `cell` to the stack."""
        self._cells.append(cell)
        if self._override_cell_params:
            if not cell._own_params:
                raise ValueError("Either specify params for SequentialRNNCell or child cells, "
                                 "not both.")
            cell.params._params.update(self.params._params)
        self.params._params.update(cell.params._params)

    @property
    def state_info(self):
        return _cells_state_info(self._cells)

    def begin_state(self, **kwargs):
        if self._modified:
            raise RuntimeError("After applying modifier cells (e.g. ZoneoutCell) the base cell "
                               "cannot be called directly. Call the modifier cell instead.")
        return _cells_begin_state(self._cells, **kwargs)

    def unpack_weights(self, args):
        return _cells_unpack_weights(self._cells, args)

    def pack_weights(self, args):
        return _cells_pack_weights(self._cells, args)

    def __call__(self, inputs, states):
        self._counter += 1
        next_states = []
        p = 0
        for cell in self._cells:
            if isinstance(cell, BidirectionalCell):
                raise NotImplementedError("a SequentialRNNCell holding a BidirectionalCell "
                                          "cannot be stepped; use unroll")
            n = len(cell.state_info)
            state = states[p:p + n]
            p += n
            inputs, state = cell(inputs, state)
            next_states.append(state)
        return inputs, sum(next_states, [])

    def unroll(self, length, inputs=None, begin_state=None, layout="NTC", merge_outputs=None,
               input_prefix=None):
        self.reset()
        inputs = _default_inputs(length, inputs, input_prefix)
        num_cells = len(self._cells)
        if begin_state is None:
            begin_state = self.begin_state()
        p = 0
        next_states = []
        for i, cell in enumerate(self._cells):
            n = len(cell.state_info)
            states = begin_state[p:p + n]
            p += n
            inputs, states = cell.unroll(length, inputs=inputs, begin_state=states, layout=layout,
                                         merge_outputs=None if i < num_cells - 1 else merge_outputs)
            next_states.extend(states)
        return inputs, next_states


class DropoutCell(BaseRNNCell):
    """Dropout on the input (a stateless cell, placed between layers of a stack).

    Parameters
    ----------
    dropout : float
        Fraction of the elements to drop.
    prefix : str, default ``'dropout_'``
    params : RNNParams or None
    """

    def __init__(self, dropout, prefix="dropout_", params=None):
        super().__init__(prefix, params)
        if not isinstance(dropout, (int, float, np.number)):
            raise TypeError(f"dropout probability must be a number, got {dropout!r}")
        self.dropout = dropout

    @property
    def state_info(self):
        return []

    def __call__(self, inputs, states):
        if self.dropout > 0:
            inputs = symbol.Dropout(data=inputs, p=self.dropout)
        return inputs, states

    def unroll(self, length, inputs=None, begin_state=None, layout="NTC", merge_outputs=None,
               input_prefix=None):
        self.reset()
        inputs = _default_inputs(length, inputs, input_prefix)
        inputs, _ = _normalize_sequence(length, inputs, layout, merge_outputs)
        if isinstance(inputs, symbol.Symbol):
            return self(inputs, [])
        return super().unroll(length, inputs, begin_state=begin_state, layout=layout,
                              merge_outputs=merge_outputs)


class ModifierCell(BaseRNNCell):
    """Base class of the cells that wrap another (zoneout, residual connection).

    After wrapping, the base cell must not be called directly: call the modifier cell.
    """

    def __init__(self, base_cell):
        super().__init__()
        base_cell._modified = True
        self.base_cell = base_cell

    @property
    def params(self):
        self._own_params = False
        return self.base_cell.params

    @property
    def state_info(self):
        return self.base_cell.state_info

    def begin_state(self, init_sym=zeros, func=None, **kwargs):
        """The base cell's begin states (`func` is accepted as another name of `init_sym`)."""
        if self._modified:
            raise RuntimeError("After applying modifier cells (e.g. DropoutCell) the base cell "
                               "cannot be called directly. Call the modifier cell instead.")
        self.base_cell._modified = False
        try:
            return self.base_cell.begin_state(func=func or init_sym, **kwargs)
        finally:
            self.base_cell._modified = True

    def unpack_weights(self, args):
        return self.base_cell.unpack_weights(args)

    def pack_weights(self, args):
        return self.base_cell.pack_weights(args)

    def __call__(self, inputs, states):
        raise NotImplementedError()


class ZoneoutCell(ModifierCell):
    """Zoneout (Krueger et al. 2016): in training, each unit keeps its previous value with
    probability zoneout_outputs (outputs) / zoneout_states (states).

    The mask is Dropout of ones, so at inference every unit takes its new value.
    """

    def __init__(self, base_cell, zoneout_outputs=0., zoneout_states=0.):
        if isinstance(base_cell, FusedRNNCell):
            raise TypeError("FusedRNNCell doesn't support zoneout. Please unfuse first.")
        if isinstance(base_cell, BidirectionalCell):
            raise TypeError("BidirectionalCell doesn't support zoneout since it doesn't support "
                            "step. Please add ZoneoutCell to the cells underneath instead.")
        super().__init__(base_cell)
        self.zoneout_outputs = zoneout_outputs
        self.zoneout_states = zoneout_states
        self.prev_output = None

    def reset(self):
        super().reset()
        self.prev_output = None

    def __call__(self, inputs, states):
        cell, p_outputs, p_states = self.base_cell, self.zoneout_outputs, self.zoneout_states
        next_output, next_states = cell(inputs, states)

        def mask(p, like):
            return symbol.Dropout(symbol.ones_like(like), p=p)

        prev_output = self.prev_output if self.prev_output is not None else zeros((0, 0))
        output = (symbol.where(mask(p_outputs, next_output), next_output, prev_output)
                  if p_outputs != 0. else next_output)
        states = ([symbol.where(mask(p_states, new_s), new_s, old_s)
                   for new_s, old_s in zip(next_states, states)]
                  if p_states != 0. else next_states)
        self.prev_output = output
        return output, states


class ResidualCell(ModifierCell):
    """Output = base cell's output + input (Wu et al. 2016); states unchanged."""

    def __call__(self, inputs, states):
        output, states = self.base_cell(inputs, states)
        output = symbol.elemwise_add(output, inputs, name=f"{output.name}_plus_residual")
        return output, states

    def unroll(self, length, inputs=None, begin_state=None, layout="NTC", merge_outputs=None,
               input_prefix=None):
        self.reset()
        inputs = _default_inputs(length, inputs, input_prefix)
        self.base_cell._modified = False
        try:
            outputs, states = self.base_cell.unroll(length, inputs=inputs,
                                                    begin_state=begin_state, layout=layout,
                                                    merge_outputs=merge_outputs)
        finally:
            self.base_cell._modified = True
        if merge_outputs is None:
            merge_outputs = isinstance(outputs, symbol.Symbol)
        inputs, _ = _normalize_sequence(length, inputs, layout, merge_outputs)
        if merge_outputs:
            outputs = symbol.elemwise_add(outputs, inputs, name=f"{outputs.name}_plus_residual")
        else:
            outputs = [symbol.elemwise_add(o, i, name=f"{o.name}_plus_residual")
                       for o, i in zip(outputs, inputs)]
        return outputs, states


def _reverse_time(outputs, axis, length):
    # MXNet uses symbol.reverse; split + concat in reverse order is the same
    steps = _split(outputs, axis, length)[::-1]
    return symbol.Concat(*[symbol.expand_dims(s, axis=axis) for s in steps], dim=axis)


class BidirectionalCell(BaseRNNCell):
    """Runs l_cell forward and r_cell backward in time; outputs concatenated per step.

    Parameters
    ----------
    l_cell, r_cell : BaseRNNCell
    params : RNNParams or None
    output_prefix : str, default ``'bi_'``
        Outputs are named '<output_prefix>t<i>' (or '<output_prefix>out' when merged).
    """

    def __init__(self, l_cell, r_cell, params=None, output_prefix="bi_"):
        super().__init__("", params=params)
        self._output_prefix = output_prefix
        self._override_cell_params = params is not None
        if self._override_cell_params:
            if not (l_cell._own_params and r_cell._own_params):
                raise ValueError("Either specify params for BidirectionalCell or child cells, "
                                 "not both.")
            l_cell.params._params.update(self.params._params)
            r_cell.params._params.update(self.params._params)
        self.params._params.update(l_cell.params._params)
        self.params._params.update(r_cell.params._params)
        self._cells = [l_cell, r_cell]

    def unpack_weights(self, args):
        return _cells_unpack_weights(self._cells, args)

    def pack_weights(self, args):
        return _cells_pack_weights(self._cells, args)

    def __call__(self, inputs, states):
        raise NotImplementedError("Bidirectional cannot be stepped. Please use unroll")

    @property
    def state_info(self):
        return _cells_state_info(self._cells)

    def begin_state(self, **kwargs):
        if self._modified:
            raise RuntimeError("After applying modifier cells (e.g. DropoutCell) the base cell "
                               "cannot be called directly. Call the modifier cell instead.")
        return _cells_begin_state(self._cells, **kwargs)

    def unroll(self, length, inputs=None, begin_state=None, layout="NTC", merge_outputs=None,
               input_prefix=None):
        self.reset()
        inputs = _default_inputs(length, inputs, input_prefix)
        inputs, axis = _normalize_sequence(length, inputs, layout, False)
        if begin_state is None:
            begin_state = self.begin_state()
        states = begin_state
        l_cell, r_cell = self._cells
        n_left = len(l_cell.state_info)
        l_outputs, l_states = l_cell.unroll(length, inputs=inputs, begin_state=states[:n_left],
                                            layout=layout, merge_outputs=merge_outputs)
        r_outputs, r_states = r_cell.unroll(length, inputs=list(reversed(inputs)),
                                            begin_state=states[n_left:], layout=layout,
                                            merge_outputs=merge_outputs)
        if merge_outputs is None:
            merge_outputs = (isinstance(l_outputs, symbol.Symbol)
                             and isinstance(r_outputs, symbol.Symbol))
            if not merge_outputs:
                if isinstance(l_outputs, symbol.Symbol):
                    l_outputs = _split(l_outputs, axis, length)
                if isinstance(r_outputs, symbol.Symbol):
                    r_outputs = _split(r_outputs, axis, length)
        if merge_outputs:
            l_outputs = [l_outputs]
            r_outputs = [_reverse_time(r_outputs, axis, length)]
        else:
            r_outputs = list(reversed(r_outputs))
        outputs = [symbol.Concat(l_o, r_o, dim=1 + merge_outputs,
                                 name=(f"{self._output_prefix}out" if merge_outputs
                                       else f"{self._output_prefix}t{i}"))
                   for i, (l_o, r_o) in enumerate(zip(l_outputs, r_outputs))]
        if merge_outputs:
            outputs = outputs[0]
        return outputs, [l_states, r_states]
