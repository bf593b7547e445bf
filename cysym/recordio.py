"""MXNet's RecordIO files (`.rec`, with an optional `.idx` text index), byte for byte.

A file is a sequence of records. Each record is the magic word 0xced7230a, a word holding the
length (low 29 bits) and a continuation flag (high 3 bits), the bytes, and zeros up to a multiple
of 4 bytes; all words little-endian. A record whose bytes contain the magic word at a 4-byte
aligned offset is written as several parts (flag 1 = first, 2 = middle, 3 = last), the magic
words themselves left out and put back on reading, so a reader can find record starts by
scanning. The `.idx` file has one line `key<TAB>byte offset` per record.

`pack`/`unpack` add MXNet's image-record header (`IRHeader`: flag, label, id, id2; with flag > 0
the header is followed by `flag` float32 labels). `pack_img`/`unpack_img` encode and decode
the image with Pillow (`pip install cysym[image]`), in OpenCV's channel order (BGR), as MXNet's do.

Files are untrusted: a bad magic word, an impossible flag or a truncated record raises
RecordIOFormatError naming the file and the byte offset.
"""
import io
import numbers
import os
import struct
from collections import namedtuple
from multiprocessing import current_process

import numpy as np

from .base import MXNetError

__all__ = ["MXRecordIO", "MXIndexedRecordIO", "IRHeader", "RecordIOFormatError", "pack", "unpack",
           "pack_img", "unpack_img"]

_MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", _MAGIC)
_LENGTH_BITS = 29
_MAX_LENGTH = (1 << _LENGTH_BITS) - 1
_WHOLE, _FIRST, _MIDDLE, _LAST = 0, 1, 2, 3


class RecordIOFormatError(MXNetError, ValueError):
    """A .rec or .idx file (or a packed record) is malformed or truncated."""


def _padded(length):
    return (length + 3) & ~3


def _parts(buf):
    """(flag, bytes) parts of one record: buf cut at each 4-byte aligned magic word, as dmlc's
    writer does so that a reader can resynchronise on magic words."""
    parts = []
    start = 0
    position = buf.find(_MAGIC_BYTES)
    while position != -1:
        if position % 4 == 0:
            parts.append((_FIRST if start == 0 else _MIDDLE, buf[start:position]))
            start = position + 4
            position = buf.find(_MAGIC_BYTES, start)
        else:
            position = buf.find(_MAGIC_BYTES, position + 1)
    parts.append((_LAST if start else _WHOLE, buf[start:]))
    return parts


class MXRecordIO:
    """Sequential reader ('r') or writer ('w') of a RecordIO file.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tmp.rec")
    >>> writer = mx.recordio.MXRecordIO(path, "w")
    >>> for i in range(3):
    ...     writer.write(b"record_%d" % i)
    >>> writer.close()
    >>> reader = mx.recordio.MXRecordIO(path, "r")
    >>> reader.read(), reader.read(), reader.read(), reader.read()
    (b'record_0', b'record_1', b'record_2', None)
    >>> reader.close()
    """

    def __init__(self, uri, flag):
        self.uri = os.fspath(uri)
        self.flag = flag
        self.pid = None
        self.is_open = False
        self._file = None
        self.open()

    def open(self):
        """Opens the file: for writing ('w', truncating it) or reading ('r')."""
        if self.flag == "w":
            self._file = open(self.uri, "wb")
            self.writable = True
        elif self.flag == "r":
            self._file = open(self.uri, "rb")
            self.writable = False
        else:
            raise ValueError(f"Invalid flag {self.flag}")
        self.pid = current_process().pid
        self.is_open = True

    def __del__(self):
        self.close()

    def __getstate__(self):
        """The state without the open file; an open record reopens, at its start, on unpickling
        (this one stays open: MXNet closes it, because it cannot copy its C handle)."""
        state = dict(self.__dict__)
        state["_file"] = None
        return state

    def __setstate__(self, state):
        self.__dict__ = state
        is_open = state["is_open"]
        self.is_open = False
        if is_open:
            self.open()

    def _check_pid(self, allow_reset=False):
        """A record opened in another process is reopened (allow_reset) or refused, as MXNet does."""
        if self.pid != current_process().pid:
            if allow_reset:
                self.reset()
            else:
                raise RuntimeError("Forbidden operation in multiple processes")

    def close(self):
        """Closes the file."""
        if not getattr(self, "is_open", False):
            return
        self._file.close()
        self._file = None
        self.is_open = False
        self.pid = None

    def reset(self):
        """Goes back to the first record; a writer truncates the file to empty."""
        self.close()
        self.open()

    def write(self, buf):
        """Appends buf (bytes) as one record."""
        assert self.writable
        self._check_pid(allow_reset=False)
        buf = bytes(memoryview(buf))
        if len(buf) > _MAX_LENGTH:
            raise MXNetError(f"{self.uri}: RecordIO only accepts records shorter than 2^29 bytes, "
                             f"got {len(buf)}")
        chunks = []
        for cflag, part in _parts(buf):
            chunks += [_MAGIC_BYTES, struct.pack("<I", cflag << _LENGTH_BITS | len(part)), part]
        chunks.append(b"\0" * (_padded(len(buf)) - len(buf)))
        self._file.write(b"".join(chunks))

    def read(self):
        """The next record's bytes, or None at the end of the file."""
        assert not self.writable
        self._check_pid(allow_reset=False)
        return self._read_record()

    def _read_record(self):
        f = self._file
        start = f.tell()
        parts = []
        while True:
            offset = f.tell()
            head = f.read(8)
            if not head and not parts:
                return None
            if len(head) < 8:
                raise self._error(offset, f"a truncated record header ({len(head)} of 8 bytes)")
            magic, word = struct.unpack("<II", head)
            if magic != _MAGIC:
                raise self._error(offset, f"magic word 0x{magic:08x} instead of 0x{_MAGIC:08x}")
            cflag, length = word >> _LENGTH_BITS, word & _MAX_LENGTH
            expected = (_WHOLE, _FIRST) if not parts else (_MIDDLE, _LAST)
            if cflag not in expected:
                raise self._error(offset, f"continuation flag {cflag} where {' or '.join(map(str, expected))} "
                                          f"was expected (record starting at byte {start})")
            # bound what is read by what the file holds, so that a corrupt length cannot allocate
            remaining = os.fstat(f.fileno()).st_size - f.tell()
            if _padded(length) > remaining:
                raise self._error(offset, f"a record of {length} bytes, but only {remaining} bytes follow")
            parts.append(f.read(_padded(length))[:length])
            if cflag in (_WHOLE, _LAST):
                return _MAGIC_BYTES.join(parts)

    def _error(self, offset, what):
        return RecordIOFormatError(f"{self.uri}: invalid RecordIO file at byte {offset}: {what}")


class MXIndexedRecordIO(MXRecordIO):
    """A RecordIO file with a `.idx` index for random access by key.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> idx, rec = os.path.join(folder, "tmp.idx"), os.path.join(folder, "tmp.rec")
    >>> writer = mx.recordio.MXIndexedRecordIO(idx, rec, "w")
    >>> for i in range(4):
    ...     writer.write_idx(i, b"record_%d" % i)
    >>> writer.close()
    >>> mx.recordio.MXIndexedRecordIO(idx, rec, "r").read_idx(2)
    b'record_2'
    """

    def __init__(self, idx_path, uri, flag, key_type=int):
        self.idx_path = os.fspath(idx_path)
        self.idx = {}
        self.keys = []
        self.key_type = key_type
        self.fidx = None
        super().__init__(uri, flag)

    def open(self):
        super().open()
        self.idx = {}
        self.keys = []
        self.fidx = open(self.idx_path, self.flag)
        if not self.writable:
            self._read_index()

    def _read_index(self):
        size = os.fstat(self._file.fileno()).st_size
        for line_number, line in enumerate(self.fidx, 1):
            fields = line.strip().split("\t")
            try:
                key, position = self.key_type(fields[0]), int(fields[1])
            except (IndexError, ValueError) as err:
                raise RecordIOFormatError(f"{self.idx_path}: line {line_number} is not 'key<TAB>offset': "
                                          f"{line.rstrip()!r}") from err
            if not 0 <= position < size:
                raise RecordIOFormatError(f"{self.idx_path}: line {line_number}: offset {position} is outside "
                                          f"{self.uri} ({size} bytes)")
            self.idx[key] = position
            self.keys.append(key)

    def close(self):
        """Closes the record file and the index."""
        if not getattr(self, "is_open", False):
            return
        super().close()
        self.fidx.close()

    def __getstate__(self):
        state = super().__getstate__()
        state["fidx"] = None
        return state

    def seek(self, idx):
        """Moves the read position to the record stored under key idx."""
        assert not self.writable
        self._check_pid(allow_reset=True)
        try:
            position = self.idx[idx]
        except KeyError:
            raise RecordIOKeyError(f"{self.idx_path}: no record with key {idx!r}") from None
        self._file.seek(position)

    def tell(self):
        """The byte offset at which the next record will be written."""
        assert self.writable
        return self._file.tell()

    def read_idx(self, idx):
        """The record stored under key idx."""
        self.seek(idx)
        return self.read()

    def write_idx(self, idx, buf):
        """Appends buf as a record stored under key idx."""
        key = self.key_type(idx)
        position = self.tell()
        self.write(buf)
        self.fidx.write(f"{key}\t{position}\n")
        self.idx[key] = position
        self.keys.append(key)


class RecordIOKeyError(MXNetError, KeyError):
    """MXIndexedRecordIO.seek/read_idx got a key that the index does not hold."""


IRHeader = namedtuple("HEADER", ["flag", "label", "id", "id2"])
IRHeader.__doc__ = """The header of an image record: flag (the number of float32 labels that follow
the header, 0 when label holds the one label), label, id and id2 (the high bits of the id)."""

_IR_FORMAT = "IfQQ"
_IR_SIZE = struct.calcsize(_IR_FORMAT)


def pack(header, s):
    """A record: header (an IRHeader; its label a number or an array of them) followed by bytes s."""
    header = IRHeader(*header)
    if isinstance(header.label, numbers.Number):
        header = header._replace(flag=0)
    else:
        label = np.asarray(header.label, dtype=np.float32)
        header = header._replace(flag=label.size, label=0)
        s = label.tobytes() + s
    return struct.pack(_IR_FORMAT, *header) + s


def unpack(s):
    """(IRHeader, payload bytes) of a record; with header.flag > 0 the label is a float32 array."""
    if len(s) < _IR_SIZE:
        raise RecordIOFormatError(f"an image record needs a {_IR_SIZE}-byte header, got {len(s)} bytes")
    header = IRHeader(*struct.unpack(_IR_FORMAT, s[:_IR_SIZE]))
    s = s[_IR_SIZE:]
    if header.flag > 0:
        if len(s) < 4 * header.flag:
            raise RecordIOFormatError(f"an image record's header announces {header.flag} labels "
                                      f"({4 * header.flag} bytes), but {len(s)} bytes follow")
        header = header._replace(label=np.frombuffer(s, np.float32, header.flag))
        s = s[header.flag * 4:]
    return header, s


def _pillow():
    try:
        from PIL import Image
    except ImportError as err:
        raise ImportError("encoding and decoding images needs Pillow: pip install cysym[image]") from err
    return Image


def imdecode_bgr(buf, flag=-1):
    """Decoded image bytes as a uint8 array, as cv2.imdecode(buf, flag) gives it: flag 1 -> BGR
    (h, w, 3); 0 -> gray (h, w); -1 -> as stored (gray (h, w), BGR, or BGRA with alpha)."""
    Image = _pillow()
    try:
        image = Image.open(io.BytesIO(bytes(buf)))
        if flag == 0 and image.format == "JPEG":
            image.draft("L", image.size)    # libjpeg's own luma, as OpenCV's grayscale read gives
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise MXNetError(f"cannot decode the image ({len(buf)} bytes): {err}") from err
    if flag == 0:
        return np.asarray(image.convert("L"))
    if flag == -1 and image.mode in ("L", "RGBA", "LA", "PA") or flag == -1 and "transparency" in image.info:
        mode = "L" if image.mode == "L" else "RGBA"
    else:
        mode = "RGB"
    array = np.asarray(image.convert(mode))
    if array.ndim == 3:
        order = [2, 1, 0, 3][:array.shape[2]]
        array = np.ascontiguousarray(array[:, :, order])
    return array


def unpack_img(s, iscolor=-1):
    """(IRHeader, image) of a record holding an encoded image; the image a uint8 array in
    OpenCV's layout (see imdecode_bgr; iscolor is cv2.imdecode's flag)."""
    header, s = unpack(s)
    return header, imdecode_bgr(s, iscolor)


_JPEG_FORMATS = (".JPG", ".JPEG")
_PNG_FORMATS = (".PNG",)


def pack_img(header, img, quality=95, img_fmt=".jpg"):
    """A record holding header and img (uint8, OpenCV's BGR/BGRA or gray layout) encoded as
    img_fmt; quality is JPEG's quality (1-100) or PNG's compression level (0-9)."""
    Image = _pillow()
    img = np.asarray(img, dtype=np.uint8)
    fmt = img_fmt.upper()
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3:
        channels = img.shape[2]
        if channels == 4 and fmt in _JPEG_FORMATS:
            channels = 3                 # JPEG has no alpha: OpenCV drops it too
        img = np.ascontiguousarray(img[:, :, [2, 1, 0, 3][:channels]])
    image = Image.fromarray(img)
    options = {}
    if fmt in _JPEG_FORMATS:
        pil_format = "JPEG"
        options["quality"] = quality
    elif fmt in _PNG_FORMATS:
        pil_format = "PNG"
        options["compress_level"] = min(max(quality, 0), 9)    # OpenCV clamps the level too
    else:
        pil_format = Image.registered_extensions().get(img_fmt.lower())
        if pil_format is None:
            raise ValueError(f"pack_img: unknown image format {img_fmt!r}")
    out = io.BytesIO()
    image.save(out, format=pil_format, **options)
    return pack(header, out.getvalue())
