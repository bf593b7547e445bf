"""Comparison, logical and mod operators beyond the registry table: MXNet 1.9.1's numbers where
its maps are not obvious (mod's signs, NaN's truth), every legacy JSON name, and the op names
that Symbol's Python operators write."""
import json

import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError
from cysym.registry import find_op

DTYPES = [np.float32, np.float64]


def run(sym, dtype=np.float64, **inputs):
    exe = sym.simple_bind(mx.cpu(), grad_req="null", type_dict={n: dtype for n in inputs},
                          **{n: np.shape(v) for n, v in inputs.items()})
    for n, v in inputs.items():
        exe.arg_dict[n][:] = v
    return np.array(exe.forward()[0])


def gradients(sym, **inputs):
    exe = sym.simple_bind(mx.cpu(), grad_req="write", **{n: np.shape(v) for n, v in inputs.items()},
                          type_dict={n: np.float64 for n in inputs})
    for n, v in inputs.items():
        exe.arg_dict[n][:] = v
    out = exe.forward(is_train=True)[0]
    exe.backward([np.ones(out.shape)])
    return {n: np.array(exe.grad_dict[n]) for n in inputs}


# Made with MXNet 1.9.1 (MXNET_SUBGRAPH_BACKEND=NONE /tmp/mxref/bin/python), from float32 arrays
# (so 1e-8 is float32's):  a = mx.nd.array(A).astype(dt); b = mx.nd.array(B).astype(dt)
#   (a % b), (a % -1.5), (2.5 % a), mx.nd.broadcast_mod(a.reshape((2, 4)), b[:4].reshape((1, 4)))
A = [-3.5, -1.0, 0.0, 2.5, 7.0, -0.0, 1e-8, -7.25]
B = [2.0, -2.0, 0.0, -0.75, 0.0, 3.0, -1.0, 2.0]
MXNET_MOD = {
    np.float32: {"mod": [0.5, -1.0, 0.0, -0.5, 0.0, -0.0, -1.0, 0.75],
                 "mod_scalar": [-0.5, -1.0, 0.0, -0.5, -0.5, 0.0, -1.5, -1.25],
                 "rmod_scalar": [-1.0, -0.5, 0.0, 0.0, 2.5, 0.0, 5.193677488080084e-09, -4.75],
                 "broadcast_mod": [[0.5, -1.0, 0.0, -0.5], [1.0, 0.0, 0.0, -0.5]]},
    np.float64: {"mod": [0.5, -1.0, 0.0, -0.5, 0.0, -0.0, -0.9999999900000001, 0.75],
                 "mod_scalar": [-0.5, -1.0, 0.0, -0.5, -0.5, 0.0, -1.49999999, -1.25],
                 "rmod_scalar": [-1.0, -0.5, 0.0, 0.0, 2.5, 0.0, 5.193677488080084e-09, -4.75],
                 "broadcast_mod": [[0.5, -1.0, 0.0, -0.5], [1.0, 0.0, 0.0, -0.5]]},
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_mod_gives_mxnets_numbers(dtype):
    a, b = np.array(A, np.float32).astype(dtype), np.array(B, np.float32).astype(dtype)
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    expected = MXNET_MOD[dtype]
    np.testing.assert_array_equal(run(x % y, dtype, x=a, y=b), np.array(expected["mod"], dtype))
    np.testing.assert_array_equal(run(x % -1.5, dtype, x=a), np.array(expected["mod_scalar"], dtype))
    np.testing.assert_array_equal(run(2.5 % x, dtype, x=a), np.array(expected["rmod_scalar"], dtype))
    np.testing.assert_array_equal(run(mx.sym.broadcast_mod(x, y), dtype, x=a.reshape(2, 4), y=b[:4].reshape(1, 4)),
                                  np.array(expected["broadcast_mod"], dtype))
    # the sign of a zero result is the dividend's, as fmod gives it
    assert np.signbit(run(x % y, dtype, x=a, y=b)[5])


def test_mod_gradients_are_mxnets():
    # MXNet 1.9.1, autograd: z = _mod(x, y) -> x.grad, y.grad; z = _rmod_scalar(x, scalar=2.5) -> x.grad
    x = np.array([-3.5, -1.0, 0.0, 2.5, 7.0, -7.25])
    y = np.array([2.0, -2.0, 1.5, -0.75, 3.0, 2.0])
    grads = gradients(mx.sym.Variable("x") % mx.sym.Variable("y"), x=x, y=y)
    np.testing.assert_array_equal(grads["x"], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(grads["y"], [2.0, -0.0, -0.0, 4.0, -2.0, 4.0])
    grads = gradients(2.5 % mx.sym.Variable("x"), x=x)
    np.testing.assert_array_equal(grads["x"], [1.0, 3.0, -np.inf, -1.0, -0.0, 1.0])


def test_nan_is_true_and_unequal_to_itself():
    # MXNet 1.9.1: logical_not, _logical_and_scalar(scalar=1), _logical_xor_scalar(scalar=1),
    # n == n and n != n of [nan, 0, -0, 2]
    n = np.array([np.nan, 0.0, -0.0, 2.0])
    x = mx.sym.Variable("x")
    checks = [(mx.sym.logical_not(x), [0, 1, 1, 0]),
              (mx.sym._internal._logical_and_scalar(x, scalar=1), [1, 0, 0, 1]),
              (mx.sym._internal._logical_xor_scalar(x, scalar=1), [0, 1, 1, 0]),
              (x == x, [0, 1, 1, 1]), (x != x, [1, 0, 0, 0])]
    for sym, expected in checks:
        np.testing.assert_array_equal(run(sym, x=n), expected)


# -- legacy JSON names --------------------------------------------------------------------------

# every name MXNet 1.9.1 registers for these operators besides the canonical one
# (add_alias and MXNET_ADD_SPARSE_OP_ALIAS in src/operator/tensor/elemwise_*.cc)
LEGACY_NAMES = {
    "_equal_scalar": "_EqualScalar", "_not_equal_scalar": "_NotEqualScalar",
    "_greater_scalar": "_GreaterScalar", "_greater_equal_scalar": "_GreaterEqualScalar",
    "_lesser_scalar": "_LesserScalar", "_lesser_equal_scalar": "_LesserEqualScalar",
    "_logical_and_scalar": "_LogicalAndScalar", "_logical_or_scalar": "_LogicalOrScalar",
    "_logical_xor_scalar": "_LogicalXorScalar", "_hypot_scalar": "_HypotScalar",
    "_mod_scalar": "_ModScalar", "_rmod_scalar": "_RModScalar",
    "_plus_scalar": "_PlusScalar", "_minus_scalar": "_MinusScalar", "_rminus_scalar": "_RMinusScalar",
    "_mul_scalar": "_MulScalar", "_div_scalar": "_DivScalar", "_rdiv_scalar": "_RDivScalar",
    "_power_scalar": "_PowerScalar", "_rpower_scalar": "_RPowerScalar",
    "_maximum_scalar": "_MaximumScalar", "_minimum_scalar": "_MinimumScalar",
    "_equal": "_Equal", "_not_equal": "_Not_Equal", "_greater": "_Greater",
    "_greater_equal": "_Greater_Equal", "_lesser": "_Lesser", "_lesser_equal": "_Lesser_Equal",
    "_logical_and": "_Logical_And", "_logical_or": "_Logical_Or", "_logical_xor": "_Logical_Xor",
    "_mod": "_Mod", "_power": "_Power", "_maximum": "_Maximum", "_minimum": "_Minimum", "_hypot": "_Hypot",
}
SPARSE_NAMES = ["elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "broadcast_add",
                "broadcast_plus", "broadcast_sub", "broadcast_minus", "broadcast_mul", "broadcast_div",
                "exp", "log", "sqrt", "rsqrt", "square", "abs", "sign", "relu", "sigmoid", "tanh",
                "negative", "clip", "add_n", "ElementWiseSum"]
ALIASES = sorted([(legacy, canonical) for canonical, legacy in LEGACY_NAMES.items()]
                 + [(f"_sparse_{name}", find_op(name).name) for name in SPARSE_NAMES]
                 + [("_Plus", "elemwise_add"), ("_Minus", "elemwise_sub"), ("_Mul", "elemwise_mul"),
                    ("_Div", "elemwise_div")])


def legacy_json(op_name, num_inputs, attrs):
    """A graph file as an old MXNet writes it: variables x0.., one node of `op_name`."""
    nodes = [{"op": "null", "name": f"x{i}", "inputs": []} for i in range(num_inputs)]
    nodes.append({"op": op_name, "name": "node", "attrs": attrs,
                  "inputs": [[i, 0, 0] for i in range(num_inputs)]})
    return json.dumps({"nodes": nodes, "arg_nodes": list(range(num_inputs)),
                       "node_row_ptr": list(range(num_inputs + 2)), "heads": [[num_inputs, 0, 0]],
                       "attrs": {"mxnet_version": ["int", 10300]}})


@pytest.mark.parametrize("legacy,canonical", ALIASES, ids=[a for a, _ in ALIASES])
def test_legacy_name_loads_and_runs_as_its_operator(legacy, canonical):
    op = find_op(canonical)
    assert find_op(legacy) is op
    if op.variadic:
        attrs = {op.variadic: "2"}
    elif "scalar" in op.params:
        attrs = {"scalar": "0.5"}
    elif "a_min" in op.params:
        attrs = {"a_min": "-0.5", "a_max": "0.5"}
    else:
        attrs = {}
    num_inputs = len(op.input_names(op.parse_params(attrs)))
    loaded = mx.sym.load_json(legacy_json(legacy, num_inputs, attrs))
    assert json.loads(loaded.tojson())["nodes"][-1]["op"] == canonical
    rng = np.random.default_rng(0)
    inputs = {f"x{i}": rng.uniform(0.5, 2.0, (2, 3)) for i in range(num_inputs)}
    direct = mx.sym.load_json(legacy_json(canonical, num_inputs, attrs))
    np.testing.assert_array_equal(run(loaded, **inputs), run(direct, **inputs))


# -- Symbol's Python operators -------------------------------------------------------------------

# Made with MXNet 1.9.1: json.loads((expression).tojson())['nodes'][-1] -> (op, name, attrs)
OPERATOR_NODES = [
    (lambda x, y: x > 1, "_greater_scalar", "_greater_scalar0", {"scalar": "1"}),
    (lambda x, y: x == y, "_equal", "_equal0", {}),
    (lambda x, y: x % 2, "_mod_scalar", "_modscalar0", {"scalar": "2"}),
    (lambda x, y: 2 % x, "_rmod_scalar", "_rmodscalar0", {"scalar": "2"}),
    (lambda x, y: x % y, "_mod", "_mod0", {}),
    (lambda x, y: x != 1.5, "_not_equal_scalar", "_not_equal_scalar0", {"scalar": "1.5"}),
    (lambda x, y: x <= y, "_lesser_equal", "_lesser_equal0", {}),
    (lambda x, y: 3 > x, "_lesser_scalar", "_lesser_scalar0", {"scalar": "3"}),
    (lambda x, y: x >= 0.5, "_greater_equal_scalar", "_greater_equal_scalar0", {"scalar": "0.5"}),
    (lambda x, y: x < y, "_lesser", "_lesser0", {}),
    (lambda x, y: x > y, "_greater", "_greater0", {}),
    (lambda x, y: x >= y, "_greater_equal", "_greater_equal0", {}),
    (lambda x, y: x != y, "_not_equal", "_not_equal0", {}),
    (lambda x, y: x == 2, "_equal_scalar", "_equal_scalar0", {"scalar": "2"}),
    (lambda x, y: 2 ** x, "_rpower_scalar", "_rpower_scalar0", {"scalar": "2"}),
    (lambda x, y: abs(x), "abs", "abs0", {}),
]


@pytest.mark.parametrize("expression,op,name,attrs", OPERATOR_NODES, ids=[n for _, _, n, _ in OPERATOR_NODES])
def test_python_operators_write_mxnets_nodes(expression, op, name, attrs):
    with mx.name.NameManager():
        sym = expression(mx.sym.Variable("x"), mx.sym.Variable("y"))
    node = json.loads(sym.tojson())["nodes"][-1]
    assert (node["op"], node["name"], node.get("attrs", {})) == (op, name, attrs)


def test_python_operators_compute():
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    a, b = np.array([[0.0, 1.0, 2.0]]), np.array([[1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(run(x > y, x=a, y=b), [[0, 0, 1]])
    np.testing.assert_array_equal(run(1 <= x, x=a), [[0, 1, 1]])
    np.testing.assert_array_equal(run(x % 1.5, x=a), [[0, 1, 0.5]])


def test_symbol_has_no_truth_value_and_no_hash():
    x = mx.sym.Variable("x")
    with pytest.raises(MXNetError, match="bool"):
        bool(x == 1)
    with pytest.raises(TypeError):
        hash(x)
    assert (x == "text") is False
    with pytest.raises(TypeError):
        x > "text"
