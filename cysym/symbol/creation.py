"""mx.sym.arange, linspace, full and eye: MXNet's Python wrappers of the init operators
(python/mxnet/symbol/symbol.py), dtype float32 unless given."""
import numpy as np

from .symbol import create_op

__all__ = ["arange", "linspace", "full", "eye"]


def _dtype_name(dtype):
    return "float32" if dtype is None else np.dtype(dtype).name


def arange(start, stop=None, step=1.0, repeat=1, infer_range=False, name=None, dtype=None):
    """start, start + step, ... (< stop), each value repeated `repeat` times; a lone `start`
    is the stop, as in Python's range."""
    return create_op("_arange", start=start, stop=stop, step=step, repeat=repeat,
                     infer_range=infer_range, name=name, dtype=_dtype_name(dtype))


def linspace(start, stop, num, endpoint=True, name=None, dtype=None):
    """`num` evenly spaced values from start to stop (stop excluded with endpoint=False)."""
    return create_op("_linspace", start=start, stop=stop, num=num, endpoint=endpoint, name=name,
                     dtype=_dtype_name(dtype))


def full(shape, val, dtype=None, **kwargs):
    """An array of the given shape filled with `val`."""
    return create_op("_full", shape=shape, dtype=_dtype_name(dtype), value=float(val), **kwargs)


def eye(N, M=0, k=0, dtype=None, **kwargs):
    """A 2-D array of N rows and M columns (N when M is 0) with ones on diagonal k."""
    return create_op("_eye", N=N, M=M, k=k, dtype=_dtype_name(dtype), **kwargs)
