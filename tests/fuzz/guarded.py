"""Arrays whose data ends at an inaccessible page, so that a kernel reading or writing even one
element past them faults (SIGSEGV) instead of silently using a neighbour's memory: the cheap
stand-in for AddressSanitizer that every test run has."""
import ctypes
import mmap

import numpy as np

PAGE = mmap.PAGESIZE
_LIBC = ctypes.CDLL(None, use_errno=True)
_PROT_NONE = 0


def guarded_array(values):
    """A copy of `values` placed so that its last byte is the last byte before a PROT_NONE page
    (an empty array's data pointer is the guard page itself)."""
    values = np.ascontiguousarray(values)
    pages = -(-values.nbytes // PAGE)
    mapping = mmap.mmap(-1, (pages + 1) * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mapping))
    guard = base + pages * PAGE
    if _LIBC.mprotect(ctypes.c_void_p(guard), PAGE, _PROT_NONE) != 0:
        raise OSError(ctypes.get_errno(), "mprotect of the guard page failed")
    # the array holds the mapping (its base): unmapped when the last view goes
    array = np.ndarray(values.shape, values.dtype, buffer=mapping, offset=pages * PAGE - values.nbytes)
    array[...] = values
    return array

