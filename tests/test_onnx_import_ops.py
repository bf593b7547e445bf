"""Every ONNX operator the importer maps, in a one-node model written with onnx.helper: the
imported cysym graph computes ONNX Runtime's outputs (float32)."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx_helpers import one_kernel_thread, session  # noqa: E402,F401

import cysym as mx  # noqa: E402
from cysym.onnx.import_ops import IMPORTERS  # noqa: E402

RNG = np.random.default_rng(11)
X = RNG.uniform(-1.5, 1.5, (2, 3, 4, 5)).astype(np.float32)
POSITIVE = RNG.uniform(0.5, 2.0, (2, 3, 4, 5)).astype(np.float32)
Y = RNG.uniform(-1.5, 1.5, (2, 3, 4, 5)).astype(np.float32)


def f32(*shape, low=-1.0, high=1.0):
    return RNG.uniform(low, high, shape).astype(np.float32)


def i64(*values):
    return np.array(values, dtype=np.int64)


class Row:
    """One imported model: `nodes` over graph inputs `feeds` and initializers `constants`."""

    def __init__(self, id, nodes, feeds=None, constants=None):
        self.id, self.nodes = id, nodes
        self.feeds = {"x": X} if feeds is None else feeds
        self.constants = constants or {}


def unary(op_type, data=X, **attrs):
    return Row(op_type, [helper.make_node(op_type, ["x"], ["y"], **attrs)], {"x": data})


def node(op_type, inputs, **attrs):
    return helper.make_node(op_type, inputs, ["y"], **attrs)


ROWS = [
    *(unary(op) for op in ("Abs", "Exp", "Neg", "Sigmoid", "Tanh", "Relu", "Softplus", "Softsign",
                           "Sign", "Identity", "Dropout")),
    unary("Log", POSITIVE), unary("Sqrt", POSITIVE), unary("Reciprocal", POSITIVE),
    *(unary(op) for op in ("Erf", "Floor", "Ceil", "Sin", "Cos", "Tan", "Atan", "Sinh", "Cosh",
                           "Asinh")),
    *(unary(op, X / 2) for op in ("Asin", "Acos", "Atanh")), unary("Acosh", POSITIVE + 1),
    unary("HardSigmoid", alpha=0.3, beta=0.4),
    # halves of both parities and signs go to the even neighbour
    unary("Round", np.concatenate([np.arange(-3.5, 4.0), X.ravel()[:112] * 4]).astype(np.float32)),
    Row("Mod", [node("Mod", ["x", "y2"])], {"x": np.round(X * 4).astype(np.int64),
                                            "y2": np.where(Y < 0, -3, 2).astype(np.int64)}),
    *(Row(op, [node(op, ["x", "a"], keepdims=0)], constants={"a": i64(1)})
      for op in ("ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2")),
    unary("ArgMax", axis=2, keepdims=0), unary("ArgMin", axis=-1),
    Row("TopK", [helper.make_node("TopK", ["x", "k"], ["y", "z"], axis=3, largest=0)],
        constants={"k": i64(2)}),
    Row("CumSum", [node("CumSum", ["x", "a"])], constants={"a": np.array(2, np.int64)}),
    Row("DepthToSpace", [node("DepthToSpace", ["d"], blocksize=2)], {"d": f32(2, 8, 3, 2)}),
    Row("SpaceToDepth", [node("SpaceToDepth", ["x"], blocksize=2)], {"x": f32(2, 3, 4, 6)}),
    *(Row(op, [node(op, ["x", "w"])], constants={"w": f32(1, 3, 1, 5)})
      for op in ("Add", "Sub", "Mul", "Div", "Max", "Min")),
    Row("Sum", [node("Sum", ["x", "w", "x2"])], {"x": X, "x2": Y}, {"w": f32(4, 5)}),
    Row("Pow", [node("Pow", ["x", "w"])], {"x": POSITIVE}, {"w": f32(5)}),
    unary("LeakyRelu", alpha=0.2), unary("Elu", alpha=0.5),
    Row("PRelu", [node("PRelu", ["x", "slope"])], constants={"slope": f32(3, 1, 1, low=0, high=0.5)}),
    Row("Clip", [node("Clip", ["x", "low", "high"])],
        constants={"low": np.array(-0.5, np.float32), "high": np.array(0.7, np.float32)}),
    unary("Cast", to=TensorProto.DOUBLE),
    *(Row(op, [node(op, ["x", "y2"]), helper.make_node("Cast", ["y"], ["z"], to=TensorProto.FLOAT)],
          {"x": np.round(X), "y2": np.round(Y)}) for op in ("Equal", "Greater", "GreaterOrEqual",
                                                             "Less", "LessOrEqual")),
    *(Row(op, [helper.make_node("Greater", ["x", "zero"], ["a"]),
               helper.make_node("Less", ["y2", "zero"], ["b"]), node(op, ["a", "b"]),
               helper.make_node("Not", ["y"], ["n"]), helper.make_node("Cast", ["n"], ["z"], to=1)],
          {"x": X, "y2": Y}, {"zero": np.array(0, np.float32)}) for op in ("And", "Or", "Xor")),
    Row("Where", [helper.make_node("Greater", ["x", "zero"], ["c"]), node("Where", ["c", "x", "y2"])],
        {"x": X, "y2": Y}, {"zero": np.array(0.2, np.float32)}),
    Row("Where-broadcast-integer-condition",
        [helper.make_node("Equal", ["columns", "chosen"], ["c"]), node("Where", ["c", "v", "x"])],
        {"x": f32(3, 4), "v": f32(3, 1)},
        {"columns": i64(0, 1, 2, 3).reshape(1, 4), "chosen": i64(2, 0, 7).reshape(3, 1)}),
    Row("Conv", [node("Conv", ["x", "w", "b"], pads=[1, 0, 1, 0], strides=[2, 1], group=1)],
        constants={"w": f32(6, 3, 3, 2), "b": f32(6)}),
    Row("ConvTranspose", [node("ConvTranspose", ["x", "w"], strides=[2, 2], output_padding=[1, 0])],
        constants={"w": f32(3, 2, 3, 3)}),
    Row("Gemm", [node("Gemm", ["m", "w", "b"], transB=1)], {"m": f32(4, 6)},
        {"w": f32(5, 6), "b": f32(5)}),
    Row("Gemm-not-transposed", [node("Gemm", ["m", "w"])], {"m": f32(4, 6)}, {"w": f32(6, 5)}),
    Row("MatMul", [node("MatMul", ["x", "w"])], constants={"w": f32(5, 7)}),
    Row("MatMul-batched", [node("MatMul", ["a", "b"])], {"a": f32(2, 3, 4), "b": f32(2, 4, 5)}),
    Row("BatchNormalization", [node("BatchNormalization", ["x", "s", "bias", "mean", "var"], epsilon=1e-3)],
        constants={"s": f32(3), "bias": f32(3), "mean": f32(3), "var": f32(3, low=0.5, high=1.5)}),
    Row("InstanceNormalization", [node("InstanceNormalization", ["x", "s", "b"], epsilon=1e-4)],
        constants={"s": f32(3), "b": f32(3)}),
    unary("LRN", size=3, alpha=0.01, beta=0.6, bias=1.5),
    unary("MaxPool", kernel_shape=[2, 3], strides=[2, 1], pads=[1, 1, 1, 1]),
    unary("AveragePool", kernel_shape=[3, 2], pads=[1, 0, 1, 0], count_include_pad=1, ceil_mode=1),
    unary("LpPool", kernel_shape=[2, 2], p=2),
    unary("GlobalAveragePool"), unary("GlobalMaxPool"),
    unary("Softmax", axis=1), unary("LogSoftmax", axis=-1),
    unary("Flatten", axis=1), Row("Flatten-axis0", [node("Flatten", ["x"], axis=0)]),
    Row("Reshape", [node("Reshape", ["x", "s"])], constants={"s": i64(0, -1, 10)}),
    unary("Transpose", perm=[0, 3, 1, 2]),
    Row("Concat", [node("Concat", ["x", "y2"], axis=2)], {"x": X, "y2": Y}),
    Row("Unsqueeze", [node("Unsqueeze", ["x", "a"])], constants={"a": i64(0, 3)}),
    Row("Squeeze", [node("Squeeze", ["s", "a"])], {"s": f32(2, 1, 3, 1)}, {"a": i64(1)}),
    Row("Slice", [node("Slice", ["x", "b", "e", "a", "st"])],
        constants={"b": i64(3, 0), "e": i64(0, 3), "a": i64(3, 1), "st": i64(-1, 2)}),
    Row("Split", [helper.make_node("Split", ["x", "s"], ["y", "z"], axis=3)], constants={"s": i64(2, 3)}),
    Row("Split-equal", [helper.make_node("Split", ["x"], ["y", "z"], axis=2, num_outputs=2)]),
    Row("Pad", [node("Pad", ["x", "p", "v"], mode="constant")],
        constants={"p": i64(0, 0, 1, 2, 0, 0, 2, 1), "v": np.array(0.5, np.float32)}),
    Row("Pad-reflect", [node("Pad", ["x", "p"], mode="reflect")],
        constants={"p": i64(0, 0, 1, 2, 0, 0, 2, 1)}),
    Row("Tile", [node("Tile", ["x", "r"])], constants={"r": i64(1, 2, 1, 3)}),
    Row("Expand", [node("Expand", ["s", "shape"])], {"s": f32(1, 3, 1)}, {"shape": i64(2, 3, 4)}),
    Row("Gather", [node("Gather", ["x", "i"], axis=2)], constants={"i": i64(3, -1, 0)}),
    *(Row(op, [node(op, ["x", "a"], keepdims=0)], constants={"a": i64(1, 3)})
      for op in ("ReduceSum",)),
    *(Row(op, [node(op, ["x", "a"], keepdims=1)], constants={"a": i64(2)})
      for op in ("ReduceMean", "ReduceMax", "ReduceMin")),
    Row("Shape", [node("Shape", ["x"])]),
    Row("Constant", [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(f32(5), "c")),
                     node("Add", ["x", "c"])]),
    Row("ConstantOfShape", [node("ConstantOfShape", ["s"],
                                 value=numpy_helper.from_array(np.array([0.5], np.float32)))],
        {}, {"s": i64(2, 3, 4)}),
    Row("ConstantOfShape-of-a-shape", [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("ConstantOfShape", ["s"], ["c"],
                         value=numpy_helper.from_array(np.array([2.5], np.float32))),
        node("Add", ["x", "c"])]),
    Row("Range", [node("Range", ["start", "limit", "delta"])], {},
        {"start": np.array(1.5, np.float32), "limit": np.array(7.0, np.float32),
         "delta": np.array(1.25, np.float32)}),
    Row("Range-int64", [node("Range", ["start", "limit", "delta"])], {},
        {"start": np.array(9, np.int64), "limit": np.array(-2, np.int64),
         "delta": np.array(-3, np.int64)}),
    Row("GatherND", [node("GatherND", ["x", "i"])], constants={"i": i64(1, 2, 0, -1).reshape(2, 2)}),
    Row("GatherND-fed-indices", [node("GatherND", ["x", "i"])],
        {"x": X, "i": i64(1, 2, 3, 0, 1, 2).reshape(2, 3)}),
    Row("ScatterND", [node("ScatterND", ["x", "i", "u"])], {"x": X, "u": f32(2, 4, 5)},
        {"i": i64(1, 2, 0, 0).reshape(2, 2)}),
    Row("GatherElements", [node("GatherElements", ["x", "i"], axis=2)],
        constants={"i": RNG.integers(-4, 4, (2, 3, 1, 5)).astype(np.int64)}),
    Row("OneHot", [node("OneHot", ["i", "depth", "v"])], {"i": RNG.integers(-5, 5, (3, 4))},
        {"depth": np.array(5, np.int64), "v": np.array([0.25, 2.0], np.float32)}),
    *(Row(op, [helper.make_node(op, ["x"], ["b"], **attrs),
               helper.make_node("Cast", ["b"], ["y"], to=TensorProto.FLOAT)],
          {"x": np.array([[1.5, np.nan, -np.inf], [np.inf, 0.0, np.nan]], np.float32)})
      for op, attrs in (("IsNaN", {}), ("IsInf", {}), ("IsInf", {"detect_negative": 0}),
                        ("IsInf", {"detect_positive": 0}))),
    Row("Size", [helper.make_node("Size", ["x"], ["n"]), node("Reshape", ["n", "one"])],
        constants={"one": i64(1)}),
    Row("Det", [node("Det", ["m"])], {"m": f32(2, 3, 3)}),
    unary("Selu"), unary("GlobalLpPool", p=2),
    Row("ReverseSequence", [node("ReverseSequence", ["s", "lengths"], batch_axis=1, time_axis=0)],
        {"s": f32(4, 3, 2), "lengths": i64(4, 1, 3)}),
    Row("RoiAlign", [node("RoiAlign", ["x", "rois", "batch"], output_height=2, output_width=3,
                          spatial_scale=0.5, sampling_ratio=2)],
        {"x": X, "rois": np.array([[0.5, 1.0, 6.0, 5.5], [2.0, 0.0, 9.0, 7.0], [1.0, 1.5, 3.0, 4.0]],
                                  np.float32), "batch": i64(1, 0, 1)}),
    Row("RoiAlign-output-half-pixel", [node("RoiAlign", ["x", "rois", "batch"], output_height=2,
                                            output_width=2, spatial_scale=0.5,
                                            coordinate_transformation_mode="output_half_pixel")],
        {"x": X, "rois": np.array([[0.5, 1.0, 6.0, 5.5], [2.0, 0.0, 9.0, 7.0]], np.float32),
         "batch": i64(1, 0)}),
    Row("MaxRoiPool", [node("MaxRoiPool", ["x", "rois"], pooled_shape=[2, 2], spatial_scale=0.5)],
        {"x": X, "rois": np.array([[1, 0.5, 1.0, 6.0, 5.5], [0, 2.0, 0.0, 9.0, 7.0]], np.float32)}),
    # points up to 1.3 beyond the corners: neighbours outside the image count as zeros
    Row("GridSample", [node("GridSample", ["x", "grid"], align_corners=1, mode="bilinear")],
        {"x": X, "grid": f32(2, 3, 6, 2, low=-1.3, high=1.3)}),
]
# one-node models of the recurrent layers and Resize are in test_onnx.py, the random
# generators in test_onnx_random.py
ELSEWHERE = {"LSTM", "GRU", "RNN", "Resize", "RandomUniform", "RandomNormal", "RandomUniformLike",
             "RandomNormalLike", "Multinomial"}


def _model(row):
    """The model, its outputs' shapes and dtypes read from ONNX Runtime (checker's full check
    wants them)."""
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for n, v in row.feeds.items()]
    outputs = [n for n in row.nodes[-1].output]
    initializers = [numpy_helper.from_array(v, n) for n, v in row.constants.items()]

    def build(shapes):
        values = [helper.make_tensor_value_info(n, t, s) for n, (t, s) in zip(outputs, shapes)]
        model = helper.make_model(helper.make_graph(row.nodes, "one_node", inputs, values,
                                                    initializer=initializers),
                                  opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 8
        return model

    draft = helper.make_model(helper.make_graph(
        row.nodes, "one_node", inputs, [helper.make_empty_tensor_value_info(n) for n in outputs],
        initializer=initializers), opset_imports=[helper.make_opsetid("", 18)])
    draft.ir_version = 8
    results = session(draft).run(None, row.feeds)
    return build([(helper.np_dtype_to_tensor_dtype(r.dtype), r.shape) for r in results]), results


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_imported_operator_matches_onnxruntime(row, tmp_path):
    model, expected = _model(row)
    path = tmp_path / "model.onnx"
    onnx.save_model(model, str(path))
    sym, arg_params, aux_params = mx.onnx.import_model(str(path))
    exe = sym.simple_bind(mx.cpu(), grad_req="null", **{n: v.shape for n, v in row.feeds.items()})
    exe.copy_params_from(arg_params, aux_params)
    results = exe.forward(is_train=False, **row.feeds)
    assert len(results) == len(expected)
    for result, wanted in zip(results, expected):
        result = np.asarray(result)
        assert result.shape == wanted.shape
        np.testing.assert_allclose(result.astype(np.float64), wanted.astype(np.float64),
                                   rtol=1e-5, atol=1e-6, err_msg=row.id)


def test_every_importer_is_tested():
    tested = {n.op_type for row in ROWS for n in row.nodes} | ELSEWHERE
    assert not set(IMPORTERS) - tested, sorted(set(IMPORTERS) - tested)
