"""ONNX model -> (cysym Symbol, arg_params, aux_params).

The file is untrusted: read_model refuses what is not a well-formed, well-typed ONNX model and
external-data paths that leave the model's folder, with an ONNXFormatError naming the file.
The graph is then rebuilt node by node with the importer table (import_ops.IMPORTERS).
"""
import os

import numpy as np

from ..base import MXNetError
from .export import require_onnx

__all__ = ["ONNXFormatError", "read_model", "import_model", "import_graph"]

# protobuf cannot hold a larger message; anything bigger is not an ONNX file
MAX_MODEL_BYTES = 2 ** 31 - 1


class ONNXFormatError(MXNetError, ValueError):
    """A file that is not a valid ONNX model (or reaches outside its folder)."""


def _tensors_of(graph):
    """Every TensorProto of a graph: initializers and Constant/attribute tensors, subgraphs too."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for subgraph in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                yield from _tensors_of(subgraph)


def _check_external_data(onnx, model, path):
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for tensor in _tensors_of(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = {entry.key: entry.value for entry in tensor.external_data}.get("location", "")
        target = os.path.realpath(os.path.join(folder, location))
        if (not location or os.path.isabs(location)
                or os.path.commonpath([folder, target]) != folder):
            raise ONNXFormatError(f"{path}: tensor {tensor.name!r} has its data in {location!r}, "
                                  f"outside the model's folder {folder}")
    try:
        onnx.external_data_helper.load_external_data_for_model(model, folder)
    except (OSError, ValueError) as err:
        raise ONNXFormatError(f"{path}: cannot read the external data: {err}") from None


def read_model(path):
    """The checked onnx.ModelProto in file `path`, external data loaded."""
    onnx = require_onnx()
    from google.protobuf.message import DecodeError
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        if size > MAX_MODEL_BYTES:
            raise ONNXFormatError(f"{path}: {size} bytes, more than an ONNX file can hold")
        with open(path, "rb") as file:
            data = file.read()
    except OSError as err:
        raise ONNXFormatError(f"{path}: cannot read the file: {err.strerror}") from None
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise ONNXFormatError(f"{path}: not an ONNX model (the protobuf does not parse: {err})") \
            from None
    if not model.HasField("graph") or not model.opset_import:
        raise ONNXFormatError(f"{path}: not an ONNX model (no graph or no opset)")
    _check_external_data(onnx, model, path)
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError, ValueError,
            RuntimeError) as err:
        message = str(err).strip().splitlines()
        raise ONNXFormatError(f"{path}: invalid ONNX model: {message[0] if message else err}") \
            from None
    return model


def import_model(model_file):
    """(sym, arg_params, aux_params) of the ONNX model in `model_file` (MXNet's
    mx.onnx.import_model); an MXNetError lists the ONNX operators cysym cannot import."""
    model = read_model(model_file)
    try:
        return import_graph(model)
    except MXNetError as err:
        raise type(err)(f"{model_file}: {err}") from None


def import_graph(model):
    """(sym, arg_params, aux_params) of an onnx.ModelProto."""
    from .import_ops import GraphBuilder
    return GraphBuilder(model).build()
