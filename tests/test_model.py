"""cysym.model checkpoints (prefix-symbol.json + prefix-%04d.params): round trip, MXNet 1.9.1
checkpoints through model.load_checkpoint and Module.load, and failed saves that must leave an
existing checkpoint intact."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError
from cysym.demo import seed_mlp
from cysym.io import DataBatch

FIXTURES = Path(__file__).parent / "fixtures" / "mxnet"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["networks"]


def _params(seed=0):
    rng = np.random.default_rng(seed)
    # (float32 explicitly: cysym's nd.array keeps a NumPy array's dtype, MXNet's makes float32)
    arg = {"fc1_weight": mx.nd.array(rng.standard_normal((128, 64)), dtype=np.float32),
           "fc1_bias": mx.nd.array(rng.standard_normal(128), dtype=np.float32),
           "fc2_weight": mx.nd.array(rng.standard_normal((64, 128)), dtype=np.float32),
           "fc2_bias": mx.nd.array(rng.standard_normal(64), dtype=np.float32),
           "fc3_weight": mx.nd.array(rng.standard_normal((10, 64)), dtype=np.float32),
           "fc3_bias": mx.nd.array(rng.standard_normal(10), dtype=np.float32)}
    aux = {"bn_moving_var": mx.nd.array(rng.random((2, 3, 5)) + 1.0, dtype=np.float32)}
    return arg, aux


def _snapshot(directory):
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))}


def test_save_load_checkpoint_round_trip(tmp_path):
    arg, aux = _params()
    prefix = str(tmp_path / "net")
    mx.model.save_checkpoint(prefix, 7, seed_mlp(), arg, aux)
    assert sorted(os.listdir(tmp_path)) == ["net-0007.params", "net-symbol.json"]
    symbol, arg2, aux2 = mx.model.load_checkpoint(prefix, 7)
    assert symbol.tojson() == seed_mlp().tojson()
    assert sorted(arg2) == sorted(arg) and sorted(aux2) == ["bn_moving_var"]
    for source, loaded in ((arg, arg2), (aux, aux2)):
        for name, value in source.items():
            assert loaded[name].dtype == np.float32
            np.testing.assert_array_equal(np.asarray(loaded[name]), np.asarray(value), err_msg=name)
    # the keys in the file are MXNet's arg:/aux: names
    assert sorted(mx.nd.load(f"{prefix}-0007.params")) == sorted(
        [f"arg:{k}" for k in arg] + ["aux:bn_moving_var"])
    # re-saving what was loaded reproduces the file byte for byte
    mx.model.save_checkpoint(str(tmp_path / "again"), 7, symbol, arg2, aux2)
    assert (tmp_path / "again-0007.params").read_bytes() == (tmp_path / "net-0007.params").read_bytes()
    assert (tmp_path / "again-symbol.json").read_text() == (tmp_path / "net-symbol.json").read_text()


def test_load_params_and_bad_keys(tmp_path):
    arg, aux = _params()
    mx.model.save_checkpoint(str(tmp_path / "p"), 1, None, arg, aux)
    assert os.listdir(tmp_path) == ["p-0001.params"]       # symbol None: parameters only
    arg2, aux2 = mx.model.load_params(str(tmp_path / "p"), 1)
    assert sorted(arg2) == sorted(arg) and sorted(aux2) == sorted(aux)
    mx.nd.save(str(tmp_path / "q-0001.params"), {"weight": mx.nd.zeros((2, 3))})
    with pytest.raises(MXNetError, match="arg:"):
        mx.model.load_params(str(tmp_path / "q"), 1)
    mx.nd.save(str(tmp_path / "r-0001.params"), [mx.nd.zeros((2, 3))])
    with pytest.raises(MXNetError):
        mx.model.load_params(str(tmp_path / "r"), 1)
    with pytest.raises(MXNetError, match="missing-symbol.json"):
        mx.model.load_checkpoint(str(tmp_path / "missing"), 1)


def test_failed_save_with_unsavable_param_leaves_checkpoint_intact(tmp_path):
    arg, aux = _params()
    prefix = str(tmp_path / "net")
    mx.model.save_checkpoint(prefix, 1, seed_mlp(), arg, aux)
    before = _snapshot(tmp_path)
    other_symbol = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="other")
    bad = dict(arg, fc1_weight=np.zeros((2, 3), dtype=np.complex64))   # no MXNet dtype for complex
    with pytest.raises(Exception):
        mx.model.save_checkpoint(prefix, 1, other_symbol, bad, aux)
    bad = dict(arg, fc1_weight="not an array")
    with pytest.raises(Exception):
        mx.model.save_checkpoint(prefix, 1, other_symbol, bad, aux)
    assert _snapshot(tmp_path) == before


def test_failed_write_leaves_checkpoint_intact(tmp_path, monkeypatch):
    arg, aux = _params()
    prefix = str(tmp_path / "net")
    mx.model.save_checkpoint(prefix, 1, seed_mlp(), arg, aux)
    before = _snapshot(tmp_path)
    new_arg, _ = _params(seed=1)

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        mx.model.save_checkpoint(prefix, 1, seed_mlp(), new_arg, aux)
    monkeypatch.undo()
    assert _snapshot(tmp_path) == before       # no temporary files left behind either


def test_save_into_a_file_path_fails_cleanly(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OSError):
        mx.model.save_checkpoint(str(tmp_path / "afile" / "net"), 1, seed_mlp(), *_params())


# --------------------------------------------------------------------------- MXNet 1.9.1 checkpoints


@pytest.mark.parametrize("net", ["mlp2", "lenet"])
def test_mxnet_checkpoint_through_load_checkpoint(net):
    info = MANIFEST[net]
    symbol, arg, aux = mx.model.load_checkpoint(str(FIXTURES / net), info["epoch"])
    io = np.load(FIXTURES / info["io_file"])
    assert symbol.list_arguments() == info["list_arguments"]
    assert symbol.list_auxiliary_states() == info["list_auxiliary_states"]
    assert sorted([f"arg:{k}" for k in arg] + [f"aux:{k}" for k in aux]) == sorted(info["params_keys"])
    for name, value in arg.items():
        np.testing.assert_array_equal(np.asarray(value), io[f"arg_{name}"], err_msg=name)
    shapes = {arg_name: io[key].shape for key, arg_name in info["npz_inputs"].items()}
    exe = symbol.simple_bind(mx.cpu(), grad_req="null", **shapes)
    exe.copy_params_from(arg, aux)
    for key, arg_name in info["npz_inputs"].items():
        exe.arg_dict[arg_name][:] = io[key]
    (out,) = exe.forward(is_train=False)
    np.testing.assert_allclose(np.asarray(out), io["out_infer_0"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("net", ["mlp2", "lenet"])
@pytest.mark.parametrize("for_training", [False, True], ids=["inference", "training-bind"])
def test_mxnet_checkpoint_through_module_load(net, for_training):
    info = MANIFEST[net]
    io = np.load(FIXTURES / info["io_file"])
    mod = mx.mod.Module.load(str(FIXTURES / net), info["epoch"], data_names=["data"],
                             label_names=["softmax_label"])
    mod.bind(data_shapes=[("data", io["data"].shape)], label_shapes=[("softmax_label", io["label"].shape)],
             for_training=for_training)
    batch = DataBatch([mx.nd.array(io["data"])], [mx.nd.array(io["label"])])
    mod.forward(batch, is_train=False)
    np.testing.assert_allclose(mod.get_outputs()[0].asnumpy(), io["out_infer_0"], rtol=1e-4, atol=1e-6)
    arg, aux = mod.get_params()
    for name, value in arg.items():
        np.testing.assert_array_equal(np.asarray(value), io[f"arg_{name}"], err_msg=name)
    # predict goes through the same parameters (and the inference path)
    pred = mod.predict(mx.io.NDArrayIter(io["data"], io["label"], io["data"].shape[0]))
    np.testing.assert_allclose(pred.asnumpy(), io["out_infer_0"], rtol=1e-4, atol=1e-6)
    if for_training:
        mod.forward(batch, is_train=True)
        np.testing.assert_allclose(mod.get_outputs()[0].asnumpy(), io["out_train_0"], rtol=1e-4, atol=1e-6)
        mod.backward()
        for name in ("fc1_weight", "fc2_weight"):
            np.testing.assert_allclose(np.asarray(mod._exec.grad_dict[name]), io[f"grad_{name}"],
                                       rtol=1e-4, atol=1e-6, err_msg=name)
