"""NDArrayIter: every last_batch_handle (roll_over across epochs), shuffling, names, shapes."""
import pickle

import numpy as np
import pytest

import cysym.random
from cysym import io
from cysym.io import DataBatch, DataDesc, NDArrayIter

N, FEAT = 10, (2, 3)


def _data():
    x = np.arange(N * 6, dtype=np.float64).reshape((N,) + FEAT)
    y = np.arange(N)
    return x, y


def _epoch(it):
    batches = list(it)
    return [_ids(b) for b in batches], [b.label[0].astype(int).tolist() for b in batches]


def _ids(batch):
    return (batch.data[0][:, 0, 0] / 6).astype(int).tolist()


def test_pad_wraps_from_start():
    x, y = _data()
    it = NDArrayIter(x, y, batch_size=4)
    for _ in range(2):
        batches = list(it)
        assert [_ids(b) for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
        assert [b.pad for b in batches] == [0, 0, 2]
        assert [b.label[0].tolist() for b in batches][-1] == [8, 9, 0, 1]
        it.reset()
    assert it.num_batches == 3


def test_pad_larger_than_data_tiles():
    x, y = _data()
    it = NDArrayIter(x[:3], y[:3], batch_size=8)
    batches = list(it)
    assert len(batches) == 1
    assert _ids(batches[0]) == [0, 1, 2, 0, 1, 2, 0, 1]
    assert batches[0].pad == 5


def test_discard_drops_incomplete_batch():
    x, y = _data()
    it = NDArrayIter(x, y, batch_size=4, last_batch_handle="discard")
    for _ in range(2):
        batches = list(it)
        assert [_ids(b) for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
        assert all(b.pad == 0 for b in batches)
        it.reset()
    assert it.num_batches == 2


def test_roll_over_carries_leftover_into_next_epoch():
    x, y = _data()
    it = NDArrayIter(x, y, batch_size=4, last_batch_handle="roll_over")
    epoch1 = list(it)
    assert [_ids(b) for b in epoch1] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    it.reset()
    epoch2 = list(it)
    assert [_ids(b) for b in epoch2] == [[8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]
    assert [b.label[0].tolist() for b in epoch2][0] == [8, 9, 0, 1]
    # MXNet reports the carried-over count as the first batch's pad
    assert [b.pad for b in epoch2] == [2, 0, 0]
    it.reset()
    assert [_ids(b) for b in it] == [[0, 1, 2, 3], [4, 5, 6, 7]]  # nothing left over
    it.hard_reset()
    assert [_ids(b) for b in it] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_roll_over_hard_reset_forgets_leftover():
    x, y = _data()
    it = NDArrayIter(x, y, batch_size=3, last_batch_handle="roll_over")
    list(it)
    it.hard_reset()
    assert [_ids(b) for b in it] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_shuffle_is_reproducible_and_keeps_pairs():
    x, y = _data()
    cysym.random.seed(5)
    first = _epoch(NDArrayIter(x, y, batch_size=5, shuffle=True))
    cysym.random.seed(5)
    it = NDArrayIter(x, y, batch_size=5, shuffle=True)
    second = _epoch(it)
    assert first == second
    data_ids, labels = first
    assert data_ids == labels  # data and labels are permuted together
    assert sorted(sum(data_ids, [])) == list(range(N))
    assert sum(data_ids, []) != list(range(N))
    it.reset()
    third = _epoch(it)
    assert third != second  # a new permutation each epoch
    assert sorted(sum(third[0], [])) == list(range(N))


def test_provide_data_and_label_shapes_and_dtypes():
    x, y = _data()
    it = NDArrayIter(x, y, batch_size=4)
    assert it.provide_data == [("data", (4, 2, 3))]
    assert it.provide_label == [("softmax_label", (4,))]
    assert it.provide_data[0].dtype == np.float32
    batch = next(it)
    assert batch.data[0].dtype == np.float32 and batch.label[0].dtype == np.float32
    assert batch.data[0].shape == (4, 2, 3)
    assert it.getindex() is None


def test_names_for_lists_dicts_and_no_label():
    x, y = _data()
    it = NDArrayIter([x, x[:, 0]], {"b_label": y, "a_label": y}, batch_size=2)
    assert [d.name for d in it.provide_data] == ["_0_data", "_1_data"]
    assert [d.name for d in it.provide_label] == ["a_label", "b_label"]
    assert [d.shape for d in it.provide_data] == [(2, 2, 3), (2, 3)]
    it = NDArrayIter(x, batch_size=3, data_name="img")
    assert it.provide_label == []
    assert [d.name for d in it.provide_data] == ["img"]
    batches = list(it)
    assert batches[-1].label == [] and batches[-1].pad == 2
    assert NDArrayIter(x, y, label_name="lab").provide_label[0].name == "lab"


def test_bad_input_errors():
    x, y = _data()
    with pytest.raises(ValueError, match="last_batch_handle"):
        NDArrayIter(x, y, last_batch_handle="wrap")
    with pytest.raises(ValueError, match="samples"):
        NDArrayIter(x, y[:5])
    with pytest.raises(TypeError):
        NDArrayIter(object())
    with pytest.raises(ValueError):
        NDArrayIter(None)


def test_datadesc():
    desc = DataDesc("data", (4, 3))
    assert desc.name == "data" and desc.shape == (4, 3) and desc == ("data", (4, 3))
    assert desc.dtype == np.float32 and desc.layout == "NCHW"
    assert DataDesc.get_batch_axis("TNC") == 1 and DataDesc.get_batch_axis(None) == 0
    again = pickle.loads(pickle.dumps(DataDesc("x", (1,), np.float64, "NC")))
    assert (again.dtype, again.layout) == (np.float64, "NC")
    descs = DataDesc.get_list([("a", (1, 2))], [("a", np.int32)])
    assert descs[0].dtype == np.int32
    assert "DataDesc[data,(4, 3)" in repr(desc)


def test_databatch_and_resize_iter():
    batch = DataBatch([np.zeros((2, 3))], [np.zeros(2)], pad=1)
    assert "data shapes: [(2, 3)]" in str(batch)
    with pytest.raises(TypeError):
        DataBatch(np.zeros(2))
    x, y = _data()
    resized = io.ResizeIter(NDArrayIter(x, y, batch_size=4), 5)
    assert len(list(resized)) == 5
    resized.reset()
    assert len(list(resized)) == 5
