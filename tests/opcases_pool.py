"""Registry-table rows for Pooling's fast paths (cysym/_ops/conv.pyx): the row-by-row loops
(2x2 and 3x3 windows at stride 1 and 2 unrolled, other windows tap by tap), their border
columns and rows, whole-plane windows and tiling windows, over odd and even, non-square
sizes, pads 0-2, both conventions and both avg divisors.  The reference is np_pool_nd
(MXNet's pool.h, one window at a time); test_pool_kernels.py compares the fast paths with
the general loop bit for bit and runs req 'add'."""
from opcase import Case, distinct, signed
from opcases_conv3d import np_pool_nd


def _max(shape, **params):
    return Case("Pooling", {"data": (shape, distinct)}, params=dict(params, pool_type="max"),
                ref=np_pool_nd, id=_id("max", shape, params))


def _avg(shape, pool_type="avg", **params):
    return Case("Pooling", {"data": (shape, signed)}, params=dict(params, pool_type=pool_type),
                ref=np_pool_nd, id=_id(pool_type, shape, params))


def _id(pool_type, shape, params):
    text = "-".join(f"{k}{''.join(map(str, v)) if isinstance(v, tuple) else v}"
                    for k, v in sorted(params.items()))
    return f"Pooling-fast-{pool_type}-{'x'.join(map(str, shape))}-{text}"


CASE_LIST = [
    # ResNet's 3x3 stride-2 pad-1 max pooling: unrolled interior, border columns, the first
    # row's window clipped; even and odd sizes
    _max((2, 3, 8, 9), kernel=(3, 3), stride=(2, 2), pad=(1, 1)),
    _max((1, 2, 9, 6), kernel=(3, 3), stride=(2, 2), pad=(1, 1), pooling_convention="full"),
    # Inception's valid 3x3 stride 2 (no border column), and one output column
    _max((2, 3, 7, 10), kernel=(3, 3), stride=(2, 2)),
    _max((2, 3, 9, 3), kernel=(3, 3), stride=(2, 2)),
    # stride 1: 3x3 pad 1 and 2x2 'full' (a window past the end)
    _max((2, 3, 6, 7), kernel=(3, 3), stride=(1, 1), pad=(1, 1)),
    _max((2, 3, 5, 4), kernel=(2, 2), stride=(1, 1), pad=(1, 1), pooling_convention="full"),
    # general k x k (tap by tap), pad 2, stride 3, and non-square windows and strides
    _max((2, 3, 11, 10), kernel=(5, 5), stride=(3, 3), pad=(2, 2)),
    _max((2, 3, 7, 9), kernel=(3, 2), stride=(1, 2), pad=(1, 0)),
    # input smaller than the window, made up by the pad
    _max((2, 3, 2, 3), kernel=(3, 3), stride=(1, 2), pad=(1, 1)),
    # Inception's avg pooling (3x3, stride 1, pad 1), counting the pad and not
    _avg((2, 3, 6, 7), kernel=(3, 3), stride=(1, 1), pad=(1, 1)),
    _avg((2, 3, 7, 5), kernel=(3, 3), stride=(1, 1), pad=(1, 1), count_include_pad=False),
    _avg((2, 3, 5, 8), kernel=(2, 2), stride=(1, 1), pad=(1, 0), count_include_pad=False),
    # DenseNet's 2x2 stride-2 avg: tiling (the backward writes dx once) and ragged
    _avg((2, 3, 6, 8), kernel=(2, 2), stride=(2, 2)),
    _avg((2, 3, 7, 9), kernel=(2, 2), stride=(2, 2)),
    _avg((2, 3, 6, 9), kernel=(3, 3), stride=(3, 3), pool_type="sum"),
    # stride-2 avg and sum with pad 2 and 'full' windows clipped at the end
    _avg((2, 3, 7, 8), kernel=(3, 3), stride=(2, 2), pad=(2, 1), pooling_convention="full",
         count_include_pad=False),
    _avg((2, 3, 8, 7), kernel=(3, 3), stride=(2, 2), pad=(1, 2), pool_type="sum"),
    _avg((2, 3, 9, 11), kernel=(4, 5), stride=(2, 3), pad=(2, 2), pooling_convention="full"),
    # input smaller than the window, and one output column
    _avg((2, 3, 2, 1), kernel=(3, 3), stride=(1, 1), pad=(1, 1)),
    _avg((2, 3, 2, 1), kernel=(3, 3), stride=(1, 1), pad=(1, 1), count_include_pad=False),
    _avg((2, 3, 8, 4), kernel=(3, 3), stride=(2, 2), pad=(0, 1), count_include_pad=False),
    # a window covering the whole plane without global_pool: exactly, and with pad
    _avg((2, 3, 3, 5), kernel=(3, 5)),
    _avg((2, 3, 3, 2), kernel=(5, 4), pad=(1, 1)),
    _avg((2, 3, 3, 2), kernel=(5, 4), pad=(1, 1), count_include_pad=False),
    _max((2, 3, 3, 2), kernel=(4, 3), pad=(1, 1)),
    _avg((2, 3, 4, 5), global_pool=True, pool_type="sum"),
    # 1-D
    _max((2, 3, 11), kernel=(3,), stride=(2,), pad=(1,)),
    _avg((2, 3, 10), kernel=(3,), stride=(1,), pad=(1,), pooling_convention="full"),
    _avg((2, 3, 9), kernel=(2,), stride=(2,), count_include_pad=False),
    # 3-D: depth windows as rows, one depth slice with a padded depth window
    _avg((2, 3, 3, 5, 6), kernel=(2, 3, 3), stride=(1, 2, 2), pad=(1, 1, 1)),
    _max((2, 3, 3, 5, 6), kernel=(2, 3, 3), stride=(2, 1, 1), pad=(1, 1, 1)),
]
