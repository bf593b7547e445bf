"""Fused optimizer updates: one pass over the weight instead of NumPy's several passes and
temporaries (the update runs once per parameter per batch, so its overhead adds up on small
layers).  Each line keeps MXNet's order of operations, in the weight's dtype."""
from libc.math cimport sqrt, sqrtf
from cysym._ops._blas cimport real


cdef inline real _clipped(real g, real bound, bint clip) noexcept nogil:
    if clip:
        if g > bound:
            return bound
        if g < -bound:
            return -bound
    return g


cdef inline real _sqrt(real x) noexcept nogil:
    if real is float: return sqrtf(x)
    else: return sqrt(x)


cdef void _sgd(real[::1] w, const real[::1] grad, real[::1] mom, real lr, real wd, real rescale,
               real bound, bint clip, real momentum, bint has_mom) noexcept nogil:
    cdef Py_ssize_t i
    cdef real g, decay = lr * wd, keep = 1 - lr * wd
    for i in range(w.shape[0]):
        g = _clipped(grad[i] * rescale, bound, clip)
        if has_mom:
            # mom = momentum * mom - lr * wd * weight - lr * g;  weight += mom
            mom[i] = mom[i] * momentum - decay * w[i] - lr * g
            w[i] = w[i] + mom[i]
        else:
            # weight = (1 - lr * wd) * weight - lr * g
            w[i] = keep * w[i] - lr * g


cdef void _adam(real[::1] w, const real[::1] grad, real[::1] mean, real[::1] var, real lr, real wd,
                real rescale, real bound, bint clip, real beta1, real beta2, real epsilon) noexcept nogil:
    cdef Py_ssize_t i
    cdef real g
    for i in range(w.shape[0]):
        # g = clip(rescale * grad + wd * weight)
        g = _clipped(grad[i] * rescale + wd * w[i], bound, clip)
        mean[i] = beta1 * mean[i] + (1 - beta1) * g
        var[i] = beta2 * var[i] + (1 - beta2) * g * g
        w[i] = w[i] - lr * mean[i] / (_sqrt(var[i]) + epsilon)


def _flat(array, what, size):
    flat = array.reshape(-1)
    if flat.size != size:
        raise ValueError(f"{what} has {flat.size} elements, the weight has {size}")
    return flat


def sgd_update(weight, grad, double lr, double wd=0.0, double rescale_grad=1.0, double clip_gradient=-1.0,
               mom=None, double momentum=0.0):
    """weight -= lr * (clip(rescale_grad * grad) + wd * weight), with momentum when mom is given
    (clip_gradient < 0 or 0: no clipping). Arrays are C-contiguous and share one dtype."""
    w = weight.reshape(-1)
    g = _flat(grad, "grad", w.size)
    m = w if mom is None else _flat(mom, "mom", w.size)
    clip = clip_gradient > 0
    if w.dtype == "float32":
        _sgd[float](w, g, m, lr, wd, rescale_grad, clip_gradient, clip, momentum, mom is not None)
    else:
        _sgd[double](w, g, m, lr, wd, rescale_grad, clip_gradient, clip, momentum, mom is not None)


def adam_update(weight, grad, mean, var, double lr, double beta1=0.9, double beta2=0.999, double epsilon=1e-8,
                double wd=0.0, double rescale_grad=1.0, double clip_gradient=-1.0):
    """MXNet's adam_update (lr already bias-corrected by the caller)."""
    w = weight.reshape(-1)
    g, m, v = _flat(grad, "grad", w.size), _flat(mean, "mean", w.size), _flat(var, "var", w.size)
    clip = clip_gradient > 0
    if w.dtype == "float32":
        _adam[float](w, g, m, v, lr, wd, rescale_grad, clip_gradient, clip, beta1, beta2, epsilon)
    else:
        _adam[double](w, g, m, v, lr, wd, rescale_grad, clip_gradient, clip, beta1, beta2, epsilon)
