"""Every operator the ONNX exporter converts, in the small graphs of the registry table
(test_ops.CASE_LIST): the exported model passes onnx.checker's full check, and ONNX Runtime and
onnx.reference.ReferenceEvaluator compute cysym's forward (inference) outputs in float32."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx.reference import ReferenceEvaluator  # noqa: E402

import cysym as mx  # noqa: E402
from cysym.base import MXNetError  # noqa: E402
from cysym.onnx.export import to_onnx  # noqa: E402
from cysym.onnx.export_ops import EXPORTERS, LOSS_HEADS  # noqa: E402
from cysym.registry import get_op  # noqa: E402
from opcase import OP_NAME  # noqa: E402
from test_ops import CASE_LIST  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
# Where ONNX computes through another formula than MXNet's kernel (composed normalizations,
# exp/log of different libms), float32 rounding differs by a few ulps of the inputs' scale
LOOSE_ATOL = {"LayerNorm": 1e-5, "GroupNorm": 1e-5, "L2Normalization": 1e-5, "LRN": 1e-5}
CASES = [case for case in CASE_LIST
         if get_op(case.op).name in EXPORTERS and get_op(case.op).dynamic_shape is None]


def _graph_inputs(case, sym):
    """The model's inputs: the arguments but the label of a loss head."""
    labels = {"label"} if get_op(case.op).name in LOSS_HEADS else set()
    return [name for name in sym.list_arguments() if name not in labels]


def _cysym_outputs(case):
    """(symbol, input values, aux values, cysym's inference outputs) in float32."""
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


def _exported(case, opset=17):
    sym, vals, aux, outputs = _cysym_outputs(case)
    names = _graph_inputs(case, sym)
    model = to_onnx(sym, aux, [vals[n].shape for n in names], opset_version=opset)
    return model, {n: vals[n] for n in names}, outputs


def _exportable(case):
    try:
        _exported(case)
    except MXNetError as err:
        if "cannot export" in str(err):
            return False
        raise
    return True


def _assert_close(results, expected, case, runner):
    assert len(results) == len(expected), f"{case.id} ({runner}): {len(results)} outputs"
    atol = LOOSE_ATOL.get(get_op(case.op).name, ATOL) * case.tol_scale
    for i, (result, wanted) in enumerate(zip(results, expected)):
        result = np.asarray(result)
        assert result.shape == wanted.shape, f"{case.id} ({runner}) output {i}: {result.shape}"
        np.testing.assert_allclose(result.astype(np.float64), wanted.astype(np.float64),
                                   rtol=RTOL, atol=atol, err_msg=f"{case.id} ({runner}) output {i}")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_exported_op_runs_in_onnxruntime_and_reference(case):
    try:
        model, feeds, expected = _exported(case)
    except MXNetError as err:
        if "cannot export" not in str(err):
            raise
        pytest.skip(str(err))
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    _assert_close(session.run(None, feeds), expected, case, "onnxruntime")
    if case.params.get("mode") == "rnn_relu":
        return   # onnx.reference's RNN has Tanh only (op_rnn.py: "Unknown activation function")
    _assert_close(ReferenceEvaluator(model).run(None, feeds), expected, case, "reference")


@pytest.mark.parametrize("opset", [13, 18])     # the oldest supported; reductions' axes as inputs
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_exported_op_at_other_opsets(case, opset):
    try:
        model, feeds, expected = _exported(case, opset=opset)
    except MXNetError as err:
        if "cannot export" not in str(err):
            raise
        pytest.skip(str(err))
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    _assert_close(session.run(None, feeds), expected, case, f"onnxruntime, opset {opset}")


def test_every_exporter_is_tested():
    """Each operator of the table exports in at least one case of the registry table."""
    exported = {get_op(case.op).name for case in CASES if _exportable(case)}
    registered = {op.name for op in mx.registry.all_ops()}
    untested = sorted(set(EXPORTERS) & registered - exported)
    assert not untested, f"exporters no registry case exercises: {untested}"
    assert not set(EXPORTERS) - registered, "exporters of operators cysym does not have"
