"""mx.recordio against files MXNet 1.9.1 wrote (tests/fixtures/recordio, made by its script):
reading them, writing the same bytes, image records decoded as OpenCV does, and bad files."""
import pickle
import struct

import numpy as np
import pytest

import cysym as mx
from cysym import recordio
from cysym.base import MXNetError
from cysym.recordio import IRHeader, MXIndexedRecordIO, MXRecordIO, RecordIOFormatError
from recordio_fixtures import EXPECTED, arrays, fixture  # noqa: F401 (arrays: a pytest fixture)

PLAIN = [bytes.fromhex(p) for p in EXPECTED["plain"]]
MAGIC = struct.pack("<I", 0xCED7230A)


def _read_all(reader):
    records = []
    while (record := reader.read()) is not None:
        records.append(record)
    return records


def test_reads_mxnet_file_in_order():
    reader = MXRecordIO(fixture("plain.rec"), "r")
    assert _read_all(reader) == PLAIN
    assert reader.read() is None
    reader.reset()
    assert reader.read() == PLAIN[0]
    reader.close()


def test_reads_mxnet_file_by_key():
    reader = MXIndexedRecordIO(fixture("plain.idx"), fixture("plain.rec"), "r")
    assert reader.keys == list(range(len(PLAIN)))
    for key in reversed(reader.keys):
        assert reader.read_idx(key) == PLAIN[key]
    reader.close()


def test_writes_mxnet_bytes(tmp_path):
    """Records holding the magic word split into parts exactly as dmlc's writer splits them."""
    writer = MXIndexedRecordIO(tmp_path / "w.idx", tmp_path / "w.rec", "w")
    positions = []
    for key, payload in enumerate(PLAIN):
        positions.append(writer.tell())
        writer.write_idx(key, payload)
    writer.close()
    assert (tmp_path / "w.rec").read_bytes() == open(fixture("plain.rec"), "rb").read()
    assert (tmp_path / "w.idx").read_text() == open(fixture("plain.idx")).read()
    assert positions[:4] == [0, 8, 20, 32]


def test_magic_in_data_is_split_into_parts(tmp_path):
    writer = MXRecordIO(tmp_path / "m.rec", "w")
    writer.write(b"wxyz" + MAGIC + b"012")
    writer.close()
    data = (tmp_path / "m.rec").read_bytes()
    # first part: flag 1, 4 bytes; last part: flag 3, 3 bytes padded to 4
    assert data == MAGIC + struct.pack("<I", 1 << 29 | 4) + b"wxyz" + MAGIC + struct.pack("<I", 3 << 29 | 3) + b"012\0"
    assert MXRecordIO(tmp_path / "m.rec", "r").read() == b"wxyz" + MAGIC + b"012"


def test_writer_reset_truncates(tmp_path):
    writer = MXRecordIO(tmp_path / "t.rec", "w")
    writer.write(b"first")
    writer.reset()
    writer.write(b"second")
    writer.close()
    assert _read_all(MXRecordIO(tmp_path / "t.rec", "r")) == [b"second"]


def test_write_takes_bytes_only(tmp_path):
    writer = MXRecordIO(tmp_path / "s.rec", "w")
    with pytest.raises(TypeError):
        writer.write("text")
    writer.close()


def test_bad_flag():
    with pytest.raises(ValueError, match="Invalid flag"):
        MXRecordIO(fixture("plain.rec"), "a")


def test_pickle_reopens_at_start():
    reader = MXIndexedRecordIO(fixture("plain.idx"), fixture("plain.rec"), "r")
    reader.read()
    clone = pickle.loads(pickle.dumps(reader))
    assert clone.read() == PLAIN[0]
    assert clone.read_idx(6) == PLAIN[6]
    assert reader.read() == PLAIN[1]      # the original stays open where it was


def test_missing_key_names_index():
    reader = MXIndexedRecordIO(fixture("plain.idx"), fixture("plain.rec"), "r")
    with pytest.raises(KeyError, match="plain.idx.*99") as info:
        reader.read_idx(99)
    assert isinstance(info.value, MXNetError)


def test_string_keys(tmp_path):
    writer = MXIndexedRecordIO(tmp_path / "k.idx", tmp_path / "k.rec", "w", key_type=str)
    writer.write_idx("cat", b"meow")
    writer.write_idx("dog", b"woof")
    writer.close()
    reader = MXIndexedRecordIO(tmp_path / "k.idx", tmp_path / "k.rec", "r", key_type=str)
    assert reader.keys == ["cat", "dog"] and reader.read_idx("dog") == b"woof"


# ------------------------------------------------------------------ untrusted files

def _corrupt(tmp_path, data):
    path = tmp_path / "bad.rec"
    path.write_bytes(data)
    return MXRecordIO(path, "r")


@pytest.mark.parametrize("cut", [3, 9, 27])
def test_truncated_file(tmp_path, cut):
    data = open(fixture("plain.rec"), "rb").read()
    reader = _corrupt(tmp_path, data[:len(data) - cut])
    with pytest.raises(RecordIOFormatError, match=r"bad\.rec.*at byte \d+"):
        _read_all(reader)


def test_bad_magic_names_offset(tmp_path):
    data = bytearray(open(fixture("plain.rec"), "rb").read())
    data[20] ^= 0xFF                                  # the third record's magic word
    reader = _corrupt(tmp_path, bytes(data))
    assert reader.read() == PLAIN[0] and reader.read() == PLAIN[1]
    with pytest.raises(RecordIOFormatError, match=r"bad\.rec: invalid RecordIO file at byte 20: magic word"):
        reader.read()


def test_bad_continuation_flag(tmp_path):
    reader = _corrupt(tmp_path, MAGIC + struct.pack("<I", 2 << 29 | 4) + b"abcd")
    with pytest.raises(RecordIOFormatError, match="at byte 0: continuation flag 2"):
        reader.read()


def test_unfinished_multipart_record(tmp_path):
    reader = _corrupt(tmp_path, MAGIC + struct.pack("<I", 1 << 29 | 4) + b"abcd")
    with pytest.raises(RecordIOFormatError, match="at byte 12: a truncated record header"):
        reader.read()


def test_huge_length_is_not_allocated(tmp_path):
    reader = _corrupt(tmp_path, MAGIC + struct.pack("<I", (1 << 29) - 1) + b"abcd")
    with pytest.raises(RecordIOFormatError, match="536870911 bytes, but only 4 bytes follow"):
        reader.read()


@pytest.mark.parametrize("line, message", [("0 8\n", "line 1 is not"), ("x\t8\n", "line 1 is not"),
                                           ("0\t0\n1\t99999\n", "line 2: offset 99999 is outside")])
def test_bad_index(tmp_path, line, message):
    (tmp_path / "bad.idx").write_text(line)
    with pytest.raises(RecordIOFormatError, match=message):
        MXIndexedRecordIO(tmp_path / "bad.idx", fixture("plain.rec"), "r")


def test_unpack_short_records():
    with pytest.raises(RecordIOFormatError, match="24-byte header, got 5"):
        recordio.unpack(b"short")
    header = struct.pack("IfQQ", 3, 0.0, 1, 0) + b"\0" * 8
    with pytest.raises(RecordIOFormatError, match="announces 3 labels"):
        recordio.unpack(header)


# ------------------------------------------------------------------ image records

def test_pack_unpack_labels():
    header, payload = recordio.unpack(recordio.pack(IRHeader(5, 2.5, 17, 3), b"xyz"))
    assert header == IRHeader(0, 2.5, 17, 3) and payload == b"xyz"
    header, payload = recordio.unpack(recordio.pack(IRHeader(0, [1.5, -2, 7], 18, 0), b"abc"))
    assert header.flag == 3 and header.id == 18 and payload == b"abc"
    np.testing.assert_array_equal(header.label, np.array([1.5, -2, 7], np.float32))


def test_mxnet_image_headers():
    reader = MXIndexedRecordIO(fixture("images.idx"), fixture("images.rec"), "r")
    for key, expected in enumerate(EXPECTED["image_headers"]):
        assert list(recordio.unpack(reader.read_idx(key))[0]) == expected
    multi = _read_all(MXRecordIO(fixture("multi.rec"), "r"))
    for i, record in enumerate(multi):
        header, _ = recordio.unpack(record)
        assert header.flag == 2 and header.id == 2000 + i
        np.testing.assert_array_equal(header.label, np.array([i, 10.5 - i], np.float32))


@pytest.mark.parametrize("iscolor", [-1, 0, 1])
def test_unpack_img_as_mxnet(arrays, iscolor):
    """JPEG decoding through Pillow gives OpenCV's pixels, in OpenCV's BGR order (gray too)."""
    for i, record in enumerate(_read_all(MXRecordIO(fixture("images.rec"), "r"))):
        _, img = recordio.unpack_img(record, iscolor)
        expected = arrays[f"unpack_{i}_{iscolor}"]
        assert img.dtype == np.uint8 and img.shape == expected.shape
        np.testing.assert_array_equal(img, expected)


def test_unpack_mxnet_png(arrays):
    for i, record in enumerate(_read_all(MXRecordIO(fixture("png.rec"), "r"))):
        header, img = recordio.unpack_img(record)
        assert header.id == 3000 + i
        np.testing.assert_array_equal(img, arrays[f"png_source_{i}"])     # BGR, gray, BGRA


@pytest.mark.parametrize("shape", [(9, 14, 3), (9, 14), (9, 14, 4)])
def test_pack_img_png_round_trip(shape):
    img = np.random.RandomState(3).randint(0, 256, shape).astype(np.uint8)
    header, decoded = recordio.unpack_img(recordio.pack_img(IRHeader(0, 1.0, 5, 0), img, quality=9, img_fmt=".png"))
    assert header.label == 1.0
    np.testing.assert_array_equal(decoded, img)


def test_pack_img_jpeg_writes_mxnet_records(arrays):
    """Pillow's JPEG encoder at quality 95 writes the bytes OpenCV wrote for MXNet (BGR input)."""
    reader = MXRecordIO(fixture("images.rec"), "r")
    for i in range(len(EXPECTED["image_headers"])):
        record = reader.read()
        header, _ = recordio.unpack(record)
        assert recordio.pack_img(header, arrays[f"source_{i}"], quality=95, img_fmt=".jpg") == record


def test_unpack_img_of_garbage():
    with pytest.raises(MXNetError, match="cannot decode the image"):
        recordio.unpack_img(recordio.pack(IRHeader(0, 0, 0, 0), b"not an image"))


def test_namespace():
    assert mx.recordio.MXRecordIO is MXRecordIO and mx.recordio.IRHeader is IRHeader
