"""MXNet's ImageRecordIter (reached as cysym.io.ImageRecordIter): batches of decoded, augmented,
normalised images from a RecordIO file of image records, computed as MXNet 1.9.1's C++ iterator
(iter_image_recordio_2.cc with its default augmenter) does, for the parameters it takes."""
import logging
import os

import numpy as np

from . import io as _io
from . import ndarray as nd
from . import recordio
from .base import MXNetError
from .image import AREA, CUBIC, LINEAR, _resize_array

_log = logging.getLogger(__name__)


# MXNet's augmentation parameters that this iterator does not implement, with their defaults:
# a non-default value is refused rather than silently ignored
_UNSUPPORTED_AUGMENTATIONS = {
    "random_resized_crop": False, "max_rotate_angle": 0, "max_aspect_ratio": 0.0, "min_aspect_ratio": None,
    "max_shear_ratio": 0.0, "max_random_scale": 1.0, "min_random_scale": 1.0, "max_random_area": 1.0,
    "min_random_area": 1.0, "min_img_size": 0.0, "max_img_size": 1e10, "brightness": 0.0, "contrast": 0.0,
    "saturation": 0.0, "pca_noise": 0.0, "random_h": 0, "random_s": 0, "random_l": 0, "rotate": -1,
    "path_imglist": "", "num_parts": 1, "part_index": 0, "aug_seq": "aug_default",
}
# accepted for compatibility; they change how MXNet schedules its work, not the batches
_NO_EFFECT = ("preprocess_threads", "prefetch_buffer", "verbose", "ctx", "device_id", "shuffle_chunk_size",
              "shuffle_chunk_seed", "label_name_list", "seed_aug_list")
_RAND_MAGIC = 111                # MXNet seeds its first augmenting thread with this


class ImageRecordIter(_io.DataIter):
    """Batches of images from a .rec file of image records, as MXNet's mx.io.ImageRecordIter
    (created by cysym.io.ImageRecordIter): data (batch_size,) + data_shape in CHW layout, RGB,
    float32 ((pixel - mean) * scale / std; dtype 'uint8' gives raw pixels, 'int8' pixel - mean),
    label (batch_size,) or (batch_size, label_width).

    Per image, as MXNet's default augmenter: resize the shorter edge to `resize`
    (interpolation inter_method), pad by `pad` pixels of fill_value, crop data_shape's (h, w) at
    the centre or (rand_crop) at random (an image smaller than that is first enlarged, keeping its
    aspect ratio; with max_crop_size/min_crop_size, a random square is cropped and resized), mirror
    (mirror, or rand_mirror with probability 1/2), then normalise. round_batch (default) fills a
    last incomplete batch from the start of the data and, as MXNet does, the next epoch then
    starts after the images used for that; without it the missing rows are zeros and batch.pad
    counts them (MXNet leaves stale rows there and reports pad 0). shuffle (needs path_imgidx or
    reads the whole file's offsets once) draws a new order every epoch from seed.
    """

    def __init__(self, path_imgrec, data_shape, batch_size, path_imgidx="", label_width=1, shuffle=False,
                 seed=0, rand_crop=False, rand_mirror=False, mirror=False, resize=-1, inter_method=1,
                 pad=0, fill_value=255, max_crop_size=-1, min_crop_size=-1, mean_img="", mean_r=0.0,
                 mean_g=0.0, mean_b=0.0, mean_a=0.0, std_r=1.0, std_g=1.0, std_b=1.0, std_a=1.0, scale=1.0,
                 max_random_contrast=0.0, max_random_illumination=0.0, round_batch=True, dtype="float32",
                 data_name="data", label_name="softmax_label", seed_aug=None, **kwargs):
        super().__init__(batch_size)
        for name, value in kwargs.items():
            if name in _NO_EFFECT:
                continue
            if name not in _UNSUPPORTED_AUGMENTATIONS:
                raise MXNetError(f"ImageRecordIter: unknown parameter {name!r}")
            if value != _UNSUPPORTED_AUGMENTATIONS[name]:
                raise MXNetError(f"ImageRecordIter: {name}={value!r} is not supported by cysym "
                                 f"(only its default, {_UNSUPPORTED_AUGMENTATIONS[name]!r})")
        data_shape = tuple(int(d) for d in data_shape)
        if len(data_shape) != 3 or data_shape[0] not in (1, 3, 4) or min(data_shape) <= 0:
            raise MXNetError(f"ImageRecordIter: data_shape must be (channels 1, 3 or 4, height, width), "
                             f"got {data_shape}")
        if dtype not in ("float32", "uint8", "int8"):
            raise MXNetError(f"ImageRecordIter: dtype must be float32, uint8 or int8, not {dtype!r}")
        if inter_method not in (0, 1, 2, 3, 4, 9, 10):
            raise MXNetError(f"ImageRecordIter: invalid inter_method {inter_method}: valid values 0-4, 9, 10")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise MXNetError(f"ImageRecordIter: batch_size must be a positive integer, not {batch_size!r}")
        self.batch_size, self.data_shape, self.label_width = int(batch_size), data_shape, int(label_width)
        self.dtype = np.dtype(dtype)
        self.shuffle, self.round_batch = bool(shuffle), bool(round_batch)
        self.rand_crop, self.rand_mirror, self.mirror = bool(rand_crop), bool(rand_mirror), bool(mirror)
        self.resize, self.inter_method, self.pad, self.fill_value = int(resize), int(inter_method), int(pad), fill_value
        self.max_crop_size, self.min_crop_size = int(max_crop_size), int(min_crop_size)
        channels = data_shape[0]
        self.mean = np.array([mean_r, mean_g, mean_b, mean_a][:channels] if channels > 1 else [mean_r], np.float32)
        self.std = np.array([std_r, std_g, std_b, std_a][:channels] if channels > 1 else [std_r], np.float32)
        self.scale = np.float32(scale)
        self.max_random_contrast, self.max_random_illumination = max_random_contrast, max_random_illumination
        label_shape = (self.batch_size, self.label_width) if self.label_width > 1 else (self.batch_size,)
        self.provide_data = [_io.DataDesc(data_name, (self.batch_size,) + data_shape, self.dtype.type)]
        self.provide_label = [_io.DataDesc(label_name, label_shape, np.float32)]
        self._order_rng = np.random.RandomState(seed)
        self._augment_rng = np.random.RandomState(_RAND_MAGIC + (seed_aug or 0))
        if path_imgidx:
            self._reader = recordio.MXIndexedRecordIO(path_imgidx, path_imgrec, "r")
            self._offsets = [self._reader.idx[key] for key in self._reader.keys]
        else:
            self._reader = recordio.MXRecordIO(path_imgrec, "r")
            self._offsets = self._scan_offsets() if self.shuffle else None
        self.mean_image = None
        if mean_img and self.dtype != np.uint8:
            self.mean_image = self._load_or_make_mean(mean_img)
        self._overflow = False
        self._start_pass()

    def _scan_offsets(self):
        offsets = []
        while True:
            position = self._reader._file.tell()
            if self._reader.read() is None:
                return offsets
            offsets.append(position)

    def _start_pass(self):
        """Back to the first record of a (reshuffled) pass over the data."""
        self._reader.reset()
        self._position = 0
        if self._offsets is not None:
            self._pass = list(self._offsets)
            if self.shuffle:
                self._order_rng.shuffle(self._pass)

    def _next_record(self):
        if self._offsets is None:
            return self._reader.read()
        if self._position >= len(self._pass):
            return None
        self._reader._file.seek(self._pass[self._position])
        self._position += 1
        return self._reader.read()

    def reset(self):
        """Next epoch: a fresh pass, unless the last batch already began one (round_batch)."""
        if self._overflow:
            self._overflow = False
        else:
            self._start_pass()

    def next(self):
        if self._overflow:
            raise StopIteration
        data = np.zeros((self.batch_size,) + self.data_shape, dtype=self.dtype)
        label = np.zeros((self.batch_size, self.label_width), dtype=np.float32)
        filled = 0
        while filled < self.batch_size:
            record = self._next_record()
            if record is not None:
                data[filled], label[filled] = self._process(record)
                filled += 1
                continue
            if filled == 0:
                raise StopIteration
            pad = self.batch_size - filled
            if not self.round_batch:
                break
            self._overflow = True
            self._start_pass()
            while filled < self.batch_size:
                record = self._next_record()
                if record is None:
                    raise MXNetError("ImageRecordIter: number of input images must be bigger than the batch size")
                data[filled], label[filled] = self._process(record)
                filled += 1
            break
        else:
            pad = 0
        if self.label_width == 1:
            label = label[:, 0]
        return _io.DataBatch([nd.array(data, dtype=self.dtype)], [nd.array(label)], pad=pad,
                             provide_data=self.provide_data, provide_label=self.provide_label)

    def _decode(self, encoded, image_id):
        channels = self.data_shape[0]
        image = recordio.imdecode_bgr(encoded, {1: 0, 3: 1, 4: -1}[channels])
        if image.ndim == 2:
            image = image[:, :, None]
        if image.shape[2] != channels:
            raise MXNetError(f"ImageRecordIter: invalid image with index {image_id}. Expected "
                             f"{channels} channels, got {image.shape[2]}")
        return image

    def _label(self, header):
        if header.flag > 0:
            if header.flag != self.label_width:
                raise MXNetError(f"ImageRecordIter: rec file provide {header.flag}-dimensional label "
                                 f"but label_width is set to {self.label_width}")
            return header.label
        if self.label_width != 1:
            raise MXNetError("ImageRecordIter: label_width must be 1 unless the rec file is packed with "
                             "multi dimensional label")
        return header.label

    def _interp(self, old_w, old_h, new_w, new_h):
        if self.inter_method == 9:
            if new_w > old_w and new_h > old_h:
                return CUBIC
            return AREA if new_w < old_w and new_h < old_h else LINEAR
        if self.inter_method == 10:
            return int(self._augment_rng.randint(0, 5))
        return self.inter_method

    def _resized(self, image, width, height):
        old_h, old_w = image.shape[:2]
        return _resize_array(image, width, height, self._interp(old_w, old_h, width, height))

    def _augment(self, image):
        """MXNet's default augmenter, for the parameters this iterator takes (numpy HWC, BGR)."""
        _, out_h, out_w = self.data_shape
        if self.resize != -1:
            rows, cols = image.shape[:2]
            if rows > cols:
                image = self._resized(image, self.resize, self.resize * rows // cols)
            else:
                image = self._resized(image, self.resize * cols // rows, self.resize)
        if self.pad > 0:
            image = np.pad(image, ((self.pad, self.pad), (self.pad, self.pad), (0, 0)),
                           constant_values=self.fill_value)
        if self.max_crop_size != -1 or self.min_crop_size != -1:
            rows, cols = image.shape[:2]
            if not (cols >= self.max_crop_size and rows >= self.max_crop_size
                    and self.max_crop_size >= self.min_crop_size):
                raise MXNetError(f"ImageRecordIter: input image size {cols}x{rows} smaller than max_crop_size "
                                 f"{self.max_crop_size} (or max_crop_size < min_crop_size)")
            size = self._augment_rng.randint(self.min_crop_size, self.max_crop_size + 1)
            y, x = rows - size, cols - size
            if self.rand_crop:
                y, x = self._augment_rng.randint(0, y + 1), self._augment_rng.randint(0, x + 1)
            else:
                y, x = y // 2, x // 2
            return self._resized(image[y:y + size, x:x + size], out_w, out_h)
        rows, cols = image.shape[:2]
        if rows < out_h:
            image = self._resized(image, int(np.float32(out_h) / np.float32(rows) * np.float32(cols)), out_h)
        rows, cols = image.shape[:2]
        if cols < out_w:
            image = self._resized(image, out_w, int(np.float32(out_w) / np.float32(cols) * np.float32(rows)))
        rows, cols = image.shape[:2]
        if rows < out_h or cols < out_w:
            raise MXNetError(f"ImageRecordIter: input image size {cols}x{rows} smaller than input shape "
                             f"{out_w}x{out_h}")
        y, x = rows - out_h, cols - out_w
        if self.rand_crop:
            y, x = self._augment_rng.randint(0, y + 1), self._augment_rng.randint(0, x + 1)
        else:
            y, x = y // 2, x // 2
        return image[y:y + out_h, x:x + out_w]

    def _pixels(self, record):
        """(image (h, w, c) uint8 in RGB(A) order after augmentation, label) of one image record."""
        header, encoded = recordio.unpack(record)
        label = self._label(header)
        image = self._augment(self._decode(encoded, header.id))
        if image.shape[2] >= 3:
            image = image[:, :, [2, 1, 0, 3][:image.shape[2]]]          # BGR(A) -> RGB(A)
        return image, label

    def _process(self, record):
        """(data (c, h, w), label (label_width,)) of one image record."""
        image, label = self._pixels(record)
        if (self.rand_mirror and self._augment_rng.rand() < 0.5) or self.mirror:
            image = image[:, ::-1]
        chw = np.transpose(image, (2, 0, 1))
        if self.dtype == np.uint8:
            return chw, label
        mean = self.mean_image if self.mean_image is not None else self.mean[:, None, None]
        if self.dtype == np.int8:
            return np.clip(chw.astype(np.int16) - np.round(mean).astype(np.int16), -128, 127), label
        uniform = self._augment_rng.rand
        contrast = np.float32((uniform() * self.max_random_contrast * 2 - self.max_random_contrast + 1)
                              * self.scale) if self.max_random_contrast else self.scale
        illumination = np.float32((uniform() * self.max_random_illumination * 2 - self.max_random_illumination)
                                  * self.scale) if self.max_random_illumination else np.float32(0)
        multiplier = (contrast / self.std).astype(np.float32)[:, None, None]
        bias = (illumination / self.std).astype(np.float32)[:, None, None]
        return (chw.astype(np.float32) - mean) * multiplier + bias, label

    def _load_or_make_mean(self, path):
        """The mean image (c, h, w) from path (an NDArray file), or computed over the data set
        (after augmentation, before normalisation) and saved there, as MXNet does."""
        if os.path.exists(path):
            arrays = nd.load(path)
            values = list(arrays.values()) if isinstance(arrays, dict) else arrays
            if len(values) != 1 or np.shape(values[0]) != self.data_shape:
                raise MXNetError(f"ImageRecordIter: {path} must hold one mean image of shape {self.data_shape}")
            return np.asarray(values[0], dtype=np.float32)
        _log.info("ImageRecordIter: cannot find %s: computing the mean image", path)
        total, count = np.zeros(self.data_shape, np.float64), 0
        self._reader.reset()
        while (record := self._reader.read()) is not None:
            total += np.transpose(self._pixels(record)[0], (2, 0, 1))
            count += 1
        mean = (total / max(count, 1)).astype(np.float32)
        nd.save(path, {"mean_img": nd.array(mean)})
        return mean
