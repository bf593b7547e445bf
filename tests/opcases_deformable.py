"""Registry-table rows for the deformable convolutions (cysym/ops/deformable.py).

The reference samples every tap of every output position with NumPy, from the formulas of
MXNet's deformable_im2col.h (v1: inside [0, H) x [0, W), last row/column clamped) and
modulated_deformable_im2col.h (v2: zero-padded, inside (-1, H) x (-1, W), times the mask)."""
import numpy as np

from opcase import Case, positive, signed


def _corner(plane, rows, cols):
    """plane[rows, cols], 0 where the index is outside the plane."""
    H, W = plane.shape
    inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    return np.where(inside, plane[np.clip(rows, 0, H - 1), np.clip(cols, 0, W - 1)], 0.0)


def _sample(plane, h, w, modulated):
    H, W = plane.shape
    if modulated:
        valid = (h > -1) & (w > -1) & (h < H) & (w < W)
    else:
        valid = (h >= 0) & (w >= 0) & (h < H) & (w < W)
    h0, w0 = np.floor(h).astype(int), np.floor(w).astype(int)
    lh, lw = h - h0, w - w0
    h1, w1 = h0 + 1, w0 + 1
    if not modulated:   # the last row (column) is read twice, at weight 1
        h1, lh = np.where(h0 >= H - 1, H - 1, h1), np.where(h0 >= H - 1, 0.0, lh)
        w1, lw = np.where(w0 >= W - 1, W - 1, w1), np.where(w0 >= W - 1, 0.0, lw)
    value = ((1 - lh) * (1 - lw) * _corner(plane, h0, w0) + (1 - lh) * lw * _corner(plane, h0, w1)
             + lh * (1 - lw) * _corner(plane, h1, w0) + lh * lw * _corner(plane, h1, w1))
    return np.where(valid, value, 0.0)


def np_deformable_conv(data, offset, weight, bias=None, mask=None, kernel=(), stride=(),
                       dilate=(), pad=(), num_filter=None, num_group=1, num_deformable_group=1,
                       **_):
    N, C, H, W = data.shape
    kh, kw = kernel
    sh, sw = stride or (1, 1)
    dh, dw = dilate or (1, 1)
    ph, pw = pad or (0, 0)
    Ho, Wo = offset.shape[2:]
    per_group = C // num_deformable_group
    base_h = np.arange(Ho)[:, None] * sh - ph + np.zeros((1, Wo))
    base_w = np.arange(Wo)[None, :] * sw - pw + np.zeros((Ho, 1))
    col = np.zeros((N, C, kh, kw, Ho, Wo))
    for n in range(N):
        for c in range(C):
            group = c // per_group
            for i in range(kh):
                for j in range(kw):
                    tap = i * kw + j
                    h = base_h + i * dh + offset[n, (group * kh * kw + tap) * 2]
                    w = base_w + j * dw + offset[n, (group * kh * kw + tap) * 2 + 1]
                    scale = 1.0 if mask is None else mask[n, group * kh * kw + tap]
                    col[n, c, i, j] = _sample(data[n, c], h, w, mask is not None) * scale
    F = weight.shape[0]
    cg, fg = C // num_group, F // num_group
    out = np.zeros((N, F, Ho, Wo))
    for g in range(num_group):
        out[:, g * fg:(g + 1) * fg] = np.einsum("ncijhw,fcij->nfhw", col[:, g * cg:(g + 1) * cg],
                                                weight[g * fg:(g + 1) * fg])
    if bias is not None:
        out += bias[None, :, None, None]
    return out


def offsets(rng, shape):
    """Whole-pixel shifts plus a fraction in [0.1, 0.9]: sampling positions stay away from the
    grid lines, where bilinear interpolation has no derivative."""
    return rng.integers(-1, 2, shape) + rng.uniform(0.1, 0.9, shape)


CASE_LIST = [
    Case("_contrib_DeformableConvolution",
         {"data": ((2, 4, 5, 6), signed), "offset": ((2, 24, 6, 3), offsets),
          "weight": ((4, 2, 2, 3), signed), "bias": ((4,), signed)},
         params=dict(kernel=(2, 3), stride=(1, 2), pad=(1, 1), num_filter=4, num_group=2,
                     num_deformable_group=2),
         ref=np_deformable_conv,
         bad=[("shapes", {"data": (2, 4, 5, 6), "offset": (2, 12, 6, 3)}),
              ("params", {"num_deformable_group": 3}), ("params", {"kernel": (2, 3, 2)}),
              ("params", {"layout": "NCDHW"})],
         id="DeformableConvolution-groups-stride"),
    Case("_contrib_DeformableConvolution",
         {"data": ((2, 3, 6, 7), signed), "offset": ((2, 18, 4, 3), offsets),
          "weight": ((2, 3, 3, 3), signed)},
         params=dict(kernel=(3, 3), dilate=(1, 2), num_filter=2, no_bias=True),
         ref=np_deformable_conv, id="DeformableConvolution-dilate-nobias"),
    Case("_contrib_ModulatedDeformableConvolution",
         {"data": ((2, 4, 5, 6), signed), "offset": ((2, 24, 6, 3), offsets),
          "mask": ((2, 12, 6, 3), positive), "weight": ((4, 2, 2, 3), signed),
          "bias": ((4,), signed)},
         params=dict(kernel=(2, 3), stride=(1, 2), pad=(1, 1), num_filter=4, num_group=2,
                     num_deformable_group=2),
         ref=np_deformable_conv,
         bad=[("shapes", {"data": (2, 4, 5, 6), "mask": (2, 6, 6, 3)})],
         id="ModulatedDeformableConvolution-groups-stride"),
    Case("_contrib_ModulatedDeformableConvolution",
         {"data": ((2, 3, 6, 7), signed), "offset": ((2, 18, 4, 3), offsets),
          "mask": ((2, 9, 4, 3), positive), "weight": ((2, 3, 3, 3), signed)},
         params=dict(kernel=(3, 3), dilate=(1, 2), num_filter=2, no_bias=True, im2col_step=2),
         ref=np_deformable_conv, id="ModulatedDeformableConvolution-dilate-nobias"),
]
