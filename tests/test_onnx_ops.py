"""Every operator the ONNX exporter converts, in the small graphs of the registry table
(test_ops.CASE_LIST): the exported model passes onnx.checker's full check, and ONNX Runtime and
onnx.reference.ReferenceEvaluator compute cysym's forward (inference) outputs in float32.
Cases that ONNX cannot express are refused by the one error naming the node and why: the
parameter forms listed in REFUSED, and every case of an operator without an exporter."""
from functools import lru_cache

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx_helpers import SideBySide, one_kernel_thread, session  # noqa: E402,F401

import cysym as mx  # noqa: E402
from cysym.base import MXNetError  # noqa: E402
from cysym.onnx.export import to_onnx  # noqa: E402
from cysym.onnx.export_ops import EXPORTERS, LOSS_HEADS, WITHOUT_ONNX_FORM  # noqa: E402
from cysym.registry import get_op  # noqa: E402
from opcase import OP_NAME  # noqa: E402
from opcases_contrib_vision import boxes  # noqa: E402
from opcases_detection import (PROPOSAL_PARAMS, grid_anchors, rpn_deltas, rpn_scores,  # noqa: E402
                               small_offsets, softmax_scores)
from test_ops import CASE_LIST  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
# Where ONNX computes through another formula than MXNet's kernel (composed normalizations,
# exp/log of different libms), float32 rounding differs by a few ulps of the inputs' scale
LOOSE_ATOL = {"LayerNorm": 1e-5, "GroupNorm": 1e-5, "L2Normalization": 1e-5, "LRN": 1e-5}
# Imported back, the deformable convolutions sample through cysym's float32 BilinearSampler at
# GridSample's float32 normalized coordinates (the kernel's positions are float64): each sample
# moves by a few 1e-7 of a pixel times the data's slope, summed over the taps
IMPORT_ATOL = {"_contrib_DeformableConvolution": 1e-5, "_contrib_ModulatedDeformableConvolution": 1e-5}
CASES = [case for case in CASE_LIST
         if get_op(case.op).name in EXPORTERS and get_op(case.op).dynamic_shape is None]
WITHOUT_EXPORTER = [case for case in CASE_LIST if get_op(case.op).name not in EXPORTERS]
# case id -> (what the refusal says, the opsets refusing it; None: all of them)
REFUSED = {
    # no ONNX recurrent layer projects its state or clips the cell state (ONNX's clip bounds
    # the gates' inputs)
    "RNN-lstm-L2-bi-states-proj3": ("projection_size", None),
    "RNN-lstm-L1-uni-states-proj2": ("projection_size", None),
    "RNN-lstm-L2-uni-states-lstm_state_clip_min=-0.3-lstm_state_clip_max=0.25":
        ("lstm_state_clip", None),
    # RoiAlign's half-pixel coordinates came with opset 16
    "_contrib_ROIAlign-aligned": ("aligned=True before opset 16", (13,)),
    "_contrib_ROIAlign-mxnet-aligned": ("aligned=True before opset 16", (13,)),
    # ONNX's Softmax takes no lengths; the exporter refuses the masked form
    "softmax-use_length": ("use_length=True", None),
    "softmax-use_length-axis1": ("use_length=True", None),
    # bilinear sampling is ONNX's GridSample, from opset 16
    **dict.fromkeys(("BilinearSampler", "BilinearSampler-cudnn-off", "SpatialTransformer",
                     "DeformableConvolution-groups-stride", "DeformableConvolution-dilate-nobias",
                     "ModulatedDeformableConvolution-groups-stride",
                     "ModulatedDeformableConvolution-dilate-nobias",
                     "_contrib_RROIAlign", "_contrib_RROIAlign-scaled-sampled",
                     "_contrib_DeformablePSROIPooling",
                     "_contrib_DeformablePSROIPooling-parts", "_contrib_DeformablePSROIPooling-no-trans"),
                    ("needs ONNX GridSample (opset 16)", (13,))),
}
# ONNX operators the exporter writes that onnx.reference does not implement: those models run
# in ONNX Runtime only (the test checks that the reference still lacks them)
REFERENCE_LACKS = {"ROIPooling": "MaxRoiPool", "_sample_multinomial": "Multinomial"}
# onnx.reference's GridSample knows only opset 20's mode name ("linear", not opset 16's
# "bilinear"): these operators run in it exported at opset 20, their first case each (its
# GridSample loops over every sample in Python; the test checks that it still refuses the
# older name)
REFERENCE_OPSET = {"BilinearSampler": 20, "SpatialTransformer": 20,
                   "_contrib_DeformableConvolution": 20, "_contrib_ModulatedDeformableConvolution": 20,
                   "_contrib_RROIAlign": 20, "_contrib_DeformablePSROIPooling": 20}
# cysym's reductions over every axis give (1,), as MXNet's: allclose's 0-d result imports so
IMPORTED_SHAPE = {"_contrib_allclose": (1,)}
# exported forms the importer cannot map back, (the ONNX operator, what the error says of it):
# NonMaxSuppression (selected indices in a shape known when the model runs) and Loop (the
# adaptive RROIAlign's loop over the largest region's samples) have no cysym form
NOT_IMPORTED = {
    **dict.fromkeys(("_contrib_box_nms", "_contrib_MultiBoxDetection", "_contrib_Proposal",
                     "_contrib_MultiProposal"),
                    ("NonMaxSuppression", "row count depends on the scores")),
    "_contrib_RROIAlign": ("Loop", "no control flow")}


def _graph_inputs(case, sym):
    """The model's inputs: the arguments but the label of a loss head."""
    labels = {"label"} if get_op(case.op).name in LOSS_HEADS else set()
    return [name for name in sym.list_arguments() if name not in labels]


@lru_cache(maxsize=None)
def _cysym_outputs(case):
    """(symbol, input values, aux values, cysym's inference outputs) in float32 (computed once
    per case: four tests read them)."""
    vals, aux = case.values()
    vals = {k: v.astype(np.float32) for k, v in vals.items()}
    aux = {f"{OP_NAME}_{k}": v.astype(np.float32) for k, v in aux.items()}
    sym = case.build({n: mx.sym.Variable(n) for n in case.inputs}, np.float32)
    types = {n: np.float32 for n in sym.list_arguments() + sym.list_auxiliary_states()}
    exe = sym.simple_bind(mx.cpu(), grad_req="null", type_dict=types,
                          **{n: v.shape for n, v in vals.items()})
    for name, value in vals.items():
        exe.arg_dict[name][:] = value
    for name, value in aux.items():
        exe.aux_dict[name][:] = value
    return sym, vals, aux, [np.array(out) for out in exe.forward(is_train=False)]


@lru_cache(maxsize=None)
def _exported(case, opset):
    """(model, feeds, cysym's outputs) of the case exported at `opset`."""
    sym, vals, aux, outputs = _cysym_outputs(case)
    names = _graph_inputs(case, sym)
    model = to_onnx(sym, aux, [vals[n].shape for n in names], opset_version=opset)
    return model, {n: vals[n] for n in names}, outputs


def _refusal(case, opset):
    """What the exporter says when it refuses the case at this opset, or None."""
    reason, opsets = REFUSED.get(case.id, (None, None))
    return reason if opsets is None or opset in opsets else None


def _assert_refused(export, op_name, reason=""):
    with pytest.raises(MXNetError) as error:
        export()
    message = str(error.value)
    assert "cannot export to ONNX" in message, message
    assert f"{op_name}(name='{OP_NAME}')" in message, message
    assert reason in message, message


# the random flips: the image or its flip, as each draw chooses (the frequencies are checked in
# test_onnx_random.py)
FLIP_AXES = {"_image_random_flip_left_right": -2, "_image_random_flip_top_bottom": -3}


def _assert_close(results, expected, case, runner, atol=None):
    assert len(results) == len(expected), f"{case.id} ({runner}): {len(results)} outputs"
    axis = FLIP_AXES.get(get_op(case.op).name)
    if axis is not None:
        image = _cysym_outputs(case)[1]["data"]
        flipped = np.flip(image, axis)
        expected = [flipped if np.array_equal(results[0], flipped) else image]
    atol = (atol or LOOSE_ATOL.get(get_op(case.op).name, ATOL)) * case.tol_scale
    for i, (result, wanted) in enumerate(zip(results, expected)):
        result = np.asarray(result)
        assert result.shape == wanted.shape, f"{case.id} ({runner}) output {i}: {result.shape}"
        np.testing.assert_allclose(result.astype(np.float64), wanted.astype(np.float64),
                                   rtol=RTOL, atol=atol, err_msg=f"{case.id} ({runner}) output {i}")


def _side_by_side(opset, cases):
    """The cases exported at `opset` (those whose export fails left out: their own test
    raises the error) as one SideBySide model."""
    models = {}
    for case in cases:
        try:
            models[case] = _exported(case, opset)[0]
        except MXNetError:
            continue
    return SideBySide(models)


def _run_side_by_side(merged, run, opset):
    """{case: outputs} of `run(model, feeds)` on all the merged cases' graphs at once."""
    results = run(merged.model, merged.feeds({case: _exported(case, opset)[1]
                                              for case in merged.prefixes}))
    return merged.outputs([output.name for output in merged.model.graph.output], results)


def _onnxruntime_run(opset):
    """ONNX Runtime's run of a model at `opset`: at 17 with its graph rewrites, as users run
    models; without them at the other opsets, which test the exported forms (the rewrites take
    two thirds of the time of a session of many small graphs)."""
    def run(model, feeds):
        return session(model, optimized=opset == 17).run(None, feeds)
    return run


def _reference_run(model, feeds):
    return ReferenceEvaluator(model).run(None, feeds)


@lru_cache(maxsize=None)
def _batched_onnxruntime(opset):
    """{case: ONNX Runtime's outputs} of every case exported at `opset`, from one model holding
    all their graphs (one full check and one session instead of hundreds); None when that model
    fails, so that each case runs alone and the failing ones are named."""
    merged = _side_by_side(opset, [case for case in CASES if not _refusal(case, opset)])
    try:
        onnx.checker.check_model(merged.model, full_check=True)
        return _run_side_by_side(merged, _onnxruntime_run(opset), opset)
    except Exception:
        return None


def _reference_evaluates(case):
    # onnx.reference's RNN has Tanh only (op_rnn.py: "Unknown activation function")
    return (case.params.get("mode") != "rnn_relu"
            and get_op(case.op).name not in {**REFERENCE_LACKS, **REFERENCE_OPSET})


@lru_cache(maxsize=None)
def _batched_reference():
    """{case: onnx.reference's outputs} at opset 17, as _batched_onnxruntime."""
    merged = _side_by_side(17, [case for case in CASES
                                if not _refusal(case, 17) and _reference_evaluates(case)])
    try:
        return _run_side_by_side(merged, _reference_run, 17)
    except Exception:
        return None


def _outputs(case, opset, batched, run):
    """The case's outputs from the batched run, or from its own model (checked in full) when
    the batch failed."""
    if batched is not None:
        return batched[case]
    model, feeds, _ = _exported(case, opset)
    onnx.checker.check_model(model, full_check=True)
    return run(model, feeds)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_exported_op_runs_in_onnxruntime_and_reference(case):
    op_name = get_op(case.op).name
    if _refusal(case, 17):
        _assert_refused(lambda: _exported(case, 17), op_name, _refusal(case, 17))
        return
    _, _, expected = _exported(case, 17)
    _assert_close(_outputs(case, 17, _batched_onnxruntime(17), _onnxruntime_run(17)), expected, case,
                  "onnxruntime")
    if op_name in REFERENCE_LACKS:
        with pytest.raises(Exception, match=REFERENCE_LACKS[op_name]):
            ReferenceEvaluator(_exported(case, 17)[0])
    if _reference_evaluates(case):
        _assert_close(_outputs(case, 17, _batched_reference(), _reference_run), expected, case,
                      "reference")
    if op_name in REFERENCE_OPSET and case is next(
            other for other in CASES if get_op(other.op).name == op_name and not _refusal(other, 17)):
        model, feeds, _ = _exported(case, 17)
        with pytest.raises(Exception, match="only supports nearest, linear, and cubic"):
            _reference_run(model, feeds)
        opset = REFERENCE_OPSET[op_name]
        model, feeds, _ = _exported(case, opset)
        onnx.checker.check_model(model, full_check=True)
        _assert_close(_reference_run(model, feeds), expected, case, f"reference, opset {opset}")


@pytest.mark.parametrize("opset", [13, 18])     # the oldest supported; reductions' axes as inputs
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_exported_op_at_other_opsets(case, opset):
    if _refusal(case, opset):
        _assert_refused(lambda: _exported(case, opset), get_op(case.op).name,
                        _refusal(case, opset))
        return
    _, _, expected = _exported(case, opset)
    _assert_close(_outputs(case, opset, _batched_onnxruntime(opset), _onnxruntime_run(opset)), expected,
                  case, f"onnxruntime, opset {opset}")


@pytest.mark.parametrize("case", WITHOUT_EXPORTER, ids=[case.id for case in WITHOUT_EXPORTER])
def test_operator_without_onnx_form_is_refused(case):
    """Operators ONNX has no form for (training-only updates, samplers of distributions ONNX
    lacks, most of linalg, ...) are named in the exporter's one error."""
    vals, aux = case.values()
    sym = case.build({n: mx.sym.Variable(n) for n in case.inputs}, np.float32)
    names = sym.list_arguments()
    types = [np.float32 if vals[n].dtype.kind == "f" else vals[n].dtype for n in names]
    params = {f"{OP_NAME}_{k}": v.astype(np.float32) for k, v in aux.items()}
    op_name = get_op(case.op).name
    _assert_refused(lambda: to_onnx(sym, params, [vals[n].shape for n in names], types),
                    op_name, WITHOUT_ONNX_FORM.get(op_name, "no exporter written yet"))


def test_operators_without_onnx_form_are_registered_and_not_exported():
    registered = {op.name for op in mx.registry.all_ops()}
    assert not set(WITHOUT_ONNX_FORM) - registered
    assert not set(WITHOUT_ONNX_FORM) & set(EXPORTERS)


def test_every_visible_operator_exports_or_says_why():
    """Each operator of cysym.sym has an exporter or a reason ONNX has no form for it
    (WITHOUT_ONNX_FORM): none is left with "no exporter written yet"."""
    missing = sorted(op.name for op in mx.registry.all_ops() if not op.hidden
                     and op.name not in EXPORTERS and op.name not in WITHOUT_ONNX_FORM)
    assert not missing, f"no exporter and no reason in WITHOUT_ONNX_FORM: {missing}"


def test_every_exporter_is_tested():
    """Each operator of the table exports in at least one case of the registry table."""
    exported = {get_op(case.op).name for case in CASES if not _refusal(case, 17)}
    registered = {op.name for op in mx.registry.all_ops()}
    untested = sorted(set(EXPORTERS) & registered - exported)
    assert not untested, f"exporters no registry case exercises: {untested}"
    assert not set(EXPORTERS) - registered, "exporters of operators cysym does not have"


@lru_cache(maxsize=None)
def _exported_trained(case):
    """(model, feeds, cysym's outputs) of the case exported as a trained model is: the first
    input fed, the others initializers."""
    sym, vals, aux, expected = _cysym_outputs(case)
    inputs = _graph_inputs(case, sym)
    params = {**aux, **{name: vals[name] for name in inputs[1:]}}
    model = to_onnx(sym, params, [vals[name].shape for name in inputs[:1]])
    return model, {name: vals[name] for name in inputs[:1]}, expected


def _import_refusal(case):
    """(the ONNX operator, the reason) the importer names when it refuses the case's model,
    or None."""
    missing, reason = NOT_IMPORTED.get(get_op(case.op).name, (None, None))
    model = _exported_trained(case)[0]
    return (missing, reason) if missing in {node.op_type for node in model.graph.node} else None


def _import_and_run(model, feeds, folder):
    """cysym's outputs of the ONNX model imported from a file (as users import one)."""
    path = folder / "imported.onnx"
    onnx.save_model(model, str(path))
    sym, arg_params, aux_params = mx.onnx.import_model(str(path))
    feeds = {name: value for name, value in feeds.items() if name in sym.list_arguments()}
    exe = sym.simple_bind(mx.cpu(), grad_req="null", **{n: v.shape for n, v in feeds.items()},
                          type_dict={n: v.dtype for n, v in feeds.items()})
    exe.copy_params_from(arg_params, aux_params)
    return [np.asarray(out) for out in exe.forward(is_train=False, **feeds)]


@pytest.fixture(scope="module")
def batched_import(tmp_path_factory):
    """{case: outputs} of every importable case imported as one model holding all their
    graphs; None when that model fails (each case then imports alone)."""
    try:
        cases = [case for case in CASES if not _refusal(case, 17) and not _import_refusal(case)]
        merged = SideBySide({case: _exported_trained(case)[0] for case in cases})
        results = _import_and_run(merged.model,
                                  merged.feeds({case: _exported_trained(case)[1] for case in cases}),
                                  tmp_path_factory.mktemp("batched_import"))
    except Exception:
        return None
    return merged.outputs([output.name for output in merged.model.graph.output], results)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_exported_op_imports_back(case, batched_import, tmp_path_factory):
    """cysym -> ONNX -> cysym computes the same outputs."""
    if _refusal(case, 17):
        return      # asserted by test_exported_op_runs_in_onnxruntime_and_reference
    model, feeds, expected = _exported_trained(case)
    refusal = _import_refusal(case)
    if refusal:
        path = tmp_path_factory.mktemp("refused") / "op.onnx"
        onnx.save_model(model, str(path))
        missing, reason = refusal
        with pytest.raises(MXNetError, match=f"cysym has no form for the ONNX operators .*{missing}"
                                             f".*{reason}"):
            mx.onnx.import_model(str(path))
        return
    results = (batched_import[case] if batched_import is not None
               else _import_and_run(model, feeds, tmp_path_factory.mktemp("imported")))
    shape = IMPORTED_SHAPE.get(get_op(case.op).name)
    if shape is not None:
        assert [np.shape(r) for r in results] == [shape], case.id
        results = [np.reshape(r, e.shape) for r, e in zip(results, expected)]
    _assert_close(results, expected, case, "imported", IMPORT_ATOL.get(get_op(case.op).name))


@pytest.mark.parametrize("op_name,inputs,params", [
    ("_contrib_MultiBoxDetection",
     {"cls_prob": ((4, 24), softmax_scores), "loc_pred": ((96,), small_offsets),
      "anchor": ((1, 24, 4), grid_anchors)}, dict(threshold=0.2, nms_threshold=0.4)),
    ("_contrib_MultiProposal",
     {"cls_prob": ((12, 3, 4), rpn_scores), "bbox_pred": ((24, 3, 4), rpn_deltas),
      "im_info": ((3,), lambda rng, shape: np.array([20.0, 27.0, 1.0]))}, PROPOSAL_PARAMS),
], ids=["MultiBoxDetection", "MultiProposal"])
def test_detection_outputs_with_a_dynamic_batch(op_name, inputs, params):
    """The detection exporters read the batch size from their inputs: one model runs at batch
    sizes 2 and 3 (the anchors stay one set)."""
    batched = [name for name in inputs if name != "anchor"]
    sym = getattr(mx.sym, op_name)(*[mx.sym.Variable(name) for name in inputs], **params)
    rng = np.random.default_rng(5)
    anchor = {"anchor": grid_anchors(rng, (1, 24, 4)).astype(np.float32)} if "anchor" in inputs else {}

    def values(batch):
        return {name: np.stack([make(rng, shape) for _ in range(batch)]).astype(np.float32)
                for name, (shape, make) in inputs.items() if name in batched}
    model = to_onnx(sym, anchor, [(2,) + inputs[name][0] for name in batched], dynamic=True)
    onnx.checker.check_model(model, full_check=True)
    runtime = session(model)
    for batch in (2, 3):
        feeds = values(batch)
        exe = sym.simple_bind(mx.cpu(), grad_req="null",
                              **{n: v.shape for n, v in {**feeds, **anchor}.items()})
        expected = exe.forward(is_train=False, **feeds, **anchor)[0]
        result = runtime.run(None, feeds)[0]
        assert result.shape == expected.shape, f"batch {batch}"
        np.testing.assert_allclose(result, np.asarray(expected), rtol=RTOL, atol=ATOL,
                                   err_msg=f"batch {batch}")


@pytest.mark.parametrize("op_name,params,trans", [
    ("_contrib_RROIAlign", dict(pooled_size=(2, 3), spatial_scale=0.5), False),
    ("_contrib_RROIAlign", dict(pooled_size=(2, 3), spatial_scale=0.5, sampling_ratio=2), False),
    ("_contrib_PSROIPooling", dict(spatial_scale=0.5, output_dim=2, pooled_size=2), False),
    ("_contrib_DeformablePSROIPooling", dict(spatial_scale=0.5, output_dim=2, group_size=2,
                                             pooled_size=2, sample_per_part=2, trans_std=0.1), True),
], ids=["RROIAlign-adaptive", "RROIAlign-sampled", "PSROIPooling", "DeformablePSROIPooling"])
def test_region_operators_with_a_dynamic_batch(op_name, params, trans):
    """The region operators read the batch size from the data when it is dynamic: exported at
    batch 2 (the regions' count fixed), regions of the third image at batch 3 are pooled, not
    taken as outside the data."""
    rng = np.random.default_rng(7)
    rotated = op_name == "_contrib_RROIAlign"
    names = ["data", "rois"] + (["trans"] if trans else [])
    sym = getattr(mx.sym, op_name)(*[mx.sym.Variable(name) for name in names], name=OP_NAME, **params)

    count = 5

    def values(batch):
        images = np.arange(count) % batch
        if rotated:     # [image, centre x, centre y, width, height, degrees]: up to 2x the map
            rois = np.column_stack([images, rng.uniform(0, 14, count), rng.uniform(0, 12, count),
                                    rng.uniform(1, 28, count), rng.uniform(1, 24, count),
                                    rng.uniform(-180, 180, count)])
        else:
            rois = np.column_stack([images, boxes(rng, (count, 5))[:, 1:]])
        feeds = {"data": rng.normal(size=(batch, 8, 6, 7)), "rois": rois}
        if trans:
            feeds["trans"] = rng.uniform(-0.4, 0.4, (count, 2, 2, 2))
        return {name: value.astype(np.float32) for name, value in feeds.items()}
    shapes = [value.shape for value in values(2).values()]
    model = to_onnx(sym, {}, shapes, dynamic=True,
                    dynamic_input_shapes=[(None,) + shapes[0][1:]] + shapes[1:])
    onnx.checker.check_model(model, full_check=True)
    runtime = session(model)
    for batch in (2, 3):
        feeds = values(batch)
        exe = sym.simple_bind(mx.cpu(), grad_req="null", **{n: v.shape for n, v in feeds.items()})
        expected = np.asarray(exe.forward(is_train=False, **feeds)[0])
        np.testing.assert_allclose(runtime.run(None, feeds)[0], expected, rtol=RTOL, atol=ATOL,
                                   err_msg=f"batch {batch}")


def test_parameter_forms_without_an_onnx_graph_are_refused():
    """all_finite keeping its previous output (init_output=False) is a state; a split_v2 of a
    dynamic batch axis would need sizes known when the model runs, a slice assignment
    positions that follow the batch size."""
    data = mx.sym.Variable("data")
    kept = mx.sym.all_finite(data, init_output=False, name=OP_NAME)
    _assert_refused(lambda: to_onnx(kept, {}, [(3, 4)]), "all_finite", "init_output=False")
    pieces = mx.sym._split_v2(data, indices=(0, 1), axis=0, name=OP_NAME)
    _assert_refused(lambda: to_onnx(pieces, {}, [(3, 4)], dynamic=True), "_split_v2",
                    "batch axis")
    window = mx.sym._slice_assign_scalar(data, scalar=1.0, begin=(0,), end=(1,), name=OP_NAME)
    _assert_refused(lambda: to_onnx(window, {}, [(3, 4)], dynamic=True), "_slice_assign_scalar",
                    "dynamic batch axis")
    model = to_onnx(mx.sym._split_v2(data, indices=(0, 1), axis=1, name=OP_NAME), {}, [(3, 4)],
                    dynamic=True)
    first, rest = session(model).run(None, {"data": np.arange(20, dtype=np.float32).reshape(5, 4)})
    assert first.shape == (5, 1) and rest.shape == (5, 3)


# MXNet 1.9.1's BilinearSampler of data = arange(12).reshape(1, 1, 3, 4) * 0.25 - 1 at the grid
# x = EDGE_POINTS[j], y = EDGE_POINTS[i] (made with /tmp/mxref: mx.nd.BilinearSampler, float32):
# the corners (+-1), just inside and outside them, and points whose neighbours are all outside
EDGE_POINTS = [-1.5, -1.0, -0.9999, 0.0, 0.9999, 1.0, 1.0001, 1.2, 1.5]
MXNET_EDGE_SAMPLES = [
    [-0.125, -0.5, -0.499981254, -0.3125, -0.125018746, -0.125, -0.124981225, -0.0874999762,
     -0.03125],
    [-0.25, -1.0, -0.999962509, -0.625, -0.250037491, -0.25, -0.249962449, -0.174999952, -0.0625],
    [-0.249974996, -0.999899983, -0.999862432, -0.624899983, -0.249937475, -0.249899983,
     -0.249862447, -0.174929932, -0.0624749959],
    [0.0, 0.0, 3.75062227e-05, 0.375, 0.749962509, 0.75, 0.749887347, 0.524999857, 0.1875],
    [0.249974996, 0.999899983, 0.999937475, 1.37489998, 1.74986243, 1.74989998, 1.74963713,
     1.22492969, 0.437474996],
    [0.25, 1.0, 1.00003755, 1.375, 1.74996257, 1.75, 1.74973714, 1.22499967, 0.4375],
    [0.249974966, 0.999899864, 0.999937356, 1.37486231, 1.74978733, 1.74982476, 1.74956191,
     1.224877, 0.437456191],
    [0.199999988, 0.799999952, 0.800029933, 1.0999999, 1.39996982, 1.39999986, 1.39978957,
     0.979999661, 0.349999964],
    [0.125, 0.5, 0.500018775, 0.6875, 0.874981284, 0.875, 0.874868572, 0.612499833, 0.21875]]


@pytest.mark.parametrize("opset", [16, 17, 20])
def test_grid_sample_matches_mxnet_bilinear_sampler_on_edge_points(opset):
    """ONNX GridSample with align_corners=1 and zeros padding is MXNet's BilinearSampler at the
    image's borders and outside it (ONNX Runtime, and onnx.reference where it knows the mode's
    name), as cysym's kernel is."""
    data = (np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4) * 0.25 - 1.0)
    x = np.tile(np.array(EDGE_POINTS, np.float32), (len(EDGE_POINTS), 1))
    grid = np.stack([x, x.T])[None]
    expected = np.array(MXNET_EDGE_SAMPLES, np.float32).reshape(1, 1, 9, 9)
    sym = mx.sym.BilinearSampler(mx.sym.Variable("data"), mx.sym.Variable("grid"), name=OP_NAME)
    exe = sym.simple_bind(mx.cpu(), grad_req="null", data=data.shape, grid=grid.shape)
    np.testing.assert_allclose(np.asarray(exe.forward(data=data, grid=grid)[0]), expected,
                               rtol=RTOL, atol=ATOL, err_msg="cysym")
    model = to_onnx(sym, {}, [data.shape, grid.shape], opset_version=opset)
    onnx.checker.check_model(model, full_check=True)
    feeds = {"data": data, "grid": grid}
    np.testing.assert_allclose(session(model).run(None, feeds)[0], expected, rtol=RTOL, atol=ATOL,
                               err_msg="onnxruntime")
    if opset >= REFERENCE_OPSET["BilinearSampler"]:
        np.testing.assert_allclose(_reference_run(model, feeds)[0], expected, rtol=RTOL,
                                   atol=ATOL, err_msg="reference")


def test_operator_support_by_opset():
    """get_operator_support lists the exporters, the GridSample ones from opset 16 only; each
    registry case of those is refused below it (REFUSED) and exported from it."""
    from cysym.onnx.export_ops import GRID_SAMPLERS
    assert mx.onnx.get_operator_support() == sorted(EXPORTERS)
    assert mx.onnx.get_operator_support(16) == sorted(EXPORTERS)
    assert mx.onnx.get_operator_support(13) == sorted(set(EXPORTERS) - set(GRID_SAMPLERS))
    sampling_cases = [case for case in CASES if get_op(case.op).name in GRID_SAMPLERS]
    exported = {get_op(case.op).name for case in sampling_cases if not _refusal(case, 17)}
    assert exported == set(GRID_SAMPLERS)
    for case in sampling_cases:
        assert _refusal(case, 13), case.id


@pytest.mark.parametrize("interp", [0, 1, 2, 3, 4])
def test_image_resize_every_interpolation(interp):
    """Float images in every interpolation of _image_resize, enlarged, shrunk, halved (OpenCV
    takes area averages then) and at the same size, in ONNX Runtime as in cysym."""
    image = np.random.default_rng(interp).uniform(0, 255, (2, 6, 8, 3)).astype(np.float32)
    for size in [(11, 7), (5, 4), (4, 3), (8, 6)]:
        sym = mx.sym.image.resize(mx.sym.Variable("data"), size=size, interp=interp, name=OP_NAME)
        exe = sym.simple_bind(mx.cpu(), grad_req="null", data=image.shape)
        expected = np.asarray(exe.forward(data=image)[0])
        model = to_onnx(sym, {}, [image.shape])
        onnx.checker.check_model(model, full_check=True)
        np.testing.assert_allclose(session(model).run(None, {"data": image})[0], expected,
                                   rtol=RTOL, atol=ATOL, err_msg=f"size {size}")


# uint8 images resized by every interpolation: (image shape, sizes (width, height)) covering
# OpenCV's paths: enlarging, 2x2 halving, whole-factor blocks (2 along one axis only; 3x3),
# fractional area shrinking, shrinking one axis while enlarging the other, the same size; the
# 4-D image's models take a dynamic batch
UINT8_RESIZES = [((2, 8, 10, 3), [(13, 11), (5, 4), (7, 5), (10, 4), (5, 12), (10, 8)]),
                 ((9, 6, 1), [(2, 3)])]


@lru_cache(maxsize=None)
def _uint8_resizes():
    """{(shape, size, interp): (symbol, [image, cysym's resized image] at batch 2 and 3)} of
    UINT8_RESIZES (computed once for both opsets)."""
    rng = np.random.default_rng(13)
    resizes = {}
    for shape, sizes in UINT8_RESIZES:
        for size in sizes:
            for interp in range(5):
                sym = mx.sym.image.resize(mx.sym.Variable("data"), size=size, interp=interp,
                                          name=OP_NAME)
                pairs = []
                for batch in (2, 3):
                    image = rng.integers(0, 256, (batch,) + shape[1:] if len(shape) == 4
                                         else shape).astype(np.uint8)
                    exe = sym.simple_bind(mx.cpu(), grad_req="null", data=image.shape,
                                          type_dict={"data": np.uint8})
                    pairs.append((image, np.asarray(exe.forward(data=image)[0])))
                resizes[(shape, size, interp)] = sym, pairs
    return resizes


@pytest.mark.parametrize("opset", [13, 17])
def test_uint8_image_resize_is_exact(opset, tmp_path):
    """uint8 images in OpenCV's fixed-point and float32 arithmetic: ONNX Runtime (at batch
    sizes 2 and 3), onnx.reference and the model imported back into cysym give cysym's bytes
    (which are MXNet 1.9.1's), every interpolation and path of UINT8_RESIZES in one model."""
    resizes = _uint8_resizes()
    exported = {key: to_onnx(sym, {}, [key[0]], np.uint8, dynamic=len(key[0]) == 4,
                             opset_version=opset) for key, (sym, _) in resizes.items()}
    merged = SideBySide(exported)
    onnx.checker.check_model(merged.model, full_check=True)
    runtime = session(merged.model)
    runs = [("onnxruntime, batch 2", 0, merged, lambda model, feeds: runtime.run(None, feeds)),
            ("onnxruntime, batch 3", 1, merged, lambda model, feeds: runtime.run(None, feeds))]
    if opset == 17:
        runs.append(("reference", 0, merged, _reference_run))
        runs.append(("imported", 0, merged,
                     lambda model, feeds: _import_and_run(model, feeds, tmp_path)))
    for runner, batch, side_by_side, run in runs:
        feeds = {key: {"data": resizes[key][1][batch][0]} for key in side_by_side.prefixes}
        results = side_by_side.outputs([output.name for output in side_by_side.model.graph.output],
                                       run(side_by_side.model, side_by_side.feeds(feeds)))
        for key, (result,) in results.items():
            assert result.dtype == np.uint8, f"{key} ({runner})"
            np.testing.assert_array_equal(result, resizes[key][1][batch][1],
                                          err_msg=f"{key} ({runner})")


def test_hawkesll_int32_marks_and_edge_lengths():
    """MXNet's int32 marks, marks outside [0, K) (skipped events whose lags still count),
    valid lengths of 0, a fraction and past the sequence: ONNX Runtime computes cysym's, also
    with a dynamic batch at another batch size."""
    rng = np.random.default_rng(4)
    samples, kinds, steps = 3, 2, 5
    values = {"lda": rng.uniform(0.5, 1.5, (samples, kinds)), "alpha": rng.uniform(0.1, 0.6, kinds),
              "beta": rng.uniform(0.5, 1.5, kinds), "state": rng.uniform(0.1, 0.6, (samples, kinds)),
              "lags": rng.uniform(0.1, 0.6, (samples, steps)),
              "marks": np.array([[0, 1, -1, 1, 0], [1, 2, 0, 0, 1], [1, 1, 0, 5, 0]]),
              "valid_length": np.array([0.0, 2.5, 10.0]), "max_time": np.array([2.0, 3.1, 4.0])}
    values = {name: value.astype(np.int32 if name == "marks" else np.float32)
              for name, value in values.items()}
    sym = mx.sym._contrib_hawkesll(*[mx.sym.Variable(name) for name in values], name=OP_NAME)
    exe = sym.simple_bind(mx.cpu(), grad_req="null",
                          type_dict={name: value.dtype for name, value in values.items()},
                          **{name: value.shape for name, value in values.items()})
    expected = [np.asarray(out) for out in exe.forward(**values)]
    per_mark = ("alpha", "beta")       # the other inputs have the samples first
    for dynamic in (False, True):
        model = to_onnx(sym, {}, [value.shape for value in values.values()],
                        [value.dtype for value in values.values()], dynamic=dynamic,
                        dynamic_input_shapes=[value.shape if name in per_mark else
                                              (None,) + value.shape[1:] for name, value in values.items()])
        onnx.checker.check_model(model, full_check=True)
        count = 2 if dynamic else samples     # the dynamic model on the first two samples
        feeds = {name: value if name in per_mark else value[:count] for name, value in values.items()}
        for result, wanted in zip(session(model).run(None, feeds), expected):
            np.testing.assert_allclose(result, wanted[:count], rtol=RTOL, atol=ATOL,
                                       err_msg=f"dynamic={dynamic}")
