"""cysym.rnn: MXNet 1.x's symbolic RNN cells.

Names and shapes are those recorded by MXNet's tests/python/unittest/test_rnn.py; numbers are
checked against NumPy versions of the cells' equations (MXNet's gate orders)."""
import json

import numpy as np
import pytest

import cysym as mx
from cysym.test_utils import check_numeric_gradient

BATCH, IN, HID, STEPS = 3, 5, 4, 2


def step_inputs(n, prefix="rnn_"):
    return [mx.sym.Variable(f"{prefix}t{i}_data") for i in range(n)]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------------------------------------
# names and shapes, as MXNet's unit tests record them

@pytest.mark.parametrize("make", [lambda: mx.rnn.RNNCell(100, prefix="rnn_"),
                                  lambda: mx.rnn.LSTMCell(100, prefix="rnn_", forget_bias=1.0),
                                  lambda: mx.rnn.GRUCell(100, prefix="rnn_")],
                         ids=["rnn", "lstm", "gru"])
def test_cell_names_and_shapes(make):
    cell = make()
    outputs, _ = cell.unroll(3, step_inputs(3))
    outputs = mx.sym.Group(outputs)
    assert sorted(cell.params._params.keys()) == ["rnn_h2h_bias", "rnn_h2h_weight",
                                                  "rnn_i2h_bias", "rnn_i2h_weight"]
    assert outputs.list_outputs() == ["rnn_t0_out_output", "rnn_t1_out_output", "rnn_t2_out_output"]
    # zero begin states are nodes, not arguments
    assert outputs.list_arguments() == ["rnn_t0_data", "rnn_i2h_weight", "rnn_i2h_bias",
                                        "rnn_h2h_weight", "rnn_h2h_bias", "rnn_t1_data",
                                        "rnn_t2_data"]
    _, outs, _ = outputs.infer_shape(rnn_t0_data=(10, 50), rnn_t1_data=(10, 50), rnn_t2_data=(10, 50))
    assert outs == [(10, 100), (10, 100), (10, 100)]


def test_begin_state_names_and_variables():
    cell = mx.rnn.LSTMCell(HID, prefix="l_")
    states = cell.begin_state(func=mx.sym.Variable)
    assert [s.name for s in states] == ["l_begin_state_0", "l_begin_state_1"]
    assert states[0].list_attr()["__layout__"] == "NC"
    zeros = cell.begin_state()
    assert [s.name for s in zeros] == ["l_begin_state_2", "l_begin_state_3"]
    assert cell.state_shape == [(0, HID), (0, HID)]


def test_stack_names_and_shapes():
    cell = mx.rnn.SequentialRNNCell()
    for i in range(5):
        if i == 1:
            cell.add(mx.rnn.ResidualCell(mx.rnn.LSTMCell(100, prefix=f"rnn_stack{i}_")))
        else:
            cell.add(mx.rnn.LSTMCell(100, prefix=f"rnn_stack{i}_"))
    outputs, states = cell.unroll(3, step_inputs(3))
    outputs = mx.sym.Group(outputs)
    keys = sorted(cell.params._params.keys())
    for i in range(5):
        for suffix in ("h2h_weight", "h2h_bias", "i2h_weight", "i2h_bias"):
            assert f"rnn_stack{i}_{suffix}" in keys
    assert outputs.list_outputs() == ["rnn_stack4_t0_out_output", "rnn_stack4_t1_out_output",
                                      "rnn_stack4_t2_out_output"]
    assert len(states) == 10
    _, outs, _ = outputs.infer_shape(rnn_t0_data=(10, 50), rnn_t1_data=(10, 50), rnn_t2_data=(10, 50))
    assert outs == [(10, 100), (10, 100), (10, 100)]


def test_bidirectional_names_and_shapes():
    cell = mx.rnn.BidirectionalCell(mx.rnn.LSTMCell(100, prefix="rnn_l0_"),
                                    mx.rnn.LSTMCell(100, prefix="rnn_r0_"), output_prefix="rnn_bi_")
    outputs, _ = cell.unroll(3, step_inputs(3))
    outputs = mx.sym.Group(outputs)
    assert outputs.list_outputs() == ["rnn_bi_t0_output", "rnn_bi_t1_output", "rnn_bi_t2_output"]
    _, outs, _ = outputs.infer_shape(rnn_t0_data=(10, 50), rnn_t1_data=(10, 50), rnn_t2_data=(10, 50))
    assert outs == [(10, 200), (10, 200), (10, 200)]


def test_unfuse_names_and_shapes():
    cell = mx.rnn.FusedRNNCell(100, num_layers=3, mode="lstm", prefix="test_", bidirectional=True,
                               dropout=0.5).unfuse()
    outputs, _ = cell.unroll(3, step_inputs(3))
    outputs = mx.sym.Group(outputs)
    assert outputs.list_outputs() == ["test_bi_l2_t0_output", "test_bi_l2_t1_output",
                                      "test_bi_l2_t2_output"]
    _, outs, _ = outputs.infer_shape(rnn_t0_data=(10, 50), rnn_t1_data=(10, 50), rnn_t2_data=(10, 50))
    assert outs == [(10, 200), (10, 200), (10, 200)]


def test_fused_unroll_names_and_shapes():
    cell = mx.rnn.FusedRNNCell(100, num_layers=2, mode="lstm", bidirectional=True,
                               get_next_state=True, prefix="lstm_")
    outputs, states = cell.unroll(3, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
    assert outputs.list_arguments() == ["data", "lstm_parameters"]
    assert outputs.list_outputs() == ["lstm_rnn_output"]
    assert [s.list_outputs() for s in states] == [["lstm_rnn_state_output"],
                                                  ["lstm_rnn_statecell_output"]]
    assert states[0].attr("__layout__") == "LNC"
    graph = mx.sym.Group([outputs] + states)
    args, outs, _ = graph.infer_shape(data=(3, 10, 50))
    # 2 directions * 4 gates * 100 * ((50 + 100 + 2) + (200 + 100 + 2)), as MXNet's GetRnnParamSize
    assert args == [(3, 10, 50), (8 * 100 * (152 + 302),)]
    assert outs == [(3, 10, 200), (4, 10, 100), (4, 10, 100)]


def test_fused_unroll_ntc_and_step_lists():
    cell = mx.rnn.FusedRNNCell(HID, mode="gru", prefix="g_")
    with pytest.warns(UserWarning, match="NTC"):
        outputs, states = cell.unroll(STEPS, mx.sym.Variable("data"), layout="NTC",
                                      merge_outputs=False)
    assert states == [] and len(outputs) == STEPS
    _, outs, _ = mx.sym.Group(outputs).infer_shape(data=(BATCH, STEPS, IN))
    assert outs == [(BATCH, HID)] * STEPS


def test_fused_cell_cannot_be_stepped():
    with pytest.raises(NotImplementedError, match="unroll"):
        mx.rnn.FusedRNNCell(10)(mx.sym.Variable("x"), [])


FUSED_SETTINGS = [("rnn_relu", False), ("rnn_tanh", True), ("lstm", True), ("lstm", False),
                  ("gru", True)]


@pytest.mark.parametrize("mode,bidirectional", FUSED_SETTINGS)
def test_fused_matches_unfused(mode, bidirectional):
    """unpack_weights of the fused vector gives the unfused stack's weights (through its own
    pack_weights): same outputs, and the same data gradient."""
    fused = mx.rnn.FusedRNNCell(HID, num_layers=2, mode=mode, bidirectional=bidirectional,
                                prefix="f_")
    out_fused, _ = fused.unroll(STEPS, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
    out_plain, _ = fused.unfuse().unroll(STEPS, mx.sym.Variable("data"), layout="TNC",
                                         merge_outputs=True)
    rng = np.random.default_rng(3)
    data = rng.uniform(-1, 1, (STEPS, BATCH, IN))
    head = rng.uniform(-1, 1, (STEPS, BATCH, HID * (2 if bidirectional else 1)))
    exe_fused = out_fused.simple_bind(mx.cpu(), data=data.shape, type_dict={"data": np.float64})
    flat = rng.uniform(-0.5, 0.5, exe_fused.arg_dict["f_parameters"].shape)
    exe_fused.arg_dict["f_parameters"][:] = flat
    exe_fused.arg_dict["data"][:] = data
    exe_plain = out_plain.simple_bind(mx.cpu(), data=data.shape, type_dict={"data": np.float64})
    weights = fused.unfuse().pack_weights(fused.unpack_weights({"f_parameters": mx.nd.array(flat, dtype=np.float64)}))
    assert sorted(weights) == sorted(n for n in exe_plain.arg_dict if n != "data")
    exe_plain.copy_params_from(weights)
    exe_plain.arg_dict["data"][:] = data
    results = []
    for exe in (exe_fused, exe_plain):
        out = np.array(exe.forward(is_train=True)[0])
        exe.backward([head])
        results.append((out, np.array(exe.grad_dict["data"])))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)


def test_fused_pack_weights_inverts_unpack():
    cell = mx.rnn.FusedRNNCell(HID, num_layers=2, mode="gru", bidirectional=True, prefix="q_")
    size = 2 * 3 * HID * ((IN + HID + 2) + (2 * HID + HID + 2))
    flat = mx.nd.array(np.arange(size, dtype=np.float32))
    unpacked = cell.unpack_weights({"q_parameters": flat, "other": flat})
    assert unpacked["q_l0_i2h_r_weight"].shape == (HID, IN)
    assert unpacked["q_r1_i2h_o_weight"].shape == (HID, 2 * HID)
    assert unpacked["q_r1_h2h_z_bias"].shape == (HID,)
    # MXNet's order: the weights unit by unit (i2h gates, then h2h gates), then the biases
    np.testing.assert_array_equal(unpacked["q_l0_i2h_z_weight"].asnumpy().ravel(),
                                  np.arange(HID * IN, 2 * HID * IN))
    packed = cell.pack_weights(unpacked)
    assert sorted(packed) == ["other", "q_parameters"]
    np.testing.assert_array_equal(packed["q_parameters"].asnumpy(), flat.asnumpy())


def test_fused_initializer_sets_the_forget_bias():
    cell = mx.rnn.FusedRNNCell(HID, mode="lstm", forget_bias=2.5, prefix="lstm_")
    outputs, _ = cell.unroll(STEPS, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
    mod = mx.mod.Module(outputs, data_names=["data"], label_names=None)
    mod.bind(data_shapes=[("data", (STEPS, BATCH, IN))])
    mod.init_params(mx.init.Xavier())
    flat = mod.get_params()[0]["lstm_parameters"]
    args = cell.unpack_weights({"lstm_parameters": flat})
    np.testing.assert_array_equal(args["lstm_l0_i2h_f_bias"].asnumpy(), 2.5)
    np.testing.assert_array_equal(args["lstm_l0_h2h_f_bias"].asnumpy(), 2.5)
    np.testing.assert_array_equal(args["lstm_l0_i2h_i_bias"].asnumpy(), 0)
    assert np.abs(args["lstm_l0_i2h_o_weight"].asnumpy()).max() > 0


def test_zoneout_shapes():
    cell = mx.rnn.ZoneoutCell(mx.rnn.RNNCell(100, prefix="rnn_"), zoneout_outputs=0.5,
                              zoneout_states=0.5)
    outputs, _ = cell.unroll(3, step_inputs(3))
    _, outs, _ = mx.sym.Group(outputs).infer_shape(rnn_t0_data=(10, 50), rnn_t1_data=(10, 50),
                                                   rnn_t2_data=(10, 50))
    assert outs == [(10, 100), (10, 100), (10, 100)]


@pytest.mark.parametrize("layout, data_shape, merged_shape", [
    ("NTC", (BATCH, 3, IN), (BATCH, 3, 2 * HID)),
    ("TNC", (3, BATCH, IN), (3, BATCH, 2 * HID)),
])
def test_merged_outputs_follow_the_layout(layout, data_shape, merged_shape):
    cell = mx.rnn.BidirectionalCell(mx.rnn.GRUCell(HID, prefix="l_"), mx.rnn.GRUCell(HID, prefix="r_"))
    merged, _ = cell.unroll(3, mx.sym.Variable("data"), layout=layout, merge_outputs=True)
    assert merged.infer_shape(data=data_shape)[1] == [merged_shape]
    steps, _ = cell.unroll(3, mx.sym.Variable("data"), layout=layout, merge_outputs=False)
    assert len(steps) == 3
    assert mx.sym.Group(steps).infer_shape(data=data_shape)[1] == [(BATCH, 2 * HID)] * 3


def test_modified_cell_cannot_be_used_directly():
    base = mx.rnn.GRUCell(HID)
    mx.rnn.ZoneoutCell(base, zoneout_outputs=0.5)
    with pytest.raises(RuntimeError, match="modifier"):
        base.begin_state()


# ---------------------------------------------------------------------------------------------
# numbers: forward against NumPy, gradients against finite differences

def np_rnn(x, h, w, act=np.tanh):
    return act(x @ w["i2h_weight"].T + w["i2h_bias"] + h @ w["h2h_weight"].T + w["h2h_bias"])


def np_lstm(x, h, c, w):
    gates = x @ w["i2h_weight"].T + w["i2h_bias"] + h @ w["h2h_weight"].T + w["h2h_bias"]
    i, f, g, o = np.split(gates, 4, axis=1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def np_gru(x, h, w):
    i_r, i_z, i_n = np.split(x @ w["i2h_weight"].T + w["i2h_bias"], 3, axis=1)
    h_r, h_z, h_n = np.split(h @ w["h2h_weight"].T + w["h2h_bias"], 3, axis=1)
    r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
    n = np.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


CELLS = {
    "rnn": (lambda: mx.rnn.RNNCell(HID, prefix="c_"), 1),
    "rnn_relu": (lambda: mx.rnn.RNNCell(HID, activation="relu", prefix="c_"), 1),
    "lstm": (lambda: mx.rnn.LSTMCell(HID, prefix="c_"), 4),
    "gru": (lambda: mx.rnn.GRUCell(HID, prefix="c_"), 3),
}


def random_weights(rng, gates):
    return {"c_i2h_weight": rng.standard_normal((gates * HID, IN)) * 0.5,
            "c_i2h_bias": rng.standard_normal(gates * HID) * 0.5,
            "c_h2h_weight": rng.standard_normal((gates * HID, HID)) * 0.5,
            "c_h2h_bias": rng.standard_normal(gates * HID) * 0.5}


def np_unroll(kind, xs, w):
    w = {k[2:]: v for k, v in w.items()}
    h = np.zeros((BATCH, HID))
    c = np.zeros((BATCH, HID))
    outputs = []
    for x in xs:
        if kind == "lstm":
            h, c = np_lstm(x, h, c, w)
        elif kind == "gru":
            h = np_gru(x, h, w)
        else:
            h = np_rnn(x, h, w, act=np.tanh if kind == "rnn" else lambda v: np.maximum(v, 0))
        outputs.append(h)
    return outputs


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy(kind, dtype):
    make, gates = CELLS[kind]
    rng = np.random.default_rng(1)
    outputs, _ = make().unroll(3, step_inputs(3, "x_"))
    sym = mx.sym.Group(outputs)
    shapes = {f"x_t{i}_data": (BATCH, IN) for i in range(3)}
    exe = sym.simple_bind(mx.cpu(), grad_req="null",
                          type_dict={n: dtype for n in sym.list_arguments()}, **shapes)
    values = random_weights(rng, gates)
    values.update({n: rng.standard_normal(s) for n, s in shapes.items()})
    for name, value in values.items():
        exe.arg_dict[name][:] = value.astype(dtype)
    got = exe.forward()
    rounded = {k: v.astype(dtype).astype(np.float64) for k, v in values.items()}
    expected = np_unroll(kind, [rounded[f"x_t{i}_data"] for i in range(3)], rounded)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for out, exp in zip(got, expected):
        assert np.asarray(out).dtype == dtype
        np.testing.assert_allclose(np.asarray(out), exp, **tol)


def test_lstm_states_match_numpy_when_fed():
    # begin states given as variables: next_c and next_h after two steps
    rng = np.random.default_rng(2)
    cell = mx.rnn.LSTMCell(HID, prefix="c_")
    begin = cell.begin_state(func=mx.sym.Variable)
    _, states = cell.unroll(STEPS, step_inputs(STEPS, "x_"), begin_state=begin)
    sym = mx.sym.Group(states)
    values = random_weights(rng, 4)
    values.update({f"x_t{i}_data": rng.standard_normal((BATCH, IN)) for i in range(STEPS)})
    values.update({"c_begin_state_0": rng.standard_normal((BATCH, HID)),
                   "c_begin_state_1": rng.standard_normal((BATCH, HID))})
    exe = sym.simple_bind(mx.cpu(), grad_req="null",
                          type_dict={n: np.float64 for n in sym.list_arguments()},
                          **{k: v.shape for k, v in values.items() if "data" in k or "begin" in k})
    for name, value in values.items():
        exe.arg_dict[name][:] = value
    h_out, c_out = exe.forward()
    w = {k[2:]: v for k, v in values.items() if k.startswith("c_") and "begin" not in k}
    h, c = values["c_begin_state_0"], values["c_begin_state_1"]
    for i in range(STEPS):
        h, c = np_lstm(values[f"x_t{i}_data"], h, c, w)
    np.testing.assert_allclose(np.asarray(h_out), h, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(c_out), c, rtol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_gradient_finite_differences(kind):
    make, gates = CELLS[kind]
    rng = np.random.default_rng(3)
    outputs, _ = make().unroll(STEPS, step_inputs(STEPS, "x_"))
    sym = mx.sym.Group(outputs)
    location = random_weights(rng, gates)
    location.update({f"x_t{i}_data": rng.standard_normal((BATCH, IN)) for i in range(STEPS)})
    location = {n: location[n] for n in sym.list_arguments()}
    check_numeric_gradient(sym, location, numeric_eps=2e-6, rtol=1e-5, atol=1e-8,
                           dtype=np.float64)


def test_residual_of_zero_weights_is_the_input():
    # MXNet's test_residual: with zero weights a GRU outputs 0.5 * 0 + 0.5 * h = 0
    cell = mx.rnn.ResidualCell(mx.rnn.GRUCell(50, prefix="rnn_"))
    outputs, _ = cell.unroll(2, step_inputs(2))
    sym = mx.sym.Group(outputs)
    exe = sym.simple_bind(mx.cpu(), grad_req="null", rnn_t0_data=(10, 50), rnn_t1_data=(10, 50))
    for name, array in exe.arg_dict.items():
        array[:] = 1.0 if name.endswith("data") else 0.0
    for out in exe.forward():
        np.testing.assert_array_equal(np.asarray(out), np.ones((10, 50)))


# ---------------------------------------------------------------------------------------------
# training, initialisation, serialisation

def test_lstm_forget_bias_initialisation():
    # MXNet's test_lstm_forget_bias: a one-step unroll from zero states binds and LSTMBias runs
    forget_bias = 2.0
    stack = mx.rnn.SequentialRNNCell()
    stack.add(mx.rnn.LSTMCell(100, forget_bias=forget_bias, prefix="l0_"))
    stack.add(mx.rnn.LSTMCell(100, forget_bias=forget_bias, prefix="l1_"))
    sym, _ = stack.unroll(1, mx.sym.Variable("data"), merge_outputs=True)
    mod = mx.mod.Module(sym, label_names=None, context=mx.cpu(0))
    mod.bind(data_shapes=[("data", (32, 1, 200))], label_shapes=None)
    mod.init_params()
    bias_name = next(x for x in sym.list_arguments() if x.endswith("i2h_bias"))
    expected = np.hstack([np.zeros(100), forget_bias * np.ones(100), np.zeros(200)])
    np.testing.assert_allclose(mod.get_params()[0][bias_name].asnumpy(), expected)


def test_sequence_model_trains():
    # predict the previous token: needs the state to carry one step of memory
    vocab, seq_len, batch, n = 6, 5, 16, 128
    rng = np.random.default_rng(4)
    tokens = rng.integers(0, vocab, (n, seq_len)).astype(np.float32)
    labels = np.concatenate([np.zeros((n, 1), np.float32), tokens[:, :-1]], axis=1)

    data = mx.sym.Variable("data")
    embed = mx.sym.Embedding(data, input_dim=vocab, output_dim=8, name="embed")
    cell = mx.rnn.LSTMCell(16, prefix="lstm_")
    outputs, _ = cell.unroll(seq_len, embed, merge_outputs=True)
    pred = mx.sym.Reshape(outputs, shape=(-1, 16))
    pred = mx.sym.FullyConnected(pred, num_hidden=vocab, name="pred")
    label = mx.sym.Reshape(mx.sym.Variable("softmax_label"), shape=(-1,))
    net = mx.sym.SoftmaxOutput(pred, label, name="softmax")

    train = mx.io.NDArrayIter(tokens, labels, batch_size=batch, shuffle=True)
    mod = mx.mod.Module(net, context=mx.cpu())
    losses = []

    def record(param):
        losses.append(dict(param.eval_metric.get_name_value())["cross-entropy"])

    mx.random.seed(0)
    mod.fit(train, num_epoch=12, optimizer="adam", optimizer_params={"learning_rate": 0.03},
            eval_metric="ce", initializer=mx.init.Xavier(), batch_end_callback=record)
    per_epoch = np.array(losses).reshape(12, -1).mean(axis=1)
    assert per_epoch[-1] < 0.5 * per_epoch[0], per_epoch


def test_json_round_trip_of_unrolled_graph():
    cell = mx.rnn.SequentialRNNCell()
    cell.add(mx.rnn.LSTMCell(HID, prefix="l0_"))
    cell.add(mx.rnn.DropoutCell(0.3))
    cell.add(mx.rnn.GRUCell(HID, prefix="l1_"))
    outputs, _ = cell.unroll(3, mx.sym.Variable("data"), merge_outputs=True)
    text = outputs.tojson()
    assert any(node["op"] == "_zeros" for node in json.loads(text)["nodes"])
    loaded = mx.sym.load_json(text)
    assert loaded.tojson() == text
    assert loaded.list_arguments() == outputs.list_arguments()
    shape = (BATCH, 3, IN)
    assert loaded.infer_shape(data=shape) == outputs.infer_shape(data=shape)
    rng = np.random.default_rng(5)
    arg_shapes = dict(zip(outputs.list_arguments(), outputs.infer_shape(data=shape)[0]))
    values = {n: rng.standard_normal(s) for n, s in arg_shapes.items()}
    results = []
    for sym in (outputs, loaded):
        exe = sym.simple_bind(mx.cpu(), grad_req="null", data=shape)
        for name, value in values.items():
            exe.arg_dict[name][:] = value
        results.append(np.asarray(exe.forward(is_train=False)[0]))
    np.testing.assert_array_equal(results[0], results[1])


def test_pack_and_unpack_weights_round_trip():
    cell = mx.rnn.LSTMCell(HID, prefix="l_")
    rng = np.random.default_rng(6)
    args = {"l_i2h_weight": mx.nd.array(rng.standard_normal((4 * HID, IN))),
            "l_i2h_bias": mx.nd.array(rng.standard_normal(4 * HID)),
            "l_h2h_weight": mx.nd.array(rng.standard_normal((4 * HID, HID))),
            "l_h2h_bias": mx.nd.array(rng.standard_normal(4 * HID))}
    unpacked = cell.unpack_weights(args)
    assert sorted(unpacked) == sorted(f"l_{g}{gate}_{kind}" for g in ("i2h", "h2h")
                                      for gate in ("_i", "_f", "_c", "_o")
                                      for kind in ("weight", "bias"))
    np.testing.assert_array_equal(unpacked["l_i2h_f_weight"].asnumpy(),
                                  args["l_i2h_weight"].asnumpy()[HID:2 * HID])
    packed = cell.pack_weights(unpacked)
    for name, value in args.items():
        np.testing.assert_array_equal(packed[name].asnumpy(), value.asnumpy())


# ---------------------------------------------------------------------------------------------
# cysym.rnn.io

def test_encode_sentences_builds_and_uses_a_vocabulary():
    coded, vocab = mx.rnn.encode_sentences([["a", "b"], ["b", "c", "a"]], invalid_label=0,
                                           start_label=0)
    assert vocab == {"\n": 0, "a": 1, "b": 2, "c": 3}
    assert coded == [[1, 2], [2, 3, 1]]
    # as in MXNet, new codes count from start_label, also when a vocab is given
    coded, _ = mx.rnn.encode_sentences([["a", "zzz"]], vocab=dict(vocab), unknown_token="<unk>",
                                       start_label=4)
    assert coded == [[1, 4]]
    with pytest.raises(KeyError, match="zzz"):
        mx.rnn.encode_sentences([["zzz"]], vocab=dict(vocab))


@pytest.mark.parametrize("layout", ["NT", "TN"])
def test_bucket_sentence_iter(layout):
    rng = np.random.default_rng(7)
    sentences = [list(rng.integers(1, 9, length)) for length in [2] * 5 + [3] * 4 + [5] * 4 + [9]]
    it = mx.rnn.BucketSentenceIter(sentences, batch_size=2, buckets=[3, 5], invalid_label=0,
                                   layout=layout)
    assert it.default_bucket_key == 5
    batches = list(it)
    assert sorted(b.bucket_key for b in batches) == [3, 3, 3, 3, 5, 5]
    for batch in batches:
        data, label = batch.data[0].asnumpy(), batch.label[0].asnumpy()
        if layout == "TN":
            data, label = data.T, label.T
        assert data.shape == (2, batch.bucket_key)
        np.testing.assert_array_equal(label[:, :-1], data[:, 1:])
        assert (label[:, -1] == 0).all()
        assert batch.provide_data[0].shape == batch.data[0].shape
    it.reset()
    assert len(list(it)) == 6
