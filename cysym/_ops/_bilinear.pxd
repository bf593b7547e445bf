# Bilinear sampling of a feature-map plane as MXNet's ROIAlign and RROIAlign do it
# (roi_align.cc's and rroi_align.cc's bilinear_interpolate): shared by roi.pyx and
# contrib_vision.pyx.  Their integer casts differ ((int) against an implicit conversion), but
# the sample is clamped to [0, H] x [0, W] first, where both truncate alike.
from cysym._ops._blas cimport real


cdef inline bint bilinear_weights(real y, real x, Py_ssize_t H, Py_ssize_t W, Py_ssize_t* pos,
                                  real* weight) noexcept nogil:
    """The four neighbours of (y, x) (offsets in the plane) and their weights; False for a
    sample outside the map by more than one pixel."""
    cdef Py_ssize_t y_low, x_low, y_high, x_high
    cdef real ly, lx, hy, hx
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return False
    if y <= 0:
        y = 0
    if x <= 0:
        x = 0
    y_low = <Py_ssize_t><int>y
    x_low = <Py_ssize_t><int>x
    if y_low >= H - 1:
        y_high = y_low = H - 1
        y = <real>y_low
    else:
        y_high = y_low + 1
    if x_low >= W - 1:
        x_high = x_low = W - 1
        x = <real>x_low
    else:
        x_high = x_low + 1
    ly = y - y_low
    lx = x - x_low
    hy = 1. - ly
    hx = 1. - lx
    pos[0] = y_low * W + x_low
    pos[1] = y_low * W + x_high
    pos[2] = y_high * W + x_low
    pos[3] = y_high * W + x_high
    weight[0] = hy * hx
    weight[1] = hy * lx
    weight[2] = ly * hx
    weight[3] = ly * lx
    return True
