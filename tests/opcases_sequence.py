"""Registry-table rows for the sequence operators (cysym/ops/sequence.py).

References are NumPy written from MXNet 1.9.1's kernels (sequence_mask.cc, sequence_last-inl.h,
sequence_reverse-inl.h): a length is truncated toward zero (2.7 counts as 2)."""
import numpy as np

from opcase import Case, signed
from opcases_index import fixed


def _steps(lengths, steps):
    return np.clip(np.trunc(lengths), 0, steps).astype(int)


def np_sequence_mask(data, sequence_length=None, use_sequence_length=False, value=0.0, axis=0):
    out = data.copy()
    if use_sequence_length:
        for b, n in enumerate(_steps(sequence_length, data.shape[axis])):
            if axis == 0:
                out[n:, b] = value
            else:
                out[b, n:] = value
    return out


def np_sequence_last(data, sequence_length=None, use_sequence_length=False, axis=0):
    steps = data.shape[axis]
    ends = _steps(sequence_length, steps) if use_sequence_length else \
        np.full(data.shape[1 - axis], steps)
    seq_first = data if axis == 0 else np.swapaxes(data, 0, 1)
    return np.stack([seq_first[max(n, 1) - 1, b] for b, n in enumerate(ends)])


def np_sequence_reverse(data, sequence_length=None, use_sequence_length=False, axis=0):
    if not use_sequence_length:
        return data[::-1].copy()
    out = data.copy()
    for b, n in enumerate(_steps(sequence_length, data.shape[0])):
        out[:n, b] = data[:n, b][::-1]
    return out


LENGTHS = ((3,), fixed([1, 4, 2.7]))
WITH_LENGTHS = dict(use_sequence_length=True)

CASE_LIST = [
    # -- SequenceMask --------------------------------------------------------------------------
    Case("SequenceMask", {"data": ((4, 3, 2), signed)}, ref=np_sequence_mask,
         bad=[("params", {"axis": 2}), ("shapes", {"data": (4,)})]),
    Case("SequenceMask", {"data": ((4, 3, 2), signed), "sequence_length": LENGTHS},
         params=dict(WITH_LENGTHS, value=-1.5), ref=np_sequence_mask, id="SequenceMask-lengths",
         bad=[("shapes", {"data": (4, 3, 2), "sequence_length": (4,)})]),
    Case("SequenceMask", {"data": ((3, 5, 2, 2), signed),
                          "sequence_length": ((3,), fixed([0, 5, 3.5]))},
         params=dict(WITH_LENGTHS, axis=1), ref=np_sequence_mask, id="SequenceMask-axis1"),
    # -- SequenceLast --------------------------------------------------------------------------
    Case("SequenceLast", {"data": ((4, 3, 2), signed)}, ref=np_sequence_last,
         bad=[("params", {"axis": -1}), ("shapes", {"data": (4,)})]),
    Case("SequenceLast", {"data": ((4, 3, 2), signed), "sequence_length": LENGTHS},
         params=WITH_LENGTHS, ref=np_sequence_last, id="SequenceLast-lengths",
         bad=[("shapes", {"data": (4, 3, 2), "sequence_length": (2,)})]),
    Case("SequenceLast", {"data": ((3, 5, 2), signed), "sequence_length": ((3,), fixed([5, 1, 3]))},
         params=dict(WITH_LENGTHS, axis=1), ref=np_sequence_last, id="SequenceLast-axis1"),
    Case("SequenceLast", {"data": ((2, 5), signed)}, params=dict(axis=1), ref=np_sequence_last,
         id="SequenceLast-2d-axis1"),
    # -- SequenceReverse -----------------------------------------------------------------------
    Case("SequenceReverse", {"data": ((4, 3, 2), signed)}, ref=np_sequence_reverse,
         bad=[("params", {"axis": 1})]),
    Case("SequenceReverse", {"data": ((4, 3, 2), signed), "sequence_length": LENGTHS},
         params=WITH_LENGTHS, ref=np_sequence_reverse, id="SequenceReverse-lengths",
         bad=[("shapes", {"data": (4, 3, 2), "sequence_length": (4,)})]),
]
