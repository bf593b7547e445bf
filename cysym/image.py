"""mx.image: decoding, resizing and cropping images as MXNet 1.9.1's OpenCV-based functions do,
the augmenters, and ImageIter (batches from a .rec file, an image list or a list of arrays).

Images are decoded by Pillow (the 'image' extra) and are uint8 NDArrays in (height, width,
channels) layout, RGB unless to_rgb=0. Resizing is cysym's own (cysym/image_resize.py): it
reproduces the arithmetic of OpenCV 3.4.2, the version inside MXNet 1.9.1's wheels, so resized
images equal MXNet's pixel for pixel in tests/test_image_iter.py.

Random augmenters draw from Python's `random` module (and LightingAug from NumPy's global random
state), as MXNet's do, so `random.seed(n)` makes them repeatable.
"""
import json
import logging
import os
import random

import numpy as np

from . import io as _io
from . import ndarray as nd
from . import recordio
from .base import MXNetError
from .image_resize import AREA, CUBIC, LANCZOS4, LINEAR, NEAREST  # noqa: F401  (mx.image's names)
from .image_resize import resize_array as _resize_array

__all__ = ["imdecode", "imread", "imresize", "scale_down", "resize_short", "fixed_crop", "random_crop",
           "center_crop", "color_normalize", "random_size_crop", "Augmenter", "SequentialAug",
           "RandomOrderAug", "ResizeAug", "ForceResizeAug", "RandomCropAug", "RandomSizedCropAug",
           "CenterCropAug", "BrightnessJitterAug", "ContrastJitterAug", "SaturationJitterAug",
           "HueJitterAug", "ColorJitterAug", "LightingAug", "ColorNormalizeAug", "RandomGrayAug",
           "HorizontalFlipAug", "CastAug", "CreateAugmenter", "ImageIter"]

_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- resizing

def _interp_method(interp, sizes=()):
    """MXNet's interpolation codes: 0-4 as OpenCV's, 9 = bicubic to enlarge, area to shrink and
    bilinear otherwise, 10 = a random one of 0-4."""
    if interp == 9:
        if sizes:
            old_h, old_w, new_h, new_w = sizes
            if new_h > old_h and new_w > old_w:
                return CUBIC
            if new_h < old_h and new_w < old_w:
                return AREA
            return LINEAR
        return CUBIC
    if interp == 10:
        return random.randint(0, 4)
    if interp not in (0, 1, 2, 3, 4):
        raise ValueError(f"Unknown interp method {interp}")
    return interp


def imresize(src, w, h, interp=1):
    """src (h, w, c) resized to (h, w) with interpolation interp (0 nearest, 1 bilinear,
    2 bicubic, 3 area, 4 Lanczos-4), as OpenCV computes it."""
    resized = _resize_array(np.asarray(src), int(w), int(h), _interp_method(interp))
    return nd.array(resized, dtype=resized.dtype)


# --------------------------------------------------------------------------- decoding

def imdecode(buf, flag=1, to_rgb=1, out=None):
    """An encoded image (bytes) as a uint8 NDArray (h, w, 3) in RGB order (BGR if to_rgb=0), or
    (h, w, 1) gray with flag=0."""
    if isinstance(buf, np.ndarray):
        buf = buf.tobytes()
    image = recordio.imdecode_bgr(buf, 1 if flag else 0)
    if image.ndim == 2:
        image = image[:, :, None]
    elif to_rgb:
        image = image[:, :, ::-1]
    result = nd.array(np.ascontiguousarray(image), dtype=np.uint8)
    if out is not None:
        out[...] = result
        return out
    return result


def imread(filename, flag=1, to_rgb=1, out=None):
    """The image in file filename, decoded as imdecode does."""
    with open(filename, "rb") as f:
        return imdecode(f.read(), flag, to_rgb, out)


# --------------------------------------------------------------------------- crops

def scale_down(src_size, size):
    """(w, h) of size shrunk, keeping its aspect ratio, until it fits in src_size (w, h)."""
    w, h = size
    src_w, src_h = src_size
    if src_h < h:
        w, h = float(w * src_h) / h, src_h
    if src_w < w:
        w, h = src_w, float(h * src_w) / w
    return int(w), int(h)


def resize_short(src, size, interp=2):
    """src resized so that its shorter edge is size, keeping the aspect ratio (sizes floored)."""
    h, w = src.shape[:2]
    if h > w:
        new_h, new_w = size * h // w, size
    else:
        new_h, new_w = size, size * w // h
    return imresize(src, new_w, new_h, interp=_interp_method(interp, (h, w, new_h, new_w)))


def fixed_crop(src, x0, y0, w, h, size=None, interp=2):
    """The (w, h) region of src at (x0, y0), resized to size (w, h) if given."""
    out = src[y0:y0 + h, x0:x0 + w]
    if size is not None and (w, h) != tuple(size):
        out = imresize(out, *size, interp=_interp_method(interp, (h, w, size[1], size[0])))
    return out


def random_crop(src, size, interp=2):
    """(crop, (x0, y0, w, h)): a random region of size (w, h), scaled down to fit src first."""
    h, w = src.shape[:2]
    new_w, new_h = scale_down((w, h), size)
    x0 = random.randint(0, w - new_w)
    y0 = random.randint(0, h - new_h)
    return fixed_crop(src, x0, y0, new_w, new_h, size, interp), (x0, y0, new_w, new_h)


def center_crop(src, size, interp=2):
    """(crop, (x0, y0, w, h)): the central region of size (w, h), scaled down to fit src first."""
    h, w = src.shape[:2]
    new_w, new_h = scale_down((w, h), size)
    x0 = int((w - new_w) / 2)
    y0 = int((h - new_h) / 2)
    return fixed_crop(src, x0, y0, new_w, new_h, size, interp), (x0, y0, new_w, new_h)


def color_normalize(src, mean, std=None):
    """(src - mean) / std, in place on src."""
    if mean is not None:
        src -= mean
    if std is not None:
        src /= std
    return src


def random_size_crop(src, size, area, ratio, interp=2):
    """(crop, (x0, y0, w, h)): a region of random area (a fraction in area, or in [area, 1]) and
    aspect ratio (log-uniform in ratio) resized to size; center_crop after 10 misses."""
    h, w = src.shape[:2]
    if isinstance(area, (int, float)):
        area = (area, 1.0)
    for _ in range(10):
        target_area = random.uniform(area[0], area[1]) * h * w
        new_ratio = np.exp(random.uniform(np.log(ratio[0]), np.log(ratio[1])))
        new_w = int(round(np.sqrt(target_area * new_ratio)))
        new_h = int(round(np.sqrt(target_area / new_ratio)))
        if new_w <= w and new_h <= h:
            x0 = random.randint(0, w - new_w)
            y0 = random.randint(0, h - new_h)
            return fixed_crop(src, x0, y0, new_w, new_h, size, interp), (x0, y0, new_w, new_h)
    return center_crop(src, size, interp)


# --------------------------------------------------------------------------- augmenters

class Augmenter:
    """An image transform: called on an (h, w, c) NDArray, returns the transformed one."""

    def __init__(self, **kwargs):
        self._kwargs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}

    def dumps(self):
        """[class name in lower case, parameters] as JSON, as MXNet describes an augmenter."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __call__(self, src):
        raise NotImplementedError("Must override implementation.")


class SequentialAug(Augmenter):
    """The augmenters ts, one after the other."""

    def __init__(self, ts):
        super().__init__()
        self.ts = ts

    def dumps(self):
        return [self.__class__.__name__.lower(), [t.dumps() for t in self.ts]]

    def __call__(self, src):
        for t in self.ts:
            src = t(src)
        return src


class RandomOrderAug(SequentialAug):
    """The augmenters ts in a random order."""

    def __call__(self, src):
        random.shuffle(self.ts)
        return super().__call__(src)


class _SizedAug(Augmenter):
    """An augmenter of one size and interpolation method."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size, self.interp = size, interp


class ResizeAug(_SizedAug):
    """Resize the shorter edge to size."""

    def __call__(self, src):
        return resize_short(src, self.size, self.interp)


class ForceResizeAug(_SizedAug):
    """Resize to size (w, h), ignoring the aspect ratio."""

    def __call__(self, src):
        sizes = (src.shape[0], src.shape[1], self.size[1], self.size[0])
        return imresize(src, *self.size, interp=_interp_method(self.interp, sizes))


class RandomCropAug(_SizedAug):
    """A random crop of size (w, h)."""

    def __call__(self, src):
        return random_crop(src, self.size, self.interp)[0]


class RandomSizedCropAug(Augmenter):
    """A crop of random area and aspect ratio, resized to size (w, h)."""

    def __init__(self, size, area, ratio, interp=2):
        super().__init__(size=size, area=area, ratio=ratio, interp=interp)
        self.size, self.area, self.ratio, self.interp = size, area, ratio, interp

    def __call__(self, src):
        return random_size_crop(src, self.size, self.area, self.ratio, self.interp)[0]


class CenterCropAug(_SizedAug):
    """The central crop of size (w, h)."""

    def __call__(self, src):
        return center_crop(src, self.size, self.interp)[0]


class BrightnessJitterAug(Augmenter):
    """src * (1 + u), u uniform in [-brightness, brightness]."""

    def __init__(self, brightness):
        super().__init__(brightness=brightness)
        self.brightness = brightness

    def __call__(self, src):
        src *= 1.0 + random.uniform(-self.brightness, self.brightness)
        return src


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ContrastJitterAug(Augmenter):
    """src * a + (1 - a) * mean luma, a = 1 + u, u uniform in [-contrast, contrast]."""

    def __init__(self, contrast):
        super().__init__(contrast=contrast)
        self.contrast = contrast

    def __call__(self, src):
        alpha = 1.0 + random.uniform(-self.contrast, self.contrast)
        gray = src * _LUMA
        src *= alpha
        src += 3.0 * (1.0 - alpha) / gray.size * float(np.sum(gray))
        return src


class SaturationJitterAug(Augmenter):
    """src * a + (1 - a) * luma per pixel, a = 1 + u, u uniform in [-saturation, saturation]."""

    def __init__(self, saturation):
        super().__init__(saturation=saturation)
        self.saturation = saturation

    def __call__(self, src):
        alpha = 1.0 + random.uniform(-self.saturation, self.saturation)
        gray = np.sum(src * _LUMA, axis=2, keepdims=True) * (1.0 - alpha)
        src *= alpha
        src += gray
        return src


class HueJitterAug(Augmenter):
    """A rotation of the hue by u * 180 degrees in YIQ space, u uniform in [-hue, hue]."""

    _TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.321], [0.211, -0.523, 0.311]])
    _FROM_YIQ = np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.107, 1.705]])

    def __init__(self, hue):
        super().__init__(hue=hue)
        self.hue = hue

    def __call__(self, src):
        alpha = random.uniform(-self.hue, self.hue)
        u, w = np.cos(alpha * np.pi), np.sin(alpha * np.pi)
        rotation = np.array([[1.0, 0.0, 0.0], [0.0, u, -w], [0.0, w, u]])
        transform = (self._FROM_YIQ @ rotation @ self._TO_YIQ).T
        return nd.array(np.dot(np.asarray(src), transform.astype(np.float32)))


class ColorJitterAug(RandomOrderAug):
    """Brightness, contrast and saturation jitter, in a random order."""

    def __init__(self, brightness, contrast, saturation):
        ts = []
        if brightness > 0:
            ts.append(BrightnessJitterAug(brightness))
        if contrast > 0:
            ts.append(ContrastJitterAug(contrast))
        if saturation > 0:
            ts.append(SaturationJitterAug(saturation))
        super().__init__(ts)


class LightingAug(Augmenter):
    """AlexNet's PCA lighting noise: src + eigvec @ (alpha * eigval), alpha ~ N(0, alphastd)."""

    def __init__(self, alphastd, eigval, eigvec):
        super().__init__(alphastd=alphastd, eigval=eigval, eigvec=eigvec)
        self.alphastd, self.eigval, self.eigvec = alphastd, eigval, eigvec

    def __call__(self, src):
        alpha = np.random.normal(0, self.alphastd, size=(3,))
        src += np.dot(self.eigvec * alpha, self.eigval).astype(np.float32)
        return src


class ColorNormalizeAug(Augmenter):
    """(src - mean) / std."""

    def __init__(self, mean, std):
        super().__init__(mean=np.asarray(mean) if mean is not None else None,
                         std=np.asarray(std) if std is not None else None)
        self.mean = None if mean is None else nd.array(mean)
        self.std = None if std is None else nd.array(std)

    def __call__(self, src):
        return color_normalize(src, self.mean, self.std)


class RandomGrayAug(Augmenter):
    """With probability p, every channel becomes 0.21 R + 0.72 G + 0.07 B."""

    _TO_GRAY = np.array([[0.21] * 3, [0.72] * 3, [0.07] * 3], dtype=np.float32)

    def __init__(self, p):
        super().__init__(p=p)
        self.p = p

    def __call__(self, src):
        if random.random() < self.p:
            src = nd.array(np.dot(np.asarray(src), self._TO_GRAY))
        return src


class HorizontalFlipAug(Augmenter):
    """With probability p, the image mirrored left to right."""

    def __init__(self, p):
        super().__init__(p=p)
        self.p = p

    def __call__(self, src):
        if random.random() < self.p:
            src = src[:, ::-1]
        return src


class CastAug(Augmenter):
    """src as dtype typ."""

    def __init__(self, typ="float32"):
        super().__init__(type=typ)
        self.typ = typ

    def __call__(self, src):
        return nd.array(np.asarray(src), dtype=self.typ)


_IMAGENET_MEAN = np.array([123.68, 116.28, 103.53])
_IMAGENET_STD = np.array([58.395, 57.12, 57.375])
_PCA_EIGVAL = np.array([55.46, 4.794, 1.148])
_PCA_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])


def CreateAugmenter(data_shape, resize=0, rand_crop=False, rand_resize=False, rand_mirror=False,
                    mean=None, std=None, brightness=0, contrast=0, saturation=0, hue=0,
                    pca_noise=0, rand_gray=0, inter_method=2):
    """MXNet's standard augmenter list for images of data_shape (c, h, w): resize the shorter edge
    (resize > 0), crop to (w, h) (centre, random, or random size with rand_resize), mirror,
    cast to float32, colour jitter, hue, PCA noise, gray, then normalise (mean/std True: ImageNet's)."""
    augs = []
    if resize > 0:
        augs.append(ResizeAug(resize, inter_method))
    crop_size = (data_shape[2], data_shape[1])
    if rand_resize:
        if not rand_crop:
            raise ValueError("CreateAugmenter: rand_resize needs rand_crop")
        augs.append(RandomSizedCropAug(crop_size, 0.08, (3.0 / 4.0, 4.0 / 3.0), inter_method))
    elif rand_crop:
        augs.append(RandomCropAug(crop_size, inter_method))
    else:
        augs.append(CenterCropAug(crop_size, inter_method))
    if rand_mirror:
        augs.append(HorizontalFlipAug(0.5))
    augs.append(CastAug())
    if brightness or contrast or saturation:
        augs.append(ColorJitterAug(brightness, contrast, saturation))
    if hue:
        augs.append(HueJitterAug(hue))
    if pca_noise > 0:
        augs.append(LightingAug(pca_noise, _PCA_EIGVAL, _PCA_EIGVEC))
    if rand_gray > 0:
        augs.append(RandomGrayAug(rand_gray))
    mean = _IMAGENET_MEAN if mean is True else mean
    std = _IMAGENET_STD if std is True else std
    for name, value in (("mean", mean), ("std", std)):
        if value is not None and np.shape(value)[0] not in (1, 3):
            raise ValueError(f"CreateAugmenter: {name} must hold 1 or 3 values, got shape {np.shape(value)}")
    if mean is not None or std is not None:
        augs.append(ColorNormalizeAug(mean, std))
    return augs


# --------------------------------------------------------------------------- ImageIter

class ImageIter(_io.DataIter):
    """Batches of augmented images, (batch_size,) + data_shape float32 in CHW layout, with their
    labels ((batch_size,) or (batch_size, label_width)), as MXNet's mx.image.ImageIter.

    The images come from path_imgrec (a .rec file, with path_imgidx for random access and
    shuffling), or path_imglist (lines 'index<TAB>label...<TAB>file name' under path_root), or
    imglist ([label(s)..., file name] entries). aug_list defaults to ``CreateAugmenter(data_shape,
    **kwargs)``. last_batch_handle: 'pad' (fill from the start; batch.pad tells how many),
    'discard' or 'roll_over' (the incomplete batch is finished at the next epoch's start).
    """

    def __init__(self, batch_size, data_shape, label_width=1, path_imgrec=None, path_imglist=None,
                 path_root=None, path_imgidx=None, shuffle=False, part_index=0, num_parts=1,
                 aug_list=None, imglist=None, data_name="data", label_name="softmax_label",
                 dtype="float32", last_batch_handle="pad", **kwargs):
        super().__init__(batch_size)
        if not (path_imgrec or path_imglist or isinstance(imglist, list)):
            raise ValueError("ImageIter: give path_imgrec, path_imglist or imglist")
        if dtype not in ("int32", "float32", "int64", "float64"):
            raise ValueError(f"ImageIter: {dtype} label not supported")
        if last_batch_handle not in ("pad", "discard", "roll_over"):
            raise ValueError(f"ImageIter: last_batch_handle must be 'pad', 'discard' or 'roll_over', "
                             f"not {last_batch_handle!r}")
        self.imgrec, self.imgidx = None, None
        if path_imgrec:
            if path_imgidx:
                self.imgrec = recordio.MXIndexedRecordIO(path_imgidx, path_imgrec, "r")
                self.imgidx = list(self.imgrec.keys)
            else:
                self.imgrec = recordio.MXRecordIO(path_imgrec, "r")
        keys = None
        self.imglist = None
        if path_imglist:
            self.imglist, keys = {}, []
            with open(path_imglist) as f:
                for line in f:
                    fields = line.strip().split("\t")
                    key = int(fields[0])
                    self.imglist[key] = (np.array(fields[1:-1], dtype=dtype), fields[-1])
                    keys.append(key)
        elif isinstance(imglist, list):
            self.imglist, keys = {}, []
            for number, entry in enumerate(imglist, 1):
                if len(entry) > 2:
                    label = np.array(entry[:-1], dtype=dtype)
                else:
                    label = np.array(np.atleast_1d(entry[0]), dtype=dtype)
                self.imglist[str(number)] = (label, entry[-1])
                keys.append(str(number))
        self.path_root = path_root
        self.check_data_shape(data_shape)
        self.provide_data = [_io.DataDesc(data_name, (batch_size,) + tuple(data_shape))]
        label_shape = (batch_size, label_width) if label_width > 1 else (batch_size,)
        self.provide_label = [_io.DataDesc(label_name, label_shape)]
        self.data_shape = tuple(data_shape)
        self.label_width = label_width
        self.shuffle = shuffle
        if self.imgrec is None:
            self.seq = keys
        elif shuffle or num_parts > 1 or path_imgidx:
            if self.imgidx is None:
                raise ValueError("ImageIter: shuffle and num_parts > 1 need path_imgidx")
            self.seq = self.imgidx
        else:
            self.seq = None
        if num_parts > 1:
            if not 0 <= part_index < num_parts:
                raise ValueError(f"ImageIter: part_index must be in [0, {num_parts}), not {part_index}")
            per_part = len(self.seq) // num_parts
            self.seq = self.seq[part_index * per_part:(part_index + 1) * per_part]
        self.auglist = CreateAugmenter(data_shape, **kwargs) if aug_list is None else aug_list
        self.cur = 0
        self._allow_read = True
        self.last_batch_handle = last_batch_handle
        self.num_image = len(self.seq) if self.seq is not None else None
        self._cache = None
        self.reset()

    def reset(self):
        """Back to the first image (reshuffled); 'roll_over' keeps a cached incomplete batch."""
        if self.seq is not None and self.shuffle:
            random.shuffle(self.seq)
        if self.last_batch_handle != "roll_over" or self._cache is None:
            if self.imgrec is not None:
                self.imgrec.reset()
            self.cur = 0
            self._allow_read = True

    def hard_reset(self):
        """Back to the first image, forgetting a cached incomplete batch."""
        self._cache = None
        if self.seq is not None and self.shuffle:
            random.shuffle(self.seq)
        if self.imgrec is not None:
            self.imgrec.reset()
        self.cur = 0
        self._allow_read = True

    def next_sample(self):
        """(label, encoded image bytes) of the next image; StopIteration at the end."""
        if not self._allow_read:
            raise StopIteration
        if self.seq is None:
            record = self.imgrec.read()
            if record is None:
                if self.last_batch_handle != "discard":
                    self.imgrec.reset()
                raise StopIteration
            header, img = recordio.unpack(record)
            return header.label, img
        if self.cur >= self.num_image:
            if self.last_batch_handle != "discard":
                self.cur = 0
            raise StopIteration
        key = self.seq[self.cur]
        self.cur += 1
        if self.imgrec is not None:
            header, img = recordio.unpack(self.imgrec.read_idx(key))
            return (header.label if self.imglist is None else self.imglist[key][0]), img
        label, fname = self.imglist[key]
        return label, self.read_image(fname)

    def _fill(self, data, label, start):
        """Fills rows start.. of data/label from the next samples; the number of rows filled."""
        i = start
        try:
            while i < self.batch_size:
                sample_label, encoded = self.next_sample()
                image = self.imdecode(encoded)
                try:
                    self.check_valid_image(image)
                except RuntimeError as err:
                    _log.debug("Invalid image, skipping: %s", err)
                    continue
                data[i] = np.asarray(self.postprocess_data(self.augmentation_transform(image)))
                label[i] = sample_label
                i += 1
        except StopIteration:
            if not i:
                raise
        return i

    def next(self):
        if self._cache is not None:
            data, label, filled = self._cache
        else:
            data = np.zeros((self.batch_size,) + self.data_shape, dtype=np.float32)
            label = np.empty(self.provide_label[0].shape, dtype=np.float32)
            filled = self._fill(data, label, 0)
        pad = self.batch_size - filled
        if pad:
            if self.last_batch_handle == "discard":
                raise StopIteration
            if self.last_batch_handle == "roll_over" and self._cache is None:
                self._cache = (data, label, filled)
                raise StopIteration
            self._fill(data, label, filled)
            if self.last_batch_handle == "pad":
                self._allow_read = False
            else:
                self._cache = None
        return _io.DataBatch([nd.array(data)], [nd.array(label)], pad=pad)

    def check_data_shape(self, data_shape):
        """data_shape must be (3, h, w)."""
        if len(data_shape) != 3:
            raise ValueError("data_shape should have length 3, with dimensions CxHxW")
        if data_shape[0] != 3:
            raise ValueError("This iterator expects inputs to have 3 channels.")

    def check_valid_image(self, data):
        """RuntimeError for an image with no pixels (skipped by the iterator)."""
        if data.size == 0:
            raise RuntimeError("Data shape is wrong")

    def imdecode(self, s):
        """Decoded RGB image; a broken one raises RuntimeError naming it."""
        try:
            return imdecode(s)
        except MXNetError as err:
            key = self.cur - 1 if self.seq is None else self.seq[(self.cur - 1) % self.num_image]
            where = f"filename: {self.imglist[key][1]}" if self.imglist is not None else f"index: {key}"
            raise RuntimeError(f"Broken image {where}, {err}") from err

    def read_image(self, fname):
        """The bytes of image file fname under path_root."""
        with open(os.path.join(self.path_root or "", fname), "rb") as f:
            return f.read()

    def augmentation_transform(self, data):
        """data after every augmenter of auglist."""
        for aug in self.auglist:
            data = aug(data)
        return data

    def postprocess_data(self, datum):
        """(h, w, c) -> (c, h, w)."""
        return nd.array(np.transpose(np.asarray(datum), (2, 0, 1)), dtype=datum.dtype)

