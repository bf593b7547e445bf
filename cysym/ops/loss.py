"""Loss heads: SoftmaxOutput, the regression outputs, MakeLoss; and BlockGrad."""
from ..registry import OpDef, Param, register
from .common import GRAD_SCALE, prod, same_shape


def _softmax_output_shape(ctx, ins, outs):
    data = ins[0] if ins[0] is not None else outs[0]
    label = ins[1]
    if data is not None:
        if ctx.params["multi_output"]:
            candidates = [(data[0],) + tuple(data[2:]), (data[0], prod(data[2:]))]
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
    loss=True,
    doc="Softmax with cross-entropy gradient: forward is softmax(data); backward ignores the head "
        "gradient and gives grad_scale * (softmax - onehot(label)) / norm.",
))


def _regression_shape(ctx, ins, outs):
    data = ins[0] if ins[0] is not None else outs[0]
    label = ins[1]
    if data is not None and (label is None or prod(label) != prod(data)):
        label = data
    return [data, label], [data]


for _name, _doc in (
        ("LinearRegressionOutput", "identity forward; gradient grad_scale * (out - label) / num_output"),
        ("LogisticRegressionOutput", "sigmoid forward; gradient grad_scale * (out - label) / num_output"),
        ("MAERegressionOutput", "identity forward; gradient grad_scale * sign(out - label) / num_output")):
    register(OpDef(
        _name,
        params=[GRAD_SCALE],
        inputs=("data", "label"),
        infer_shape=_regression_shape,
        no_grad=("label",),
        loss=True,
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
    doc="Makes its input a loss: forward is the identity, the gradient is grad_scale (normalized).",
))

register(OpDef(
    "BlockGrad",
    aliases=("stop_gradient",),
    infer_shape=same_shape,
    inplace=[(0, 0)],
    doc="Identity forward; stops the gradient from flowing back through it.",
))
