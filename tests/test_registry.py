"""The operator registry: declarations, parameter parsing, generated functions."""
import inspect

import pytest

import cysym as mx
from cysym import registry
from cysym.base import OperatorError
from cysym.registry import OpDef, Param

REQUIRED_BY_ISSUE = [
    "FullyConnected", "Activation", "SoftmaxOutput", "Softmax", "LinearRegressionOutput",
    "LogisticRegressionOutput", "MAERegressionOutput", "MakeLoss", "BlockGrad", "Flatten", "Reshape",
    "Concat", "SliceChannel", "split", "Dropout", "Convolution", "Pooling", "BatchNorm", "LeakyReLU",
    "Embedding", "softmax", "log_softmax", "elemwise_add", "elemwise_sub", "elemwise_mul",
    "elemwise_div", "broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div",
    "_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_div_scalar", "_rdiv_scalar",
    "_power_scalar", "_rpower_scalar", "sum", "mean", "max", "min", "dot", "transpose", "expand_dims",
    "exp", "log", "sqrt", "square", "abs", "sign", "relu", "sigmoid", "tanh", "clip", "zeros_like",
    "ones_like",
]


@pytest.mark.parametrize("name", REQUIRED_BY_ISSUE)
def test_required_operators_are_registered_and_exported(name):
    op = registry.find_op(name)
    assert op is not None and not op.hidden
    function = getattr(mx.sym, name, None) or getattr(mx.sym._internal, name)
    assert callable(function)


def test_all_ops_lists_each_operator_once_sorted():
    ops = registry.all_ops()
    names = [op.name for op in ops]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    assert registry.find_op("Softmax") is registry.find_op("SoftmaxOutput")


def test_hidden_ops_are_not_exported():
    hidden = [op for op in registry.all_ops() if op.hidden]
    assert hidden, "the backward ops are registered as hidden"
    for op in hidden:
        assert not hasattr(mx.sym, op.name)


def test_get_op_unknown_is_an_operator_error():
    with pytest.raises(OperatorError, match="NoSuchOp"):
        registry.get_op("NoSuchOp")
    assert registry.find_op("NoSuchOp") is None


def test_registering_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(OpDef("FullyConnected"))
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(OpDef("a_new_name_for_a_test", aliases=("Softmax",)))
    assert registry.find_op("a_new_name_for_a_test") is None   # nothing half-registered


@pytest.mark.parametrize("kind, text, expected", [
    ("int", "3", 3), ("int", "2.0", 2), ("int", 5, 5), ("float", "0.25", 0.25), ("float", 2, 2.0),
    ("bool", "True", True), ("bool", "false", False), ("bool", "1", True), ("bool", 0, False),
    ("shape", "(3, 2)", (3, 2)), ("shape", "[3,2]", (3, 2)), ("shape", "5", (5,)), ("shape", "()", ()),
    ("shape", (2, 5), (2, 5)), ("str", "relu", "relu"),
])
def test_param_parses_mxnet_strings_and_python_values(kind, text, expected):
    assert Param("p", kind).parse(text) == expected


@pytest.mark.parametrize("param, value", [
    (Param("p", "int"), "2.5"), (Param("p", "int"), True), (Param("p", "int"), "x"),
    (Param("p", "bool"), "maybe"), (Param("p", "shape"), "(2, 'a')"), (Param("p", "shape"), "(2.5,)"),
    (Param("p", "str", choices=("a", "b")), "c"), (Param("p", "int", low=1), 0),
    (Param("p", "float", high=1.0), 1.5), (Param("p", "shape", length=(1, 2)), (1, 2, 3)),
    (Param("p", "int"), None),
])
def test_param_rejects_bad_values(param, value):
    with pytest.raises((ValueError, TypeError)):
        param.parse(value)


def test_optional_param_accepts_none():
    assert Param("p", "int", None, optional=True).parse("None") is None
    assert Param("p", "int", None, optional=True).parse(None) is None


def test_parse_params_fills_defaults_and_names_the_instance():
    op = registry.get_op("FullyConnected")
    assert op.parse_params({"num_hidden": "4"}) == {"num_hidden": 4, "no_bias": False, "flatten": True}
    with pytest.raises(OperatorError, match=r"FullyConnected\(name='fc9'\)"):
        op.parse_params({"num_hidden": "four"}, "fc9")


def test_structure_depends_on_parameters():
    fc = registry.get_op("FullyConnected")
    assert fc.input_names({"no_bias": True}) == ["data", "weight"]
    assert fc.input_names({"no_bias": False}) == ["data", "weight", "bias"]
    bn = registry.get_op("BatchNorm")
    params = bn.parse_params({})
    assert bn.aux_names(params) == ["moving_mean", "moving_var"]
    assert bn.num_visible_outputs(params) == 1
    concat = registry.get_op("Concat")
    assert concat.input_names({"num_args": 3, "dim": 1}) == ["arg0", "arg1", "arg2"]


def test_every_op_function_has_a_signature_and_docstring():
    for op in registry.all_ops():
        if op.hidden:
            continue
        function = getattr(mx.sym, op.name, None) or getattr(mx.sym._internal, op.name)
        signature = inspect.signature(function)
        assert "name" in signature.parameters and "attr" in signature.parameters
        for param in op.params:
            if param != op.variadic:
                assert param in signature.parameters, (op.name, param)
        assert function.__doc__ and "Parameters" in function.__doc__


def test_every_op_has_a_shape_rule_or_is_elementwise():
    # an op without a rule falls back to 'all shapes equal'; only ops whose inputs and outputs
    # really share one shape may rely on that
    for op in registry.all_ops():
        if op.hidden:
            continue
        if op.infer_shape is None:
            assert op.output_names({k: p.default for k, p in op.params.items()}) == ["output"], op.name
