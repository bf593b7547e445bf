"""ONNX export and import (cysym.onnx, mx.onnx in MXNet 1.9): real networks and demo networks
exported and run in ONNX Runtime, dynamic batch axes, cysym -> ONNX -> cysym round trips, a
model written with onnx.helper imported, and malformed files refused."""
import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx_helpers import one_kernel_thread, session  # noqa: E402,F401

import cysym as mx  # noqa: E402
from cysym import demo  # noqa: E402
from cysym.base import MXNetError  # noqa: E402

REALMODELS = Path(__file__).parent / "fixtures" / "realmodels"
MXNET_FIXTURES = Path(__file__).parent / "fixtures" / "mxnet"
REAL = json.loads((REALMODELS / "manifest.json").read_text())["models"]
MXNET = json.loads((MXNET_FIXTURES / "manifest.json").read_text())["networks"]
# YOLOv3's random weights saturate its sigmoid scores at 1.0 in float32: which of the tied
# boxes non-maximum suppression keeps then turns on the convolutions' rounding (ONNX Runtime's
# and cysym's differ by 1e-7), so this model is compared before the suppression, and after it
# on ONNX Runtime's own pre-suppression values (test_tied_scores_detector_...)
TIED_SCORES = {"yolo3_darknet53"}
EXPORTED = [n for n in REAL if n not in TIED_SCORES]
# ONNX Runtime's float32 convolutions sum in another order than cysym's: a deep network's
# outputs agree to a few 1e-6 of their scale
SCALE_TOLERANCE = 2e-5


def _assert_close(actual, expected, what, tolerance=SCALE_TOLERANCE):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    error = float(np.abs(actual.astype(np.float64) - expected).max()) if expected.size else 0.0
    assert error <= tolerance * max(scale, 1e-3), f"{what}: max error {error:.3g} (scale {scale:.3g})"


def _cysym_forward(sym, arg_params, aux_params, inputs):
    exe = sym.simple_bind(mx.cpu(), grad_req="null", **{k: v.shape for k, v in inputs.items()})
    exe.copy_params_from(arg_params, aux_params, allow_extra_params=True)
    return [np.array(out) for out in exe.forward(is_train=False, **inputs)]


@lru_cache(maxsize=None)
def _real_arrays(name):
    """The fixture's inputs (the file also holds MXNet's gradients, which these tests do not
    read)."""
    with np.load(REALMODELS / REAL[name]["npz_file"]) as npz:
        return {key: npz[key] for key in npz.files if key.startswith("input.")}


@lru_cache(maxsize=None)
def _real_checkpoint(name):
    return mx.model.load_checkpoint(str(REALMODELS / name), REAL[name]["epoch"])


@lru_cache(maxsize=None)
def _real_expected(name, batch=None):
    """cysym's outputs of the real network at `batch` (None: the fixture's), computed once for
    the tests that compare with them."""
    return _cysym_forward(*_real_checkpoint(name), _real_inputs(name, batch))


def _real_inputs(name, batch=None):
    """The fixture's inputs, repeated cyclically along the batch axis to `batch` samples."""
    info = REAL[name]
    inputs = {}
    for spec in info["inputs"]:
        value = _real_arrays(name)[f"input.{spec['name']}"]
        if batch is not None:
            value = np.take(value, np.arange(batch) % info["batch_size"], axis=spec["batch_axis"])
        inputs[spec["name"]] = value
    return inputs


def _real_files(name):
    info = REAL[name]
    return str(REALMODELS / info["symbol_file"]), str(REALMODELS / info["params_file"])


# ---------------------------------------------------------------------------------------------
# export of real networks

@pytest.fixture(scope="module")
def real_export(tmp_path_factory):
    """name -> the path of the real network exported from its files (static shapes), written
    once for the tests that read it."""
    folder = tmp_path_factory.mktemp("real_exports")

    @lru_cache(maxsize=None)
    def export(name):
        symbol_file, params_file = _real_files(name)
        return mx.onnx.export_model(symbol_file, params_file,
                                    [v.shape for v in _real_inputs(name).values()],
                                    onnx_file_path=str(folder / f"{name}.onnx"))
    return export


@pytest.mark.parametrize("name", EXPORTED)
def test_real_model_exports_and_matches_in_onnxruntime(name, real_export):
    path = real_export(name)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17
    results = session(model).run(None, _real_inputs(name))
    expected = _real_expected(name)
    assert len(results) == len(expected)
    for i, (result, wanted) in enumerate(zip(results, expected)):
        _assert_close(result, wanted, f"{name} output {i}")


@pytest.mark.parametrize("name", [n for n in EXPORTED if REAL[n]["alt_batch_size"]])
def test_real_model_dynamic_batch(name, tmp_path):
    info = REAL[name]
    sym, arg_params, aux_params = _real_checkpoint(name)
    inputs = _real_inputs(name)
    # the batch axis: the first dynamic one (the RNN layers' inputs are (time, batch, features))
    dynamic_shapes = [tuple(None if axis == spec["batch_axis"] else d for axis, d in enumerate(spec["shape"]))
                      for spec in info["inputs"]]
    path = mx.onnx.export_model(sym, {**arg_params, **aux_params}, [v.shape for v in inputs.values()],
                                onnx_file_path=str(tmp_path / f"{name}.onnx"), dynamic=True,
                                dynamic_input_shapes=dynamic_shapes)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    batch_axis = info["inputs"][0]["batch_axis"]
    assert model.graph.input[0].type.tensor_type.shape.dim[batch_axis].dim_param == "batch"
    runtime = session(model)
    for batch in (info["batch_size"], info["alt_batch_size"]):
        inputs = _real_inputs(name, batch)
        expected = _real_expected(name, None if batch == info["batch_size"] else batch)
        for i, (result, wanted) in enumerate(zip(runtime.run(None, inputs), expected)):
            _assert_close(result, wanted, f"{name} output {i} at batch {batch}")


@pytest.mark.parametrize("name", [n for n in EXPORTED if not REAL[n]["alt_batch_size"]])
def test_batch_one_network_refuses_a_dynamic_batch(name, tmp_path):
    """A network that binds at one batch size only (Faster R-CNN concatenates the regions of
    one image, MXNet too binds it at batch 1 only) is refused with dynamic=True, the error
    saying why and what to do."""
    sym, arg_params, aux_params = _real_checkpoint(name)
    with pytest.raises(MXNetError, match="does not take another batch size .*export it with "
                                         "dynamic=False"):
        mx.onnx.export_model(sym, {**arg_params, **aux_params},
                             [v.shape for v in _real_inputs(name).values()], dynamic=True,
                             onnx_file_path=str(tmp_path / f"{name}.onnx"))


def _cut_before(sym, op_name):
    """(name of the value node `op_name` reads, the symbol from there on: that value a
    variable of the same name, what computes it dropped)."""
    graph = json.loads(sym.tojson())
    nodes = graph["nodes"]
    source = nodes[next(n for n in nodes if n["op"] == op_name)["inputs"][0][0]]
    source.update(op="null", inputs=[])
    source.pop("attrs", None)
    return source["name"], mx.sym.load_json(json.dumps(graph))


@pytest.mark.parametrize("name", sorted(TIED_SCORES))
def test_tied_scores_detector_matches_before_and_after_suppression(name, tmp_path):
    """The exported network computes cysym's boxes and scores up to box_nms (to the
    tolerance of deep networks), and from ONNX Runtime's own values there, exactly cysym's
    suppressed output; with a dynamic batch, at two batch sizes."""
    info = REAL[name]
    sym, arg_params, aux_params = _real_checkpoint(name)
    before, tail = _cut_before(sym, "_contrib_box_nms")
    assert tail.list_arguments() == [before]
    inputs = _real_inputs(name)
    path = mx.onnx.export_model(sym, {**arg_params, **aux_params},
                                [v.shape for v in inputs.values()], dynamic=True,
                                onnx_file_path=str(tmp_path / f"{name}.onnx"))
    model = onnx.load(path)
    model.graph.output.append(helper.make_empty_tensor_value_info(before))
    runtime = session(model)
    internals = sym.get_internals()
    head = internals[internals.list_outputs().index(f"{before}_output")]
    for batch in (info["batch_size"], info["alt_batch_size"]):
        inputs = _real_inputs(name, batch)
        *results, detections = runtime.run(None, inputs)
        # its box sizes are exp of convolution outputs (up to e^40 = 1e17 with these weights):
        # an absolute rounding difference d in the exponent is a relative one of d in the box
        # (2.3e-5 of the scale on a Zen 5 core, where both run AVX-512 kernels)
        _assert_close(detections, _cysym_forward(head, arg_params, aux_params, inputs)[0],
                      f"{name} {before} at batch {batch}", tolerance=1e-4)
        expected = _cysym_forward(tail, {}, {}, {before: detections})
        assert len(results) == len(expected)
        for i, (result, wanted) in enumerate(zip(results, expected)):
            np.testing.assert_array_equal(result, wanted, err_msg=f"{name} output {i} at batch {batch}")


@pytest.mark.parametrize("net_name", sorted(MXNET))
def test_mxnet_fixture_networks_match_mxnet_in_onnxruntime(net_name, tmp_path):
    """Networks written by MXNet 1.9.1 (loss heads, shared weights, several heads, scalar
    arithmetic): ONNX Runtime computes MXNet's recorded inference outputs."""
    info = MXNET[net_name]
    io = np.load(MXNET_FIXTURES / info["io_file"])
    sym, arg_params, aux_params = mx.model.load_checkpoint(str(MXNET_FIXTURES / net_name), info["epoch"])
    labels = {name for name in sym.list_arguments() if name.endswith("_label")}
    inputs = {arg: io[key] for key, arg in info["npz_inputs"].items() if arg not in labels}
    path = mx.onnx.export_model(sym, [arg_params, aux_params], [v.shape for v in inputs.values()],
                                onnx_file_path=str(tmp_path / "net.onnx"))
    runtime = session(path)
    assert [i.name for i in runtime.get_inputs()] == list(inputs)
    for i, result in enumerate(runtime.run(None, inputs)):
        np.testing.assert_allclose(result, io[f"out_infer_{i}"], rtol=1e-4, atol=1e-6,
                                   err_msg=f"{net_name} output {i}")


# ---------------------------------------------------------------------------------------------
# demo networks, BatchNorm's fix_gamma, the export_model signature

def _initialized(sym, shapes, seed=0):
    rng = np.random.default_rng(seed)
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    arg_params = {n: rng.normal(0, 0.3, s).astype(np.float32)
                  for n, s in zip(sym.list_arguments(), arg_shapes) if n not in shapes
                  and not n.endswith("_label")}
    aux_params = {n: (rng.uniform(0.5, 1.5, s) if n.endswith("var") else rng.normal(0, 0.2, s))
                  .astype(np.float32) for n, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    return arg_params, aux_params


@pytest.mark.parametrize("network,shape", [(demo.seed_mlp, (5, 8, 8)), (demo.lenet, (5, 1, 8, 8))],
                         ids=["mlp", "lenet"])
def test_demo_networks_static_and_dynamic(network, shape, tmp_path):
    sym = network()
    arg_params, aux_params = _initialized(sym, {"data": shape})
    for dynamic in (False, True):
        path = mx.onnx.export_model(sym, {**arg_params, **aux_params}, [shape],
                                    onnx_file_path=str(tmp_path / "demo.onnx"), dynamic=dynamic)
        runtime = session(path)
        for batch in ((5, 3) if dynamic else (5,)):
            x = np.random.default_rng(batch).uniform(0, 1, (batch,) + shape[1:]).astype(np.float32)
            expected = _cysym_forward(sym, arg_params, aux_params, {"data": x})[0]
            _assert_close(runtime.run(None, {"data": x})[0], expected, f"batch {batch}", 1e-5)


def test_batchnorm_fix_gamma_exports_gamma_as_ones(tmp_path):
    data = mx.sym.Variable("data")
    sym = mx.sym.BatchNorm(data, name="bn", fix_gamma=True, eps=1e-3)
    shape = (2, 3, 4, 5)
    arg_params, aux_params = _initialized(sym, {"data": shape})
    arg_params["bn_gamma"] = np.full(3, 7.0, dtype=np.float32)   # ignored by MXNet
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    path = mx.onnx.export_model(sym, [arg_params, aux_params], [shape],
                                onnx_file_path=str(tmp_path / "bn.onnx"))
    expected = _cysym_forward(sym, arg_params, aux_params, {"data": x})[0]
    _assert_close(session(path).run(None, {"data": x})[0], expected, "BatchNorm", 1e-5)
    assert "bn_gamma" not in {t.name for t in onnx.load(path).graph.initializer}


def test_export_model_signature_forms(tmp_path):
    """MXNet 1.9's forms: the old names input_shape/input_type, params with 'arg:'/'aux:'
    prefixes, a list of in_types, run_shape_inference, opset 13; bad arguments refused."""
    sym = demo.lenet()
    arg_params, aux_params = _initialized(sym, {"data": (2, 1, 8, 8)})
    prefixed = {**{f"arg:{k}": v for k, v in arg_params.items()},
                **{f"aux:{k}": v for k, v in aux_params.items()}}
    path = mx.onnx.export_model(sym, prefixed, input_shape=[(2, 1, 8, 8)], input_type=[np.float32],
                                onnx_file_path=str(tmp_path / "a.onnx"), run_shape_inference=True,
                                opset_version=13)
    model = onnx.load(path)
    assert model.opset_import[0].version == 13
    assert len(model.graph.value_info) > 0          # shapes inferred
    x = np.random.default_rng(0).uniform(size=(2, 1, 8, 8)).astype(np.float32)
    expected = _cysym_forward(sym, arg_params, aux_params, {"data": x})[0]
    _assert_close(session(path).run(None, {"data": x})[0], expected, "opset 13", 1e-5)
    with pytest.raises(MXNetError, match=r"2 input shapes given for the 1 inputs \['data'\]"):
        mx.onnx.export_model(sym, prefixed, [(2, 1, 8, 8), (2,)], onnx_file_path=str(tmp_path / "b"))
    with pytest.raises(MXNetError, match="opset_version 12"):
        mx.onnx.export_model(sym, prefixed, [(2, 1, 8, 8)], opset_version=12,
                             onnx_file_path=str(tmp_path / "c"))
    with pytest.raises(MXNetError, match="do not have the ranks"):
        mx.onnx.export_model(sym, prefixed, [(2, 1, 8, 8)], dynamic=True,
                             dynamic_input_shapes=[(None, 1, 8)], onnx_file_path=str(tmp_path / "e"))
    with pytest.raises(ValueError, match="files or objects"):
        mx.onnx.export_model(42, prefixed, [(2, 1, 8, 8)], onnx_file_path=str(tmp_path / "d"))


def test_unexportable_operators_are_listed_in_one_error(tmp_path):
    data = mx.sym.Variable("data")
    factor = mx.sym.linalg.potrf(data, name="cholesky1")
    net = mx.sym.linalg.inverse(mx.sym.relu(factor, name="relu1"), name="inverse1")
    with pytest.raises(MXNetError) as error:
        mx.onnx.export_model(net, {}, [(2, 3, 3)], onnx_file_path=str(tmp_path / "x.onnx"))
    assert ("_linalg_potrf(name='cholesky1'): ONNX has no matrix factorization, inverse or "
            "triangular solve") in str(error.value)
    assert "_linalg_inverse(name='inverse1')" in str(error.value)
    assert "relu1" not in str(error.value)


def test_import_cysym_without_onnx(tmp_path):
    """`import cysym` needs no onnx; the functions say how to install it."""
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import cysym as mx\n"
            "try:\n    mx.onnx.import_model('m.onnx')\n"
            "except ImportError as err:\n    print(err)\n")
    # the cysym under test (an installed one, whose source-tree copy has no kernels)
    cysym_parent = str(Path(mx.__file__).resolve().parent.parent)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, env=dict(os.environ, PYTHONPATH=cysym_parent),
                            check=True)
    assert "cysym[onnx]" in result.stdout


# ---------------------------------------------------------------------------------------------
# import

@pytest.mark.parametrize("name", ["resnet18_v1", "mobilenetv2_0.25", "densenet", "squeezenet1.1",
                                  "inception_v3", "fcn_resnet50", "lstm_2l_bi_states", "gru_1l",
                                  "rnn_relu_2l_bi",
                                  "rnn_tanh_1l_states"])
def test_round_trip_real_model(name, real_export):
    sym2, arg2, aux2 = mx.onnx.import_model(real_export(name))
    inputs = _real_inputs(name)
    expected = _real_expected(name)
    for i, (result, wanted) in enumerate(zip(_cysym_forward(sym2, arg2, aux2, inputs), expected)):
        np.testing.assert_allclose(result, wanted, rtol=1e-5, atol=1e-6, err_msg=f"{name} output {i}")


@pytest.mark.parametrize("net_name", ["mlp2", "lenet", "compose"])
def test_round_trip_mxnet_fixture(net_name, tmp_path):
    info = MXNET[net_name]
    io = np.load(MXNET_FIXTURES / info["io_file"])
    sym, arg_params, aux_params = mx.model.load_checkpoint(str(MXNET_FIXTURES / net_name), info["epoch"])
    inputs = {arg: io[key] for key, arg in info["npz_inputs"].items() if not arg.endswith("_label")}
    path = mx.onnx.export_model(sym, [arg_params, aux_params], [v.shape for v in inputs.values()],
                                onnx_file_path=str(tmp_path / "m.onnx"))
    sym2, arg2, aux2 = mx.onnx.import_model(path)
    result = _cysym_forward(sym2, arg2, aux2, inputs)[0]
    np.testing.assert_allclose(result, io["out_infer_0"], rtol=1e-4, atol=1e-6)


def _helper_model():
    """A small CNN written with the onnx.helper API (opset 17), as other tools write them:
    Constant nodes, a Gemm without transB, an asymmetric-free padded Conv, a shared initializer."""
    rng = np.random.default_rng(3)
    weights = {
        "conv_w": rng.normal(0, 0.3, (4, 2, 3, 3)), "conv_b": rng.normal(0, 0.1, (4,)),
        "bn_scale": rng.uniform(0.5, 1.5, (4,)), "bn_bias": rng.normal(0, 0.1, (4,)),
        "bn_mean": rng.normal(0, 0.1, (4,)), "bn_var": rng.uniform(0.5, 1.5, (4,)),
        "fc_w": rng.normal(0, 0.3, (24, 5)), "fc_b": rng.normal(0, 0.1, (5,)),
        "offset": rng.normal(0, 0.1, (1, 5)),
    }
    initializers = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    nodes = [
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("BatchNormalization", ["c", "bn_scale", "bn_bias", "bn_mean", "bn_var"],
                         ["bn"], epsilon=1e-5),
        helper.make_node("LeakyRelu", ["bn"], ["r"], alpha=0.1),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Constant", [], ["shape"],
                         value=numpy_helper.from_array(np.array([0, -1], dtype=np.int64))),
        helper.make_node("Reshape", ["p", "shape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["fc"]),
        helper.make_node("Add", ["fc", "offset"], ["shifted"]),
        helper.make_node("Softmax", ["shifted"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(nodes, "helper_cnn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2, 4, 6])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [3, 5])],
                              initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def test_import_helper_made_model(tmp_path):
    path = tmp_path / "helper.onnx"
    onnx.save_model(_helper_model(), str(path))
    sym, arg_params, aux_params = mx.onnx.import_model(str(path))
    assert sorted(aux_params) == ["bn_mean", "bn_var"]
    x = np.random.default_rng(4).normal(size=(3, 2, 4, 6)).astype(np.float32)
    result = _cysym_forward(sym, arg_params, aux_params, {"x": x})[0]
    np.testing.assert_allclose(result, session(path).run(None, {"x": x})[0], rtol=1e-5, atol=1e-6)


def test_import_lists_every_unsupported_operator(tmp_path):
    nodes = [helper.make_node("Hardmax", ["x"], ["h"], name="hard"),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Einsum", ["r"], ["d"], name="trace", equation="bii->b")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 3])],
                              [helper.make_tensor_value_info("d", TensorProto.FLOAT, [2])])
    path = tmp_path / "unsupported.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(MXNetError) as error:
        mx.onnx.import_model(str(path))
    message = str(error.value)
    assert str(path) in message and "Hardmax(name='hard')" in message
    assert "Einsum(name='trace')" in message and "Relu" not in message


# ---------------------------------------------------------------------------------------------
# malformed files

def _assert_refused(path, *fragments):
    with pytest.raises(MXNetError) as error:
        mx.onnx.import_model(str(path))
    assert str(path) in str(error.value)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_truncated_and_garbage_files_are_refused(tmp_path):
    data = _helper_model().SerializeToString()
    for size in (len(data) // 2, len(data) - 3, 7):
        path = tmp_path / f"truncated{size}.onnx"
        path.write_bytes(data[:size])
        _assert_refused(path)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(bytes(range(256)) * 4)
    _assert_refused(garbage)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    _assert_refused(empty, "not an ONNX model")
    _assert_refused(tmp_path / "missing.onnx", "cannot read")


def test_wrongly_typed_models_are_refused(tmp_path):
    # an Add of float and int64 inputs
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"])], "g",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2]),
                               helper.make_tensor_value_info("b", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [2])])
    path = tmp_path / "mixed.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    _assert_refused(path, "invalid ONNX model")
    # an integer attribute given as a string
    model = _helper_model()
    conv = model.graph.node[0]
    del conv.attribute[:]
    conv.attribute.append(helper.make_attribute("group", "two"))
    path = tmp_path / "attribute.onnx"
    path.write_bytes(model.SerializeToString())
    _assert_refused(path, "invalid ONNX model")


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/hostname", "sub/../../outside.bin"])
def test_external_data_outside_the_folder_is_refused(location, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(np.ones(4 * 5 * 2 * 3 * 3, np.float32).tobytes())
    model = _helper_model()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.append(onnx.StringStringEntryProto(key="location", value=location))
    path = folder / "external.onnx"
    path.write_bytes(model.SerializeToString())
    _assert_refused(path, "outside the model's folder")


def test_external_data_through_a_link_leaving_the_folder_is_refused(tmp_path):
    """A location inside the folder that is a symbolic link to a file outside it."""
    folder = tmp_path / "model"
    folder.mkdir()
    outside = tmp_path / "outside.bin"
    outside.write_bytes(np.ones(4 * 5 * 2 * 3 * 3, np.float32).tobytes())
    (folder / "weights.bin").symlink_to(outside)
    model = _helper_model()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.append(onnx.StringStringEntryProto(key="location", value="weights.bin"))
    path = folder / "external.onnx"
    path.write_bytes(model.SerializeToString())
    _assert_refused(path, "outside the model's folder")


def test_external_data_inside_the_folder_is_read(tmp_path):
    model = _helper_model()
    path = tmp_path / "external.onnx"
    onnx.external_data_helper.convert_model_to_external_data(
        model, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    onnx.save_model(model, str(path))
    assert (tmp_path / "weights.bin").exists()
    sym, arg_params, aux_params = mx.onnx.import_model(str(path))
    x = np.random.default_rng(5).normal(size=(3, 2, 4, 6)).astype(np.float32)
    result = _cysym_forward(sym, arg_params, aux_params, {"x": x})[0]
    np.testing.assert_allclose(result, session(_helper_model()).run(None, {"x": x})[0],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op_type,attrs", [("LSTM", {"direction": "bidirectional"}),
                                           ("GRU", {"linear_before_reset": 1}),
                                           ("RNN", {"activations": ["Relu"]})])
def test_import_helper_made_recurrent_layer(op_type, attrs, tmp_path):
    """ONNX's recurrent layers as other tools write them (no bias, no initial state: zeros)."""
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op_type]
    directions, hidden, features = (2 if attrs.get("direction") == "bidirectional" else 1), 3, 5
    rng = np.random.default_rng(6)
    w = rng.normal(0, 0.5, (directions, gates * hidden, features)).astype(np.float32)
    r = rng.normal(0, 0.5, (directions, gates * hidden, hidden)).astype(np.float32)
    node = helper.make_node(op_type, ["x", "w", "r"], ["y", "y_h"], hidden_size=hidden, **attrs)
    graph = helper.make_graph(
        [node], "recurrent", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 2, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, directions, 2, hidden]),
         helper.make_tensor_value_info("y_h", TensorProto.FLOAT, [directions, 2, hidden])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(r, "r")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "recurrent.onnx"
    onnx.save_model(model, str(path))
    sym, arg_params, aux_params = mx.onnx.import_model(str(path))
    x = rng.normal(size=(4, 2, features)).astype(np.float32)
    results = _cysym_forward(sym, arg_params, aux_params, {"x": x})
    for result, expected in zip(results, session(path).run(None, {"x": x})):
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("inputs,attrs,out_shape", [
    (["x", "", "scales"], dict(mode="linear", coordinate_transformation_mode="align_corners"),
     [2, 3, 8, 9]),
    (["x", "", "", "sizes"], dict(mode="linear", coordinate_transformation_mode="half_pixel"),
     [2, 3, 7, 4]),
    (["x", "", "integer_scales"], dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                                       nearest_mode="floor"), [2, 3, 8, 12])],
    ids=["scales", "sizes", "nearest"])
def test_import_helper_made_resize(inputs, attrs, out_shape, tmp_path):
    constants = {"scales": np.array([1, 1, 2, 1.5], np.float32), "sizes": np.array([2, 3, 7, 4]),
                 "integer_scales": np.array([1, 1, 2, 2], np.float32)}
    graph = helper.make_graph(
        [helper.make_node("Resize", inputs, ["y"], **attrs)], "resize",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializer=[numpy_helper.from_array(constants[name], name) for name in inputs[2:] if name])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "resize.onnx"
    onnx.save_model(model, str(path))
    sym, arg_params, aux_params = mx.onnx.import_model(str(path))
    x = np.random.default_rng(7).normal(size=(2, 3, 4, 6)).astype(np.float32)
    result = _cysym_forward(sym, arg_params, aux_params, {"x": x})[0]
    np.testing.assert_allclose(result, session(path).run(None, {"x": x})[0], rtol=1e-5, atol=1e-6)


def test_import_does_not_compute_growing_constants(tmp_path):
    """A constant broadcast to a huge shape in the file is not computed at import: the node
    stays a graph node (and cysym refuses the shape when it is bound, not at import)."""
    big = numpy_helper.from_array(np.array([1 << 20, 1 << 20], dtype=np.int64), "shape")
    one = numpy_helper.from_array(np.ones((1, 1), np.float32), "one")
    graph = helper.make_graph(
        [helper.make_node("Expand", ["one", "shape"], ["wide"]),
         helper.make_node("Add", ["x", "wide"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1 << 20, 1 << 20])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1 << 20, 1 << 20])],
        initializer=[big, one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "wide.onnx"
    onnx.save_model(model, str(path))
    sym, arg_params, _ = mx.onnx.import_model(str(path))
    assert sorted(arg_params) == ["one"]
    assert "broadcast_to" in sym.tojson()


def test_import_refuses_inconsistent_weights(tmp_path):
    """An LSTM whose weights do not hold hidden_size rows per gate: a clear error, no crash."""
    w = numpy_helper.from_array(np.ones((1, 10, 5), np.float32), "w")
    r = numpy_helper.from_array(np.ones((1, 12, 3), np.float32), "r")
    graph = helper.make_graph(
        [helper.make_node("LSTM", ["x", "w", "r"], ["y"], hidden_size=3)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 2, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 1, 2, 3])], initializer=[w, r])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "lstm.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(MXNetError, match="LSTM"):
        mx.onnx.import_model(str(path))
