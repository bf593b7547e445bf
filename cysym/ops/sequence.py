"""Variable-length sequence operators: SequenceMask, SequenceLast, SequenceReverse.

Data holds steps on `axis` (0: (steps, batch, ...), 1: (batch, steps, ...)).  The optional
`sequence_length` input exists only with use_sequence_length=True, as MXNet lists it; its
values are float lengths (truncated toward zero; cysym clips them into [0, steps] where MXNet
would read outside the array) and receive no gradient.  Kernels: cysym._ops.sequence.
"""
from ..registry import OpDef, Param, register
from .common import kernels


def _inputs(params):
    return ["data", "sequence_length"] if params["use_sequence_length"] else ["data"]


def _axis_param(doc="The sequence axis. Only values of 0 and 1 are currently supported."):
    return Param("axis", "int", 0, doc)


USE_SEQUENCE_LENGTH = Param("use_sequence_length", "bool", False,
                            "If set to true, this layer takes in an extra input parameter "
                            "`sequence_length` to specify variable length sequence")


def _check(ctx, data, axes=(0, 1)):
    """(sequences, steps) of data, with MXNet's checks of its rank and of the axis."""
    axis = ctx.params["axis"]
    if axis not in axes:
        raise ctx.error(f"axis={axis}: the sequence axis must be "
                        f"{' or '.join(map(str, axes))}")
    if len(data) < 2:
        raise ctx.error(f"input 'data' must have rank 2 or more, got shape {tuple(data)}")
    return (data[1], data[0]) if axis == 0 else (data[0], data[1])


def _length_shape(ctx, ins, sequences):
    """ins with sequence_length's shape (sequences,) filled in or checked."""
    if not ctx.params["use_sequence_length"]:
        return list(ins)
    if ins[1] is not None and tuple(ins[1]) != (sequences,):
        raise ctx.error(f"input 'sequence_length' has shape {tuple(ins[1])}; data "
                        f"{tuple(ins[0])} holds {sequences} sequences on axis "
                        f"{1 - ctx.params['axis']}")
    return [ins[0], (sequences,)] + list(ins[2:])


def _sequence_type(ctx, ins, outs):
    """MXNet's rule: the output has data's dtype; an unknown length dtype becomes it too."""
    known = ins[0] if ins[0] is not None else outs[0]
    rest = [known if t is None else t for t in ins[1:]]
    return [known] + rest, [known]


def _lengths(b, position=1):
    return b.inputs[position] if b.params["use_sequence_length"] else None


# ---------------------------------------------------------------------------------------------
# SequenceMask

def _same_data_shape(axes):
    def rule(ctx, ins, outs):
        """data (T, N, ...) (or (N, T, ...) with axis=1, SequenceMask) -> data's shape;
        sequence_length (N,) with use_sequence_length."""
        data = ins[0] if ins[0] is not None else outs[0]
        if data is None:
            return ins, outs
        sequences, _ = _check(ctx, data, axes)
        return _length_shape(ctx, [data] + list(ins[1:]), sequences), [data]
    return rule


def _mask_gradient(g):
    if not g.params["use_sequence_length"]:
        return [g.out_grads[0]]
    return [g.op("_backward_SequenceMask", g.out_grads[0], g.inputs[1], axis=g.params["axis"]),
            None]


def _mask_kernel(value):
    def kernel(b):
        kernels("sequence").append_sequence_mask(
            b.plan, b.inputs[0], _lengths(b), b.outputs[0], b.params["axis"], value(b),
            b.req[0], b.label)
    return kernel


register(OpDef(
    "SequenceMask",
    params=[USE_SEQUENCE_LENGTH,
            Param("value", "float", 0.0, "The value to be used as a mask."),
            _axis_param()],
    inputs=_inputs,
    infer_shape=_same_data_shape((0, 1)),
    infer_type=_sequence_type,
    inplace=[(0, 0)],
    no_grad=("sequence_length",),
    kernel=_mask_kernel(lambda b: b.params["value"]),
    gradient=_mask_gradient,
    doc="Sets every step at or after its sequence's length to `value`; without "
        "use_sequence_length the data passes unchanged.\n\n"
        "Example: x of shape (3, 2) (steps, batch), sequence_length = [1, 3] -> "
        "SequenceMask(x, sequence_length, use_sequence_length=True) = "
        "[[x00, x01], [0, x11], [0, x21]].",
))

register(OpDef(
    "_backward_SequenceMask",
    params=[_axis_param(), Param("use_sequence_length", "bool", True)],
    inputs=("out_grad", "sequence_length"),
    outputs=("data_grad",),
    infer_shape=_same_data_shape((0, 1)),
    infer_type=_sequence_type,
    inplace=[(0, 0)],
    kernel=_mask_kernel(lambda b: 0.0),
    hidden=True,
    doc="data_grad = out_grad with the masked steps set to 0.",
))


# ---------------------------------------------------------------------------------------------
# SequenceLast

def _last_shape(ctx, ins, outs):
    """data (T, N, *rest) (or (N, T, *rest) with axis=1) -> (N, *rest); sequence_length (N,) with
    use_sequence_length."""
    data = ins[0]
    if data is None:
        return ins, outs
    sequences, _ = _check(ctx, data)
    return _length_shape(ctx, ins, sequences), [(sequences,) + tuple(data[2:])]


def _last_gradient(g):
    lengths = g.inputs[1:2] if g.params["use_sequence_length"] else []
    grad = g.op("_backward_SequenceLast", g.out_grads[0], g.inputs[0], *lengths,
                **g.forward_attrs())
    return [grad] + [None] * len(lengths)


register(OpDef(
    "SequenceLast",
    params=[USE_SEQUENCE_LENGTH, _axis_param()],
    inputs=_inputs,
    infer_shape=_last_shape,
    infer_type=_sequence_type,
    no_grad=("sequence_length",),
    kernel=lambda b: kernels("sequence").append_sequence_last(
        b.plan, b.inputs[0], _lengths(b), b.outputs[0], b.params["axis"], b.req[0], b.label),
    gradient=_last_gradient,
    doc="Takes the last step of every sequence (step sequence_length - 1, or the last one "
        "without use_sequence_length): (steps, batch, ...) -> (batch, ...).  A length of 0 "
        "takes step 0.\n\n"
        "Example: x of shape (3, 2, 4), sequence_length = [1, 3] -> out[0] = x[0, 0], "
        "out[1] = x[2, 1].",
))


def _last_backward_shape(ctx, ins, outs):
    data = ins[1] if ins[1] is not None else outs[0]
    if data is None:
        return ins, outs
    sequences, _ = _check(ctx, data)
    lengths = _length_shape(ctx, [data] + list(ins[2:]), sequences)[1:]
    return [(sequences,) + tuple(data[2:]), data] + lengths, [data]


def _last_backward_type(ctx, ins, outs):
    known = next((t for t in (ins[0], ins[1], outs[0]) if t is not None), None)
    return [known, known] + [known if t is None else t for t in ins[2:]], [known]


register(OpDef(
    "_backward_SequenceLast",
    params=[USE_SEQUENCE_LENGTH, _axis_param()],
    inputs=lambda params: ["out_grad", "data"] + _inputs(params)[1:],
    outputs=("data_grad",),
    shape_only=("data",),
    infer_shape=_last_backward_shape,
    infer_type=_last_backward_type,
    kernel=lambda b: kernels("sequence").append_sequence_last_backward(
        b.plan, b.inputs[0], _lengths(b, 2), b.outputs[0], b.params["axis"], b.req[0], b.label),
    hidden=True,
    doc="data_grad = zeros with out_grad at the step SequenceLast read of each sequence.",
))


# ---------------------------------------------------------------------------------------------
# SequenceReverse: its own adjoint

def _reverse_gradient(g):
    lengths = g.inputs[1:2] if g.params["use_sequence_length"] else []
    grad = g.op("SequenceReverse", g.out_grads[0], *lengths, **g.forward_attrs())
    return [grad] + [None] * len(lengths)


register(OpDef(
    "SequenceReverse",
    params=[USE_SEQUENCE_LENGTH, _axis_param("The sequence axis. Only 0 is currently supported.")],
    inputs=_inputs,
    infer_shape=_same_data_shape((0,)),
    infer_type=_sequence_type,
    no_grad=("sequence_length",),
    kernel=lambda b: kernels("sequence").append_sequence_reverse(
        b.plan, b.inputs[0], _lengths(b), b.outputs[0], b.req[0], b.label),
    gradient=_reverse_gradient,
    doc="Reverses the first sequence_length steps of every sequence (all steps without "
        "use_sequence_length); later steps stay in place.\n\n"
        "Example: x = [[1, 4], [2, 5], [3, 6]] (steps, batch), sequence_length = [2, 3] -> "
        "[[2, 6], [1, 5], [3, 4]].",
))
