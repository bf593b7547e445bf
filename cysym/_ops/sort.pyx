"""Sorting kernels: topk (values, indices, mask), sort and argsort along one axis of a
(outer, n, inner) view, and topk's gradient (a scatter of the output gradient to the picked
positions).

Rows come out in exactly the order MXNet 1.9.1 gives on CPU, ties and NaNs included.  MXNet
orders an index array with libstdc++'s std::sort (introsort) when k * 8 > n, and with
std::partial_sort (a heap selection) otherwise, comparing values with < (ascending) or >
(descending).  Neither is stable: equal values come out in whatever order those algorithms
leave them.  The functions below are those algorithms step for step (GCC's bits/stl_algo.h
and bits/stl_heap.h), so that a graph gathering by topk's indices (detection heads whose
suppressed boxes all score -1) picks the boxes MXNet picks.
"""
from libc.string cimport memset
from cysym._ops._blas cimport real
from cysym._ops._common cimport REQ_NULL, REQ_WRITE, common_dtype, req_code, store
from cysym._ops._index cimport index_code, read_index, store_index
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from cysym._ops.shape import axis_layout

ctypedef Py_ssize_t index_t

ctypedef struct Entry:
    # a value (float32 ones exactly as doubles) and its position: the algorithms below move
    # entries where MXNet moves positions and compares the values they point to, which gives
    # the same order without an indirect read per comparison
    double value
    index_t position

# std::sort leaves ranges of at most this many elements to its final insertion sort
cdef enum:
    INSERTION_THRESHOLD = 16


# ---------------------------------------------------------------------------------------------
# libstdc++'s algorithms on an array of entries

cdef inline bint _before(Entry a, Entry b, bint ascend) noexcept nogil:
    """MXNet's comparator: a < b ascending, a > b descending (on the values)."""
    if ascend:
        return a.value < b.value
    return a.value > b.value


cdef void _linear_insert(Entry* begin, Entry* last, bint ascend) noexcept nogil:
    # std::__unguarded_linear_insert; the `begin` guard never binds for a valid order, only
    # where NaNs would let libstdc++ read before the array
    cdef Entry moving = last[0]
    cdef Entry* previous = last - 1
    while previous >= begin and _before(moving, previous[0], ascend):
        last[0] = previous[0]
        last = previous
        previous -= 1
    last[0] = moving


cdef void _insertion_sort(Entry* first, Entry* last, bint ascend) noexcept nogil:
    # std::__insertion_sort
    cdef Entry* i
    cdef Entry* j
    cdef Entry moving
    if first == last:
        return
    i = first + 1
    while i != last:
        if _before(i[0], first[0], ascend):
            moving = i[0]
            j = i
            while j != first:       # std::move_backward(first, i, i + 1)
                j[0] = (j - 1)[0]
                j -= 1
            first[0] = moving
        else:
            _linear_insert(first, i, ascend)
        i += 1


cdef void _push_heap(Entry* first, index_t hole, index_t top, Entry moving,
                     bint ascend) noexcept nogil:
    # std::__push_heap
    cdef index_t parent = (hole - 1) // 2
    while hole > top and _before(first[parent], moving, ascend):
        first[hole] = first[parent]
        hole = parent
        parent = (hole - 1) // 2
    first[hole] = moving


cdef void _adjust_heap(Entry* first, index_t hole, index_t length, Entry moving,
                       bint ascend) noexcept nogil:
    # std::__adjust_heap
    cdef index_t top = hole, child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if _before(first[child], first[child - 1], ascend):
            child -= 1
        first[hole] = first[child]
        hole = child
    if (length & 1) == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        first[hole] = first[child - 1]
        hole = child - 1
    _push_heap(first, hole, top, moving, ascend)


cdef void _pop_heap(Entry* first, Entry* last, Entry* result, bint ascend) noexcept nogil:
    # std::__pop_heap
    cdef Entry moving = result[0]
    result[0] = first[0]
    _adjust_heap(first, 0, last - first, moving, ascend)


cdef void _partial_sort(Entry* first, Entry* middle, Entry* last, bint ascend) noexcept nogil:
    # std::__partial_sort: std::__heap_select (std::__make_heap, then a pop for every later
    # element that beats the heap's top), then std::__sort_heap
    cdef index_t length = middle - first, parent
    cdef Entry* i
    if length >= 2:
        parent = (length - 2) // 2
        while True:
            _adjust_heap(first, parent, length, first[parent], ascend)
            if parent == 0:
                break
            parent -= 1
    i = middle
    while i < last:
        if _before(i[0], first[0], ascend):
            _pop_heap(first, middle, i, ascend)
        i += 1
    while middle - first > 1:
        middle -= 1
        _pop_heap(first, middle, middle, ascend)


cdef void _move_median_to_first(Entry* result, Entry* a, Entry* b, Entry* c,
                                bint ascend) noexcept nogil:
    # std::__move_median_to_first
    cdef Entry* median
    if _before(a[0], b[0], ascend):
        if _before(b[0], c[0], ascend):
            median = b
        elif _before(a[0], c[0], ascend):
            median = c
        else:
            median = a
    elif _before(a[0], c[0], ascend):
        median = a
    elif _before(b[0], c[0], ascend):
        median = c
    else:
        median = b
    result[0], median[0] = median[0], result[0]


cdef Entry* _partition(Entry* first, Entry* last, Entry* pivot, bint ascend) noexcept nogil:
    # std::__unguarded_partition: each scan stops at the pivot or at an element swapped
    # across, NaNs included
    while True:
        while _before(first[0], pivot[0], ascend):
            first += 1
        last -= 1
        while _before(pivot[0], last[0], ascend):
            last -= 1
        if not first < last:
            return first
        first[0], last[0] = last[0], first[0]
        first += 1


cdef void _introsort_loop(Entry* first, Entry* last, index_t depth_limit,
                          bint ascend) noexcept nogil:
    # std::__introsort_loop
    cdef Entry* cut
    while last - first > INSERTION_THRESHOLD:
        if depth_limit == 0:
            _partial_sort(first, last, last, ascend)
            return
        depth_limit -= 1
        _move_median_to_first(first, first + 1, first + (last - first) // 2, last - 1, ascend)
        cut = _partition(first + 1, last, first, ascend)
        _introsort_loop(cut, last, depth_limit, ascend)
        last = cut


cdef inline index_t _floor_log2(index_t n) noexcept nogil:
    # std::__lg
    cdef index_t result = 0
    while n > 1:
        n >>= 1
        result += 1
    return result


cdef void _sort(Entry* first, Entry* last, bint ascend) noexcept nogil:
    # std::sort: introsort down to short ranges, then one insertion sort over everything
    cdef index_t n = last - first
    cdef Entry* i
    if n == 0:
        return
    _introsort_loop(first, last, 2 * _floor_log2(n), ascend)
    if n > INSERTION_THRESHOLD:
        _insertion_sort(first, first + INSERTION_THRESHOLD, ascend)
        i = first + INSERTION_THRESHOLD
        while i != last:
            _linear_insert(first, i, ascend)
            i += 1
    else:
        _insertion_sort(first, last, ascend)


cdef void _select(Entry* entries, const real* row, index_t n, index_t stride, index_t k,
                  bint ascend) noexcept nogil:
    """entries[:k] = the k first of row[0], row[stride], ..., row[(n - 1) * stride] with their
    positions, in MXNet's order (its TopKSort: a full sort when k * 8 > n, a heap selection
    otherwise)."""
    cdef index_t j
    for j in range(n):
        entries[j].value = row[j * stride]
        entries[j].position = j
    if k * 8 > n:
        _sort(entries, entries + n, ascend)
    else:
        _partial_sort(entries, entries + k, entries + n, ascend)


# ---------------------------------------------------------------------------------------------
# topk / sort / argsort

cdef void _topk(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: data, workspace, values, indices, mask (unwanted outputs: req null)
    # ints: outer, n, inner, k, ascend, req_values, req_indices, req_mask, indices_code
    cdef index_t outer = c.ints[0], n = c.ints[1], inner = c.ints[2], k = c.ints[3]
    cdef bint ascend = c.ints[4] != 0
    cdef int req_values = <int>c.ints[5], req_indices = <int>c.ints[6], req_mask = <int>c.ints[7]
    cdef int indices_code = <int>c.ints[8]
    cdef const real* data = <real*>c.arrays[0]
    cdef Entry* entries = <Entry*>c.arrays[1]
    cdef real* values = <real*>c.arrays[2]
    cdef char* indices = c.arrays[3]
    cdef real* mask = <real*>c.arrays[4]
    cdef index_t o, i, j, out
    for o in range(outer):
        for i in range(inner):
            _select(entries, data + o * n * inner + i, n, inner, k, ascend)
            for j in range(k):
                out = (o * k + j) * inner + i
                store(values, out, entries[j].value, req_values)
                store_index(indices, indices_code, out, entries[j].position, req_indices)
            if req_mask == REQ_WRITE:
                for j in range(n):
                    mask[(o * n + j) * inner + i] = 0
            if req_mask != REQ_NULL:
                for j in range(k):
                    mask[(o * n + entries[j].position) * inner + i] += 1


cdef void topk_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _topk(c, <float*>NULL)
    else:
        _topk(c, <double*>NULL)


def topk_workspace_bytes(Py_ssize_t n):
    """Scratch of the topk kernel for rows of n elements: one entry (value, position) each."""
    return n * sizeof(Entry)


def topk_layout(shape, axis, Py_ssize_t k):
    """(outer, n, inner, k) of topk on `shape` along `axis` (None: the flattened array);
    k <= 0 selects the whole axis, as MXNet's k < 1 does."""
    outer, n, inner = axis_layout(shape, axis)
    return outer, n, inner, (n if k <= 0 else k)


def append_topk(Plan plan, data, workspace, values=None, indices=None, mask=None, axis=-1,
                Py_ssize_t k=1, bint is_ascend=False, str req_values="write",
                str req_indices="write", str req_mask="write", str label="topk"):
    """The k largest (smallest with is_ascend) entries of `data` along `axis` (None: the
    flattened array), in MXNet's order: values[..., j, ...] and indices[..., j, ...] of the
    j-th, and/or mask = 1 at the selected positions, 0 elsewhere.  Any of the three outputs
    may be None; indices are float32, float64, int32 or int64; workspace holds
    topk_workspace_bytes(n) bytes."""
    reqs = [req_code(req_values, label), req_code(req_indices, label), req_code(req_mask, label)]
    if axis is not None:
        if not -data.ndim <= axis < data.ndim:
            raise ValueError(f"{label}: axis {axis} is out of range for input shape {data.shape}")
        axis %= data.ndim
    outer, n, inner, k = topk_layout(data.shape, axis, k)
    if not 0 <= k <= n:
        raise ValueError(f"{label}: k={k} is larger than the {n} elements of the axis")
    outputs = [values, indices, mask]
    sizes = [outer * k * inner, outer * k * inner, data.size]
    for position, (array, size) in enumerate(zip(outputs, sizes)):
        if array is None:
            reqs[position] = REQ_NULL
        elif array.size != size:
            raise ValueError(f"{label}: output {position} has shape {array.shape}, expected "
                             f"{size} elements for input shape {data.shape}, k={k}")
    code = common_dtype([data, values, mask])
    codes = index_code(indices, label, "indices") if indices is not None else 0
    if reqs == [REQ_NULL] * 3 or data.size == 0:
        return
    if workspace is None or workspace.nbytes < topk_workspace_bytes(n):
        raise ValueError(f"{label}: the workspace needs {topk_workspace_bytes(n)} bytes")
    arrays = [data, workspace] + [data if a is None else a for a in outputs]
    plan.add(topk_kernel, code, arrays,
             [outer, n, inner, k, is_ascend] + reqs + [codes], [], label)


cdef void _topk_backward(KernelCall* c, real* dummy) noexcept nogil:
    # arrays: out_grad, indices, data_grad; ints: outer, n, inner, k, indices_code, req
    cdef index_t outer = c.ints[0], n = c.ints[1], inner = c.ints[2], k = c.ints[3]
    cdef int code = <int>c.ints[4], req = <int>c.ints[5]
    cdef const real* dy = <real*>c.arrays[0]
    cdef real* dx = <real*>c.arrays[2]
    cdef index_t o, j, i, source
    cdef double position
    if req == REQ_WRITE:
        memset(dx, 0, outer * n * inner * sizeof(real))
    for o in range(outer):
        for j in range(k):
            for i in range(inner):
                source = (o * k + j) * inner + i
                # data_grad[o, indices[o, j, i], i] += out_grad[o, j, i]; the positions come
                # from the forward pass, so one outside the axis can only be a user's edit
                position = read_index(c.arrays[1], code, source)
                if position >= 0 and position < n:
                    dx[(o * n + <index_t>position) * inner + i] += dy[source]


cdef void topk_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _topk_backward(c, <float*>NULL)
    else:
        _topk_backward(c, <double*>NULL)


def append_topk_backward(Plan plan, out_grad, indices, data_grad, axis=-1, Py_ssize_t k=1,
                         str req="write", str label="_backward_topk"):
    """data_grad = 0 (req 'write'), then out_grad added at the positions topk selected
    (`indices`, its index output, laid out as out_grad)."""
    code = req_code(req, label)
    if axis is not None:
        if not -data_grad.ndim <= axis < data_grad.ndim:
            raise ValueError(f"{label}: axis {axis} is out of range for shape {data_grad.shape}")
        axis %= data_grad.ndim
    outer, n, inner, k = topk_layout(data_grad.shape, axis, k)
    if not 0 <= k <= n or out_grad.size != outer * k * inner or indices.size != out_grad.size:
        raise ValueError(f"{label}: out_grad {out_grad.shape} and indices {indices.shape} do not "
                         f"hold k={k} of the axis of data {data_grad.shape}")
    indices_code = index_code(indices, label, "indices")
    if code == REQ_NULL:
        return
    plan.add(topk_backward_kernel, common_dtype([out_grad, data_grad]),
             [out_grad, indices, data_grad], [outer, n, inner, k, indices_code, code], [], label)
