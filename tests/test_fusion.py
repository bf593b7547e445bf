"""Bind-time fusion (cysym/fusion.py): Convolution -> BatchNorm -> relu/clip chains of executors
that compute no gradient run as one _FusedConvolution node, with the same numbers as the
unfused graph, reading the BatchNorm's live arrays at every run."""
import os
import subprocess
import sys

import numpy as np
import pytest

import cysym as mx
from cysym import fusion

RTOL = {"float32": 2e-5, "float64": 1e-12}

# (name, data shape, Convolution attributes): one per kernel path
CONVS = [
    ("pointwise", (2, 8, 9, 7), dict(kernel=(1, 1), num_filter=12)),
    ("im2col", (2, 5, 11, 9), dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), num_filter=7)),
    ("grouped", (1, 6, 8, 10), dict(kernel=(3, 2), pad=(1, 0), num_filter=4, num_group=2)),
    ("depthwise", (2, 6, 10, 9), dict(kernel=(3, 3), pad=(1, 1), num_filter=6, num_group=6)),
    ("depthwise_s2", (1, 6, 13, 11), dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), num_filter=6,
                                          num_group=6)),
    ("winograd", (2, 16, 20, 18), dict(kernel=(3, 3), pad=(1, 1), num_filter=17)),
    ("dense", (3, 10, 1, 1), dict(kernel=(1, 1), num_filter=9)),
    ("conv1d", (2, 4, 15), dict(kernel=(3,), num_filter=5)),
    ("tiled", (1, 3, 64, 60), dict(kernel=(7, 7), pad=(3, 3), num_filter=5)),
    ("pointwise_tiled", (1, 4, 100, 90), dict(kernel=(1, 1), num_filter=16)),
]


def _chain(conv_attrs, bn, act, no_bias=False, fix_gamma=False, use_global_stats=False):
    net = mx.sym.Convolution(mx.sym.Variable("data"), name="conv", no_bias=no_bias, **conv_attrs)
    if bn:
        net = mx.sym.BatchNorm(net, name="bn", fix_gamma=fix_gamma, eps=1e-3,
                               use_global_stats=use_global_stats)
    if act == "relu":
        net = mx.sym.Activation(net, act_type="relu", name="act")
    elif act == "relu_op":
        net = mx.sym.relu(net, name="act")
    elif act == "relu6":
        net = mx.sym.clip(net, a_min=0.0, a_max=6.0, name="act")
    elif act == "clip":
        net = mx.sym.clip(net, a_min=-0.4, a_max=0.3, name="act")
    return net


def _fill(exe, seed):
    rng = np.random.default_rng(seed)
    for name, array in sorted(exe.arg_dict.items()):
        if name.endswith("gamma") or name.endswith("var"):
            array[:] = rng.uniform(0.5, 1.5, array.shape)
        else:
            array[:] = rng.standard_normal(array.shape)
    for name, array in sorted(exe.aux_dict.items()):
        array[:] = rng.uniform(0.5, 1.5, array.shape) if name.endswith("var") \
            else rng.standard_normal(array.shape)


def _bind(net, shape, dtype, fuse, monkeypatch, seed=0):
    monkeypatch.setattr(fusion, "ENABLED", fuse)
    exe = net.simple_bind(mx.cpu(), grad_req="null", type_dict={"data": dtype}, data=shape)
    _fill(exe, seed)
    return exe


def _fused_ops(exe):
    """The fused nodes of exe's plan (a node may make several calls)."""
    return sorted({node for op, node in exe._call_nodes if op == "_FusedConvolution"})


def _assert_same(a, b, dtype):
    np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype], equal_nan=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,shape,attrs", CONVS, ids=[c[0] for c in CONVS])
@pytest.mark.parametrize("bn,act", [(True, "relu"), (True, "relu6"), (True, None), (False, "relu_op"),
                                    (False, "clip")])
def test_fused_chain_matches_the_unfused_graph(monkeypatch, name, shape, attrs, bn, act, dtype):
    net = _chain(attrs, bn, act, fix_gamma=name == "im2col")
    fused = _bind(net, shape, dtype, True, monkeypatch)
    plain = _bind(net, shape, dtype, False, monkeypatch)
    assert len(_fused_ops(fused)) == 1 and not _fused_ops(plain)
    _assert_same(fused.forward()[0], plain.forward()[0], dtype)


@pytest.mark.parametrize("act", ["relu", "relu6"])
def test_nan_passes_as_relu_and_clip_pass_it(monkeypatch, act):
    # relu maps NaN to 0 (x > 0 ? x : 0), clip keeps it: the fused kernel must do the same
    net = _chain(dict(kernel=(1, 1), num_filter=3), True, act)
    fused = _bind(net, (1, 2, 4, 5), "float32", True, monkeypatch)
    plain = _bind(net, (1, 2, 4, 5), "float32", False, monkeypatch)
    for exe in (fused, plain):
        exe.arg_dict["data"][0, 0, 1, 2] = np.nan
    out_fused, out_plain = fused.forward()[0], plain.forward()[0]
    assert np.isnan(out_plain).any() == (act == "relu6")
    _assert_same(out_fused, out_plain, "float32")


def test_batchnorm_arrays_changed_after_bind_are_used(monkeypatch):
    net = _chain(dict(kernel=(3, 3), pad=(1, 1), num_filter=4), True, "relu")
    fused = _bind(net, (2, 3, 6, 5), "float64", True, monkeypatch)
    plain = _bind(net, (2, 3, 6, 5), "float64", False, monkeypatch)
    before = fused.forward()[0].copy()
    for exe in (fused, plain):
        exe.arg_dict["bn_gamma"][:] = [0.5, -2.0, 1.5, 3.0]
        exe.arg_dict["conv_weight"][1] *= -1
        exe.aux_dict["bn_moving_var"][:] = [4.0, 0.25, 1.0, 9.0]
        exe.aux_dict["bn_moving_mean"][2] = 5.0
    after = fused.forward()[0]
    assert not np.allclose(before, after)
    _assert_same(after, plain.forward()[0], "float64")


def test_a_training_pass_uses_the_batch_statistics_unfused(monkeypatch):
    net = _chain(dict(kernel=(1, 1), num_filter=4), True, "relu6")
    fused = _bind(net, (3, 2, 5, 4), "float64", True, monkeypatch)
    plain = _bind(net, (3, 2, 5, 4), "float64", False, monkeypatch)
    inference = fused.forward()[0].copy()
    assert fused._fused
    training = fused.forward(is_train=True)[0]
    assert not fused._fused and not _fused_ops(fused)
    _assert_same(training, plain.forward(is_train=True)[0], "float64")
    assert not np.allclose(training, inference)
    _assert_same(fused.forward()[0], inference, "float64")
    assert fused.outputs[0] is not inference


def test_global_statistics_stay_fused_in_a_training_pass(monkeypatch):
    net = _chain(dict(kernel=(1, 1), num_filter=4), True, "relu", use_global_stats=True)
    fused = _bind(net, (3, 2, 5, 4), "float64", True, monkeypatch)
    plain = _bind(net, (3, 2, 5, 4), "float64", False, monkeypatch)
    out = fused.forward(is_train=True)[0]
    assert fused._fused
    _assert_same(out, plain.forward(is_train=True)[0], "float64")


def _not_fused(net, monkeypatch, grad_req="null"):
    monkeypatch.setattr(fusion, "ENABLED", True)
    exe = net.simple_bind(mx.cpu(), grad_req=grad_req, data=(2, 3, 6, 5))
    return not _fused_ops(exe)


@pytest.mark.parametrize("is_train", [False, True])
def test_batchnorm_then_relu_runs_as_one_node(monkeypatch, is_train):
    # DenseNet's order: BatchNorm -> ReLU -> Convolution; right in training passes too
    data = mx.sym.Variable("data")
    bn = mx.sym.BatchNorm(data, name="bn", fix_gamma=False)
    net = mx.sym.Convolution(mx.sym.relu(bn, name="act"), kernel=(3, 3), num_filter=4, name="conv")
    fused = _bind(net, (2, 3, 7, 6), "float64", True, monkeypatch)
    plain = _bind(net, (2, 3, 7, 6), "float64", False, monkeypatch)
    assert [op for op, _ in fused._call_nodes] == ["_contrib_BatchNormWithReLU", "Convolution"]
    _assert_same(fused.forward(is_train=is_train)[0], plain.forward(is_train=is_train)[0], "float64")
    assert fused._fused


def test_what_is_not_fused(monkeypatch):
    conv = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(1, 1), num_filter=4, name="conv")
    bn = mx.sym.BatchNorm(conv, name="bn")
    # the convolution's output read twice
    assert _not_fused(mx.sym.relu(conv) + conv, monkeypatch)
    # an intermediate result is an output of the symbol
    assert _not_fused(mx.sym.Group([conv, mx.sym.relu(conv)]), monkeypatch)
    # BatchNorm over another axis
    assert _not_fused(mx.sym.BatchNorm(conv, axis=2), monkeypatch)
    # an activation the kernel does not compute stays on its own, the BatchNorm is still fused
    monkeypatch.setattr(fusion, "ENABLED", True)
    exe = mx.sym.Activation(bn, act_type="tanh").simple_bind(mx.cpu(), grad_req="null", data=(2, 3, 6, 5))
    assert [op for op, _ in exe._call_nodes][-1] == "Activation" and _fused_ops(exe)
    # gradients: the training graph keeps every node
    assert _not_fused(mx.sym.relu(bn), monkeypatch, grad_req="write")


def test_a_monitor_sees_every_node(monkeypatch):
    net = _chain(dict(kernel=(1, 1), num_filter=4), True, "relu")
    exe = _bind(net, (1, 2, 3, 3), "float32", True, monkeypatch)
    expected = exe.forward()[0].copy()
    seen = []
    exe.set_monitor_callback(lambda name, array: seen.append(name))
    _assert_same(exe.forward()[0], expected, "float32")
    assert seen == ["conv_output", "bn_output", "act_output"]


def test_fusion_adds_no_memory_but_its_scale_and_shift(monkeypatch):
    # BatchNorm and the activation ran in place of the convolution's output before fusion too;
    # a fused node's workspace adds its two per-channel vectors (64-byte aligned)
    net = _chain(dict(kernel=(3, 3), pad=(1, 1), num_filter=8), True, "relu")
    net = mx.sym.clip(mx.sym.BatchNorm(mx.sym.Convolution(net, kernel=(1, 1), num_filter=8)), 0, 6)
    fused = _bind(net, (2, 3, 16, 16), "float32", True, monkeypatch)
    plain = _bind(net, (2, 3, 16, 16), "float32", False, monkeypatch)
    assert len(_fused_ops(fused)) == 2
    extra = fused.memory_stats()["planned_bytes"] - plain.memory_stats()["planned_bytes"]
    assert extra <= 2 * 2 * 64
    _assert_same(fused.forward()[0], plain.forward()[0], "float32")


def test_the_environment_turns_fusion_off(tmp_path):
    code = "import cysym.fusion as f; print(f.ENABLED)"
    env = dict(os.environ, CYSYM_FUSION="0")
    root = os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"
