"""Partial shapes, MXNet's way: a shape is a tuple of ints, None when nothing is known, and a
tuple with None entries when only some dimensions are known (users and files write those as 0:
Gluon exports `__shape__` attrs such as "(64, 0, 7, 7)").  Shape rules and inference share
these helpers."""

__all__ = ["is_complete", "merge_shapes", "size_of", "show_shape", "partial_shape_rule", "same_shape",
           "MAX_ELEMENTS"]

# The most elements an inferred array may have (2**48: 1 PiB of float32, far beyond any machine,
# and far below where a byte count of 8-byte elements overflows int64).
MAX_ELEMENTS = 1 << 48


def is_complete(shape):
    """True for a shape whose every dimension is known."""
    return shape is not None and None not in shape


def merge_shapes(known, new):
    """The shape both partial shapes describe; ValueError when they contradict each other."""
    if known is None:
        return new
    if new is None:
        return known
    if len(known) != len(new):
        raise ValueError("different numbers of dimensions")
    merged = []
    for a, b in zip(known, new):
        if a is not None and b is not None and a != b:
            raise ValueError(f"dimension {a} != {b}")
        merged.append(a if a is not None else b)
    return tuple(merged)


def size_of(dims):
    """The number of elements that `dims` span; None when a dimension is unknown."""
    size = 1
    for d in dims:
        if d is None:
            return None
        size *= d
    return size


def show_shape(shape):
    """A shape as users read it, unknown dimensions as '?'."""
    if shape is None:
        return "unknown"
    inner = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def partial_shape_rule(rule):
    """Mark a shape rule that handles partial shapes (OpDef reads the mark)."""
    rule.partial_shapes = True
    return rule


@partial_shape_rule
def same_shape(ctx, ins, outs):
    """Every input and output has one shape (element-wise operators); partial views merge."""
    known = None
    for shape in ins + outs:
        try:
            known = merge_shapes(known, shape)
        except ValueError:
            break     # inference reports the conflict, naming the input
    return [known] * len(ins), [known] * len(outs)
