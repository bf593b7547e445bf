"""NDArray: a NumPy array with MXNet's conveniences, and MXNet's binary NDArray-list files.

`NDArray` is a thin `numpy.ndarray` subclass (make one with `np.zeros(...).view(NDArray)` or `array()`);
every NumPy operation works on it unchanged. cysym computes on the CPU only, so contexts are
accepted for compatibility and every array reports `cpu(0)`.

File format (`save` / `load`, MXNet 1.x `.params` and `.nd` files)
------------------------------------------------------------------
Everything is little-endian. This is what `MXNDArraySave` (`src/c_api/c_api.cc`) and
`NDArray::Save` / `NDArray::Load` (`src/ndarray/ndarray.cc`) write and read::

    uint64  list magic 0x112
    uint64  reserved, 0
    uint64  number of arrays N, then N records:
        uint32  record magic: 0xF993FAC9 (V2, written by MXNet's default shape mode)
                              0xF993FACA (V3, written under `mx.util.np_shape(True)`)
                              0xF993FAC8 (V1, older files, no storage-type field)
                              anything else: a legacy record whose magic *is* ndim
        int32   storage type (V2/V3 only); 0 = dense. Sparse (1 row_sparse, 2 csr) is refused.
        shape   V1/V2/V3: int32 ndim, then ndim x int64 dims
                legacy:   (ndim was the magic) ndim x uint32 dims
        -- a record stops here if its shape is "unknown": ndim 0 for V1/V2/legacy,
           ndim -1 or any dim -1 for V3 (MXNet loads such a record as an empty "none" array) --
        int32   context dev_type (1 cpu, 2 gpu, 3 cpu_pinned, 5 cpu_shared)
        int32   context dev_id
        int32   type flag: float32 0, float64 1, float16 2, uint8 3, int32 4, int8 5, int64 6, bool 7
        bytes   prod(dims) x itemsize bytes of data, C order
    uint64  number of names: 0 (the file holds a list) or N (a dict), then per name:
        uint64  byte length
        bytes   UTF-8 name

How cysym maps arrays onto records:

* an array with ndim >= 1 (including empty ones, e.g. shape (0, 3)) -> a V2 record, exactly as MXNet
  1.9.1 writes it, so `save(f, load(f))` reproduces MXNet's files byte for byte;
* a 0-d array -> a V3 record carrying its value. MXNet's default (legacy) shape mode cannot store a
  0-d array at all (it writes a record it cannot read back); V3 is what MXNet writes for one under
  `np_shape(True)`, and MXNet loads it there;
* a "none" record read from a file is returned as a 0-d float32 NDArray whose `is_none` attribute is
  True, and is written back as the same shape-only V2 record.

`load` treats the file as untrusted: every length is checked against the bytes that remain before
anything is allocated, and any problem raises `ParamsFormatError` naming the file, the byte offset
and what was expected.
"""
import builtins
import math
import struct

import numpy as np

from .base import (MXNetError, ParamsFormatError, ShapeError, TypeInferenceError, atomic_write,
                   dtype_code, CODE_TO_DTYPE)
from .context import Context, cpu
from .shapes import MAX_ELEMENTS

__all__ = ["NDArray", "array", "zeros", "ones", "empty", "full", "arange", "concat", "waitall",
           "save", "load", "load_frombuffer", "NDArrayTypeError"]

LIST_MAGIC = 0x112
NDARRAY_V1_MAGIC = 0xF993FAC8
NDARRAY_V2_MAGIC = 0xF993FAC9
NDARRAY_V3_MAGIC = 0xF993FACA
MAX_NDIM = 32
# The dtypes a file can hold, in type-flag order.
ALL_DTYPES = tuple(str(CODE_TO_DTYPE[code]) for code in sorted(CODE_TO_DTYPE))
_KNOWN_DEV_TYPES = (1, 2, 3, 5)
# The smallest record is a legacy one with ndim 0: just its 4-byte magic. A name is at least its
# 8-byte length. These bound the counts a file may claim before anything is allocated.
_MIN_RECORD_BYTES = 4
_MIN_NAME_BYTES = 8


class NDArrayTypeError(MXNetError, TypeError):
    """An argument has the wrong type: a non-string key or a non-array value given to save(),
    or a copyto() destination that is neither an array nor a Context."""


class NDArray(np.ndarray):
    """A NumPy array with MXNet's NDArray methods (`asnumpy`, `copyto`, `context`, ...)."""

    @property
    def context(self):
        """Where the array lives: always cpu(0) in cysym."""
        return cpu()

    ctx = context

    @property
    def stype(self):
        """The storage type: always 'default' (dense) in cysym."""
        return "default"

    def tostype(self, stype):
        """A copy in storage type `stype`: only 'default' (dense) exists in cysym."""
        if stype != "default":
            raise MXNetError(f"tostype({stype!r}): cysym arrays are dense (stype 'default') only")
        return np.array(self, copy=True, subok=False).view(NDArray)

    def asnumpy(self):
        """A plain `numpy.ndarray` copy of the values."""
        return np.array(self, copy=True, subok=False)

    def asscalar(self):
        """The single value of a size-1 array, as a NumPy scalar."""
        if self.size != 1:
            raise ShapeError(f"asscalar() needs an array with exactly one element, "
                             f"got shape {self.shape}")
        return np.asarray(self).reshape(-1)[0]

    def astype(self, dtype, copy=True, **kwargs):
        """The values converted to `dtype`, as an NDArray."""
        return np.asarray(self).astype(dtype, copy=copy, **kwargs).view(NDArray)

    def copyto(self, other):
        """Copy the values into `other` (an array of the same shape; values are cast to its dtype)
        and return it, or, when `other` is a Context, return a new NDArray copy there."""
        if isinstance(other, Context):
            return np.array(self, copy=True, subok=False).view(NDArray)
        if not isinstance(other, np.ndarray):
            raise NDArrayTypeError(f"copyto() expects an NDArray or a Context, "
                                   f"got {type(other).__name__}")
        if other.shape != self.shape:
            raise ShapeError(f"copyto(): shape mismatch, source has shape {self.shape} "
                             f"but destination has shape {other.shape}")
        if other is not self:
            np.copyto(other, self, casting="unsafe")
        return other

    def as_in_context(self, context):
        """This array if it already lives in `context`, else a copy there."""
        if context == self.context:
            return self
        return self.copyto(context)

    def wait_to_read(self):
        """No-op: cysym computes synchronously."""
        return None

    def __repr__(self):
        shape_info = "x".join(str(dim) for dim in self.shape)
        return f"\n{np.asarray(self)!s}\n<{type(self).__name__} {shape_info} @{self.context}>"

    # MXNet divides integer arrays in their own dtype, truncating toward zero as C does
    # (NumPy's `/` would give float64); a Python number is first truncated to an integer.
    def __truediv__(self, other):
        if _is_integer_division(self, other):
            return _truncating_divide(self, other, self.dtype)
        return super().__truediv__(other)

    def __rtruediv__(self, other):
        if _is_integer_division(self, other):
            return _truncating_divide(other, self, self.dtype)
        return super().__rtruediv__(other)

    def __itruediv__(self, other):
        if _is_integer_division(self, other):
            self[...] = _truncating_divide(self, other, self.dtype)
            return self
        return super().__itruediv__(other)

    # `%` is MXNet's mod operator, as MXNet's NDArray.__mod__ calls it: NumPy's remainder gives
    # other zero signs (-4 % -2 is -0 in MXNet, 0 in NumPy)
    def __mod__(self, other):
        if not isinstance(other, (np.ndarray,) + _NUMBER_TYPES):
            return NotImplemented
        return modulo(self, other)  # noqa: F821  (defined with the element-wise helpers below)

    def __rmod__(self, other):
        if not isinstance(other, (np.ndarray,) + _NUMBER_TYPES):
            return NotImplemented
        return modulo(other, self)  # noqa: F821

    def __imod__(self, other):
        result = self.__mod__(other)
        if result is NotImplemented:
            return result
        self[...] = result
        return self


def _is_integer_division(array, other):
    """True when `array` (integer) meets a Python/NumPy number or another integer array."""
    if array.dtype.kind not in "iu":
        return False
    if isinstance(other, np.ndarray):
        return other.dtype.kind in "iu"
    return isinstance(other, (int, float, np.integer, np.floating)) and not isinstance(other, bool)


def _truncating_divide(numerator, denominator, dtype):
    """numerator / denominator rounded toward zero, integer in, integer out; x / 0 gives 0."""
    operands = []
    for value in (numerator, denominator):
        if not isinstance(value, np.ndarray):
            value = np.asarray(int(value), dtype=dtype)
        operands.append(np.asarray(value))
    n, d = operands
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = np.floor_divide(n, d)
        # floor and truncation differ where the division is inexact and the signs differ
        quotient += (np.remainder(n, d) != 0) & ((n < 0) != (d < 0))
    return quotient.view(NDArray)


# --------------------------------------------------------------------------- creation


def _dtype_or_default(dtype):
    return np.dtype(np.float32 if dtype is None else dtype)


def array(source, ctx=None, dtype=None):
    """A new NDArray holding a copy of `source`.

    dtype: the given one; else the dtype of `source` when it is an NDArray; else float32, as
    MXNet 1.x does (a float64 NumPy array or a list of ints becomes float32)."""
    if dtype is None:
        dtype = source.dtype if isinstance(source, NDArray) else np.float32
    return np.array(source, dtype=dtype, copy=True, subok=False, order="C").view(NDArray)


def zeros(shape, ctx=None, dtype="float32", **kwargs):
    """An NDArray of zeros (float32 unless dtype says otherwise)."""
    return np.zeros(shape, _dtype_or_default(dtype)).view(NDArray)


def ones(shape, ctx=None, dtype="float32", **kwargs):
    """An NDArray of ones (float32 unless dtype says otherwise)."""
    return np.ones(shape, _dtype_or_default(dtype)).view(NDArray)


def empty(shape, ctx=None, dtype="float32"):
    """An uninitialized NDArray (float32 unless dtype says otherwise)."""
    return np.empty(shape, _dtype_or_default(dtype)).view(NDArray)


def full(shape, val, ctx=None, dtype="float32", out=None):
    """An NDArray filled with ``val``, written into ``out`` when given."""
    result = np.full(shape, val, _dtype_or_default(dtype)).view(NDArray)
    if out is not None:
        return result.copyto(out)
    return result


def arange(start, stop=None, step=1.0, repeat=1, ctx=None, dtype="float32", infer_range=None):
    """start, start + step, ... (< stop), each value repeated `repeat` times."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange(): step must not be 0")
    if int(repeat) < 1:
        raise ValueError(f"arange(): repeat must be >= 1, got {repeat}")
    count = max(0, math.ceil((stop - start) / step))
    values = start + np.arange(count, dtype=np.float64) * step
    return np.repeat(values, int(repeat)).astype(_dtype_or_default(dtype)).view(NDArray)


def concat(*arrays, dim=1):
    """Join arrays along axis `dim`."""
    if not arrays:
        raise ShapeError("concat() needs at least one array")
    try:
        return np.concatenate([np.asarray(a) for a in arrays], axis=dim).view(NDArray)
    except ValueError as err:  # includes numpy.exceptions.AxisError
        shapes = [np.shape(a) for a in arrays]
        raise ShapeError(f"concat(dim={dim}): cannot join shapes {shapes}: {err}") from err


def waitall():
    """No-op: cysym computes synchronously."""
    return None


# --------------------------------------------------------------------------- saving


def _encode_record(value, where):
    if getattr(value, "is_none", False) is True:
        return struct.pack("<Iii", NDARRAY_V2_MAGIC, 0, 0)  # magic, dense, ndim 0
    if isinstance(value, np.generic):  # a NumPy scalar, e.g. from a full reduction
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise NDArrayTypeError(f"save(): {where} is a {type(value).__name__}, expected an NDArray")
    try:
        code = dtype_code(value.dtype.newbyteorder("="))
    except TypeInferenceError as err:
        raise TypeInferenceError(f"save(): {where} has dtype {value.dtype}, which MXNet files cannot "
                                 f"store; supported: {', '.join(ALL_DTYPES)}") from err
    data = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
    magic = NDARRAY_V3_MAGIC if value.ndim == 0 else NDARRAY_V2_MAGIC
    header = struct.pack(f"<Iii{value.ndim}q", magic, 0, value.ndim, *value.shape)
    return header + struct.pack("<iii", 1, 0, code) + data


def _encode(data):
    """The bytes of an MXNet NDArray-list file holding `data` (raises before producing any)."""
    if isinstance(data, np.ndarray):
        data = [data]
    if isinstance(data, dict):
        for key in data:
            if not isinstance(key, str):
                raise NDArrayTypeError(f"save(): dict keys must be str, got {key!r} "
                                       f"({type(key).__name__})")
        names = list(data)
        values = list(data.values())
        where = [f"value for key {name!r}" for name in names]
    elif isinstance(data, (list, tuple)):
        names = []
        values = list(data)
        where = [f"item {i}" for i in range(len(values))]
    else:
        raise NDArrayTypeError(f"save(): data must be an NDArray, a list of NDArrays or a dict "
                               f"str -> NDArray, got {type(data).__name__}")
    parts = [struct.pack("<QQQ", LIST_MAGIC, 0, len(values))]
    parts.extend(_encode_record(value, w) for value, w in zip(values, where))
    parts.append(struct.pack("<Q", len(names)))
    for name in names:
        encoded = name.encode("utf-8")
        parts.append(struct.pack("<Q", len(encoded)))
        parts.append(encoded)
    return b"".join(parts)


def save(fname, data):
    """Write `data` (an NDArray, a list/tuple of arrays, or a dict str -> array) in MXNet's format.

    Everything is checked and encoded before the file is touched, and the write goes through a
    temporary file and a rename, so a failed save leaves an existing file unchanged."""
    atomic_write(fname, _encode(data))


# --------------------------------------------------------------------------- loading


class _Reader:
    """Bounded little-endian reader over a bytes buffer; every shortfall raises ParamsFormatError."""

    def __init__(self, buf, source):
        self.buf = buf
        self.source = source
        self.offset = 0

    @property
    def remaining(self):
        return len(self.buf) - self.offset

    def fail(self, message, offset=None):
        at = self.offset if offset is None else offset
        raise ParamsFormatError(f"{self.source}: invalid NDArray file at byte offset {at}: {message}")

    def unpack(self, fmt, what):
        size = struct.calcsize(fmt)
        if size > self.remaining:
            self.fail(f"truncated: expected {what} ({size} bytes), but only {self.remaining} "
                      f"bytes remain (file size {len(self.buf)})")
        values = struct.unpack_from(fmt, self.buf, self.offset)
        self.offset += size
        return values

    def scalar(self, fmt, what):
        return self.unpack(fmt, what)[0]

    def take(self, size, what):
        if size > self.remaining:
            self.fail(f"truncated: expected {what} ({size} bytes), but only {self.remaining} "
                      f"bytes remain (file size {len(self.buf)})")
        start = self.offset
        self.offset += size
        return start


def _none_array():
    result = np.zeros((), np.float32).view(NDArray)
    result.is_none = True
    return result


def _read_shape(reader, index, legacy_ndim=None, np_shape=False):
    """The shape tuple, or None for an "unknown" shape (a none record)."""
    what = f"array {index}"
    if legacy_ndim is not None:
        ndim = legacy_ndim
        ndim_offset = reader.offset - 4
    else:
        ndim_offset = reader.offset
        ndim = reader.scalar("<i", f"the ndim of {what} (int32)")
    if np_shape and ndim == -1:
        return None
    if ndim < 0 or ndim > MAX_NDIM:
        reader.fail(f"{what} has ndim {ndim}; expected 0..{MAX_NDIM}", ndim_offset)
    dims_offset = reader.offset
    if legacy_ndim is not None:
        dims = reader.unpack(f"<{ndim}I", f"{ndim} uint32 dims of {what}")
    else:
        dims = reader.unpack(f"<{ndim}q", f"{ndim} int64 dims of {what}")
    for axis, dim in enumerate(dims):
        if np_shape and dim == -1:
            return None
        if dim < 0:
            reader.fail(f"{what} has negative dimension {dim} on axis {axis}",
                        dims_offset + axis * 8)
    if ndim == 0 and not np_shape:
        return None
    return tuple(dims)


def _read_record(reader, index):
    what = f"array {index}"
    record_offset = reader.offset
    magic = reader.scalar("<I", f"the magic number of {what} (uint32)")
    legacy_ndim = None
    np_shape = magic == NDARRAY_V3_MAGIC
    if magic in (NDARRAY_V2_MAGIC, NDARRAY_V3_MAGIC):
        stype_offset = reader.offset
        stype = reader.scalar("<i", f"the storage type of {what} (int32)")
        if stype != 0:
            kind = {1: "row_sparse", 2: "csr"}.get(stype, f"unknown storage type {stype}")
            reader.fail(f"{what} has storage type {stype} ({kind}); sparse arrays are not "
                        f"supported, expected 0 (dense)", stype_offset)
    elif magic != NDARRAY_V1_MAGIC:
        if magic > MAX_NDIM:
            reader.fail(f"bad magic number 0x{magic:08X} for {what}: expected 0x{NDARRAY_V2_MAGIC:08X}"
                        f" (V2), 0x{NDARRAY_V3_MAGIC:08X} (V3), 0x{NDARRAY_V1_MAGIC:08X} (V1) or a "
                        f"legacy ndim 0..{MAX_NDIM}", record_offset)
        legacy_ndim = magic
    shape = _read_shape(reader, index, legacy_ndim, np_shape)
    if shape is None:
        return _none_array()

    dev_offset = reader.offset
    dev_type, _dev_id = reader.unpack("<ii", f"the context of {what} (int32 dev_type, int32 dev_id)")
    if dev_type not in _KNOWN_DEV_TYPES:
        reader.fail(f"{what} has context dev_type {dev_type}; expected one of {_KNOWN_DEV_TYPES}",
                    dev_offset)
    flag_offset = reader.offset
    type_flag = reader.scalar("<i", f"the type flag of {what} (int32)")
    if type_flag not in CODE_TO_DTYPE:
        reader.fail(f"{what} has unknown type flag {type_flag}; expected one of "
                    f"{ {c: str(d) for c, d in sorted(CODE_TO_DTYPE.items())} }", flag_offset)
    dtype = CODE_TO_DTYPE[type_flag]
    count = math.prod(shape)  # Python int: cannot overflow
    nbytes = count * dtype.itemsize
    if nbytes > reader.remaining:
        reader.fail(f"truncated: {what} of shape {shape} and dtype {dtype} needs {nbytes} bytes "
                    f"of data, but only {reader.remaining} bytes remain (file size {len(reader.buf)})")
    # an empty array's other dims are not bounded by the data; NumPy refuses a shape whose
    # non-zero dims multiply past its index range
    if math.prod(d for d in shape if d) > MAX_ELEMENTS:
        reader.fail(f"{what} has shape {shape}, more than the {MAX_ELEMENTS} elements an array "
                    f"may have", record_offset)
    start = reader.take(nbytes, f"the data of {what}")
    values = np.frombuffer(reader.buf, dtype=dtype.newbyteorder("<"), count=count, offset=start)
    return values.astype(dtype, copy=True).reshape(shape).view(NDArray)


def load_frombuffer(buf, source="<buffer>"):
    """Arrays from the bytes of an MXNet NDArray-list file: a dict if the file has names, else a list."""
    reader = _Reader(bytes(buf), source)
    magic = reader.scalar("<Q", "the list magic number (uint64)")
    if magic != LIST_MAGIC:
        reader.fail(f"bad list magic number 0x{magic:X}; expected 0x{LIST_MAGIC:X} "
                    f"(an MXNet NDArray file)", 0)
    reader.scalar("<Q", "the reserved field (uint64)")
    count_offset = reader.offset
    count = reader.scalar("<Q", "the number of arrays (uint64)")
    if count > reader.remaining // _MIN_RECORD_BYTES:
        reader.fail(f"truncated: the file claims {count} arrays, but only {reader.remaining} bytes "
                    f"remain (file size {len(reader.buf)}; each array needs at least "
                    f"{_MIN_RECORD_BYTES})", count_offset)
    arrays = [_read_record(reader, i) for i in range(count)]

    names_offset = reader.offset
    name_count = reader.scalar("<Q", "the number of names (uint64)")
    if name_count not in (0, count):
        reader.fail(f"the file has {count} arrays but {name_count} names; expected 0 or {count}",
                    names_offset)
    names = []
    for i in range(name_count):
        length = reader.scalar("<Q", f"the byte length of name {i} (uint64)")
        start = reader.take(length, f"name {i}")
        try:
            name = reader.buf[start:start + length].decode("utf-8")
        except UnicodeDecodeError as err:
            reader.fail(f"name {i} is not valid UTF-8 ({err.reason} at byte {err.start} of the "
                        f"name)", start + err.start)
        names.append(name)
    if reader.remaining:
        reader.fail(f"{reader.remaining} bytes of trailing data after the last name; expected "
                    f"the end of the file")
    if not names:
        return arrays
    result = {}
    for name, value in zip(names, arrays):
        if name in result:
            reader.fail(f"duplicate name {name!r}; every name must be unique", names_offset)
        result[name] = value
    return result


def load(fname):
    """Arrays from an MXNet `.params` / `.nd` file: a dict name -> NDArray if the file stores
    names, else a list of NDArrays. A malformed file raises ParamsFormatError."""
    with open(fname, "rb") as f:
        buf = f.read()
    return load_frombuffer(buf, source=str(fname))


# --------------------------------------------------------------------------- operators

# One function per registered operator (cysym.nd.FullyConnected, ...), run imperatively through
# a cached one-op executor; generated last so that the executor can import NDArray from here.
from .ndarray_ops import install as _install_operators  # noqa: E402
from .ndarray_ops import make_op_function as _make_op_function  # noqa: E402
from .symbol.op_namespace import OpNamespace as _OpNamespace  # noqa: E402

__all__ += _install_operators(globals())
# mx.nd.contrib.<name>: the operator _contrib_<name>
contrib = _OpNamespace(f"{__name__}.contrib", "_contrib_",
                       lambda op, registered_name, name: _make_op_function(op, registered_name))
# mx.nd.linalg.<name>: the operator _linalg_<name>
linalg = _OpNamespace(f"{__name__}.linalg", "_linalg_",
                      lambda op, registered_name, name: _make_op_function(op, registered_name))
# mx.nd.image.<name>: the operator _image_<name>
image = _OpNamespace(f"{__name__}.image", "_image_",
                     lambda op, registered_name, name: _make_op_function(op, registered_name))
# mx.nd.random: MXNet's samplers (cysym.ndarray_random) and the other operators _random_<name>
random = _OpNamespace(f"{__name__}.random", "_random_",
                      lambda op, registered_name, name: _make_op_function(op, registered_name))
from . import ndarray_random as _samplers  # noqa: E402
for _name in _samplers.__all__:
    setattr(random, _name, getattr(_samplers, _name))

# MXNet's NDArray fluent methods that NumPy's ndarray lacks (x.exp(), x.expand_dims(axis=0), ...):
# each calls the operator function of the same name with the array first, out= included.
# The methods NumPy has (sum, max, reshape, flatten, transpose, ...) keep NumPy's meaning.
_FLUENT_METHODS = (
    "abs", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "argmax_channel",
    "broadcast_axes", "broadcast_like", "broadcast_to", "cbrt", "ceil", "cos", "cosh", "degrees",
    "depth_to_space", "diag", "exp", "expand_dims", "expm1", "fix", "flip", "floor", "log", "log10",
    "log1p", "log2", "log_softmax", "nanprod", "nansum", "norm", "one_hot", "ones_like", "pad", "pick",
    "radians", "rcbrt", "reciprocal", "relu", "reshape_like", "rint", "rsqrt", "shape_array",
    "sigmoid", "sign", "sin", "sinh", "size_array", "slice", "slice_axis", "slice_like", "softmax",
    "softmin", "space_to_depth", "split", "sqrt", "square", "tan", "tanh", "tile", "topk", "trunc",
    "zeros_like")


def _fluent_method(func_name, function):
    def method(self, *args, **kwargs):
        return function(self, *args, **kwargs)
    method.__name__ = func_name
    method.__doc__ = f"Fluent form of cysym.nd.{func_name}(self, ...)."
    return method


def _operator_function(func_name):
    """cysym.nd.<func_name>, also when the module's __getattr__ serves it (abs, slice)."""
    if func_name in globals():
        return globals()[func_name]
    try:
        return globals()["__getattr__"](func_name)
    except AttributeError:
        return None


for _name in _FLUENT_METHODS:
    _function = _operator_function(_name)
    if _function is not None and not hasattr(NDArray, _name):
        setattr(NDArray, _name, _fluent_method(_name, _function))
del _name, _function


# MXNet's element-wise helpers (mx.nd.add, power, greater, ...; its _ufunc_helper): two arrays
# broadcast, an array and a number go to the scalar operator (the reversed one when the number
# comes first), two numbers are computed in Python
_NUMBER_TYPES = (int, float, np.number)


def _array_or_number(lhs, rhs, both, scalar, reversed_scalar, numbers):
    if isinstance(lhs, np.ndarray) and isinstance(rhs, np.ndarray):
        return globals()[both](lhs, rhs)
    if isinstance(lhs, np.ndarray) and isinstance(rhs, _NUMBER_TYPES):
        return getattr(_internal, scalar)(lhs, scalar=float(rhs))
    if isinstance(lhs, _NUMBER_TYPES) and isinstance(rhs, np.ndarray):
        return getattr(_internal, reversed_scalar)(rhs, scalar=float(lhs))
    if isinstance(lhs, _NUMBER_TYPES) and isinstance(rhs, _NUMBER_TYPES):
        return numbers(lhs, rhs)
    raise TypeError(f"type {type(rhs)} not supported")


def _element_wise(name, summary, both, scalar, reversed_scalar, numbers):
    def function(lhs, rhs):
        return _array_or_number(lhs, rhs, both, scalar, reversed_scalar, numbers)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"{summary}, element-wise with broadcasting; either operand may be a "
                        f"number ({both}, or {scalar} with a number).")
    return function


# name, summary, broadcast operator, scalar operator, its reversed form, the two-number case
_ELEMENT_WISE = (
    ("add", "lhs + rhs", "broadcast_add", "_plus_scalar", "_plus_scalar", lambda a, b: a + b),
    ("subtract", "lhs - rhs", "broadcast_sub", "_minus_scalar", "_rminus_scalar", lambda a, b: a - b),
    ("multiply", "lhs * rhs", "broadcast_mul", "_mul_scalar", "_mul_scalar", lambda a, b: a * b),
    ("divide", "lhs / rhs", "broadcast_div", "_div_scalar", "_rdiv_scalar", lambda a, b: a / b),
    ("modulo", "lhs % rhs", "broadcast_mod", "_mod_scalar", "_rmod_scalar", lambda a, b: a % b),
    ("power", "base ** exp", "broadcast_power", "_power_scalar", "_rpower_scalar",
     lambda a, b: a ** b),
    ("maximum", "The larger of lhs and rhs", "broadcast_maximum", "_maximum_scalar",
     "_maximum_scalar", lambda a, b: a if a > b else b),
    ("minimum", "The smaller of lhs and rhs", "broadcast_minimum", "_minimum_scalar",
     "_minimum_scalar", lambda a, b: a if a < b else b),
    ("equal", "1 where lhs == rhs, else 0", "broadcast_equal", "_equal_scalar", "_equal_scalar",
     lambda a, b: int(a == b)),
    ("not_equal", "1 where lhs != rhs, else 0", "broadcast_not_equal", "_not_equal_scalar",
     "_not_equal_scalar", lambda a, b: int(a != b)),
    ("greater", "1 where lhs > rhs, else 0", "broadcast_greater", "_greater_scalar",
     "_lesser_scalar", lambda a, b: int(a > b)),
    ("greater_equal", "1 where lhs >= rhs, else 0", "broadcast_greater_equal",
     "_greater_equal_scalar", "_lesser_equal_scalar", lambda a, b: int(a >= b)),
    ("lesser", "1 where lhs < rhs, else 0", "broadcast_lesser", "_lesser_scalar",
     "_greater_scalar", lambda a, b: int(a < b)),
    ("lesser_equal", "1 where lhs <= rhs, else 0", "broadcast_lesser_equal",
     "_lesser_equal_scalar", "_greater_equal_scalar", lambda a, b: int(a <= b)),
    ("logical_and", "1 where lhs and rhs are both non-zero, else 0", "broadcast_logical_and",
     "_logical_and_scalar", "_logical_and_scalar", lambda a, b: int(bool(a) and bool(b))),
    ("logical_or", "1 where lhs or rhs is non-zero, else 0", "broadcast_logical_or",
     "_logical_or_scalar", "_logical_or_scalar", lambda a, b: int(bool(a) or bool(b))),
    ("logical_xor", "1 where exactly one of lhs and rhs is non-zero, else 0",
     "broadcast_logical_xor", "_logical_xor_scalar", "_logical_xor_scalar",
     lambda a, b: int(bool(a) ^ bool(b))),
)
for _row in _ELEMENT_WISE:
    globals()[_row[0]] = _element_wise(*_row)
true_divide = divide   # noqa: F821  (defined by the loop above, as MXNet's alias)
__all__ += [row[0] for row in _ELEMENT_WISE] + ["true_divide"]
del _row


# --------------------------------------------------------------------------- MXNet's other helpers

def moveaxis(tensor, source, destination):
    """The array with the axes `source` (an int or a sequence) moved to the positions
    `destination`, the other axes keeping their order: a new array (the transpose operator)."""
    try:
        source = np.lib.array_utils.normalize_axis_tuple(source, tensor.ndim)
        destination = np.lib.array_utils.normalize_axis_tuple(destination, tensor.ndim)
    except (ValueError, IndexError) as err:   # numpy's AxisError is both
        raise ValueError(f"moveaxis: {err} (the array has shape {tensor.shape})") from None
    if len(source) != len(destination):
        raise ValueError("moveaxis: `source` and `destination` arguments must have the same "
                         "number of elements")
    order = [axis for axis in range(tensor.ndim) if axis not in source]
    for position, axis in sorted(zip(destination, source)):
        order.insert(position, axis)
    return transpose(tensor, axes=tuple(order))  # noqa: F821  (the generated operator)


def concatenate(arrays, axis=0, always_copy=True):
    """Deprecated in MXNet (use concat): join a list of arrays of one dtype along `axis`.
    always_copy=False returns a list's only array itself."""
    if not isinstance(arrays, list) or not arrays:
        raise ValueError(f"concatenate: expected a non-empty list of NDArrays, got {arrays!r}")
    if not always_copy and len(arrays) == 1:
        return arrays[0]
    dtypes = {np.dtype(a.dtype) for a in arrays}
    if len(dtypes) > 1:
        raise TypeError(f"concatenate: the arrays must have one dtype, got {sorted(map(str, dtypes))}")
    return globals()["concat"](*arrays, dim=axis)


def onehot_encode(indices, out):
    """Deprecated in MXNet (use one_hot): out[i, indices[i]] = 1, every other element 0."""
    return _internal._onehot_encode(indices, out, out=out)


def eye(N, M=0, k=0, ctx=None, dtype=None, **kwargs):
    """An N x M (M=0: N x N) array with ones on diagonal k (0: the main one), zeros elsewhere."""
    return _internal._eye(N=N, M=M, k=k, dtype="float32" if dtype is None else dtype, **kwargs)


def linspace(start, stop, num, endpoint=True, ctx=None, dtype="float32"):
    """num evenly spaced numbers from start to stop (stop excluded when endpoint is False)."""
    return _internal._linspace(start=start, stop=stop, num=num, endpoint=endpoint, dtype=dtype)


def histogram(a, bins=10, range=None):
    """(counts, bin edges) of the flattened array: bins is an array of edges, or a count of equal
    bins over `range` (without a range, NumPy's histogram computes both, as in MXNet)."""
    if isinstance(bins, np.ndarray):
        return _internal._histogram(data=a, bins=bins)
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if range is None:
            counts, edges = np.histogram(np.asarray(a), bins=bins)
            return array(counts), array(edges)
        return _internal._histogram(data=a, bin_cnt=bins, range=range)
    raise ValueError("bins argument should be either an integer or an NDArray")


def split_v2(ary, indices_or_sections, axis=0, squeeze_axis=False):
    """Pieces of `ary` along `axis`: indices_or_sections equal sections (an int), or the pieces
    starting at 0 and at each index of a tuple."""
    axis_size = ary.shape[axis]
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or axis_size % indices_or_sections:
            raise ValueError("array split does not result in an equal division")
        section_size = axis_size // indices_or_sections
        indices = [i * section_size for i in builtins.range(indices_or_sections)]
    elif isinstance(indices_or_sections, tuple):
        indices = [0] + list(indices_or_sections)
    else:
        raise ValueError("indices_or_sections must either int or tuple of ints")
    return _internal._split_v2(ary, indices=tuple(indices), axis=axis, squeeze_axis=squeeze_axis)


def from_numpy(ndarray, zero_copy=True, array_cls=NDArray):
    """An NDArray of a NumPy array: with zero_copy, a view of its memory (C-contiguous arrays
    only), which MXNet makes read-only in the NumPy array; else a copy."""
    if not zero_copy:
        return array(ndarray, dtype=ndarray.dtype)
    if not ndarray.flags["C_CONTIGUOUS"]:
        raise ValueError("Only c-contiguous arrays are supported for zero-copy")
    ndarray.flags["WRITEABLE"] = False
    return ndarray.view(array_cls)


def reset_arrays(*data, num_arrays, out=None, name=None):
    """Set every one of the `num_arrays` arrays to zero, in place, and return an empty list, as
    MXNet's reset_arrays (Gluon's zero_grad) does; out and name are accepted as MXNet's imperative
    calls take them. A function, not an operator: it has no output, and no symbol can hold an
    operator without one (MXNet's bind of it crashes)."""
    if len(data) != num_arrays:
        raise ValueError(f"reset_arrays: num_arrays={num_arrays}, but {len(data)} arrays were given")
    for position, value in enumerate(data):
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            what = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise NDArrayTypeError(f"reset_arrays: array {position} is {what}; this operation only "
                            f"supports floating point types, as MXNet's")
    for value in data:
        value[...] = 0
    return []


__all__ += ["moveaxis", "concatenate", "onehot_encode", "eye", "linspace", "histogram", "split_v2",
            "from_numpy", "reset_arrays"]
