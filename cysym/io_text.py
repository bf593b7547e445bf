"""mx.io.CSVIter and mx.io.LibSVMIter: batches of rows read from CSV or LibSVM text files, as MXNet
1.9.1's iterators make them (src/io/iter_csv.cc, iter_libsvm.cc, their BatchLoader).

Batching follows MXNet's BatchLoader:
* round_batch=True (the default): a short last batch is completed with the first rows of the
  file and reports them as `pad`; the next epoch then starts after those rows;
* round_batch=False: the short last batch's padding keeps the previous batch's rows (MXNet
  reuses its buffer).
Labels are named 'softmax_label'; without a label file CSVIter's are zeros. LibSVMIter's data is
dense (MXNet returns CSR arrays: cysym's arrays are dense), its column indices zero-based, and
its labels the first number of each line unless label_libsvm names a file.
"""
import numpy as np

from . import ndarray as nd
from .base import MXNetError
from .io import DataBatch, DataDesc, DataIter

__all__ = ["CSVIter", "LibSVMIter"]

_DTYPES = {None: np.float32, "float32": np.float32, "int32": np.int32, "int64": np.int64}


def _shape(value, what):
    shape = (value,) if isinstance(value, int) else tuple(int(v) for v in value)
    if not shape or any(v <= 0 for v in shape):
        raise MXNetError(f"{what} must be a tuple of positive sizes, got {value!r}")
    return shape


def _dtype(dtype, iterator):
    key = None if dtype is None else str(np.dtype(dtype))
    if key not in _DTYPES:
        raise MXNetError(f"{iterator}: dtype must be float32, int32 or int64, got {dtype!r}")
    return _DTYPES[key]


class _RowIter(DataIter):
    """Batches of the rows of a data matrix and its labels, with MXNet's round_batch rules."""

    def __init__(self, data, label, batch_size, round_batch, data_name="data",
                 label_name="softmax_label"):
        super().__init__(batch_size)
        if batch_size <= 0:
            raise MXNetError(f"batch_size must be positive, got {batch_size}")
        if len(data) == 0:
            raise MXNetError("the data file holds no rows")
        self._data, self._label = data, label
        self._round_batch = round_batch
        self._data_buffer = np.zeros((batch_size,) + data.shape[1:], data.dtype)
        self._label_buffer = np.zeros((batch_size,) + label.shape[1:], label.dtype)
        self._first = 0          # where an epoch starts: after the rows a wrapped batch took
        self._cursor = 0
        self._pad = 0
        self._index = None
        self.provide_data = [DataDesc(data_name, self._data_buffer.shape, data.dtype)]
        self.provide_label = [DataDesc(label_name, self._label_buffer.shape, label.dtype)]

    def reset(self):
        self._cursor = self._first

    def iter_next(self):
        rows = len(self._data)
        if self._cursor >= rows:
            return False
        taken = np.arange(self._cursor, min(self._cursor + self.batch_size, rows))
        self._cursor += len(taken)
        self._pad = self.batch_size - len(taken)
        self._first = 0
        if self._pad and self._round_batch:
            wrapped = np.arange(self._pad) % rows
            taken = np.concatenate([taken, wrapped])
            self._first = self._pad % rows
        self._data_buffer[:len(taken)] = self._data[taken]
        self._label_buffer[:len(taken)] = self._label[taken]
        self._index = taken
        return True

    def getdata(self):
        return [nd.array(self._data_buffer, dtype=self._data_buffer.dtype)]

    def getlabel(self):
        return [nd.array(self._label_buffer, dtype=self._label_buffer.dtype)]

    def getpad(self):
        return self._pad

    def getindex(self):
        return self._index


def _read_csv(path, width, dtype, what):
    try:
        rows = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as err:
        raise MXNetError(f"CSVIter: cannot read {what} {path!r}: {err}") from None
    if rows.shape[1] != width:
        raise MXNetError(f"CSVIter: {what} {path!r} has {rows.shape[1]} columns per row, the shape "
                         f"asks for {width}")
    return rows.astype(dtype)


def CSVIter(data_csv, data_shape, batch_size, label_csv=None, label_shape=(1,), round_batch=True,
            dtype=None, prefetch_buffer=4, ctx="cpu", **kwargs):
    """Batches of the rows of data_csv, each reshaped to data_shape, with the rows of label_csv
    (label_shape each; zeros without one) as labels; dtype float32, int32 or int64."""
    data_shape, label_shape = _shape(data_shape, "data_shape"), _shape(label_shape, "label_shape")
    dtype = _dtype(dtype, "CSVIter")
    data = _read_csv(data_csv, int(np.prod(data_shape)), dtype, "data_csv")
    if label_csv in (None, "NULL"):
        label = np.zeros((len(data),) + label_shape, np.float32)
    else:
        label = _read_csv(label_csv, int(np.prod(label_shape)), np.float32, "label_csv")
        if len(label) != len(data):
            raise MXNetError(f"CSVIter: label_csv {label_csv!r} has {len(label)} rows, data_csv "
                             f"{data_csv!r} {len(data)}")
    label = label.reshape((len(label),) + (label_shape if label_shape != (1,) else ()))
    return _RowIter(data.reshape((len(data),) + data_shape), label, batch_size, round_batch)


def _read_libsvm(path, width, what):
    """(labels, dense rows) of a LibSVM file: 'label index:value ...' per line, indices from 0."""
    labels, rows = [], []
    try:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                row = np.zeros(width, np.float32)
                start = 0 if ":" in fields[0] else 1
                labels.append(float(fields[0]) if start else 0.0)
                for field in fields[start:]:
                    index, _, value = field.partition(":")
                    column = int(index)
                    if not 0 <= column < width:
                        raise MXNetError(f"LibSVMIter: {what} {path!r} line {number}: feature index "
                                         f"{column} is outside data_shape's {width} columns")
                    row[column] = float(value)
                rows.append(row)
    except (OSError, ValueError) as err:
        raise MXNetError(f"LibSVMIter: cannot read {what} {path!r}: {err}") from None
    return np.array(labels, np.float32), np.array(rows, np.float32).reshape(-1, width)


def LibSVMIter(data_libsvm, data_shape, batch_size, label_libsvm=None, label_shape=(1,),
               round_batch=True, num_parts=1, part_index=0, dtype=None, prefetch_buffer=4,
               ctx="cpu", **kwargs):
    """Batches of the rows of a LibSVM file as dense (batch, num_features) arrays, with each
    line's label, or the rows of label_libsvm (label_shape each) as labels."""
    data_shape, label_shape = _shape(data_shape, "data_shape"), _shape(label_shape, "label_shape")
    if len(data_shape) != 1:
        raise MXNetError(f"LibSVMIter: data_shape must be (num_features,), got {data_shape}")
    if num_parts != 1 or part_index != 0:
        raise MXNetError("LibSVMIter: num_parts > 1 (distributed reading) is not supported")
    label, data = _read_libsvm(data_libsvm, data_shape[0], "data_libsvm")
    if label_libsvm not in (None, "NULL"):
        _, label = _read_libsvm(label_libsvm, int(np.prod(label_shape)), "label_libsvm")
        if len(label) != len(data):
            raise MXNetError(f"LibSVMIter: label_libsvm {label_libsvm!r} has {len(label)} rows, "
                             f"data_libsvm {data_libsvm!r} {len(data)}")
        label = label.reshape((len(label),) + (label_shape if label_shape != (1,) else ()))
    return _RowIter(data.astype(_dtype(dtype, "LibSVMIter")), label, batch_size, round_batch)
