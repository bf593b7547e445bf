"""Fuzzing operator attributes and input shapes: a row of the operator table (tests/test_ops.py)
with some parameters replaced by values on the edges of their kind (0, negative, 2**31, 2**63-1,
inf, nan, empty or long tuples...) and some input dimensions changed (0, 1, another size, one more
or one fewer axis), bound and run forward and backward in a child process (harness.Worker) on
arrays that end at a guard page (guarded.py). Acceptable: results or a cysym.MXNetError; a crash,
a hang, or any other exception fails with the case (hypothesis shrinks it).

    CYSYM_FUZZ_EXAMPLES=20000 CYSYM_FUZZ_RANDOM=1 python3 -m pytest -q tests/fuzz
"""
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from conftest import FUZZ
from cysym.registry import get_op
from harness import ACCEPTED

INTS = [0, 1, 2, 3, -1, -2, 7, 65536, 65537, 2 ** 31 - 1, 2 ** 31, 2 ** 62, 2 ** 63 - 1, -(2 ** 63)]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, 1e30, -1e30, math.inf, -math.inf, math.nan]
DIMS = [0, 1, 2, 3, 7]


def _cases():
    import test_ops
    return [case for case in test_ops.CASE_LIST if get_op(case.op).dynamic_shape is None]


CASES = _cases()


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@st.composite
def param_value(draw, param):
    if param.choices:
        return draw(st.sampled_from(list(param.choices) + ["not-a-choice"]))
    if param.kind == "int":
        return draw(st.sampled_from(INTS))
    if param.kind == "float":
        return draw(st.sampled_from(FLOATS))
    if param.kind == "bool":
        return draw(st.booleans())
    if param.kind in ("shape", "floats"):
        values = INTS if param.kind == "shape" else FLOATS
        return draw(st.lists(st.sampled_from(values), max_size=5))
    return draw(st.sampled_from(["", "x", "float32", "None"]))


@st.composite
def op_case(draw):
    case = draw(st.sampled_from(CASES))
    op = get_op(case.op)
    params = dict(_plain(case.params))
    tunable = sorted(name for name in op.params if name != op.variadic)
    for name in draw(st.lists(st.sampled_from(tunable), max_size=2, unique=True)) if tunable else []:
        params[name] = draw(param_value(op.params[name]))
    inputs = {name: list(shape) for name, (shape, _) in case.inputs.items()}
    for _ in range(draw(st.integers(0, 2)) if inputs else 0):
        name = draw(st.sampled_from(sorted(inputs)))
        shape = inputs[name]
        kind = draw(st.sampled_from(["dim", "dim", "add", "drop"]))
        if kind == "dim" and shape:
            shape[draw(st.integers(0, len(shape) - 1))] = draw(st.sampled_from(DIMS))
        elif kind == "add" and len(shape) < 6:
            shape.insert(draw(st.integers(0, len(shape))), draw(st.sampled_from(DIMS)))
        elif kind == "drop" and shape:
            del shape[draw(st.integers(0, len(shape) - 1))]
    aux = {name: list(shape) for name, (shape, _) in case.aux.items()}
    return {"kind": "op", "op": case.op, "params": params, "inputs": inputs, "aux": aux,
            "dtype": draw(st.sampled_from(["float32", "float64"])), "backward": draw(st.booleans())}


@FUZZ
@given(case=op_case())
def test_operators_on_edge_attributes_and_shapes(worker, case):
    outcome, detail = worker.run(case)
    assert outcome in ACCEPTED, f"{outcome}: {detail}"
