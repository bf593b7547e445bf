"""Loss heads: SoftmaxOutput, the regression outputs, MakeLoss, SVMOutput; softmax_cross_entropy,
IdentityAttachKLSparseReg and BlockGrad."""
import numpy as np

from ..registry import OpDef, Param, get_op, register
from ..shapes import merge_shapes, partial_shape_rule, size_of
from .common import GRAD_SCALE, kernels, prod, same_shape


def _softmax_layout(params, shape):
    """(outer, n, inner) of SoftmaxOutput's softmax axis, as MXNet lays it out."""
    if params["multi_output"]:
        return shape[0], shape[1], prod(shape[2:])
    if params["preserve_shape"]:
        return prod(shape[:-1]), shape[-1], 1
    return shape[0], prod(shape[1:]), 1


def _softmax_output_kernel(b):
    data = b.inputs[0]
    outer, n, inner = _softmax_layout(b.params, data.shape)
    view = (outer, n, inner)
    kernels("loss").append_softmax(b.plan, data.reshape(view), b.outputs[0].reshape(view), axis=1,
                                   req=b.req[0], label=b.label)


def _softmax_output_gradient(g):
    inputs = [g.outputs[0], g.inputs[1]]
    if g.params["out_grad"]:
        inputs.append(g.out_grads[0])
    return [g.op("_backward_SoftmaxOutput", *inputs, **g.forward_attrs()), None]


def _softmax_output_backward_kernel(b):
    prob, label = b.inputs[:2]
    head = b.inputs[2] if len(b.inputs) > 2 else None
    params = b.params
    outer, n, inner = _softmax_layout(params, prob.shape)
    scale = params["grad_scale"]
    if params["multi_output"] and params["normalization"] != "valid" and label.shape != prob.shape:
        scale /= inner   # MXNet's multi_output gradient is also divided by the positions per sample
    kernels("loss").append_softmax_output_backward(
        b.plan, prob, label, b.outputs[0], head, outer=outer, n=n, inner=inner, grad_scale=scale,
        ignore_label=params["ignore_label"], use_ignore=params["use_ignore"],
        normalization=params["normalization"], smooth_alpha=params["smooth_alpha"], req=b.req[0],
        label=b.label)


@partial_shape_rule
def _softmax_output_shape(ctx, ins, outs):
    """data -> data's shape; label (N,), (*data.shape[:-1]) with preserve_shape, (N,
    *data.shape[2:]) or (N, prod(data.shape[2:])) with multi_output, or data's own shape
    (probabilities)."""
    try:
        data = merge_shapes(ins[0], outs[0])
    except ValueError:
        data = ins[0]      # inference reports the conflict on the output
    label = ins[1]
    if data is not None:
        if ctx.params["multi_output"]:
            candidates = [(data[0],) + tuple(data[2:]), (data[0], size_of(data[2:]))]
        elif ctx.params["preserve_shape"]:
            candidates = [tuple(data[:-1])]
        else:
            candidates = [(data[0],)]
        # MXNet also accepts a label with the data's own shape (probability labels)
        candidates.append(tuple(data))
        label = label if label in candidates else candidates[0]
    return [data, label], [data]


register(OpDef(
    "SoftmaxOutput",
    aliases=("Softmax",),
    params=[
        GRAD_SCALE,
        Param("ignore_label", "float", -1.0, "The instances whose labels == ignore_label are ignored "
                                               "when use_ignore is true."),
        Param("multi_output", "bool", False, "Softmax over axis 1 of (n, k, x1, ...), one label per position."),
        Param("use_ignore", "bool", False, "Ignore instances whose label is ignore_label."),
        Param("preserve_shape", "bool", False, "Softmax over the last axis, keeping the shape."),
        Param("normalization", "str", "null", "How the gradient is normalized: null (not), batch "
                                              "(by batch size), valid (by the number of labels not ignored).",
              choices=("null", "batch", "valid")),
        Param("out_grad", "bool", False, "Multiply the gradient by the head gradient."),
        Param("smooth_alpha", "float", 0.0, "Label smoothing: alpha taken from the true class and "
                                            "spread over the others."),
    ],
    inputs=("data", "label"),
    infer_shape=_softmax_output_shape,
    no_grad=("label",),
    loss=lambda params: not params["out_grad"],
    inplace=[(0, 0)],
    kernel=_softmax_output_kernel,
    gradient=_softmax_output_gradient,
    doc="Softmax with cross-entropy gradient: forward is softmax(data); backward ignores the head "
        "gradient and gives grad_scale * (softmax - onehot(label)) / norm.",
))


register(OpDef(
    "_backward_SoftmaxOutput",
    params=list(get_op("SoftmaxOutput").params.values()),
    inputs=lambda params: ["output", "label"] + (["out_grad"] if params["out_grad"] else []),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[0]]),
    inplace=[(0, 0)],
    kernel=_softmax_output_backward_kernel,
    hidden=True,
    doc="grad_scale * (softmax - onehot(label)) / norm, from the forward output.",
))


def _regression_shape(ctx, ins, outs):
    """data -> data's shape; label of data's shape, or of any shape with data's size and batch axis,
    e.g. (N,) for (N, 1)."""
    data = ins[0] if ins[0] is not None else outs[0]
    label = ins[1]
    # MXNet accepts any label with the data's size and batch axis, e.g. (n,) for data (n, 1)
    if data is not None and (label is None or prod(label) != prod(data) or label[:1] != data[:1]):
        label = data
    return [data, label], [data]


def _map_kernel(forward_map):
    """A forward that is one unary map of the input (sigmoid for Logistic, else a copy)."""
    def kernel(b):
        kernels("elemwise").append_unary(b.plan, forward_map, b.inputs[0], b.outputs[0], b.req[0], b.label)
    return kernel


def _regression_gradient(kind):
    def gradient(g):
        return [g.op("_backward_RegressionOutput", g.outputs[0], g.inputs[1], kind=kind,
                     grad_scale=g.params["grad_scale"]), None]
    return gradient


def _regression_backward_kernel(b):
    out, label = b.inputs
    kernels("loss").append_regression_backward(b.plan, b.params["kind"], out, label, b.outputs[0],
                                               b.params["grad_scale"], b.req[0], b.label)


register(OpDef(
    "_backward_RegressionOutput",
    params=[Param("kind", "str", doc="linear, logistic or mae.", choices=("linear", "logistic", "mae")),
            GRAD_SCALE],
    inputs=("output", "label"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[0]]),
    inplace=[(0, 0)],
    kernel=_regression_backward_kernel,
    hidden=True,
    doc="grad_scale * (out - label) / num_output (sign of it for mae).",
))

for _name, _kind, _forward, _doc in (
        ("LinearRegressionOutput", "linear", "copy",
         "identity forward; gradient grad_scale * (out - label) / num_output"),
        ("LogisticRegressionOutput", "logistic", "sigmoid",
         "sigmoid forward; gradient grad_scale * (out - label) / num_output"),
        ("MAERegressionOutput", "mae", "copy",
         "identity forward; gradient grad_scale * sign(out - label) / num_output")):
    register(OpDef(
        _name,
        params=[GRAD_SCALE],
        inputs=("data", "label"),
        infer_shape=_regression_shape,
        no_grad=("label",),
        loss=True,
        inplace=[(0, 0)],
        kernel=_map_kernel(_forward),
        gradient=_regression_gradient(_kind),
        doc=f"Regression head: {_doc}, where num_output is the number of outputs per sample.",
    ))

register(OpDef(
    "MakeLoss",
    aliases=("make_loss",),
    params=[
        GRAD_SCALE,
        Param("valid_thresh", "float", 0.0, "Entries of data above this count as valid (normalization='valid')."),
        Param("normalization", "str", "null", "null, batch (divide by batch size) or valid.",
              choices=("null", "batch", "valid")),
    ],
    infer_shape=same_shape,
    loss=True,
    inplace=[(0, 0)],
    kernel=_map_kernel("copy"),
    gradient=lambda g: [g.op("_backward_MakeLoss", g.inputs[0], **g.forward_attrs())],
    doc="Makes its input a loss: forward is the identity, the gradient is grad_scale (normalized).",
))

def _make_loss_backward_kernel(b):
    kernels("loss").append_make_loss_backward(b.plan, b.inputs[0], b.outputs[0], b.params["grad_scale"],
                                              b.params["normalization"], b.params["valid_thresh"],
                                              b.req[0], b.label)


register(OpDef(
    "_backward_MakeLoss",
    params=list(get_op("MakeLoss").params.values()),
    infer_shape=same_shape,
    kernel=_make_loss_backward_kernel,
    hidden=True,
    doc="The constant gradient of MakeLoss: grad_scale / norm.",
))

register(OpDef(
    "BlockGrad",
    aliases=("stop_gradient",),
    infer_shape=same_shape,
    inplace=[(0, 0)],
    kernel=_map_kernel("copy"),
    gradient=lambda g: [None],
    doc="Identity forward; stops the gradient from flowing back through it.",
))


# ---------------------------------------------------------------------------------------------
# SVMOutput, softmax_cross_entropy, IdentityAttachKLSparseReg

def _float32(value):
    """A float parameter as MXNet holds it (its parameter structs store float32)."""
    return float(np.float32(value))


def _svm_output_shape(ctx, ins, outs):
    """data (..., classes) -> data's shape; label (*data.shape[:-1])."""
    data = ins[0] if ins[0] is not None else outs[0]
    if data is None:
        return ins, outs
    if len(data) < 1:
        raise ctx.error(f"data {data} has no class axis")
    return [data, tuple(data[:-1])], [data]


_SVM_PARAMS = [
    Param("margin", "float", 1.0, "The loss function penalizes outputs that lie outside this "
                                  "margin. Default margin is 1."),
    Param("regularization_coefficient", "float", 1.0, "Regularization parameter for the SVM. "
          "This balances the tradeoff between coefficient size and error."),
    Param("use_linear", "bool", False, "Whether to use L1-SVM objective. L2-SVM objective is "
                                       "used by default."),
]

register(OpDef(
    "SVMOutput",
    params=_SVM_PARAMS,
    inputs=("data", "label"),
    infer_shape=_svm_output_shape,
    no_grad=("label",),
    loss=True,
    inplace=[(0, 0)],
    kernel=_map_kernel("copy"),
    gradient=lambda g: [g.op("_backward_SVMOutput", g.outputs[0], g.inputs[1], **g.forward_attrs()),
                        None],
    doc="Computes support vector machine based transformation of the input: the identity "
        "forward; the gradient (which ignores the head gradient) is the L2-SVM one, "
        "-2 c (margin - x) for the label's class where x < margin and 2 c (margin + x) for the "
        "others where x > -margin (c = regularization_coefficient), or with use_linear the "
        "L1-SVM one, -c and c under the same conditions.  label holds one class per row of "
        "the last axis: data (..., K) takes label (...).",
))

register(OpDef(
    "_backward_SVMOutput",
    params=_SVM_PARAMS,
    inputs=("output", "label"),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[0]]),
    inplace=[(0, 0)],
    kernel=lambda b: kernels("loss").append_svm_output_backward(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], margin=_float32(b.params["margin"]),
        regularization_coefficient=_float32(b.params["regularization_coefficient"]),
        use_linear=b.params["use_linear"], req=b.req[0], label=b.label),
    hidden=True,
    doc="The SVM gradient from the forward output and the labels.",
))


def _cross_entropy_shape(ctx, ins, outs):
    """data (N, K), label (N,) -> (1,), the summed loss."""
    data, label = ins
    if data is None:
        return ins, outs
    if len(data) != 2:
        raise ctx.error(f"SoftmaxCrossEntropy only accept 2D data, got {data}")
    if label is not None and label != (data[0],):
        raise ctx.error(f"label {label} does not fit data {data}: expected ({data[0]},)")
    return [data, (data[0],)], [(1,)]


register(OpDef(
    "softmax_cross_entropy",
    inputs=("data", "label"),
    infer_shape=_cross_entropy_shape,
    no_grad=("label",),
    kernel=lambda b: kernels("loss").append_softmax_cross_entropy(
        b.plan, b.inputs[0], b.inputs[1], b.outputs[0], req=b.req[0], label=b.label),
    gradient=lambda g: [None if g.out_grads[0] is None else g.op(
        "_backward_softmax_cross_entropy", g.out_grads[0], *g.inputs), None],
    doc="Calculate cross entropy of softmax output and one-hot label: data (N, K) and class "
        "labels (N,) give the sum over rows of -log(max(softmax(data)[row, label], 1e-8)), "
        "shape (1,).  A label outside [0, K) is an error at run time.",
))

register(OpDef(
    "_backward_softmax_cross_entropy",
    inputs=("out_grad", "data", "label"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    kernel=lambda b: kernels("loss").append_softmax_cross_entropy_backward(
        b.plan, *b.inputs, b.outputs[0], req=b.req[0], label=b.label),
    hidden=True,
    doc="out_grad * (softmax(data) - onehot(label)).",
))


def _kl_sparse_reg_shape(ctx, ins, outs):
    """data (N, F) -> the same shape; the moving average (auxiliary) (F,)."""
    data = ins[0] if ins[0] is not None else outs[0]
    if data is None:
        return ins, outs
    if len(data) < 2 or prod(data[1:]) != data[1]:
        raise ctx.error(f"data should be (batch, features), got {data}")
    return [data, (data[1],)], [data]


_KL_PARAMS = [
    Param("sparseness_target", "float", 0.1, "The sparseness target", low=0.0, high=1.0),
    Param("penalty", "float", 0.001, "The tradeoff parameter for the sparseness penalty"),
    Param("momentum", "float", 0.9, "The momentum for running average", low=0.0, high=1.0),
]

register(OpDef(
    "IdentityAttachKLSparseReg",
    params=_KL_PARAMS,
    aux=("moving_avg",),
    infer_shape=_kl_sparse_reg_shape,
    inplace=[(0, 0)],
    kernel=_map_kernel("copy"),
    # MXNet 1.x moves the average in the backward pass, which also reads it
    gradient=lambda g: [None if g.out_grads[0] is None else g.op(
        "_backward_IdentityAttachKLSparseReg", g.out_grads[0], g.inputs[0], g.inputs[1],
        **g.forward_attrs())],
    doc="Apply a sparse regularization to the output of a sigmoid activation function: the "
        "identity forward; backward first moves the auxiliary state moving_avg (one value "
        "per feature) toward the batch mean, momentum * moving_avg + (1 - momentum) * mean, "
        "then adds penalty * (-sparseness_target / moving_avg + (1 - sparseness_target) / "
        "(1 - moving_avg)) to the gradient (the KL divergence's).  data is (batch, features).",
))

register(OpDef(
    "_backward_IdentityAttachKLSparseReg",
    params=_KL_PARAMS,
    inputs=("out_grad", "data", "moving_avg"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1]]),
    inplace=[(0, 0)],
    kernel=lambda b: kernels("loss").append_kl_sparse_reg_backward(
        b.plan, *b.inputs, b.outputs[0], penalty=_float32(b.params["penalty"]),
        sparseness_target=_float32(b.params["sparseness_target"]),
        momentum=_float32(b.params["momentum"]),
        req=b.req[0], label=b.label),
    hidden=True,
    doc="Moves moving_avg (in place) and adds the sparseness penalty's gradient.",
))
