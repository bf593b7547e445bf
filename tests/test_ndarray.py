"""cysym.ndarray: the NDArray class, creation functions, and MXNet's binary NDArray-list files."""
import os
import pathlib
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from cysym import ndarray as nd
from cysym.base import MXNetError, ParamsFormatError
from cysym.context import Context, cpu

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "mxnet"
ND_FILES = sorted(FIXTURES.glob("*.nd")) + sorted(FIXTURES.glob("*.params"))
ALL_DTYPES = ["float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool"]
assert tuple(ALL_DTYPES) == nd.ALL_DTYPES


def _sample(shape, dtype, seed=0):
    rng = np.random.RandomState(seed)
    values = rng.standard_normal(shape) * 50
    if np.dtype(dtype) == np.bool_:
        return np.asarray(values > 0)
    if np.dtype(dtype).kind == "u":
        values = np.abs(values)
    return np.asarray(values).astype(dtype)


# --------------------------------------------------------------------------- MXNet's own files


def test_load_dict_fixture_values_and_dtypes():
    loaded = nd.load(FIXTURES / "ndarrays.nd")
    expected = np.load(FIXTURES / "ndarrays-expected.npz")
    assert isinstance(loaded, dict)
    assert list(loaded) == ["w32", "w64", "i32", "u8", "f16"]
    for key, value in loaded.items():
        want = expected[f"dict_{key}"]
        assert type(value) is nd.NDArray
        assert value.dtype == want.dtype, key
        assert value.shape == want.shape, key
        np.testing.assert_array_equal(np.asarray(value), want)
        assert value.flags.writeable and value.flags.c_contiguous


def test_load_list_fixture_values_and_dtypes():
    loaded = nd.load(FIXTURES / "ndarrays-list.nd")
    expected = np.load(FIXTURES / "ndarrays-expected.npz")
    assert isinstance(loaded, list) and len(loaded) == 2
    for i, value in enumerate(loaded):
        want = expected[f"list_{i}"]
        assert type(value) is nd.NDArray
        assert value.dtype == want.dtype and value.shape == want.shape
        np.testing.assert_array_equal(np.asarray(value), want)
        value[...] = 0  # writeable: a copy, not a view of the file buffer


@pytest.mark.parametrize("params", sorted(FIXTURES.glob("*-0003.params")), ids=lambda p: p.name)
def test_load_checkpoint_fixture(params):
    net = params.name[: -len("-0003.params")]
    expected = np.load(FIXTURES / f"{net}-io.npz")
    loaded = nd.load(params)
    assert isinstance(loaded, dict)
    want = {k.replace("_", ":", 1): k for k in expected.files 
            if k.startswith(("arg_", "aux_")) and not k.startswith("aux_after_")}
    assert sorted(loaded) == sorted(want)
    for key, npz_key in want.items():
        assert loaded[key].dtype == np.float32
        np.testing.assert_array_equal(np.asarray(loaded[key]), expected[npz_key])


@pytest.mark.parametrize("path", ND_FILES, ids=lambda p: p.name)
def test_load_then_save_reproduces_file_byte_for_byte(path, tmp_path):
    out = tmp_path / path.name
    nd.save(str(out), nd.load(str(path)))
    assert out.read_bytes() == path.read_bytes()


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 5), (4,), (), (0, 3), (3, 0, 2)], ids=str)
def test_round_trip_list_and_dict(tmp_path, dtype, shape):
    first, second = _sample(shape, dtype, 1), _sample((7,), dtype, 2)
    for data in ([first, second], {"a": first, "b:c": second, "ünï": first}):
        fname = tmp_path / "x.nd"
        nd.save(fname, data)
        loaded = nd.load(fname)
        assert type(loaded) is type(data)
        items = loaded.items() if isinstance(data, dict) else enumerate(loaded)
        for key, value in items:
            assert type(value) is nd.NDArray
            assert value.dtype == np.dtype(dtype) and value.shape == data[key].shape
            np.testing.assert_array_equal(np.asarray(value), data[key])
        if isinstance(data, dict):
            assert list(loaded) == list(data)


@settings(max_examples=60, deadline=None)
@given(st.lists(hnp.arrays(st.sampled_from(ALL_DTYPES),
                           hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)),
                max_size=4),
       st.booleans())
def test_round_trip_property(arrays, as_dict):
    data = {f"p{i}": a for i, a in enumerate(arrays)} if as_dict and arrays else arrays
    raw = nd._encode(data)
    loaded = nd.load_frombuffer(raw)
    assert type(loaded) is type(data)
    values = list(loaded.values()) if as_dict and arrays else loaded
    for got, want in zip(values, arrays, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(np.asarray(got), want)
    assert nd._encode(loaded) == raw


def test_save_accepts_tuple_single_array_and_numpy_values(tmp_path):
    fname = tmp_path / "x.nd"
    nd.save(fname, (np.arange(3, dtype=np.int8),))
    assert nd.load(fname)[0].tolist() == [0, 1, 2]
    nd.save(fname, nd.array([1.5, 2.5]))
    assert nd.load(fname)[0].tolist() == [1.5, 2.5]
    nd.save(fname, {})
    assert nd.load(fname) == []  # an empty dict is stored as an empty list, as in MXNet


def test_non_contiguous_and_big_endian_arrays_are_saved_by_value(tmp_path):
    base = np.arange(24, dtype=">f8").reshape(2, 3, 4)
    view = base.transpose(2, 0, 1)[::2]
    fname = tmp_path / "x.nd"
    nd.save(fname, [view])
    loaded = nd.load(fname)[0]
    assert loaded.dtype == np.float64 and loaded.dtype.isnative
    np.testing.assert_array_equal(np.asarray(loaded), view)


def test_zero_dim_array_is_written_as_v3_record(tmp_path):
    fname = tmp_path / "x.nd"
    nd.save(fname, [np.float64(2.5)])  # a NumPy scalar is saved as a 0-d array
    raw = fname.read_bytes()
    assert struct.unpack_from("<I", raw, 24)[0] == nd.NDARRAY_V3_MAGIC
    loaded = nd.load(fname)[0]
    assert loaded.shape == () and loaded.dtype == np.float64 and loaded.asscalar() == 2.5


def test_none_record_round_trips(tmp_path):
    # MXNet writes an uninitialised ("none") array as its shape only: V2 magic, dense, ndim 0.
    raw = (struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<Iii", nd.NDARRAY_V2_MAGIC, 0, 0)
           + struct.pack("<QQ", 1, 1) + b"n")
    loaded = nd.load_frombuffer(raw)
    assert loaded["n"].is_none and loaded["n"].shape == ()
    fname = tmp_path / "x.nd"
    nd.save(fname, loaded)
    assert fname.read_bytes() == raw


def test_v1_and_legacy_records_load():
    values = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    v1 = (struct.pack("<Ii2q", nd.NDARRAY_V1_MAGIC, 2, 2, 3) + struct.pack("<iii", 1, 0, 0)
          + values.tobytes())
    legacy = struct.pack("<I2I", 2, 2, 3) + struct.pack("<iii", 1, 0, 0) + values.tobytes()
    raw = struct.pack("<QQQ", 0x112, 0, 2) + v1 + legacy + struct.pack("<Q", 0)
    first, second = nd.load_frombuffer(raw)
    np.testing.assert_array_equal(np.asarray(first), values)
    np.testing.assert_array_equal(np.asarray(second), values)


# --------------------------------------------------------------------------- untrusted files

GOOD = (FIXTURES / "ndarrays.nd").read_bytes()
# Layout of ndarrays.nd: 24-byte list header; array 0 (w32, float32 (2, 3)) at byte 24:
# magic 24, storage type 28, ndim 32, dims 36 and 44, context 52, type flag 60, data 64..88.
REC0, STYPE0, NDIM0, DIM0, DEV0, FLAG0 = 24, 28, 32, 36, 52, 60


def _patch(raw, offset, fmt, value):
    out = bytearray(raw)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _load_bad(tmp_path, raw, *needles):
    fname = tmp_path / "bad.nd"
    fname.write_bytes(raw)
    tracemalloc.start()
    try:
        with pytest.raises(ParamsFormatError) as info:
            nd.load(fname)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(raw) + (1 << 20), f"load allocated {peak} bytes for a bad file"
    message = str(info.value)
    assert "bad.nd" in message and "byte offset" in message, message
    for needle in needles:
        assert needle in message, message
    assert isinstance(info.value, MXNetError)
    return message


def test_layout_constants_match_fixture():
    assert struct.unpack_from("<I", GOOD, REC0)[0] == nd.NDARRAY_V2_MAGIC
    assert struct.unpack_from("<i2q", GOOD, NDIM0) == (2, 2, 3)
    assert struct.unpack_from("<iii", GOOD, DEV0) == (1, 0, 0)


@pytest.mark.parametrize("path", ND_FILES, ids=lambda p: p.name)
def test_every_truncation_is_reported(tmp_path, path):
    raw = path.read_bytes()
    step = max(1, len(raw) // 200)
    for cut in list(range(0, len(raw), step)) + [len(raw) - 1]:
        message = _load_bad(tmp_path, raw[:cut], "truncated")
        assert f"file size {cut}" in message


def test_bad_list_magic(tmp_path):
    _load_bad(tmp_path, _patch(GOOD, 0, "<Q", 0x113), "byte offset 0", "magic")


def test_bad_record_magic(tmp_path):
    _load_bad(tmp_path, _patch(GOOD, REC0, "<I", 0xF993FAC0), f"byte offset {REC0}", "magic")


def test_ndim_too_large(tmp_path):
    _load_bad(tmp_path, _patch(GOOD, NDIM0, "<i", 1000), f"byte offset {NDIM0}", "ndim 1000")


def test_negative_ndim_and_dim(tmp_path):
    _load_bad(tmp_path, _patch(GOOD, NDIM0, "<i", -2), "ndim -2")
    _load_bad(tmp_path, _patch(GOOD, DIM0, "<q", -4), f"byte offset {DIM0}", "negative dimension")


def test_huge_dimension_never_allocates(tmp_path):
    _load_bad(tmp_path, _patch(GOOD, DIM0, "<q", 2**60), "needs", "bytes of data")
    _load_bad(tmp_path, _patch(GOOD, DIM0 + 8, "<q", 2**62), "needs")


def test_unknown_dtype_code(tmp_path):
    _load_bad(tmp_path, _patch(GOOD, FLAG0, "<i", 99), f"byte offset {FLAG0}", "type flag 99")


def test_unknown_device_type(tmp_path):
    _load_bad(tmp_path, _patch(GOOD, DEV0, "<i", 77), f"byte offset {DEV0}", "dev_type 77")


def test_sparse_storage_refused(tmp_path):
    _load_bad(tmp_path, _patch(GOOD, STYPE0, "<i", 2), "sparse arrays are not supported")


@pytest.mark.parametrize("count", [6, 1000, 2**40, 2**64 - 1])
def test_array_count_larger_than_file(tmp_path, count):
    message = _load_bad(tmp_path, _patch(GOOD, 16, "<Q", count), "byte offset")
    if count > 1000:
        assert f"claims {count} arrays" in message


def _names_offset(raw):
    """Byte offset of the name count in a file written by nd.save (found by re-encoding)."""
    arrays = nd.load_frombuffer(raw)
    return len(nd._encode(list(arrays.values()))) - 8


def test_name_count_mismatch(tmp_path):
    offset = _names_offset(GOOD)
    assert struct.unpack_from("<Q", GOOD, offset)[0] == 5
    _load_bad(tmp_path, _patch(GOOD, offset, "<Q", 3), f"byte offset {offset}", "3 names")
    _load_bad(tmp_path, _patch(GOOD, offset, "<Q", 2**63))


def test_invalid_utf8_name(tmp_path):
    offset = _names_offset(GOOD) + 8 + 8  # first name's bytes: "w32"
    assert GOOD[offset:offset + 3] == b"w32"
    _load_bad(tmp_path, GOOD[:offset] + b"\xff" + GOOD[offset + 1:], "UTF-8")


def test_huge_name_length(tmp_path):
    offset = _names_offset(GOOD) + 8
    _load_bad(tmp_path, _patch(GOOD, offset, "<Q", 2**60), "truncated", "name 0")


def test_trailing_garbage(tmp_path):
    _load_bad(tmp_path, GOOD + b"\0", f"byte offset {len(GOOD)}", "trailing")


def test_duplicate_names(tmp_path):
    data = {"a": np.zeros(2, np.float32), "b": np.ones(2, np.float32)}
    raw = nd._encode(data).replace(b"\x01\x00\x00\x00\x00\x00\x00\x00b",
                                   b"\x01\x00\x00\x00\x00\x00\x00\x00a")
    _load_bad(tmp_path, raw, "duplicate name 'a'")


def test_empty_file(tmp_path):
    _load_bad(tmp_path, b"", "truncated", "list magic")


def test_random_corruption_never_escapes_as_other_errors():
    rng = np.random.RandomState(3)
    for _ in range(500):
        raw = bytearray(GOOD)
        for position in rng.randint(0, len(raw), size=rng.randint(1, 4)):
            raw[position] = rng.randint(0, 256)
        try:
            nd.load_frombuffer(bytes(raw))
        except ParamsFormatError:
            pass


# --------------------------------------------------------------------------- failed saves


@pytest.mark.parametrize("bad", [
    {1: np.zeros(2, np.float32)},
    {"ok": np.zeros(2, np.float32), ("a",): np.zeros(2, np.float32)},
    [np.zeros(2, np.complex128)],
    {"c": np.zeros(2, np.float32), "d": np.zeros(2, np.uint16)},
    [np.zeros(2, np.float32), [1.0, 2.0]],
    "not arrays",
], ids=["int-key", "tuple-key", "complex128", "uint16", "list-value", "string"])
def test_failed_save_leaves_existing_file_unchanged(tmp_path, bad):
    fname = tmp_path / "model.params"
    fname.write_bytes(GOOD)
    with pytest.raises(MXNetError):
        nd.save(str(fname), bad)
    assert fname.read_bytes() == GOOD
    assert os.listdir(tmp_path) == ["model.params"]  # no temporary file left behind


def test_unsupported_dtype_error_names_the_array(tmp_path):
    with pytest.raises(MXNetError, match="value for key 'z' has dtype complex128"):
        nd.save(tmp_path / "x.nd", {"a": np.zeros(1, np.float32), "z": np.zeros(1, complex)})
    assert not (tmp_path / "x.nd").exists()


def test_non_string_key_error_is_also_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="keys must be str"):
        nd.save(tmp_path / "x.nd", {3: np.zeros(1, np.float32)})
    assert not (tmp_path / "x.nd").exists()


# --------------------------------------------------------------------------- NDArray conveniences


def test_view_as_ndarray_keeps_working():
    a = np.zeros((2, 3), np.float32).view(nd.NDArray)
    assert type(a) is nd.NDArray and a.shape == (2, 3) and a.size == 6 and a.dtype == np.float32
    assert type(a + 1) is nd.NDArray


def test_asnumpy_returns_plain_copy():
    a = nd.array([[1, 2, 3], [4, 5, 6]])
    b = a.asnumpy()
    assert type(b) is np.ndarray
    b[0, 0] = 99
    assert a[0, 0] == 1


def test_copyto_array_and_context():
    a = nd.array([[1, 2, 3], [4, 5, 6]])
    target = nd.zeros((2, 3))
    assert a.copyto(target) is target
    np.testing.assert_array_equal(np.asarray(target), np.asarray(a))
    copy = a.copyto(cpu())
    assert type(copy) is nd.NDArray and copy is not a
    copy[0, 0] = 7
    assert a[0, 0] == 1
    with pytest.raises(MXNetError, match=r"\(2, 3\).*\(3, 2\)"):
        a.copyto(nd.zeros((3, 2)))
    with pytest.raises(MXNetError):
        a.copyto("cpu")


def test_context_and_as_in_context():
    a = nd.ones((2, 3))
    assert a.context == cpu() and a.ctx == cpu(0) and isinstance(a.context, Context)
    assert a.as_in_context(cpu()) is a
    pinned = a.as_in_context(Context("cpu_pinned", 0))
    assert pinned is not a and np.array_equal(np.asarray(pinned), np.asarray(a))
    assert a.wait_to_read() is None and nd.waitall() is None


def test_repr_matches_mxnet():
    a = nd.array([[1, 2, 3], [4, 5, 6]])
    text = repr(a)
    assert text.startswith("\n[[1. 2. 3.]") and text.endswith("\n<NDArray 2x3 @cpu(0)>")


def test_asscalar_and_astype():
    assert nd.array([3.5]).asscalar() == 3.5
    assert nd.full((1, 1), 2, dtype="int32").asscalar() == 2
    with pytest.raises(MXNetError, match="exactly one element"):
        nd.ones((2,)).asscalar()
    b = nd.ones((2, 3)).astype("int64")
    assert type(b) is nd.NDArray and b.dtype == np.int64


def test_array_dtype_rules():
    assert nd.array([1, 2, 3]).dtype == np.float32
    # as MXNet 1.x: a NumPy array becomes float32 unless a dtype is given; an NDArray keeps its own
    assert nd.array(np.arange(3, dtype=np.int64)).dtype == np.float32
    assert nd.array(np.arange(3.0)).dtype == np.float32
    assert nd.array(nd.array(np.arange(3), dtype="int64")).dtype == np.int64
    assert nd.array(np.arange(3), dtype="float16").dtype == np.float16
    source = np.arange(3.0)
    copy = nd.array(source)
    copy[0] = 9
    assert source[0] == 0


def test_creation_functions():
    for made in (nd.zeros((2, 3)), nd.ones((2, 3)), nd.empty((2, 3)), nd.full((2, 3), 7)):
        assert type(made) is nd.NDArray and made.shape == (2, 3) and made.dtype == np.float32
    assert nd.full((2,), 7, dtype="int8").tolist() == [7, 7]
    assert nd.zeros((2,), dtype=None).dtype == np.float32
    assert nd.arange(3).tolist() == [0, 1, 2] and nd.arange(3).dtype == np.float32
    assert nd.arange(1, 2, 0.25).tolist() == [1, 1.25, 1.5, 1.75]
    assert nd.arange(0, 3, repeat=2, dtype="int32").tolist() == [0, 0, 1, 1, 2, 2]
    joined = nd.concat(nd.zeros((2, 3)), nd.ones((2, 5)))
    assert type(joined) is nd.NDArray and joined.shape == (2, 8)
    assert nd.concat(nd.zeros((2, 3)), nd.ones((4, 3)), dim=0).shape == (6, 3)
    with pytest.raises(MXNetError):
        nd.concat(nd.zeros((2, 3)), nd.ones((4, 3)))
