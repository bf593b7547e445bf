"""The exporter table: one function per cysym operator, writing its ONNX nodes.

An exporter receives a cysym.onnx.export.NodeContext `g` and must produce g.outputs (ONNX value
names) from g.inputs; it raises Unsupported (g.fail) for parameter values ONNX cannot express.
Loss heads export as their inference op (SoftmaxOutput -> Softmax, ...), Dropout as Identity.
"""
import math

import numpy as np

__all__ = ["EXPORTERS", "GRID_SAMPLE_OPSET", "GRID_SAMPLERS", "LOSS_HEADS", "WITHOUT_ONNX_FORM",
           "Unsupported", "refusal"]

EXPORTERS = {}
# heads whose second input is a label the exported (inference) model does not read
LOSS_HEADS = ("SoftmaxOutput", "LinearRegressionOutput", "LogisticRegressionOutput",
              "MAERegressionOutput", "SVMOutput")
INT64_MAX, INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


# operators ONNX has no equivalent of, and why (the export error says it; an operator in
# neither table says "no exporter written yet")
WITHOUT_ONNX_FORM = {}
for _names, _reason in [
        (("_random_gamma", "_random_gamma_like", "_sample_gamma", "_random_poisson",
          "_random_poisson_like", "_sample_poisson", "_random_negative_binomial",
          "_random_negative_binomial_like", "_sample_negative_binomial",
          "_random_generalized_negative_binomial", "_random_generalized_negative_binomial_like",
          "_sample_generalized_negative_binomial", "_sample_unique_zipfian", "_shuffle"),
         "ONNX's random generators are uniform, normal, Bernoulli and multinomial only"),
        (("gamma", "gammaln", "erfinv", "_random_pdf_gamma", "_random_pdf_poisson",
          "_random_pdf_negative_binomial", "_random_pdf_generalized_negative_binomial",
          "_random_pdf_dirichlet"), "ONNX has no gamma, log-gamma or inverse error function"),
        (("_linalg_potrf", "_linalg_potri", "_linalg_trsm", "_linalg_inverse", "_linalg_gelqf",
          "_linalg_syevd"), "ONNX has no matrix factorization, inverse or triangular solve"),
        (("_contrib_boolean_mask",), "its output's shape depends on the mask's values"),
        (("_contrib_bipartite_matching",), "a greedy matching, one pair after another"),
        (("Custom",), "its forward is Python code"),
        (("CTCLoss", "_contrib_MultiBoxTarget", "multi_lars", "multi_sum_sq", "sgd_update",
          "sgd_mom_update", "mp_sgd_update", "mp_sgd_mom_update", "multi_sgd_update",
          "multi_sgd_mom_update", "multi_mp_sgd_update", "multi_mp_sgd_mom_update",
          "preloaded_multi_sgd_update", "preloaded_multi_sgd_mom_update",
          "preloaded_multi_mp_sgd_update", "preloaded_multi_mp_sgd_mom_update", "nag_mom_update",
          "mp_nag_mom_update", "adam_update", "_adamw_update", "_mp_adamw_update",
          "_multi_adamw_update", "_multi_mp_adamw_update", "lamb_update_phase1",
          "lamb_update_phase2", "mp_lamb_update_phase1", "mp_lamb_update_phase2",
          "_multi_lamb_update", "_multi_mp_lamb_update", "ftml_update", "ftrl_update",
          "rmsprop_update", "rmspropalex_update", "signsgd_update", "signum_update"),
         "a training operator (loss, target or optimizer update): ONNX models infer")]:
    WITHOUT_ONNX_FORM.update(dict.fromkeys(_names, _reason))


def refusal(op_name, node_name):
    """What the export error says of a node whose operator has no exporter."""
    reason = WITHOUT_ONNX_FORM.get(op_name, "no exporter written yet")
    return f"{op_name}(name='{node_name}'): {reason}"


class Unsupported(Exception):
    """An operator, or these parameters of it, has no form on the other side (ONNX when
    exporting, cysym when importing)."""


def exporter(*names):
    def decorate(function):
        for name in names:
            EXPORTERS[name] = function
        return function
    return decorate


# ---------------------------------------------------------------------------------------------
# helpers

def _reshape(g, value, output=None):
    """Reshape to the node's output shape (computed from the batch size when dynamic)."""
    return g.emit1("Reshape", [value, g.out_shape_value()], output)


def _axes(axis, ndim):
    return [a % ndim for a in axis]


def _reduce(g, op_type, value, axes, keepdims, output=None):
    """ReduceX over `axes` (None: all); opset 18 (and ReduceSum from 13) takes axes as input."""
    if op_type == "ReduceSum" or g.opset >= 18:
        inputs = [value] + ([] if axes is None else [g.ints(axes, "axes")])
        return g.emit1(op_type, inputs, output, keepdims=int(keepdims))
    return g.emit1(op_type, [value], output, keepdims=int(keepdims),
                   axes=None if axes is None else list(axes))


def _channel_shape(ndim, axis=1):
    """Shape (C, 1, ..., 1) of a per-channel vector broadcast against a rank-ndim tensor."""
    return [-1] + [1] * (ndim - axis - 1)


def _tensor_type(dtype):
    from onnx.helper import np_dtype_to_tensor_dtype
    return np_dtype_to_tensor_dtype(np.dtype(dtype))


def _as_dtype(g, value, dtype, output=None):
    return g.emit1("Cast", [value], output, to=_tensor_type(dtype))


# ---------------------------------------------------------------------------------------------
# elementwise

def _unary(op_type):
    def export(g):
        g.emit(op_type, [g.inputs[0]], g.outputs[:1])    # Dropout's mask output is never read
    return export


for _name, _op_type in {"abs": "Abs", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "negative": "Neg",
                        "reciprocal": "Reciprocal", "sigmoid": "Sigmoid", "tanh": "Tanh",
                        "relu": "Relu", "sign": "Sign", "softsign": "Softsign",
                        "_copy": "Identity", "BlockGrad": "Identity", "MakeLoss": "Identity",
                        "Dropout": "Identity", "LinearRegressionOutput": "Identity",
                        "MAERegressionOutput": "Identity", "SVMOutput": "Identity",
                        "IdentityAttachKLSparseReg": "Identity",
                        "LogisticRegressionOutput": "Sigmoid",
                        "arccos": "Acos", "arccosh": "Acosh", "arcsin": "Asin", "arcsinh": "Asinh",
                        "arctan": "Atan", "arctanh": "Atanh", "cos": "Cos", "cosh": "Cosh",
                        "sin": "Sin", "sinh": "Sinh", "tan": "Tan", "erf": "Erf", "ceil": "Ceil",
                        "floor": "Floor",
                        # forward passes: only their gradients differ from these
                        "_contrib_gradientmultiplier": "Identity", "_contrib_sign_ste": "Sign",
                        # the rhs is read for its shape and dtype only
                        "_identity_with_attr_like_rhs": "Identity"}.items():
    EXPORTERS[_name] = _unary(_op_type)


@exporter("round", "fix", "trunc", "_contrib_round_ste")
def _round_or_truncate(g):
    """sign(x) * floor(|x| + 0.5) for MXNet's round and round_ste (halves away from zero; ONNX's
    Round goes to the even neighbour), sign(x) * floor(|x|) toward zero."""
    x = g.inputs[0]
    magnitude = g.emit1("Abs", [x])
    if g.op in ("round", "_contrib_round_ste"):
        magnitude = g.emit1("Add", [magnitude, g.scalar(0.5)])
    g.emit("Mul", [g.emit1("Sign", [x]), g.emit1("Floor", [magnitude])], g.outputs)


@exporter("rint")
def _rint(g):
    """The nearer of floor(x) and ceil(x), floor on a tie (MXNet's rint; ONNX's Round takes the
    even one)."""
    x = g.inputs[0]
    below, above = g.emit1("Floor", [x]), g.emit1("Ceil", [x])
    nearer_below = g.emit1("LessOrEqual", [g.emit1("Sub", [x, below]), g.emit1("Sub", [above, x])])
    g.emit("Where", [nearer_below, below, above], g.outputs)


@exporter("log10", "log2")
def _log_base(g):
    base = 10.0 if g.op == "log10" else 2.0
    g.emit("Div", [g.emit1("Log", [g.inputs[0]]), g.scalar(math.log(base))], g.outputs)


@exporter("log1p")
def _log1p(g):
    g.emit("Log", [g.emit1("Add", [g.inputs[0], g.scalar(1.0)])], g.outputs)


@exporter("expm1")
def _expm1(g):
    g.emit("Sub", [g.emit1("Exp", [g.inputs[0]]), g.scalar(1.0)], g.outputs)


@exporter("cbrt", "rcbrt")
def _cbrt(g):
    x = g.inputs[0]     # sign(x) |x|^(1/3): Pow of a negative base to 1/3 is NaN
    root = g.emit1("Mul", [g.emit1("Sign", [x]),
                           g.emit1("Pow", [g.emit1("Abs", [x]), g.scalar(1.0 / 3.0)])],
                   g.outputs[0] if g.op == "cbrt" else None)
    if g.op == "rcbrt":
        g.emit("Reciprocal", [root], g.outputs)


@exporter("degrees", "radians")
def _angle(g):
    factor = 180.0 / math.pi if g.op == "degrees" else math.pi / 180.0
    g.emit("Mul", [g.inputs[0], g.scalar(factor)], g.outputs)


@exporter("hard_sigmoid")
def _hard_sigmoid(g):
    g.emit("HardSigmoid", [g.inputs[0]], g.outputs, alpha=g.params["alpha"], beta=g.params["beta"])


@exporter("smooth_l1")
def _smooth_l1(g):
    """0.5 (sigma x)^2 where |x| < 1 / sigma^2, |x| - 0.5 / sigma^2 elsewhere."""
    x, sigma2 = g.inputs[0], g.params["scalar"] ** 2
    magnitude = g.emit1("Abs", [x])
    inner = g.emit1("Mul", [g.emit1("Mul", [x, x]), g.scalar(0.5 * sigma2)])
    outer = g.emit1("Sub", [magnitude, g.scalar(0.5 / sigma2)])
    g.emit("Where", [g.emit1("Less", [magnitude, g.scalar(1.0 / sigma2)]), inner, outer], g.outputs)


@exporter("square")
def _square(g):
    g.emit("Mul", [g.inputs[0], g.inputs[0]], g.outputs)


@exporter("rsqrt")
def _rsqrt(g):
    g.emit("Reciprocal", [g.emit1("Sqrt", [g.inputs[0]])], g.outputs)


def _binary(op_type):
    def export(g):
        g.emit(op_type, g.inputs[:2], g.outputs)
    return export


def _comparison(op_type, negate=False):
    """MXNet's comparisons give 0/1 in the inputs' dtype; ONNX's give booleans."""
    def export(g):
        result = g.emit1(op_type, g.inputs[:2])
        if negate:
            result = g.emit1("Not", [result])
        _as_dtype(g, result, g.out_dtype(), g.outputs[0])
    return export


def _logical(op_type):
    def export(g):
        operands = [_as_dtype(g, value, np.bool_) for value in g.inputs[:2]]
        _as_dtype(g, g.emit1(op_type, operands), g.out_dtype(), g.outputs[0])
    return export


def _scalar(binary_export, reverse=False):
    """The _<op>_scalar form of a binary exporter: the scalar is a constant of the data dtype."""
    def export(g):
        scalar = g.scalar(g.params["scalar"])
        inputs = [scalar, g.inputs[0]] if reverse else [g.inputs[0], scalar]
        binary_export(_WithInputs(g, inputs))
    return export


class _WithInputs:
    """A NodeContext seen with other inputs (the scalar forms reuse the binary exporters), and
    other attributes where `overrides` name them (params, outputs, in_shape...)."""

    def __init__(self, context, inputs, **overrides):
        self._context, self.inputs = context, inputs
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._context, name)


def _hypot(g):
    a, b = g.inputs[:2]
    squares = g.emit1("Add", [g.emit1("Mul", [a, a]), g.emit1("Mul", [b, b])])
    g.emit("Sqrt", [squares], g.outputs)


def _mod(g):
    """MXNet's mod takes the divisor's sign (Python's %); ONNX's float Mod is C's fmod."""
    a, b = g.inputs[:2]
    if np.dtype(g.out_dtype()).kind != "f":
        g.emit("Mod", [a, b], g.outputs, fmod=0)
        return
    remainder = g.emit1("Mod", [a, b], fmod=1)
    zero = g.scalar(0.0)
    nonzero = g.emit1("Not", [g.emit1("Equal", [remainder, zero])])
    signs_differ = g.emit1("Xor", [g.emit1("Less", [remainder, zero]), g.emit1("Less", [b, zero])])
    result = g.emit1("Where", [g.emit1("And", [nonzero, signs_differ]),
                               g.emit1("Add", [remainder, b]), remainder])
    # MXNet's x mod 0 is 0, not NaN
    g.emit("Where", [g.emit1("Equal", [b, zero]), zero, result], g.outputs)


_BINARY = {"add": _binary("Add"), "sub": _binary("Sub"), "mul": _binary("Mul"),
           "div": _binary("Div"), "maximum": _binary("Max"), "minimum": _binary("Min"),
           "power": _binary("Pow"), "hypot": _hypot, "mod": _mod,
           "equal": _comparison("Equal"), "not_equal": _comparison("Equal", negate=True),
           "greater": _comparison("Greater"), "greater_equal": _comparison("GreaterOrEqual"),
           "lesser": _comparison("Less"), "lesser_equal": _comparison("LessOrEqual"),
           "logical_and": _logical("And"), "logical_or": _logical("Or"),
           "logical_xor": _logical("Xor")}
for _name, _export in _BINARY.items():
    EXPORTERS[f"broadcast_{_name}"] = _export
for _name in ("add", "sub", "mul", "div"):
    EXPORTERS[f"elemwise_{_name}"] = _BINARY[_name]
for _name in ("maximum", "minimum", "power", "hypot", "mod", "equal", "not_equal", "greater",
              "greater_equal", "lesser", "lesser_equal", "logical_and", "logical_or", "logical_xor"):
    EXPORTERS[f"_{_name}"] = _BINARY[_name]
    EXPORTERS[f"_{_name}_scalar"] = _scalar(_BINARY[_name])
for _name, _binary_name in (("plus", "add"), ("minus", "sub"), ("mul", "mul"), ("div", "div")):
    EXPORTERS[f"_{_name}_scalar"] = _scalar(_BINARY[_binary_name])
EXPORTERS["_rminus_scalar"] = _scalar(_BINARY["sub"], reverse=True)
EXPORTERS["_rdiv_scalar"] = _scalar(_BINARY["div"], reverse=True)
EXPORTERS["_rpower_scalar"] = _scalar(_BINARY["power"], reverse=True)
EXPORTERS["_rmod_scalar"] = _scalar(_BINARY["mod"], reverse=True)


@exporter("logical_not")
def _logical_not(g):
    _as_dtype(g, g.emit1("Not", [_as_dtype(g, g.inputs[0], np.bool_)]), g.out_dtype(), g.outputs[0])


@exporter("add_n")
def _add_n(g):
    g.emit("Sum", g.inputs, g.outputs)


@exporter("clip")
def _clip(g):
    g.emit("Clip", [g.inputs[0], g.scalar(g.params["a_min"]), g.scalar(g.params["a_max"])], g.outputs)


@exporter("Cast")
def _cast(g):
    _as_dtype(g, g.inputs[0], g.params["dtype"], g.outputs[0])


@exporter("where")
def _where(g):
    condition = g.inputs[0]
    if g.in_shape(0) != g.out_shape(0):     # one value per row (along the first axis)
        shape = [-1] + [1] * (len(g.out_shape(0)) - 1)
        condition = g.emit1("Reshape", [condition, g.ints(shape, "shape")])
    g.emit("Where", [_as_dtype(g, condition, np.bool_), g.inputs[1], g.inputs[2]], g.outputs)


# ---------------------------------------------------------------------------------------------
# activations and normalizations

@exporter("Activation")
def _activation(g):
    op_type = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softrelu": "Softplus",
               "softsign": "Softsign"}.get(g.params["act_type"])
    if op_type is None:
        g.fail(f"act_type={g.params['act_type']!r}")
    g.emit(op_type, [g.inputs[0]], g.outputs)


# MXNet's SELU constants (src/operator/leaky_relu-inl.h)
SELU_ALPHA, SELU_LAMBDA = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


@exporter("LeakyReLU")
def _leaky_relu(g):
    act_type, x = g.params["act_type"], g.inputs[0]
    if act_type == "leaky":
        g.emit("LeakyRelu", [x], g.outputs, alpha=g.params["slope"])
    elif act_type == "rrelu":     # inference: the mean of the random slope's range
        g.emit("LeakyRelu", [x], g.outputs,
               alpha=(g.params["lower_bound"] + g.params["upper_bound"]) / 2)
    elif act_type == "elu":
        g.emit("Elu", [x], g.outputs, alpha=g.params["slope"])
    elif act_type == "selu":
        g.emit("Selu", [x], g.outputs, alpha=SELU_ALPHA, gamma=SELU_LAMBDA)
    elif act_type == "gelu":      # x/2 (1 + erf(x / sqrt 2)), MXNet's exact GELU
        erf = g.emit1("Erf", [g.emit1("Mul", [x, g.scalar(1 / math.sqrt(2))])])
        half_x = g.emit1("Mul", [x, g.scalar(0.5)])
        g.emit("Mul", [half_x, g.emit1("Add", [erf, g.scalar(1.0)])], g.outputs)
    elif act_type == "prelu":     # gamma is one slope per channel (axis 1)
        ndim = len(g.in_shape(0))
        slope = g.inputs[1]
        if ndim > 2 and g.in_shape(1)[0] != 1:
            slope = g.emit1("Reshape", [slope, g.ints(_channel_shape(ndim), "shape")])
        g.emit("PRelu", [x, slope], g.outputs)
    else:
        g.fail(f"act_type={act_type!r}")


def _softmax_axis(g, x, axis, output, log=False, temperature=None):
    if temperature not in (None, 1.0):
        x = g.emit1("Div", [x, g.scalar(temperature)])
    g.emit("LogSoftmax" if log else "Softmax", [x], [output], axis=axis)


def _softmax_flattened(g, x, output):
    """Softmax over all but the first axis, the input's shape kept (MXNet's 'instance' mode)."""
    if len(g.in_shape(0)) <= 2:
        return _softmax_axis(g, x, 1, output)
    flat = g.emit1("Flatten", [x], axis=1)
    probabilities = g.emit1("Softmax", [flat], axis=1)
    g.emit("Reshape", [probabilities, g.out_shape_value()], [output])


@exporter("softmax", "log_softmax", "softmin")
def _softmax(g):
    if g.params["use_length"]:
        g.fail("use_length=True")
    x = g.inputs[0]
    if g.params["dtype"] not in (None, np.dtype(g.in_dtype()).name):
        x = _as_dtype(g, x, g.params["dtype"])
    if g.op == "softmin":
        x = g.emit1("Neg", [x])
    _softmax_axis(g, x, g.params["axis"], g.outputs[0], log=g.op == "log_softmax",
                  temperature=g.params["temperature"])


@exporter("SoftmaxActivation")
def _softmax_activation(g):
    if g.params["mode"] == "channel":
        _softmax_axis(g, g.inputs[0], 1, g.outputs[0])
    else:
        _softmax_flattened(g, g.inputs[0], g.outputs[0])


@exporter("SoftmaxOutput")
def _softmax_output(g):
    if g.params["multi_output"]:
        _softmax_axis(g, g.inputs[0], 1, g.outputs[0])
    elif g.params["preserve_shape"]:
        _softmax_axis(g, g.inputs[0], -1, g.outputs[0])
    else:
        _softmax_flattened(g, g.inputs[0], g.outputs[0])


def _channels_to_axis1(g, x, axis):
    """x with `axis` moved to position 1 (where ONNX's normalizations and pools want the
    channels), and the permutation taking the result back (None when nothing moved)."""
    ndim = len(g.in_shape(0))
    axis %= ndim
    if axis == 1:
        return x, None
    perm = [0, axis] + [a for a in range(1, ndim) if a != axis]
    if axis == 0:
        perm = [1, 0] + list(range(2, ndim))
    return g.emit1("Transpose", [x], perm=perm), [int(k) for k in np.argsort(perm)]


@exporter("BatchNorm", "_contrib_BatchNormWithReLU", "_contrib_SyncBatchNorm")
def _batch_norm(g):
    """Inference: the moving statistics, which output_mean_var gives as the mean and var
    outputs."""
    x, back = _channels_to_axis1(g, g.inputs[0], g.params.get("axis", 1))
    gamma, beta, mean, var = g.inputs[1:5]
    for statistic, output in zip((mean, var), g.outputs[1:]):
        g.emit("Identity", [statistic], [output])
    if g.params["fix_gamma"]:     # MXNet ignores gamma then, as if it were ones
        gamma = g.const(np.ones(g.in_shape(1), dtype=g.in_dtype(1)), name="gamma")
    result = g.emit1("BatchNormalization", [x, gamma, beta, mean, var], epsilon=g.params["eps"])
    if g.op == "_contrib_BatchNormWithReLU":
        result = g.emit1("Relu", [result])
    if back is None:
        g.emit("Identity", [result], g.outputs[:1])
    else:
        g.emit("Transpose", [result], g.outputs[:1], perm=back)


def _normalize(g, x, axes, eps, statistics=()):
    """(x - mean) / sqrt(var + eps) over `axes` (biased variance, as MXNet); the mean and that
    deviation (axes kept) are reshaped into the outputs named in `statistics`, if any."""
    mean = _reduce(g, "ReduceMean", x, axes, True)
    centered = g.emit1("Sub", [x, mean])
    variance = _reduce(g, "ReduceMean", g.emit1("Mul", [centered, centered]), axes, True)
    deviation = g.emit1("Sqrt", [g.emit1("Add", [variance, g.scalar(eps)])])
    for k, (value, output) in enumerate(zip((mean, deviation), statistics), start=1):
        g.emit("Reshape", [value, g.out_shape_value(k)], [output])
    return g.emit1("Div", [centered, deviation])


@exporter("LayerNorm")
def _layer_norm(g):
    ndim = len(g.in_shape(0))
    axis = g.params["axis"] % ndim
    normalized = _normalize(g, g.inputs[0], [axis], g.params["eps"], g.outputs[1:])
    shape = _channel_shape(ndim, axis)
    gamma = g.emit1("Reshape", [g.inputs[1], g.ints(shape, "shape")])
    beta = g.emit1("Reshape", [g.inputs[2], g.ints(shape, "shape")])
    g.emit("Add", [g.emit1("Mul", [normalized, gamma]), beta], g.outputs[:1])


@exporter("InstanceNorm")
def _instance_norm(g):
    g.emit("InstanceNormalization", g.inputs[:3], g.outputs[:1], epsilon=g.params["eps"])


@exporter("GroupNorm")
def _group_norm(g):
    # MXNet 1.9's gamma and beta hold one value per group
    x = g.inputs[0]
    grouped = g.emit1("Reshape", [x, g.ints([0, g.params["num_groups"], -1], "shape")])
    normalized = _normalize(g, grouped, [2], g.params["eps"], g.outputs[1:])
    shape = g.ints([-1, 1], "shape")
    gamma = g.emit1("Reshape", [g.inputs[1], shape])
    beta = g.emit1("Reshape", [g.inputs[2], shape])
    scaled = g.emit1("Add", [g.emit1("Mul", [normalized, gamma]), beta])
    g.emit("Reshape", [scaled, g.out_shape_value()], g.outputs[:1])


@exporter("L2Normalization")
def _l2_normalization(g):
    ndim = len(g.in_shape(0))
    axes = {"instance": list(range(1, ndim)), "channel": [1],
            "spatial": list(range(2, ndim))}.get(g.params["mode"])
    x = g.inputs[0]
    squares = _reduce(g, "ReduceSum", g.emit1("Mul", [x, x]), axes, True)
    norm = g.emit1("Sqrt", [g.emit1("Add", [squares, g.scalar(g.params["eps"])])])
    g.emit("Div", [x, norm], g.outputs)


@exporter("LRN")
def _lrn(g):
    """x / (knorm + alpha / nsize * sum of x^2 over nsize channels)^beta, as a mean pooling of
    x^2 across channels (ONNX's LRN node is the same formula, but its reference implementation
    in onnx.reference disagrees with ONNX Runtime)."""
    if len(g.in_shape(0)) != 4:
        g.fail("an input that is not (N, C, H, W)")
    x, size = g.inputs[0], g.params["nsize"]
    squares = g.emit1("Unsqueeze", [g.emit1("Mul", [x, x]), g.ints([1], "axes")])
    half = (size - 1) // 2
    window_mean = g.emit1("AveragePool", [squares], kernel_shape=[size, 1, 1],
                          pads=[half, 0, 0, size - 1 - half, 0, 0], count_include_pad=1)
    window_mean = g.emit1("Squeeze", [window_mean, g.ints([1], "axes")])
    scale = g.emit1("Add", [g.emit1("Mul", [window_mean, g.scalar(g.params["alpha"])]),
                            g.scalar(g.params["knorm"])])
    g.emit("Div", [x, g.emit1("Pow", [scale, g.scalar(g.params["beta"])])], g.outputs[:1])


# ---------------------------------------------------------------------------------------------
# dense, convolution, pooling

@exporter("FullyConnected")
def _fully_connected(g):
    x, weight = g.inputs[:2]
    bias = [] if g.params["no_bias"] else [g.inputs[2]]
    if g.params["flatten"]:
        if len(g.in_shape(0)) != 2:
            x = g.emit1("Flatten", [x], axis=1)
        g.emit("Gemm", [x, weight] + bias, g.outputs, transB=1)
        return
    product = g.emit1("MatMul", [x, g.emit1("Transpose", [weight], perm=[1, 0])],
                      None if bias else g.outputs[0])
    if bias:
        g.emit("Add", [product] + bias, g.outputs)


def _spatial(g, name, ndim, default):
    value = tuple(g.params[name]) or (default,) * ndim
    return list(value)


def _check_layout(g, spatial):
    layout = g.params.get("layout")
    if layout not in (None, {1: "NCW", 2: "NCHW", 3: "NCDHW"}[spatial]):
        g.fail(f"layout={layout!r} (ONNX convolutions are channels-first)")


@exporter("Convolution")
def _convolution(g):
    kernel = list(g.params["kernel"])
    spatial = len(kernel)
    _check_layout(g, spatial)
    pad = _spatial(g, "pad", spatial, 0)
    inputs = g.inputs[:2] if g.params["no_bias"] else g.inputs[:3]
    g.emit("Conv", inputs, g.outputs, kernel_shape=kernel, strides=_spatial(g, "stride", spatial, 1),
           dilations=_spatial(g, "dilate", spatial, 1), pads=pad + pad, group=g.params["num_group"])


@exporter("Deconvolution")
def _deconvolution(g):
    kernel = list(g.params["kernel"])
    spatial = len(kernel)
    _check_layout(g, spatial)
    pad, adj = _spatial(g, "pad", spatial, 0), _spatial(g, "adj", spatial, 0)
    stride, dilate = _spatial(g, "stride", spatial, 1), _spatial(g, "dilate", spatial, 1)
    if g.params["target_shape"] and any(g.params["target_shape"]):
        # MXNet's pad and adj giving the target size (pad and adj parameters ignored)
        pad, adj = [], []
        for size, s, d, k, target in zip(g.in_shape(0)[2:], stride, dilate, kernel,
                                         g.params["target_shape"]):
            total = s * (size - 1) + d * (k - 1) + 1 - target
            pad.append((total + 1) // 2)
            adj.append(total % 2)
    attrs = dict(kernel_shape=kernel, strides=stride, dilations=dilate, pads=pad + pad,
                 output_padding=adj)
    groups = g.params["num_group"]
    if groups == 1:
        inputs = g.inputs[:2] if g.params["no_bias"] else g.inputs[:3]
        g.emit("ConvTranspose", inputs, g.outputs, **attrs)
        return
    # one ConvTranspose per group (onnx.reference has no grouped ConvTranspose): the data's
    # and the weight's first axes are the input channels, the bias is per output channel
    x_parts = g.emit("Split", [g.inputs[0], g.ints([g.in_shape(0)[1] // groups] * groups)],
                     num_outputs=groups, axis=1)
    w_parts = g.emit("Split", [g.inputs[1], g.ints([g.in_shape(1)[0] // groups] * groups)],
                     num_outputs=groups, axis=0)
    b_parts = [[]] * groups
    if not g.params["no_bias"]:
        b_parts = [[b] for b in g.emit("Split", [g.inputs[2], g.ints([g.in_shape(2)[0] // groups]
                                                                      * groups)],
                                        num_outputs=groups, axis=0)]
    results = [g.emit1("ConvTranspose", [x, w] + b, **attrs)
               for x, w, b in zip(x_parts, w_parts, b_parts)]
    g.emit("Concat", results, g.outputs, axis=1)


def _channels_last_to_first(g, export):
    """Run `export` (an exporter of channels-first data) between Transposes when the node's
    layout puts the channels last (NWC, NHWC, NDHWC)."""
    layout = g.params.get("layout")
    if layout is None or layout.index("C") == 1:
        export(g)
        return
    shape = g.in_shape(0)
    ndim = len(shape)
    first = [0, ndim - 1] + list(range(1, ndim - 1))
    moved = g.emit1("Transpose", [g.inputs[0]], perm=first)
    result = g.graph.fresh(f"{g.name}_channels_first")
    export(_WithInputs(g, [moved] + list(g.inputs[1:]), params={**g.params, "layout": None},
                       outputs=[result], in_shape=lambda k=0: tuple(shape[a] for a in first)))
    g.emit("Transpose", [result], g.outputs[:1], perm=[0] + list(range(2, ndim)) + [1])


@exporter("Pooling")
def _pooling(g):
    _channels_last_to_first(g, _pooling_channels_first)


def _pooling_channels_first(g):
    p = g.params
    spatial = len(g.in_shape(0)) - 2
    _check_layout(g, spatial)
    pool_type, x = p["pool_type"], g.inputs[0]
    if p["global_pool"]:
        if pool_type == "lp":
            g.emit("GlobalLpPool", [x], g.outputs, p=p["p_value"] or 2)
        elif pool_type in ("max", "avg"):
            g.emit("GlobalMaxPool" if pool_type == "max" else "GlobalAveragePool", [x], g.outputs)
        else:   # sum: the mean times the window's size
            mean = g.emit1("GlobalAveragePool", [x])
            g.emit("Mul", [mean, g.scalar(float(np.prod(g.in_shape(0)[2:])))], g.outputs)
        return
    kernel = list(p["kernel"])
    # MXNet reads the first `spatial` pads ('same' 1-D pooling takes three zero pads)
    pad = _spatial(g, "pad", spatial, 0)[:spatial]
    stride = _spatial(g, "stride", spatial, 1)
    attrs = dict(kernel_shape=kernel, strides=stride, pads=pad + pad)
    # 'full' rounds the window count up; where that changes nothing say floor, the common form
    full = p["pooling_convention"] == "full"
    ceil = int(full and any((size + 2 * q - k) % s for size, q, k, s in
                            zip(g.in_shape(0)[2:], pad, kernel, stride)))
    # MXNet's lp pooling does not take |x| (ONNX's LpPool does): the same for p = 2 only
    lp_power = (p["p_value"] or 2) if pool_type == "lp" else None
    if (p["pooling_convention"] == "same" or (ceil and pool_type != "max")
            or lp_power not in (None, 1, 2)):
        _pool_over_padding(g, x, kernel, stride, pad, lp_power)
    elif pool_type == "max":
        g.emit("MaxPool", [x], g.outputs, ceil_mode=ceil, **attrs)
    elif lp_power == 2:
        g.emit("LpPool", [x], g.outputs, p=2, **attrs)
    elif pool_type == "avg":
        include_pad = p["count_include_pad"] in (None, True)
        g.emit("AveragePool", [x], g.outputs, count_include_pad=int(include_pad), **attrs)
    else:   # sum, and lp with p = 1 (a sum of the values, signs kept)
        mean = g.emit1("AveragePool", [x], count_include_pad=1, **attrs)
        g.emit("Mul", [mean, g.scalar(float(np.prod(kernel)))], g.outputs)


def _pool_over_padding(g, x, kernel, stride, pad, lp_power):
    """MXNet's windows [o s - p, min(o s - p + k, n + p)) under any pooling convention: x padded
    explicitly (zeros, or the lowest value for max) over every window, pooled without padding
    and cut to the output size; avg divides the window sums by MXNet's counts, lp takes the
    root of the sums of x^p (a cube root keeps the sign, as MXNet's p = 3)."""
    pool_type = g.params["pool_type"]
    sizes, out_sizes = g.in_shape(0)[2:], g.out_shape(0)[2:]
    ends = [max(0, (o - 1) * s - q + k - n) for o, s, q, k, n in
            zip(out_sizes, stride, pad, kernel, sizes)]
    fill = np.finfo(g.in_dtype(0)).min if pool_type == "max" else 0
    if lp_power not in (None, 1):
        x = g.emit1("Pow", [x, g.scalar(float(lp_power))])
    padded = g.emit1("Pad", [x, g.ints([0, 0] + pad + [0, 0] + ends, "pads"), g.scalar(fill)])
    if pool_type == "max":
        pooled = g.emit1("MaxPool", [padded], kernel_shape=kernel, strides=stride)
    else:
        mean = g.emit1("AveragePool", [padded], kernel_shape=kernel, strides=stride)
        pooled = g.emit1("Mul", [mean, g.scalar(float(np.prod(kernel)))])
    axes = list(range(2, 2 + len(kernel)))
    pooled = g.emit1("Slice", [pooled, g.ints([0] * len(kernel), "starts"),
                               g.ints(out_sizes, "ends"), g.ints(axes, "axes")])
    if pool_type == "avg":
        include_pad = g.params["count_include_pad"] in (None, True)
        counts = np.ones(out_sizes)
        for d, (n, s, q, k, o) in enumerate(zip(sizes, stride, pad, kernel, out_sizes)):
            starts = np.arange(o) * s - q
            stops = np.minimum(starts + k, n + q)
            if not include_pad:
                starts, stops = np.maximum(starts, 0), np.minimum(stops, n)
            counts = counts * (stops - starts).reshape([-1 if a == d else 1 for a in range(len(kernel))])
        g.emit("Div", [pooled, g.const(counts.astype(g.in_dtype(0)), name="counts")], g.outputs)
    elif lp_power == 3:
        root = g.emit1("Pow", [g.emit1("Abs", [pooled]), g.scalar(1.0 / 3.0)])
        g.emit("Mul", [g.emit1("Sign", [pooled]), root], g.outputs)
    elif lp_power not in (None, 1):
        g.emit("Pow", [pooled, g.scalar(1.0 / lp_power)], g.outputs)
    else:
        g.emit("Identity", [pooled], g.outputs)


@exporter("_contrib_AdaptiveAvgPooling2D")
def _adaptive_avg_pooling(g):
    in_shape, out_shape = g.in_shape(0), g.out_shape(0)
    if out_shape[2:] == (1, 1):
        g.emit("GlobalAveragePool", [g.inputs[0]], g.outputs)
        return
    if not any(i % o for i, o in zip(in_shape[2:], out_shape[2:])):
        window = [i // o for i, o in zip(in_shape[2:], out_shape[2:])]
        g.emit("AveragePool", [g.inputs[0]], g.outputs, kernel_shape=window, strides=window)
        return
    # windows of unequal sizes: the mean over rows then columns, as products with constant
    # averaging matrices (the window's area is the product of its height and width)
    rows = _adaptive_means(in_shape[2], out_shape[2], g.in_dtype(0)).T     # (H, out_h)
    columns = _adaptive_means(in_shape[3], out_shape[3], g.in_dtype(0)).T  # (W, out_w)
    by_columns = g.emit1("MatMul", [g.inputs[0], g.const(columns, name="columns")])
    swapped = g.emit1("Transpose", [by_columns], perm=[0, 1, 3, 2])
    by_rows = g.emit1("MatMul", [swapped, g.const(rows, name="rows")])
    g.emit("Transpose", [by_rows], g.outputs, perm=[0, 1, 3, 2])


def _adaptive_means(size, out, dtype):
    """(out, size): row i averages MXNet's window i, [floor(i size / out), ceil((i+1) size /
    out)) (the divisions in float32, as MXNet's START_IND/END_IND)."""
    matrix = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        start = math.floor(np.float32(i * size) / np.float32(out))
        end = math.ceil(np.float32((i + 1) * size) / np.float32(out))
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def _resize_to(g, x, height_width, output, **attrs):
    """Resize the last two axes of x to height_width, N and C kept (read from x when dynamic,
    constant otherwise, so that importers see the sizes)."""
    if g.in_batch_axes(0):
        batch_channels = g.emit1("Slice", [g.emit1("Shape", [x]), g.ints([0]), g.ints([2])])
        sizes = g.emit1("Concat", [batch_channels, g.ints(height_width, "sizes")], axis=0)
    else:
        sizes = g.ints(list(g.in_shape(0)[:2]) + list(height_width), "sizes")
    g.emit("Resize", [x, "", "", sizes], [output], **attrs)


@exporter("_contrib_BilinearResize2D")
def _bilinear_resize(g):
    # the output size is static: 'like' reads only the second input's shape
    if g.params["mode"] not in ("size", "odd_scale", "to_even_down", "to_even_up", "to_odd_down",
                                "to_odd_up", "like"):
        g.fail(f"mode={g.params['mode']!r}")
    transform = "align_corners" if g.params["align_corners"] else "half_pixel"
    _resize_to(g, g.inputs[0], list(g.out_shape(0)[2:]), g.outputs[0], mode="linear",
               coordinate_transformation_mode=transform)


@exporter("UpSampling")
def _upsampling(g):
    """Nearest: each input repeated to the first's size times scale, then concatenated along
    the channels or summed; bilinear: MXNet's Deconvolution by the weight input."""
    p = g.params
    if p["sample_type"] == "bilinear":
        scale = p["scale"]
        pad = scale // 2     # ceil((scale - 1) / 2)
        geometry = dict(kernel=(2 * scale - scale % 2,) * 2, stride=(scale, scale), pad=(pad, pad),
                        dilate=(), adj=(), target_shape=(), num_group=p["num_filter"], no_bias=True,
                        layout=None)
        _deconvolution(_WithInputs(g, g.inputs[:2], params=geometry))
        return
    size = list(g.out_shape(0)[2:])
    if len(g.inputs) == 1:
        _resize_to(g, g.inputs[0], size, g.outputs[0], mode="nearest",
                   coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        return
    resized = []
    for k, x in enumerate(g.inputs):
        resized.append(g.graph.fresh(f"{g.name}_resized{k}"))
        _resize_to(_WithInputs(g, g.inputs, in_shape=lambda _=0, k=k: g.in_shape(k),
                               in_batch_axes=lambda _=0, k=k: g.in_batch_axes(k)),
                   x, size, resized[-1], mode="nearest",
                   coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if p["multi_input_mode"] == "sum":
        g.emit("Sum", resized, g.outputs)
    else:
        g.emit("Concat", resized, g.outputs, axis=1)


# ---------------------------------------------------------------------------------------------
# shapes and layouts

@exporter("Flatten")
def _flatten(g):
    g.emit("Flatten", [g.inputs[0]], g.outputs, axis=1)


@exporter("Reshape")
def _reshape_op(g):
    _reshape(g, g.inputs[0], g.outputs[0])


@exporter("reshape_like")
def _reshape_like(g):
    _reshape(g, g.inputs[0], g.outputs[0])


@exporter("Concat")
def _concat(g):
    g.emit("Concat", g.inputs, g.outputs, axis=g.params["dim"])


@exporter("stack")
def _stack(g):
    axis = g.params["axis"] % len(g.out_shape())
    expanded = [g.emit1("Unsqueeze", [x, g.ints([axis], "axes")]) for x in g.inputs]
    g.emit("Concat", expanded, g.outputs, axis=axis)


@exporter("transpose")
def _transpose(g):
    axes = list(g.params["axes"]) or None
    g.emit("Transpose", [g.inputs[0]], g.outputs, perm=axes)


@exporter("SwapAxis")
def _swap_axis(g):
    perm = list(range(len(g.in_shape())))
    dim1, dim2 = g.params["dim1"], g.params["dim2"]
    perm[dim1], perm[dim2] = perm[dim2], perm[dim1]
    g.emit("Transpose", [g.inputs[0]], g.outputs, perm=perm)


@exporter("expand_dims")
def _expand_dims(g):
    axis = g.params["axis"] % len(g.out_shape())
    g.emit("Unsqueeze", [g.inputs[0], g.ints([axis], "axes")], g.outputs)


@exporter("squeeze")
def _squeeze(g):
    axis = g.params["axis"]
    in_shape = g.in_shape()
    if axis is None:
        axis = [a for a, d in enumerate(in_shape) if d == 1]
    axes = _axes(axis, len(in_shape))
    if len(axes) == len(in_shape):   # MXNet keeps one axis: a (1, 1) squeezes to (1,)
        axes = axes[1:]
    g.emit("Squeeze", [g.inputs[0], g.ints(axes, "axes")], g.outputs)


@exporter("slice")
def _slice(g):
    begin, end = g.params["begin"], g.params["end"]
    step = list(g.params["step"]) + [None] * (len(begin) - len(g.params["step"]))
    steps = [1 if s is None else s for s in step]
    starts = [(0 if s > 0 else INT64_MAX) if b is None else b for b, s in zip(begin, steps)]
    ends = [(INT64_MAX if s > 0 else INT64_MIN) if e is None else e for e, s in zip(end, steps)]
    g.emit("Slice", [g.inputs[0], g.ints(starts, "starts"), g.ints(ends, "ends"),
                     g.ints(range(len(begin)), "axes"), g.ints(steps, "steps")], g.outputs)


@exporter("slice_axis")
def _slice_axis(g):
    end = g.params["end"]
    g.emit("Slice", [g.inputs[0], g.ints([g.params["begin"]], "starts"),
                     g.ints([INT64_MAX if end is None else end], "ends"),
                     g.ints([g.params["axis"]], "axes")], g.outputs)


@exporter("slice_like")
def _slice_like(g):
    ndim = len(g.in_shape(0))
    axes = _axes(g.params["axes"], ndim) if g.params["axes"] else list(range(ndim))
    if g.out_batch_axes():
        ends = g.emit1("Gather", [g.emit1("Shape", [g.inputs[1]]), g.ints(axes, "axes")], axis=0)
    else:     # constant where it can be (importers need constant ends)
        ends = g.ints([g.out_shape()[a] for a in axes], "ends")
    g.emit("Slice", [g.inputs[0], g.ints([0] * len(axes), "starts"), ends,
                     g.ints(axes, "axes")], g.outputs)


@exporter("SliceChannel")
def _slice_channel(g):
    axis = g.params["axis"] % len(g.in_shape())
    if axis in g.in_batch_axes():
        g.fail("a split along the batch axis of a dynamic model")
    count = g.params["num_outputs"]
    parts = [g.in_shape()[axis] // count] * count
    if not g.params["squeeze_axis"]:
        g.emit("Split", [g.inputs[0], g.ints(parts, "split")], g.outputs, axis=axis)
        return
    pieces = g.emit("Split", [g.inputs[0], g.ints(parts, "split")], num_outputs=count, axis=axis)
    for piece, output in zip(pieces, g.outputs):
        g.emit("Squeeze", [piece, g.ints([axis], "axes")], [output])


@exporter("tile")
def _tile(g):
    reps = list(g.params["reps"])
    x, ndim = g.inputs[0], len(g.in_shape())
    if len(reps) > ndim:
        x = g.emit1("Unsqueeze", [x, g.ints(range(len(reps) - ndim), "axes")])
    reps = [1] * (ndim - len(reps)) + reps
    g.emit("Tile", [x, g.ints(reps, "reps")], g.outputs)


@exporter("repeat")
def _repeat(g):
    repeats, axis, x = g.params["repeats"], g.params["axis"], g.inputs[0]
    if axis is None:
        x, axis = g.emit1("Reshape", [x, g.ints([-1], "shape")]), 0
    axis %= max(len(g.in_shape()), 1)
    expanded = g.emit1("Unsqueeze", [x, g.ints([axis + 1], "axes")])
    reps = [1] * (axis + 1) + [repeats] + [1] * (len(g.out_shape()) - axis - 1)
    tiled = g.emit1("Tile", [expanded, g.ints(reps, "reps")])
    _reshape(g, tiled, g.outputs[0])


@exporter("reverse")
def _reverse(g):
    ndim = len(g.in_shape())
    flips = _axes(g.params["axis"], ndim)    # an axis given twice is flipped back
    axes = [a for a in range(ndim) if flips.count(a) % 2]
    if not axes:
        g.emit("Identity", [g.inputs[0]], g.outputs)
        return
    g.emit("Slice", [g.inputs[0], g.ints([-1] * len(axes), "starts"),
                     g.ints([INT64_MIN] * len(axes), "ends"), g.ints(axes, "axes"),
                     g.ints([-1] * len(axes), "steps")], g.outputs)


def _expand_shape(g):
    """The out shape for Expand: 1 where the dimension follows the batch (the input has it)."""
    batch = g.out_batch_axes()
    return [1 if a in batch else d for a, d in enumerate(g.out_shape())]


@exporter("broadcast_to", "broadcast_axis")
def _broadcast_to(g):
    g.emit("Expand", [g.inputs[0], g.ints(_expand_shape(g), "shape")], g.outputs)


@exporter("broadcast_like")
def _broadcast_like(g):
    if g.params["lhs_axes"] is not None or g.params["rhs_axes"] is not None:
        g.emit("Expand", [g.inputs[0], g.ints(_expand_shape(g), "shape")], g.outputs)
        return
    shape = g.emit1("Shape", [g.inputs[1]]) if g.out_batch_axes() else g.ints(g.out_shape(), "shape")
    g.emit("Expand", [g.inputs[0], shape], g.outputs)


@exporter("Pad")
def _pad(g):
    width = list(g.params["pad_width"])
    mode = g.params["mode"]
    pads = width[0::2] + width[1::2]
    inputs = [g.inputs[0], g.ints(pads, "pads")]
    if mode == "constant":
        inputs.append(g.scalar(g.params["constant_value"]))
    g.emit("Pad", inputs, g.outputs, mode=mode)


@exporter("depth_to_space")
def _depth_to_space(g):
    g.emit("DepthToSpace", [g.inputs[0]], g.outputs, blocksize=g.params["block_size"], mode="DCR")


@exporter("space_to_depth")
def _space_to_depth(g):
    g.emit("SpaceToDepth", [g.inputs[0]], g.outputs, blocksize=g.params["block_size"])


# ---------------------------------------------------------------------------------------------
# reductions, indexing, constants

def _reduction(op_type):
    def export(g):
        ndim = len(g.in_shape())
        axis = g.params["axis"]
        axes = list(range(ndim)) if axis is None or len(axis) == 0 else _axes(axis, ndim)
        if g.params["exclude"]:
            axes = [a for a in range(ndim) if a not in axes]
        keepdims = g.params["keepdims"]
        if len(axes) == ndim and not keepdims:    # MXNet gives (1,), ONNX a scalar
            reduced = _reduce(g, op_type, g.inputs[0], axes, False)
            g.emit("Reshape", [reduced, g.ints([1], "shape")], g.outputs)
            return
        _reduce(g, op_type, g.inputs[0], axes, keepdims, g.outputs[0])
    return export


for _name, _op_type in (("sum", "ReduceSum"), ("mean", "ReduceMean"), ("max", "ReduceMax"),
                        ("min", "ReduceMin"), ("prod", "ReduceProd"),
                        ("_square_sum", "ReduceSumSquare")):
    EXPORTERS[_name] = _reduction(_op_type)


def _without_nan(fill):
    """nansum, nanprod: NaN counted as `fill` (the sum's or the product's neutral value)."""
    reduction = _reduction("ReduceSum" if fill == 0 else "ReduceProd")

    def export(g):
        x = g.inputs[0]
        cleaned = g.emit1("Where", [g.emit1("IsNaN", [x]), g.scalar(fill), x])
        reduction(_WithInputs(g, [cleaned]))
    return export


EXPORTERS["nansum"] = _without_nan(0)
EXPORTERS["nanprod"] = _without_nan(1)


def _reduce_to_output(g, op_type, value, axes, k=0, output=None):
    """Reduce over axes (None: all) keeping them, then reshape to output k's shape (MXNet's
    conventions for keepdims and for reducing everything then come from shape inference)."""
    reduced = _reduce(g, op_type, value, axes, True)
    return g.emit1("Reshape", [reduced, g.out_shape_value(k)], output)


@exporter("norm")
def _norm(g):
    if g.params["ord"] not in (1, 2):
        g.fail(f"ord={g.params['ord']}")
    axis = g.params["axis"]
    axes = None if axis is None else _axes(axis, len(g.in_shape()))
    op_type = "ReduceL1" if g.params["ord"] == 1 else "ReduceL2"
    if g.params["out_dtype"] in (None, np.dtype(g.in_dtype()).name):
        _reduce_to_output(g, op_type, g.inputs[0], axes, output=g.outputs[0])
    else:
        _as_dtype(g, _reduce_to_output(g, op_type, g.inputs[0], axes), g.params["out_dtype"],
                  g.outputs[0])


@exporter("moments")
def _moments(g):
    x, axes = g.inputs[0], g.params["axes"]
    axes = None if axes is None else _axes(axes, len(g.in_shape()))
    mean = _reduce(g, "ReduceMean", x, axes, True)
    centered = g.emit1("Sub", [x, mean])
    g.emit("Reshape", [mean, g.out_shape_value(0)], g.outputs[:1])
    _reduce_to_output(g, "ReduceMean", g.emit1("Mul", [centered, centered]), axes, 1, g.outputs[1])


@exporter("_np_cumsum")
def _cumsum(g):
    x, axis = g.inputs[0], g.params["axis"]
    if axis is None:
        x, axis = g.emit1("Reshape", [x, g.ints([-1], "shape")]), 0
    if g.params["dtype"] not in (None, np.dtype(g.in_dtype()).name):
        x = _as_dtype(g, x, g.params["dtype"])
    g.emit("CumSum", [x, g.const(np.int64(axis), name="axis")], g.outputs)


def _arg_extreme(op_type):
    def export(g):
        x, axis = g.inputs[0], g.params["axis"]
        if axis is None:
            x, axis = g.emit1("Reshape", [x, g.ints([-1], "shape")]), 0
        index = g.emit1(op_type, [x], axis=axis, keepdims=int(g.params["keepdims"]),
                        select_last_index=0)
        if g.params["axis"] is None:
            index = g.emit1("Reshape", [index, g.ints(g.out_shape(), "shape")])
        _as_dtype(g, index, g.out_dtype(), g.outputs[0])
    return export


EXPORTERS["argmax"] = _arg_extreme("ArgMax")
EXPORTERS["argmin"] = _arg_extreme("ArgMin")


@exporter("argmax_channel")
def _argmax_channel(g):
    _as_dtype(g, g.emit1("ArgMax", [g.inputs[0]], axis=-1, keepdims=0), g.out_dtype(), g.outputs[0])


@exporter("topk")
def _topk(g):
    p = g.params
    ndim = len(g.in_shape())
    axis = -1 if p["axis"] is None else p["axis"] % ndim
    x = g.inputs[0]
    if p["axis"] is None:
        x, axis, ndim = g.emit1("Reshape", [x, g.ints([-1], "shape")]), 0, 1
    size = g.in_shape()[axis] if p["axis"] is not None else int(np.prod(g.in_shape()))
    k = p["k"] if p["k"] > 0 else size     # k <= 0: all of them
    if p["ret_typ"] == "mask":
        _topk_mask(g, x, axis, ndim, size, k)
        return
    values, indices = g.emit("TopK", [x, g.ints([k], "k")], num_outputs=2, axis=axis,
                             largest=int(not p["is_ascend"]), sorted=1)
    if p["ret_typ"] == "value":
        g.emit("Identity", [values], g.outputs[:1])
    elif p["ret_typ"] == "indices":
        _as_dtype(g, indices, g.out_dtype(0), g.outputs[0])
    else:
        g.emit("Identity", [values], g.outputs[:1])
        _as_dtype(g, indices, g.out_dtype(1), g.outputs[1])


def _topk_mask(g, x, axis, ndim, size, k):
    """1 where the k chosen elements are, 0 elsewhere: the largest of the chosen indices' one-hot
    rows (along the last axis, where the axis is moved to; importers have OneHot, not scatters)."""
    to_last = [a for a in range(ndim) if a != axis] + [axis]
    if axis != ndim - 1:
        x = g.emit1("Transpose", [x], perm=to_last)
    _, indices = g.emit("TopK", [x, g.ints([k], "k")], num_outputs=2, axis=ndim - 1,
                        largest=int(not g.params["is_ascend"]), sorted=1)
    values = g.const(np.array([0, 1], dtype=g.out_dtype()), name="off_on")
    rows = g.emit1("OneHot", [indices, g.const(np.int64(size), name="depth"), values], axis=-1)
    mask = _reduce(g, "ReduceMax", rows, [ndim - 1], False)
    if axis != ndim - 1:
        mask = g.emit1("Transpose", [mask], perm=[int(a) for a in np.argsort(to_last)])
    g.emit("Reshape", [mask, g.out_shape_value()], g.outputs[:1])


@exporter("sort", "argsort")
def _sort(g):
    axis = g.params["axis"]
    x = g.inputs[0]
    if axis is None:
        x, axis = g.emit1("Reshape", [x, g.ints([-1], "shape")]), 0
    axis %= len(g.in_shape())
    if axis in g.in_batch_axes():
        g.fail("a sort along the batch axis of a dynamic model")
    count = g.in_shape()[axis] if g.params["axis"] is not None else int(np.prod(g.in_shape()))
    values, indices = g.emit("TopK", [x, g.ints([count], "k")], num_outputs=2, axis=axis,
                             largest=int(not g.params["is_ascend"]), sorted=1)
    if g.op == "sort":
        g.emit("Identity", [values], g.outputs)
    else:
        _as_dtype(g, indices, g.out_dtype(), g.outputs[0])


def _clipped_indices(g, position, size, mode):
    """int64 indices (input `position`) into an axis of `size`: MXNet clips them or wraps them
    around; the float ones are truncated."""
    indices = g.inputs[position]
    if mode == "clip":
        indices = g.emit1("Clip", [indices, g.scalar(0, like=position),
                                   g.scalar(size - 1, like=position)])
    elif mode == "wrap":     # ((i mod n) + n) mod n: in [0, n) for negative i too
        size_value = g.scalar(size, like=position)
        fmod = int(np.dtype(g.in_dtype(position)).kind == "f")
        indices = g.emit1("Mod", [indices, size_value], fmod=fmod)
        indices = g.emit1("Mod", [g.emit1("Add", [indices, size_value]), size_value], fmod=fmod)
    return _as_dtype(g, indices, np.int64)


@exporter("take")
def _take(g):
    axis = g.params["axis"] % len(g.in_shape(0))
    # mode='raise' does not raise in MXNet's CPU kernel (nor cysym's): it clips
    mode = "clip" if g.params["mode"] == "raise" else g.params["mode"]
    indices = _clipped_indices(g, 1, g.in_shape(0)[axis], mode)
    g.emit("Gather", [g.inputs[0], indices], g.outputs, axis=axis)


@exporter("Embedding")
def _embedding(g):
    indices = _clipped_indices(g, 0, g.params["input_dim"], "clip")
    g.emit("Gather", [g.inputs[1], indices], g.outputs, axis=0)


@exporter("pick")
def _pick(g):
    ndim = len(g.in_shape(0))
    axis = -1 if g.params["axis"] is None else g.params["axis"] % ndim
    indices = _clipped_indices(g, 1, g.in_shape(0)[axis], g.params["mode"])
    if len(g.in_shape(1)) < len(g.in_shape(0)):
        indices = g.emit1("Unsqueeze", [indices, g.ints([axis], "axes")])
    picked = g.emit1("GatherElements", [g.inputs[0], indices], axis=axis)
    if g.params["keepdims"]:
        g.emit("Identity", [picked], g.outputs)
    else:
        g.emit("Squeeze", [picked, g.ints([axis], "axes")], g.outputs)


@exporter("one_hot")
def _one_hot(g):
    values = g.const(np.array([g.params["off_value"], g.params["on_value"]], dtype=g.out_dtype()))
    indices = _as_dtype(g, g.inputs[0], np.int64)
    depth = g.const(np.int64(g.params["depth"]), name="depth")
    # ONNX counts a negative index from the end; MXNet's is out of range (all off_value)
    indices = g.emit1("Where", [g.emit1("Less", [indices, g.ints([0])]), depth, indices])
    g.emit("OneHot", [indices, depth, values], g.outputs, axis=-1)


@exporter("gather_nd")
def _gather_nd(g):
    # MXNet's indices are (M, ...) with the coordinates first; ONNX's last
    ndim = len(g.in_shape(1))
    indices = _as_dtype(g, g.inputs[1], np.int64)
    if ndim > 1:
        indices = g.emit1("Transpose", [indices], perm=list(range(1, ndim)) + [0])
    else:
        indices = g.emit1("Unsqueeze", [indices, g.ints([0], "axes")])
    g.emit("GatherND", [g.inputs[0], indices], g.outputs)


@exporter("shape_array")
def _shape_array(g):
    _as_dtype(g, g.emit1("Shape", [g.inputs[0]]), g.out_dtype(), g.outputs[0])


@exporter("size_array")
def _size_array(g):
    size = g.emit1("Reshape", [g.emit1("Size", [g.inputs[0]]), g.ints([1], "shape")])
    _as_dtype(g, size, g.out_dtype(), g.outputs[0])


def _filled(value):
    """_zeros, _ones, _full: a constant, or ConstantOfShape where the shape follows the batch."""
    def export(g):
        fill = g.params["value"] if value is None else value
        if not g.out_batch_axes():
            array = np.full(g.out_shape(), fill, dtype=g.out_dtype())
            g.emit("Identity", [g.const(array, name="value")], g.outputs)
            return
        tensor = g.graph.onnx.numpy_helper.from_array(np.array([fill], dtype=g.out_dtype()))
        g.emit("ConstantOfShape", [g.out_shape_value()], g.outputs, value=tensor)
    return export


EXPORTERS["_zeros"] = EXPORTERS["_zeros_without_dtype"] = _filled(0)
EXPORTERS["_ones"] = _filled(1)
EXPORTERS["_full"] = _filled(None)


@exporter("_arange")
def _arange(g):
    p = g.params
    values = np.repeat(np.arange(p["start"], p["stop"], p["step"]) if p["stop"] is not None
                       else np.arange(p["start"]), p["repeat"])
    _constant_array(g, values)


def _like(fill):
    def export(g):
        value = g.graph.onnx.numpy_helper.from_array(np.array([fill], dtype=g.out_dtype()))
        g.emit("ConstantOfShape", [g.emit1("Shape", [g.inputs[0]])], g.outputs, value=value)
    return export


EXPORTERS["zeros_like"] = _like(0)
EXPORTERS["ones_like"] = _like(1)


# ---------------------------------------------------------------------------------------------
# matrix products

@exporter("dot")
def _dot(g):
    lhs, rhs = g.inputs[:2]
    lhs_shape, rhs_shape = g.in_shape(0), g.in_shape(1)
    if g.params["transpose_a"]:
        lhs, lhs_shape = g.emit1("Transpose", [lhs]), lhs_shape[::-1]
    if g.params["transpose_b"]:
        rhs, rhs_shape = g.emit1("Transpose", [rhs]), rhs_shape[::-1]
    if len(lhs_shape) == 2 and len(rhs_shape) == 2:
        g.emit("MatMul", [lhs, rhs], g.outputs)
        return
    if g.in_batch_axes(0) or g.in_batch_axes(1):
        g.fail("a dot of tensors of more than 2 dimensions in a dynamic model")
    inner = lhs_shape[-1]
    product = g.emit1("MatMul", [g.emit1("Reshape", [lhs, g.ints([-1, inner], "shape")]),
                                 g.emit1("Reshape", [rhs, g.ints([inner, -1], "shape")])])
    g.emit("Reshape", [product, g.ints(g.out_shape(), "shape")], g.outputs)


@exporter("batch_dot")
def _batch_dot(g):
    lhs, rhs = g.inputs[:2]
    ndim = len(g.in_shape(0))
    swap = list(range(ndim - 2)) + [ndim - 1, ndim - 2]
    if g.params["transpose_a"]:
        lhs = g.emit1("Transpose", [lhs], perm=swap)
    if g.params["transpose_b"]:
        rhs = g.emit1("Transpose", [rhs], perm=swap)
    g.emit("MatMul", [lhs, rhs], g.outputs)


# ---------------------------------------------------------------------------------------------
# the fused RNN

@exporter("_rnn_param_concat")
def _rnn_param_concat(g):
    g.emit("Concat", g.inputs, g.outputs, axis=g.params["dim"])


# MXNet's gates in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_RNN_ONNX = {"lstm": ("LSTM", 4, [0, 3, 1, 2]), "gru": ("GRU", 3, [1, 0, 2]),
             "rnn_tanh": ("RNN", 1, [0]), "rnn_relu": ("RNN", 1, [0])}


@exporter("RNN")
def _rnn(g):
    """One ONNX LSTM/GRU/RNN node per layer, weights sliced out of MXNet's flat parameter
    vector (all layers' and directions' i2h and h2h weights, then all their biases)."""
    p = g.params
    if p["projection_size"] or p["use_sequence_length"] or p["lstm_state_clip_min"] is not None \
            or p["lstm_state_clip_max"] is not None:
        g.fail("projection_size, use_sequence_length or lstm_state_clip")
    op_type, gates, order = _RNN_ONNX[p["mode"]]
    layers, hidden = p["num_layers"], p["state_size"]
    directions = 2 if p["bidirectional"] else 1
    data, flat = g.inputs[0], g.inputs[1]
    state = g.inputs[2]
    cell = g.inputs[3] if p["mode"] == "lstm" else None
    features = g.in_shape(0)[2]

    def gate_blocks(offset, rows, columns):
        """The matrix (gates*hidden, columns) at `offset`, rows regrouped in ONNX's gate order."""
        block = hidden * columns
        parts = [g.emit1("Slice", [flat, g.ints([offset + k * block]), g.ints([offset + (k + 1) * block])])
                 for k in order]
        joined = parts[0] if len(parts) == 1 else g.emit1("Concat", parts, axis=0)
        return g.emit1("Reshape", [joined, g.ints([1, rows, columns], "shape")])

    weight_offsets, offset = [], 0
    for layer in range(layers):
        columns = features if layer == 0 else directions * hidden
        for _ in range(directions):
            weight_offsets.append((offset, columns))
            offset += gates * hidden * (columns + hidden)
    bias_offsets = []
    for _ in range(layers * directions):
        bias_offsets.append(offset)
        offset += 2 * gates * hidden

    attrs = dict(hidden_size=hidden, direction="bidirectional" if directions == 2 else "forward")
    if p["mode"] == "gru":
        attrs["linear_before_reset"] = 1     # MXNet's n = tanh(Wx + b + r * (Uh + b'))
    if p["mode"] == "rnn_relu":
        attrs["activations"] = ["Relu"] * directions
    last_states, last_cells, x = [], [], data
    for layer in range(layers):
        w, r, b = [], [], []
        for direction in range(directions):
            start, columns = weight_offsets[layer * directions + direction]
            w.append(gate_blocks(start, gates * hidden, columns))
            r.append(gate_blocks(start + gates * hidden * columns, gates * hidden, hidden))
            bias = bias_offsets[layer * directions + direction]
            b.append(g.emit1("Concat", [gate_blocks(bias, gates * hidden, 1),
                                        gate_blocks(bias + gates * hidden, gates * hidden, 1)], axis=1))
        w, r, b = [parts[0] if directions == 1 else g.emit1("Concat", parts, axis=0)
                   for parts in (w, r, b)]
        b = g.emit1("Reshape", [b, g.ints([directions, 2 * gates * hidden], "shape")])
        states = [g.emit1("Slice", [value, g.ints([layer * directions]),
                                    g.ints([(layer + 1) * directions]), g.ints([0])])
                  for value in ([state] + ([cell] if cell else []))]
        outputs = g.emit(op_type, [x, w, r, b, ""] + states, num_outputs=3 if cell else 2, **attrs)
        # Y (T, directions, N, H) -> (T, N, directions * H), the next layer's input
        y = g.emit1("Transpose", [outputs[0]], perm=[0, 2, 1, 3])
        x = g.emit1("Reshape", [y, g.ints([0, 0, -1], "shape")],
                    g.outputs[0] if layer == layers - 1 else None)
        last_states.append(outputs[1])
        if cell:
            last_cells.append(outputs[2])
    for values, output in zip((last_states, last_cells), g.outputs[1:]):
        g.emit("Concat", values, [output], axis=0)



# ---------------------------------------------------------------------------------------------
# sequences, regions of interest, linear algebra, constant arrays

@exporter("SequenceReverse")
def _sequence_reverse(g):
    if g.params["use_sequence_length"]:    # the first length[n] steps of sequence n reversed
        lengths = _as_dtype(g, g.inputs[1], np.int64)
        g.emit("ReverseSequence", [g.inputs[0], lengths], g.outputs, batch_axis=1, time_axis=0)
        return
    g.emit("Slice", [g.inputs[0], g.ints([-1]), g.ints([INT64_MIN]), g.ints([0]), g.ints([-1])],
           g.outputs)


@exporter("SequenceLast")
def _sequence_last(g):
    axis = g.params["axis"]
    if not g.params["use_sequence_length"]:
        g.emit("Gather", [g.inputs[0], g.const(np.int64(-1), name="last")], g.outputs, axis=axis)
        return
    # the sum over time of the data times (step == length - 1): step length - 1 exactly
    last = g.emit1("Sub", [g.emit1("Max", [_steps(g), g.scalar(1, like=1)]), g.scalar(1, like=1)])
    chosen = _as_dtype(g, g.emit1("Equal", [_time_steps(g), _per_sequence(g, last)]), g.in_dtype(0))
    _reduce(g, "ReduceSum", g.emit1("Mul", [g.inputs[0], chosen]), [axis], False, g.outputs[0])


def _steps(g):
    """The lengths as MXNet reads them: truncated toward zero, within [0, T]."""
    lengths = g.inputs[1]
    if np.dtype(g.in_dtype(1)).kind == "f":
        lengths = g.emit1("Floor", [g.emit1("Max", [lengths, g.scalar(0, like=1)])])
    return g.emit1("Clip", [lengths, g.scalar(0, like=1),
                            g.scalar(g.in_shape(0)[g.params["axis"]], like=1)])


def _time_steps(g):
    """0, 1, ..., T-1 along the time axis (of the lengths' dtype), broadcastable to the data."""
    axis, ndim = g.params["axis"], len(g.in_shape(0))
    shape = [1] * ndim
    shape[axis] = g.in_shape(0)[axis]
    return g.const(np.arange(shape[axis], dtype=g.in_dtype(1)).reshape(shape), name="time")


def _per_sequence(g, lengths):
    """The lengths (one per sequence: the axis other than time among the first two) reshaped
    to broadcast against the data."""
    shape = [1] * len(g.in_shape(0))
    shape[1 - g.params["axis"]] = -1
    return g.emit1("Reshape", [lengths, g.ints(shape, "shape")])


@exporter("SequenceMask")
def _sequence_mask(g):
    if not g.params["use_sequence_length"]:
        g.emit("Identity", [g.inputs[0]], g.outputs)
        return
    inside = g.emit1("Less", [_time_steps(g), _per_sequence(g, _steps(g))])
    g.emit("Where", [inside, g.inputs[0], g.scalar(g.params["value"])], g.outputs)


@exporter("Crop")
def _crop(g):
    height, width = g.out_shape()[2:]
    in_height, in_width = g.in_shape(0)[2:]
    if g.params["center_crop"]:
        top, left = (in_height - height) // 2, (in_width - width) // 2
    else:
        top, left = g.params["offset"]
    g.emit("Slice", [g.inputs[0], g.ints([top, left], "starts"),
                     g.ints([top + height, left + width], "ends"), g.ints([2, 3], "axes")],
           g.outputs)


@exporter("_contrib_ROIAlign")
def _roi_align(g):
    p = g.params
    if p["aligned"] and g.opset < 16:
        g.fail("aligned=True before opset 16")
    rois = g.inputs[1]     # (R, 5): the batch index, then x1, y1, x2, y2
    batch = g.emit1("Slice", [rois, g.ints([0]), g.ints([1]), g.ints([1])])     # (R, 1)
    # MXNet gives zeros for a negative batch index; ONNX refuses one
    valid = g.emit1("Unsqueeze", [g.emit1("GreaterOrEqual", [batch, g.scalar(0, like=1)]),
                                  g.ints([2, 3], "axes")])
    batch = g.emit1("Max", [batch, g.scalar(0, like=1)])
    batch = _as_dtype(g, g.emit1("Squeeze", [batch, g.ints([1], "axes")]), np.int64)
    boxes = g.emit1("Slice", [rois, g.ints([1]), g.ints([5]), g.ints([1])])
    attrs = dict(output_height=p["pooled_size"][0], output_width=p["pooled_size"][1],
                 spatial_scale=p["spatial_scale"], sampling_ratio=max(p["sample_ratio"], 0),
                 mode="avg")
    if g.opset >= 16:
        attrs["coordinate_transformation_mode"] = "half_pixel" if p["aligned"] else "output_half_pixel"
    pooled = g.emit1("RoiAlign", [g.inputs[0], boxes, batch], **attrs)
    if not p["position_sensitive"]:
        g.emit("Where", [valid, pooled, g.scalar(0)], g.outputs[:1])
        return
    # output channel c, bin b reads input channel c * bins + b: every channel pooled, then the
    # diagonal of (channel's bin, pooled bin)
    pooled = g.emit1("Where", [valid, pooled, g.scalar(0)])
    bins = p["pooled_size"][0] * p["pooled_size"][1]
    pairs = g.emit1("Reshape", [pooled, g.ints([0, -1, bins * bins], "shape")])
    diagonal = g.emit1("Gather", [pairs, g.ints(np.arange(bins) * (bins + 1), "diagonal")], axis=2)
    g.emit("Reshape", [diagonal, g.ints([0, -1] + list(p["pooled_size"]), "shape")], g.outputs[:1])


@exporter("ROIPooling")
def _roi_pooling(g):
    """ONNX MaxRoiPool (Caffe's, as MXNet's: rounded corners, floor/ceil bins, 0 for an empty
    bin); a region of a batch index outside the data gives zeros, as MXNet's."""
    rois = g.inputs[1]
    batch = g.emit1("Slice", [rois, g.ints([0]), g.ints([1]), g.ints([1])])      # (R, 1)
    batch = g.emit1("Floor", [batch])     # MXNet's int(): the index of a valid region is >= 0
    last = g.scalar(g.in_shape(0)[0] - 1, like=1)
    inside = g.emit1("And", [g.emit1("GreaterOrEqual", [batch, g.scalar(0, like=1)]),
                             g.emit1("LessOrEqual", [batch, last])])
    batch = g.emit1("Min", [g.emit1("Max", [batch, g.scalar(0, like=1)]), last])
    corners = g.emit1("Slice", [rois, g.ints([1]), g.ints([5]), g.ints([1])])
    regions = g.emit1("Concat", [batch, corners], axis=1)
    pooled = g.emit1("MaxRoiPool", [g.inputs[0], regions], pooled_shape=list(g.params["pooled_size"]),
                     spatial_scale=g.params["spatial_scale"])
    valid = g.emit1("Unsqueeze", [inside, g.ints([2, 3], "axes")])
    g.emit("Where", [valid, pooled, g.scalar(0)], g.outputs[:1])


@exporter("batch_take")
def _batch_take(g):
    last = len(g.in_shape(0)) - 1     # (onnx.reference's GatherElements wants it positive)
    indices = _clipped_indices(g, 1, g.in_shape(0)[-1], "clip")
    picked = g.emit1("GatherElements", [g.inputs[0], g.emit1("Unsqueeze", [indices, g.ints([last])])],
                     axis=last)
    g.emit("Squeeze", [picked, g.ints([last], "axes")], g.outputs)


def _rows_axis_perm(g):
    """The permutation moving the matrices' row axis (the `axis` parameter) just before the
    last (column) axis, or None when it is there."""
    ndim = len(g.in_shape(0))
    axis = g.params.get("axis", -2) % ndim
    if axis == ndim - 2:
        return None
    return [a for a in range(ndim - 1) if a != axis] + [axis, ndim - 1]


def _matrix_operands(g, count):
    """The first `count` inputs with their row axis moved before the last, and the
    permutation taking the results back (None when nothing moved)."""
    perm = _rows_axis_perm(g)
    if perm is None:
        return g.inputs[:count], None
    moved = [g.emit1("Transpose", [value], perm=perm) for value in g.inputs[:count]]
    return moved, [int(k) for k in np.argsort(perm)]


def _matrix_product(g, a, b, transpose_a, transpose_b):
    ndim = len(g.in_shape(0))
    swap = list(range(ndim - 2)) + [ndim - 1, ndim - 2]
    if transpose_a:
        a = g.emit1("Transpose", [a], perm=swap)
    if transpose_b:
        b = g.emit1("Transpose", [b], perm=swap)
    product = g.emit1("MatMul", [a, b])
    alpha = g.params["alpha"]
    return product if alpha == 1 else g.emit1("Mul", [product, g.scalar(alpha)])


def _restore_axes(g, value, back):
    """value, its axes put back by the permutation `back` (None: unchanged), as g's output."""
    if back is None:
        g.emit("Identity", [value], g.outputs)
    else:
        g.emit("Transpose", [value], g.outputs, perm=back)


@exporter("_linalg_gemm2")
def _linalg_gemm2(g):
    (a, b), back = _matrix_operands(g, 2)
    product = _matrix_product(g, a, b, g.params["transpose_a"], g.params["transpose_b"])
    _restore_axes(g, product, back)


@exporter("_linalg_gemm")
def _linalg_gemm(g):
    (a, b, c), back = _matrix_operands(g, 3)
    product = _matrix_product(g, a, b, g.params["transpose_a"], g.params["transpose_b"])
    scaled = g.emit1("Mul", [c, g.scalar(g.params["beta"])])
    _restore_axes(g, g.emit1("Add", [product, scaled]), back)


@exporter("_linalg_syrk")
def _linalg_syrk(g):
    transpose = g.params["transpose"]      # alpha * A A^T, or alpha * A^T A
    product = _matrix_product(g, g.inputs[0], g.inputs[0], transpose, not transpose)
    g.emit("Identity", [product], g.outputs)


@exporter("_linalg_det")
def _linalg_det(g):
    g.emit("Reshape", [g.emit1("Det", [g.inputs[0]]), g.out_shape_value()], g.outputs[:1])


@exporter("_contrib_div_sqrt_dim")
def _div_sqrt_dim(g):
    g.emit("Div", [g.inputs[0], g.scalar(math.sqrt(g.in_shape(0)[-1]))], g.outputs)


def _constant_array(g, values):
    if g.out_batch_axes():
        g.fail("an array whose shape follows the batch size")
    array = np.asarray(values).astype(g.out_dtype()).reshape(g.out_shape())
    g.emit("Identity", [g.const(array, name="value")], g.outputs)


@exporter("_eye")
def _eye(g):
    p = g.params
    _constant_array(g, np.eye(p["N"], p["M"] or None, p["k"]))


@exporter("_linspace")
def _linspace(g):
    p = g.params
    _constant_array(g, np.linspace(p["start"], p["stop"], p["num"], endpoint=p["endpoint"]))


@exporter("_contrib_arange_like")
def _arange_like(g):
    p = g.params
    count = int(np.prod(g.out_shape()))
    steps = -(-count // p["repeat"])
    _constant_array(g, np.repeat(p["start"] + p["step"] * np.arange(steps), p["repeat"])[:count])


@exporter("_contrib_index_array")
def _index_array(g):
    shape = g.in_shape(0)
    axes = range(len(shape)) if g.params["axes"] is None else _axes(g.params["axes"], len(shape))
    grid = np.indices(shape)
    _constant_array(g, np.stack([grid[a] for a in axes], axis=-1))


# ---------------------------------------------------------------------------------------------
# transformer blocks: projections interleaved as (seq, batch, heads, parts, head_dim),
# attention maps indexed batch * heads + head

def _heads(g, position, parts, part):
    """Block `part` of every head of input `position`: (batch * heads, seq, head_dim)."""
    length, _, width = g.in_shape(position)
    heads = g.params["heads"]
    head_dim = width // (heads * parts)
    blocks = g.emit1("Reshape", [g.inputs[position], g.ints([0, 0, heads, parts, head_dim], "shape")])
    block = g.emit1("Gather", [blocks, g.const(np.int64(part), name="part")], axis=3)
    block = g.emit1("Transpose", [block], perm=[1, 2, 0, 3])
    return g.emit1("Reshape", [block, g.ints([-1, length, head_dim], "shape")]), head_dim


def _attention_scores(g, queries, keys):
    (q, head_dim), (k, _) = queries, keys
    scores = g.emit1("MatMul", [q, g.emit1("Transpose", [k], perm=[0, 2, 1])])
    g.emit("Div", [scores, g.scalar(math.sqrt(head_dim))], g.outputs)


def _attended(g, values, attention_position):
    """(seq, batch, heads * head_dim) of the attention map times the values' heads."""
    (v, head_dim), heads = values, g.params["heads"]
    length = g.in_shape(attention_position)[1]
    out = g.emit1("MatMul", [g.inputs[attention_position], v])
    out = g.emit1("Reshape", [out, g.ints([-1, heads, length, head_dim], "shape")])
    out = g.emit1("Transpose", [out], perm=[2, 0, 1, 3])
    g.emit("Reshape", [out, g.ints([0, 0, heads * head_dim], "shape")], g.outputs)


@exporter("_contrib_interleaved_matmul_selfatt_qk")
def _selfatt_qk(g):
    _attention_scores(g, _heads(g, 0, 3, 0), _heads(g, 0, 3, 1))


@exporter("_contrib_interleaved_matmul_selfatt_valatt")
def _selfatt_valatt(g):
    _attended(g, _heads(g, 0, 3, 2), 1)


@exporter("_contrib_interleaved_matmul_encdec_qk")
def _encdec_qk(g):
    _attention_scores(g, _heads(g, 0, 1, 0), _heads(g, 1, 2, 0))


@exporter("_contrib_interleaved_matmul_encdec_valatt")
def _encdec_valatt(g):
    _attended(g, _heads(g, 0, 2, 1), 1)


@exporter("_contrib_box_decode")
def _box_decode(g):
    """Corners (x1, y1, x2, y2) of boxes given as offsets from anchors: centre + offset * size,
    size * exp(log-size offset, clipped), the offsets scaled by std0..3 first."""
    p = g.params
    anchors = g.emit1("Reshape", [g.inputs[1], g.ints([1, -1, 4], "shape")])
    first, second = (g.emit1("Slice", [anchors, g.ints([start]), g.ints([start + 2]), g.ints([2])])
                     for start in (0, 2))
    if p["format"] == "corner":
        size = g.emit1("Sub", [second, first])
        center = g.emit1("Add", [first, g.emit1("Mul", [size, g.scalar(0.5)])])
    else:
        center, size = first, second
    stds = np.array([p["std0"], p["std1"], p["std2"], p["std3"]], dtype=g.in_dtype(0))
    offset = g.emit1("Mul", [g.inputs[0], g.const(stds, name="stds")])
    shift, log_size = (g.emit1("Slice", [offset, g.ints([start]), g.ints([start + 2]), g.ints([2])])
                       for start in (0, 2))
    if p["clip"] > 0:
        log_size = g.emit1("Min", [log_size, g.scalar(p["clip"])])
    middle = g.emit1("Add", [g.emit1("Mul", [shift, size]), center])
    half = g.emit1("Mul", [g.emit1("Mul", [g.emit1("Exp", [log_size]), size]), g.scalar(0.5)])
    g.emit("Concat", [g.emit1("Sub", [middle, half]), g.emit1("Add", [middle, half])], g.outputs,
           axis=2)


# ---------------------------------------------------------------------------------------------
# detection

FLOAT32_LOWEST = float(np.finfo(np.float32).min)


def _box_column(g, x, start, stop):
    """Columns [start, stop) of the boxes x (B, N, W)."""
    return g.emit1("Slice", [x, g.ints([start]), g.ints([stop]), g.ints([2])])


@exporter("_contrib_box_nms")
def _box_nms(g):
    """ONNX NonMaxSuppression (one class per class id present when suppression is per class),
    then the kept boxes gathered by descending score and the other rows set to -1.  NMS takes
    float32 boxes: float64 data is suppressed on its float32 rounding."""
    p = g.params
    shape = g.in_shape(0)
    count, width = shape[-2], shape[-1]
    topk = count if p["topk"] < 0 else min(p["topk"], count)
    if topk == 0:     # MXNet's early exit: the input unchanged
        g.emit("Identity", [g.inputs[0]], g.outputs[:1])
        return
    x = g.emit1("Reshape", [g.inputs[0], g.ints([-1, count, width], "shape")])
    scores = g.emit1("Squeeze", [_box_column(g, x, p["score_index"], p["score_index"] + 1),
                                 g.ints([2], "axes")])
    # MXNet rounds the thresholds to float32 whatever the data type
    valid = g.emit1("Greater", [scores, g.scalar(float(np.float32(p["valid_thresh"])))])
    ids = None
    if p["id_index"] >= 0:
        ids = g.emit1("Squeeze", [_box_column(g, x, p["id_index"], p["id_index"] + 1),
                                  g.ints([2], "axes")])
        valid = g.emit1("And", [valid, g.emit1("Not", [
            g.emit1("Equal", [ids, g.scalar(p["background_id"])])])])
    minus_inf = g.const(np.float32(-np.inf), name="minus_inf")
    # NMS and the output order see a rank, not the score: count - (position in the stable sort
    # by descending score), so ties go as MXNet's (input order), whatever NMS does with ties
    by_score = g.emit1("Where", [valid, scores, g.scalar(-np.inf)])    # (B, N)
    _, order = g.emit("TopK", [by_score, g.ints([count], "k")], num_outputs=2, axis=1, largest=1,
                      sorted=1)
    descending = g.const(np.arange(count, 0, -1, dtype=np.float32).reshape(1, count), name="ranks")
    batch_shape = g.emit1("Shape", [scores])
    ranks = g.emit1("ScatterElements", [g.emit1("ConstantOfShape", [batch_shape]), order,
                                        g.emit1("Expand", [descending, batch_shape])], axis=1)
    # only the topk best valid boxes take part
    chosen = g.emit1("And", [valid, g.emit1("Greater", [ranks, g.const(np.float32(count - topk),
                                                                        name="cut")])])
    ranked = g.emit1("Where", [chosen, ranks, minus_inf])
    boxes = _as_dtype(g, _box_column(g, x, p["coord_start"], p["coord_start"] + 4), np.float32)
    per_class = g.emit1("Unsqueeze", [ranked, g.ints([1], "axes")])     # (B, 1, N)
    if ids is not None and not p["force_suppress"]:
        # class k - lowest of the ids as truncated to integers (MXNet compares int(id))
        classes = _as_dtype(g, ids, np.int64)
        lowest = _reduce(g, "ReduceMin", classes, None, False)
        slots = g.emit1("Sub", [classes, lowest])
        number = g.emit1("Add", [g.emit1("Sub", [_reduce(g, "ReduceMax", classes, None, False),
                                                 lowest]), g.ints([1])])
        class_range = g.emit1("Range", [g.const(np.int64(0), name="start"),
                                        g.emit1("Squeeze", [number]),
                                        g.const(np.int64(1), name="step")])
        same = g.emit1("Equal", [g.emit1("Unsqueeze", [slots, g.ints([1], "axes")]),
                                 g.emit1("Unsqueeze", [class_range, g.ints([0, 2], "axes")])])
        per_class = g.emit1("Where", [same, per_class, minus_inf])      # (B, classes, N)
    selected = g.emit1("NonMaxSuppression", [
        boxes, per_class, g.ints([count], "max_boxes"),
        g.const(np.array([p["overlap_thresh"]], dtype=np.float32), name="iou"),
        g.const(np.array([FLOAT32_LOWEST], dtype=np.float32), name="score_floor")],
        center_point_box=int(p["in_format"] == "center"))                # (K, 3)
    box_index = g.emit1("Gather", [selected, g.ints([0, 2], "columns")], axis=1)
    one_per_box = g.emit1("ConstantOfShape", [g.emit1("Slice", [
        g.emit1("Shape", [selected]), g.ints([0]), g.ints([1])])],
        value=g.graph.onnx.numpy_helper.from_array(np.array([1], dtype=np.float32)))
    kept = g.emit1("ScatterND", [g.emit1("ConstantOfShape", [batch_shape]),
                                 box_index, one_per_box])
    kept = _as_dtype(g, kept, np.bool_)
    order_key = g.emit1("Where", [kept, ranked, minus_inf])
    sorted_keys, order = g.emit("TopK", [order_key, g.ints([count], "k")], num_outputs=2, axis=1,
                                largest=1, sorted=1)
    # (onnx.reference's GatherElements takes at most 64 rows: np.choose)
    rows = g.emit1("GatherND", [x, g.emit1("Unsqueeze", [order, g.ints([2], "axes")])],
                   batch_dims=1)
    removed = g.emit1("Unsqueeze", [g.emit1("IsInf", [sorted_keys], detect_positive=0),
                                    g.ints([2], "axes")])
    result = g.emit1("Where", [removed, g.scalar(-1), rows])
    if p["in_format"] != p["out_format"]:
        result = _convert_box_rows(g, result, p["coord_start"], width, p["out_format"])
    g.emit("Reshape", [result, g.emit1("Shape", [g.inputs[0]])], g.outputs[:1])


@exporter("_contrib_MultiBoxPrior")
def _multibox_prior(g):
    """A constant: the anchors depend on the data's height and width only (the batch size
    aside), so cysym's own kernel computes them at export."""
    from .. import symbol
    from ..context import cpu
    shape = tuple(1 if a in g.in_batch_axes(0) else d for a, d in enumerate(g.in_shape(0)))
    node = symbol._contrib_MultiBoxPrior(symbol.Variable("data"), **g.params)
    executor = node.simple_bind(cpu(), grad_req="null", data=shape,
                                type_dict={"data": g.in_dtype(0)})
    anchors = np.array(executor.forward(is_train=False, data=np.zeros(shape, g.in_dtype(0)))[0])
    g.emit("Identity", [g.const(anchors.astype(g.out_dtype()), name="anchors")], g.outputs)


@exporter("_contrib_MultiBoxDetection")
def _multibox_detection(g):
    """MXNet's SSD detection output: per anchor the best foreground class and its score
    (valid from `threshold`), its box decoded from the anchor; the valid rows in input order;
    the first nms_topk of them by descending score (stable) replaced by those rows with the
    suppressed ones' class -1 (NonMaxSuppression per class, IoU >= nms_threshold as IoU above
    the float32 below it); the valid rows past nms_topk keep their unsorted values, class -1."""
    p = g.params
    batch, classes, count = g.in_shape(0)
    f32 = [float(np.float32(v)) for v in p["variances"]]     # MXNet's float32 parameters
    probs = g.emit1("Slice", [g.inputs[0], g.ints([1]), g.ints([classes]), g.ints([1])])
    score = _reduce(g, "ReduceMax", probs, [1], False)                     # (B, A)
    best = g.emit1("ArgMax", [probs], axis=1, keepdims=0)                  # first of equals
    valid = g.emit1("GreaterOrEqual", [score, g.scalar(float(np.float32(p["threshold"])))])
    # decoded corners, in the data's precision and MXNet's order of operations
    anchors = g.emit1("Slice", [g.inputs[2], g.ints([0]), g.ints([1]), g.ints([0])])   # (1, A, 4)
    pred = g.emit1("Reshape", [g.inputs[1], g.ints([0, count, 4], "shape")])
    column = [lambda value, k=k: _box_column(g, value, k, k + 1) for k in range(4)]
    aw = g.emit1("Sub", [column[2](anchors), column[0](anchors)])
    ah = g.emit1("Sub", [column[3](anchors), column[1](anchors)])
    ax = g.emit1("Div", [g.emit1("Add", [column[0](anchors), column[2](anchors)]), g.scalar(2)])
    ay = g.emit1("Div", [g.emit1("Add", [column[1](anchors), column[3](anchors)]), g.scalar(2)])

    def times(value, factor):
        return g.emit1("Mul", [value, g.scalar(factor)])
    ox = g.emit1("Add", [g.emit1("Mul", [times(column[0](pred), f32[0]), aw]), ax])
    oy = g.emit1("Add", [g.emit1("Mul", [times(column[1](pred), f32[1]), ah]), ay])
    ow = g.emit1("Div", [g.emit1("Mul", [g.emit1("Exp", [times(column[2](pred), f32[2])]), aw]),
                         g.scalar(2)])
    oh = g.emit1("Div", [g.emit1("Mul", [g.emit1("Exp", [times(column[3](pred), f32[3])]), ah]),
                         g.scalar(2)])
    corners = [g.emit1("Sub", [ox, ow]), g.emit1("Sub", [oy, oh]), g.emit1("Add", [ox, ow]),
               g.emit1("Add", [oy, oh])]
    if p["clip"]:
        corners = [g.emit1("Clip", [c, g.scalar(0), g.scalar(1)]) for c in corners]
    boxes = g.emit1("Concat", corners, axis=2)                             # (B, A, 4)
    class_id = g.emit1("Unsqueeze", [_as_dtype(g, best, g.in_dtype(0)), g.ints([2], "axes")])
    rows = g.emit1("Concat", [class_id, g.emit1("Unsqueeze", [score, g.ints([2], "axes")]), boxes],
                   axis=2)                                                 # (B, A, 6)
    minus_one = g.scalar(-1)
    minus_inf = g.const(np.float32(-np.inf), name="minus_inf")
    positions = g.const(np.arange(count, dtype=np.float32).reshape(1, count), name="positions")

    def ordered(key):
        """(sorted keys, rows gathered by descending key, the order) of key (B, A)."""
        keys, order = g.emit("TopK", [key, g.ints([count], "k")], num_outputs=2, axis=1,
                             largest=1, sorted=1)
        gathered = g.emit1("GatherND", [rows, g.emit1("Unsqueeze", [order, g.ints([2], "axes")])],
                           batch_dims=1)
        return keys, gathered, order

    def row_mask(mask):
        return g.emit1("Unsqueeze", [mask, g.ints([2], "axes")])

    # the valid rows in input order, then rows of -1
    in_order = g.emit1("Where", [valid, g.emit1("Sub", [g.const(np.float32(count), name="count"),
                                                        positions]), minus_inf])
    order_keys, compacted, _ = ordered(in_order)
    compacted = g.emit1("Where", [row_mask(g.emit1("IsInf", [order_keys], detect_positive=0)),
                                  minus_one, compacted])
    if not 0 < p["nms_threshold"] <= 1:
        g.emit("Identity", [compacted], g.outputs)
        return
    # by descending score (ties in input order); each box's rank position in that order
    by_score = g.emit1("Where", [valid, score, g.scalar(-np.inf)])
    _, sorted_rows, order = ordered(by_score)
    shape = g.emit1("Shape", [by_score])
    rank = g.emit1("ScatterElements", [g.emit1("ConstantOfShape", [shape]), order,
                                       g.emit1("Expand", [positions, shape])], axis=1)
    valid_count = _reduce(g, "ReduceSum", _as_dtype(g, valid, np.float32), [1], True)   # (B, 1)
    keep = valid_count if p["nms_topk"] <= 0 else \
        g.emit1("Min", [valid_count, g.const(np.float32(p["nms_topk"]), name="topk")])
    chosen = g.emit1("And", [valid, g.emit1("Less", [rank, keep])])
    ranked = g.emit1("Where", [chosen, g.emit1("Sub", [g.const(np.float32(count), name="count"),
                                                       rank]), minus_inf])
    per_class = g.emit1("Unsqueeze", [ranked, g.ints([1], "axes")])          # (B, 1, A)
    if not p["force_suppress"]:
        same = g.emit1("Equal", [g.emit1("Unsqueeze", [best, g.ints([1], "axes")]),
                                 g.const(np.arange(classes - 1).reshape(1, -1, 1), np.int64,
                                         name="classes")])
        per_class = g.emit1("Where", [same, per_class, minus_inf])            # (B, C-1, A)
    below = float(np.nextafter(np.float32(p["nms_threshold"]), np.float32(-np.inf)))
    selected = g.emit1("NonMaxSuppression", [
        _as_dtype(g, boxes, np.float32), per_class, g.ints([count], "max_boxes"),
        g.const(np.array([below], dtype=np.float32), name="iou"),
        g.const(np.array([FLOAT32_LOWEST], dtype=np.float32), name="score_floor")])
    one = g.graph.onnx.numpy_helper.from_array(np.array([1], dtype=np.float32))
    marks = g.emit1("ConstantOfShape", [g.emit1("Slice", [g.emit1("Shape", [selected]),
                                                          g.ints([0]), g.ints([1])])], value=one)
    kept = g.emit1("ScatterND", [g.emit1("ConstantOfShape", [shape]),
                                 g.emit1("Gather", [selected, g.ints([0, 2], "columns")], axis=1),
                                 marks])
    kept_sorted = g.emit1("GatherElements", [kept, order], axis=1)            # (B, A)
    sorted_ids = g.emit1("Where", [row_mask(_as_dtype(g, kept_sorted, np.bool_)),
                                   _box_column(g, sorted_rows, 0, 1), minus_one])
    sorted_rows = g.emit1("Concat", [sorted_ids, _box_column(g, sorted_rows, 1, 6)], axis=2)
    unsorted = g.emit1("Concat", [g.emit1("Expand", [minus_one, g.emit1("Shape", [
        _box_column(g, compacted, 0, 1)])]), _box_column(g, compacted, 1, 6)], axis=2)
    in_top = row_mask(g.emit1("Less", [positions, keep]))
    g.emit("Where", [in_top, sorted_rows, unsorted], g.outputs)


def _proposal_anchors(p, height, width):
    """(H * W * A, 4) float32 anchors of MXNet's Proposal, in its float32 steps (h, w, anchor
    order), and the (h, w) of each row."""
    f32, half, one = np.float32, np.float32(0.5), np.float32(1)
    stride = p["feature_stride"]
    base = []
    for ratio in p["ratios"]:
        for scale in p["scales"]:
            side = f32(stride - 1.0) + one
            center = f32(0.5 * np.float64(side - one))
            size_ratios = np.floor(side * side / f32(ratio))
            new_w = np.floor(np.sqrt(size_ratios) + half) * f32(scale)
            new_h = np.floor(new_w / f32(scale) * f32(ratio) + half) * f32(scale)
            base.append([center - half * (new_w - one), center - half * (new_h - one),
                         center + half * (new_w - one), center + half * (new_h - one)])
    base = np.array(base, dtype=np.float32)                               # (A, 4)
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    shifts = np.stack([columns * stride, rows * stride] * 2, axis=-1).astype(np.float32)
    anchors = (base[None, None] + shifts[:, :, None]).reshape(-1, 4)     # float32 sums
    positions = np.repeat(np.stack([rows, columns], -1).reshape(-1, 2), len(base), axis=0)
    return anchors, positions


@exporter("_contrib_Proposal", "_contrib_MultiProposal")
def _proposal(g):
    """Faster R-CNN's region proposals as MXNet's (float32 arithmetic, a float64 step where
    MXNet's C double constants make one): anchors decoded and clipped, scores of anchors off the
    image or too small set to -1, the best rpn_pre_nms_top_n by stable score order, greedy
    NonMaxSuppression with MXNet's +1 pixel extents (the far corners moved by 1) up to
    rpn_post_nms_top_n, the kept boxes repeated cyclically to rpn_post_nms_top_n rows."""
    p = g.params
    _, channels, height, width = g.in_shape(0)
    count_anchors = channels // 2
    anchors, positions = _proposal_anchors(p, height, width)
    count = len(anchors)
    pre = min(p["rpn_pre_nms_top_n"] if p["rpn_pre_nms_top_n"] > 0 else count, count)
    post = min(p["rpn_post_nms_top_n"], pre)
    rows_out = p["rpn_post_nms_top_n"]
    f32 = np.float32

    def const(value, name):
        return g.const(np.asarray(value, dtype=np.float32), name=name)

    def column(value, k):
        """Column k of (B, N, 4) as (B, N)."""
        return g.emit1("Squeeze", [g.emit1("Slice", [value, g.ints([k]), g.ints([k + 1]),
                                                     g.ints([2])]), g.ints([2], "axes")])

    def to_float64(value):
        return _as_dtype(g, value, np.float64)

    # (B, N, 4) deltas and (B, N) scores, N in (h, w, anchor) order
    deltas = g.emit1("Reshape", [_as_dtype(g, g.inputs[1], np.float32),
                                 g.ints([0, count_anchors, 4, height, width], "shape")])
    deltas = g.emit1("Reshape", [g.emit1("Transpose", [deltas], perm=[0, 3, 4, 1, 2]),
                                 g.ints([0, count, 4], "shape")])
    scores = g.emit1("Slice", [_as_dtype(g, g.inputs[0], np.float32), g.ints([count_anchors]),
                               g.ints([channels]), g.ints([1])])
    scores = g.emit1("Reshape", [g.emit1("Transpose", [scores], perm=[0, 2, 3, 1]),
                                 g.ints([0, count], "shape")])
    info = _as_dtype(g, g.inputs[2], np.float32)                          # (B, 3)
    image_h, image_w, image_scale = (g.emit1("Slice", [info, g.ints([k]), g.ints([k + 1]),
                                                       g.ints([1])]) for k in range(3))
    x1, y1, x2, y2 = anchors.T
    if p["iou_loss"]:
        corners = [g.emit1("Add", [const(a, "anchor"), column(deltas, k)])
                   for k, a in enumerate((x1, y1, x2, y2))]
    else:
        bw, bh = f32(np.float64(x2 - x1) + 1.0), f32(np.float64(y2 - y1) + 1.0)
        centers = (f32(x1 + 0.5 * (np.float64(bw) - 1.0)), f32(y1 + 0.5 * (np.float64(bh) - 1.0)))
        corners = [None] * 4
        for k, (size, center) in enumerate(((bw, centers[0]), (bh, centers[1]))):
            middle = g.emit1("Add", [g.emit1("Mul", [column(deltas, k), const(size, "size")]),
                                     const(center, "center")])
            extent = g.emit1("Mul", [g.emit1("Exp", [column(deltas, k + 2)]), const(size, "size")])
            half = g.emit1("Mul", [g.emit1("Sub", [to_float64(extent),
                                                   g.const(np.float64(1), name="one")]),
                                   g.const(np.float64(0.5), name="half")])
            corners[k] = _as_dtype(g, g.emit1("Sub", [to_float64(middle), half]), np.float32)
            corners[k + 2] = _as_dtype(g, g.emit1("Add", [to_float64(middle), half]), np.float32)
    one, zero = const(1, "one"), const(0, "zero")
    limits = [g.emit1("Sub", [limit, one]) for limit in (image_w, image_h)]  # (B, 1)
    corners = [g.emit1("Max", [g.emit1("Min", [corner, limits[k % 2]]), zero])
               for k, corner in enumerate(corners)]
    # anchors off the image (h >= int(im_h / stride), w likewise) score -1
    stride = const(p["feature_stride"], "stride")
    real = [g.emit1("Floor", [g.emit1("Div", [size, stride])]) for size in (image_h, image_w)]
    off = g.emit1("Or", [g.emit1("GreaterOrEqual", [const(positions[:, 0], "rows"), real[0]]),
                         g.emit1("GreaterOrEqual", [const(positions[:, 1], "columns"), real[1]])])
    # boxes under the minimum size grow by it and score -1
    min_size = g.emit1("Mul", [const(p["rpn_min_size"], "min_size"), image_scale])   # (B, 1)
    small = g.emit1("Or", [
        g.emit1("Less", [g.emit1("Add", [g.emit1("Sub", [corners[2], corners[0]]), one]), min_size]),
        g.emit1("Less", [g.emit1("Add", [g.emit1("Sub", [corners[3], corners[1]]), one]), min_size])])
    grow = g.emit1("Where", [small, g.emit1("Div", [min_size, const(2, "two")]), zero])
    corners = [g.emit1("Sub" if k < 2 else "Add", [corner, grow]) for k, corner in enumerate(corners)]
    scores = g.emit1("Where", [g.emit1("Or", [off, small]), const(-1, "minus_one"), scores])
    boxes = g.emit1("Concat", [g.emit1("Unsqueeze", [value, g.ints([2], "axes")])
                               for value in corners + [scores]], axis=2)  # (B, N, 5)
    # the best `pre` by stable score order, ranked for NMS (its ties would go its own way)
    _, order = g.emit("TopK", [scores, g.ints([pre], "k")], num_outputs=2, axis=1, largest=1,
                      sorted=1)
    ordered = g.emit1("GatherND", [boxes, g.emit1("Unsqueeze", [order, g.ints([2], "axes")])],
                      batch_dims=1)                                        # (B, pre, 5)
    far = g.emit1("Add", [g.emit1("Slice", [ordered, g.ints([2]), g.ints([4]), g.ints([2])]), one])
    nms_boxes = g.emit1("Concat", [g.emit1("Slice", [ordered, g.ints([0]), g.ints([2]),
                                                     g.ints([2])]), far], axis=2)
    ranks = g.emit1("Expand", [const(np.arange(pre, 0, -1).reshape(1, 1, pre), "ranks"),
                               g.emit1("Concat", [g.emit1("Slice", [g.emit1("Shape", [scores]),
                                                                    g.ints([0]), g.ints([1])]),
                                                  g.ints([1, pre], "tail")], axis=0)])
    selected = g.emit1("NonMaxSuppression", [
        nms_boxes, ranks, g.ints([post], "max_boxes"), const([p["threshold"]], "iou")])
    # per image: its kept boxes (in selection order) repeated cyclically to rows_out rows
    selected_batch = g.emit1("Gather", [selected, g.const(np.int64(0), name="batch_column")],
                             axis=1)                                       # (K,)
    images = g.emit1("Range", [g.const(np.int64(0), name="start"),
                               g.emit1("Squeeze", [g.emit1("Slice", [g.emit1("Shape", [scores]),
                                                                     g.ints([0]), g.ints([1])])]),
                               g.const(np.int64(1), name="step")])        # (B,)
    membership = g.emit1("Equal", [g.emit1("Unsqueeze", [images, g.ints([1], "axes")]),
                                   g.emit1("Unsqueeze", [selected_batch, g.ints([0], "axes")])])
    kept = _reduce(g, "ReduceSum", _as_dtype(g, membership, np.int64), [1], True)   # (B, 1)
    first = g.emit1("CumSum", [kept, g.const(np.int64(0), name="axis")], exclusive=1)
    row = g.const(np.arange(rows_out).reshape(1, -1), np.int64, name="row")
    picks = g.emit1("Add", [first, g.emit1("Mod", [row, kept])])         # (B, rows_out)
    chosen = g.emit1("Gather", [g.emit1("Gather", [selected, g.const(np.int64(2), name="box")],
                                        axis=1), picks])                  # (B, rows_out)
    proposals = g.emit1("GatherND", [ordered, g.emit1("Unsqueeze", [chosen, g.ints([2], "axes")])],
                        batch_dims=1)                                      # (B, rows_out, 5)
    image_column = g.emit1("Expand", [
        _as_dtype(g, g.emit1("Unsqueeze", [images, g.ints([1, 2], "axes")]), np.float32),
        g.emit1("Concat", [g.emit1("Slice", [g.emit1("Shape", [scores]), g.ints([0]),
                                             g.ints([1])]), g.ints([rows_out, 1], "tail")],
                axis=0)])
    rois = g.emit1("Concat", [image_column, g.emit1("Slice", [proposals, g.ints([0]), g.ints([4]),
                                                              g.ints([2])])], axis=2)
    rois = g.emit1("Reshape", [rois, g.ints([-1, 5], "shape")])
    _as_dtype(g, rois, g.out_dtype(0), g.outputs[0])
    if len(g.outputs) > 1:
        score_column = g.emit1("Slice", [proposals, g.ints([4]), g.ints([5]), g.ints([2])])
        _as_dtype(g, g.emit1("Reshape", [score_column, g.ints([-1, 1], "shape")]),
                  g.out_dtype(1), g.outputs[1])


def _convert_box_rows(g, rows, start, width, out_format):
    """MXNet's format conversion of box_nms's output: corner <-> center of the 4 coordinates
    at `start`, except in rows whose first coordinate is negative (the -1 padding too)."""
    a, b = _box_column(g, rows, start, start + 2), _box_column(g, rows, start + 2, start + 4)
    if out_format == "center":
        first = g.emit1("Div", [g.emit1("Add", [a, b]), g.scalar(2)])
        second = g.emit1("Sub", [b, a])
    else:
        half = g.emit1("Div", [b, g.scalar(2)])
        first, second = g.emit1("Sub", [a, half]), g.emit1("Add", [a, half])
    pieces = [_box_column(g, rows, 0, start)] if start else []
    pieces += [first, second]
    if start + 4 < width:
        pieces.append(_box_column(g, rows, start + 4, width))
    converted = g.emit1("Concat", pieces, axis=2)
    negative = g.emit1("Less", [_box_column(g, rows, start, start + 1), g.scalar(0)])
    return g.emit1("Where", [negative, rows, converted])


# ---------------------------------------------------------------------------------------------
# random sampling: ONNX's uniform and normal generators, transformed for the exponential and
# the integers; the distributions that need rejection sampling (gamma, Poisson, negative
# binomial) have no ONNX form

def _draws(g, op_type, like=None, dtype=None, **attrs):
    """A RandomUniform/RandomNormal array of the output's shape (of `like`'s shape with the
    *Like form), of the output's dtype unless `dtype` says (standard u or z unless attrs
    say)."""
    dtype = _tensor_type(g.out_dtype() if dtype is None else dtype)
    if like is not None:
        return g.emit1(f"{op_type}Like", [like], dtype=dtype, **attrs)
    if g.out_batch_axes():
        g.fail("a random array whose shape follows the batch size")
    return g.emit1(op_type, [], shape=list(g.out_shape()), dtype=dtype, **attrs)


def _transformed_draws(g, distribution, first, second, like=None):
    """Samples of the output's shape: first + (second - first) u for the uniform on [first,
    second), first + second z for the normal of mean first and deviation second, -log(1 - u) /
    first for the exponential of rate first.  ONNX's generators draw only the standard u in
    [0, 1) and z (ONNX Runtime aborts on an empty range low == high or a zero scale)."""
    if distribution == "normal":
        return g.emit1("Add", [first, g.emit1("Mul", [second, _draws(g, "RandomNormal", like)])])
    uniform = _draws(g, "RandomUniform", like)
    if distribution == "uniform":
        return g.emit1("Add", [first, g.emit1("Mul", [g.emit1("Sub", [second, first]), uniform])])
    survival = g.emit1("Sub", [g.const(np.array(1, dtype=g.out_dtype()), name="one"), uniform])
    return g.emit1("Div", [g.emit1("Neg", [g.emit1("Log", [survival])]), first])


# the parameters of the scalar-parameter samplers, in _transformed_draws' order
_SCALAR_PARAMS = {"uniform": ("low", "high"), "normal": ("loc", "scale"), "exponential": ("lam",)}


def _random_scalar_params(g, like=None):
    distribution = g.op[len("_random_"):].removesuffix("_like")
    values = [g.const(np.array(g.params[name], dtype=g.out_dtype()), name=name)
              for name in _SCALAR_PARAMS[distribution]]
    first, second = (values + [None])[:2]
    g.emit("Identity", [_transformed_draws(g, distribution, first, second, like)], g.outputs)


@exporter("_random_uniform", "_random_normal", "_random_exponential")
def _random(g):
    _random_scalar_params(g)


@exporter("_random_uniform_like", "_random_normal_like", "_random_exponential_like")
def _random_like(g):
    _random_scalar_params(g, like=g.inputs[0])


@exporter("_random_randint")
def _random_randint(g):
    """floor of a uniform draw in [low, high), in float64 (exact integers below 2^53)."""
    p = g.params
    draws = _draws(g, "RandomUniform", dtype=np.float64, low=float(p["low"]), high=float(p["high"]))
    _as_dtype(g, g.emit1("Floor", [draws]), g.out_dtype(), g.outputs[0])


@exporter("_sample_uniform", "_sample_normal", "_sample_exponential")
def _sample(g):
    """One distribution per element of the parameter arrays, its samples along the trailing
    `shape` axes: the parameters reshaped to broadcast against the draws."""
    trailing = [1] * len(g.params["shape"])
    parameters = [g.emit1("Reshape", [value, g.ints(list(g.in_shape(k)) + trailing, "shape")])
                  for k, value in enumerate(g.inputs)]
    if g.out_dtype() != g.in_dtype(0):
        parameters = [_as_dtype(g, value, g.out_dtype()) for value in parameters]
    first, second = (parameters + [None])[:2]
    samples = _transformed_draws(g, g.op[len("_sample_"):], first, second)
    g.emit("Identity", [samples], g.outputs)


@exporter("_sample_multinomial")
def _sample_multinomial(g):
    """ONNX Multinomial over the log-probabilities (rows of the last axis), `shape` draws per
    row; get_prob's output is the log-probability of each draw."""
    outcomes = g.in_shape(0)[-1]
    draws = int(np.prod(g.params["shape"]))
    log_probabilities = g.emit1("Log", [g.emit1("Reshape", [g.inputs[0],
                                                             g.ints([-1, outcomes], "shape")])])
    samples = g.emit1("Multinomial", [log_probabilities], sample_size=draws,
                      dtype=_tensor_type(np.int64))      # (rows, draws)
    _as_dtype(g, g.emit1("Reshape", [samples, g.out_shape_value(0)]), g.out_dtype(0), g.outputs[0])
    if len(g.outputs) > 1:
        chosen = g.emit1("GatherElements", [log_probabilities, samples], axis=1)
        g.emit("Reshape", [chosen, g.out_shape_value(1)], g.outputs[1:])


# ---------------------------------------------------------------------------------------------
# linear algebra without a factorization: determinants, triangular products, diagonals and
# packed triangles (potrf, potri, trsm, inverse, gelqf and syevd have no ONNX operator)

@exporter("_linalg_slogdet")
def _linalg_slogdet(g):
    det = g.emit1("Det", [g.inputs[0]])
    g.emit("Reshape", [g.emit1("Sign", [det]), g.out_shape_value(0)], g.outputs[:1])
    logabsdet = g.emit1("Log", [g.emit1("Abs", [det])])
    g.emit("Reshape", [logabsdet, g.out_shape_value(1)], g.outputs[1:2])


@exporter("_linalg_trmm")
def _linalg_trmm(g):
    """alpha op(A) B, or alpha B op(A) (rightside): A's triangle only (lower, or upper)."""
    p = g.params
    order = g.in_shape(0)[-1]     # (Trilu needs opset 14)
    mask = np.tril(np.ones((order, order), dtype=bool))
    triangle = g.emit1("Where", [g.const(mask if p["lower"] else mask.T, name="triangle"),
                                 g.inputs[0], g.scalar(0)])
    if p["transpose"]:
        ndim = len(g.in_shape(0))
        triangle = g.emit1("Transpose", [triangle],
                           perm=list(range(ndim - 2)) + [ndim - 1, ndim - 2])
    operands = [g.inputs[1], triangle] if p["rightside"] else [triangle, g.inputs[1]]
    product = g.emit1("MatMul", operands)
    g.emit("Mul", [product, g.scalar(p["alpha"])], g.outputs)


def _packed_positions(n, offset, lower):
    """Flat positions (row * n + column) in an n x n matrix of MXNet's packed triangle, in its
    order (the lower triangle row by row; the upper one column by column)."""
    k = abs(offset)
    if offset < 0 or (offset == 0 and lower):
        pairs = [(r + k, c) for r in range(n - k) for c in range(r + 1)]
    else:
        pairs = [(c, r + k) for r in range(n - k) for c in range(r + 1)]
    return np.array([row * n + column for row, column in pairs], dtype=np.int64)


def _gather_from_matrices(g, positions):
    """The elements at flat `positions` of each matrix (the last two axes) of input 0."""
    ndim = len(g.in_shape(0))
    flat = g.emit1("Reshape", [g.inputs[0], g.ints([0] * (ndim - 2) + [-1], "shape")])
    return g.emit1("Gather", [flat, g.ints(positions, "positions")], axis=ndim - 2)


def _scatter_into_matrices(g, positions, size):
    """size x size matrices, holding input 0's last axis at flat `positions`, zeros elsewhere:
    a gather from the values with one zero appended (exact, whatever the values)."""
    ndim, count = len(g.in_shape(0)), g.in_shape(0)[-1]
    if g.in_batch_axes(0):
        padded = g.emit1("Pad", [g.inputs[0], g.ints([0] * (2 * ndim - 1) + [1], "pads")])
    else:     # a constant column where it can be (cysym pads 4-D and 5-D arrays only)
        zeros = g.const(np.zeros(g.in_shape(0)[:-1] + (1,), dtype=g.in_dtype(0)), name="zeros")
        padded = g.emit1("Concat", [g.inputs[0], zeros], axis=ndim - 1)
    sources = np.full(size * size, count, dtype=np.int64)
    sources[positions] = np.arange(count)
    flat = g.emit1("Gather", [padded, g.ints(sources, "sources")], axis=ndim - 1)
    g.emit("Reshape", [flat, g.ints([0] * (ndim - 1) + [size, size], "shape")], g.outputs)


@exporter("_linalg_extractdiag")
def _linalg_extractdiag(g):
    rows, columns = g.in_shape(0)[-2:]
    positions = np.diagonal(np.arange(rows * columns).reshape(rows, columns), g.params["offset"])
    g.emit("Identity", [_gather_from_matrices(g, positions)], g.outputs)


@exporter("_linalg_sumlogdiag")
def _linalg_sumlogdiag(g):
    size = g.in_shape(0)[-1]
    diagonal = _gather_from_matrices(g, np.arange(size) * (size + 1))
    logs = _reduce(g, "ReduceSum", g.emit1("Log", [diagonal]), [len(g.in_shape(0)) - 2], False)
    g.emit("Reshape", [logs, g.out_shape_value()], g.outputs)


@exporter("_linalg_extracttrian")
def _linalg_extracttrian(g):
    positions = _packed_positions(g.in_shape(0)[-1], g.params["offset"], g.params["lower"])
    g.emit("Identity", [_gather_from_matrices(g, positions)], g.outputs)


@exporter("_linalg_makediag")
def _linalg_makediag(g):
    size = g.out_shape()[-1]
    positions = np.diagonal(np.arange(size * size).reshape(size, size), g.params["offset"])
    _scatter_into_matrices(g, positions, size)


@exporter("_linalg_maketrian")
def _linalg_maketrian(g):
    size = g.out_shape()[-1]
    _scatter_into_matrices(g, _packed_positions(size, g.params["offset"], g.params["lower"]), size)


# ---------------------------------------------------------------------------------------------
# AMP casts, the quadratic, split_v2, finiteness checks, softmax cross-entropy

@exporter("amp_cast")
def _amp_cast(g):
    """A Cast to the inferred dtype: float32 inputs become `dtype`, the others pass through."""
    _as_dtype(g, g.inputs[0], g.out_dtype(), g.outputs[0])


@exporter("amp_multicast")
def _amp_multicast(g):
    """Every input passes through: float32 is the only AMP type cysym has (ops/misc.py)."""
    for k, output in enumerate(g.outputs):
        g.emit("Identity", [g.inputs[k]], [output])


@exporter("_contrib_quadratic")
def _quadratic(g):
    """x * (a x + b) + c with float32 coefficients, in MXNet's order of operations."""
    x = g.inputs[0]
    a, b, c = (g.scalar(np.float32(g.params[name])) for name in ("a", "b", "c"))
    slope = g.emit1("Add", [g.emit1("Mul", [x, a]), b])
    g.emit("Add", [g.emit1("Mul", [x, slope]), c], g.outputs)


@exporter("_split_v2")
def _split_v2(g):
    ndim = len(g.in_shape())
    axis = g.params["axis"] % ndim
    if axis in g.in_batch_axes():
        g.fail("split along the batch axis of a dynamic model (the pieces' sizes are constant)")
    size, sections = g.in_shape()[axis], g.params["sections"]
    starts = ([i * size // sections for i in range(sections)] if sections > 0
              else list(g.params["indices"]))
    sizes = [end - start for start, end in zip(starts, starts[1:] + [size])]
    squeeze = g.params["squeeze_axis"]
    pieces = g.emit("Split", [g.inputs[0], g.ints(sizes, "split")],
                    None if squeeze else g.outputs, num_outputs=len(sizes), axis=axis)
    if squeeze:
        for piece, output in zip(pieces, g.outputs):
            g.emit("Squeeze", [piece, g.ints([axis], "axes")], [output])


@exporter("all_finite", "multi_all_finite")
def _all_finite(g):
    """1 - max over the inputs of (isinf(x) or isnan(x)), shape (1,).  init_output=False keeps
    the previous run's value where all are finite: a state ONNX's graphs do not have."""
    if not g.params["init_output"]:
        g.fail("init_output=False (the output keeps the previous run's value)")
    flags = []
    for x in g.inputs:
        bad = g.emit1("Or", [g.emit1("IsInf", [x]), g.emit1("IsNaN", [x])])
        flags.append(_reduce(g, "ReduceMax", _as_dtype(g, bad, np.float32), None, keepdims=False))
    any_bad = flags[0] if len(flags) == 1 else g.emit1("Max", flags)
    finite = g.emit1("Sub", [g.const(np.float32(1.0)), any_bad])
    g.emit("Reshape", [finite, g.ints([1], "shape")], g.outputs)


@exporter("softmax_cross_entropy")
def _softmax_cross_entropy(g):
    """The sum over rows of -log(max(softmax(data)[row, label], 1e-8)), shape (1,)."""
    data, label = g.inputs[:2]
    probabilities = g.emit1("Softmax", [data], axis=1)
    rows = g.emit1("Unsqueeze", [_as_dtype(g, label, np.int64), g.ints([1], "axes")])
    picked = g.emit1("GatherElements", [probabilities, rows], axis=1)
    floored = g.emit1("Max", [picked, g.scalar(1e-8)])
    total = g.emit1("ReduceSum", [g.emit1("Neg", [g.emit1("Log", [floored])])], keepdims=0)
    g.emit("Reshape", [total, g.ints([1], "shape")], g.outputs)


# ---------------------------------------------------------------------------------------------
# the image operators (H x W x C images, C x H x W tensors; a leading batch axis allowed)

@exporter("_image_to_tensor")
def _image_to_tensor(g):
    ndim = len(g.in_shape())
    scaled = g.emit1("Div", [_as_dtype(g, g.inputs[0], np.float32), g.const(np.float32(255.0))])
    g.emit("Transpose", [scaled], g.outputs, perm=list(range(ndim - 3)) + [ndim - 1, ndim - 3, ndim - 2])


@exporter("_image_normalize")
def _image_normalize(g):
    from ..ops.image import _per_channel
    shape = g.in_shape()
    channels = shape[len(shape) - 3]
    dtype = g.in_dtype()
    mean, std = (np.asarray(_per_channel(g.params[name], channels), dtype).reshape(-1, 1, 1)
                 for name in ("mean", "std"))
    centred = g.emit1("Sub", [g.inputs[0], g.const(mean, name="mean")])
    g.emit("Div", [centred, g.const(std, name="std")], g.outputs)


@exporter("_image_flip_left_right", "_image_flip_top_bottom")
def _image_flip(g):
    axis = 1 if g.op == "_image_flip_left_right" else 0
    g.emit("Slice", [g.inputs[0], g.ints([-1], "starts"), g.ints([INT64_MIN], "ends"),
                     g.ints([axis], "axes"), g.ints([-1], "steps")], g.outputs)


@exporter("_image_crop")
def _image_crop(g):
    ndim = len(g.in_shape())
    p = g.params
    g.emit("Slice", [g.inputs[0], g.ints([p["y"], p["x"]], "starts"),
                     g.ints([p["y"] + p["height"], p["x"] + p["width"]], "ends"),
                     g.ints([ndim - 3, ndim - 2], "axes")], g.outputs)


@exporter("_image_adjust_lighting")
def _image_adjust_lighting(g):
    """Adds each RGB channel's offset (computed as cysym's kernel does); a gray image passes."""
    from ..ops.image import _lighting_offsets
    if g.in_shape()[-1] == 1:
        g.emit("Identity", [g.inputs[0]], g.outputs)
        return
    offsets = np.asarray(_lighting_offsets(g.params["alpha"]), g.in_dtype())
    g.emit("Add", [g.inputs[0], g.const(offsets, name="offsets")], g.outputs)


# ---------------------------------------------------------------------------------------------
# index arithmetic: ravel/unravel of multi-indices, one-hot rows

def _strides_of(shape):
    return [int(np.prod(shape[k + 1:])) for k in range(len(shape))]


@exporter("_ravel_multi_index")
def _ravel_multi_index(g):
    """sum_k data[k] * stride[k] (no range checks, as MXNet's)."""
    strides = np.asarray(_strides_of(g.params["shape"]), g.in_dtype()).reshape(-1, 1)
    weighted = g.emit1("Mul", [g.inputs[0], g.const(strides, name="strides")])
    g.emit("ReduceSum", [weighted, g.ints([0], "axes")], g.outputs, keepdims=0)


@exporter("_unravel_index")
def _unravel_index(g):
    """Row k: floor(x / stride[k]) mod shape[k]; the first row keeps what is left (no wrap)."""
    shape = g.params["shape"]
    dtype = g.in_dtype()
    quotients = g.emit1("Floor", [g.emit1("Div", [
        g.emit1("Unsqueeze", [g.inputs[0], g.ints([0], "axes")]),
        g.const(np.asarray(_strides_of(shape), dtype).reshape(-1, 1), name="strides")])])
    # the first row's modulus: larger than any quotient it holds
    moduli = np.asarray([np.finfo(dtype).max if np.dtype(dtype).kind == "f" else np.iinfo(dtype).max]
                        + list(shape[1:]), dtype).reshape(-1, 1)
    g.emit("Mod", [quotients, g.const(moduli, name="moduli")], g.outputs,
           fmod=int(np.dtype(dtype).kind == "f"))


@exporter("_onehot_encode")
def _onehot_encode(g):
    """out[i, j] = (int(lhs[i]) == j): an index outside [0, K) gives a row of zeros (ONNX's
    OneHot would wrap a negative one)."""
    depth = g.out_shape()[1]
    indices = g.emit1("Unsqueeze", [_as_dtype(g, g.inputs[0], np.int64), g.ints([1], "axes")])
    hits = g.emit1("Equal", [indices, g.const(np.arange(depth, dtype=np.int64).reshape(1, -1),
                                              name="columns")])
    _as_dtype(g, hits, g.out_dtype(), g.outputs[0])


# ---------------------------------------------------------------------------------------------
# writes into arrays: scatters, slice assignment, index_copy, fill_element_0index (ScatterND
# and Where: exact; indices given twice are undefined in MXNet and ONNX alike)

def _constant_shape(g, what):
    if any(g.in_batch_axes(k) for k in range(len(g.inputs))):
        g.fail(f"{what} of a dynamic batch axis (its positions are constants)")


def _coordinates(g, k, shape):
    """Input k, MXNet's (N, M...) index array, as ONNX's (M..., N) int64 coordinates, negative
    ones wrapped into [0, shape[n])."""
    index_shape = g.in_shape(k)
    last = g.emit1("Transpose", [_as_dtype(g, g.inputs[k], np.int64)],
                   perm=list(range(1, len(index_shape))) + [0])
    sizes = g.ints(shape[:index_shape[0]], "sizes")
    return g.emit1("Mod", [g.emit1("Add", [last, sizes]), sizes])


@exporter("scatter_nd")
def _scatter_nd(g):
    _constant_shape(g, "scatter_nd")
    shape = tuple(g.params["shape"])
    zeros = g.const(np.zeros(shape, g.out_dtype()), name="zeros")
    g.emit("ScatterND", [zeros, _coordinates(g, 1, shape), g.inputs[0]], g.outputs)


@exporter("_scatter_set_nd")
def _scatter_set_nd(g):
    _constant_shape(g, "_scatter_set_nd")
    shape = g.in_shape(0)
    g.emit("ScatterND", [g.inputs[0], _coordinates(g, 2, shape), g.inputs[1]], g.outputs)


@exporter("_contrib_index_copy")
def _index_copy(g):
    rows = g.emit1("Unsqueeze", [_as_dtype(g, g.inputs[1], np.int64), g.ints([1], "axes")])
    g.emit("ScatterND", [g.inputs[0], rows, g.inputs[2]], g.outputs)


def _window(g):
    """The slice assignment's window as Python slices (MXNet's slice: begin/end None or
    negative as in Python, step 1 when not given)."""
    p = g.params
    steps = list(p["step"]) + [None] * (len(p["begin"]) - len(p["step"]))
    return tuple(slice(b, e, s) for b, e, s in zip(p["begin"], p["end"], steps))


@exporter("_slice_assign", "_slice_assign_scalar")
def _slice_assign(g):
    """The window's elements replaced: by rhs (a ScatterND over the flat array, at the window's
    positions in rhs's order) or by the scalar (a Where over a constant mask)."""
    _constant_shape(g, g.op)
    shape = g.in_shape(0)
    if g.op == "_slice_assign_scalar":
        mask = np.zeros(shape, bool)
        mask[_window(g)] = True
        g.emit("Where", [g.const(mask, name="window"), g.scalar(g.params["scalar"]), g.inputs[0]],
               g.outputs)
        return
    positions = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)[_window(g)]
    flat = g.ints([-1], "flat")
    scattered = g.emit1("ScatterND", [g.emit1("Reshape", [g.inputs[0], flat]),
                                      g.const(positions.reshape(-1, 1), name="positions"),
                                      g.emit1("Reshape", [g.inputs[1], flat])])
    g.emit("Reshape", [scattered, g.ints(shape, "shape")], g.outputs)


@exporter("fill_element_0index")
def _fill_element_0index(g):
    """out[i, int(rhs[i])] = mhs[i]: a Where over the columns equal to each row's index (an
    index outside the row writes nothing)."""
    dtype = g.in_dtype(2)      # compared in the data's dtype, as the importer compares
    columns = g.const(np.arange(g.in_shape(0)[1], dtype=dtype).reshape(1, -1), name="columns")
    truncated = _as_dtype(g, _as_dtype(g, g.inputs[2], np.int64), dtype)
    chosen = g.emit1("Unsqueeze", [truncated, g.ints([1], "axes")])
    values = g.emit1("Unsqueeze", [g.inputs[1], g.ints([1], "axes")])
    g.emit("Where", [g.emit1("Equal", [columns, chosen]), values, g.inputs[0]], g.outputs)


# ---------------------------------------------------------------------------------------------
# khatri_rao, diag

@exporter("khatri_rao")
def _khatri_rao(g):
    """Column-wise Kronecker products, the matrices multiplied in order (as cysym's kernel)."""
    columns = g.in_shape(0)[1]
    result = g.inputs[0]
    for k, matrix in enumerate(g.inputs[1:], 1):
        product = g.emit1("Mul", [g.emit1("Unsqueeze", [result, g.ints([1], "axes")]),
                                  g.emit1("Unsqueeze", [matrix, g.ints([0], "axes")])])
        result = g.emit1("Reshape", [product, g.ints([-1, columns], "shape")],
                         g.outputs[0] if k == len(g.inputs) - 1 else None)
    if len(g.inputs) == 1:
        g.emit("Identity", [result], g.outputs)


def _diagonal_cells(rows, columns, k):
    """(row, column) of the k-th diagonal of a rows x columns matrix."""
    length = max(0, min(rows, columns - k) if k >= 0 else min(rows + k, columns))
    return [(i, i + k) if k >= 0 else (i - k, i) for i in range(length)]


@exporter("diag")
def _diag(g):
    shape, k = g.in_shape(), g.params["k"]
    if len(shape) == 1:
        size = shape[0] + abs(k)
        cells = _diagonal_cells(size, size, k)
        _scatter_into_matrices(g, np.array([r * size + c for r, c in cells], np.int64), size)
        return
    ndim = len(shape)
    first, second = g.params["axis1"] % ndim, g.params["axis2"] % ndim
    others = [a for a in range(ndim) if a not in (first, second)]
    if set(g.in_batch_axes()) & {first, second}:
        g.fail("a diagonal across a dynamic batch axis")
    matrices = g.emit1("Transpose", [g.inputs[0]], perm=others + [first, second])
    flat = g.emit1("Reshape", [matrices, g.ints([0] * len(others) + [-1], "shape")])
    cells = _diagonal_cells(shape[first], shape[second], k)
    positions = [r * shape[second] + c for r, c in cells]
    g.emit("Gather", [flat, g.ints(positions, "positions")], g.outputs, axis=len(others))


# ---------------------------------------------------------------------------------------------
# closeness, boxes, densities, histograms

@exporter("_contrib_allclose")
def _allclose(g):
    """1 (uint8) when |a - b| <= atol + rtol |b| or a == b everywhere (NaN equal to NaN with
    equal_nan), in the kernel's arithmetic: the data's type, float32 tolerances (integers
    compared in float32)."""
    p = g.params
    a, b = g.inputs[:2]
    integer = np.dtype(g.in_dtype(0)).kind != "f"
    tolerance_dtype = np.float32 if integer else g.in_dtype(0)
    difference, magnitude = g.emit1("Abs", [g.emit1("Sub", [a, b])]), g.emit1("Abs", [b])
    if integer:
        difference, magnitude = (_as_dtype(g, v, np.float32) for v in (difference, magnitude))
    rtol, atol = (g.const(np.float32(p[name]).astype(tolerance_dtype), name=name)
                  for name in ("rtol", "atol"))
    bound = g.emit1("Add", [atol, g.emit1("Mul", [rtol, magnitude])])
    close = g.emit1("Or", [g.emit1("Equal", [a, b]), g.emit1("LessOrEqual", [difference, bound])])
    if p["equal_nan"] and not integer:
        close = g.emit1("Or", [close, g.emit1("And", [g.emit1("IsNaN", [a]), g.emit1("IsNaN", [b])])])
    every = _reduce(g, "ReduceMin", _as_dtype(g, close, np.float32), None, False)     # 0-d
    _as_dtype(g, every, np.uint8, g.outputs[0])


@exporter("_contrib_box_iou")
def _box_iou(g):
    """Every lhs box against every rhs box as a (L, R) table, MXNet's formulas: overlaps never
    negative, areas 0 for inverted boxes, 0 where the intersection is not positive."""
    lhs = g.emit1("Reshape", [g.inputs[0], g.ints([-1, 1, 4], "shape")])     # (L, 1, 4)
    rhs = g.emit1("Reshape", [g.inputs[1], g.ints([1, -1, 4], "shape")])     # (1, R, 4)
    zero = g.scalar(0)
    columns = [[_box_column(g, box, k, k + 1) for k in range(4)]
               for box in (lhs, rhs)]
    if g.params["format"] == "center":
        extents = []
        for x, y, width, height in columns:
            half_w, half_h = (g.emit1("Div", [size, g.scalar(2)]) for size in (width, height))
            extents.append([g.emit1("Sub", [x, half_w]), g.emit1("Sub", [y, half_h]),
                            g.emit1("Add", [x, half_w]), g.emit1("Add", [y, half_h])])
        sizes = [(width, height) for _, _, width, height in columns]
    else:
        extents = columns
        sizes = [(g.emit1("Sub", [x2, x1]), g.emit1("Sub", [y2, y1])) for x1, y1, x2, y2 in columns]
    (a, b) = extents
    overlaps = [g.emit1("Max", [g.emit1("Sub", [g.emit1("Min", [a[k + 2], b[k + 2]]),
                                                g.emit1("Max", [a[k], b[k]])]), zero])
                for k in (0, 1)]
    intersection = g.emit1("Mul", overlaps)
    areas = [g.emit1("Where", [g.emit1("Or", [g.emit1("Less", [width, zero]),
                                              g.emit1("Less", [height, zero])]),
                               zero, g.emit1("Mul", [width, height])]) for width, height in sizes]
    union = g.emit1("Sub", [g.emit1("Add", areas), intersection])
    iou = g.emit1("Where", [g.emit1("LessOrEqual", [intersection, zero]), zero,
                            g.emit1("Div", [intersection, union])])
    g.emit("Reshape", [iou, g.ints(g.out_shape(), "shape")], g.outputs)


@exporter("_contrib_box_encode")
def _box_encode(g):
    """Each anchor's matched ref (a Gather of the flattened refs at batch * M + match, the
    match clipped as the kernel reads it) encoded as ((centre offset / anchor size, log size
    ratio) - means) / stds where samples > 0.5, else 0; the log terms in float64, as the
    kernel's C log.  Outputs: the targets and the mask."""
    samples, matches, anchors, refs, means, stds = g.inputs[:6]
    batch, count = g.in_shape(0)
    refs_per_image = g.in_shape(3)[1]
    dtype = g.in_dtype(2)
    zero = g.scalar(0, like=2)
    match = _as_dtype(g, g.emit1("Where", [g.emit1("Greater", [matches, g.scalar(0, like=1)]),
                                           matches, g.scalar(0, like=1)]), np.int64)
    match = g.emit1("Min", [match, g.ints([refs_per_image - 1])])
    if g.in_batch_axes(1):
        images = g.emit1("Range", [g.const(np.int64(0), name="start"), g.emit1("Squeeze", [
            g.emit1("Slice", [g.emit1("Shape", [matches]), g.ints([0]), g.ints([1])])]),
            g.const(np.int64(1), name="step")])
        first_ref = g.emit1("Unsqueeze", [g.emit1("Mul", [images, g.ints([refs_per_image])]),
                                          g.ints([1], "axes")])
    else:
        first_ref = g.ints(np.arange(batch) * refs_per_image, "first_ref")
        first_ref = g.emit1("Reshape", [first_ref, g.ints([batch, 1], "shape")])
    flat_refs = g.emit1("Reshape", [refs, g.ints([-1, 4], "shape")])
    matched = g.emit1("Gather", [flat_refs, g.emit1("Add", [match, first_ref])], axis=0)  # (B, N, 4)

    def centres_and_sizes(boxes):
        low, high = (_box_column(g, boxes, start, start + 2) for start in (0, 2))
        size = g.emit1("Sub", [high, low])
        return g.emit1("Add", [low, g.emit1("Mul", [size, g.scalar(0.5, like=2)])]), size

    ref_centre, ref_size = centres_and_sizes(matched)
    anchor_centre, anchor_size = centres_and_sizes(anchors)
    pair = [g.emit1("Slice", [value, g.ints([start]), g.ints([start + 2]), g.ints([0])])
            for value in (means, stds) for start in (0, 2)]
    offsets = g.emit1("Div", [g.emit1("Sub", [g.emit1("Div", [
        g.emit1("Sub", [ref_centre, anchor_centre]), anchor_size]), pair[0]]), pair[2]])
    ratio = _as_dtype(g, g.emit1("Div", [ref_size, anchor_size]), np.float64)
    logs = g.emit1("Div", [g.emit1("Sub", [g.emit1("Log", [ratio]), _as_dtype(g, pair[1], np.float64)]),
                           _as_dtype(g, pair[3], np.float64)])
    targets = g.emit1("Concat", [offsets, _as_dtype(g, logs, dtype)], axis=2)
    positive = g.emit1("Unsqueeze", [g.emit1("Greater", [samples, g.scalar(0.5, like=0)]),
                                     g.ints([2], "axes")])
    g.emit("Where", [positive, targets, zero], g.outputs[:1])
    if len(g.outputs) > 1:
        g.emit("Tile", [_as_dtype(g, positive, dtype), g.ints([1, 1, 4], "reps")], g.outputs[1:2])


def _per_sample(g, value, dtype):
    """A parameter array (the leading axes of the samples) as `dtype`, with trailing axes of 1
    to broadcast against the samples."""
    extra = len(g.in_shape(0)) - len(g.in_shape(1))
    value = _as_dtype(g, value, dtype)
    if extra:
        value = g.emit1("Unsqueeze", [value, g.ints(range(len(g.in_shape(1)), len(g.in_shape(0))),
                                                    "axes")])
    return value


@exporter("_random_pdf_uniform", "_random_pdf_normal", "_random_pdf_exponential")
def _random_pdf(g):
    """MXNet's log densities in float64, as the kernel computes them (the uniform one reads
    only its bounds), then exp unless is_log, rounded to the data's type."""
    double = np.float64
    x = _as_dtype(g, g.inputs[0], double)
    params = [_per_sample(_WithInputs(g, g.inputs), value, double) for value in g.inputs[1:]]

    def number(value):
        return g.const(np.float64(value), name="number")

    if g.op == "_random_pdf_uniform":
        low, high = params
        log_pdf = g.emit1("Neg", [g.emit1("Log", [g.emit1("Sub", [high, low])])])
        shape = (g.emit1("Shape", [g.inputs[0]]) if g.in_batch_axes(0)
                 else g.ints(g.in_shape(0), "shape"))
        log_pdf = g.emit1("Expand", [log_pdf, shape])
    elif g.op == "_random_pdf_normal":
        mu, sigma = params
        centred = g.emit1("Sub", [x, mu])
        square = g.emit1("Mul", [g.emit1("Mul", [number(-0.5), centred]), centred])
        log_pdf = g.emit1("Sub", [g.emit1("Div", [square, g.emit1("Mul", [sigma, sigma])]),
                                  g.emit1("Log", [g.emit1("Mul", [number(math.sqrt(2.0 * math.pi)),
                                                                  sigma])])])
    else:
        (rate,) = params
        log_pdf = g.emit1("Sub", [g.emit1("Log", [rate]), g.emit1("Mul", [rate, x])])
    value = log_pdf if g.params["is_log"] else g.emit1("Exp", [log_pdf])
    _as_dtype(g, value, g.out_dtype(), g.outputs[0])


@exporter("_histogram")
def _histogram(g):
    """Counts of the data per bin: a value's bin is the number of inner edges <= it (the
    edges of bin_cnt bins over range as the kernel computes them: float64 arithmetic rounded
    to the data's type), values outside the range (compared in float64, as the kernel) or
    the edges not counted.  Outputs: the int64 counts and the edges."""
    p = g.params
    dtype = g.in_dtype(0)
    x = g.emit1("Reshape", [g.inputs[0], g.ints([-1, 1], "shape")])            # (n, 1)
    if p["bin_cnt"] is not None:
        bins = p["bin_cnt"]
        low, high = p["range"]
        if low == high:     # the kernel's range of one value
            low, high = low - 0.5, high + 0.5
        steps = np.arange(bins + 1, dtype=np.float64)
        edge_values = ((high * steps + (bins - steps) * low) / bins).astype(dtype)
        edges = g.const(edge_values, name="edges")
        wide = _as_dtype(g, x, np.float64)
        inside = g.emit1("And", [
            g.emit1("GreaterOrEqual", [wide, g.const(np.float64(low), name="low")]),
            g.emit1("LessOrEqual", [wide, g.const(np.float64(high), name="high")])])
        inner = g.const(edge_values[1:-1].reshape(1, -1), name="inner_edges")
    else:
        bins = g.in_shape(1)[0] - 1
        edges = g.inputs[1]
        first, last = (g.emit1("Slice", [edges, g.ints([k]), g.ints([k + 1])]) for k in (0, bins))
        inside = g.emit1("And", [g.emit1("GreaterOrEqual", [x, first]),
                                 g.emit1("LessOrEqual", [x, last])])
        inner = g.emit1("Unsqueeze", [g.emit1("Slice", [edges, g.ints([1]), g.ints([bins])]),
                                      g.ints([0], "axes")])
    # counted in float64 (exact to 2**53; cysym's sum takes floats), and as products of 0/1
    # rather than And: cysym's comparisons give 0/1 in their inputs' dtype, so an imported
    # And would meet operands of two dtypes
    counting = np.float64
    hits = _as_dtype(g, inside, counting)
    if bins > 1:
        passed = _as_dtype(g, g.emit1("GreaterOrEqual", [x, inner]), counting)     # (n, bins-1)
        position = _reduce(g, "ReduceSum", passed, [1], True)                       # (n, 1)
        columns = g.const(np.arange(bins, dtype=counting).reshape(1, -1), name="bins")
        hits = g.emit1("Mul", [_as_dtype(g, g.emit1("Equal", [position, columns]), counting), hits])
    counts = g.emit1("ReduceSum", [hits, g.ints([0], "axes")], keepdims=0)
    _as_dtype(g, counts, np.int64, g.outputs[0])
    if len(g.outputs) > 1:
        g.emit("Identity", [edges], g.outputs[1:2])


# ---------------------------------------------------------------------------------------------
# sampling grids and bilinear sampling (ONNX GridSample, opset 16), sliding blocks

GRID_SAMPLE_OPSET = 16
# the exporters that write GridSample (refused below GRID_SAMPLE_OPSET)
GRID_SAMPLERS = ("BilinearSampler", "SpatialTransformer", "_contrib_DeformableConvolution",
                 "_contrib_ModulatedDeformableConvolution", "_contrib_RROIAlign",
                 "_contrib_DeformablePSROIPooling")


def _target_grid(height, width, dtype):
    """The (3, H*W) normalized target coordinates (x, y, 1) as the kernel computes them."""
    dtype = np.dtype(dtype).type
    step_x = dtype(2.0 / (width - 1)) if width > 1 else dtype(0)
    step_y = dtype(2.0 / (height - 1)) if height > 1 else dtype(0)
    k = np.arange(height * width)
    return np.stack([dtype(-1) + (k % width).astype(dtype) * step_x,
                     dtype(-1) + (k // width).astype(dtype) * step_y,
                     np.ones(height * width, dtype)]).astype(dtype)


def _affine_grid(g, theta, height, width, output=None):
    """theta (N, 6) applied to the target grid: (N, 2, H, W)."""
    matrices = g.emit1("Reshape", [theta, g.ints([-1, 2, 3], "shape")])
    grid = g.const(_target_grid(height, width, g.in_dtype(0 if g.op == "GridGenerator" else 1)),
                   name="target_grid")
    points = g.emit1("MatMul", [matrices, grid])                                # (N, 2, H*W)
    return g.emit1("Reshape", [points, g.ints([-1, 2, height, width], "shape")], output)


@exporter("GridGenerator")
def _grid_generator(g):
    if g.params["transform_type"] == "affine":
        height, width = g.params["target_shape"]
        _affine_grid(g, g.inputs[0], height, width, g.outputs[0])
        return
    # warp: (flow + pixel coordinates) / ((W-1)/2, (H-1)/2) - 1
    _, _, height, width = g.in_shape(0)
    dtype = np.dtype(g.in_dtype(0)).type
    pixels = np.stack(np.meshgrid(np.arange(width), np.arange(height))).astype(dtype)
    halves = np.array([(dtype(width) - dtype(1)) / dtype(2), (dtype(height) - dtype(1)) / dtype(2)],
                      dtype).reshape(1, 2, 1, 1)
    moved = g.emit1("Add", [g.inputs[0], g.const(pixels[None], name="pixels")])
    scaled = g.emit1("Div", [moved, g.const(halves, name="halves")])
    g.emit("Sub", [scaled, g.scalar(1)], g.outputs[:1])


def _require_grid_sample(g):
    if g.opset < GRID_SAMPLE_OPSET:
        g.fail(f"bilinear sampling needs ONNX GridSample (opset {GRID_SAMPLE_OPSET}); export "
               f"with opset_version >= {GRID_SAMPLE_OPSET}")


def _grid_sample(g, data, points, output=None):
    """GridSample of data (N, C, H, W) at points (N, Ho, Wo, 2) normalized with corners
    aligned ((x + 1) (W - 1) / 2), zeros outside: MXNet's bilinear sampling."""
    _require_grid_sample(g)
    # opset 20 renamed the mode (and took N-D grids)
    return g.emit1("GridSample", [data, points], output, align_corners=1, padding_mode="zeros",
                   mode="bilinear" if g.opset < 20 else "linear")


def _bilinear_sample(g, data, grid, output):
    """MXNet's BilinearSampler: the grid (N, 2, H, W) moved to GridSample's (N, H, W, 2)."""
    _require_grid_sample(g)
    points = g.emit1("Transpose", [grid], perm=[0, 2, 3, 1])
    _grid_sample(g, data, points, output)


@exporter("BilinearSampler")
def _bilinear_sampler(g):
    _bilinear_sample(g, g.inputs[0], g.inputs[1], g.outputs[0])


@exporter("SpatialTransformer")
def _spatial_transformer(g):
    _require_grid_sample(g)
    height, width = g.params["target_shape"]
    _bilinear_sample(g, g.inputs[0], _affine_grid(g, g.inputs[1], height, width), g.outputs[0])


def _one_hot_taps(kernel, dtype):
    """(K, 1, *kernel) weights: filter k is 1 at tap k (row-major over the kernel), 0 elsewhere."""
    taps = int(np.prod(kernel))
    return np.eye(taps, dtype=dtype).reshape((taps, 1) + tuple(kernel))


def _block_attrs(g):
    kernel = list(g.params["kernel"])
    spatial = len(kernel)
    pad = _spatial(g, "pad", spatial, 0)
    return kernel, dict(kernel_shape=kernel, strides=_spatial(g, "stride", spatial, 1),
                        dilations=_spatial(g, "dilate", spatial, 1), pads=pad + pad)


@exporter("im2col")
def _im2col(g):
    """Each channel convolved alone with one-hot filters (one per kernel tap: x * 1 plus zeros,
    exact for finite data): (N * C, K, *blocks), then (N, C * K, blocks)."""
    kernel, attrs = _block_attrs(g)
    spatial_shape = list(g.in_shape(0)[2:])
    planes = g.emit1("Reshape", [g.inputs[0], g.ints([-1, 1] + spatial_shape, "shape")])
    taps = g.emit1("Conv", [planes, g.const(_one_hot_taps(kernel, g.in_dtype(0)), name="taps")],
                   **attrs)
    _reshape(g, taps, g.outputs[0])


@exporter("col2im")
def _col2im(g):
    """The transposed convolution of im2col's: each channel's K tap rows scattered back by
    one-hot filters and summed, (N * C, K, *blocks) -> (N, C, *output_size)."""
    kernel, attrs = _block_attrs(g)
    taps = int(np.prod(kernel))
    size = list(g.params["output_size"])
    blocks = []
    for n, k, s, d, p in zip(size, kernel, attrs["strides"], attrs["dilations"], attrs["pads"]):
        blocks.append((n + 2 * p - d * (k - 1) - 1) // s + 1)
    # the rows the last block leaves at the end (MXNet's size need not be a stride multiple)
    extra = [n + 2 * p - (s * (b - 1) + d * (k - 1) + 1)
             for n, b, k, s, d, p in zip(size, blocks, kernel, attrs["strides"],
                                         attrs["dilations"], attrs["pads"])]
    columns = g.emit1("Reshape", [g.inputs[0], g.ints([-1, taps] + blocks, "shape")])
    image = g.emit1("ConvTranspose", [columns, g.const(_one_hot_taps(kernel, g.in_dtype(0)),
                                                       name="taps")],
                    output_padding=extra, **attrs)
    _reshape(g, image, g.outputs[0])


@exporter("Correlation")
def _correlation(g):
    """For each displacement of data2's patches: the products (or absolute differences) of
    the padded inputs over the region the patches cover, summed over the channels and each
    kernel_size window (strided slices), divided by kernel_size^2 * C.  As the kernel: the
    products in the data's type, the sums and the division in float64."""
    p = g.params
    _, channels, _, _ = g.in_shape(0)
    _, count, out_h, out_w = g.out_shape(0)
    k, md, s1, s2, pad = (p[name] for name in ("kernel_size", "max_displacement", "stride1",
                                               "stride2", "pad_size"))
    radius = md // s2
    padded = [g.emit1("Pad", [x, g.ints([0, 0, pad, pad, 0, 0, pad, pad], "pads")])
              for x in g.inputs[:2]]
    extent = [(out_h - 1) * s1 + k, (out_w - 1) * s1 + k]

    def region(x, dy, dx):
        return g.emit1("Slice", [x, g.ints([md + dy, md + dx], "starts"),
                                 g.ints([md + dy + extent[0], md + dx + extent[1]], "ends"),
                                 g.ints([2, 3], "axes")])

    first = region(padded[0], 0, 0)
    maps = []
    for q in range(count):
        dy, dx = (q // (2 * radius + 1) - radius) * s2, (q % (2 * radius + 1) - radius) * s2
        second = region(padded[1], dy, dx)
        if p["is_multiply"]:
            terms = g.emit1("Mul", [first, second])
        else:
            terms = g.emit1("Abs", [g.emit1("Sub", [first, second])])
        maps.append(_reduce(g, "ReduceSum", _as_dtype(g, terms, np.float64), [1], True))
    sums = g.emit1("Concat", maps, axis=1) if count > 1 else maps[0]   # (N, count, *extent)
    windows = [g.emit1("Slice", [sums, g.ints([h, w], "starts"),
                                 g.ints([h + (out_h - 1) * s1 + 1, w + (out_w - 1) * s1 + 1], "ends"),
                                 g.ints([2, 3], "axes"), g.ints([s1, s1], "steps")])
               for h in range(k) for w in range(k)]
    total = g.emit1("Sum", windows) if len(windows) > 1 else windows[0]
    mean = g.emit1("Div", [total, g.const(np.float64(k * k * channels), name="count")])
    _as_dtype(g, mean, g.out_dtype(0), g.outputs[0])


@exporter("_contrib_DeformableConvolution", "_contrib_ModulatedDeformableConvolution")
def _deformable_convolution(g):
    """The deformable im2col as GridSample: every tap's shifted positions (computed in
    float64, as the kernel, then normalized with corners aligned) sampled per deformable
    group, scaled by the mask (v2), then a grouped 1x1 Conv over the (channel, tap) columns.
    v1 reads 0 outside [0, H) x [0, W) and clamps its last row and column: the positions
    clipped to the image (a border read), then zeroed where they were outside."""
    _require_grid_sample(g)
    p = g.params
    modulated = g.op == "_contrib_ModulatedDeformableConvolution"
    if p.get("layout") not in (None, "NCHW"):
        g.fail(f"layout={p['layout']!r}")
    x, offset = g.inputs[:2]
    weight = g.inputs[3 if modulated else 2]
    mask = g.inputs[2] if modulated else None
    _, channels, height, width = g.in_shape(0)
    _, filters, out_h, out_w = g.out_shape(0)
    if height < 2 or width < 2:
        g.fail(f"data {g.in_shape(0)}: GridSample's aligned corners need two rows and columns")
    kernel = list(p["kernel"])
    stride, dilate = _spatial(g, "stride", 2, 1), _spatial(g, "dilate", 2, 1)
    pad = _spatial(g, "pad", 2, 0)
    taps, groups = kernel[0] * kernel[1], p["num_deformable_group"]
    # each tap's grid position (float64), (taps, Ho, 1) rows and (taps, 1, Wo) columns
    tap_rows, tap_columns = np.divmod(np.arange(taps), kernel[1])
    base_h = (np.arange(out_h) * stride[0] - pad[0])[None, :, None] + (tap_rows * dilate[0])[:, None, None]
    base_w = (np.arange(out_w) * stride[1] - pad[1])[None, None, :] + (tap_columns * dilate[1])[:, None, None]
    shifts = g.emit1("Reshape", [_as_dtype(g, offset, np.float64),
                                 g.ints([-1, groups, taps, 2, out_h, out_w], "shape")])
    positions = []
    for axis, (base, size) in enumerate(((base_h, height), (base_w, width))):
        shift = g.emit1("Squeeze", [g.emit1("Slice", [shifts, g.ints([axis]), g.ints([axis + 1]),
                                                      g.ints([3])]), g.ints([3], "axes")])
        positions.append(g.emit1("Add", [shift, g.const(base.astype(np.float64), name="base")]))
    inside = None
    if not modulated:
        bounds = [g.emit1("And", [g.emit1("GreaterOrEqual", [position, g.const(np.float64(0))]),
                                  g.emit1("Less", [position, g.const(np.float64(size))])])
                  for position, size in zip(positions, (height, width))]
        inside = g.emit1("And", bounds)                             # (N, dg, taps, Ho, Wo)
    # normalized: position / ((size - 1) / 2) - 1; v1's clipped to the image
    normalized = []
    for position, size in zip(positions, (height, width)):
        value = g.emit1("Sub", [g.emit1("Div", [position, g.const(np.float64((size - 1) / 2))]),
                                g.const(np.float64(1))])
        if not modulated:
            value = g.emit1("Clip", [value, g.const(np.float64(-1)), g.const(np.float64(1))])
        normalized.append(_as_dtype(g, value, np.float32))
    # GridSample's points (x, y) last: (N, dg, taps * Ho, Wo, 2)
    points = g.emit1("Concat", [g.emit1("Unsqueeze", [value, g.ints([5], "axes")])
                                for value in normalized[::-1]], axis=5)
    points = g.emit1("Reshape", [points, g.ints([0, groups, taps * out_h, out_w, 2], "shape")])
    data = x if np.dtype(g.in_dtype(0)) == np.float32 else _as_dtype(g, x, np.float32)
    per_group = channels // groups
    columns = []
    for group in range(groups):
        plane = data if groups == 1 else g.emit1("Slice", [
            data, g.ints([group * per_group]), g.ints([(group + 1) * per_group]), g.ints([1])])
        grid = g.emit1("Squeeze", [g.emit1("Slice", [points, g.ints([group]), g.ints([group + 1]),
                                                     g.ints([1])]), g.ints([1], "axes")])
        sampled = g.emit1("Reshape", [_grid_sample(g, plane, grid),
                                      g.ints([0, per_group, taps, out_h, out_w], "shape")])
        if modulated:
            scale = g.emit1("Slice", [g.emit1("Reshape", [mask, g.ints([0, groups, taps, out_h, out_w],
                                                                         "shape")]),
                                      g.ints([group]), g.ints([group + 1]), g.ints([1])])
        else:
            scale = _as_dtype(g, g.emit1("Slice", [inside, g.ints([group]), g.ints([group + 1]),
                                                   g.ints([1])]), np.float32)
        if modulated and np.dtype(g.in_dtype(2)) != np.float32:
            scale = _as_dtype(g, scale, np.float32)
        columns.append(g.emit1("Mul", [sampled, scale]))
    column = g.emit1("Concat", columns, axis=1) if groups > 1 else columns[0]
    column = g.emit1("Reshape", [column, g.ints([0, channels * taps, out_h, out_w], "shape")])
    filters_weight = g.emit1("Reshape", [weight, g.ints([filters, -1, 1, 1], "shape")])
    if np.dtype(g.in_dtype(0)) != np.float32:
        column = _as_dtype(g, column, g.in_dtype(0))
    bias = [] if p["no_bias"] else [g.inputs[-1]]
    g.emit("Conv", [column, filters_weight] + bias, g.outputs, kernel_shape=[1, 1],
           group=p["num_group"])


def _region_images(g, first_column):
    """(index (R,), valid (R, 1)): the regions' batch indices (rois' first column, truncated as
    the kernels' casts; image 0 where outside the batch) and whether they are inside the batch,
    whose size is read from the data when its batch axis is dynamic."""
    index = _as_dtype(g, first_column, np.int64)
    if 0 in g.in_batch_axes(0):
        batch = g.emit1("Slice", [g.emit1("Shape", [g.inputs[0]]), g.ints([0]), g.ints([1])])
    else:
        batch = g.ints([g.in_shape(0)[0]])
    valid = g.emit1("And", [g.emit1("GreaterOrEqual", [index, g.ints([0])]),
                            g.emit1("Less", [index, batch])])
    index = g.emit1("Squeeze", [g.emit1("Where", [valid, index, g.ints([0])]), g.ints([1], "axes")])
    return index, valid


@exporter("_contrib_PSROIPooling")
def _psroi_pooling(g):
    """Per bin (ph, pw): its channels of the regions' images (a Gather of the channel group's
    cell, then of the batch index) summed under the bin's row and column masks, divided by the
    bin's area; the bin bounds in the kernel's arithmetic (rounded corners in float64, the rest
    in the data's type), 0 for empty bins and batch indices outside the data."""
    p = g.params
    _, _, height, width = g.in_shape(0)
    regions, dim, pooled = g.in_shape(1)[0], p["output_dim"], p["pooled_size"]
    group = p["group_size"] or pooled
    dtype = np.dtype(g.in_dtype(0)).type
    rois = g.inputs[1]

    def column(k):
        return g.emit1("Slice", [rois, g.ints([k]), g.ints([k + 1]), g.ints([1])])    # (R, 1)

    index, valid = _region_images(g, column(0))

    def rounded(k, plus_one):
        """C's round (halves away from zero) of column k, + 1 for the far corner, then scaled."""
        wide = _as_dtype(g, column(k), np.float64)
        value = g.emit1("Mul", [g.emit1("Sign", [wide]), g.emit1("Floor", [g.emit1("Add", [
            g.emit1("Abs", [wide]), g.const(np.float64(0.5))])])])
        if plus_one:
            value = g.emit1("Add", [value, g.const(np.float64(1))])
        return g.emit1("Mul", [_as_dtype(g, value, dtype), g.scalar(p["spatial_scale"])])

    steps = g.const(np.arange(pooled, dtype=dtype).reshape(1, -1), name="steps")
    masks, sizes = [], []
    for start_column, size in ((2, height), (1, width)):     # rows (y), then columns (x)
        start, end = rounded(start_column, False), rounded(start_column + 2, True)
        extent = g.emit1("Max", [g.emit1("Sub", [end, start]), g.scalar(0.1)])
        bin_size = g.emit1("Div", [extent, g.scalar(float(pooled))])
        low = g.emit1("Floor", [g.emit1("Add", [g.emit1("Mul", [steps, bin_size]), start])])
        high = g.emit1("Ceil", [g.emit1("Add", [g.emit1("Mul", [
            g.emit1("Add", [steps, g.scalar(1)]), bin_size]), start])])
        low, high = (g.emit1("Clip", [value, g.scalar(0), g.scalar(float(size))])
                     for value in (low, high))                                     # (R, PS)
        cells = g.const(np.arange(size, dtype=dtype).reshape(1, 1, -1), name="cells")
        inside = g.emit1("And", [
            g.emit1("GreaterOrEqual", [cells, g.emit1("Unsqueeze", [low, g.ints([2], "axes")])]),
            g.emit1("Less", [cells, g.emit1("Unsqueeze", [high, g.ints([2], "axes")])])])
        masks.append(_as_dtype(g, inside, dtype))                                  # (R, PS, size)
        sizes.append(g.emit1("Sub", [high, low]))                                  # (R, PS)
    area = g.emit1("Mul", [g.emit1("Unsqueeze", [sizes[0], g.ints([2], "axes")]),
                           g.emit1("Unsqueeze", [sizes[1], g.ints([1], "axes")])])  # (R, PS, PS)
    # the channel group's cell of each bin, floor(p * group / PS) in the data's type
    cells = [min(max(int(np.floor(dtype(b) * dtype(group) / dtype(pooled))), 0), group - 1)
             for b in range(pooled)]
    bins = []
    for ph in range(pooled):
        for pw in range(pooled):
            channels = [(c * group + cells[ph]) * group + cells[pw] for c in range(dim)]
            planes = g.emit1("Gather", [g.emit1("Gather", [g.inputs[0], g.ints(channels, "channels")],
                                                 axis=1), index], axis=0)         # (R, C, H, W)
            rows, columns = (g.emit1("Slice", [mask, g.ints([k]), g.ints([k + 1]), g.ints([1])])
                             for mask, k in zip(masks, (ph, pw)))                # (R, 1, size)
            weights = g.emit1("Mul", [g.emit1("Unsqueeze", [rows, g.ints([3], "axes")]),
                                      g.emit1("Unsqueeze", [columns, g.ints([2], "axes")])])
            bins.append(_reduce(g, "ReduceSum", g.emit1("Mul", [planes, weights]), [2, 3], False))
    totals = g.emit1("Reshape", [g.emit1("Concat", bins, axis=1),
                                 g.ints([regions, pooled, pooled, dim], "shape")])
    totals = g.emit1("Transpose", [totals], perm=[0, 3, 1, 2])                     # (R, C, PS, PS)
    area = g.emit1("Unsqueeze", [area, g.ints([1], "axes")])
    # an area is a whole number: at least 1 where the bin is not empty
    mean = g.emit1("Where", [g.emit1("Greater", [area, g.scalar(0)]),
                             g.emit1("Div", [totals, g.emit1("Max", [area, g.scalar(1)])]),
                             g.scalar(0)])
    # times 0/1 rather than And with the bins' test: imported, the batch test is 0/1 int64
    valid = g.emit1("Reshape", [_as_dtype(g, valid, dtype), g.ints([-1, 1, 1, 1], "shape")])
    g.emit("Mul", [mean, valid], g.outputs)


@exporter("_image_resize")
def _image_resize(g):
    """An image resized as cysym's (OpenCV 3.4.2's) resize_array does: float images through
    two constant matrices of OpenCV's weights, along the width then the height, in float64;
    uint8 images in OpenCV's fixed-point arithmetic (_uint8_resized)."""
    from ..image_resize import resize_mode
    dtype = np.dtype(g.in_dtype(0))
    in_h, in_w = g.in_shape(0)[-3:-1]
    height, width = g.out_shape(0)[-3:-1]
    if (in_h, in_w) == (height, width):
        g.emit("Identity", [g.inputs[0]], g.outputs)
        return
    interp, area_mode = resize_mode(in_w, in_h, width, height, g.params["interp"])
    if dtype.kind == "f":
        image = _separable_sums(g, _as_dtype(g, g.inputs[0], np.float64),
                                *_resize_weights(g, interp, area_mode, False))
    else:
        image = g.emit1("Clip", [_uint8_resized(g, interp, area_mode), g.const(np.float64(0)),
                                 g.const(np.float64(255))])
    _as_dtype(g, image, dtype, g.outputs[0])


def _resize_weights(g, interp, area_mode, quantize):
    """(columns, rows): the (out, in) weight matrices along the width and the height."""
    from ..image_resize import _axis_weights
    (in_h, in_w), (height, width) = g.in_shape(0)[-3:-1], g.out_shape(0)[-3:-1]
    return (_axis_weights(in_w, width, interp, area_mode, quantize, horizontal=True),
            _axis_weights(in_h, height, interp, area_mode, quantize, horizontal=False))


def _separable_sums(g, image, columns, rows=None):
    """image (..., H, W, C) float64 weighted along the width by columns (w, W), then along the
    height by rows (h, H) unless None: (..., h, w, C).  Integer weights and pixels give exact
    integer sums, in any order of summation (all below 2^53)."""
    ndim = len(g.in_shape(0))
    lead = list(range(ndim - 3))
    height_channels_width = lead + [ndim - 3, ndim - 1, ndim - 2]
    planes = g.emit1("Transpose", [image], perm=height_channels_width)
    across = g.emit1("MatMul", [planes, g.const(columns.T, np.float64, "columns")])
    if rows is None:
        return g.emit1("Transpose", [across], perm=height_channels_width)
    across = g.emit1("Transpose", [across], perm=lead + [ndim - 2, ndim - 1, ndim - 3])
    down = g.emit1("MatMul", [across, g.const(rows.T, np.float64, "rows")])    # (..., C, w, h)
    return g.emit1("Transpose", [down], perm=lead + [ndim - 1, ndim - 2, ndim - 3])


def _tap_sum(g, image, indices, weights, axis, dtype):
    """sum over k of image[indices[:, k]] * weights[:, k] along `axis`, added in the order of k
    in `dtype` (the kernel's order where it rounds)."""
    shape = (-1,) + (1,) * (len(g.in_shape(0)) - 1 - axis)
    total = None
    for k in range(indices.shape[1]):
        tap = g.emit1("Gather", [image, g.ints(indices[:, k], "taps")], axis=axis)
        part = g.emit1("Mul", [tap, g.const(weights[:, k].reshape(shape), dtype, "weights")])
        total = part if total is None else g.emit1("Add", [total, part])
    return total


def _floor_divided(g, value, divisor, plus=0):
    """floor((value + plus) / divisor) of a float64 whole number: OpenCV's (value + plus) >>
    log2(divisor), exact (a power of two divides a float64 exactly)."""
    if plus:
        value = g.emit1("Add", [value, g.const(np.float64(plus))])
    return g.emit1("Floor", [g.emit1("Div", [value, g.const(np.float64(divisor))])])


def _uint8_resized(g, interp, area_mode):
    """A uint8 image resized in OpenCV 3.4.2's arithmetic as cysym.image_resize.resize_array
    computes it, unclipped, in float64: its integer sums and shifts as float64 whole numbers
    below 2^53 (exact), its float32 steps as float32 nodes in the kernel's order."""
    from ..image_resize import (_COEF_SCALE, AREA, CUBIC, LANCZOS4, NEAREST, _area_taps,
                                _axis_taps, _integer_factors)
    (in_h, in_w), (height, width) = g.in_shape(0)[-3:-1], g.out_shape(0)[-3:-1]
    ndim = len(g.in_shape(0))
    pixels = _as_dtype(g, g.inputs[0], np.float64)
    if interp == NEAREST:
        return _separable_sums(g, pixels, *_resize_weights(g, interp, area_mode, False))
    if interp == AREA and not area_mode:
        factors = _integer_factors(1.0 / (width / in_w), 1.0 / (height / in_h))
        if factors is None:
            # shrinking by a fraction: covered fractions summed in float32, rows then columns
            rows = _tap_sum(g, _as_dtype(g, g.inputs[0], np.float32), *_area_taps(in_w, width),
                            ndim - 2, np.float32)
            mean = _tap_sum(g, rows, *_area_taps(in_h, height), ndim - 3, np.float32)
            return _as_dtype(g, g.emit1("Round", [mean]), np.float64)
        blocks = _separable_sums(g, pixels, *(np.kron(np.eye(size), np.ones(factor))
                                              for size, factor in zip((width, height), factors)))
        if factors == (2, 2):
            return _floor_divided(g, blocks, 4, plus=2)
        mean = g.emit1("Mul", [_as_dtype(g, blocks, np.float32),
                               g.const(np.float32(1.0 / (factors[0] * factors[1])))])
        return _as_dtype(g, g.emit1("Round", [mean]), np.float64)
    columns, rows = (weights * _COEF_SCALE
                     for weights in _resize_weights(g, interp, area_mode, True))
    if interp == LANCZOS4:
        sums = _separable_sums(g, pixels, columns, rows)
        return _floor_divided(g, sums, 1 << 22, plus=1 << 21)
    # bilinear (and area enlarging) and bicubic: the rows of the horizontal pass in fixed point
    # (pixel * 2048), then the vertical pass of OpenCV's vectorised loops
    fixed = _separable_sums(g, pixels, columns)                                # (..., H, w, C)
    indices, coefficients = _axis_taps(in_h, height, interp, area_mode, True, horizontal=False)
    beta = np.rint(coefficients * _COEF_SCALE)
    if interp != CUBIC:
        # ((top >> 4) * b0 >> 16) + ((bottom >> 4) * b1 >> 16) + 2 >> 2
        halves = []
        for k in range(2):
            tap = g.emit1("Gather", [fixed, g.ints(indices[:, k], "taps")], axis=ndim - 3)
            product = g.emit1("Mul", [_floor_divided(g, tap, 16),
                                      g.const(beta[:, k].reshape(-1, 1, 1), np.float64, "beta")])
            halves.append(_floor_divided(g, product, 1 << 16))
        return _floor_divided(g, g.emit1("Add", halves), 4, plus=2)
    # the first multiple of 8 elements of each output row (w * C of them) summed in float32 and
    # rounded to even, the rest exactly: (sum + 2^21) >> 22
    exact = _tap_sum(g, fixed, indices, beta, ndim - 3, np.float64)
    simd = _tap_sum(g, _as_dtype(g, fixed, np.float32), indices, beta / (1 << 22), ndim - 3,
                    np.float32)
    row = width * g.out_shape(0)[-1]
    vectorised = (np.arange(row) < row // 8 * 8).reshape(width, -1)
    return g.emit1("Where", [g.const(vectorised, name="vectorised"),
                             _as_dtype(g, g.emit1("Round", [simd]), np.float64),
                             _floor_divided(g, exact, 1 << 22, plus=1 << 21)])


# ---------------------------------------------------------------------------------------------
# the random image transforms: parameters drawn by ONNX's generators (other draws than
# cysym.random's, from MXNet's distributions), the transforms in the kernel's float arithmetic

def _image_value(g, value, output=None):
    """A float32 result saturated into the image's dtype, as the kernel's saturate_cast:
    uint8 clamped to [0, 255], every integer truncated; a float64 image keeps the float32
    rounding (the kernel computes each value as a C float)."""
    dtype = np.dtype(g.in_dtype(0))
    if dtype == np.uint8:
        value = g.emit1("Clip", [value, g.const(np.float32(0)), g.const(np.float32(255))])
    return _as_dtype(g, value, dtype, output)


def _as_float(g, value):
    return value if np.dtype(g.in_dtype(0)) == np.float32 else _as_dtype(g, value, np.float32)


def _affine_values(g, x, factor, offset=None):
    """float(x) * factor + offset (each (1,) float32), computed in float64 for a float64 image
    and rounded to float32, as the kernel's _affine."""
    if np.dtype(g.in_dtype(0)) == np.float64:
        value = g.emit1("Mul", [x, _as_dtype(g, factor, np.float64)])
        if offset is not None:
            value = g.emit1("Add", [value, _as_dtype(g, offset, np.float64)])
        return _as_dtype(g, value, np.float32)
    value = g.emit1("Mul", [_as_float(g, x), factor])
    return value if offset is None else g.emit1("Add", [value, offset])


def _random_factor(g, low, high):
    """One float32 factor uniform in [low, high): a (1,) value."""
    return g.emit1("RandomUniform", [], dtype=_tensor_type(np.float32), shape=[1],
                   low=float(np.float32(low)), high=float(np.float32(high)))


def _channel(g, x, k):
    return g.emit1("Slice", [x, g.ints([k]), g.ints([k + 1]), g.ints([-1])])


def _brightness_values(g, x, factor):
    return _affine_values(g, x, factor)


def _contrast_values(g, x, factor):
    """x f + (1 - f) * the mean gray level: the luma-weighted values summed one after another
    in float32 (a CumSum's last value), as the kernel sums them."""
    channels = g.in_shape(0)[-1]
    luma = np.array([0.299, 0.587, 0.114] if channels > 1 else [1.0], np.float32)
    weighted = _affine_values(g, x, g.const(luma, name="luma"))
    running = g.emit1("CumSum", [g.emit1("Reshape", [weighted, g.ints([-1], "shape")]),
                                 g.const(np.int64(0), name="axis")])
    total = g.emit1("Slice", [running, g.ints([-1]), g.ints([INT64_MAX])])
    pixels = float(np.prod(g.in_shape(0)[-3:-1]))
    mean = g.emit1("Div", [total, g.const(np.float32(pixels), name="pixels")])
    offset = g.emit1("Mul", [g.emit1("Sub", [g.const(np.float32(1)), factor]), mean])
    return _affine_values(g, x, factor, offset)


def _saturation_values(g, x, factor):
    """gray (1 - f) + x f, gray MXNet 1.9.1's: the blue value times 0.114; a gray image passes."""
    if g.in_shape(0)[-1] == 1:
        return _as_float(g, x)
    gray = g.emit1("Mul", [_affine_values(g, _channel(g, x, 2), g.const(np.array([0.114], np.float32))),
                           g.emit1("Sub", [g.const(np.float32(1)), factor])])
    return _affine_values(g, x, factor, gray)


# HLS2RGBConvert's table: which of (p2, p1, rising, falling) each of B, G, R takes in a sector
HLS_SECTOR = [[1, 3, 0], [1, 0, 2], [3, 0, 1], [0, 2, 1], [0, 1, 3], [2, 1, 0]]


def _hue_values(g, x, factor):
    """Each RGB pixel to HLS, the hue turned by f * 360 degrees, back to RGB, in the kernel's
    float32 operations (its products by 0/1 flags as Where); a gray image passes."""
    if g.in_shape(0)[-1] == 1:
        return _as_float(g, x)

    def number(value):
        return g.const(np.float32(value), name="number")

    def where(condition, value, other=None):
        return g.emit1("Where", [condition, value, number(0) if other is None else other])

    def op(op_type, *inputs):
        return g.emit1(op_type, list(inputs))

    r, gr, b = (op("Div", _channel(g, _as_float(g, x), k), number(255)) for k in range(3))
    vmax, vmin = op("Max", op("Max", r, gr), b), op("Min", op("Min", r, gr), b)
    diff, total = op("Sub", vmax, vmin), op("Add", vmax, vmin)
    light = op("Mul", total, number(0.5))
    colored = op("Greater", diff, number(np.finfo(np.float32).eps))
    below_half = op("Less", light, number(0.5))
    saturation = where(colored, op("Add", where(below_half, op("Div", diff, total)),
                                   where(op("Not", below_half), op("Div", diff, op(
                                       "Sub", op("Sub", number(2), vmax), vmin)))))
    scale = op("Div", number(60), diff)
    red_max, green_max = op("Equal", vmax, r), op("Equal", vmax, gr)
    hue = op("Add", op("Add", where(red_max, op("Mul", op("Sub", gr, b), scale)),
                       where(op("And", op("Not", red_max), green_max),
                             op("Add", op("Mul", op("Sub", b, r), scale), number(120)))),
             where(op("And", op("Not", red_max), op("Not", green_max)),
                   op("Add", op("Mul", op("Sub", r, gr), scale), number(240))))
    hue = op("Add", hue, where(op("Less", hue, number(0)), number(360)))
    hue = op("Add", where(colored, hue), op("Mul", factor, number(360)))
    high = op("Add", where(op("LessOrEqual", light, number(0.5)),
                           op("Mul", light, op("Add", number(1), saturation))),
              where(op("Greater", light, number(0.5)),
                    op("Sub", op("Add", light, saturation), op("Mul", light, saturation))))
    low = op("Sub", op("Mul", number(2), light), high)
    hue = op("Mul", hue, number(np.float32(1.0 / 60.0)))
    # into [0, 6) as the kernel: fmod for the out of range, sector 0 for what still is not
    hue = where(op("Less", hue, number(0)), op("Add", g.emit1("Mod", [hue, number(6)], fmod=1),
                                               number(6)), hue)
    hue = where(op("GreaterOrEqual", hue, number(6)), g.emit1("Mod", [hue, number(6)], fmod=1), hue)
    hue = where(op("And", op("GreaterOrEqual", hue, number(0)), op("Less", hue, number(6))), hue)
    sector = op("Floor", hue)
    fraction = op("Sub", hue, sector)
    span = op("Sub", high, low)
    table = [high, low, op("Add", low, op("Mul", span, op("Sub", number(1), fraction))),
             op("Add", low, op("Mul", span, fraction))]
    in_sector = [op("Equal", sector, number(k)) for k in range(6)]
    channels = []
    for position in (2, 1, 0):      # R, G, B take the table's third, second, first column
        value = table[HLS_SECTOR[5][position]]
        for k in range(4, -1, -1):
            value = where(in_sector[k], table[HLS_SECTOR[k][position]], value)
        channels.append(where(op("Not", op("Equal", saturation, number(0))), value, light))
    return op("Mul", g.emit1("Concat", channels, axis=-1), number(255))


_IMAGE_TRANSFORMS = {"brightness": _brightness_values, "contrast": _contrast_values,
                     "saturation": _saturation_values, "hue": _hue_values}


@exporter("_image_random_flip_left_right", "_image_random_flip_top_bottom")
def _image_random_flip(g):
    """The image or its flip, each with probability 1/2."""
    axis = len(g.in_shape(0)) - (2 if g.op == "_image_random_flip_left_right" else 3)
    flipped = g.emit1("Slice", [g.inputs[0], g.ints([-1], "starts"), g.ints([INT64_MIN], "ends"),
                                g.ints([axis], "axes"), g.ints([-1], "steps")])
    flip = g.emit1("GreaterOrEqual", [_random_factor(g, 0.0, 1.0), g.const(np.float32(0.5))])
    g.emit("Where", [flip, flipped, g.inputs[0]], g.outputs)


@exporter("_image_random_brightness", "_image_random_contrast", "_image_random_saturation",
          "_image_random_hue")
def _image_random_transform(g):
    """One factor uniform in [min_factor, max_factor), the transform, the result saturated."""
    factor = _random_factor(g, g.params["min_factor"], g.params["max_factor"])
    transform = _IMAGE_TRANSFORMS[g.op[len("_image_random_"):]]
    _image_value(g, transform(g, g.inputs[0], factor), g.outputs[0])


@exporter("_image_random_color_jitter")
def _image_random_color_jitter(g):
    """Brightness, contrast, saturation and hue, those whose parameter p is positive, in a
    uniformly random order (the ranks of four uniform draws), each saturated into the image's
    dtype before the next; the factors 1 + U(-p, p), hue's U(-p, p)."""
    kinds = ["brightness", "contrast", "saturation", "hue"]
    jitters = [g.params[kind] for kind in kinds]
    order = g.emit("TopK", [g.emit1("RandomUniform", [], dtype=_tensor_type(np.float32), shape=[4]),
                            g.ints([4], "k")], num_outputs=2, axis=0)[1]
    image = g.inputs[0]
    active = [k for k, p in enumerate(jitters) if p > 0]
    factors = {k: g.emit1("Add", [_random_factor(g, -jitters[k], jitters[k]),
                                  g.const(np.float32(0 if kinds[k] == "hue" else 1))])
               for k in active}
    for step in range(4 if active else 0):
        kind_here = g.emit1("Slice", [order, g.ints([step]), g.ints([step + 1])])
        result = image
        for k in active:
            changed = _image_value(g, _IMAGE_TRANSFORMS[kinds[k]](g, image, factors[k]))
            result = g.emit1("Where", [g.emit1("Equal", [kind_here, g.ints([k])]), changed, result])
        image = result
    g.emit("Identity", [image], g.outputs)


@exporter("_image_random_lighting")
def _image_random_lighting(g):
    """x + eigen @ alphas per RGB channel (alphas ~ N(0, alpha_std) in float32; the products
    and sums in float64, each sum rounded to float32, left to right as _lighting_offsets); a
    gray image passes, and so does alpha_std = 0 (ONNX Runtime's RandomNormal takes no zero
    scale)."""
    from ..ops.image import _LIGHTING_EIGEN
    x = g.inputs[0]
    if g.in_shape(0)[-1] == 1 or g.params["alpha_std"] == 0:
        _image_value(g, _as_float(g, x), g.outputs[0])
        return
    alphas = g.emit1("RandomNormal", [], dtype=_tensor_type(np.float32), shape=[1, 3],
                     scale=float(g.params["alpha_std"]))
    terms = g.emit1("Mul", [g.const(np.asarray(_LIGHTING_EIGEN, np.float64), name="eigen"),
                            _as_dtype(g, alphas, np.float64)])
    first, second, third = (g.emit1("Slice", [terms, g.ints([k]), g.ints([k + 1]), g.ints([1])])
                            for k in range(3))
    partial = _as_dtype(g, _as_dtype(g, g.emit1("Add", [first, second]), np.float32), np.float64)
    offsets = _as_dtype(g, g.emit1("Add", [partial, third]), np.float32)           # (3, 1)
    offsets = g.emit1("Reshape", [offsets, g.ints([3], "shape")])
    _image_value(g, g.emit1("Add", [_as_float(g, x), offsets]), g.outputs[0])


@exporter("_contrib_RROIAlign")
def _rroi_align(g):
    """Each rotated region's bin samples (on the region's grid turned by theta about its
    centre) read by GridSample from the region's image, positions in the kernel's float
    arithmetic: 0 outside [-1, H] x [-1, W], clamped to the map inside (ROIAlign's edge rule),
    averaged per bin; 0 for batch indices outside the data.  A fixed sampling_ratio reads every
    bin's ratio^2 samples at once; the adaptive one (<= 0), ceil(size / pooled) per side from
    each region's size, loops over the sample grid of the largest region, each region counting
    the samples inside its own grid."""
    _require_grid_sample(g)
    p = g.params
    ratio = p["sampling_ratio"]
    _, channels, height, width = g.in_shape(0)
    pooled_h, pooled_w = p["pooled_size"]
    if height < 2 or width < 2:
        g.fail(f"data {g.in_shape(0)}: GridSample's aligned corners need two rows and columns")
    dtype = np.dtype(g.in_dtype(0)).type
    rois, f32 = g.inputs[1], np.float32

    def column(k):
        return g.emit1("Slice", [rois, g.ints([k]), g.ints([k + 1]), g.ints([1])])    # (R, 1)

    def number(value):
        return g.const(dtype(value), name="number")

    def op(op_type, *inputs):
        return g.emit1(op_type, list(inputs))

    index, valid = _region_images(g, column(0))
    scale = g.scalar(f32(p["spatial_scale"]))
    center_w, center_h = (op("Mul", column(k), scale) for k in (1, 2))
    sizes = [op("Max", op("Mul", column(k), scale), number(1)) for k in (3, 4)]    # w, h
    # theta in float64 (the kernel's M_PI / 180.0), rounded to the data's type; cos and sin
    # of it in float64 too, rounded
    theta = _as_dtype(g, op("Div", op("Mul", _as_dtype(g, column(5), np.float64),
                                      g.const(np.float64(math.pi))), g.const(np.float64(180))),
                      dtype)
    cos_theta, sin_theta = (_as_dtype(g, op(name, _as_dtype(g, theta, np.float64)), dtype)
                            for name in ("Cos", "Sin"))

    def offsets(size, pooled, bins, steps, grid):
        """start + bins * bin + steps * bin / grid along one side: (R, bins' length)."""
        start = _as_dtype(g, op("Div", op("Neg", _as_dtype(g, size, np.float64)),
                                g.const(np.float64(2))), dtype)
        bin_size = op("Div", size, number(pooled))
        return op("Add", op("Add", start, op("Mul", bins, bin_size)),
                  op("Div", op("Mul", steps, bin_size), grid))

    def per_region(value):
        return g.emit1("Unsqueeze", [value, g.ints([2], "axes")])                      # (R, 1, 1)

    images = g.emit1("Gather", [g.inputs[0], index], axis=0)                        # (R, C, H, W)
    if dtype != f32:
        images = _as_dtype(g, images, f32)
    cos3, sin3 = per_region(cos_theta), per_region(sin_theta)
    in_batch = g.emit1("Reshape", [_as_dtype(g, valid, dtype), g.ints([-1, 1, 1, 1], "shape")])

    def samples(along_w, along_h):
        """The samples at offsets along_w (R, 1, Wn) and along_h (R, Hn, 1) from the centre:
        (R, C, Hn, Wn), 0 outside the map or the batch."""
        x = op("Add", op("Add", op("Mul", along_w, cos3), op("Mul", along_h, sin3)),
               per_region(center_w))
        y = op("Add", op("Sub", op("Mul", along_h, cos3), op("Mul", along_w, sin3)),
               per_region(center_h))
        inside = op("And", op("And", op("GreaterOrEqual", y, number(-1)),
                              op("LessOrEqual", y, number(height))),
                    op("And", op("GreaterOrEqual", x, number(-1)),
                        op("LessOrEqual", x, number(width))))
        normalized = []
        for value, size in ((x, width), (y, height)):
            clamped = g.emit1("Clip", [value, number(0), number(size - 1)])
            normalized.append(_as_dtype(g, op("Sub", op("Div", clamped, number((size - 1) / 2)),
                                               number(1)), f32))
        points = g.emit1("Concat", [g.emit1("Unsqueeze", [value, g.ints([3], "axes")])
                                    for value in normalized], axis=3)             # (R, Hn, Wn, 2)
        values = _grid_sample(g, images, points)                                   # (R, C, Hn, Wn)
        if dtype != f32:
            values = _as_dtype(g, values, dtype)
        inside = _as_dtype(g, g.emit1("Unsqueeze", [inside, g.ints([1], "axes")]), dtype)
        return op("Mul", values, op("Mul", inside, in_batch))

    if ratio > 0:
        def fixed_offsets(size, pooled):
            bins = np.repeat(np.arange(pooled), ratio).astype(dtype).reshape(1, -1)
            steps = np.tile(np.arange(ratio) + f32(0.5), pooled).astype(dtype).reshape(1, -1)
            return offsets(size, pooled, g.const(bins, name="bins"), g.const(steps, name="steps"),
                           number(ratio))

        along_w = g.emit1("Unsqueeze", [fixed_offsets(sizes[0], pooled_w), g.ints([1], "axes")])
        along_h = g.emit1("Unsqueeze", [fixed_offsets(sizes[1], pooled_h), g.ints([2], "axes")])
        shape = g.ints([0, channels, pooled_h, ratio, pooled_w, ratio], "shape")
        blocks = g.emit1("Reshape", [samples(along_w, along_h), shape])
        total = _reduce(g, "ReduceSum", blocks, [3, 5], False)
        g.emit("Div", [total, number(ratio * ratio)], g.outputs)
        return
    # adaptive: iteration k reads sample (iy, ix) = divmod(k, widest) of every bin of every
    # region, over the largest region's grid (widest x tallest), in the kernel's order; a region
    # adds the samples inside its own grid
    grid_w, grid_h = (op("Ceil", op("Div", size, number(pooled)))
                      for size, pooled in zip(sizes, (pooled_w, pooled_h)))        # (R, 1)
    widest, tallest = (_as_dtype(g, _reduce(g, "ReduceMax", grid, None, False), np.int64)
                       for grid in (grid_w, grid_h))
    step, carried_in, carried_out, keep = (g.graph.fresh(f"{g.name}_{part}")
                                           for part in ("step", "sum_in", "sum_out", "keep"))
    with g.subgraph_nodes() as body:
        iy = op("Div", step, widest)
        ix = op("Sub", step, op("Mul", iy, widest))
        # (float)i + 0.5f, as the kernel
        fy, fx = (_as_dtype(g, op("Add", _as_dtype(g, i, f32), g.const(f32(0.5))), dtype)
                  for i in (iy, ix))
        along_w = g.emit1("Unsqueeze", [offsets(sizes[0], pooled_w, number(np.arange(pooled_w)),
                                                fx, grid_w), g.ints([1], "axes")])   # (R, 1, PW)
        along_h = g.emit1("Unsqueeze", [offsets(sizes[1], pooled_h, number(np.arange(pooled_h)),
                                                fy, grid_h), g.ints([2], "axes")])   # (R, PH, 1)
        in_grid = op("And", op("Less", _as_dtype(g, iy, dtype), grid_h),
                     op("Less", _as_dtype(g, ix, dtype), grid_w))                   # (R, 1)
        in_grid = g.emit1("Reshape", [_as_dtype(g, in_grid, dtype), g.ints([-1, 1, 1, 1], "shape")])
        g.emit("Add", [carried_in, op("Mul", samples(along_w, along_h), in_grid)], [carried_out])
        g.emit("Identity", [keep], [f"{keep}_out"])
    helper, element = g.graph.onnx.helper, _tensor_type(dtype)
    loop_body = helper.make_graph(
        body, f"{g.name}_samples",
        [helper.make_tensor_value_info(step, _tensor_type(np.int64), []),
         helper.make_tensor_value_info(keep, _tensor_type(np.bool_), []),
         helper.make_tensor_value_info(carried_in, element, None)],
        [helper.make_tensor_value_info(f"{keep}_out", _tensor_type(np.bool_), []),
         helper.make_tensor_value_info(carried_out, element, None)])
    zeros = g.emit1("ConstantOfShape", [g.out_shape_value()],
                    value=g.graph.onnx.numpy_helper.from_array(np.zeros(1, dtype)))
    # the condition given (always true): onnx.reference runs no iteration without it
    total = g.emit1("Loop", [op("Mul", widest, tallest), g.const(np.bool_(True), name="always"),
                             zeros], body=loop_body)
    count = g.emit1("Reshape", [op("Mul", grid_w, grid_h), g.ints([-1, 1, 1, 1], "shape")])
    g.emit("Div", [total, count], g.outputs)


@exporter("_contrib_DeformablePSROIPooling")
def _deformable_psroi_pooling(g):
    """Every (region, bin, trans class) at once: the class's position-sensitive planes of the
    region's image read by one GridSample at the bin's sample_per_part^2 samples (the bin moved
    by trans x trans_std x the region's size), those inside the map (clamped to it) averaged,
    0 when none is or the batch index is outside the data; positions in the kernel's
    arithmetic."""
    _require_grid_sample(g)
    p = g.params
    _, _, height, width = g.in_shape(0)
    if height < 2 or width < 2:
        g.fail(f"data {g.in_shape(0)}: GridSample's aligned corners need two rows and columns")
    pooled, group, dim, samples = p["pooled_size"], p["group_size"], p["output_dim"], p["sample_per_part"]
    regions, bins = g.in_shape(1)[0], p["pooled_size"] ** 2
    part = p["part_size"] or pooled
    classes = 1 if p["no_trans"] else g.in_shape(2)[1] // 2
    per_class = dim // classes
    dtype = np.dtype(g.in_dtype(0)).type
    rois, f32 = g.inputs[1], np.float32

    def op(op_type, *inputs):
        return g.emit1(op_type, list(inputs))

    def number(value):
        return g.const(dtype(value), name="number")

    def column(k):
        return g.emit1("Slice", [rois, g.ints([k]), g.ints([k + 1]), g.ints([1])])        # (R, 1)

    index, valid_image = _region_images(g, column(0))
    scale = g.scalar(f32(p["spatial_scale"]))

    def corner(k, far):
        """C's round of column k (+ 1 for the far corner) in float64, then * scale - 0.5."""
        wide = _as_dtype(g, column(k), np.float64)
        value = op("Mul", op("Sign", wide), op("Floor", op("Add", op("Abs", wide), g.const(np.float64(0.5)))))
        if far:
            value = op("Add", value, g.const(np.float64(1)))
        return op("Sub", op("Mul", _as_dtype(g, value, dtype), scale), number(0.5))

    # per bin b = ph * P + pw: its row and column, trans part and channel group cell
    rows, columns = np.divmod(np.arange(bins), pooled)
    parts = [np.floor(v.astype(dtype) / dtype(pooled) * dtype(part)).astype(np.int64)
             for v in (rows, columns)]
    cells = [np.clip(np.floor(v.astype(dtype) * dtype(group) / dtype(pooled)).astype(np.int64), 0, group - 1)
             for v in (rows, columns)]
    shifts = None
    if not p["no_trans"]:     # trans (R, 2 classes, part, part) -> (R, bins, classes, 2)
        trans = g.emit1("Reshape", [g.inputs[2], g.ints([0, classes, 2, part * part], "shape")])
        trans = g.emit1("Gather", [trans, g.ints(parts[0] * part + parts[1], "parts")], axis=3)
        shifts = op("Mul", g.emit1("Transpose", [trans], perm=[0, 3, 1, 2]),
                    g.scalar(f32(p["trans_std"])))
    sample_steps = g.const(np.arange(samples, dtype=dtype).reshape(1, 1, 1, -1), name="samples")
    positions = []
    for axis, (k, places) in enumerate(((1, columns), (2, rows))):     # x (width), then y
        start = corner(k, False)
        extent = op("Max", op("Sub", corner(k + 2, True), start), number(0.1))            # (R, 1)
        bin_size = op("Div", extent, number(pooled))
        begin = op("Add", op("Mul", g.const(places.astype(dtype).reshape(1, -1), name="places"),
                             bin_size), start)                                           # (R, bins)
        begin = g.emit1("Unsqueeze", [begin, g.ints([2], "axes")])                         # (R, bins, 1)
        if shifts is not None:
            shift = g.emit1("Squeeze", [g.emit1("Slice", [shifts, g.ints([axis]), g.ints([axis + 1]),
                                                          g.ints([3])]), g.ints([3], "axes")])
            begin = op("Add", begin, op("Mul", shift, g.emit1("Unsqueeze", [extent, g.ints([2], "axes")])))
        step = g.emit1("Unsqueeze", [op("Div", bin_size, number(samples)), g.ints([2, 3], "axes")])
        positions.append(op("Add", g.emit1("Unsqueeze", [begin, g.ints([3], "axes")]),
                            op("Mul", sample_steps, step)))                     # (R, bins, classes, S)
    x = g.emit1("Unsqueeze", [positions[0], g.ints([3], "axes")])                          # (.., 1, S)
    y = g.emit1("Unsqueeze", [positions[1], g.ints([4], "axes")])                          # (.., S, 1)
    inside = op("And", op("And", op("GreaterOrEqual", x, number(-0.5)),
                          op("LessOrEqual", x, number(width - 0.5))),
                op("And", op("GreaterOrEqual", y, number(-0.5)),
                    op("LessOrEqual", y, number(height - 0.5))))
    grid_shape = g.ints([regions, bins, classes, samples, samples], "shape")
    normalized = []
    for value, size in ((x, width), (y, height)):
        clamped = g.emit1("Clip", [value, number(0), number(size - 1)])
        value = op("Expand", op("Sub", op("Div", clamped, number((size - 1) / 2)), number(1)), grid_shape)
        normalized.append(g.emit1("Unsqueeze", [_as_dtype(g, value, f32), g.ints([5], "axes")]))
    points = g.emit1("Reshape", [g.emit1("Concat", normalized, axis=5),
                                 g.ints([-1, samples, samples, 2], "shape")])             # (R B Cl, S, S, 2)
    channels = [((c * per_class + d) * group + gh) * group + gw
                for gh, gw in zip(*cells) for c in range(classes) for d in range(per_class)]
    images = g.emit1("Gather", [g.emit1("Gather", [g.inputs[0], g.ints(channels, "channels")], axis=1),
                                index], axis=0)                                           # (R, B Cl D', H, W)
    images = g.emit1("Reshape", [images if dtype == f32 else _as_dtype(g, images, f32),
                                 g.ints([-1, per_class, height, width], "shape")])
    sampled = g.emit1("Reshape", [_grid_sample(g, images, points),
                                  g.ints([regions, bins, classes, per_class, samples, samples], "shape")])
    if dtype != f32:
        sampled = _as_dtype(g, sampled, dtype)
    weights = _as_dtype(g, inside, dtype)                                                 # (R, B, Cl, S, S)
    total = _reduce(g, "ReduceSum", op("Mul", sampled, g.emit1("Unsqueeze", [weights, g.ints([3], "axes")])),
                    [4, 5], False)                                                        # (R, B, Cl, D')
    count = _reduce(g, "ReduceSum", weights, [3, 4], False)
    count = g.emit1("Unsqueeze", [count, g.ints([3], "axes")])                             # (R, B, Cl, 1)
    mean = op("Where", op("Greater", count, number(0)), op("Div", total, op("Max", count, number(1))),
              number(0))
    mean = op("Mul", g.emit1("Reshape", [mean, g.ints([-1, pooled, pooled, dim], "shape")]),
              g.emit1("Reshape", [_as_dtype(g, valid_image, dtype), g.ints([-1, 1, 1, 1], "shape")]))
    g.emit("Transpose", [mean], g.outputs[:1], perm=[0, 3, 1, 2])


@exporter("_contrib_hawkesll")
def _hawkesll(g):
    """The kernel's recursion unrolled over the T events (T is a shape), every sample and mark
    at once: at step j the samples with j < valid_length move their clock by the lag, and the
    event's mark (a one-hot row; marks outside [0, K) match none, as the kernel skips them)
    adds log(intensity) - compensator and renews its state; then each mark's compensator up to
    max_time (summed over the marks in order) and the decayed states.  The kernel's float
    operations in its order, exp and log in the data's type."""
    lda, alpha, beta, state, lags, marks, valid_length, max_time = g.inputs[:8]
    samples, kinds = g.in_shape(0)
    steps = g.in_shape(4)[1]
    dtype = np.dtype(g.in_dtype(0)).type

    def op(op_type, *inputs):
        return g.emit1(op_type, list(inputs))

    def number(value):
        return g.const(dtype(value), name="number")

    def step_column(value, j):
        return g.emit1("Slice", [value, g.ints([j]), g.ints([j + 1]), g.ints([1])])      # (N, 1)

    marks_index = _as_dtype(g, marks, np.int64)
    mark_ids = g.const(np.arange(kinds, dtype=np.int64).reshape(1, -1), name="marks")
    alpha_beta = op("Mul", alpha, beta)
    negative_beta = op("Neg", beta)
    lengths = g.emit1("Reshape", [valid_length, g.ints([-1, 1], "shape")])

    def zeros(columns, name):
        """(N, columns) zeros: constants, or made from the batch size when it is dynamic."""
        if not g.in_batch_axes(0):
            return g.const(np.zeros((samples, columns), dtype), name=name)
        shape = g.emit1("Concat", [g.emit1("Slice", [g.emit1("Shape", [lda]), g.ints([0]), g.ints([1])]),
                                   g.ints([columns])], axis=0)
        zero = g.graph.onnx.numpy_helper.from_array(np.zeros(1, dtype))
        return g.emit1("ConstantOfShape", [shape], value=zero)

    last, memory, clock, total = zeros(kinds, "last"), state, zeros(1, "clock"), zeros(1, "total")
    for j in range(steps):
        active = op("Greater", lengths, number(j))                                         # (N, 1)
        clock = op("Where", active, op("Add", clock, step_column(lags, j)), clock)
        # the product of 0/1 values rather than And: imported, the integer comparison's 0/1
        # are int64 and the other's floats
        event = _as_dtype(g, op("Mul", _as_dtype(g, op("Equal", step_column(marks_index, j), mark_ids),
                                                 dtype), _as_dtype(g, active, dtype)), np.bool_)

        gap = op("Sub", clock, last)
        decay = op("Exp", op("Mul", negative_beta, gap))
        intensity = op("Add", lda, op("Mul", op("Mul", alpha_beta, memory), decay))
        compensator = op("Add", op("Mul", lda, gap),
                         op("Mul", op("Mul", alpha, memory), op("Sub", number(1), decay)))
        term = op("Where", event, op("Sub", op("Log", intensity), compensator), number(0))
        total = op("Add", total, _reduce(g, "ReduceSum", term, [1], True))
        memory = op("Where", event, op("Add", number(1), op("Mul", memory, decay)), memory)
        last = op("Where", event, clock, last)
    gap = op("Sub", g.emit1("Reshape", [max_time, g.ints([-1, 1], "shape")]), last)
    decay = op("Exp", op("Mul", negative_beta, gap))
    remaining = op("Add", op("Mul", lda, gap),
                   op("Mul", op("Mul", alpha, memory), op("Sub", number(1), decay)))     # (N, K)
    summed = number(0)
    for k in range(kinds):      # in the marks' order, as the kernel sums
        summed = op("Add", summed, step_column(remaining, k))
    g.emit("Reshape", [op("Sub", total, summed), g.ints([-1], "shape")], g.outputs[:1])
    if len(g.outputs) > 1:
        g.emit("Mul", [decay, memory], g.outputs[1:2])
