"""mx.io.CSVIter and mx.io.LibSVMIter against MXNet 1.9.1's batches on the same files (printed by
/tmp/mxref with MXNET_SUBGRAPH_BACKEND=NONE), round_batch's wrap-around and padding included."""
import numpy as np
import pytest

import cysym as mx

DATA_CSV = "1,2,3,4\n5,6,7,8\n9,10,11,12\n13,14,15,16\n17,18,19,20\n"
LABEL_CSV = "0\n1\n2\n3\n4\n"
DATA_LIBSVM = "1 0:1.5 3:2\n0 1:-1 2:4.5\n2 0:3\n1 2:1 3:1\n3 1:7\n"


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, text in (("data.csv", DATA_CSV), ("label.csv", LABEL_CSV),
                       ("data.libsvm", DATA_LIBSVM)):
        (tmp_path / name).write_text(text)
        paths[name] = str(tmp_path / name)
    return paths


def _batches(iterator):
    return [(b.data[0].asnumpy().tolist(), b.label[0].asnumpy().tolist(), b.pad) for b in iterator]


def test_csv_round_batch_wraps_and_the_next_epoch_starts_after(files):
    it = mx.io.CSVIter(data_csv=files["data.csv"], data_shape=(2, 2), label_csv=files["label.csv"],
                       batch_size=2)
    assert [(d.name, d.shape) for d in it.provide_data] == [("data", (2, 2, 2))]
    assert [(d.name, d.shape) for d in it.provide_label] == [("softmax_label", (2,))]
    # MXNet 1.9.1: three batches, the last one completed with the first row (pad 1, index [4 0])
    batches = list(it)
    assert [(b.data[0].asnumpy().tolist(), b.label[0].asnumpy().tolist(), b.pad, b.index.tolist())
            for b in batches] == [
        ([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]], [0.0, 1.0], 0, [0, 1]),
        ([[[9.0, 10.0], [11.0, 12.0]], [[13.0, 14.0], [15.0, 16.0]]], [2.0, 3.0], 0, [2, 3]),
        ([[[17.0, 18.0], [19.0, 20.0]], [[1.0, 2.0], [3.0, 4.0]]], [4.0, 0.0], 1, [4, 0])]
    it.reset()
    # MXNet's second epoch starts after the wrapped row: rows 1-4, two full batches
    assert [b.data[0].asnumpy()[:, 0, 0].tolist() for b in it] == [[5.0, 9.0], [13.0, 17.0]]
    it.reset()
    assert len(list(it)) == 3


def test_csv_without_round_batch_keeps_the_previous_rows_as_padding(files):
    it = mx.io.CSVIter(data_csv=files["data.csv"], data_shape=(4,), batch_size=2, round_batch=False)
    assert _batches(it) == [
        ([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]], [0.0, 0.0], 0),
        ([[9.0, 10.0, 11.0, 12.0], [13.0, 14.0, 15.0, 16.0]], [0.0, 0.0], 0),
        ([[17.0, 18.0, 19.0, 20.0], [13.0, 14.0, 15.0, 16.0]], [0.0, 0.0], 1)]


def test_csv_integer_rows(files):
    it = mx.io.CSVIter(data_csv=files["data.csv"], data_shape=(4,), batch_size=3, dtype="int32")
    batches = list(it)
    assert [b.data[0].dtype for b in batches] == [np.int32, np.int32]
    assert [b.data[0].asnumpy().tolist() for b in batches] == [
        [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], [[13, 14, 15, 16], [17, 18, 19, 20], [1, 2, 3, 4]]]
    assert [b.pad for b in batches] == [0, 1]


def test_csv_refuses_a_row_width_that_is_not_the_shapes(files):
    with pytest.raises(mx.MXNetError, match="4 columns per row"):
        mx.io.CSVIter(data_csv=files["data.csv"], data_shape=(3,), batch_size=2)


def test_libsvm_rows_are_dense_with_their_labels(files):
    it = mx.io.LibSVMIter(data_libsvm=files["data.libsvm"], data_shape=(4,), batch_size=2)
    assert [(d.name, d.shape) for d in it.provide_data] == [("data", (2, 4))]
    # MXNet 1.9.1 (its rows are CSR arrays there)
    assert _batches(it) == [
        ([[1.5, 0.0, 0.0, 2.0], [0.0, -1.0, 4.5, 0.0]], [1.0, 0.0], 0),
        ([[3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]], [2.0, 1.0], 0),
        ([[0.0, 7.0, 0.0, 0.0], [1.5, 0.0, 0.0, 2.0]], [3.0, 1.0], 1)]


def test_libsvm_refuses_a_feature_outside_the_shape(files):
    with pytest.raises(mx.MXNetError, match="feature index 3"):
        mx.io.LibSVMIter(data_libsvm=files["data.libsvm"], data_shape=(3,), batch_size=2)


def test_csv_iter_trains_a_module(files):
    it = mx.io.CSVIter(data_csv=files["data.csv"], data_shape=(4,), label_csv=files["label.csv"],
                       batch_size=2)
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=5),
                               name="softmax")
    module = mx.mod.Module(net)
    module.fit(it, num_epoch=1, optimizer_params={"learning_rate": 0.01})
    # predict's epoch starts after the row fit's last batch wrapped around to (MXNet's cursor)
    assert module.predict(it).shape == (4, 5)
