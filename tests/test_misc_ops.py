"""cysym/ops/misc.py against values computed with MXNet 1.9.1 (/tmp/mxref), and the corners the
registry table does not reach (integer indices, dtype pass-through, output names)."""
import numpy as np
import pytest

import cysym as mx

# Values printed by MXNet 1.9.1 (/tmp/mxref, float32 inputs) for the calls in each comment.
HIST_DATA = [-0.5, 0.0, 0.999, 1.0, 2.5, 4.999, 5.0, 5.5, 3.0000001]


def test_diag_of_chosen_axes_matches_mxnet():
    # mx.nd.diag(mx.nd.array(np.sin(np.arange(24) * 0.37).reshape(2, 3, 4)), k=1, axis1=2, axis2=0)
    # (printed rounded to 6 decimals)
    x = mx.nd.array(np.sin(np.arange(24) * 0.37).reshape(2, 3, 4))
    out = mx.nd.diag(x, k=1, axis1=2, axis2=0)
    np.testing.assert_allclose(out, [[-0.963131], [-0.355254], [0.898708]], rtol=0, atol=1e-6)


def test_diag_without_such_a_diagonal_is_an_error():
    # MXNet: "Diagonal does not exist."
    with pytest.raises(mx.MXNetError, match="k=5"):
        mx.nd.diag(mx.nd.ones((2, 3)), k=5)


@pytest.mark.parametrize("params, counts, edges", [
    # mx.nd._internal._histogram(mx.nd.array(HIST_DATA), bin_cnt=5, range=(0, 5))
    (dict(bin_cnt=5, range=(0, 5)), [2, 1, 1, 1, 2], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]),
    # ... bin_cnt=3, range=(0.1, 4.7): edges rounded to float32, the bins corrected by them
    (dict(bin_cnt=3, range=(0.1, 4.7)), [2, 2, 0],
     [0.10000000149011612, 1.6333333253860474, 3.1666667461395264, 4.699999809265137]),
], ids=["uniform", "uneven-range"])
def test_histogram_matches_mxnet(params, counts, edges):
    out = mx.nd._internal._histogram(mx.nd.array(HIST_DATA), **params)
    assert out[0].dtype == np.int64
    np.testing.assert_array_equal(out[0], counts)
    np.testing.assert_allclose(out[1], edges, rtol=1e-7)


def test_histogram_with_bin_edges_matches_mxnet():
    # mx.nd._internal._histogram(mx.nd.array(HIST_DATA), mx.nd.array([0.0, 1.0, 2.5, 5.0]))
    out = mx.nd._internal._histogram(mx.nd.array(HIST_DATA), mx.nd.array([0.0, 1.0, 2.5, 5.0]))
    np.testing.assert_array_equal(out[0], [2, 1, 4])


def test_unravel_and_ravel_keep_mxnets_integer_arithmetic():
    # mx.nd.unravel_index(mx.nd.array([-7, 45, 3.7]), shape=(7, 6)): C division, no wrapping
    np.testing.assert_array_equal(mx.nd.unravel_index(mx.nd.array([-7, 45, 3.7]), shape=(7, 6)),
                                  [[-1.0, 7.0, 0.0], [-1.0, 3.0, 3.0]])
    # mx.nd.ravel_multi_index(mx.nd.array([[3, 9], [7, -1]]), shape=(7, 6)): no range check
    np.testing.assert_array_equal(
        mx.nd.ravel_multi_index(mx.nd.array([[3, 9], [7, -1]]), shape=(7, 6)), [25.0, 53.0])


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_ravel_of_integer_indices_stays_integer(dtype):
    indices = np.array([[3, 6, 6], [4, 5, 1]], dtype)
    flat = mx.nd.ravel_multi_index(indices, shape=(7, 6))
    assert flat.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(flat, [22, 41, 37])
    np.testing.assert_array_equal(mx.nd.unravel_index(flat, shape=(7, 6)), indices)


def test_output_names_are_mxnets():
    data = mx.sym.Variable("a")
    assert mx.sym.amp_multicast(data, mx.sym.Variable("b"), num_outputs=2,
                                name="m").list_outputs() == ["m_output0", "m_output1"]
    assert mx.sym._internal._split_v2(data, indices=(0, 2), name="s").list_outputs() == [
        "s_output0", "s_output1"]
    hist = mx.sym._internal._histogram(data, bin_cnt=2, range=(0, 1), name="h")
    assert hist.list_outputs() == ["h_output0", "h_output1"]
    assert hist.list_arguments() == ["a"]


def test_amp_cast_changes_float32_only():
    # MXNet: amp_cast of float64 to float32 stays float64, of int32 stays int32
    assert mx.nd.amp_cast(np.ones(2, np.float64), dtype="float32").dtype == np.float64
    assert mx.nd.amp_cast(np.ones(2, np.int32), dtype="float32").dtype == np.int32
    assert mx.nd.amp_cast(np.ones(2, np.float32), dtype="float64").dtype == np.float64
    # float16 is computed in float32 and rounded, as MXNet's float16 result
    half = mx.nd.amp_cast(np.full(2, 1 / 3, np.float32), dtype="float16")
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half, np.full(2, 1 / 3, np.float16))


def test_all_finite_flags_nan_as_mxnet():
    # mx.nd.all_finite(mx.nd.array([1, np.nan])) = [0.] (float32)
    out = mx.nd.all_finite(np.array([1.0, np.nan]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0.0])


def test_choose_element_0index_is_pick():
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(mx.nd.choose_element_0index(data, np.array([0, 3, 1], np.float32)),
                                  [0.0, 7.0, 9.0])


def test_crop_assign_is_slice_assign():
    lhs = np.zeros((3, 4), np.float32)
    out = mx.nd._internal._crop_assign(lhs, np.ones((2, 2), np.float32), begin=(1, 2), end=(3, 4))
    expected = lhs.copy()
    expected[1:3, 2:4] = 1
    np.testing.assert_array_equal(out, expected)
    out = mx.nd._internal._crop_assign_scalar(lhs, scalar=3, begin=(0, 0), end=(1, 4))
    np.testing.assert_array_equal(out[0], [3, 3, 3, 3])


def test_split_v2_gradient_puts_the_pieces_back():
    data = mx.sym.Variable("data")
    pieces = mx.sym._internal._split_v2(data, indices=(0, 1, 3), axis=1)
    net = mx.sym.Group([pieces[0] * 2, pieces[2] * 3])    # the middle piece is not used
    executor = net.simple_bind(mx.cpu(), data=(2, 5))
    executor.forward(is_train=True)
    executor.backward([mx.nd.ones((2, 1)), mx.nd.ones((2, 2))])
    np.testing.assert_array_equal(executor.grad_dict["data"], [[2, 0, 0, 3, 3]] * 2)


def test_legacy_onehot_encode_and_fill_element_match_mxnet():
    # mx.nd._internal._onehot_encode(mx.nd.array([2, 0, 4.5, -1]), mx.nd.zeros((4, 3)))
    out = mx.nd._internal._onehot_encode(np.array([2, 0, 4.5, -1], np.float32),
                                         np.zeros((4, 3), np.float32))
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 0, 0], [0, 0, 0]])
    # mx.nd.fill_element_0index(mx.nd.array(np.arange(12).reshape(3, 4)),
    #                           mx.nd.array([-1, -2, -3]), mx.nd.array([1, 3.7, 5]))
    lhs = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = mx.nd.fill_element_0index(lhs, np.array([-1, -2, -3], np.float32),
                                    np.array([1, 3.7, 5], np.float32))
    np.testing.assert_array_equal(out, [[0, -1, 2, 3], [4, 5, 6, -2], [8, 9, 10, 11]])
    assert lhs.sum() == 66     # the input is not changed


def test_slice_assign_khatri_rao_split_and_diag_match_mxnet():
    # MXNet 1.9.1 on x = arange(60).reshape(4, 5, 3), r = -arange(12).reshape(2, 2, 3) - 1
    x = mx.nd.array(np.arange(60).reshape(4, 5, 3))
    r = mx.nd.array(-np.arange(12).reshape(2, 2, 3) - 1)
    out = mx.nd._internal._slice_assign(x, r, begin=(None, -1, 0), end=(None, 1, 3), step=(2, -2, 1))
    assert out.asnumpy().sum() == 1392.0
    np.testing.assert_array_equal(out[2, 4], [-7.0, -8.0, -9.0])
    np.testing.assert_array_equal(out[0, 2], [-4.0, -5.0, -6.0])
    out = mx.nd._internal._slice_assign_scalar(x, scalar=2.5, begin=(None, -1), end=(None, None),
                                               step=(2, -2))
    assert out.asnumpy().sum() == 1419.0
    # khatri_rao of arange(6).reshape(2, 3), arange(12).reshape(4, 3) - 5, arange(15).reshape(5, 3) / 2
    out = mx.nd.khatri_rao(mx.nd.array(np.arange(6).reshape(2, 3)),
                           mx.nd.array(np.arange(12).reshape(4, 3) - 5),
                           mx.nd.array(np.arange(15).reshape(5, 3) * 0.5))
    assert out.shape == (40, 3) and out.asnumpy().sum() == 925.0
    np.testing.assert_array_equal(out[17], [0.0, 17.5, 48.0])
    pieces = mx.nd._internal._split_v2(mx.nd.array(np.arange(30).reshape(2, 3, 5)), indices=(),
                                       sections=5, axis=-1, squeeze_axis=True)
    assert len(pieces) == 5
    np.testing.assert_array_equal(pieces[3], [[3.0, 8.0, 13.0], [18.0, 23.0, 28.0]])
    np.testing.assert_array_equal(mx.nd.diag(mx.nd.array([1.0, 2.0, 3.0, 4.0]), k=-1),
                                  np.diag([1.0, 2.0, 3.0, 4.0], -1))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_data_movement_keeps_integer_arrays(dtype):
    matrix = np.arange(12, dtype=dtype).reshape(3, 4)
    np.testing.assert_array_equal(mx.nd.diag(matrix, k=1), np.diag(matrix, 1))
    built = mx.nd.diag(np.arange(1, 4, dtype=dtype), k=-1)
    assert built.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(built, np.diag(np.arange(1, 4), -1))
    pieces = mx.nd._internal._split_v2(matrix, indices=(0, 1), axis=1)
    assert [p.dtype for p in pieces] == [np.dtype(dtype)] * 2
    np.testing.assert_array_equal(pieces[1], matrix[:, 1:])
