"""Module (mx.mod.Module): bind, init_params, init_optimizer, forward/backward/update, params,
metrics, fit with callbacks, predict, score, checkpoints and bit-for-bit resumed training."""
import logging
import os

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError
from cysym.demo import load_digits, seed_mlp
from cysym.io import DataBatch, DataDesc, NDArrayIter

# A fixed, small slice of the digits: fast, and shapes that are not square (n, 8, 8) -> 64 features
(TRAIN_X, TRAIN_Y), (TEST_X, TEST_Y) = load_digits()
SMALL_X, SMALL_Y = TRAIN_X[:230], TRAIN_Y[:230]
BATCH = 20


def _linear(num_hidden=3):
    """data (batch, 5) -> fc (no bias) -> LinearRegressionOutput: gradients easy to derive."""
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=num_hidden, no_bias=True, name="fc")
    return mx.sym.LinearRegressionOutput(net, name="lro")


def _bound_mlp(batch=BATCH, seed=3, **bind_kwargs):
    mx.random.seed(seed)
    mod = mx.mod.Module(seed_mlp(), data_names=["data"], label_names=["softmax_label"])
    mod.bind(data_shapes=[("data", (batch, 8, 8))], label_shapes=[("softmax_label", (batch,))],
             **bind_kwargs)
    mod.init_params(mx.init.Xavier(magnitude=2.0))
    return mod


def _batch(start=0, batch=BATCH):
    return DataBatch(data=[mx.nd.array(SMALL_X[start:start + batch])],
                     label=[mx.nd.array(SMALL_Y[start:start + batch])])


def _params_equal(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]), err_msg=name)


# --------------------------------------------------------------------------- construction and bind


def test_names_and_unknown_data_name():
    mod = mx.mod.Module(seed_mlp())
    assert mod.data_names == ["data"]
    assert mod.label_names == ["softmax_label"]
    assert mod.output_names == ["softmax_output"]
    with pytest.raises(MXNetError, match="nope"):
        mx.mod.Module(seed_mlp(), data_names=["nope"])


@pytest.mark.parametrize("context", [None, mx.cpu(), [mx.cpu()], [mx.cpu(0), mx.cpu(1)]],
                         ids=["default", "cpu", "list", "two-cpus"])
def test_context_forms(context):
    mod = mx.mod.Module(seed_mlp(), context=context)
    mod.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    mx.random.seed(0)
    mod.init_params(mx.init.Xavier())
    mod.forward(_batch(), is_train=False)
    assert mod.get_outputs()[0].shape == (BATCH, 10)


def test_group2ctxs_on_one_cpu():
    # MXNet's model parallelism: nodes tagged with ctx_group, each group given a context (one
    # dict, or one per context of a list); on one CPU every group runs there
    with mx.AttrScope(ctx_group="dev1"):
        hidden = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=6, name="fc1")
    with mx.AttrScope(ctx_group="dev2"):
        net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(hidden, num_hidden=4, name="fc2"),
                                   name="softmax")
    for group2ctxs in ({"dev1": mx.cpu(0), "dev2": mx.cpu(1)},
                       [{"dev1": mx.cpu(0), "dev2": mx.cpu(1)}] * 2):
        mod = mx.mod.Module(net, context=[mx.cpu(0), mx.cpu(1)], group2ctxs=group2ctxs)
        mod.bind(data_shapes=[("data", (5, 3))], label_shapes=[("softmax_label", (5,))])
        mod.init_params(mx.init.Xavier())
        mod.forward(mx.io.DataBatch([mx.nd.ones((5, 3))], [mx.nd.zeros((5,))]), is_train=False)
        np.testing.assert_allclose(mod.get_outputs()[0].asnumpy().sum(axis=1), np.ones(5), rtol=1e-6)


def test_gpu_context_is_refused():
    with pytest.raises(MXNetError):
        mod = mx.mod.Module(seed_mlp(), context=mx.Context("gpu", 0))
        mod.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])


@pytest.mark.parametrize("form", ["tuples", "descs"])
def test_bind_accepts_tuples_and_datadescs(form):
    mod = mx.mod.Module(seed_mlp())
    if form == "tuples":
        data, label = [("data", (7, 8, 8))], [("softmax_label", (7,))]
    else:
        data, label = [DataDesc("data", (7, 8, 8))], [DataDesc("softmax_label", (7,))]
    mod.bind(data_shapes=data, label_shapes=label)
    assert mod.binded and mod.for_training
    assert [tuple(d.shape) for d in mod.data_shapes] == [(7, 8, 8)]
    assert [d.name for d in mod.label_shapes] == ["softmax_label"]
    assert mod.output_shapes == [("softmax_output", (7, 10))]


def test_bind_wrong_data_name_raises():
    mod = mx.mod.Module(seed_mlp())
    with pytest.raises(MXNetError):
        mod.bind(data_shapes=[("pixels", (7, 8, 8))], label_shapes=[("softmax_label", (7,))])


def test_not_for_training_forward_only():
    mod = _bound_mlp(for_training=False)
    assert not mod.for_training
    mod.forward(_batch())
    out = mod.get_outputs()[0].asnumpy()
    assert out.shape == (BATCH, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(MXNetError):
        mod.backward()


def test_forward_without_bind_or_params_raises():
    mod = mx.mod.Module(seed_mlp())
    with pytest.raises(MXNetError):
        mod.forward(_batch())
    mod.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    with pytest.raises(MXNetError):
        mod.forward(_batch())
    with pytest.raises(MXNetError):
        mod.init_optimizer()


def test_inputs_need_grad_gives_data_gradient():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((3, 5)).astype(np.float32)
    mod = mx.mod.Module(_linear(), data_names=["data"], label_names=["lro_label"])
    mod.bind(data_shapes=[("data", (4, 5))], label_shapes=[("lro_label", (4, 3))],
             inputs_need_grad=True)
    mod.init_params(arg_params={"fc_weight": mx.nd.array(w)})
    mod.forward_backward(DataBatch([mx.nd.array(x)], [mx.nd.array(y)]))
    out = x @ w.T
    np.testing.assert_allclose(mod.get_outputs()[0].asnumpy(), out, rtol=1e-5)
    (dx,) = mod.get_input_grads()
    # LinearRegressionOutput: d/d out = (out - label) / num_output, here num_output = 3
    np.testing.assert_allclose(np.asarray(dx), (out - y) / 3 @ w, rtol=1e-4, atol=1e-6)


def test_get_input_grads_without_inputs_need_grad_raises():
    mod = _bound_mlp()
    mod.forward_backward(_batch())
    with pytest.raises(MXNetError):
        mod.get_input_grads()


# --------------------------------------------------------------------------- parameters


def test_init_params_default_initializer_and_bias_zero():
    mod = mx.mod.Module(seed_mlp())
    mod.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    mx.random.seed(1)
    mod.init_params()   # MXNet's default: Uniform(0.01)
    arg, aux = mod.get_params()
    assert aux == {}
    assert sorted(arg) == ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight", "fc3_bias", "fc3_weight"]
    assert arg["fc1_weight"].shape == (128, 64) and arg["fc3_bias"].shape == (10,)
    w = np.asarray(arg["fc1_weight"])
    assert np.abs(w).max() <= 0.01 and w.std() > 0.003
    for name in ("fc1_bias", "fc2_bias", "fc3_bias"):
        assert not np.asarray(arg[name]).any(), name


def test_init_params_from_arg_params_copies_and_checks():
    src = _bound_mlp(seed=5)
    arg, aux = src.get_params()
    mod = mx.mod.Module(seed_mlp())
    mod.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    mod.init_params(arg_params=arg, aux_params=aux)
    _params_equal(mod.get_params()[0], arg)
    # the module holds copies: changing the caller's dict afterwards changes nothing
    arg["fc1_weight"][...] = 42.0
    assert not np.any(np.asarray(mod.get_params()[0]["fc1_weight"]) == 42.0)

    missing = {k: v for k, v in src.get_params()[0].items() if k != "fc2_bias"}
    fresh = mx.mod.Module(seed_mlp())
    fresh.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    with pytest.raises(MXNetError, match="fc2_bias"):
        fresh.init_params(arg_params=missing)
    fresh.init_params(initializer=mx.init.Constant(0.5), arg_params=missing, allow_missing=True)
    got = fresh.get_params()[0]
    # a name-pattern default: biases are zero whatever the initializer... unless it is Constant
    np.testing.assert_array_equal(np.asarray(got["fc1_weight"]), np.asarray(missing["fc1_weight"]))
    assert got["fc2_bias"].shape == (64,)


def test_init_params_wrong_shape_raises():
    mod = mx.mod.Module(seed_mlp())
    mod.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    arg = {"fc1_weight": mx.nd.zeros((64, 128))}
    with pytest.raises(MXNetError, match="fc1_weight"):
        mod.init_params(arg_params=arg, allow_missing=True)


def test_init_params_force_init():
    mod = _bound_mlp(seed=1)
    before = mod.get_params()[0]
    mx.random.seed(2)
    mod.init_params(mx.init.Xavier(magnitude=2.0))        # already initialized: ignored
    _params_equal(mod.get_params()[0], before)
    mod.init_params(mx.init.Xavier(magnitude=2.0), force_init=True)
    after = mod.get_params()[0]
    assert not np.array_equal(np.asarray(after["fc1_weight"]), np.asarray(before["fc1_weight"]))


def test_get_params_returns_copies_and_set_params():
    mod = _bound_mlp(seed=1)
    arg, aux = mod.get_params()
    arg["fc1_weight"][...] = 0.0
    assert np.asarray(mod.get_params()[0]["fc1_weight"]).any()
    other = _bound_mlp(seed=9)
    mod.set_params(*other.get_params())
    _params_equal(mod.get_params()[0], other.get_params()[0])
    mod.forward(_batch(), is_train=False)
    other.forward(_batch(), is_train=False)
    np.testing.assert_array_equal(mod.get_outputs()[0].asnumpy(), other.get_outputs()[0].asnumpy())
    partial = {k: v for k, v in arg.items() if k != "fc3_weight"}
    with pytest.raises(MXNetError):
        mod.set_params(partial, aux)


def test_set_params_rejects_extra_unless_allowed():
    mod = _bound_mlp()
    arg, aux = mod.get_params()
    arg["unknown_weight"] = mx.nd.zeros((2, 3))
    with pytest.raises(MXNetError, match="unknown_weight"):
        mod.set_params(arg, aux)
    mod.set_params(arg, aux, allow_extra=True)


# --------------------------------------------------------------------------- optimizer and update


def test_rescale_grad_defaults_to_one_over_batch():
    mod = _bound_mlp(batch=BATCH)
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1})
    assert mod._optimizer.rescale_grad == pytest.approx(1.0 / BATCH)
    other = _bound_mlp(batch=BATCH)
    other.init_optimizer(optimizer="sgd", optimizer_params=(("learning_rate", 0.1), ("rescale_grad", 0.5)))
    assert other._optimizer.rescale_grad == 0.5


def test_update_is_sgd_step_with_rescaled_gradient():
    mod = _bound_mlp()
    arg, aux = mod.get_params()
    for name in ("fc1_bias", "fc2_bias", "fc3_bias"):     # nonzero, so weight decay would show
        arg[name][...] = np.linspace(-0.5, 0.5, arg[name].size)
    mod.set_params(arg, aux)
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1, "wd": 0.01})
    before = mod.get_params()[0]
    mod.forward_backward(_batch())
    grads = {n: np.array(mod._exec.grad_dict[n]) for n in before}
    mod.update()
    after = mod.get_params()[0]
    for name, w in before.items():
        w = np.asarray(w)
        # as MXNet: only *_weight and *_gamma parameters are decayed
        wd = 0.01 if name.endswith("_weight") else 0.0
        expected = w - 0.1 * (grads[name] / BATCH + wd * w)
        np.testing.assert_allclose(np.asarray(after[name]), expected, rtol=1e-5, atol=1e-7, err_msg=name)


def test_optimizer_instance_is_used_as_given():
    mod = _bound_mlp()
    sgd = mx.optimizer.SGD(learning_rate=0.5, rescale_grad=1.0)
    mod.init_optimizer(optimizer=sgd)
    assert mod._optimizer is sgd
    assert sgd.idx2name == dict(enumerate(mod._param_names))     # filled in, as MXNet does
    before = mod.get_params()[0]
    mod.forward_backward(_batch())
    grad = np.array(mod._exec.grad_dict["fc3_weight"])
    mod.update()
    np.testing.assert_allclose(np.asarray(mod.get_params()[0]["fc3_weight"]),
                               np.asarray(before["fc3_weight"]) - 0.5 * grad, rtol=1e-5, atol=1e-7)
    with pytest.raises(MXNetError):
        _bound_mlp().init_optimizer(optimizer=42)


def test_lr_mult_attribute_freezes_a_parameter():
    data = mx.sym.Variable("data")
    frozen = mx.sym.Variable("fc1_weight", lr_mult=0.0)
    net = mx.sym.FullyConnected(mx.sym.Flatten(data), weight=frozen, num_hidden=16, name="fc1")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=10, name="fc2"), name="softmax")
    mx.random.seed(0)
    mod = mx.mod.Module(net)
    mod.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer_params={"learning_rate": 0.5})
    before = mod.get_params()[0]
    mod.forward_backward(_batch())
    mod.update()
    after = mod.get_params()[0]
    np.testing.assert_array_equal(np.asarray(after["fc1_weight"]), np.asarray(before["fc1_weight"]))
    assert not np.array_equal(np.asarray(after["fc1_bias"]), np.asarray(before["fc1_bias"]))


def test_init_optimizer_twice_needs_force_init():
    mod = _bound_mlp()
    mod.init_optimizer(optimizer_params={"learning_rate": 0.1})
    first = mod._optimizer
    mod.init_optimizer(optimizer_params={"learning_rate": 0.2})
    assert mod._optimizer is first
    mod.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 0.2}, force_init=True)
    assert isinstance(mod._optimizer, mx.optimizer.Adam) and mod._optimizer.lr == 0.2


def test_save_params_load_params(tmp_path):
    mod = _bound_mlp(seed=4)
    mod.save_params(str(tmp_path / "p.params"))
    assert sorted(mx.nd.load(str(tmp_path / "p.params"))) == sorted(
        f"arg:{k}" for k in mod.get_params()[0])
    other = _bound_mlp(seed=8)
    other.load_params(str(tmp_path / "p.params"))
    _params_equal(other.get_params()[0], mod.get_params()[0])


def test_update_before_init_optimizer_raises():
    mod = _bound_mlp()
    mod.forward_backward(_batch())
    with pytest.raises(MXNetError):
        mod.update()


def test_fixed_param_names_are_not_updated():
    mx.random.seed(0)
    mod = mx.mod.Module(seed_mlp(), fixed_param_names=["fc1_weight"])
    mod.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer_params={"learning_rate": 0.5})
    before = mod.get_params()[0]
    mod.forward_backward(_batch())
    mod.update()
    after = mod.get_params()[0]
    np.testing.assert_array_equal(np.asarray(after["fc1_weight"]), np.asarray(before["fc1_weight"]))
    assert not np.array_equal(np.asarray(after["fc2_weight"]), np.asarray(before["fc2_weight"]))


def test_update_metric_counts_the_batch():
    mod = _bound_mlp()
    mod.forward(_batch(), is_train=False)
    metric = mx.metric.Accuracy()
    mod.update_metric(metric, _batch().label)
    pred = mod.get_outputs()[0].asnumpy().argmax(axis=1)
    assert metric.get() == ("accuracy", pytest.approx(np.mean(pred == SMALL_Y[:BATCH])))
    assert metric.num_inst == BATCH


# --------------------------------------------------------------------------- predict and score


def test_predict_merges_batches_and_removes_padding():
    mod = _bound_mlp(batch=BATCH, for_training=False)
    n = 47   # 47 = 2 * 20 + 7: the last batch is padded with 13 samples
    it = NDArrayIter(SMALL_X[:n], SMALL_Y[:n], BATCH)
    out = mod.predict(it)
    assert out.shape == (n, 10)
    whole = mod.predict(NDArrayIter(SMALL_X[:n], SMALL_Y[:n], n))   # one batch of another size
    np.testing.assert_allclose(out.asnumpy(), whole.asnumpy(), rtol=1e-5, atol=1e-7)

    per_batch = mod.predict(it, merge_batches=False)
    assert [b[0].shape for b in per_batch] == [(20, 10), (20, 10), (7, 10)]
    assert isinstance(mod.predict(it, always_output_list=True), list)
    assert [o.shape for o in mod.predict(it, num_batch=2, always_output_list=True)] == [(40, 10)]


def test_score_returns_name_values_and_matches_predict():
    mod = _bound_mlp()
    it = NDArrayIter(SMALL_X[:47], SMALL_Y[:47], BATCH)
    result = mod.score(it, "acc")
    assert [name for name, _ in result] == ["accuracy"]
    # as in MXNet, score() feeds whole batches to the metric: the 13 padding samples (copies of
    # the first ones) count too
    pred = mod.predict(it).asnumpy().argmax(axis=1)
    padded = np.concatenate([np.arange(47), np.arange(13)])
    assert result[0][1] == pytest.approx(np.mean(pred[padded] == SMALL_Y[padded]))
    multi = dict(mod.score(it, ["acc", "ce"]))
    assert set(multi) == {"accuracy", "cross-entropy"}
    assert multi["accuracy"] == pytest.approx(result[0][1])


def test_reshaping_forward_keeps_training_parameters():
    mod = _bound_mlp()
    mod.init_optimizer(optimizer_params={"learning_rate": 0.1})
    mod.forward_backward(_batch())
    mod.update()
    before = mod.get_params()[0]
    mod.predict(NDArrayIter(SMALL_X[:33], SMALL_Y[:33], 33))     # another batch size
    _params_equal(mod.get_params()[0], before)
    mod.forward_backward(_batch(20))
    mod.update()
    after = mod.get_params()[0]
    assert not np.array_equal(np.asarray(after["fc3_weight"]), np.asarray(before["fc3_weight"]))
    assert mod.get_outputs()[0].shape == (BATCH, 10)


# --------------------------------------------------------------------------- fit


def test_fit_calls_callbacks_with_epochs_and_batches(tmp_path, caplog):
    mx.random.seed(0)
    train = NDArrayIter(SMALL_X[:100], SMALL_Y[:100], BATCH)       # 5 batches
    valid = NDArrayIter(SMALL_X[100:140], SMALL_Y[100:140], BATCH)
    batches, epochs, evals = [], [], []
    mod = mx.mod.Module(seed_mlp())
    with caplog.at_level(logging.INFO):
        mod.fit(train, eval_data=valid, num_epoch=4, begin_epoch=1, progress=False,
                optimizer_params={"learning_rate": 0.1},
                batch_end_callback=[lambda p: batches.append((p.epoch, p.nbatch)),
                                    mx.callback.Speedometer(BATCH, frequent=2)],
                epoch_end_callback=[lambda e, s, a, x: epochs.append((e, s, sorted(a), x)),
                                    mx.callback.do_checkpoint(str(tmp_path / "ck"))],
                eval_end_callback=lambda p: evals.append((p.epoch, dict(p.eval_metric.get_name_value()))))
    assert batches == [(e, b) for e in (1, 2, 3) for b in range(5)]
    assert [e for e, *_ in epochs] == [1, 2, 3]
    assert all(s is mod.symbol for _, s, _, _ in epochs)
    assert epochs[0][2] == sorted(mod.get_params()[0])
    assert [e for e, _ in evals] == [1, 2, 3] and all("accuracy" in m for _, m in evals)
    # do_checkpoint saves epoch + 1
    assert sorted(os.listdir(tmp_path)) == ["ck-0002.params", "ck-0003.params", "ck-0004.params",
                                           "ck-symbol.json"]
    _, arg, _ = mx.model.load_checkpoint(str(tmp_path / "ck"), 4)
    _params_equal(arg, mod.get_params()[0])
    text = caplog.text
    assert "Epoch[1] Train-accuracy=" in text and "Epoch[3] Validation-accuracy=" in text
    assert "Epoch[0]" not in text
    assert "samples/sec" in text and "Batch [2-4]" in text


def test_fit_requires_num_epoch():
    with pytest.raises(MXNetError):
        mx.mod.Module(seed_mlp()).fit(NDArrayIter(SMALL_X, SMALL_Y, BATCH))


def test_fit_digits_reaches_96_percent():
    mx.random.seed(0)
    train = NDArrayIter(TRAIN_X, TRAIN_Y, 32, shuffle=True)
    test = NDArrayIter(TEST_X, TEST_Y, 32)
    mod = mx.mod.Module(seed_mlp())
    mod.fit(train, num_epoch=10, progress=False, initializer=mx.init.Xavier(magnitude=2.0),
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    accuracy = dict(mod.score(test, "acc"))["accuracy"]
    assert accuracy >= 0.96


# --------------------------------------------------------------------------- checkpoints and resuming


def _small_cnn():
    """Convolution + BatchNorm (aux states) + Dropout (randomness in every training forward)."""
    net = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(3, 3), num_filter=4, name="conv")
    net = mx.sym.BatchNorm(net, name="bn", fix_gamma=False)
    net = mx.sym.Activation(net, act_type="relu", name="relu")
    net = mx.sym.Dropout(net, p=0.3, name="drop")
    net = mx.sym.FullyConnected(mx.sym.Flatten(net), num_hidden=10, name="fc")
    return mx.sym.SoftmaxOutput(net, name="softmax")


NETS = {"mlp": (seed_mlp, SMALL_X[:120]), "cnn": (_small_cnn, SMALL_X[:120, None])}
FIT = dict(optimizer="sgd", optimizer_params={"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-4},
           progress=False)


def _iter(x, shuffle):
    return NDArrayIter(x, SMALL_Y[:len(x)], BATCH, shuffle=shuffle)


def _all_params(mod):
    arg, aux = mod.get_params()
    return {**{f"arg:{k}": v for k, v in arg.items()}, **{f"aux:{k}": v for k, v in aux.items()}}


@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
@pytest.mark.parametrize("net", sorted(NETS))
def test_resumed_training_equals_uninterrupted_bit_for_bit(tmp_path, net, shuffle):
    build, x = NETS[net]
    mx.random.seed(11)
    straight = mx.mod.Module(build())
    straight.fit(_iter(x, shuffle), num_epoch=4, initializer=mx.init.Xavier(), **FIT)

    mx.random.seed(11)
    first = mx.mod.Module(build())
    first.fit(_iter(x, shuffle), num_epoch=2, initializer=mx.init.Xavier(), **FIT)
    first.save_checkpoint(str(tmp_path / "run"), 2, save_optimizer_states=True)
    del first

    # as a new process would: seed the same way, a fresh iterator, a module from the files
    mx.random.seed(11)
    train = _iter(x, shuffle)
    resumed = mx.mod.Module.load(str(tmp_path / "run"), 2, load_optimizer_states=True)
    resumed.fit(train, num_epoch=4, begin_epoch=2, **FIT)
    _params_equal(_all_params(resumed), _all_params(straight))


def test_resumed_with_epoch_checkpoint_callback_and_same_iterator(tmp_path):
    """Checkpoints written by module_checkpoint during fit; continuing the same module on the same
    iterator, and loading the mid-run checkpoint, both equal the straight run."""
    build, x = NETS["cnn"]
    mx.random.seed(5)
    straight = mx.mod.Module(build())
    straight.fit(_iter(x, True), num_epoch=3, initializer=mx.init.Xavier(), **FIT)

    mx.random.seed(5)
    train = _iter(x, True)
    mod = mx.mod.Module(build())
    mod.fit(train, num_epoch=1, initializer=mx.init.Xavier(),
            epoch_end_callback=mx.callback.module_checkpoint(mod, str(tmp_path / "cb"),
                                                             save_optimizer_states=True), **FIT)
    assert sorted(os.listdir(tmp_path)) == ["cb-0001.params", "cb-0001.states", "cb-symbol.json"]
    mod.fit(train, num_epoch=3, begin_epoch=1, **FIT)        # the same module, the same iterator
    _params_equal(_all_params(mod), _all_params(straight))

    mx.random.seed(5)
    train = _iter(x, True)
    loaded = mx.mod.Module.load(str(tmp_path / "cb"), 1, load_optimizer_states=True)
    loaded.fit(train, num_epoch=3, begin_epoch=1, **FIT)
    _params_equal(_all_params(loaded), _all_params(straight))


def test_checkpoint_round_trip_with_optimizer_states(tmp_path):
    mod = _bound_mlp()
    mod.init_optimizer(optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    for start in (0, 20, 40):
        mod.forward_backward(_batch(start))
        mod.update()
    prefix = str(tmp_path / "m")
    mod.save_checkpoint(prefix, 3, save_optimizer_states=True)
    assert sorted(os.listdir(tmp_path)) == ["m-0003.params", "m-0003.states", "m-symbol.json"]

    loaded = mx.mod.Module.load(prefix, 3, load_optimizer_states=True)
    assert loaded.symbol.tojson() == mod.symbol.tojson()
    _params_equal(loaded.get_params()[0], mod.get_params()[0])
    loaded.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    loaded.init_optimizer(optimizer_params={"learning_rate": 999.0})   # the saved optimizer wins
    assert loaded._optimizer.lr == 0.1 and loaded._optimizer.momentum == 0.9
    assert loaded._optimizer.num_update == mod._optimizer.num_update
    for index, state in mod._updater.states.items():
        np.testing.assert_array_equal(np.asarray(loaded._updater.states[index]), np.asarray(state))
    for m in (mod, loaded):     # the next step is the same
        m.forward_backward(_batch(60))
        m.update()
    _params_equal(loaded.get_params()[0], mod.get_params()[0])

    plain = mx.mod.Module.load(prefix, 3)    # without states: a fresh optimizer
    plain.bind(data_shapes=[("data", (BATCH, 8, 8))], label_shapes=[("softmax_label", (BATCH,))])
    plain.init_optimizer(optimizer_params={"learning_rate": 0.3})
    assert plain._optimizer.lr == 0.3 and plain._updater.states == {}


def test_save_optimizer_states_needs_an_optimizer(tmp_path):
    with pytest.raises(MXNetError):
        _bound_mlp().save_checkpoint(str(tmp_path / "m"), 1, save_optimizer_states=True)
    assert os.listdir(tmp_path) == []


def test_failed_module_save_leaves_checkpoint_intact(tmp_path):
    mod = _bound_mlp()
    mod.init_optimizer(optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    mod.forward_backward(_batch())
    mod.update()
    prefix = str(tmp_path / "m")
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    mod.forward_backward(_batch(20))
    mod.update()
    mod._optimizer.not_picklable = lambda: None     # the optimizer states cannot be written
    with pytest.raises(Exception):
        mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before


# --------------------------------------------------------------------------- several inputs and outputs


def _two_inputs_two_outputs():
    """out_a = fc_a(zeta), out_b = fc_b(alpha): each output depends on one named input."""
    zeta, alpha = mx.sym.Variable("zeta"), mx.sym.Variable("alpha")
    out_a = mx.sym.LinearRegressionOutput(mx.sym.FullyConnected(zeta, num_hidden=2, name="fc_a"), name="ra")
    out_b = mx.sym.LinearRegressionOutput(mx.sym.FullyConnected(alpha, num_hidden=3, name="fc_b"), name="rb")
    return mx.sym.Group([out_a, out_b])


def test_data_names_in_any_order_follow_the_iterator():
    rng = np.random.default_rng(2)
    zeta = rng.standard_normal((9, 5)).astype(np.float32)
    alpha = rng.standard_normal((9, 7)).astype(np.float32)
    labels = {"ra_label": np.zeros((9, 2), np.float32), "rb_label": np.zeros((9, 3), np.float32)}
    # the module lists zeta first; NDArrayIter provides its inputs sorted by name: alpha, zeta
    mod = mx.mod.Module(_two_inputs_two_outputs(), data_names=["zeta", "alpha"],
                        label_names=["ra_label", "rb_label"])
    it = NDArrayIter({"zeta": zeta, "alpha": alpha}, labels, batch_size=4)
    assert [d.name for d in it.provide_data] == ["alpha", "zeta"]
    mod.bind(data_shapes=it.provide_data, label_shapes=it.provide_label, inputs_need_grad=True)
    mx.random.seed(0)
    mod.init_params(mx.init.Xavier())
    arg, _ = mod.get_params()
    outs = mod.predict(it)
    assert isinstance(outs, list) and [o.shape for o in outs] == [(9, 2), (9, 3)]
    np.testing.assert_allclose(outs[0].asnumpy(), zeta @ np.asarray(arg["fc_a_weight"]).T
                               + np.asarray(arg["fc_a_bias"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[1].asnumpy(), alpha @ np.asarray(arg["fc_b_weight"]).T
                               + np.asarray(arg["fc_b_bias"]), rtol=1e-5, atol=1e-6)
    it.reset()
    mod.forward_backward(next(it))
    grads = mod.get_input_grads()
    assert [g.shape for g in grads] == [(4, 7), (4, 5)]      # the order of data_shapes
    with pytest.raises(MXNetError):
        mod.bind(data_shapes=[("zeta", (4, 5))], force_rebind=True)


def test_fit_with_eval_batches_of_another_size_and_progress_bar(capsys):
    mx.random.seed(0)
    mod = mx.mod.Module(seed_mlp())
    train = NDArrayIter(SMALL_X[:100], SMALL_Y[:100], BATCH)
    valid = NDArrayIter(SMALL_X[100:150], SMALL_Y[100:150], 25)
    scores = []
    mod.fit(train, eval_data=valid, num_epoch=3, progress=True, initializer=mx.init.Xavier(),
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
            eval_end_callback=lambda p: scores.append(p.eval_metric.get()[1]))
    err = capsys.readouterr().err
    assert "Epoch 1/3" in err and "Epoch 3/3" in err and "/5 " in err     # 5 batches an epoch
    assert len(scores) == 3
    assert [tuple(d.shape) for d in mod.data_shapes] in ([(BATCH, 8, 8)], [(25, 8, 8)])
    assert mod.score(valid, "acc")[0][1] == pytest.approx(scores[-1])
    # training goes on at the training batch size with the same parameters and optimizer
    mod.forward_backward(_batch())
    mod.update()
    assert mod.get_outputs()[0].shape == (BATCH, 10)
