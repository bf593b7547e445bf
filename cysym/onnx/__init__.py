"""mx.onnx: export a cysym (MXNet) graph to ONNX and import ONNX models.

`onnx` (and `onnxruntime`, for running exported models) are the optional extra `cysym[onnx]`:
they are imported when a function here is called, so `import cysym` works without them.

An export that meets operators it cannot write raises one error naming every such node and
why. ONNX has no equivalent of the gamma, Poisson and negative binomial samplers, of
``gamma``/``gammaln``/``erfinv``, of linalg's factorizations and inverse, of ``boolean_mask``
(a shape that depends on values), ``bipartite_matching``, ``Custom`` and the training
operators (losses, targets, optimizer updates): ``cysym.onnx.export_ops.WITHOUT_ONNX_FORM``
lists them with the reason. Bilinear sampling (``BilinearSampler``, ``SpatialTransformer``,
the deformable convolutions, ``RROIAlign``, ``DeformablePSROIPooling``) is ONNX's
``GridSample``, which opset 16 brought: below it those operators are refused with that
reason. Parameter forms without an ONNX graph are refused too: LSTM projections and state
clipping, ``all_finite(init_output=False)``, ``split_v2`` along a dynamic batch axis and
RoiAlign's ``aligned=True`` below opset 16. An import of ``NonMaxSuppression`` is refused: the
number of boxes it selects depends on the scores, and cysym knows every shape when a graph is
bound; so is ``Loop`` (the adaptive ``RROIAlign``'s export): cysym's graphs have no control
flow.
"""
import numpy as np

__all__ = ["export_model", "import_model", "get_operator_support"]


def export_model(sym, params, in_shapes=None, in_types=np.float32, onnx_file_path="model.onnx",
                 verbose=False, dynamic=False, dynamic_input_shapes=None, run_shape_inference=False,
                 input_type=None, input_shape=None, opset_version=None):
    """Write `sym` with `params` as an ONNX model to onnx_file_path and return the path.

    MXNet 1.9's mx.onnx.export_model: sym is a Symbol or a -symbol.json path; params a dict
    (keys with or without 'arg:'/'aux:'), a list [arg_params, aux_params] or a .params path;
    in_shapes/in_types give the graph inputs (the variables without a value in params, labels of
    loss heads left out) in order; dynamic=True makes the dimensions that are None in
    dynamic_input_shapes symbolic (all of them when it is None). opset_version defaults to 17.
    """
    from .export import export_model as _export_model
    return _export_model(sym, params, in_shapes=in_shapes, in_types=in_types,
                         onnx_file_path=onnx_file_path, verbose=verbose, dynamic=dynamic,
                         dynamic_input_shapes=dynamic_input_shapes,
                         run_shape_inference=run_shape_inference, input_type=input_type,
                         input_shape=input_shape, opset_version=opset_version)


def import_model(model_file):
    """(sym, arg_params, aux_params) of an ONNX file, for the ONNX operators cysym has."""
    from .importer import import_model as _import_model
    return _import_model(model_file)


def get_operator_support(opset_version=None):
    """The cysym operator names the exporter converts at opset_version (sorted; None: the
    default, 17). Below opset 16 the operators that sample bilinearly (ONNX GridSample) are
    left out; a few parameter values need 16 too (ROIAlign's aligned=True)."""
    from .export import DEFAULT_OPSET
    from .export_ops import EXPORTERS, GRID_SAMPLE_OPSET, GRID_SAMPLERS
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    return sorted(name for name in EXPORTERS
                  if opset >= GRID_SAMPLE_OPSET or name not in GRID_SAMPLERS)
