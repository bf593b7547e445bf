"""Odds and ends of MXNet's operator library: _identity_with_attr_like_rhs, diag,
_slice_assign(_scalar) (_crop_assign), _split_v2, khatri_rao, _ravel_multi_index /
_unravel_index, _histogram, all_finite / multi_all_finite, amp_cast / amp_multicast, and the
legacy NDArray functions _onehot_encode and fill_element_0index.

The data-movement ones run the index family's strided gather and scatter
(cysym._ops.index) or a strided window write (cysym._ops.misc); the others have small loops
in cysym._ops.misc.

amp_cast and amp_multicast change only float32 and float16 (and MXNet's bfloat16, which has no
NumPy dtype) inputs, as MXNet's: amp_cast converts them to the requested dtype and leaves
float64 and integer arrays as they are; amp_multicast casts them to the widest of them (the
narrowest with cast_narrow).  float16 is computed in float32 (cysym/float16.py).
"""
import numpy as np

from ..registry import ARRAY_DTYPES, NUMBER_DTYPES, OpDef, Param, register
from .common import kernels, normalize_axis, prod, same_shape
from .index import _BindRules, _c_strides, _numpy_dtype, _slice_range, _SLICE_PARAMS


def _zero_gradient(g):
    """No gradient flows back (MXNet registers none, or zeros)."""
    return [None] * len(g.inputs)


def _as_list(entries):
    return entries if isinstance(entries, list) else [entries]


# ---------------------------------------------------------------------------------------------
# _identity_with_attr_like_rhs: lhs, with rhs's attributes (shape and type must agree)

register(OpDef(
    "_identity_with_attr_like_rhs",
    dtypes=NUMBER_DTYPES,
    inputs=("lhs", "rhs"),
    infer_shape=same_shape,
    inplace=[(0, 0)],
    shape_only=("rhs",),
    kernel=lambda b: kernels("shape").append_copy(b.plan, b.inputs[0], b.outputs[0], b.req[0],
                                                  b.label),
    gradient=lambda g: [g.out_grads[0], None],
    doc="out = lhs; rhs gives the shape and type the output must have (its values are not "
        "read, and it receives no gradient).",
))


# ---------------------------------------------------------------------------------------------
# diag: a strided view of the k-th diagonal (N-D input), or a matrix built around one (1-D)

def _diag_walk(ctx, shape):
    """(output shape, offset, strides) of diag on an input of `shape` with ndim >= 2: the other
    axes in order, then the diagonal."""
    k = ctx.params["k"]
    first = normalize_axis(ctx, ctx.params["axis1"], len(shape))
    second = normalize_axis(ctx, ctx.params["axis2"], len(shape))
    if first == second:
        raise ctx.error(f"axis1 and axis2 are the same axis ({first}) of input shape {tuple(shape)}")
    length = min(shape[first], shape[second] - k) if k >= 0 else min(shape[first] + k, shape[second])
    if length <= 0:
        raise ctx.error(f"k={k} selects no diagonal of axes ({first}, {second}) in input shape "
                        f"{tuple(shape)}")
    strides = _c_strides(shape)
    others = [a for a in range(len(shape)) if a not in (first, second)]
    offset = k * strides[second] if k >= 0 else -k * strides[first]
    return (tuple(shape[a] for a in others) + (length,), offset,
            [strides[a] for a in others] + [strides[first] + strides[second]])


def _diag_matrix_walk(ctx, length):
    """(matrix shape, offset, stride) of the k-th diagonal of the matrix built from a 1-D input."""
    k = ctx.params["k"]
    size = length + abs(k)
    return (size, size), (k if k >= 0 else -k * size), [size + 1]


def _diag_shape(ctx, ins, outs):
    """1-D (n,) -> (n + |k|, n + |k|); rank 2 or more -> the other axes, then the diagonal k of axes
    axis1 and axis2."""
    if ins[0] is None:
        return ins, outs
    if len(ins[0]) == 0:
        raise ctx.error("the input needs at least one dimension")
    if len(ins[0]) == 1:
        return ins, [_diag_matrix_walk(ctx, ins[0][0])[0]]
    return ins, [_diag_walk(ctx, ins[0])[0]]


def _diag_kernel(b):
    data, out = b.inputs[0], b.outputs[0]
    if data.ndim == 1:      # zeros with the input on the k-th diagonal (integers too)
        _, offset, strides = _diag_matrix_walk(_BindRules(b), data.shape[0])
        kernels("shape").append_fill(b.plan, out, 0.0, "write", b.label)
        kernels("misc").append_window_assign(b.plan, out, data.shape, offset, strides, data,
                                             label=b.label)
    else:                   # a strided view of the diagonal
        _, offset, strides = _diag_walk(_BindRules(b), data.shape)
        kernels("index").append_gather(b.plan, data, out, offset, strides, b.req[0], b.label)


register(OpDef(
    "diag",
    dtypes=NUMBER_DTYPES,
    params=[Param("k", "int", 0, "Diagonal in question. The default is 0. Use k>0 for diagonals "
                                 "above the main diagonal, and k<0 for diagonals below the main "
                                 "diagonal. If input has shape (S0 S1) k must be between -S0 and "
                                 "S1"),
            Param("axis1", "int", 0, "The first axis of the sub-arrays of interest. Ignored when "
                                     "the input is a 1-D array."),
            Param("axis2", "int", 1, "The second axis of the sub-arrays of interest. Ignored when "
                                     "the input is a 1-D array.")],
    infer_shape=_diag_shape,
    kernel=_diag_kernel,
    gradient=lambda g: [g.op("_backward_diag", g.out_grads[0], g.inputs[0], **g.forward_attrs())],
    doc="Extracts a diagonal or constructs a diagonal array.\n\n"
        "A 2-D (or N-D, on axes axis1 and axis2) input gives its k-th diagonal (last axis of the "
        "output); a 1-D input gives the square matrix with the input on its k-th diagonal.\n"
        "Example: x = [[1, 2, 3], [4, 5, 6]] -> diag(x) = [1, 5], diag(x, k=1) = [2, 6].",
))


def _backward_diag_kernel(b):
    out_grad, data_grad = b.inputs[0], b.outputs[0]
    if data_grad.ndim == 1:     # the gradient of the built matrix is its k-th diagonal
        _, offset, strides = _diag_matrix_walk(_BindRules(b), data_grad.shape[0])
        kernels("index").append_gather(b.plan, out_grad, data_grad, offset, strides, b.req[0],
                                       b.label)
    else:
        _, offset, strides = _diag_walk(_BindRules(b), data_grad.shape)
        kernels("index").append_scatter_add(b.plan, out_grad, data_grad, offset, strides,
                                            b.req[0], b.label)


register(OpDef(
    "_backward_diag",
    dtypes=NUMBER_DTYPES,
    params=[Param("k", "int", 0), Param("axis1", "int", 0), Param("axis2", "int", 1)],
    inputs=("out_grad", "data"),
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
    shape_only=("data",),
    kernel=_backward_diag_kernel,
    hidden=True,
    doc="data_grad = the diagonal of out_grad (1-D data) or zeros with out_grad on the diagonal.",
))


# ---------------------------------------------------------------------------------------------
# _slice_assign, _slice_assign_scalar: the input with a slice replaced

def _slice_assign_shape(ctx, ins, outs):
    """lhs, rhs -> lhs's shape; rhs has the shape of lhs[begin:end:step] (_slice_assign_scalar takes
    no rhs)."""
    lhs = ins[0] if ins[0] is not None else outs[0]
    if lhs is None:
        return ins, outs
    window = tuple(size for _, _, size in _slice_range(ctx, lhs))
    if len(ins) > 1 and ins[1] is not None and tuple(ins[1]) != window:
        raise ctx.error(f"input 'rhs' has shape {tuple(ins[1])}, but the slice begin="
                        f"{tuple(ctx.params['begin'])}, end={tuple(ctx.params['end'])}, step="
                        f"{tuple(ctx.params['step'])} of lhs {tuple(lhs)} has shape {window}")
    return [tuple(lhs)] + ([window] if len(ins) > 1 else []), [tuple(lhs)]


def _slice_assign_kernel(b):
    base, out = b.inputs[0], b.outputs[0]
    ranges = _slice_range(_BindRules(b), base.shape)
    strides = _c_strides(base.shape)
    offset = sum(first * stride for (first, _, _), stride in zip(ranges, strides))
    walk = [step * stride for (_, step, _), stride in zip(ranges, strides)]
    kernels("shape").append_copy(b.plan, base, out, "write", b.label)
    kernels("misc").append_window_assign(
        b.plan, out, [size for _, _, size in ranges], offset, walk,
        b.inputs[1] if len(b.inputs) > 1 else None, b.params.get("scalar", 0.0), b.label)


def _slice_params(g):
    return {k: g.forward_attrs()[k] for k in ("begin", "end", "step") if k in g.forward_attrs()}


register(OpDef(
    "_slice_assign",
    aliases=("_crop_assign",),
    params=_SLICE_PARAMS,
    inputs=("lhs", "rhs"),
    infer_shape=_slice_assign_shape,
    inplace=[(0, 0)],
    kernel=_slice_assign_kernel,
    # lhs's gradient is out_grad with the slice zeroed; rhs's is the slice of out_grad
    gradient=lambda g: [g.op("_slice_assign_scalar", g.out_grads[0], scalar=0.0, **_slice_params(g)),
                        g.op("slice", g.out_grads[0], **_slice_params(g))],
    doc="Assign the rhs to a cropped subset of lhs: out = lhs with out[begin:end:step] = rhs "
        "(slice's begin/end/step rules).\n\n"
        "Example: lhs of shape (3, 4), rhs of shape (2, 2) -> _slice_assign(lhs, rhs, "
        "begin=(0, 1), end=(2, 3)) replaces lhs[0:2, 1:3].",
))

register(OpDef(
    "_slice_assign_scalar",
    aliases=("_crop_assign_scalar",),
    params=[Param("scalar", "float", 0.0, "The scalar value for assignment.")] + _SLICE_PARAMS,
    infer_shape=_slice_assign_shape,
    inplace=[(0, 0)],
    kernel=_slice_assign_kernel,
    gradient=lambda g: [g.op("_slice_assign_scalar", g.out_grads[0], scalar=0.0,
                             **_slice_params(g))],
    doc="Assign the scalar to a cropped subset of the input: out = data with "
        "out[begin:end:step] = scalar.",
))


# ---------------------------------------------------------------------------------------------
# _split_v2: pieces of an axis starting at given indices (or equal sections)

def _split_v2_bounds(ctx, size):
    """[(begin, end)] of each piece of an axis of `size`."""
    sections, indices = ctx.params["sections"], tuple(ctx.params["indices"])
    if sections > 0:
        if size % sections:
            raise ctx.error(f"sections={sections} does not divide the axis of size {size}")
        step = size // sections
        return [(i * step, (i + 1) * step) for i in range(sections)]
    if not indices or indices[0] != 0:
        raise ctx.error(f"indices={indices} must start at 0 (the pieces cover the axis, as "
                        f"MXNet's shape rule requires), or sections must be given")
    bounds = list(indices) + [size]
    if any(not 0 <= b <= size for b in indices) or any(a > b for a, b in zip(bounds, bounds[1:])):
        raise ctx.error(f"indices={indices} must increase within the axis of size {size}")
    return list(zip(bounds, bounds[1:]))


def _split_v2_count(params):
    return params["sections"] if params["sections"] > 0 else max(len(params["indices"]), 1)


def _split_v2_pieces(ctx, shape):
    axis = normalize_axis(ctx, ctx.params["axis"], len(shape))
    pieces = []
    for begin, end in _split_v2_bounds(ctx, shape[axis]):
        if ctx.params["squeeze_axis"]:
            if end - begin != 1:
                raise ctx.error(f"squeeze_axis needs pieces of size 1 on axis {axis}; a piece "
                                f"[{begin}, {end}) of input shape {tuple(shape)} is not")
            pieces.append(tuple(shape[:axis]) + tuple(shape[axis + 1:]))
        else:
            pieces.append(tuple(shape[:axis]) + (end - begin,) + tuple(shape[axis + 1:]))
    return axis, pieces


def _split_v2_shape(ctx, ins, outs):
    """data -> one piece per section on axis (indices: the cut points; sections: equal parts);
    squeeze_axis drops axis from pieces of size 1."""
    if ins[0] is None:
        return ins, outs
    _, pieces = _split_v2_pieces(ctx, ins[0])
    return ins, pieces


def _split_v2_walks(b, shape):
    """(offset, strides) in an array of `shape` of each piece (with its own output shape)."""
    rules = _BindRules(b)
    axis = normalize_axis(rules, b.params["axis"], len(shape))
    strides = _c_strides(shape)
    walk = strides if not b.params["squeeze_axis"] else strides[:axis] + strides[axis + 1:]
    return [(begin * strides[axis], walk) for begin, _ in _split_v2_bounds(rules, shape[axis])]


def _split_v2_kernel(b):
    for (offset, strides), out, req in zip(_split_v2_walks(b, b.inputs[0].shape), b.outputs, b.req):
        kernels("index").append_gather(b.plan, b.inputs[0], out, offset, strides, req, b.label)


_SPLIT_V2_PARAMS = [
    Param("indices", "shape", doc="Indices of splits. The elements should denote the boundaries "
                                  "of at which split is performed along the axis."),
    Param("axis", "int", 1, "Axis along which to split."),
    Param("squeeze_axis", "bool", False, "If true, Removes the axis with length 1 from the shapes "
                                         "of the output arrays."),
    Param("sections", "int", 0, "Number of sections if equally splitted. Default to 0 which "
                                "means split by indices.", low=0),
]


def _split_v2_gradient(g):
    grads = [grad if grad is not None else g.op("zeros_like", out)
             for grad, out in zip(g.out_grads, g.outputs)]
    return [g.op("_backward_split_v2", *grads, g.inputs[0], **g.forward_attrs())]


register(OpDef(
    "_split_v2",
    dtypes=NUMBER_DTYPES,
    params=_SPLIT_V2_PARAMS,
    outputs=lambda p: [f"output{i}" for i in range(_split_v2_count(p))],
    infer_shape=_split_v2_shape,
    kernel=_split_v2_kernel,
    gradient=_split_v2_gradient,
    doc="Splits an array along an axis into pieces starting at `indices` (the first one "
        "usually 0), or into `sections` equal pieces.\n\n"
        "Example: x of shape (2, 6) -> _split_v2(x, indices=(0, 2, 3), axis=1) gives shapes "
        "(2, 2), (2, 1), (2, 3).",
))


def _backward_split_v2_kernel(b):
    data_grad = b.outputs[0]
    walks = _split_v2_walks(b, data_grad.shape)
    for (offset, strides), grad in zip(walks, b.inputs[:-1]):
        kernels("misc").append_window_assign(b.plan, data_grad, grad.shape, offset, strides, grad,
                                             0.0, b.label)


register(OpDef(
    "_backward_split_v2",
    params=_SPLIT_V2_PARAMS,
    inputs=lambda p: [f"output{i}_grad" for i in range(_split_v2_count(p))] + ["data"],
    outputs=("data_grad",),
    infer_shape=lambda ctx, ins, outs: (ins, [ins[-1] if ins[-1] is not None else outs[0]]),
    shape_only=("data",),
    kernel=_backward_split_v2_kernel,
    hidden=True,
    doc="data_grad = the pieces' gradients put back in place.",
))


# ---------------------------------------------------------------------------------------------
# khatri_rao

def _khatri_rao_shape(ctx, ins, outs):
    """matrices (n_i, k) -> (prod(n_i), k)."""
    if any(s is None for s in ins):
        return ins, outs
    for position, shape in enumerate(ins):
        if len(shape) != 2 or shape[1] != ins[0][1]:
            raise ctx.error(f"input 'arg{position}' has shape {tuple(shape)}; every input must be "
                            f"a matrix with {ins[0][1] if len(ins[0]) == 2 else 'the same'} "
                            f"columns")
    return ins, [(prod(s[0] for s in ins), ins[0][1])]


register(OpDef(
    "khatri_rao",
    params=[Param("num_args", "int", doc="Number of input matrices.", low=1)],
    variadic="num_args",
    infer_shape=_khatri_rao_shape,
    kernel=lambda b: kernels("misc").append_khatri_rao(b.plan, list(b.inputs), b.outputs[0],
                                                       b.label),
    gradient=_zero_gradient,
    doc="Computes the Khatri-Rao product of the input matrices: the column-wise Kronecker "
        "product, out[:, j] = kron(A_1[:, j], ..., A_n[:, j]) of shape (prod I_k, J).  No "
        "gradient flows back (MXNet registers none).\n\n"
        "Example: A = [[1, -1], [2, -3]], B = [[1, 4], [2, 5], [3, 6]] -> khatri_rao(A, B) = "
        "[[1, -4], [2, -5], [3, -6], [2, -12], [4, -15], [6, -18]].",
))


# ---------------------------------------------------------------------------------------------
# _ravel_multi_index, _unravel_index

def _ravel_target(ctx):
    shape = tuple(ctx.params["shape"] or ())
    if not shape:
        raise ctx.error("the shape parameter is empty")
    return shape


def _ravel_shape(ctx, ins, outs):
    """data (len(shape), N) -> (N,)."""
    shape = _ravel_target(ctx)
    if ins[0] is not None:
        if len(ins[0]) != 2 or ins[0][0] != len(shape):
            raise ctx.error(f"input 'data' has shape {tuple(ins[0])}; it must be ({len(shape)}, N) "
                            f"for shape={shape}")
        return ins, [(ins[0][1],)]
    if outs[0] is not None:
        return [(len(shape), outs[0][0])], outs
    return ins, outs


def _unravel_shape(ctx, ins, outs):
    """data (N,) -> (len(shape), N)."""
    shape = _ravel_target(ctx)
    if ins[0] is not None:
        if len(ins[0]) != 1:
            raise ctx.error(f"input 'data' has shape {tuple(ins[0])}; it must be 1-D")
        return ins, [(len(shape), ins[0][0])]
    if outs[0] is not None:
        return [(outs[0][1],)], outs
    return ins, outs


_RAVEL_SHAPE = Param("shape", "shape", None, "Shape of the array into which the multi-indices "
                                             "apply.", optional=True)

for _name, _unravel, _rule, _doc in [
        ("_ravel_multi_index", False, _ravel_shape,
         "Converts a batch of index arrays (a column of data per multi-index) into flat "
         "indices, as np.ravel_multi_index without range checks.\n\n"
         "Example: A = [[3, 6, 6], [4, 5, 1]] -> ravel(A, shape=(7, 6)) = [22, 41, 37]."),
        ("_unravel_index", True, _unravel_shape,
         "Converts flat indices into a batch of index arrays (a column per index), as "
         "np.unravel_index; the first axis takes what is left (no wrapping).\n\n"
         "Example: A = [22, 41, 37] -> unravel(A, shape=(7, 6)) = [[3, 6, 6], [4, 5, 1]].")]:
    register(OpDef(
        _name,
        aliases=(_name[1:],),
        dtypes=NUMBER_DTYPES,
        params=[_RAVEL_SHAPE],
        infer_shape=_rule,
        kernel=lambda b, unravel=_unravel: kernels("misc").append_ravel(
            b.plan, b.inputs[0], b.outputs[0], b.params["shape"], unravel, b.label),
        gradient=_zero_gradient,
        doc=_doc,
    ))


# ---------------------------------------------------------------------------------------------
# _histogram

def _histogram_inputs(params):
    return ["data"] if params["bin_cnt"] is not None else ["data", "bins"]


def _histogram_shape(ctx, ins, outs):
    """data -> counts (bin_cnt,) and bin edges (bin_cnt + 1,); without bin_cnt and range, bins (B,)
    edges give (B - 1,) and (B,)."""
    count, value_range = ctx.params["bin_cnt"], ctx.params["range"]
    if (count is None) != (value_range is None):
        raise ctx.error("bin_cnt and range must both be given, or neither (then the bins input "
                        "gives the bin edges)")
    if count is not None:
        if count < 1 or len(value_range) != 2 or value_range[0] > value_range[1]:
            raise ctx.error(f"bin_cnt={count} and range={value_range} must be a positive count "
                            f"and (low, high) with low <= high")
        return ins, [(count,), (count + 1,)]
    if ins[1] is None:
        return ins, outs
    if len(ins[1]) != 1 or ins[1][0] < 2:
        raise ctx.error(f"input 'bins' has shape {tuple(ins[1])}; it must be 1-D with at least 2 "
                        f"edges")
    return ins, [(ins[1][0] - 1,), tuple(ins[1])]


def _histogram_kernel(b):
    bounds = b.inputs[1] if len(b.inputs) > 1 else None
    low, high = b.params["range"] if bounds is None else (0.0, 1.0)
    if low == high:      # as MXNet: a range of one value counts in [low - 0.5, high + 0.5]
        low, high = low - 0.5, high + 0.5
    kernels("misc").append_histogram(b.plan, b.inputs[0], b.outputs[1], b.outputs[0], bounds, low,
                                     high, b.label)


register(OpDef(
    "_histogram",
    aliases=("_npi_histogram",),
    dtypes={"output0": ("int64",)},
    params=[Param("bin_cnt", "int", None, "Number of bins for uniform case", optional=True),
            Param("range", "floats", None, "The lower and upper range of the bins. if not "
                                           "provided, range is simply (a.min(), a.max()). values "
                                           "outside the range are ignored. the first element of "
                                           "the range must be less than or equal to the last "
                                           "element of it.", optional=True)],
    inputs=_histogram_inputs,
    outputs=("output0", "output1"),
    infer_shape=_histogram_shape,
    infer_type=lambda ctx, ins, outs: (ins, [np.dtype("int64"), ins[0]]),
    kernel=_histogram_kernel,
    gradient=_zero_gradient,
    doc="Counts the data in bins: bin_cnt bins evenly spaced over range, or the bins between "
        "the edges of the bins input.  Returns (counts as int64, the bin edges); values outside the "
        "edges are not counted, the last bin includes its upper edge.\n\n"
        "Example: x = [[0, 1], [2, 2], [3, 4]] -> _histogram(x, bin_cnt=5, range=(0, 5)) = "
        "([1, 1, 2, 1, 1], [0, 1, 2, 3, 4, 5]).",
))


# ---------------------------------------------------------------------------------------------
# all_finite, multi_all_finite

def _all_finite_shape(ctx, ins, outs):
    """any inputs -> (1,)."""
    return ins, [(1,)]


_INIT_OUTPUT = Param("init_output", "bool", True, "Initialize output to 1.  False: the output "
                     "is only set to 0 when a value is not finite (it keeps what its buffer "
                     "held, which in a bound graph is the previous run's value).")

register(OpDef(
    "all_finite",
    params=[_INIT_OUTPUT],
    infer_shape=_all_finite_shape,
    infer_type=lambda ctx, ins, outs: (ins, [np.dtype("float32")]),
    kernel=lambda b: kernels("misc").append_all_finite(
        b.plan, [b.inputs[0]], b.outputs[0], b.params["init_output"], b.label),
    gradient=_zero_gradient,
    doc="Check if all the float numbers in the array are finite (used for AMP): the output, "
        "one float32, is 1 if so, else 0.",
))

register(OpDef(
    "multi_all_finite",
    params=[Param("num_arrays", "int", 1, "Number of arrays.", low=1), _INIT_OUTPUT],
    variadic="num_arrays",
    infer_shape=_all_finite_shape,
    infer_type=lambda ctx, ins, outs: (ins, [np.dtype("float32")]),
    kernel=lambda b: kernels("misc").append_all_finite(
        b.plan, list(b.inputs), b.outputs[0], b.params["init_output"], b.label),
    gradient=_zero_gradient,
    doc="Check if all the float numbers in all the arrays are finite (used for AMP): the "
        "output, one float32, is 1 if so, else 0.  The arrays may have different dtypes.",
))


# ---------------------------------------------------------------------------------------------
# amp_cast, amp_multicast (float32 <-> the AMP types; other dtypes pass through)

_AMP_TYPES = (np.dtype("float32"), np.dtype("float16"))    # and MXNet's bfloat16


def _amp_cast_type(ctx, ins, outs):
    if ins[0] is None:
        return ins, outs
    return ins, [_numpy_dtype(ctx, ctx.params["dtype"]) if ins[0] in _AMP_TYPES else ins[0]]


register(OpDef(
    "amp_cast",
    dtypes=ARRAY_DTYPES,
    params=[Param("dtype", "str", doc="Output data type.",
                  choices=("bfloat16", "float16", "float32", "float64", "int32", "int64", "int8",
                           "uint8"))],
    infer_shape=same_shape,
    infer_type=_amp_cast_type,
    kernel=lambda b: kernels("index").append_cast(b.plan, b.inputs[0], b.outputs[0], b.req[0],
                                                  b.label),
    gradient=lambda g: [g.op("_backward_cast", g.out_grads[0], g.inputs[0])],
    doc="Cast function between low precision float/FP32 used by AMP.  It casts only float32 "
        "and float16 inputs (and MXNet's bfloat16, which has no NumPy dtype) to dtype; other "
        "types pass through unchanged.",
))


def _amp_multicast_type(ctx, ins, outs):
    # MXNet casts float32/float16 (and bfloat16) inputs to the widest of them (the narrowest
    # with cast_narrow); other dtypes stay as they are
    if any(t is None for t in ins):
        return ins, [t if t is not None else o for t, o in zip(ins, outs)]
    amp = {np.dtype(t) for t in ins} & set(_AMP_TYPES)
    pick = min if ctx.params["cast_narrow"] else max
    common = pick(amp, key=lambda t: t.itemsize, default=None)
    return ins, [common if np.dtype(t) in _AMP_TYPES else t for t in ins]


def _amp_multicast_kernel(b):
    for x, out, req in zip(b.inputs, b.outputs, b.req):
        kernels("shape").append_copy(b.plan, x, out, req, b.label)


def _amp_multicast_shape(ctx, ins, outs):
    """arg0, ... -> output i of arg i's shape."""
    known = [i if i is not None else o for i, o in zip(ins, outs)]
    return known, list(known)


register(OpDef(
    "amp_multicast",
    dtypes=NUMBER_DTYPES,
    params=[Param("num_outputs", "int", doc="Number of input/output pairs to be casted to the "
                                            "widest type.", low=1),
            Param("cast_narrow", "bool", False, "Whether to cast to the narrowest type")],
    variadic="num_outputs",
    outputs=lambda p: [f"output{i}" for i in range(p["num_outputs"])],
    infer_shape=_amp_multicast_shape,
    infer_type=_amp_multicast_type,
    inplace=lambda p: [(i, i) for i in range(p["num_outputs"])],
    kernel=_amp_multicast_kernel,
    gradient=lambda g: [grad for grad in g.out_grads],
    doc="Cast function used by AMP, that casts its inputs to the common widest type (the "
        "narrowest with cast_narrow) among float32 and the low-precision floats; other types "
        "pass through.",
))


# ---------------------------------------------------------------------------------------------
# _onehot_encode, fill_element_0index: MXNet's legacy NDArray functions (no gradient)

def _onehot_encode_shape(ctx, ins, outs):
    """lhs (N,), rhs (N, K) -> (N, K)."""
    lhs, rhs = ins
    rhs = rhs if rhs is not None else outs[0]
    if rhs is None:
        return ins, outs
    if len(rhs) != 2 or (lhs is not None and tuple(lhs) != (rhs[0],)):
        raise ctx.error(f"input 'rhs' has shape {tuple(rhs)} and 'lhs' {lhs}; they must be (N, K) "
                        f"and (N,)")
    return [(rhs[0],), tuple(rhs)], [tuple(rhs)]


register(OpDef(
    "_onehot_encode",
    dtypes={"lhs": NUMBER_DTYPES},
    inputs=("lhs", "rhs"),
    infer_shape=_onehot_encode_shape,
    infer_type=lambda ctx, ins, outs: (ins, [ins[1] if ins[1] is not None else outs[0]]),
    shape_only=("rhs",),
    kernel=lambda b: kernels("index").append_one_hot(b.plan, b.inputs[0], b.outputs[0], 1.0, 0.0,
                                                     b.req[0], b.label),
    gradient=_zero_gradient,
    doc="One-hot rows: out (the shape of rhs, (N, K)) has out[i, int(lhs[i])] = 1 and 0 "
        "elsewhere (a row of zeros for an index outside [0, K)); rhs's values are not read.",
))


def _fill_element_shape(ctx, ins, outs):
    """lhs (N, K), mhs (N,), rhs (N,) -> (N, K)."""
    lhs = ins[0] if ins[0] is not None else outs[0]
    if lhs is None:
        return ins, outs
    if len(lhs) != 2:
        raise ctx.error(f"input 'lhs' has shape {tuple(lhs)}; it must be a matrix")
    for name, shape in (("mhs", ins[1]), ("rhs", ins[2])):
        if shape is not None and tuple(shape) != (lhs[0],):
            raise ctx.error(f"input '{name}' has shape {tuple(shape)}; it must be ({lhs[0]},), one "
                            f"entry per row of lhs {tuple(lhs)}")
    return [tuple(lhs), (lhs[0],), (lhs[0],)], [tuple(lhs)]


def _fill_element_kernel(b):
    kernels("shape").append_copy(b.plan, b.inputs[0], b.outputs[0], "write", b.label)
    kernels("misc").append_fill_row_element(b.plan, b.outputs[0], b.inputs[1], b.inputs[2], b.label)


register(OpDef(
    "fill_element_0index",
    dtypes={"rhs": NUMBER_DTYPES},
    inputs=("lhs", "mhs", "rhs"),
    infer_shape=_fill_element_shape,
    infer_type=lambda ctx, ins, outs: ([ins[0], ins[0], ins[2]], [ins[0]]),
    inplace=[(0, 0)],
    kernel=_fill_element_kernel,
    gradient=_zero_gradient,
    doc="Fill one element of each row of lhs at the index given by rhs with the value given by "
        "mhs: out = lhs with out[i, int(rhs[i])] = mhs[i] (0-based; an index outside the row "
        "changes nothing).",
))
