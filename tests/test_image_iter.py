"""mx.image (imresize, imdecode, augmenters, ImageIter) and mx.io.ImageRecordIter against what
MXNet 1.9.1 computed from the same .rec files (tests/fixtures/recordio, made by its script).

Measured: every resized pixel and every batch below equals MXNet's exactly (OpenCV 3.4.2's
fixed-point and SIMD rounding is reproduced), so the comparisons are exact.
"""
import os
import random

import numpy as np
import pytest

import cysym as mx
from cysym import image, recordio
from cysym.base import MXNetError
from recordio_fixtures import EXPECTED, arrays, fixture  # noqa: F401 (arrays: a pytest fixture)

ITER_CASES = EXPECTED["iter_cases"]
N_IMAGES = len(EXPECTED["image_headers"])


# ------------------------------------------------------------------ resizing

@pytest.mark.parametrize("interp", [0, 1, 2, 3, 4], ids=["nearest", "linear", "cubic", "area", "lanczos4"])
@pytest.mark.parametrize("case", range(6))
def test_imresize_as_opencv(arrays, case, interp):
    source, expected = arrays[f"resize_src_{case}"], arrays[f"resize_{case}_{interp}"]
    out = image.imresize(mx.nd.array(source, dtype=np.uint8), expected.shape[1], expected.shape[0], interp=interp)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out.asnumpy().reshape(expected.shape), expected)


def test_imresize_float_bilinear_is_interpolation():
    ramp = np.tile(np.arange(8, dtype=np.float32) * 3, (5, 1))[:, :, None]      # value = 3 * column
    out = image.imresize(ramp, 16, 7, interp=1).asnumpy()[:, :, 0]
    centres = (np.arange(16) + 0.5) * 0.5 - 0.5          # source column of each output column
    expected = 3 * np.clip(centres, 0, 7)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.tile(expected, (7, 1)), rtol=1e-6)


def test_imresize_bad_size():
    with pytest.raises(MXNetError, match="must be positive"):
        image.imresize(np.zeros((4, 6, 3), np.uint8), 0, 3)


def test_resize_short_and_crops(arrays):
    img = mx.nd.array(arrays["source_1"], dtype=np.uint8)                     # 60 x 45 (h x w)
    assert image.resize_short(img, 30).shape == (40, 30, 3)
    crop, box = image.center_crop(img, (20, 30))
    assert crop.shape == (30, 20, 3) and box == (12, 15, 20, 30)
    np.testing.assert_array_equal(crop.asnumpy(), arrays["source_1"][15:45, 12:32])
    assert image.scale_down((45, 60), (90, 30)) == (45, 15)
    random.seed(4)
    crop, (x0, y0, w, h) = image.random_crop(img, (20, 30))
    np.testing.assert_array_equal(crop.asnumpy(), arrays["source_1"][y0:y0 + h, x0:x0 + w])


# ------------------------------------------------------------------ decoding

def test_imdecode_rgb_and_gray(arrays):
    record = recordio.MXRecordIO(fixture("images.rec"), "r").read()
    _, encoded = recordio.unpack(record)
    bgr = arrays["unpack_0_1"]
    np.testing.assert_array_equal(image.imdecode(encoded).asnumpy(), bgr[:, :, ::-1])
    np.testing.assert_array_equal(image.imdecode(encoded, to_rgb=0).asnumpy(), bgr)
    np.testing.assert_array_equal(image.imdecode(encoded, flag=0).asnumpy(), arrays["unpack_0_0"][:, :, None])


def test_imread(tmp_path, arrays):
    path = tmp_path / "one.jpg"
    path.write_bytes(recordio.unpack(recordio.MXRecordIO(fixture("images.rec"), "r").read())[1])
    np.testing.assert_array_equal(image.imread(str(path)).asnumpy(), arrays["unpack_0_1"][:, :, ::-1])


# ------------------------------------------------------------------ ImageRecordIter

def _check_epochs(it, name, arrays, round_batch=True):
    """Two epochs of it against MXNet's batches: data of the first, labels and pads of both."""
    for epoch in range(2):
        if epoch:
            it.reset()
        count = 0
        for i, batch in enumerate(it):
            count += 1
            labels = arrays[f"{name}_label_{epoch}_{i}"]
            valid = len(labels)
            if epoch == 0:
                np.testing.assert_array_equal(batch.data[0].asnumpy()[:valid], arrays[f"{name}_data_{i}"])
            np.testing.assert_array_equal(batch.label[0].asnumpy()[:valid], labels)
            if round_batch:
                assert batch.pad == arrays[f"{name}_pad_{epoch}_{i}"]
        assert f"{name}_label_{epoch}_{count - 1}" in arrays and f"{name}_label_{epoch}_{count}" not in arrays


@pytest.mark.parametrize("name", [n for n in ITER_CASES if not n.startswith("img")])
def test_image_record_iter_as_mxnet(arrays, name):
    params = dict(ITER_CASES[name])
    rec = "multi.rec" if name == "multi" else "images.rec"
    it = mx.io.ImageRecordIter(path_imgrec=fixture(rec), preprocess_threads=4, **params)
    c, h, w = params["data_shape"]
    batch_size = params["batch_size"]
    assert it.provide_data[0].name == "data" and it.provide_data[0].shape == (batch_size, c, h, w)
    label_shape = (batch_size, params["label_width"]) if params.get("label_width", 1) > 1 else (batch_size,)
    assert it.provide_label[0].name == "softmax_label" and it.provide_label[0].shape == label_shape
    _check_epochs(it, name, arrays, params.get("round_batch", True))


def test_round_batch_false_pads_with_zeros(arrays):
    """MXNet reports pad 0 here and leaves stale rows; cysym counts the rows and zeroes them."""
    it = mx.io.ImageRecordIter(path_imgrec=fixture("images.rec"), data_shape=(3, 28, 36), batch_size=2,
                               round_batch=False)
    last = list(it)[-1]
    assert last.pad == 1 and not last.data[0].asnumpy()[1].any()
    np.testing.assert_array_equal(last.data[0].asnumpy()[:1], arrays["rec_no_round_data_2"])


@pytest.mark.parametrize("indexed", [True, False])
def test_shuffle_is_a_seeded_permutation(indexed):
    extra = {"path_imgidx": fixture("images.idx")} if indexed else {}

    def epochs(seed):
        it = mx.io.ImageRecordIter(path_imgrec=fixture("images.rec"), data_shape=(3, 20, 24), batch_size=5,
                                   shuffle=True, seed=seed, **extra)
        first = list(it)[0].data[0].asnumpy()
        it.reset()
        return first, list(it)[0].data[0].asnumpy()

    ordered = list(mx.io.ImageRecordIter(path_imgrec=fixture("images.rec"), data_shape=(3, 20, 24),
                                         batch_size=5))[0].data[0].asnumpy()
    first, second = epochs(3)
    for epoch in (first, second):           # each epoch holds every image once
        assert sorted(map(bytes, epoch.astype(np.float32))) == sorted(map(bytes, ordered))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(epochs(3)[0], first)


def test_random_crop_and_mirror_are_seeded():
    def batch(**extra):
        it = mx.io.ImageRecordIter(path_imgrec=fixture("images.rec"), data_shape=(3, 20, 24), batch_size=5,
                                   **extra)
        return next(iter(it)).data[0].asnumpy()

    crops = batch(rand_crop=True, seed_aug=2)
    np.testing.assert_array_equal(crops, batch(rand_crop=True, seed_aug=2))
    assert not np.array_equal(crops, batch())
    plain, mirrored = batch(), batch(rand_mirror=True, seed_aug=5)
    flags = [np.array_equal(m, p[:, :, ::-1]) for m, p in zip(mirrored, plain)]
    assert all(f or np.array_equal(m, p) for f, m, p in zip(flags, mirrored, plain)) and 0 < sum(flags) < 5


def test_max_crop_size_center():
    it = mx.io.ImageRecordIter(path_imgrec=fixture("images.rec"), data_shape=(3, 16, 16), batch_size=1,
                               max_crop_size=30, min_crop_size=30, dtype="uint8")
    first = next(iter(it)).data[0].asnumpy()[0]
    _, encoded = recordio.unpack(recordio.MXRecordIO(fixture("images.rec"), "r").read())
    rgb = image.imdecode(encoded).asnumpy()                           # 41 x 57
    expected = image.imresize(rgb[5:35, 13:43], 16, 16, interp=1).asnumpy()
    np.testing.assert_array_equal(first, np.transpose(expected, (2, 0, 1)))


def test_mean_image_file(tmp_path):
    path = str(tmp_path / "mean.nd")
    params = dict(path_imgrec=fixture("images.rec"), data_shape=(3, 20, 24), batch_size=5)
    raw = next(iter(mx.io.ImageRecordIter(dtype="uint8", **params))).data[0].asnumpy().astype(np.float32)
    centred = next(iter(mx.io.ImageRecordIter(mean_img=path, **params))).data[0].asnumpy()
    assert os.path.exists(path)
    np.testing.assert_allclose(centred, raw - raw.mean(axis=0), atol=1e-4)
    saved = mx.nd.load(path)
    np.testing.assert_allclose(saved["mean_img"].asnumpy(), raw.mean(axis=0), rtol=1e-6)
    again = next(iter(mx.io.ImageRecordIter(mean_img=path, **params))).data[0].asnumpy()
    np.testing.assert_array_equal(again, centred)


@pytest.mark.parametrize("params, message", [
    (dict(max_rotate_angle=10), "max_rotate_angle=10 is not supported"),
    (dict(brightness=0.2), "brightness=0.2 is not supported"),
    (dict(no_such_thing=1), "unknown parameter 'no_such_thing'"),
    (dict(label_width=2), "rec file provide|label_width must be 1"),
    (dict(data_shape=(4, 20, 24)), "Expected 4 channels, got 3"),
    (dict(data_shape=(3, 20)), "data_shape must be"),
    (dict(inter_method=7), "invalid inter_method 7"),
    (dict(data_shape=(3, 200, 24), resize=-1, max_crop_size=100), "smaller than max_crop_size"),
])
def test_image_record_iter_errors(params, message):
    kwargs = dict(path_imgrec=fixture("images.rec"), data_shape=(3, 20, 24), batch_size=2)
    kwargs.update(params)
    with pytest.raises(MXNetError, match=message):
        next(iter(mx.io.ImageRecordIter(**kwargs)))


def test_too_few_images_for_a_batch():
    it = mx.io.ImageRecordIter(path_imgrec=fixture("images.rec"), data_shape=(3, 20, 24), batch_size=12)
    with pytest.raises(MXNetError, match="must be bigger than the batch size"):
        next(iter(it))


# ------------------------------------------------------------------ ImageIter

@pytest.mark.parametrize("name", [n for n in ITER_CASES if n.startswith("img")])
def test_image_iter_as_mxnet(arrays, name):
    params = dict(ITER_CASES[name])
    params["data_shape"] = tuple(params["data_shape"])
    for key in ("mean", "std"):
        if key in params:
            params[key] = np.array(params[key])
    it = image.ImageIter(path_imgrec=fixture("images.rec"), **params)
    _check_epochs(it, name, arrays)


def test_image_iter_from_files_roll_over(tmp_path, arrays):
    entries = []
    for i in range(N_IMAGES):
        name = f"img{i}.png"
        (tmp_path / name).write_bytes(recordio.unpack(
            recordio.pack_img(recordio.IRHeader(0, 0, 0, 0), arrays[f"source_{i}"], img_fmt=".png"))[1])
        entries.append([float(i), 10.0 + i, name])
    it = image.ImageIter(batch_size=2, data_shape=(3, 28, 36), label_width=2, imglist=entries,
                         path_root=str(tmp_path), last_batch_handle="roll_over")
    first = [b.label[0].asnumpy()[:, 0].tolist() for b in it]
    it.reset()
    second = [b.label[0].asnumpy()[:, 0].tolist() for b in it]
    assert first == [[0, 1], [2, 3]] and second == [[4, 0], [1, 2], [3, 4]]
    rgb = arrays["source_0"][:, :, ::-1].astype(np.float32)
    it.hard_reset()
    batch = next(iter(it))
    np.testing.assert_array_equal(batch.data[0].asnumpy()[0], np.transpose(rgb[6:34, 10:46], (2, 0, 1)))


def test_image_iter_shuffle_needs_index():
    with pytest.raises(ValueError, match="path_imgidx"):
        image.ImageIter(batch_size=2, data_shape=(3, 20, 24), path_imgrec=fixture("images.rec"), shuffle=True)
    it = image.ImageIter(batch_size=5, data_shape=(3, 20, 24), path_imgrec=fixture("images.rec"),
                         path_imgidx=fixture("images.idx"), shuffle=True)
    assert sorted(next(iter(it)).label[0].asnumpy().tolist()) == sorted(h[1] for h in EXPECTED["image_headers"])


def test_create_augmenter_list():
    augs = image.CreateAugmenter((3, 20, 24), resize=30, rand_crop=True, rand_mirror=True, mean=True, std=True,
                                 brightness=0.1, contrast=0.1, saturation=0.1, hue=0.1, pca_noise=0.1, rand_gray=0.2)
    assert [type(a).__name__ for a in augs] == [
        "ResizeAug", "RandomCropAug", "HorizontalFlipAug", "CastAug", "ColorJitterAug", "HueJitterAug",
        "LightingAug", "RandomGrayAug", "ColorNormalizeAug"]
    with pytest.raises(ValueError, match="rand_resize needs rand_crop"):
        image.CreateAugmenter((3, 20, 24), rand_resize=True)


def test_random_augmenters_follow_python_random(arrays):
    source = mx.nd.array(arrays["source_2"][:, :, ::-1], dtype=np.uint8)

    def run(seed):
        # a fresh list: ColorJitterAug keeps the order it last shuffled its members into
        augs = image.CreateAugmenter((3, 20, 24), resize=30, rand_crop=True, rand_resize=True, rand_mirror=True,
                                     brightness=0.3, contrast=0.3, saturation=0.3, hue=0.2, rand_gray=0.5)
        random.seed(seed)
        out = source
        for aug in augs:
            out = aug(out)
        return np.asarray(out)

    first = run(11)
    assert first.shape == (20, 24, 3) and first.dtype == np.float32
    np.testing.assert_array_equal(run(11), first)
    assert not np.array_equal(run(12), first)


def test_brightness_jitter_scales():
    random.seed(0)
    expected_alpha = 1.0 + random.Random(0).uniform(-0.5, 0.5)
    out = image.BrightnessJitterAug(0.5)(mx.nd.array(np.full((2, 3, 3), 100.0)))
    np.testing.assert_allclose(np.asarray(out), 100.0 * expected_alpha, rtol=1e-6)


def test_int8_subtracts_rounded_mean():
    params = dict(path_imgrec=fixture("images.rec"), data_shape=(3, 20, 24), batch_size=5)
    raw = next(iter(mx.io.ImageRecordIter(dtype="uint8", **params))).data[0].asnumpy().astype(np.int16)
    centred = next(iter(mx.io.ImageRecordIter(dtype="int8", mean_r=120.4, mean_g=99.6, mean_b=7, **params)))
    assert centred.data[0].dtype == np.int8 and centred.provide_data[0].dtype == np.int8
    expected = np.clip(raw - np.array([120, 100, 7]).reshape(1, 3, 1, 1), -128, 127)
    np.testing.assert_array_equal(centred.data[0].asnumpy(), expected)


def test_broken_image_is_named(tmp_path, arrays):
    writer = recordio.MXIndexedRecordIO(str(tmp_path / "b.idx"), str(tmp_path / "b.rec"), "w")
    writer.write_idx(0, recordio.pack_img(recordio.IRHeader(0, 1.0, 0, 0), arrays["source_0"], img_fmt=".png"))
    writer.write_idx(7, recordio.pack(recordio.IRHeader(0, 2.0, 7, 0), b"not an image"))
    writer.close()
    it = image.ImageIter(batch_size=2, data_shape=(3, 28, 36), path_imgrec=str(tmp_path / "b.rec"),
                         path_imgidx=str(tmp_path / "b.idx"))
    with pytest.raises(RuntimeError, match="Broken image index: 7"):
        next(iter(it))
    records = mx.io.ImageRecordIter(path_imgrec=str(tmp_path / "b.rec"), data_shape=(3, 28, 36), batch_size=2)
    with pytest.raises(MXNetError, match="cannot decode the image"):
        next(iter(records))
