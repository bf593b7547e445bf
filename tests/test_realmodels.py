"""Real models exported by MXNet 1.9.1 and GluonCV (tests/fixtures/realmodels, made by make.py
there): cysym loads the files MXNet users have, unchanged, and computes MXNet's outputs at the
exported batch size and at another one, MXNet's gradients and moving statistics in a training
pass, with a memory plan close to its lower bound."""
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import cysym as mx

FIXTURES = Path(__file__).parent / "fixtures" / "realmodels"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["models"]
NAMES = list(MANIFEST)
TRAINABLE = [n for n in NAMES if MANIFEST[n]["trainable"]]
# all but Faster R-CNN, whose exported graph MXNet itself binds at batch 1 only
REBATCHABLE = [n for n in NAMES if MANIFEST[n]["alt_batch_size"]]
# every output within this fraction of its scale (its largest magnitude) of MXNet's; in training
# passes, plus a few times MXNet's own float32 error there (its distance from the same pass in
# float64, make.py): BatchNorm over few values amplifies rounding, and gradients that are zero in
# exact arithmetic (a bias before BatchNorm) are rounding noise alone, which our float32 rounds
# differently. (In float64 cysym gives MXNet's float64 gradients of these models to ~1e-12.)
SCALE_TOLERANCE = 1e-4
REFERENCE_ERROR_FACTOR = 4
# Networks whose float32 training pass has a ReLU input within float32 rounding of zero, so that
# the summation order of a GEMM decides whether a gradient passes there (MXNet's own float32 and
# float64 passes differ by the same kind of flip elsewhere): compared in float64, which equals
# MXNet's float64 pass to ~1e-11 of the fixture's float32 error.
FLOAT64_TRAINING = {
    # two ReLU inputs near zero (C3 batchnorm8: -1.8e-5 in float32, +2.4e-5 in float64; E1
    # batchnorm2: +5.5e-6 and -1.8e-5) with OpenBLAS on one thread; the float32 gradients of
    # the layers below them then differ from float64 by up to 20% of their scale
    "inception_v3",
    # stage2 activation2 has an input of +2.2e-7 in float64; the direct stem convolution's
    # float32 sums (as accurate as im2col's, in another order) put it at or below zero
    "se_resnet50_v2",
}
MEMORY_SLACK = 1.05


@lru_cache(maxsize=None)
def _arrays(name):
    with np.load(FIXTURES / MANIFEST[name]["npz_file"]) as npz:
        return dict(npz)


def _prefix(name):
    return str(FIXTURES / name)


def _inputs(name):
    return {spec["name"]: _arrays(name)[f"input.{spec['name']}"] for spec in MANIFEST[name]["inputs"]}


def _checkpoint(name):
    return mx.model.load_checkpoint(_prefix(name), MANIFEST[name]["epoch"])


def _bound(name, symbol, inputs, grad_req, dtype=None):
    _, arg_params, aux_params = _checkpoint(name)
    type_dict = {} if dtype is None else {
        n: dtype for n in symbol.list_arguments() + symbol.list_auxiliary_states()}
    exe = symbol.simple_bind(mx.cpu(), grad_req=grad_req, type_dict=type_dict,
                             **{n: x.shape for n, x in inputs.items()})
    exe.copy_params_from(arg_params, aux_params)
    return exe


def _assert_close(actual, expected, what, reference_error=0.0):
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, MXNet {expected.shape}"
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    tolerance = SCALE_TOLERANCE * scale + REFERENCE_ERROR_FACTOR * reference_error
    tolerance = tolerance if tolerance > 0 else 1e-7
    error = float(np.abs(actual - expected).max()) if expected.size else 0.0
    assert error <= tolerance, f"{what}: max error {error:.3g} > {tolerance:.3g} (scale {scale:.3g})"


def _zero_dropout(symbol_json):
    """make.py's edit for deterministic training passes: p = 0 on every Dropout and RNN node."""
    graph = json.loads(symbol_json)
    for node in graph["nodes"]:
        if node["op"] in ("Dropout", "RNN") and "p" in node.get("attrs", {}):
            node["attrs"]["p"] = "0"
    return json.dumps(graph)


def _assert_memory_plan_tight(exe, what):
    stats = exe.memory_stats()
    assert stats["planned_bytes"] <= MEMORY_SLACK * stats["lower_bound_bytes"], (what, stats)


@pytest.mark.parametrize("name", NAMES)
def test_loads_unchanged(name):
    info = MANIFEST[name]
    symbol, arg_params, aux_params = _checkpoint(name)
    input_names = [spec["name"] for spec in info["inputs"]]
    assert symbol.list_outputs() == [out["name"] for out in info["outputs"]]
    assert sorted(symbol.list_arguments()) == sorted(input_names + list(arg_params))
    assert sorted(symbol.list_auxiliary_states()) == sorted(aux_params)
    assert sum(v.size for v in arg_params.values()) == info["num_parameters"]

    module = mx.mod.Module.load(_prefix(name), info["epoch"], data_names=input_names,
                                label_names=None)
    module.bind(data_shapes=[(spec["name"], tuple(spec["shape"])) for spec in info["inputs"]],
                for_training=False)
    module_args, module_aux = module.get_params()
    for params, loaded in ((arg_params, module_args), (aux_params, module_aux)):
        assert sorted(params) == sorted(loaded)
        for key in params:
            np.testing.assert_array_equal(loaded[key], params[key], err_msg=f"{name} {key}")
    inputs = _inputs(name)
    module.forward(mx.io.DataBatch(data=[mx.nd.array(inputs[n]) for n in input_names]),
                   is_train=False)
    for i, out in enumerate(module.get_outputs()):
        _assert_close(out, _arrays(name)[f"output.{i}"], f"{name} Module output {i}")


@pytest.mark.parametrize("name", NAMES)
def test_inference_matches_mxnet(name):
    symbol, _, _ = _checkpoint(name)
    inputs = _inputs(name)
    exe = _bound(name, symbol, inputs, "null")
    outputs = exe.forward(is_train=False, **inputs)
    assert len(outputs) == len(MANIFEST[name]["outputs"])
    for i, out in enumerate(outputs):
        _assert_close(out, _arrays(name)[f"output.{i}"], f"{name} inference output {i}")
    _assert_memory_plan_tight(exe, f"{name} inference bind")


@pytest.mark.parametrize("name", REBATCHABLE)
def test_other_batch_size(name):
    """Bound at another batch size, fed the fixture's samples repeated cyclically along each input's
    batch axis: MXNet's output shapes, and for per-sample networks the fixture's outputs first."""
    info = MANIFEST[name]
    batch, alt_batch = info["batch_size"], info["alt_batch_size"]
    inputs = {spec["name"]: np.take(_arrays(name)[f"input.{spec['name']}"],
                                    np.arange(alt_batch) % batch, axis=spec["batch_axis"])
              for spec in info["inputs"]}
    symbol, _, _ = _checkpoint(name)
    exe = _bound(name, symbol, inputs, "null")
    outputs = exe.forward(is_train=False, **inputs)
    for i, (out, spec) in enumerate(zip(outputs, info["outputs"])):
        assert tuple(out.shape) == tuple(spec["alt_shape"]), f"{name} output {i} at batch {alt_batch}"
        if info["per_sample"] and spec["batch_axis"] is not None:
            first = np.take(np.asarray(out), np.arange(batch), axis=spec["batch_axis"])
            _assert_close(first, _arrays(name)[f"output.{i}"],
                          f"{name} output {i} at batch {alt_batch}, first {batch} samples")
    _assert_memory_plan_tight(exe, f"{name} bind at batch {alt_batch}")


@pytest.mark.parametrize("name", TRAINABLE)
def test_training_matches_mxnet(name):
    info = MANIFEST[name]
    arrays = _arrays(name)
    symbol_json = (FIXTURES / info["symbol_file"]).read_text()
    if info["training"]["zero_dropout"]:
        symbol_json = _zero_dropout(symbol_json)
    symbol = mx.sym.load_json(symbol_json)
    inputs = _inputs(name)
    dtype = np.float64 if name in FLOAT64_TRAINING else np.float32
    exe = _bound(name, symbol, inputs, "write", dtype)
    reference_error = info["training"]["mxnet_float32_error"]

    def check(actual, key, what):
        _assert_close(actual, arrays[key], f"{name} {what}", reference_error[key])
    outputs = exe.forward(is_train=True, **inputs)
    for i, out in enumerate(outputs):
        check(out, f"train_output.{i}", f"training output {i}")
    exe.backward(out_grads=[mx.nd.array(arrays[f"head_grad.{i}"], dtype=dtype)
                            for i in range(len(outputs))])
    for key in info["training"]["grad_names"]:
        check(exe.grad_dict[key], f"grad.{key}", f"gradient of {key}")
    for key in symbol.list_auxiliary_states():
        check(exe.aux_dict[key], f"aux_after.{key}", f"{key} after training")
    _assert_memory_plan_tight(exe, f"{name} training bind")


@pytest.mark.parametrize("name", [n for n in TRAINABLE if n in REBATCHABLE])
def test_training_bind_at_other_batch_size(name):
    """A training bind at the other batch size: every gradient shaped like its argument, and the
    memory plan (workspaces and the backward's buffers included) near its lower bound."""
    info = MANIFEST[name]
    shapes = {spec["name"]: tuple(info["alt_batch_size"] if axis == spec["batch_axis"] else size
                                  for axis, size in enumerate(_inputs(name)[spec["name"]].shape))
              for spec in info["inputs"]}
    symbol, _, _ = _checkpoint(name)
    exe = symbol.simple_bind(mx.cpu(), grad_req="write", **shapes)
    for arg, grad in exe.grad_dict.items():
        assert grad is None or grad.shape == exe.arg_dict[arg].shape, arg
    _assert_memory_plan_tight(exe, f"{name} training bind at batch {info['alt_batch_size']}")
