# Helpers shared by the detection kernel families (detection.pyx, multibox.pyx).
from libc.string cimport memcpy


cdef inline void stable_argsort(Py_ssize_t* order, Py_ssize_t* scratch, const double* keys,
                                Py_ssize_t n, bint descending) noexcept nogil:
    """Sort order[0:n] by keys[order[i]] as std::stable_sort does with the comparator
    keys[a] > keys[b] (descending) or keys[a] < keys[b]: equal keys keep their order.
    A bottom-up merge sort; scratch holds n entries.  float32 keys are stored as doubles,
    which keeps their order exactly."""
    cdef Py_ssize_t width = 1, lo, mid, hi, left, right, k
    cdef Py_ssize_t* source = order
    cdef Py_ssize_t* target = scratch
    cdef Py_ssize_t* swap
    cdef bint take_right
    while width < n:
        lo = 0
        while lo < n:
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            left, right, k = lo, mid, lo
            while k < hi:
                # the right run's head goes first only when it is strictly before the left's
                if left >= mid:
                    take_right = True
                elif right >= hi:
                    take_right = False
                elif descending:
                    take_right = keys[source[right]] > keys[source[left]]
                else:
                    take_right = keys[source[right]] < keys[source[left]]
                if take_right:
                    target[k] = source[right]
                    right += 1
                else:
                    target[k] = source[left]
                    left += 1
                k += 1
            lo = hi
        swap = source
        source = target
        target = swap
        width *= 2
    if source != order:
        memcpy(order, source, n * sizeof(Py_ssize_t))
