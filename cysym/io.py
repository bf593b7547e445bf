"""Data iterators (MXNet's mx.io): DataDesc, DataBatch, DataIter, NDArrayIter, ResizeIter.

NDArrayIter follows MXNet 1.9: inputs are stored sorted by name, NumPy inputs become float32
(as `mx.nd.array` does), shuffling draws from `cysym.random.generator()` on every reset, and the
last incomplete batch is padded from the start ('pad'), dropped ('discard') or carried over into the
first batch of the next epoch ('roll_over').
"""
from collections import OrderedDict, namedtuple

import numpy as np

from . import random as _random

__all__ = ["DataDesc", "DataBatch", "DataIter", "NDArrayIter", "ResizeIter", "ImageRecordIter",
           "CSVIter", "LibSVMIter"]

_DEFAULT_DTYPE = np.float32  # MXNet's mx_real_t


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """(name, shape) of one input, plus its dtype and layout ('NCHW': the batch axis is 'N')."""

    def __new__(cls, name, shape, dtype=_DEFAULT_DTYPE, layout="NCHW"):
        ret = super().__new__(cls, name, shape)
        ret.dtype = dtype
        ret.layout = layout
        return ret

    def __getnewargs__(self):
        return (self.name, self.shape, self.dtype, self.layout)

    def __repr__(self):
        return f"DataDesc[{self.name},{self.shape},{self.dtype},{self.layout}]"

    @staticmethod
    def get_batch_axis(layout):
        """The position of 'N' in layout (0 if layout is None, -1 if there is no 'N')."""
        if layout is None:
            return 0
        return layout.find("N")

    @staticmethod
    def get_list(shapes, types):
        """DataDescs from [(name, shape)] and optionally [(name, dtype)]."""
        if types is not None:
            type_dict = dict(types)
            return [DataDesc(x[0], x[1], type_dict[x[0]]) for x in shapes]
        return [DataDesc(x[0], x[1]) for x in shapes]


class DataBatch:
    """One batch: lists of data and label arrays, the number of padding samples at its end, and
    (optionally) the sample indices and the shapes it was made for."""

    def __init__(self, data, label=None, pad=None, index=None, bucket_key=None, provide_data=None,
                 provide_label=None):
        if data is not None and not isinstance(data, (list, tuple)):
            raise TypeError(f"DataBatch: data must be a list of arrays, not {type(data).__name__}")
        if label is not None and not isinstance(label, (list, tuple)):
            raise TypeError(f"DataBatch: label must be a list of arrays, not {type(label).__name__}")
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self):
        data_shapes = [d.shape for d in self.data]
        label_shapes = [l.shape for l in self.label] if self.label else None
        return f"{self.__class__.__name__}: data shapes: {data_shapes} label shapes: {label_shapes}"


class DataIter:
    """Base class: an iterator of DataBatch with reset(); subclasses implement iter_next and the
    get* methods, or next() directly."""

    def __init__(self, batch_size=0):
        self.batch_size = batch_size

    def __iter__(self):
        return self

    def reset(self):
        """Rewind to the start of the data (the next epoch)."""

    def next(self):
        """The next DataBatch; StopIteration at the end of the data."""
        if self.iter_next():
            return DataBatch(data=self.getdata(), label=self.getlabel(), pad=self.getpad(),
                             index=self.getindex())
        raise StopIteration

    def __next__(self):
        return self.next()

    def iter_next(self):
        """Advance; True if there is a batch."""
        return False

    def getdata(self):
        """The current batch's data arrays."""
        return None

    def getlabel(self):
        """The current batch's label arrays."""
        return None

    def getindex(self):
        """The indices of the current batch's samples (None when the iterator has none)."""
        return None

    def getpad(self):
        """How many samples at the end of the current batch are padding."""
        return None


class ResizeIter(DataIter):
    """Wrap data_iter so that one epoch is exactly `size` batches (restarting it as needed)."""

    def __init__(self, data_iter, size, reset_internal=True):
        super().__init__()
        self.data_iter = data_iter
        self.size = size
        self.reset_internal = reset_internal
        self.cur = 0
        self.current_batch = None
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        self.batch_size = data_iter.batch_size
        if hasattr(data_iter, "default_bucket_key"):
            self.default_bucket_key = data_iter.default_bucket_key

    def reset(self):
        self.cur = 0
        if self.reset_internal:
            self.data_iter.reset()

    def iter_next(self):
        if self.cur == self.size:
            return False
        try:
            self.current_batch = self.data_iter.next()
        except StopIteration:
            self.data_iter.reset()
            self.current_batch = self.data_iter.next()
        self.cur += 1
        return True

    def getdata(self):
        return self.current_batch.data

    def getlabel(self):
        return self.current_batch.label

    def getindex(self):
        return self.current_batch.index

    def getpad(self):
        return self.current_batch.pad


def _is_cysym_ndarray(value):
    try:
        from .ndarray import NDArray  # written concurrently; optional here
    except ImportError:
        return False
    return isinstance(value, NDArray)


def _init_data(data, allow_empty, default_name):
    """[(name, array)] sorted by name, from an array, a list of arrays or a dict {name: array}.

    A single array is named default_name; a list of several is named '_0_<default_name>', ...
    NumPy arrays and other array-likes become float32 (as mx.nd.array makes them); a cysym
    NDArray keeps its dtype.
    """
    if data is None and not allow_empty:
        raise ValueError("NDArrayIter: data must be given")
    if data is None:
        data = []
    if isinstance(data, np.ndarray):
        data = [data]
    if isinstance(data, (list, tuple)):
        if not allow_empty and len(data) == 0:
            raise ValueError("NDArrayIter: data must not be an empty list")
        if len(data) == 1:
            data = OrderedDict([(default_name, data[0])])
        else:
            data = OrderedDict([(f"_{i}_{default_name}", d) for i, d in enumerate(data)])
    if not isinstance(data, dict):
        raise TypeError("Input must be NDArray, numpy.ndarray, a list of them or dict with them "
                        f"as values, not {type(data).__name__}")
    converted = {}
    for name, value in data.items():
        if _is_cysym_ndarray(value):
            converted[name] = value
            continue
        try:
            converted[name] = np.array(value, dtype=_DEFAULT_DTYPE)
        except (TypeError, ValueError) as err:
            raise TypeError(f"Invalid type '{type(value).__name__}' for {name}, should be NDArray "
                            f"or numpy.ndarray ({err})") from None
        if converted[name].ndim == 0:
            raise ValueError(f"NDArrayIter: input {name!r} is a scalar; it needs a batch axis")
    return sorted(converted.items(), key=lambda item: item[0])


class NDArrayIter(DataIter):
    """Iterate over in-memory arrays in batches of batch_size along the first axis.

    last_batch_handle: 'pad' (fill the last batch from the start, batch.pad tells how many),
    'discard' (drop it) or 'roll_over' (keep it and prepend it to the next epoch's first batch).

    part_index / num_parts (as MXNet's record iterators take them, for distributed training):
    iterate over part `part_index` of `num_parts`, the samples at positions part_index,
    part_index + num_parts, ... of the (shuffled) data; the last num_data % num_parts samples of
    each epoch's order are left out so every part has as many batches.  Every part shuffles the
    whole data with the same stream (cysym.random, seeded alike on every worker), so the parts'
    batch t together are the batch t of one iterator over the whole data with batch_size *
    num_parts: data-parallel training sees what one process would with the larger batch.
    """

    def __init__(self, data, label=None, batch_size=1, shuffle=False, last_batch_handle="pad",
                 data_name="data", label_name="softmax_label", part_index=0, num_parts=1):
        super().__init__(batch_size)
        if not isinstance(num_parts, (int, np.integer)) or num_parts < 1:
            raise ValueError(f"NDArrayIter: num_parts must be a positive integer, not {num_parts!r}")
        if not isinstance(part_index, (int, np.integer)) or not 0 <= part_index < num_parts:
            raise ValueError(f"NDArrayIter: part_index must be in [0, {num_parts}), not {part_index!r}")
        if last_batch_handle not in ("pad", "discard", "roll_over"):
            raise ValueError(f"NDArrayIter: last_batch_handle must be 'pad', 'discard' or "
                             f"'roll_over', not {last_batch_handle!r}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"NDArrayIter: batch_size must be a positive integer, not {batch_size!r}")
        self.data = _init_data(data, allow_empty=False, default_name=data_name)
        self.label = _init_data(label, allow_empty=True, default_name=label_name)
        self.num_data = self.data[0][1].shape[0]
        for name, value in self.data + self.label:
            if value.shape[0] != self.num_data:
                raise ValueError(f"NDArrayIter: {name!r} has {value.shape[0]} samples but "
                                 f"{self.data[0][0]!r} has {self.num_data}")
        self.part_index, self.num_parts = int(part_index), int(num_parts)
        if self.num_parts == 1:
            self.idx = np.arange(self.num_data)
        else:
            if self.num_data < self.num_parts:
                raise ValueError(f"NDArrayIter: {self.num_data} samples cannot be split into "
                                 f"{self.num_parts} parts")
            self._whole = (self.data, self.label, np.arange(self.num_data))
            self.num_data //= self.num_parts
            self._take_part()
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        self.batch_size = int(batch_size)
        self.cursor = -self.batch_size
        # used for 'roll_over': the incomplete last batch, kept for the next epoch
        self._cache_data = None
        self._cache_label = None
        self.reset()
        self.data_list = [x[1] for x in self.data] + [x[1] for x in self.label]
        self.num_source = len(self.data_list)

    @property
    def provide_data(self):
        """DataDesc (name, shape with the batch size, dtype) of each data array."""
        return [DataDesc(k, tuple([self.batch_size] + list(v.shape[1:])), v.dtype) for k, v in self.data]

    @property
    def provide_label(self):
        """DataDesc (name, shape with the batch size, dtype) of each label array."""
        return [DataDesc(k, tuple([self.batch_size] + list(v.shape[1:])), v.dtype) for k, v in self.label]

    @property
    def num_batches(self):
        """Batches in a fresh epoch (ignoring samples rolled over from a previous one)."""
        if self.last_batch_handle == "pad":
            return -(-self.num_data // self.batch_size)
        return self.num_data // self.batch_size

    def hard_reset(self):
        """Rewind, forgetting any rolled-over samples."""
        if self.shuffle:
            self._shuffle_data()
        self.cursor = -self.batch_size
        self._cache_data = None
        self._cache_label = None

    def reset(self):
        if self.shuffle:
            self._shuffle_data()
        if self.last_batch_handle == "roll_over" and \
                self.num_data - self.batch_size < self.cursor < self.num_data:
            # (cursor - num_data) samples are cached; the first batch takes the rest from the start
            self.cursor = self.cursor - self.num_data - self.batch_size
        else:
            self.cursor = -self.batch_size

    def iter_next(self):
        self.cursor += self.batch_size
        return self.cursor < self.num_data

    def next(self):
        if not self.iter_next():
            raise StopIteration
        data = self.getdata()
        label = self.getlabel()
        if data[0].shape[0] != self.batch_size:
            # an incomplete last batch ('discard' / 'roll_over'): keep it for the next epoch
            self._cache_data = data
            self._cache_label = label
            raise StopIteration
        return DataBatch(data=data, label=label, pad=self.getpad(), index=None)

    def _getdata(self, data_source, start=None, end=None):
        start = start if start is not None else 0
        if end is None:
            end = data_source[0][1].shape[0] if data_source else 0
        return [x[1][start:end] for x in data_source]

    @staticmethod
    def _concat(first_data, second_data):
        if len(first_data) != len(second_data):
            raise ValueError("NDArrayIter: data sources should contain the same number of arrays")
        return [np.concatenate([a, b], axis=0) for a, b in zip(first_data, second_data)]

    @staticmethod
    def _tile(data, repeats):
        return [np.tile(datum, [repeats] + [1] * (datum.ndim - 1)) for datum in data]

    def _batchify(self, data_source):
        if self.cursor >= self.num_data:
            raise RuntimeError("DataIter needs reset.")
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            # first batch of an epoch after an incomplete one: the cached samples, then the start
            is_data = data_source is self.data
            cache = self._cache_data if is_data else self._cache_label
            if cache is None:
                raise RuntimeError("NDArrayIter: the next epoch should have cached data")
            second_data = self._getdata(data_source, end=self.cursor + self.batch_size)
            if is_data:
                self._cache_data = None
            else:
                self._cache_label = None
            return self._concat(cache, second_data)
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            pad = self.batch_size - self.num_data + self.cursor
            first_data = self._getdata(data_source, start=self.cursor)
            if pad > self.num_data:
                repeats = pad // self.num_data
                second_data = self._tile(self._getdata(data_source, end=self.num_data), repeats)
                if pad % self.num_data != 0:
                    second_data = self._concat(second_data,
                                               self._getdata(data_source, end=pad % self.num_data))
            else:
                second_data = self._getdata(data_source, end=pad)
            return self._concat(first_data, second_data)
        end_idx = min(self.cursor + self.batch_size, self.num_data)
        return self._getdata(data_source, self.cursor, end_idx)

    def getdata(self):
        return self._batchify(self.data)

    def getlabel(self):
        return self._batchify(self.label)

    def getpad(self):
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            return self.cursor + self.batch_size - self.num_data
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            # MXNet reports the number of samples carried over from the previous epoch here
            return -self.cursor
        return 0

    def getindex(self):
        return None

    def _take_part(self):
        """This part's samples of the whole data, in the whole data's current order."""
        data, label, idx = self._whole
        part = slice(self.part_index, self.num_data * self.num_parts, self.num_parts)
        self.data = [(k, v[part]) for k, v in data]
        self.label = [(k, v[part]) for k, v in label]
        self.idx = idx[part]
        self.data_list = [x[1] for x in self.data] + [x[1] for x in self.label]

    def _shuffle_data(self):
        if self.num_parts > 1:
            data, label, idx = self._whole
            perm = _random.generator().permutation(len(idx))
            self._whole = ([(k, v[perm]) for k, v in data], [(k, v[perm]) for k, v in label], idx[perm])
            self._take_part()
            return
        perm = _random.generator().permutation(self.num_data)
        self.idx = self.idx[perm]
        self.data = [(k, v[perm]) for k, v in self.data]
        self.label = [(k, v[perm]) for k, v in self.label]
        self.data_list = [x[1] for x in self.data] + [x[1] for x in self.label]


def ImageRecordIter(**kwargs):
    """Batches of decoded, augmented and normalised images from a RecordIO file of image records,
    as MXNet's mx.io.ImageRecordIter (path_imgrec, data_shape, batch_size, path_imgidx, shuffle,
    seed, rand_crop, rand_mirror, resize, mean_r/g/b, std_r/g/b, scale, label_width, round_batch,
    ...): see cysym.image_record.ImageRecordIter for every parameter. Needs Pillow (cysym[image])."""
    from .image_record import ImageRecordIter as _ImageRecordIter   # which builds on this module
    return _ImageRecordIter(**kwargs)


def CSVIter(**kwargs):
    """Batches of the rows of CSV files, as MXNet's mx.io.CSVIter (data_csv, data_shape,
    label_csv, label_shape, batch_size, round_batch, dtype): see cysym.io_text.CSVIter."""
    from .io_text import CSVIter as _CSVIter   # which builds on this module
    return _CSVIter(**kwargs)


def LibSVMIter(**kwargs):
    """Batches of the rows of LibSVM files as dense arrays, as MXNet's mx.io.LibSVMIter
    (data_libsvm, data_shape, label_libsvm, label_shape, batch_size, round_batch): see
    cysym.io_text.LibSVMIter."""
    from .io_text import LibSVMIter as _LibSVMIter
    return _LibSVMIter(**kwargs)
