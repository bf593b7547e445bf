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
   that blocks whose intervals overlap are disjoint in memory. A pass places them one by one in
   a given order, each into the smallest gap between the already-placed blocks it conflicts
   with, or above them (best fit). A few orders are tried ("greedy by size" and "greedy by
   breadth", Pisarchyk & Lee, 2020, and variants), then "squeaky wheel" passes (Joslin &
   Clements, 1999): the block that sets the arena's top was placed too late, so it moves to the
   front of the breadth order and the pass is redone. Training graphs need them: a huge
   workspace placed first at offset 0 pushes an activation that outlives it above it, and
   every later workspace has to sit on top of that activation. Then a local search from the
   best order so far: one block moves to another place in the order, kept unless the arena
   grows (a fixed-seed generator picks the moves: plans are deterministic). The smallest
   arena is kept; all stops as soon as an arena equals the lower bound below.
   A pass finds the placed blocks a block conflicts with either by scanning all placed blocks
   sorted by offset (when most pairs of blocks are live together, as in training graphs) or,
   when few are, from an index of the live intervals (a segment tree over op steps for the
   blocks live at the block's first step, plus the blocks born during its life), then sorts
   them: a long chain costs O(n log n), not O(n^2).

The returned ``lower_bound_bytes`` is the peak, over steps, of the bytes of the storages live
at that step (sizes rounded up to the alignment, as every offset is aligned; workspaces are
outputs nobody reads, live at their op's step). It is a true lower bound for any placement of
these storages (all of them are live at the peak step, so they must be disjoint); no placement
order can reach it in every case, but on real models the passes above come within 1%. Counting in-place partners separately, as
``entry_peak_bytes`` does, can exceed the arena: in-place sharing is exactly what beats it.
"""
import numpy as np

from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memmove
from libc.stdint cimport int64_t, uint64_t, INT64_MAX

ctypedef int64_t i64

# A sparse pass visits index entries at about this many times the cost of a dense pass's check
# of one placed block; each pass takes the cheaper way.
SPARSE_VISIT_COST = 4
# The first three orders always run. The other two and the squeaky-wheel passes run while their
# work, in dense checks, fits PLACEMENT_WORK_BUDGET (tens of milliseconds; a graph of ~1,400
# storages live together gets all of them, larger ones fewer: planning stays near linear).
# Squeaky-wheel passes stop after MAX_SQUEAKY_PASSES, or SQUEAKY_PATIENCE in a row without a
# smaller arena (on the real models of tests/test_realmodels.py the last improvement came within
# 7 passes, but for one at 25).
PLACEMENT_WORK_BUDGET = 1 << 26
MAX_SQUEAKY_PASSES = 32
SQUEAKY_PATIENCE = 8
# The local search after them polishes: it gets SEARCH_WORK_BUDGET (a few milliseconds), and
# stops after SEARCH_PATIENCE passes in a row without a smaller arena (on small training graphs
# improvements came up to ~4,000 passes apart; such passes take a microsecond or two). An arena
# still more than FAR_FROM_BOUND above the bound after that gets up to FAR_SEARCH_WORK_BUDGET
# in all (at most about a second): DenseNet-121's inference graph at batch 2 (551 storages)
# stayed 11% above the bound with the short search, 5.6-11% with 8x and 16x, and reached it
# with 32x in 0.6 s (loaded machine), while every other real network's graph, inference and
# training at batch 1, 2 and 32, came within 0.3% at once.
SEARCH_WORK_BUDGET = 1 << 22
FAR_SEARCH_WORK_BUDGET = 1 << 27
FAR_FROM_BOUND = 0.02
SEARCH_PATIENCE = 4000


def _as_int_list(obj, what):
    try:
        return [int(v) for v in obj]
    except (TypeError, ValueError):
        raise ValueError(f"memory_plan: {what} must be a list of integers, got {obj!r}") from None


def _csr(lists, what, n_ops):
    """Flatten a list of per-op integer lists into (ptr, idx) int64 arrays."""
    flat = _csr_of_lists(lists, n_ops) if type(lists) is list else None
    if flat is None:    # another form (tuples, arrays, NumPy ints): lists of ints first, each checked
        flat = _csr_of_lists([_as_int_list(items, f"{what}[{k}]") for k, items in enumerate(lists)], n_ops)
    return flat


cdef object _csr_of_lists(list lists, i64 n_ops):
    """_csr's result in two typed passes when every item is a list of Python ints (what bind
    gives, for graphs of 10^5 ops); None for anything else, which _csr makes such lists of."""
    cdef i64 total = 0, k, j = 0
    cdef object items, v
    for items in lists:
        if type(items) is not list:
            return None
        total += len(<list>items)
    ptr_a = np.empty(n_ops + 1, np.int64)
    idx_a = np.empty(total, np.int64)
    cdef i64[::1] ptr = ptr_a
    cdef i64[::1] idx = idx_a
    ptr[0] = 0
    for k in range(n_ops):
        for v in <list>lists[k]:
            if type(v) is not int:
                return None
            idx[j] = v
            j += 1
        ptr[k + 1] = j
    return ptr_a, idx_a


def _inplace_pairs(op_inplace, in_ptr, out_ptr):
    """Validate the in-place pairs; return (ptr, pairs) with pairs an int64 (P, 2) array."""
    pairs = _pairs_of_lists(op_inplace, in_ptr, out_ptr) if type(op_inplace) is list else None
    if pairs is None:   # another form, or a pair out of range: lists of (int, int) first, each checked
        pairs = _pairs_of_lists([_checked_pairs(op_inplace[k], k, int(in_ptr[k + 1] - in_ptr[k]),
                                                int(out_ptr[k + 1] - out_ptr[k]))
                                 for k in range(in_ptr.shape[0] - 1)], in_ptr, out_ptr)
    return pairs


def _checked_pairs(items, k, n_in, n_out):
    """Op k's in-place pairs as a list of (int, int), each within its n_in inputs and n_out
    outputs; a ValueError saying which op and pair otherwise."""
    try:
        items = list(items)
    except TypeError:
        raise ValueError(f"memory_plan: op_inplace[{k}] must be a list of (input_position, "
                         f"output_position) pairs, got {items!r}") from None
    pairs = []
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
    return pairs


cdef object _pairs_of_lists(list op_inplace, const i64[::1] in_ptr, const i64[::1] out_ptr):
    """_inplace_pairs' result in two typed passes when every op's pairs are a list of in-range
    (int, int) tuples; None for anything else, which _inplace_pairs checks and makes such lists of."""
    cdef i64 n_ops = in_ptr.shape[0] - 1, total = 0, k, j = 0, ip, oq
    cdef object items, item
    if len(op_inplace) != n_ops:
        return None
    for items in op_inplace:
        if type(items) is not list:
            return None
        total += len(<list>items)
    ptr_a = np.empty(n_ops + 1, np.int64)
    pairs_a = np.empty((total, 2), np.int64)
    cdef i64[::1] ptr = ptr_a
    cdef i64[:, ::1] pairs = pairs_a
    ptr[0] = 0
    for k in range(n_ops):
        for item in <list>op_inplace[k]:
            if (type(item) is not tuple or len(<tuple>item) != 2 or type((<tuple>item)[0]) is not int
                    or type((<tuple>item)[1]) is not int):
                return None
            ip = (<tuple>item)[0]
            oq = (<tuple>item)[1]
            if not (0 <= ip < in_ptr[k + 1] - in_ptr[k] and 0 <= oq < out_ptr[k + 1] - out_ptr[k]):
                return None
            pairs[j, 0] = ip
            pairs[j, 1] = oq
            j += 1
        ptr[k + 1] = j
    return ptr_a, pairs_a


cdef object _flags(object values):
    """uint8 [bool(v) for v in values]."""
    cdef Py_ssize_t n = len(values), e
    flags_a = np.empty(n, np.uint8)
    cdef unsigned char[::1] flags = flags_a
    if type(values) is list:
        for e in range(n):
            flags[e] = 1 if (<list>values)[e] else 0
        return flags_a
    return np.asarray([bool(v) for v in values], np.uint8).reshape(-1)


cdef struct Span:
    i64 lo
    i64 hi


cdef void _sort_spans(Span* v, i64 n) noexcept nogil:
    """Sort spans by ``lo``: quicksort (median of three) down to runs of 16, then insertion."""
    cdef i64 lo = 0, hi = n - 1, i, j, mid, sp = 0
    cdef i64 stack[128]             # the larger side is pushed: at most 2 log2(n) entries
    cdef Span pivot, tmp
    while True:
        while hi - lo > 16:
            mid = lo + ((hi - lo) >> 1)
            if v[mid].lo < v[lo].lo:
                tmp = v[mid]; v[mid] = v[lo]; v[lo] = tmp
            if v[hi].lo < v[lo].lo:
                tmp = v[hi]; v[hi] = v[lo]; v[lo] = tmp
            if v[hi].lo < v[mid].lo:
                tmp = v[hi]; v[hi] = v[mid]; v[mid] = tmp
            pivot = v[mid]
            i = lo
            j = hi
            while i <= j:
                while v[i].lo < pivot.lo:
                    i += 1
                while v[j].lo > pivot.lo:
                    j -= 1
                if i <= j:
                    tmp = v[i]; v[i] = v[j]; v[j] = tmp
                    i += 1
                    j -= 1
            if j - lo < hi - i:
                stack[sp] = i; stack[sp + 1] = hi
                hi = j
            else:
                stack[sp] = lo; stack[sp + 1] = j
                lo = i
            sp += 2
        if sp == 0:
            break
        sp -= 2
        lo = stack[sp]
        hi = stack[sp + 1]
    for i in range(1, n):
        tmp = v[i]
        j = i - 1
        while j >= 0 and v[j].lo > tmp.lo:
            v[j + 1] = v[j]
            j -= 1
        v[j + 1] = tmp


cdef struct Blocks:
    # the storages: size (aligned bytes) and live interval [start, end] in op steps
    i64 n
    const i64* size
    const i64* start
    const i64* end
    # the interval index: blocks stored at segment-tree nodes (CSR), blocks by first step (CSR)
    i64 width
    const i64* node_ptr
    const i64* node_ids
    const i64* start_ptr
    const i64* by_start
    bint dense                      # scan every placed block instead of querying the index


cdef struct Placed:
    i64 start                       # live interval
    i64 end
    i64 lo                          # bytes [lo, hi) of the arena
    i64 hi


cdef i64 _place(const Blocks* B, const i64* order, i64* off, unsigned char* placed,
                Placed* by_offset, Span* spans, i64* top) noexcept nogil:
    """One best-fit pass over the blocks in ``order``; fills ``off``, returns the arena bytes.

    ``top`` gets the last-placed block whose end is the arena's end. Scratch: ``placed`` (a flag
    per block), ``by_offset`` (the placed blocks sorted by offset, dense passes) and ``spans``.
    """
    cdef i64 arena = 0, n_placed = 0, j, t, s, p, size, a, b, node, n, prev_end, best, best_gap
    cdef i64 gap, lo, hi, mid
    # While every block went on top, the placed blocks tile [0, arena) with no hole; a block
    # then live with all of them (its life meets the earliest end and the latest start) can only
    # go on top, found in O(1): a graph of n blocks all live together (a SliceChannel with
    # 65,536 outputs) costs O(n log n), not O(n^2). Same offsets as the scan below.
    cdef bint packed = True
    cdef i64 min_end = INT64_MAX, max_start = -1
    for j in range(B.n):
        placed[j] = 0
    top[0] = -1
    for j in range(B.n):
        s = order[j]
        size = B.size[s]
        if size == 0:
            off[s] = 0          # empty: collides with nothing, stays out of every scan
            continue
        a = B.start[s]
        b = B.end[s]
        if packed and a <= min_end and b >= max_start:
            off[s] = arena
            placed[s] = 1
            arena += size
            top[0] = s
            max_start = a if a > max_start else max_start
            min_end = b if b < min_end else min_end
            if B.dense:         # on top: the end of by_offset
                by_offset[n_placed].start = a
                by_offset[n_placed].end = b
                by_offset[n_placed].lo = off[s]
                by_offset[n_placed].hi = off[s] + size
                n_placed += 1
            continue
        # the placed blocks live together with s, as spans sorted by offset
        n = 0
        if B.dense:
            for t in range(n_placed):
                if by_offset[t].start <= b and by_offset[t].end >= a:
                    spans[n].lo = by_offset[t].lo
                    spans[n].hi = by_offset[t].hi
                    n += 1
        else:
            node = B.width + a          # blocks live at step a: those on the leaf's root path
            while node >= 1:
                for t in range(B.node_ptr[node], B.node_ptr[node + 1]):
                    p = B.node_ids[t]
                    if placed[p]:
                        spans[n].lo = off[p]
                        spans[n].hi = off[p] + B.size[p]
                        n += 1
                node >>= 1
            for t in range(B.start_ptr[a + 1], B.start_ptr[b + 1]):    # born during s's life
                p = B.by_start[t]
                if placed[p]:
                    spans[n].lo = off[p]
                    spans[n].hi = off[p] + B.size[p]
                    n += 1
            _sort_spans(spans, n)
        # best fit: the smallest gap that holds s, else the top of the conflicting blocks
        prev_end = 0
        best = -1
        best_gap = -1
        for t in range(n):
            gap = spans[t].lo - prev_end
            if gap >= size and (best < 0 or gap < best_gap):
                best = prev_end
                best_gap = gap
            if spans[t].hi > prev_end:
                prev_end = spans[t].hi
        off[s] = best if best >= 0 else prev_end
        placed[s] = 1
        packed = packed and off[s] == arena
        max_start = a if a > max_start else max_start
        min_end = b if b < min_end else min_end
        if off[s] + size >= arena:
            arena = off[s] + size
            top[0] = s
        if B.dense:             # insert s into by_offset, keeping offsets ascending
            lo = 0
            hi = n_placed
            while lo < hi:
                mid = (lo + hi) >> 1
                if by_offset[mid].lo <= off[s]:
                    lo = mid + 1
                else:
                    hi = mid
            memmove(&by_offset[lo + 1], &by_offset[lo], <size_t>(n_placed - lo) * sizeof(Placed))
            by_offset[lo].start = a
            by_offset[lo].end = b
            by_offset[lo].lo = off[s]
            by_offset[lo].hi = off[s] + size
            n_placed += 1
    return arena


cdef void _move(i64* order, i64 i, i64 j) noexcept nogil:
    """Move order[i] to position j, shifting the blocks in between by one."""
    cdef i64 s = order[i]
    if i < j:
        memmove(&order[i], &order[i + 1], <size_t>(j - i) * sizeof(i64))
    elif j < i:
        memmove(&order[j + 1], &order[j], <size_t>(i - j) * sizeof(i64))
    order[j] = s


cdef struct Search:
    const Blocks* blocks
    i64 lower                       # peak live bytes: no arena is smaller
    i64 passes_left                 # of the work budget
    i64 far_passes                  # more local search while best_arena > far_arena
    i64 far_arena
    i64 max_squeaky                 # MAX_SQUEAKY_PASSES, SQUEAKY_PATIENCE, SEARCH_PATIENCE
    i64 squeaky_patience
    i64 search_patience
    i64 best_arena
    i64* best_off                   # offsets and order of the smallest arena so far
    i64* best_order
    i64* off                        # scratch of a pass
    unsigned char* placed
    Placed* by_offset
    Span* spans


cdef i64 _try(Search* S, const i64* order, i64* top) noexcept nogil:
    """One pass; keeps it if its arena is the smallest so far. Returns its arena."""
    cdef i64 arena = _place(S.blocks, order, S.off, S.placed, S.by_offset, S.spans, top)
    cdef size_t nbytes = <size_t>S.blocks.n * sizeof(i64)
    S.passes_left -= 1
    if S.best_arena < 0 or arena < S.best_arena:
        S.best_arena = arena
        memcpy(S.best_off, S.off, nbytes)
        memcpy(S.best_order, order, nbytes)
    return arena


cdef void _squeaky_wheel(Search* S, i64* order, i64 top) noexcept nogil:
    """Squeaky-wheel passes from ``order``, whose pass put block ``top`` at the arena's top:
    that block moves to the front and the pass is redone, and so on."""
    cdef i64 k, i, stale = 0, before
    for k in range(S.max_squeaky):
        if S.best_arena == S.lower or S.passes_left <= 0 or top < 0:
            return
        i = 0
        while order[i] != top:
            i += 1
        _move(order, i, 0)
        before = S.best_arena
        _try(S, order, &top)
        stale = 0 if S.best_arena < before else stale + 1
        if stale == S.squeaky_patience:
            return


cdef void _local_search(Search* S, i64* order) noexcept nogil:
    """From ``order`` (the best so far): move a random block to a random position, keep the
    move unless the arena grows. Deterministic: a fixed-seed xorshift picks the moves."""
    cdef i64 n = S.blocks.n, current = S.best_arena, i, j, arena, before, top, stale = 0
    cdef uint64_t state = 0x9E3779B97F4A7C15
    if n < 2:
        return                  # (a single block is at offset 0: its arena is the bound)
    while S.best_arena > S.lower and stale < S.search_patience:
        if S.passes_left <= 0:
            if S.best_arena <= S.far_arena or S.far_passes <= 0:
                break
            S.passes_left, S.far_passes = S.far_passes, 0
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        i = <i64>(state % <uint64_t>n)
        j = <i64>((state >> 32) % <uint64_t>(n - 1))      # any other position
        j += j >= i
        _move(order, i, j)
        before = S.best_arena
        arena = _try(S, order, &top)
        if arena <= current:
            current = arena         # equal arenas are accepted: walk across plateaus
        else:
            _move(order, j, i)
        stale = 0 if S.best_arena < before else stale + 1


def _interval_index(s_size, s_start, s_end, n_steps):
    """The sparse passes' index: a segment tree over op steps holding each non-empty block at
    the O(log n) nodes that cover its interval exactly once (node_ptr, node_ids), and the blocks
    sorted by first step (start_ptr, by_start). Also the work of one sparse pass: the entries
    its queries visit."""
    width = 1
    while width < n_steps:
        width *= 2
    nonempty = np.nonzero(s_size > 0)[0]
    # canonical cover of [start, end] in the bottom-up tree: the nodes l, r met when walking up
    lo = s_start[nonempty] + width
    hi = s_end[nonempty] + width + 1
    ids = [np.empty(0, np.int64)]
    nodes = [np.empty(0, np.int64)]
    block = nonempty
    while lo.size:
        take = (lo & 1) == 1
        nodes.append(lo[take])
        ids.append(block[take])
        lo = lo + take
        take = (hi & 1) == 1
        nodes.append(hi[take] - 1)
        ids.append(block[take])
        hi = hi - take
        lo >>= 1
        hi >>= 1
        keep = lo < hi
        lo, hi, block = lo[keep], hi[keep], block[keep]
    nodes = np.concatenate(nodes)
    ids = np.concatenate(ids)
    order = np.argsort(nodes, kind="stable")
    node_ids = np.ascontiguousarray(ids[order], dtype=np.int64)
    node_ptr = np.zeros(2 * width + 1, np.int64)
    np.cumsum(np.bincount(nodes, minlength=2 * width), out=node_ptr[1:])
    by_start = np.ascontiguousarray(nonempty[np.argsort(s_start[nonempty], kind="stable")],
                                    dtype=np.int64)
    start_ptr = np.zeros(n_steps + 1, np.int64)
    np.cumsum(np.bincount(s_start[nonempty], minlength=n_steps), out=start_ptr[1:])
    # visits: the blocks stored on each root path, plus the blocks born during each life
    on_path = np.diff(node_ptr)         # blocks stored at each node, then summed root-down
    level = 2
    while level < 2 * width:
        on_path[level:2 * level] += np.repeat(on_path[level // 2:level], 2)
        level *= 2
    visits = int(on_path[s_start[nonempty] + width].sum()
                 + (start_ptr[s_end[nonempty] + 1] - start_ptr[s_start[nonempty] + 1]).sum())
    # one spare element each: the placement takes their first element's address even when empty
    return (width, node_ptr, np.append(node_ids, 0), start_ptr, np.append(by_start, 0),
            visits)


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
    pers_arr = _flags(persistent)
    ext_arr = _flags(external)
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

    # ---- pass 2: placement ------------------------------------------------------------------
    best_arena, best_off = 0, None
    if n_storage and lower:
        best_arena, best_off = _placement(s_size_a, s_start_a, s_end_a, live_storage, lower)

    offsets_a = np.full(E, -1, np.int64)
    mask = storage_a >= 0
    if best_off is not None:
        offsets_a[mask] = best_off[storage_a[mask]]
    else:
        offsets_a[mask] = 0
    return {
        "offsets": offsets_a,
        "storage_of": storage_a,
        "planned_bytes": int(best_arena),
        "naive_bytes": int(naive),
        "lower_bound_bytes": lower,
        "entry_peak_bytes": entry_peak,
        "num_storages": int(n_storage),
        "num_in_place": int(n_in_place),
    }


def _placement(s_size_a, s_start_a, s_end_a, live_storage, i64 lower):
    """(arena bytes, offset per storage): the smallest arena of the passes, stopping when one
    reaches ``lower`` (the peak live bytes; nothing does better) or the work budget is spent."""
    cdef i64 n_storage = s_size_a.shape[0]
    length = s_end_a - s_start_a
    # the most bytes live at any step of each storage's life: the "greedy by breadth" key
    breadth = _interval_max(live_storage, s_start_a, s_end_a)
    orders = [
        np.lexsort((s_start_a, -length, -s_size_a)),          # size, then longer life first
        np.lexsort((s_start_a, -s_size_a, -breadth)),         # breadth, then size
        np.lexsort((-length, s_start_a, -s_size_a)),          # size, then earlier start
        np.lexsort((-s_size_a, -(s_size_a * (length + 1)))),  # area: bytes x steps
        np.lexsort((-s_size_a, s_start_a)),                   # in order of birth
    ]
    width, node_ptr_a, node_ids_a, start_ptr_a, by_start_a, visits = _interval_index(
        s_size_a, s_start_a, s_end_a, live_storage.shape[0])
    dense_work = n_storage * (n_storage + 1) // 2
    pass_work = max(min(dense_work, SPARSE_VISIT_COST * visits), 1)
    cdef const i64[::1] s_size = s_size_a
    cdef const i64[::1] s_start = s_start_a
    cdef const i64[::1] s_end = s_end_a
    cdef const i64[::1] node_ptr = node_ptr_a
    cdef const i64[::1] node_ids = node_ids_a
    cdef const i64[::1] start_ptr = start_ptr_a
    cdef const i64[::1] by_start = by_start_a
    cdef Blocks blocks
    blocks.n = n_storage
    blocks.size = &s_size[0]
    blocks.start = &s_start[0]
    blocks.end = &s_end[0]
    blocks.width = width
    blocks.node_ptr = &node_ptr[0]
    blocks.node_ids = &node_ids[0]
    blocks.start_ptr = &start_ptr[0]
    blocks.by_start = &by_start[0]
    blocks.dense = dense_work <= SPARSE_VISIT_COST * visits

    best_off_a = np.zeros(n_storage, np.int64)
    best_order_a = np.zeros(n_storage, np.int64)
    off_a = np.zeros(n_storage, np.int64)
    cdef i64[::1] best_off = best_off_a
    cdef i64[::1] best_order = best_order_a
    cdef i64[::1] off = off_a
    cdef i64[::1] order
    cdef i64 top = -1, k
    cdef Search S
    S.blocks = &blocks
    S.lower = lower
    S.max_squeaky = MAX_SQUEAKY_PASSES
    S.squeaky_patience = SQUEAKY_PATIENCE
    S.search_patience = SEARCH_PATIENCE
    S.best_arena = -1
    S.best_off = &best_off[0]
    S.best_order = &best_order[0]
    S.off = &off[0]
    S.placed = <unsigned char*>malloc(n_storage)
    S.by_offset = <Placed*>malloc(n_storage * sizeof(Placed))
    S.spans = <Span*>malloc(n_storage * sizeof(Span))
    try:
        if S.placed == NULL or S.by_offset == NULL or S.spans == NULL:
            raise MemoryError("memory_plan: cannot allocate the placement scratch")
        # the first three orders always, then the others and the squeaky-wheel passes within
        # the placement budget, then local search within its own
        S.passes_left = 3 + max(PLACEMENT_WORK_BUDGET - 3 * pass_work, 0) // pass_work
        for k in range(len(orders)):
            if S.best_arena == lower or S.passes_left <= 0:
                break
            order = np.ascontiguousarray(orders[k], dtype=np.int64)
            with nogil:
                _try(&S, &order[0], &top)
            if k == 1:
                by_breadth, breadth_top = order, top
        if S.best_arena > lower and S.passes_left > 0:
            order = by_breadth
            with nogil:
                _squeaky_wheel(&S, &order[0], breadth_top)
        S.passes_left = SEARCH_WORK_BUDGET // pass_work
        S.far_passes = max(FAR_SEARCH_WORK_BUDGET - SEARCH_WORK_BUDGET, 0) // pass_work
        S.far_arena = lower + <i64>(FAR_FROM_BOUND * lower)
        if S.best_arena > lower and S.passes_left > 0:
            order = best_order_a.copy()
            with nogil:
                _local_search(&S, &order[0])
    finally:
        free(S.placed)
        free(S.by_offset)
        free(S.spans)
    return S.best_arena, best_off_a


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
