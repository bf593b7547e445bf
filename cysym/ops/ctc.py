"""The CTC loss (Connectionist Temporal Classification), MXNet's CTCLoss and its aliases.

The forward computes, for each sample, the cost and its gradient with respect to the
activations (a hidden second output, as in MXNet); the backward scales that gradient by the
head gradient of each sample.  Kernel: cysym/_ops/ctc.pyx.
"""
import numpy as np

from ..registry import OpDef, Param, register
from .common import kernels

_LENGTH_INPUTS = ("data_lengths", "label_lengths")


def _ctc_inputs(params):
    return ["data", "label"] + [name for name in _LENGTH_INPUTS if params[f"use_{name}"]]


def _ctc_shape(ctx, ins, outs):
    """data (T, N, alphabet), label (N, L) with L <= T, data_lengths/label_lengths (N,) when used ->
    loss (N,) and a hidden gradient of data's shape."""
    data, label = ins[:2]
    if data is None or label is None:
        return ins, outs
    if len(data) != 3:
        raise ctx.error(f"The number of dimensions of data array must be 3, got data {data}")
    if len(label) != 2:
        raise ctx.error(f"The number of dimensions of labels array must be 2, got label {label}")
    if data[1] != label[0]:
        raise ctx.error(f"The batch size for the labels and data arrays must be the same: data "
                        f"{data}, label {label}")
    if data[0] < label[1]:
        raise ctx.error(f"The max number of labels cannot exceed the maximum sequence length of "
                        f"the data: data {data}, label {label}")
    lengths = ins[2:]
    for name, shape in zip([n for n in _LENGTH_INPUTS if ctx.params[f"use_{n}"]], lengths):
        if shape is not None and shape != (data[1],):
            raise ctx.error(f"{name} {shape} must be a vector of the batch size ({data[1]},)")
    return ins[:2] + [(data[1],)] * len(lengths), [(data[1],), data]


def _ctc_kernel(b):
    params = b.params
    lengths = dict(zip([n for n in _LENGTH_INPUTS if params[f"use_{n}"]], b.inputs[2:]))
    kernels("ctc").append_ctc_loss(
        b.plan, b.inputs[0], b.inputs[1], lengths.get("data_lengths"), lengths.get("label_lengths"),
        b.outputs[0], b.outputs[1], blank_last=params["blank_label"] == "last",
        with_grad=b.req[1] != "null", workspace=b.workspace, req=b.req[0], label=b.label)


def _ctc_workspace(params, in_shapes, out_shapes, dtype):
    (steps, _, classes), (_, max_labels) = in_shapes[:2]
    return np.dtype(dtype).itemsize * kernels("ctc").ctc_workspace_elements(steps, classes,
                                                                            max_labels)


def _ctc_gradient(g):
    # the gradient computed by the forward, each sample's scaled by its head gradient
    no_grads = [None] * (len(g.inputs) - 1)
    if g.out_grads[0] is None:
        return [None] + no_grads
    scale = g.op("Reshape", g.out_grads[0], shape=(1, -1, 1))
    return [g.op("broadcast_mul", g.outputs[1], scale)] + no_grads


register(OpDef(
    "CTCLoss",
    aliases=("ctc_loss", "_contrib_CTCLoss", "_contrib_ctc_loss"),
    params=[
        Param("use_data_lengths", "bool", False, "Whether the data lenghts are decided by "
              "`data_lengths`. If false, the lengths are equal to the max sequence length."),
        Param("use_label_lengths", "bool", False, "Whether the label lenghts are decided by "
              "`label_lengths`, or derived from `padding_mask`. If false, the lengths are "
              "derived from the first occurrence of the value of `padding_mask`. The value of "
              "`padding_mask` is ``0`` when first CTC label is reserved for blank, and ``-1`` "
              "when last label is reserved for blank. See `blank_label`."),
        Param("blank_label", "str", "first", "Set the label that is reserved for blank label. "
              "If \"first\", 0-th label is reserved, and label values for tokens in the "
              "vocabulary are between ``1`` and ``alphabet_size-1``, and the padding mask is "
              "``0``. If \"last\", last label value ``alphabet_size-1`` is reserved for blank "
              "label instead, and label values for tokens in the vocabulary are between ``0`` "
              "and ``alphabet_size-2``, and the padding mask is ``-1``.",
              choices=("first", "last")),
    ],
    inputs=_ctc_inputs,
    outputs=("output0", "output1"),
    num_visible_outputs=lambda params: 1,
    infer_shape=_ctc_shape,
    no_grad=("label",) + _LENGTH_INPUTS,
    workspace=_ctc_workspace,
    kernel=_ctc_kernel,
    gradient=_ctc_gradient,
    doc="Connectionist Temporal Classification Loss: data (sequence_length, batch_size, "
        "alphabet_size) holds activations (softmax is applied inside), label (batch_size, "
        "label_sequence_length) class indices padded with 0 (blank_label='first') or -1 "
        "('last'), unless label_lengths gives the lengths; the output is one loss per sample, "
        "-log p(label | data).  A sample whose labels cannot fit its length (labels plus "
        "repeated neighbours > length) costs 0 and gets a zero gradient; a label outside "
        "[0, alphabet_size) is an error at run time.",
))
