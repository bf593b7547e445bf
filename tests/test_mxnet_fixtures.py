"""Networks, checkpoints and results written by the real MXNet 1.9.1 (tests/fixtures/mxnet):
cysym must load them and compute MXNet's outputs, gradients and BatchNorm statistics."""
import json
from pathlib import Path

import numpy as np
import pytest

import cysym as mx

FIXTURES = Path(__file__).parent / "fixtures" / "mxnet"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
NETWORKS = sorted(MANIFEST["networks"])
RTOL, ATOL = 1e-4, 1e-6


def _bound(net_name):
    info = MANIFEST["networks"][net_name]
    symbol, arg_params, aux_params = mx.model.load_checkpoint(str(FIXTURES / net_name), info["epoch"])
    io = np.load(FIXTURES / info["io_file"])
    shapes = {arg: io[key].shape for key, arg in info["npz_inputs"].items()}
    # arith's `c` reaches Reshape, which cannot infer its input: its shape comes from the params
    shapes.update({name: value.shape for name, value in arg_params.items()})
    exe = symbol.simple_bind(mx.cpu(), grad_req=info["grad_req"], **shapes)
    exe.copy_params_from(arg_params, aux_params)
    for key, arg in info["npz_inputs"].items():
        exe.arg_dict[arg][:] = io[key]
    return symbol, exe, io, info


@pytest.mark.parametrize("net_name", NETWORKS)
def test_forward_matches_mxnet(net_name):
    symbol, exe, io, info = _bound(net_name)
    outputs = exe.forward(is_train=False)
    for i, out in enumerate(outputs):
        np.testing.assert_allclose(out, io[f"out_infer_{i}"], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{net_name} inference output {i}")


@pytest.mark.parametrize("net_name", NETWORKS)
def test_training_step_matches_mxnet(net_name):
    symbol, exe, io, info = _bound(net_name)
    outputs = exe.forward(is_train=True)
    for i, out in enumerate(outputs):
        np.testing.assert_allclose(out, io[f"out_train_{i}"], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{net_name} training output {i}")
    exe.backward()
    for name, req in info["grad_req"].items():
        if req == "null":
            assert exe.grad_dict[name] is None
            continue
        np.testing.assert_allclose(exe.grad_dict[name], io[f"grad_{name}"], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{net_name} gradient of {name}")
    for name in symbol.list_auxiliary_states():
        np.testing.assert_allclose(exe.aux_dict[name], io[f"aux_after_{name}"], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{net_name} auxiliary state {name} after backward")


@pytest.mark.parametrize("net_name", NETWORKS)
def test_checkpoint_round_trip_is_byte_exact(net_name, tmp_path):
    info = MANIFEST["networks"][net_name]
    symbol, arg_params, aux_params = mx.model.load_checkpoint(str(FIXTURES / net_name), info["epoch"])
    prefix = str(tmp_path / net_name)
    mx.model.save_checkpoint(prefix, info["epoch"], symbol, arg_params, aux_params)
    assert Path(f"{prefix}-symbol.json").read_bytes() == (FIXTURES / info["symbol_file"]).read_bytes()
    assert (Path(f"{prefix}-{info['epoch']:04d}.params").read_bytes()
            == (FIXTURES / info["params_file"]).read_bytes())
