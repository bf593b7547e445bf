"""The static memory planner: a pure function from a graph's arrays to one offset per entry.

    plan = memory_plan(entry_bytes, op_inputs, op_outputs, op_inplace, persistent, external,
                       alignment=64)

Entries are buffers 0..E-1; ops run in the given order. An entry is live from the step of the
op that produces it (step 0 for a graph input) through its last reader, or to the last step if
it is persistent; an entry nobody reads is live only during its producing step. Inputs and
outputs of one step are live together, so they never share memory except through an in-place
pair.

Two passes:

1. In place. Walking the ops in order, output ``o`` takes the storage of input ``i`` when the op
   declares the pair, ``i`` is neither external nor persistent, ``i`` is at least as large as
   ``o``, this op is the last reader of ``i`` and reads it once, and no other output of the op
   took that storage already. A chain of such steps is one storage whose live interval is the
   union of its members' intervals (contiguous, as each link starts where the previous dies).
2. Placement. Storages are fixed-size blocks with a live interval; place them in one arena so
   that blocks whose intervals overlap are disjoint in memory. "Greedy by size" (Pisarchyk &
   Lee, 2020): largest first, each into the smallest gap between the already-placed blocks it
   conflicts with, or above them. A couple of orderings are tried and the smallest arena kept.

The returned ``lower_bound_bytes`` is the peak, over steps, of the bytes of the storages live
at that step. It is a true lower bound for any placement of these storages (all of them are
live at the peak step, so they must be disjoint). Counting in-place partners separately, as
``entry_peak_bytes`` does, can exceed the arena: in-place sharing is exactly what beats it.
"""
import numpy as np

from libc.stdlib cimport malloc, free
from libc.string cimport memmove
from libc.stdint cimport int64_t

ctypedef int64_t i64


def _as_int_list(obj, what):
    try:
        return [int(v) for v in obj]
    except (TypeError, ValueError):
        raise ValueError(f"memory_plan: {what} must be a list of integers, got {obj!r}") from None


def _csr(lists, what, n_ops):
    """Flatten a list of per-op integer lists into (ptr, idx) int64 arrays."""
    ptr = np.zeros(n_ops + 1, np.int64)
    flat = []
    for k, items in enumerate(lists):
        values = _as_int_list(items, f"{what}[{k}]")
        flat.extend(values)
        ptr[k + 1] = ptr[k] + len(values)
    return ptr, np.asarray(flat, np.int64).reshape(-1)


def _inplace_pairs(op_inplace, in_ptr, out_ptr):
    """Validate the in-place pairs; return (ptr, pairs) with pairs an int64 (P, 2) array."""
    n_ops = in_ptr.shape[0] - 1
    ptr = np.zeros(n_ops + 1, np.int64)
    pairs = []
    for k in range(n_ops):
        n_in = int(in_ptr[k + 1] - in_ptr[k])
        n_out = int(out_ptr[k + 1] - out_ptr[k])
        items = op_inplace[k]
        try:
            items = list(items)
        except TypeError:
            raise ValueError(f"memory_plan: op_inplace[{k}] must be a list of (input_position, "
                             f"output_position) pairs, got {items!r}") from None
        for item in items:
            try:
                ip, oq = (int(v) for v in item)
            except (TypeError, ValueError):
                raise ValueError(f"memory_plan: op_inplace[{k}] must hold (input_position, "
                                 f"output_position) pairs, got {item!r}") from None
            if not (0 <= ip < n_in and 0 <= oq < n_out):
                raise ValueError(f"memory_plan: op {k} in-place pair ({ip}, {oq}) is out of range "
                                 f"for {n_in} inputs and {n_out} outputs")
            pairs.append((ip, oq))
        ptr[k + 1] = len(pairs)
    return ptr, np.ascontiguousarray(np.asarray(pairs, np.int64).reshape(-1, 2))


cdef i64 _place(i64 n_storage, const i64[::1] order, const i64[::1] s_size,
                const i64[::1] s_start, const i64[::1] s_end, i64[::1] s_off,
                i64* placed) noexcept nogil:
    """Greedy placement of storages in ``order``; ``placed`` is scratch of n_storage ids.

    ``placed`` holds the storages placed so far sorted by offset. For a new storage the scan
    keeps ``prev_end``, the highest end among the conflicting storages seen so far; a gap is
    the space between ``prev_end`` and the next conflicting storage. Best fit: the smallest
    gap that holds the new storage, else the top of the conflicting ones. Returns arena bytes.
    """
    cdef i64 n_placed = 0, arena = 0
    cdef i64 j, t, s, p, size, a, b, prev_end, best, best_gap, gap, lo, hi, mid, off, end
    for j in range(n_storage):
        s = order[j]
        size = s_size[s]
        if size == 0:
            s_off[s] = 0        # empty: collides with nothing, stays out of the scan
            continue
        a = s_start[s]
        b = s_end[s]
        prev_end = 0
        best = -1
        best_gap = -1
        for t in range(n_placed):
            p = placed[t]
            if s_start[p] > b or s_end[p] < a:
                continue        # live intervals disjoint: no conflict
            off = s_off[p]
            gap = off - prev_end
            if gap >= size and (best < 0 or gap < best_gap):
                best = prev_end
                best_gap = gap
            end = off + s_size[p]
            if end > prev_end:
                prev_end = end
        off = best if best >= 0 else prev_end
        s_off[s] = off
        if off + size > arena:
            arena = off + size
        # insert s into placed, keeping offsets ascending (upper bound of off)
        lo = 0
        hi = n_placed
        while lo < hi:
            mid = (lo + hi) >> 1
            if s_off[placed[mid]] <= off:
                lo = mid + 1
            else:
                hi = mid
        memmove(&placed[lo + 1], &placed[lo], <size_t>(n_placed - lo) * sizeof(i64))
        placed[lo] = s
        n_placed += 1
    return arena


def memory_plan(entry_bytes, op_inputs, op_outputs, op_inplace, persistent, external,
                alignment=64):
    """Plan one arena for the non-external entries of a graph; see the module docstring.

    Returns a dict: ``offsets`` (int64[E], -1 for external), ``storage_of`` (int64[E], equal ids
    share memory, -1 for external), ``planned_bytes``, ``naive_bytes``, ``lower_bound_bytes``,
    ``entry_peak_bytes`` and ``num_storages``.
    """
    # ---- validate and flatten (Python level, once per bind) --------------------------------
    alignment = int(alignment)
    if alignment <= 0:
        raise ValueError(f"memory_plan: alignment must be positive, got {alignment}")
    sizes_list = _as_int_list(entry_bytes, "entry_bytes")
    cdef i64 E = len(sizes_list)
    raw = np.asarray(sizes_list, np.int64).reshape(-1)
    if E and raw.min() < 0:
        bad = int(np.argmin(raw))
        raise ValueError(f"memory_plan: entry {bad} has negative size {sizes_list[bad]}")
    n_ops_py = len(op_inputs)
    if len(op_outputs) != n_ops_py or len(op_inplace) != n_ops_py:
        raise ValueError(f"memory_plan: op_inputs, op_outputs and op_inplace must have one item "
                         f"per op, got {n_ops_py}, {len(op_outputs)} and {len(op_inplace)}")
    if len(persistent) != E or len(external) != E:
        raise ValueError(f"memory_plan: persistent and external need one flag per entry ({E}), "
                         f"got {len(persistent)} and {len(external)}")
    pers_arr = np.asarray([bool(v) for v in persistent], np.uint8).reshape(-1)
    ext_arr = np.asarray([bool(v) for v in external], np.uint8).reshape(-1)
    cdef i64 n_ops = n_ops_py
    in_ptr_a, in_idx_a = _csr(op_inputs, "op_inputs", n_ops)
    out_ptr_a, out_idx_a = _csr(op_outputs, "op_outputs", n_ops)
    for name, idx in (("op_inputs", in_idx_a), ("op_outputs", out_idx_a)):
        if idx.size and (idx.min() < 0 or idx.max() >= E):
            bad = int(idx[(idx < 0) | (idx >= E)][0])
            raise ValueError(f"memory_plan: {name} refers to entry {bad}, entries are 0..{E - 1}")
    pair_ptr_a, pair_a = _inplace_pairs(op_inplace, in_ptr_a, out_ptr_a)

    cdef const i64[::1] in_ptr = in_ptr_a
    cdef const i64[::1] in_idx = in_idx_a
    cdef const i64[::1] out_ptr = out_ptr_a
    cdef const i64[::1] out_idx = out_idx_a
    cdef const i64[::1] pair_ptr = pair_ptr_a
    cdef const i64[:, ::1] pair = pair_a
    cdef const unsigned char[::1] pers = pers_arr
    cdef const unsigned char[::1] ext = ext_arr
    cdef const i64[::1] nbytes = raw
    cdef i64 align = alignment
    cdef i64 last_step = n_ops - 1 if n_ops > 0 else 0

    aligned_a = (raw + (align - 1)) // align * align
    cdef const i64[::1] asize = aligned_a
    producer_a = np.full(E, -1, np.int64)
    last_read_a = np.full(E, -1, np.int64)
    first_read_a = np.full(E, -1, np.int64)
    cdef i64[::1] producer = producer_a
    cdef i64[::1] last_read = last_read_a
    cdef i64[::1] first_read = first_read_a
    cdef i64 k, j, e, i, o, s, t, r

    # ---- producers and readers ---------------------------------------------------------------
    for k in range(n_ops):
        for j in range(out_ptr[k], out_ptr[k + 1]):
            e = out_idx[j]
            if producer[e] >= 0:
                raise ValueError(f"memory_plan: entry {e} is produced twice, by op {producer[e]} "
                                 f"and by op {k}; an entry has at most one producer")
            producer[e] = k
        for j in range(in_ptr[k], in_ptr[k + 1]):
            e = in_idx[j]
            if first_read[e] < 0:
                first_read[e] = k
            last_read[e] = k
    for e in range(E):
        if producer[e] >= 0 and first_read[e] >= 0 and first_read[e] < producer[e]:
            raise ValueError(f"memory_plan: entry {e} is read by op {first_read[e]} before op "
                             f"{producer[e]} produces it; ops must be in execution order")

    # ---- live intervals of entries -----------------------------------------------------------
    start_a = np.zeros(E, np.int64)
    end_a = np.zeros(E, np.int64)
    cdef i64[::1] start = start_a
    cdef i64[::1] end = end_a
    for e in range(E):
        start[e] = producer[e] if producer[e] >= 0 else 0
        end[e] = last_read[e] if last_read[e] > start[e] else start[e]
        if pers[e]:
            end[e] = last_step

    # ---- pass 1: in-place chains (root[e] is the entry whose storage e uses) -----------------
    root_a = np.arange(E, dtype=np.int64)
    claimed_a = np.full(E, -1, np.int64)       # per root: the op step that already reused it
    cdef i64[::1] root = root_a
    cdef i64[::1] claimed = claimed_a
    cdef i64 n_in_place = 0, reads
    cdef bint o_is_input
    for k in range(n_ops):
        for t in range(pair_ptr[k], pair_ptr[k + 1]):
            i = in_idx[in_ptr[k] + pair[t, 0]]
            o = out_idx[out_ptr[k] + pair[t, 1]]
            if i == o or ext[i] or ext[o] or pers[i] or root[o] != o:
                continue
            if nbytes[i] < nbytes[o] or last_read[i] != k or producer[i] == k:
                continue
            if claimed[root[i]] == k:
                continue        # another output of this op already took that storage
            reads = 0
            o_is_input = False
            for j in range(in_ptr[k], in_ptr[k + 1]):
                if in_idx[j] == i:
                    reads += 1
                elif in_idx[j] == o:
                    o_is_input = True
            if reads != 1 or o_is_input:
                continue
            root[o] = root[i]
            claimed[root[i]] = k
            n_in_place += 1

    # ---- storages: dense ids, sizes, intervals -----------------------------------------------
    storage_a = np.full(E, -1, np.int64)
    cdef i64[::1] storage = storage_a
    cdef i64 n_storage = 0
    for e in range(E):          # number the roots first: a member may precede its root's id
        if not ext[e] and root[e] == e:
            storage[e] = n_storage
            n_storage += 1
    for e in range(E):
        if not ext[e] and root[e] != e:
            storage[e] = storage[root[e]]
    s_size_a = np.zeros(n_storage, np.int64)
    s_start_a = np.full(n_storage, n_ops + 1, np.int64)
    s_end_a = np.full(n_storage, -1, np.int64)
    cdef i64[::1] s_size = s_size_a
    cdef i64[::1] s_start = s_start_a
    cdef i64[::1] s_end = s_end_a
    cdef i64 naive = 0
    for e in range(E):
        if ext[e]:
            continue
        s = storage[e]
        naive += asize[e]
        if asize[e] > s_size[s]:
            s_size[s] = asize[e]
        if start[e] < s_start[s]:
            s_start[s] = start[e]
        if end[e] > s_end[s]:
            s_end[s] = end[e]

    # ---- lower bounds: peak live bytes over steps (difference arrays) ------------------------
    n_steps = last_step + 1
    diff_s = np.zeros(n_steps + 1, np.int64)
    diff_e = np.zeros(n_steps + 1, np.int64)
    cdef i64[::1] ds = diff_s
    cdef i64[::1] de = diff_e
    for s in range(n_storage):
        ds[s_start[s]] += s_size[s]
        ds[s_end[s] + 1] -= s_size[s]
    for e in range(E):
        if not ext[e]:
            de[start[e]] += asize[e]
            de[end[e] + 1] -= asize[e]
    live_storage = np.cumsum(diff_s[:n_steps])
    lower = int(live_storage.max()) if n_steps else 0
    entry_peak = int(np.cumsum(diff_e[:n_steps]).max()) if n_steps else 0

    # ---- pass 2: placement, a few orderings, keep the smallest arena -------------------------
    length = s_end_a - s_start_a
    # the most bytes live at any step of each storage's life: the "greedy by breadth" key
    breadth = np.zeros(n_storage, np.int64)
    if n_storage:
        breadth = _interval_max(live_storage, s_start_a, s_end_a)
    orders = [
        np.lexsort((s_start_a, -length, -s_size_a)),          # size, then longer life first
        np.lexsort((s_start_a, -s_size_a, -breadth)),         # breadth, then size
        np.lexsort((-length, s_start_a, -s_size_a)),          # size, then earlier start
    ]
    if n_storage <= 5000:       # each pass is O(storages x conflicts): extra tries when cheap
        orders += [np.lexsort((-s_size_a, -(s_size_a * (length + 1)))),   # area: bytes x steps
                   np.lexsort((-s_size_a, s_start_a))]                    # in order of birth
    cdef i64* placed = <i64*>malloc(max(n_storage, 1) * sizeof(i64))
    if placed == NULL:
        raise MemoryError("memory_plan: cannot allocate the placement scratch")
    best_off = None
    cdef i64 best_arena = -1, arena
    cdef const i64[::1] order_v
    cdef i64[::1] off_v
    try:
        for order in orders:
            off_a = np.zeros(n_storage, np.int64)
            order_v = np.ascontiguousarray(order, dtype=np.int64)
            off_v = off_a
            with nogil:
                arena = _place(n_storage, order_v, s_size, s_start, s_end, off_v, placed)
            if best_arena < 0 or arena < best_arena:
                best_arena = arena
                best_off = off_a
            if best_arena == lower:
                break           # optimal: no ordering can do better
    finally:
        free(placed)

    offsets_a = np.full(E, -1, np.int64)
    mask = storage_a >= 0
    if n_storage:
        offsets_a[mask] = best_off[storage_a[mask]]
    return {
        "offsets": offsets_a,
        "storage_of": storage_a,
        "planned_bytes": int(best_arena) if best_arena > 0 else 0,
        "naive_bytes": int(naive),
        "lower_bound_bytes": lower,
        "entry_peak_bytes": entry_peak,
        "num_storages": int(n_storage),
        "num_in_place": int(n_in_place),
    }


def _interval_max(values, starts, ends):
    """max(values[starts[s]:ends[s] + 1]) for each s, with a sparse table (O((n + S) log n))."""
    n = values.shape[0]
    table = [np.asarray(values, np.int64)]
    width = 1
    while 2 * width <= n:
        prev = table[len(table) - 1]
        table.append(np.maximum(prev[:-width], prev[width:]))
        width *= 2
    span = ends - starts + 1
    level = np.floor(np.log2(span)).astype(np.int64)
    out = np.empty(starts.shape[0], np.int64)
    for lv in np.unique(level):
        sel = level == lv
        row = table[lv]
        w = 1 << int(lv)
        out[sel] = np.maximum(row[starts[sel]], row[ends[sel] - w + 1])
    return out
