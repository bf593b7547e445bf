"""The importer table: one function per ONNX operator, building cysym symbols.

An importer receives the GraphBuilder `b` and the ONNX node, and returns the cysym symbols of
the node's outputs. Inputs that ONNX passes as tensors but cysym takes as parameters (shapes,
axes, pads, ...) must be constants (initializers or Constant nodes).
"""
import numpy as np

from ..base import MXNetError
from .export_ops import Unsupported

__all__ = ["IMPORTERS", "GraphBuilder"]

IMPORTERS = {}
INT64_MAX = np.iinfo(np.int64).max
# operators computed at import when all their inputs are constants: none makes more values than
# its inputs hold, so an untrusted file cannot make the import allocate without bound
# (no broadcasting or gathering: those can square the size of what they read)
FOLDED = {"Slice", "Concat", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Cast",
          "Identity", "Split", "Neg", "Abs"}
# ONNX operators that cannot have a cysym form, and why (named in the import error)
WITHOUT_FORM = {
    "NonMaxSuppression": "its output's row count depends on the scores (cysym's shapes are known "
                         "when a graph is bound), so the box_nms, MultiBoxDetection and Proposal "
                         "models cysym exports do not import back",
    "Loop": "its body runs a number of times known when the model runs (cysym's graphs have no "
            "control flow), so the adaptive RROIAlign models cysym exports do not import back",
}


def importer(*op_types):
    def decorate(function):
        for op_type in op_types:
            IMPORTERS[op_type] = function
        return function
    return decorate


class GraphBuilder:
    """Turns an onnx.ModelProto into (sym, arg_params, aux_params)."""

    def __init__(self, model):
        import onnx
        self.onnx = onnx
        self.model = model
        self.graph = model.graph
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                         default=0)
        self.constants = {t.name: onnx.numpy_helper.to_array(t) for t in self.graph.initializer}
        # the shapes ONNX's inference finds (some importers need a value's rank or shape)
        try:
            inferred = onnx.shape_inference.infer_shapes(model).graph
        except (onnx.shape_inference.InferenceError, ValueError, RuntimeError):
            inferred = self.graph
        self.shapes, self.dtypes = {}, {}
        for info in list(inferred.input) + list(inferred.value_info) + list(inferred.output):
            if info.type.tensor_type.elem_type:
                self.dtypes[info.name] = onnx.helper.tensor_dtype_to_np_dtype(
                    info.type.tensor_type.elem_type)
            if info.type.tensor_type.HasField("shape"):
                self.shapes[info.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                               for d in info.type.tensor_type.shape.dim)
        self.values = {}       # ONNX value name -> cysym Symbol
        self.arg_params, self.aux_params = {}, {}
        self._aux_names = {name for node in self.graph.node
                           if node.op_type == "BatchNormalization" for name in node.input[3:5]}
        self._used_names = set()
        self.shape_of = {}     # output of a Shape node -> the ONNX value it measures

    def build(self):
        """Translate every node of the graph; fills values, arg_params and aux_params."""
        from .. import ndarray, symbol
        self.sym, self.nd = symbol, ndarray
        initializers = set(self.constants)
        for value in self.graph.input:
            if value.name not in initializers:
                self.values[value.name] = symbol.Variable(value.name)
                self._used_names.add(value.name)
        unsupported = []
        missing = set()     # outputs of nodes not imported: their consumers are not listed
        for node in self.graph.node:
            function = IMPORTERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
            label = f"{node.op_type}(name={node.name or node.output[0]!r})"
            if function is None:
                unsupported.append(f"{label}: {WITHOUT_FORM[node.op_type]}"
                                   if node.op_type in WITHOUT_FORM else label)
                missing.update(node.output)
                continue
            if missing.intersection(node.input):
                missing.update(node.output)
                continue
            try:
                if self._fold(node):
                    continue
                outputs = function(self, node, self.attributes(node))
            except Unsupported as err:
                unsupported.append(f"{label}: {err}")
                missing.update(node.output)
                continue
            except MXNetError as err:
                raise MXNetError(f"cannot import ONNX node {label}: {err}") from None
            except (ValueError, TypeError, IndexError, KeyError, RuntimeError) as err:
                # inputs the checker let through but that do not fit together (a weight of
                # another shape than hidden_size says, ...)
                raise MXNetError(f"cannot import ONNX node {label}: malformed inputs or "
                                 f"attributes ({type(err).__name__}: {err})") from None
            for name, value in zip(node.output, outputs):
                if name and value is not None:     # a Constant's value is in self.constants
                    self.values[name] = value
        if unsupported:
            raise MXNetError("import_model: cysym has no form for the ONNX operators "
                             + "; ".join(unsupported))
        heads = [self.input(value.name) for value in self.graph.output]
        sym = heads[0] if len(heads) == 1 else symbol.Group(heads)
        return sym, self.arg_params, self.aux_params

    def _fold(self, node):
        """Compute a node whose inputs are all constants (weights sliced or reshaped in the
        graph, as cysym's own RNN export does) with onnx.reference; True if it was."""
        inputs = [name for name in node.input if name]
        if (not inputs or node.op_type not in FOLDED or node.domain not in ("", "ai.onnx")
                or not all(name in self.constants and name not in self.values for name in inputs)):
            return False
        from onnx.reference import ReferenceEvaluator
        evaluator = ReferenceEvaluator(node, opsets={"": self.opset})
        results = evaluator.run(None, {name: self.constants[name] for name in inputs})
        for name, value in zip(node.output, results):
            if name:
                self.constants[name] = np.asarray(value)
        return True

    # -- what importers use -------------------------------------------------------------

    def attributes(self, node):
        """{attribute name: Python value} of an ONNX node."""
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def input(self, name):
        """The cysym symbol of ONNX value `name`: an initializer becomes a parameter variable."""
        if name in self.values:
            return self.values[name]
        if name not in self.constants:
            raise Unsupported(f"input {name!r} is neither computed nor a constant")
        array = self.constants[name]
        if array.dtype == np.bool_:    # cysym has no booleans: 0/1 (its comparisons give these)
            array = array.astype(np.float32)
        params = self.aux_params if name in self._aux_names else self.arg_params
        params[name] = self.nd.array(array, dtype=array.dtype)
        self.values[name] = self.sym.Variable(name, shape=array.shape,
                                              dtype=np.dtype(array.dtype).name)
        self._used_names.add(name)
        return self.values[name]

    def shape(self, name):
        """The shape of ONNX value `name` (of a constant, or inferred; None if unknown)."""
        return tuple(self.constants[name].shape) if name in self.constants else self.shapes.get(name)

    def constant(self, node, position, what):
        """The value of a constant input (a shape, axes, pads...), or None if not given."""
        if position >= len(node.input) or not node.input[position]:
            return None
        name = node.input[position]
        if name not in self.constants:
            raise Unsupported(f"its {what} is computed in the graph; cysym needs a constant")
        return self.constants[name]

    def name(self, node):
        """A node name unique in the imported graph: its first output's (cysym's exporter names
        that after the node, so a round trip keeps the names)."""
        base = node.output[0] or node.name or node.op_type.lower()
        name, counter = base, 0
        while name in self._used_names:
            counter += 1
            name = f"{base}_{counter}"
        self._used_names.add(name)
        return name

    def op(self, op_name, node, *inputs, **params):
        """The cysym operator op_name applied to inputs, named after the ONNX node."""
        return getattr(self.sym, op_name)(*inputs, name=self.name(node), **params)


# ---------------------------------------------------------------------------------------------
# elementwise

def _unary(op_name, **fixed):
    def build(b, node, attrs):
        return [b.op(op_name, node, b.input(node.input[0]), **fixed)]
    return build


for _op_type, (_op_name, _fixed) in {
        "Relu": ("Activation", {"act_type": "relu"}), "Sigmoid": ("Activation", {"act_type": "sigmoid"}),
        "Tanh": ("Activation", {"act_type": "tanh"}), "Softplus": ("Activation", {"act_type": "softrelu"}),
        "Softsign": ("Activation", {"act_type": "softsign"}), "Exp": ("exp", {}), "Log": ("log", {}),
        "Sqrt": ("sqrt", {}), "Abs": ("abs", {}), "Neg": ("negative", {}),
        "Reciprocal": ("reciprocal", {}), "Sign": ("sign", {}), "Identity": ("identity", {}),
        "Erf": ("erf", {}), "Floor": ("floor", {}), "Ceil": ("ceil", {}), "Sin": ("sin", {}),
        "Cos": ("cos", {}), "Tan": ("tan", {}), "Asin": ("arcsin", {}), "Acos": ("arccos", {}),
        "Atan": ("arctan", {}), "Sinh": ("sinh", {}), "Cosh": ("cosh", {}),
        "Asinh": ("arcsinh", {}), "Acosh": ("arccosh", {}), "Atanh": ("arctanh", {})}.items():
    IMPORTERS[_op_type] = _unary(_op_name, **_fixed)


def _binary(op_name):
    def build(b, node, attrs):
        result = b.input(node.input[0])
        for k, name in enumerate(node.input[1:]):     # Max, Min and Sum take any number
            result = getattr(b.sym, op_name)(result, b.input(name),
                                             name=b.name(node) if k == len(node.input) - 2 else None)
        return [result]
    return build


for _op_type, _op_name in {"Add": "broadcast_add", "Sub": "broadcast_sub", "Mul": "broadcast_mul",
                           "Div": "broadcast_div", "Pow": "broadcast_power",
                           "Max": "broadcast_maximum", "Min": "broadcast_minimum",
                           "Sum": "broadcast_add"}.items():
    IMPORTERS[_op_type] = _binary(_op_name)


def _comparison(op_name, negate=False):
    """ONNX's comparisons give booleans, cysym's 0/1 in the inputs' dtype (as MXNet)."""
    def build(b, node, attrs):
        result = b.op(op_name, node, b.input(node.input[0]), b.input(node.input[1]))
        return [b.sym.logical_not(result) if negate else result]
    return build


for _op_type, _op_name in {"Equal": "broadcast_equal", "Greater": "broadcast_greater",
                           "GreaterOrEqual": "broadcast_greater_equal", "Less": "broadcast_lesser",
                           "LessOrEqual": "broadcast_lesser_equal", "And": "broadcast_logical_and",
                           "Or": "broadcast_logical_or", "Xor": "broadcast_logical_xor"}.items():
    IMPORTERS[_op_type] = _comparison(_op_name)
IMPORTERS["Not"] = _unary("logical_not")


@importer("HardSigmoid")
def _hard_sigmoid(b, node, attrs):
    return [b.op("hard_sigmoid", node, b.input(node.input[0]), alpha=attrs.get("alpha", 0.2),
                 beta=attrs.get("beta", 0.5))]


@importer("Mod")
def _mod(b, node, attrs):
    a, divisor = b.input(node.input[0]), b.input(node.input[1])
    if not attrs.get("fmod", 0):
        return [b.op("broadcast_mod", node, a, divisor)]
    # C's fmod keeps the dividend's sign, cysym's mod the divisor's: a nonzero remainder moves
    # by one divisor where the signs differ (a zero divisor gives 0, not C's NaN)
    remainder = b.sym.broadcast_mod(a, divisor)
    signs_differ = b.sym.broadcast_not_equal(b.sym._lesser_scalar(a, scalar=0.0),
                                             b.sym._lesser_scalar(divisor, scalar=0.0))
    moved = b.sym.broadcast_mul(signs_differ, b.sym._not_equal_scalar(remainder, scalar=0.0))
    return [b.op("where", node, moved, b.sym.broadcast_sub(remainder, divisor), remainder)]


@importer("Round")
def _round(b, node, attrs):
    """Halves to the even neighbour, as ONNX: a half (x - floor(x) == 0.5, exact there) is twice
    the rounded x / 2, other values cysym's round (halves away from zero, which no other
    value is)."""
    x = b.input(node.input[0])
    half = b.sym._equal_scalar(b.sym.broadcast_sub(x, b.sym.floor(x)), scalar=0.5)
    even = b.sym._mul_scalar(b.sym.round(b.sym._mul_scalar(x, scalar=0.5)), scalar=2.0)
    return [b.op("where", node, half, even, b.sym.round(x))]


@importer("Dropout")
def _dropout(b, node, attrs):
    return [b.op("identity", node, b.input(node.input[0]))]


@importer("LeakyRelu")
def _leaky_relu(b, node, attrs):
    return [b.op("LeakyReLU", node, b.input(node.input[0]), act_type="leaky",
                 slope=attrs.get("alpha", 0.01))]


@importer("Elu")
def _elu(b, node, attrs):
    return [b.op("LeakyReLU", node, b.input(node.input[0]), act_type="elu",
                 slope=attrs.get("alpha", 1.0))]


@importer("PRelu")
def _prelu(b, node, attrs):
    slope = b.constant(node, 1, "slope")
    gamma_name = node.input[1]
    b.constants[gamma_name] = slope.reshape(-1)     # cysym's gamma is one value per channel
    return [b.op("LeakyReLU", node, b.input(node.input[0]), b.input(gamma_name), act_type="prelu")]


@importer("Clip")
def _clip(b, node, attrs):
    low, high = b.constant(node, 1, "min"), b.constant(node, 2, "max")
    if b.opset < 11:
        low, high = attrs.get("min"), attrs.get("max")
    finite = np.finfo(np.float32)
    return [b.op("clip", node, b.input(node.input[0]),
                 a_min=float(finite.min if low is None else low),
                 a_max=float(finite.max if high is None else high))]


@importer("Cast")
def _cast(b, node, attrs):
    dtype = b.onnx.helper.tensor_dtype_to_np_dtype(attrs["to"])
    if np.dtype(dtype) == np.bool_:     # cysym has no booleans: 0/1 in the input's dtype
        return [b.op("_not_equal_scalar", node, b.input(node.input[0]), scalar=0.0)]
    return [b.op("Cast", node, b.input(node.input[0]), dtype=np.dtype(dtype).name)]


# ---------------------------------------------------------------------------------------------
# layers

def _symmetric_pads(attrs, spatial):
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise Unsupported(f"auto_pad={attrs['auto_pad']!r}")
    pads = list(attrs.get("pads", [0] * 2 * spatial))
    if pads[:spatial] != pads[spatial:]:
        raise Unsupported(f"asymmetric pads {pads}")
    return tuple(pads[:spatial])


@importer("Conv", "ConvTranspose")
def _conv(b, node, attrs):
    weight = b.constant(node, 1, "weight")
    spatial = weight.ndim - 2
    kernel = tuple(attrs.get("kernel_shape", weight.shape[2:]))
    params = dict(kernel=kernel, stride=tuple(attrs.get("strides", (1,) * spatial)),
                  dilate=tuple(attrs.get("dilations", (1,) * spatial)),
                  pad=_symmetric_pads(attrs, spatial), num_group=attrs.get("group", 1),
                  no_bias=len(node.input) < 3 or not node.input[2])
    inputs = [b.input(name) for name in node.input if name]
    if node.op_type == "Conv":
        return [b.op("Convolution", node, *inputs, num_filter=weight.shape[0], **params)]
    if "output_shape" in attrs:
        raise Unsupported("output_shape")
    return [b.op("Deconvolution", node, *inputs, num_filter=weight.shape[1] * params["num_group"],
                 adj=tuple(attrs.get("output_padding", (0,) * spatial)), **params)]


@importer("Gemm")
def _gemm(b, node, attrs):
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        raise Unsupported("transA, alpha or beta other than FullyConnected's")
    weight_name = node.input[1]
    weight = b.constant(node, 1, "weight")
    if not attrs.get("transB", 0):       # FullyConnected's weight is (num_hidden, inputs)
        weight_name = b.name(node) + "_weight"
        b.constants[weight_name] = np.ascontiguousarray(weight.T)
        weight = b.constants[weight_name]
    inputs = [b.input(node.input[0]), b.input(weight_name)]
    no_bias = len(node.input) < 3 or not node.input[2]
    if not no_bias:
        bias = b.constant(node, 2, "bias")
        if bias.shape != (weight.shape[0],):
            raise Unsupported(f"a bias of shape {bias.shape}")
        inputs.append(b.input(node.input[2]))
    return [b.op("FullyConnected", node, *inputs, num_hidden=weight.shape[0], no_bias=no_bias)]


@importer("MatMul")
def _matmul(b, node, attrs):
    lhs, rhs = b.input(node.input[0]), b.input(node.input[1])
    ranks = [len(b.shape(name) or ()) for name in node.input[:2]]
    if ranks[1] == 2:     # x @ W: dot's last-by-first axes
        return [b.op("dot", node, lhs, rhs)]
    if ranks == [3, 3]:
        return [b.op("batch_dot", node, lhs, rhs)]
    # stacks of matrices of one batch shape: batch_dot of their 3-D views
    shapes = [_known_shape(b, name) for name in node.input[:2]]
    if ranks[0] != ranks[1] or ranks[0] < 3 or shapes[0][:-2] != shapes[1][:-2]:
        raise Unsupported(f"operands of shapes {shapes} (cysym's batch_dot takes one batch shape)")
    views = [b.sym.reshape(value, shape=(-1,) + shape[-2:]) for value, shape in zip((lhs, rhs), shapes)]
    product = b.sym.batch_dot(*views)
    return [b.op("reshape", node, product, shape=shapes[0][:-1] + shapes[1][-1:])]


@importer("BatchNormalization")
def _batch_norm(b, node, attrs):
    if attrs.get("training_mode", 0):
        raise Unsupported("training_mode=1")
    inputs = [b.input(name) for name in node.input[:5]]
    return [b.op("BatchNorm", node, *inputs, eps=attrs.get("epsilon", 1e-5),
                 momentum=attrs.get("momentum", 0.9), fix_gamma=False, use_global_stats=True)]


@importer("InstanceNormalization")
def _instance_norm(b, node, attrs):
    return [b.op("InstanceNorm", node, *[b.input(name) for name in node.input[:3]],
                 eps=attrs.get("epsilon", 1e-5))]


@importer("LRN")
def _lrn(b, node, attrs):
    return [b.op("LRN", node, b.input(node.input[0]), nsize=attrs["size"],
                 alpha=attrs.get("alpha", 1e-4), beta=attrs.get("beta", 0.75),
                 knorm=attrs.get("bias", 1.0))]


@importer("MaxPool", "AveragePool", "LpPool")
def _pool(b, node, attrs):
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("the indices output")
    if any(d != 1 for d in attrs.get("dilations", ())):
        raise Unsupported("dilations")
    kernel = tuple(attrs["kernel_shape"])
    spatial = len(kernel)
    pool_type = {"MaxPool": "max", "AveragePool": "avg", "LpPool": "lp"}[node.op_type]
    params = dict(kernel=kernel, pool_type=pool_type, stride=tuple(attrs.get("strides", (1,) * spatial)),
                  pad=_symmetric_pads(attrs, spatial),
                  pooling_convention="full" if attrs.get("ceil_mode", 0) else "valid")
    if pool_type == "avg":
        params["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
    if pool_type == "lp":
        if attrs.get("p", 2) != 2:
            raise Unsupported(f"p={attrs['p']} (cysym's lp pooling keeps the signs)")
        params["p_value"] = 2
    return [b.op("Pooling", node, b.input(node.input[0]), **params)]


@importer("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(b, node, attrs):
    return [b.op("Pooling", node, b.input(node.input[0]), kernel=(1, 1), global_pool=True,
                 pool_type="avg" if node.op_type == "GlobalAveragePool" else "max")]


@importer("Softmax", "LogSoftmax")
def _softmax(b, node, attrs):
    if b.opset < 13:
        raise Unsupported("opset < 13 (a flattening softmax)")
    return [b.op("softmax" if node.op_type == "Softmax" else "log_softmax", node,
                 b.input(node.input[0]), axis=attrs.get("axis", -1))]


# ---------------------------------------------------------------------------------------------
# shapes

@importer("Flatten")
def _flatten(b, node, attrs):
    axis = attrs.get("axis", 1)
    if axis == 1:
        return [b.op("Flatten", node, b.input(node.input[0]))]
    if axis == 0:
        return [b.op("Reshape", node, b.input(node.input[0]), shape=(1, -1))]
    raise Unsupported(f"axis={axis}")


@importer("Reshape")
def _reshape(b, node, attrs):
    if attrs.get("allowzero", 0):
        raise Unsupported("allowzero=1")
    shape = tuple(int(d) for d in b.constant(node, 1, "shape"))
    return [b.op("Reshape", node, b.input(node.input[0]), shape=shape)]


@importer("Transpose")
def _transpose(b, node, attrs):
    return [b.op("transpose", node, b.input(node.input[0]), axes=tuple(attrs.get("perm", ())))]


@importer("Concat")
def _concat(b, node, attrs):
    inputs = [b.input(name) for name in node.input]
    return [b.op("Concat", node, *inputs, dim=attrs["axis"], num_args=len(inputs))]


def _axes_of(b, node, attrs, position):
    """Axes from the input (opset 13+ for Squeeze/Unsqueeze/ReduceSum, 18+ others) or attr."""
    axes = b.constant(node, position, "axes")
    if axes is None:
        axes = attrs.get("axes")
    return None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]


@importer("Unsqueeze")
def _unsqueeze(b, node, attrs):
    result = b.input(node.input[0])
    axes = sorted(_axes_of(b, node, attrs, 1))
    if any(a < 0 for a in axes):
        raise Unsupported("negative axes")
    for k, axis in enumerate(axes):
        result = b.sym.expand_dims(result, axis=axis,
                                   name=b.name(node) if k == len(axes) - 1 else None)
    return [result]


@importer("Squeeze")
def _squeeze(b, node, attrs):
    axes = _axes_of(b, node, attrs, 1)
    return [b.op("squeeze", node, b.input(node.input[0]),
                 axis=None if axes is None else tuple(axes))]


@importer("Slice")
def _slice(b, node, attrs):
    starts = [int(v) for v in b.constant(node, 1, "starts")]
    ends = [int(v) for v in b.constant(node, 2, "ends")]
    axes = b.constant(node, 3, "axes")
    axes = list(range(len(starts))) if axes is None else [int(a) for a in axes]
    steps = b.constant(node, 4, "steps")
    steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
    if any(a < 0 for a in axes):
        rank = _rank(b, node.input[0])
        axes = [a % rank for a in axes]
    count = max(axes) + 1
    begin, end, step = [None] * count, [None] * count, [None] * count
    for axis, start, stop, stride in zip(axes, starts, ends, steps):
        # ONNX's "to the end" (the int64 extremes) is cysym's None
        begin[axis] = None if abs(start) >= INT64_MAX else start
        end[axis] = None if abs(stop) >= INT64_MAX else stop
        step[axis] = stride
    return [b.op("slice", node, b.input(node.input[0]), begin=tuple(begin), end=tuple(end),
                 step=tuple(step))]


@importer("Split")
def _split(b, node, attrs):
    sizes = b.constant(node, 1, "split")
    if sizes is None:
        sizes = attrs.get("split")
    count, axis, data = len(node.output), attrs.get("axis", 0), b.input(node.input[0])
    if sizes is not None and len({int(size) for size in sizes}) > 1:     # a slice per part
        ends = np.cumsum([int(size) for size in sizes])
        return [b.sym.slice_axis(data, axis=axis, begin=int(end - size), end=int(end),
                                 name=b.name(node) if k == 0 else None)
                for k, (end, size) in enumerate(zip(ends, sizes))]
    parts = b.op("SliceChannel", node, data, num_outputs=count, axis=axis)
    return [parts[k] for k in range(count)] if count > 1 else [parts]


@importer("Pad")
def _pad(b, node, attrs):
    pads = [int(p) for p in b.constant(node, 1, "pads")]
    value = b.constant(node, 2, "constant_value")
    half = len(pads) // 2
    width = tuple(v for pair in zip(pads[:half], pads[half:]) for v in pair)
    mode = attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    params = dict(mode=mode, constant_value=0.0 if value is None else float(value))
    if half == 3 and not any(width[:4]):
        # cysym pads 4-D and 5-D arrays: (N, C, W) through (N, C, 1, W)
        data = b.sym.expand_dims(b.input(node.input[0]), axis=2)
        padded = b.sym.Pad(data, pad_width=(0,) * 6 + width[4:], **params)
        return [b.op("squeeze", node, padded, axis=(2,))]
    return [b.op("Pad", node, b.input(node.input[0]), pad_width=width, **params)]


@importer("Tile")
def _tile(b, node, attrs):
    reps = tuple(int(r) for r in b.constant(node, 1, "repeats"))
    return [b.op("tile", node, b.input(node.input[0]), reps=reps)]


@importer("Expand")
def _expand(b, node, attrs):
    shape = tuple(int(d) for d in b.constant(node, 1, "shape"))
    return [b.op("broadcast_to", node, b.input(node.input[0]), shape=shape)]


@importer("Resize")
def _resize(b, node, attrs):
    """Bilinear resizing (MXNet's BilinearResize2D) and nearest upsampling by an integer factor
    of the last two axes, to constant sizes or by constant scales."""
    text = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    mode, transform = text.get("mode", "nearest"), text.get("coordinate_transformation_mode", "half_pixel")
    scales, sizes = b.constant(node, 2, "scales"), b.constant(node, 3, "sizes")
    if (sizes is None or sizes.size == 0) and (scales is None or scales.size == 0):
        raise Unsupported("no constant scales or sizes")
    if sizes is not None and sizes.size and "axes" not in attrs:
        target = dict(height=int(sizes[-2]), width=int(sizes[-1]))
    elif scales is not None and scales.size == 4 and "axes" not in attrs and list(scales[:2]) == [1, 1]:
        target = dict(scale_height=float(scales[2]), scale_width=float(scales[3]))
    else:
        raise Unsupported("scales or sizes of other axes than the last two")
    if mode == "linear" and transform in ("align_corners", "half_pixel") and not text.get("antialias"):
        return [b.op("_contrib_BilinearResize2D", node, b.input(node.input[0]),
                     align_corners=transform == "align_corners", **target)]
    if "height" in target and b.shape(node.input[0]):     # sizes: a factor of the input
        height, width = b.shape(node.input[0])[-2:]
        if height and width and not (target["height"] % height or target["width"] % width):
            target.update(scale_height=target["height"] // height,
                          scale_width=target["width"] // width)
    factors = [target.get("scale_height"), target.get("scale_width")]
    if (mode == "nearest" and transform == "asymmetric" and text.get("nearest_mode") == "floor"
            and None not in factors and all(float(f).is_integer() for f in factors)):
        if factors[0] == factors[1]:
            return [b.op("UpSampling", node, b.input(node.input[0]), scale=int(factors[0]),
                         sample_type="nearest", num_args=1)]
        # unequal integer factors: each row, then each column, repeated
        rows = b.sym.repeat(b.input(node.input[0]), repeats=int(factors[0]), axis=2)
        return [b.op("repeat", node, rows, repeats=int(factors[1]), axis=3)]
    raise Unsupported(f"mode={mode!r} with coordinate_transformation_mode={transform!r}")


@importer("Gather")
def _gather(b, node, attrs):
    return [b.op("take", node, b.input(node.input[0]), b.input(node.input[1]),
                 axis=attrs.get("axis", 0), mode="wrap")]


@importer("Where")
def _where(b, node, attrs):
    """cysym's where takes operands of one shape: ONNX's broadcast ones are broadcast like the
    sum of their zeros (zeros_like reads no value, so NaN or inf never leak in)."""
    operands = [b.input(name) for name in node.input[:3]]
    shapes = [b.shape(name) for name in node.input[:3]]
    if None in shapes or len(set(shapes)) > 1:
        rank = max(len(shape) for shape in shapes if shape is not None)
        # lower ranks first get leading axes of 1 (broadcast_like wants equal ranks)
        operands = [value if shape is None or len(shape) == rank or None in shape else
                    b.sym.reshape(value, shape=(1,) * (rank - len(shape)) + tuple(shape))
                    for value, shape in zip(operands, shapes)]
        zeros = [b.sym.zeros_like(value) for value in operands]
        if node.input[1] in b.dtypes:     # a condition from integers: its zeros in x's dtype
            zeros[0] = b.sym.Cast(zeros[0], dtype=np.dtype(b.dtypes[node.input[1]]).name)
        like = b.sym.broadcast_add(b.sym.broadcast_add(zeros[0], zeros[1]), zeros[2])
        operands = [b.sym.broadcast_like(value, like) for value in operands]
    return [b.op("where", node, *operands)]


def _reduction(op_name):
    def build(b, node, attrs):
        axes = _axes_of(b, node, attrs, 1)
        if axes is None and attrs.get("noop_with_empty_axes", 0):
            return [b.op("identity", node, b.input(node.input[0]))]
        return [b.op(op_name, node, b.input(node.input[0]),
                     axis=None if axes is None else tuple(axes),
                     keepdims=bool(attrs.get("keepdims", 1)))]
    return build


for _op_type, _op_name in {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max",
                           "ReduceMin": "min"}.items():
    IMPORTERS[_op_type] = _reduction(_op_name)


for _op_type, _op_name in {"ReduceProd": "prod", "ReduceSumSquare": "_square_sum"}.items():
    IMPORTERS[_op_type] = _reduction(_op_name)


@importer("ReduceL1", "ReduceL2")
def _reduce_norm(b, node, attrs):
    axes = _axes_of(b, node, attrs, 1)
    return [b.op("norm", node, b.input(node.input[0]), ord=1 if node.op_type == "ReduceL1" else 2,
                 axis=None if axes is None else tuple(axes), keepdims=bool(attrs.get("keepdims", 1)))]


@importer("ArgMax", "ArgMin")
def _arg_extreme(b, node, attrs):
    if attrs.get("select_last_index", 0):
        raise Unsupported("select_last_index=1")
    index = getattr(b.sym, node.op_type.lower())(b.input(node.input[0]), axis=attrs.get("axis", 0),
                                                 keepdims=bool(attrs.get("keepdims", 1)))
    return [b.op("Cast", node, index, dtype="int64")]     # cysym's are floats, as MXNet's


@importer("TopK")
def _topk(b, node, attrs):
    k = b.constant(node, 1, "k")
    if not attrs.get("sorted", 1):
        raise Unsupported("sorted=0")
    values, indices = b.op("topk", node, b.input(node.input[0]), k=int(np.asarray(k).reshape(-1)[0]),
                           axis=attrs.get("axis", -1), ret_typ="both", dtype="int64",
                           is_ascend=not attrs.get("largest", 1))
    return [values, indices]


@importer("CumSum")
def _cumsum(b, node, attrs):
    if attrs.get("exclusive", 0) or attrs.get("reverse", 0):
        raise Unsupported("exclusive or reverse")
    axis = int(np.asarray(b.constant(node, 1, "axis")).reshape(-1)[0])
    return [b.op("_np_cumsum", node, b.input(node.input[0]), axis=axis)]


@importer("DepthToSpace", "SpaceToDepth")
def _depth_space(b, node, attrs):
    mode = attrs.get("mode", b"DCR")
    if (mode.decode() if isinstance(mode, bytes) else mode) != "DCR":
        raise Unsupported("mode='CRD'")
    op_name = "depth_to_space" if node.op_type == "DepthToSpace" else "space_to_depth"
    return [b.op(op_name, node, b.input(node.input[0]), block_size=attrs["blocksize"])]


@importer("Constant")
def _constant(b, node, attrs):
    if "value" not in attrs:
        raise Unsupported("a constant that is not a tensor")
    array = b.onnx.numpy_helper.to_array(attrs["value"])
    b.constants[node.output[0]] = array
    return [None]


@importer("Shape")
def _shape(b, node, attrs):
    if "start" in attrs or "end" in attrs:
        raise Unsupported("start/end")
    b.shape_of[node.output[0]] = node.input[0]
    return [b.op("shape_array", node, b.input(node.input[0]))]


# ---------------------------------------------------------------------------------------------
# recurrent layers: one ONNX node is one cysym RNN of one layer

# ONNX's gates in MXNet's order: LSTM i,o,f,c -> i,f,g,o; GRU z,r,h -> r,z,n
_RNN_MODES = {"LSTM": (4, [0, 2, 3, 1]), "GRU": (3, [1, 0, 2]), "RNN": (1, [0])}


@importer("LSTM", "GRU", "RNN")
def _recurrent(b, node, attrs):
    gates, order = _RNN_MODES[node.op_type]
    hidden = attrs["hidden_size"]
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction == "reverse" or attrs.get("layout", 0) or attrs.get("clip") is not None \
            or attrs.get("input_forget", 0):
        raise Unsupported("direction='reverse', layout=1, clip or input_forget")
    if any(name for name in node.input[4:5]) or (node.op_type == "LSTM" and any(node.input[7:8])):
        raise Unsupported("sequence_lens or peepholes")
    directions = 2 if direction == "bidirectional" else 1
    activations = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
    mode = {"LSTM": "lstm", "GRU": "gru"}.get(node.op_type)
    if node.op_type == "RNN":
        mode = "rnn_relu" if activations[:1] == ["Relu"] else "rnn_tanh"
    defaults = {"lstm": ["Sigmoid", "Tanh", "Tanh"], "gru": ["Sigmoid", "Tanh"],
                "rnn_tanh": ["Tanh"], "rnn_relu": ["Relu"]}[mode]
    if activations and activations != defaults * directions:
        raise Unsupported(f"activations {activations}")
    if mode == "gru" and not attrs.get("linear_before_reset", 0):
        raise Unsupported("linear_before_reset=0 (cysym's GRU resets after the recurrent product)")
    w, r = b.constant(node, 1, "W"), b.constant(node, 2, "R")
    bias = b.constant(node, 3, "B")
    if bias is None:
        bias = np.zeros((directions, 2 * gates * hidden), dtype=w.dtype)

    def regroup(matrix):      # (gates * hidden, ...) rows in MXNet's gate order, flattened
        blocks = matrix.reshape((gates, hidden) + matrix.shape[1:])
        return blocks[order].reshape(-1)

    weights = [regroup(m[d]) for d in range(directions) for m in (w, r)]
    biases = [regroup(half) for d in range(directions)
              for half in np.split(bias[d], 2)]
    name = b.name(node)
    parameters = f"{name}_parameters"
    b.constants[parameters] = np.concatenate(weights + biases).astype(w.dtype)
    data = b.input(node.input[0])
    states = []
    for position in ((5, 6) if mode == "lstm" else (5,)):
        if position < len(node.input) and node.input[position]:
            states.append(b.input(node.input[position]))
        else:   # ONNX's default: zeros, the batch size inferred
            states.append(b.sym.zeros((directions, 0, hidden)))
    outputs = b.sym.RNN(data, b.input(parameters), *states, state_size=hidden, num_layers=1,
                        bidirectional=directions == 2, mode=mode, state_outputs=True, name=name)
    # cysym's output is (T, N, directions * H), ONNX's Y (T, directions, N, H)
    sequence = b.sym.transpose(b.sym.reshape(outputs[0], shape=(0, 0, directions, hidden)),
                               axes=(0, 2, 1, 3))
    return [sequence] + [outputs[k] for k in range(1, 3 if mode == "lstm" else 2)]


# ---------------------------------------------------------------------------------------------
# constants, ranges, gathers and scatters

def _dtype_name(b, tensor_type):
    return np.dtype(b.onnx.helper.tensor_dtype_to_np_dtype(tensor_type)).name


def _scalar_input(b, node, position, what):
    value = b.constant(node, position, what)
    if value is None or value.size != 1:
        raise Unsupported(f"its {what} is not a constant scalar")
    return value.reshape(-1)[0]


@importer("ConstantOfShape")
def _constant_of_shape(b, node, attrs):
    """A constant shape: cysym's _full; the shape of a value (Shape(x)): zeros_like/ones_like of
    x, or x's zeros plus the value."""
    value = (b.onnx.numpy_helper.to_array(attrs["value"]).reshape(-1) if "value" in attrs
             else np.zeros(1, dtype=np.float32))
    fill, dtype = value[0], value.dtype
    if value.dtype == np.bool_:
        fill, dtype = float(fill), np.dtype(np.float32)    # cysym has no booleans: 0/1
    measured = b.shape_of.get(node.input[0])
    if measured is not None:
        like = b.input(measured)
        base = b.sym.ones_like(like) if fill == 1 else b.sym.zeros_like(like)
        if fill not in (0, 1):
            base = b.sym._plus_scalar(base, scalar=float(fill))
        return [b.op("Cast", node, base, dtype=dtype.name)]
    shape = tuple(int(d) for d in b.constant(node, 0, "shape"))
    if not shape:
        raise Unsupported("a 0-d result (cysym arrays have at least one dimension)")
    return [b.op("_full", node, shape=shape, value=float(fill), dtype=dtype.name)]


@importer("Range")
def _range(b, node, attrs):
    start, limit, delta = (_scalar_input(b, node, k, what)
                           for k, what in enumerate(("start", "limit", "delta")))
    dtype = b.constant(node, 0, "start").dtype
    return [b.op("_arange", node, start=float(start), stop=float(limit), step=float(delta),
                 dtype=np.dtype(dtype).name)]


def _coordinates_first(b, indices, ndim):
    """ONNX's indices (..., M) as MXNet's (M, ...)."""
    if ndim == 1:
        return indices
    return b.sym.transpose(indices, axes=(ndim - 1,) + tuple(range(ndim - 1)))


def _rank(b, name):
    """The rank of ONNX value `name` (cysym needs it to move the coordinates' axis)."""
    if b.shape(name) is None:
        raise Unsupported(f"the rank of {name!r} is not known")
    return len(b.shape(name))


@importer("GatherND")
def _gather_nd(b, node, attrs):
    if attrs.get("batch_dims", 0):
        raise Unsupported(f"batch_dims={attrs['batch_dims']}")
    indices = _coordinates_first(b, b.input(node.input[1]), _rank(b, node.input[1]))
    return [b.op("gather_nd", node, b.input(node.input[0]), indices)]


@importer("ScatterND")
def _scatter_nd(b, node, attrs):
    if attrs.get("reduction", b"none") not in (b"none", "none"):
        raise Unsupported(f"reduction={attrs['reduction']!r}")
    indices = _coordinates_first(b, b.input(node.input[1]), _rank(b, node.input[1]))
    # _scatter_set_nd writes rhs into a copy of lhs; its shape parameter is lhs's
    return [b.op("_scatter_set_nd", node, b.input(node.input[0]), b.input(node.input[2]), indices,
                 shape=_known_shape(b, node.input[0]))]


def _known_shape(b, name):
    """The static shape of ONNX value `name` (a constant, or inferred)."""
    shape = b.shape(name)
    if shape is None or None in shape:
        raise Unsupported(f"the shape of {name!r} is not known")
    return shape


@importer("GatherElements")
def _gather_elements(b, node, attrs):
    """pick: the indices have one element along the axis (ONNX's negative ones wrap)."""
    shape = _known_shape(b, node.input[1])
    axis = attrs.get("axis", 0) % len(shape)
    if shape[axis] != 1:
        raise Unsupported("indices with more than one element along the axis")
    index = b.sym.reshape(b.input(node.input[1]), shape=shape[:axis] + shape[axis + 1:])
    return [b.op("pick", node, b.input(node.input[0]), index, axis=axis, keepdims=True,
                 mode="wrap")]


@importer("OneHot")
def _one_hot(b, node, attrs):
    if attrs.get("axis", -1) != -1:
        raise Unsupported(f"axis={attrs['axis']}")
    depth = int(_scalar_input(b, node, 1, "depth"))
    values = b.constant(node, 2, "values")
    if values is None or values.size != 2:
        raise Unsupported("its values are not a constant pair")
    off, on = values.reshape(-1)
    indices = b.input(node.input[0])
    # ONNX counts a negative index from the end; cysym's one_hot would give all off_value
    wrapped = b.sym.where(b.sym._lesser_scalar(indices, scalar=0),
                          b.sym._plus_scalar(indices, scalar=depth), indices)
    return [b.op("one_hot", node, wrapped, depth=depth, on_value=float(on), off_value=float(off),
                 dtype=np.dtype(values.dtype).name)]


@importer("IsNaN")
def _is_nan(b, node, attrs):
    x = b.input(node.input[0])
    return [b.op("broadcast_not_equal", node, x, x)]     # 0/1 (cysym has no booleans)


@importer("IsInf")
def _is_inf(b, node, attrs):
    positive, negative = attrs.get("detect_positive", 1), attrs.get("detect_negative", 1)
    x = b.input(node.input[0])
    if positive and negative:
        return [b.op("_equal_scalar", node, b.sym.abs(x), scalar=float("inf"))]
    if not (positive or negative):
        return [b.op("zeros_like", node, x)]
    return [b.op("_equal_scalar", node, x, scalar=float("inf") if positive else float("-inf"))]


@importer("Size")
def _size(b, node, attrs):
    return [b.op("size_array", node, b.input(node.input[0]))]     # (1,), not ONNX's 0-d


@importer("Det")
def _det(b, node, attrs):
    return [b.op("_linalg_det", node, b.input(node.input[0]))]   # one matrix: (1,), not 0-d


@importer("Selu")
def _selu(b, node, attrs):
    from .export_ops import SELU_ALPHA, SELU_LAMBDA
    alpha, gamma = attrs.get("alpha", 1.67326319217681884765625), attrs.get("gamma", 1.05070102214813232421875)
    if not (np.isclose(alpha, SELU_ALPHA) and np.isclose(gamma, SELU_LAMBDA)):
        raise Unsupported(f"alpha={alpha}, gamma={gamma} (cysym's SELU has fixed constants)")
    return [b.op("LeakyReLU", node, b.input(node.input[0]), act_type="selu")]


@importer("GlobalLpPool")
def _global_lp_pool(b, node, attrs):
    if attrs.get("p", 2) != 2:
        raise Unsupported(f"p={attrs['p']} (cysym's lp pooling keeps the signs)")
    return [b.op("Pooling", node, b.input(node.input[0]), kernel=(1, 1), global_pool=True,
                 pool_type="lp", p_value=2)]


@importer("ReverseSequence")
def _reverse_sequence(b, node, attrs):
    if attrs.get("time_axis", 0) != 0 or attrs.get("batch_axis", 1) != 1:
        raise Unsupported("time_axis other than 0 or batch_axis other than 1")
    # cysym's lengths have the data's dtype
    lengths = b.sym.Cast(b.input(node.input[1]),
                         dtype=np.dtype(b.dtypes.get(node.input[0], np.float32)).name)
    return [b.op("SequenceReverse", node, b.input(node.input[0]), lengths,
                 use_sequence_length=True)]


@importer("RoiAlign")
def _roi_align(b, node, attrs):
    text = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    if text.get("mode", "avg") != "avg":
        raise Unsupported(f"mode={text['mode']!r}")
    transform = text.get("coordinate_transformation_mode",
                         "half_pixel" if b.opset >= 16 else "output_half_pixel")
    # cysym's regions are (R, 5): the batch index, then the corners
    batch = b.sym.Cast(b.sym.expand_dims(b.input(node.input[2]), axis=1), dtype="float32")
    regions = b.sym.Concat(batch, b.input(node.input[1]), dim=1, num_args=2)
    sampling = text.get("sampling_ratio", 0)
    return [b.op("_contrib_ROIAlign", node, b.input(node.input[0]), regions,
                 pooled_size=(text.get("output_height", 1), text.get("output_width", 1)),
                 spatial_scale=text.get("spatial_scale", 1.0),
                 sample_ratio=sampling if sampling > 0 else -1,
                 aligned=transform == "half_pixel")]


@importer("MaxRoiPool")
def _max_roi_pool(b, node, attrs):
    return [b.op("ROIPooling", node, b.input(node.input[0]), b.input(node.input[1]),
                 pooled_size=tuple(attrs["pooled_shape"]),
                 spatial_scale=attrs.get("spatial_scale", 1.0))]


@importer("GridSample")
def _grid_sample(b, node, attrs):
    """MXNet's BilinearSampler: bilinear (opset 20: linear) sampling of 4-D data with corners
    aligned and zeros outside; the grid (N, H, W, 2) moved to cysym's (N, 2, H, W)."""
    text = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    mode, padding = text.get("mode", "bilinear"), text.get("padding_mode", "zeros")
    if mode not in ("bilinear", "linear") or padding != "zeros" or not text.get("align_corners", 0):
        raise Unsupported(f"mode={mode!r}, padding_mode={padding!r}, align_corners="
                          f"{text.get('align_corners', 0)} (cysym samples bilinearly with "
                          f"corners aligned and zeros outside)")
    if _rank(b, node.input[0]) != 4:
        raise Unsupported("data that is not (N, C, H, W)")
    grid = b.sym.transpose(b.input(node.input[1]), axes=(0, 3, 1, 2))
    return [b.op("BilinearSampler", node, b.input(node.input[0]), grid)]


# ---------------------------------------------------------------------------------------------
# random generators (their seed attribute has no cysym form: cysym draws from mx.random's state)

@importer("RandomUniform", "RandomNormal")
def _random(b, node, attrs):
    dtype = _dtype_name(b, attrs.get("dtype", 1))
    shape = tuple(attrs["shape"])
    if node.op_type == "RandomUniform":
        return [b.op("_random_uniform", node, low=attrs.get("low", 0.0), high=attrs.get("high", 1.0),
                     shape=shape, dtype=dtype)]
    return [b.op("_random_normal", node, loc=attrs.get("mean", 0.0), scale=attrs.get("scale", 1.0),
                 shape=shape, dtype=dtype)]


@importer("RandomUniformLike", "RandomNormalLike")
def _random_like(b, node, attrs):
    like = b.input(node.input[0])
    if node.op_type == "RandomUniformLike":
        draws = b.sym._random_uniform_like(like, low=attrs.get("low", 0.0),
                                           high=attrs.get("high", 1.0))
    else:
        draws = b.sym._random_normal_like(like, loc=attrs.get("mean", 0.0),
                                          scale=attrs.get("scale", 1.0))
    if "dtype" not in attrs:
        return [b.op("identity", node, draws)]
    return [b.op("Cast", node, draws, dtype=_dtype_name(b, attrs["dtype"]))]


@importer("Multinomial")
def _multinomial(b, node, attrs):
    """Multinomial draws from the rows of unnormalized log-probabilities."""
    probabilities = b.sym.softmax(b.input(node.input[0]), axis=-1)
    draws = b.sym._sample_multinomial(probabilities, shape=(attrs.get("sample_size", 1),))
    return [b.op("Cast", node, draws, dtype=_dtype_name(b, attrs.get("dtype", 6)))]
