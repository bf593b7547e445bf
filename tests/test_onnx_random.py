"""The random samplers exported to ONNX (RandomUniform/RandomNormal, transformed): their draws
cannot equal cysym's, so ONNX Runtime's and onnx.reference's samples are checked by shape,
dtype, support and moments (means and deviations within 6 standard errors of the
distribution's, which a correct sampler misses about once in 10^9 runs).  The registry table's
point masses (tests/test_onnx_ops.py) check the same exporters value for value."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx_helpers import one_kernel_thread, session  # noqa: E402,F401

import cysym as mx  # noqa: E402
from cysym.onnx.export import to_onnx  # noqa: E402

COUNT = 20000


def _run_both(sym, feeds=None):
    """The outputs of ONNX Runtime and of onnx.reference for the exported sym."""
    feeds = feeds or {}
    model = to_onnx(sym, {}, [value.shape for value in feeds.values()],
                    [value.dtype for value in feeds.values()])
    onnx.checker.check_model(model, full_check=True)
    runtime = session(model)
    return {"onnxruntime": runtime.run(None, feeds)[0],
            "reference": ReferenceEvaluator(model).run(None, feeds)[0]}


def _assert_moments(samples, mean, deviation, what, axis=None):
    count = samples.size if axis is None else samples.shape[axis]
    np.testing.assert_allclose(samples.mean(axis=axis), mean, rtol=0,
                               atol=6 * np.max(deviation) / np.sqrt(count), err_msg=f"{what}: mean")
    # the sample deviation's standard error is about deviation * sqrt((kurtosis - 1) / (4 count)):
    # deviation / sqrt(2 count) for normal draws, twice that for exponential ones (kurtosis 9),
    # so the kurtosis is the samples' own
    centred = samples - samples.mean(axis=axis, keepdims=axis is not None)
    variance = (centred ** 2).mean(axis=axis)
    kurtosis = np.max((centred ** 4).mean(axis=axis) / variance ** 2)
    np.testing.assert_allclose(samples.std(axis=axis), deviation, rtol=0,
                               atol=6 * np.max(deviation) * np.sqrt((kurtosis - 1) / (4 * count)),
                               err_msg=f"{what}: deviation")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("distribution,params,mean,deviation,low,high", [
    ("uniform", dict(low=-1.5, high=2.5), 0.5, 4 / np.sqrt(12), -1.5, 2.5),
    ("normal", dict(loc=0.75, scale=1.5), 0.75, 1.5, -np.inf, np.inf),
    ("exponential", dict(lam=2.5), 0.4, 0.4, 0, np.inf),
])
def test_random_scalar_parameters(distribution, params, mean, deviation, low, high, dtype):
    shape = (COUNT // 50, 50)
    sym = getattr(mx.sym, f"_random_{distribution}")(shape=shape, dtype=dtype, **params)
    for runner, samples in _run_both(sym).items():
        what = f"{distribution} ({runner})"
        assert samples.shape == shape and samples.dtype == np.dtype(dtype), what
        assert low <= samples.min() and samples.max() < high, what
        _assert_moments(samples, mean, deviation, what)


@pytest.mark.parametrize("distribution,params,mean,deviation", [
    ("uniform", dict(low=2.0, high=3.0), 2.5, 1 / np.sqrt(12)),
    ("normal", dict(loc=-1.0, scale=0.5), -1.0, 0.5),
    ("exponential", dict(lam=0.5), 2.0, 2.0),
])
def test_random_like_takes_the_data_shape_and_dtype(distribution, params, mean, deviation):
    data = np.zeros((COUNT // 40, 40), dtype=np.float64)
    sym = getattr(mx.sym, f"_random_{distribution}_like")(mx.sym.Variable("data"), **params)
    for runner, samples in _run_both(sym, {"data": data}).items():
        what = f"{distribution}_like ({runner})"
        assert samples.shape == data.shape and samples.dtype == np.float64, what
        _assert_moments(samples, mean, deviation, what)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_random_randint_covers_its_range_evenly(dtype):
    sym = mx.sym._random_randint(low=-3, high=4, shape=(COUNT,), dtype=dtype)
    for runner, samples in _run_both(sym).items():
        assert samples.dtype == np.dtype(dtype), runner
        counts = np.bincount(samples + 3, minlength=7)
        assert len(counts) == 7 and samples.min() == -3 and samples.max() == 3, runner
        # each of the 7 values: COUNT/7 draws, binomial standard deviation sqrt(COUNT 1/7 6/7)
        np.testing.assert_allclose(counts, COUNT / 7, atol=6 * np.sqrt(COUNT * 6 / 49), err_msg=runner)


@pytest.mark.parametrize("distribution,inputs", [
    ("uniform", {"low": [[0.0, -2.0, 5.0], [1.0, 3.0, -4.0]],
                 "high": [[1.0, 2.0, 5.5], [3.0, 3.5, -1.0]]}),
    ("normal", {"mu": [[0.0, -2.0, 5.0], [1.0, 3.0, -4.0]],
                "sigma": [[1.0, 0.5, 2.0], [0.25, 3.0, 1.5]]}),
    ("exponential", {"lam": [[1.0, 0.5, 2.0], [4.0, 0.25, 1.5]]}),
])
def test_sample_one_distribution_per_parameter(distribution, inputs):
    arrays = {name: np.array(values, dtype=np.float32) for name, values in inputs.items()}
    sym = getattr(mx.sym, f"_sample_{distribution}")(
        *[mx.sym.Variable(name) for name in arrays], shape=(COUNT // 4,))
    first, second = (list(arrays.values()) + [None])[:2]
    if distribution == "uniform":
        means, deviations = (first + second) / 2, (second - first) / np.sqrt(12)
    elif distribution == "normal":
        means, deviations = first, second
    else:
        means = deviations = 1 / first
    for runner, samples in _run_both(sym, arrays).items():
        what = f"sample_{distribution} ({runner})"
        assert samples.shape == (2, 3, COUNT // 4), what
        _assert_moments(samples, means, deviations, what, axis=-1)


def test_sample_multinomial_frequencies_and_log_probabilities():
    """ONNX Runtime only: onnx.reference has no Multinomial."""
    probabilities = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]], dtype=np.float32)
    sym = mx.sym._sample_multinomial(mx.sym.Variable("data"), shape=(COUNT,), get_prob=True)
    model = to_onnx(sym, {}, [probabilities.shape])
    onnx.checker.check_model(model, full_check=True)
    runtime = session(model)
    samples, log_probabilities = runtime.run(None, {"data": probabilities})
    assert samples.shape == (2, COUNT) and samples.dtype == np.int32
    for row, chosen in zip(probabilities, samples):
        frequencies = np.bincount(chosen, minlength=3) / COUNT
        np.testing.assert_allclose(frequencies, row, atol=6 * np.sqrt(0.25 / COUNT))
    np.testing.assert_allclose(log_probabilities,
                               np.log(np.take_along_axis(probabilities, samples, axis=1)),
                               rtol=1e-6)


def _imported_draws(nodes, feeds, out_type, out_shape, tmp_path):
    """cysym's outputs of an onnx.helper model of `nodes` (output 'y'), imported."""
    from onnx import helper
    inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype),
                                            value.shape) for name, value in feeds.items()]
    graph = helper.make_graph(nodes, "draws", inputs,
                              [helper.make_tensor_value_info("y", out_type, out_shape)])
    path = tmp_path / "draws.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    sym, arg_params, aux_params = mx.onnx.import_model(str(path))
    exe = sym.simple_bind(mx.cpu(), grad_req="null", **{n: v.shape for n, v in feeds.items()},
                          type_dict={n: v.dtype for n, v in feeds.items()})
    return np.asarray(exe.forward(is_train=False, **feeds)[0])


def test_imported_generators_draw_their_distributions(tmp_path):
    """ONNX's RandomUniform, RandomNormalLike and Multinomial imported as cysym's samplers (the
    seed attribute has no cysym form: cysym draws from mx.random's state)."""
    from onnx import TensorProto, helper
    uniform = _imported_draws([helper.make_node("RandomUniform", [], ["y"], shape=[COUNT // 50, 50],
                                                low=-1.0, high=3.0, dtype=TensorProto.DOUBLE)],
                              {}, TensorProto.DOUBLE, [COUNT // 50, 50], tmp_path)
    assert uniform.shape == (COUNT // 50, 50) and uniform.dtype == np.float64
    assert -1.0 <= uniform.min() and uniform.max() < 3.0
    _assert_moments(uniform, 1.0, 4 / np.sqrt(12), "RandomUniform")
    data = np.zeros((COUNT // 40, 40), np.float32)
    normal = _imported_draws([helper.make_node("RandomNormalLike", ["x"], ["y"], mean=2.0,
                                               scale=0.5)], {"x": data}, TensorProto.FLOAT,
                            data.shape, tmp_path)
    assert normal.shape == data.shape and normal.dtype == np.float32
    _assert_moments(normal, 2.0, 0.5, "RandomNormalLike")
    logits = np.log(np.array([[0.2, 0.5, 0.3]], np.float32))
    draws = _imported_draws([helper.make_node("Multinomial", ["x"], ["y"], sample_size=COUNT)],
                            {"x": logits}, TensorProto.INT32, [1, COUNT], tmp_path)
    assert draws.shape == (1, COUNT) and draws.dtype == np.int32
    np.testing.assert_allclose(np.bincount(draws[0], minlength=3) / COUNT, [0.2, 0.5, 0.3],
                               atol=6 * np.sqrt(0.25 / COUNT))


# ---------------------------------------------------------------------------------------------
# the random image transforms: each run draws one parameter (a flip, a factor, three lighting
# alphas), which the output shows; the outputs are cysym's for that parameter, and the
# parameters over many runs have MXNet's distribution

RUNS = {"onnxruntime": 200, "reference": 50}
IMAGE = np.random.default_rng(3).uniform(1, 255, (4, 5, 3)).astype(np.float32)


def _image_runs(sym):
    """{runner: the outputs of repeated runs} of sym exported over IMAGE."""
    model = to_onnx(sym, {}, [IMAGE.shape])
    onnx.checker.check_model(model, full_check=True)
    runners = {"onnxruntime": session(model), "reference": ReferenceEvaluator(model)}
    return {name: [runner.run(None, {"data": IMAGE})[0] for _ in range(RUNS[name])]
            for name, runner in runners.items()}


@pytest.mark.parametrize("op_name,axis", [("_image_random_flip_left_right", 1),
                                          ("_image_random_flip_top_bottom", 0)])
def test_random_image_flips(op_name, axis):
    sym = getattr(mx.sym, op_name)(mx.sym.Variable("data"))
    for runner, outputs in _image_runs(sym).items():
        flips = 0
        for out in outputs:
            flipped = np.array_equal(out, np.flip(IMAGE, axis))
            assert flipped or np.array_equal(out, IMAGE), runner
            flips += flipped
        count = len(outputs)
        assert abs(flips / count - 0.5) <= 6 * 0.5 / np.sqrt(count), f"{runner}: {flips} of {count}"


def _gray_mean(image):
    return (image * np.float32([0.299, 0.587, 0.114])).sum() / np.float32(image.shape[0] * image.shape[1])


# the factor each output shows, from its first value (x f + offset, the offset read from the image)
FACTOR_OF = {
    "brightness": lambda out: out[0, 0, 0] / IMAGE[0, 0, 0],
    "contrast": lambda out: (out[0, 0, 0] - _gray_mean(IMAGE)) / (IMAGE[0, 0, 0] - _gray_mean(IMAGE)),
    "saturation": lambda out: ((out[0, 0, 0] - IMAGE[0, 0, 2] * 0.114)
                               / (IMAGE[0, 0, 0] - IMAGE[0, 0, 2] * 0.114)),
}


@pytest.mark.parametrize("kind", sorted(FACTOR_OF))
def test_random_image_factors(kind):
    """brightness, contrast and saturation draw f uniform in [0.5, 1.5): each output is cysym's
    transform for the f it shows, and the f have the uniform's mean and deviation."""
    op = getattr(mx.sym, f"_image_random_{kind}")
    sym = op(mx.sym.Variable("data"), min_factor=0.5, max_factor=1.5)
    for runner, outputs in _image_runs(sym).items():
        factors = np.array([FACTOR_OF[kind](out) for out in outputs], np.float64)
        assert 0.5 - 1e-5 <= factors.min() and factors.max() < 1.5 + 1e-5, runner
        _assert_moments(factors, 1.0, 1 / np.sqrt(12), f"{kind} ({runner})")
        for out, factor in zip(outputs[:5], factors):
            fixed = op(mx.sym.Variable("data"), min_factor=factor, max_factor=factor)
            expected = fixed.eval(ctx=mx.cpu(), data=mx.nd.array(IMAGE))[0].asnumpy()
            np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4, err_msg=runner)


def test_random_image_lighting():
    """Each output is the image plus one offset per channel, eigen @ alphas, the alphas
    N(0, alpha_std)."""
    from cysym.ops.image import _LIGHTING_EIGEN
    sym = mx.sym._image_random_lighting(mx.sym.Variable("data"), alpha_std=0.1)
    for runner, outputs in _image_runs(sym).items():
        offsets = np.array([out - IMAGE for out in outputs], np.float64)       # (runs, H, W, 3)
        np.testing.assert_allclose(offsets, np.broadcast_to(offsets[:, :1, :1], offsets.shape),
                                   atol=1e-4, err_msg=runner)
        alphas = np.linalg.solve(_LIGHTING_EIGEN, offsets[:, 0, 0].T).T          # (runs, 3)
        _assert_moments(alphas, 0.0, 0.1, f"lighting ({runner})", axis=0)


@pytest.mark.parametrize("kind,params", [("brightness", dict(min_factor=1.7, max_factor=1.7)),
                                         ("contrast", dict(min_factor=2.5, max_factor=2.5)),
                                         ("saturation", dict(min_factor=0.3, max_factor=0.3))])
@pytest.mark.parametrize("dtype", ["uint8", "float64"])
def test_random_image_transforms_saturate_as_cysym(kind, params, dtype):
    """One factor (min = max): uint8 results clamped to [0, 255] and truncated, float64 ones
    rounded to float32 on the way, as cysym's kernel (contrast's gray mean of a float64 image:
    its products rounded to float32 before the float32 sums, where the kernel rounds each
    product's sum: the offset within a float32 rounding of the image's scale).  A uint8 value
    may differ by one level: the kernel's x * f + offset is one fused multiply-add where the
    compiler contracts it (the -mfma builds), ONNX's a Mul and an Add, and truncation turns a
    float32 rounding next to a whole number into a level."""
    image = IMAGE.astype(dtype)
    sym = getattr(mx.sym, f"_image_random_{kind}")(mx.sym.Variable("data"), **params)
    expected = sym.eval(ctx=mx.cpu(), data=mx.nd.array(image, dtype=dtype))[0].asnumpy()
    model = to_onnx(sym, {}, [image.shape], [image.dtype])
    onnx.checker.check_model(model, full_check=True)
    for runner in (session(model), ReferenceEvaluator(model)):
        result = runner.run(None, {"data": image})[0]
        assert result.dtype == np.dtype(dtype)
        if dtype == "uint8":
            assert np.abs(result.astype(int) - expected).max() <= 1
        elif kind == "contrast":
            np.testing.assert_allclose(result, expected, rtol=0, atol=4 * np.spacing(np.float32(255)))
        else:
            np.testing.assert_array_equal(result, expected)


def _hue_image(dtype):
    """Random colours, and the corner cases of the HLS conversion: grays, black, white, the
    primaries, ties for the largest channel, light and dark colours."""
    special = [[0, 0, 0], [255, 255, 255], [128, 128, 128], [255, 0, 0], [0, 255, 0], [0, 0, 255],
               [255, 255, 0], [0, 255, 255], [255, 0, 255], [200, 200, 10], [10, 200, 200],
               [250, 240, 245], [5, 10, 7], [128, 129, 128], [127, 128, 128], [90, 30, 30]]
    rng = np.random.default_rng(9)
    pixels = np.concatenate([np.array(special), rng.integers(0, 256, (24, 3))])
    return pixels.reshape(5, 8, 3).astype(dtype)


@pytest.mark.parametrize("factor", [0.3, 0.65, 0.999, 2.5])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_random_hue_as_cysym(factor, dtype):
    """One hue turn (min = max): ONNX Runtime and onnx.reference compute cysym's HLS round trip
    (uint8: within one level, see test_random_image_transforms_saturate_as_cysym)."""
    image = _hue_image(dtype)
    sym = mx.sym._image_random_hue(mx.sym.Variable("data"), min_factor=factor, max_factor=factor)
    expected = sym.eval(ctx=mx.cpu(), data=mx.nd.array(image, dtype=dtype))[0].asnumpy()
    model = to_onnx(sym, {}, [image.shape], [image.dtype])
    onnx.checker.check_model(model, full_check=True)
    for name, runner in (("onnxruntime", session(model)), ("reference", ReferenceEvaluator(model))):
        with np.errstate(divide="ignore", invalid="ignore"):    # Where's unused branches
            result = runner.run(None, {"data": image})[0]
        if dtype == "uint8":
            assert np.abs(result.astype(int) - expected).max() <= 1, name
        else:
            np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-4, err_msg=name)


def test_random_color_jitter_applies_its_draws_in_their_order():
    """Each step of color_jitter's output is cysym's transform, with the factor ONNX Runtime
    drew, of the step before, in the order it drew, saturated into uint8 (within one level, see
    test_random_image_transforms_saturate_as_cysym; the drawn order, factors and the steps'
    images are read as extra outputs; runs whose hue turn is negative, which the hue
    operator's parameters cannot give, are not compared); each transform comes first about
    once in four runs."""
    from onnx import helper
    kinds = ["brightness", "contrast", "saturation", "hue"]
    image = _hue_image("uint8")
    sym = mx.sym._image_random_color_jitter(mx.sym.Variable("data"), brightness=0.4, contrast=0.3,
                                             saturation=0.5, hue=0.2)
    model = to_onnx(sym, {}, [image.shape], [image.dtype])
    onnx.checker.check_model(model, full_check=True)
    nodes = model.graph.node
    draws = {node.output[0] for node in nodes
             if node.op_type == "RandomUniform" and list(node.attribute[-1].ints or []) == [1]}
    factors = [node.output[0] for node in nodes if node.op_type == "Add" and node.input[0] in draws]
    order = next(node.output[1] for node in nodes if node.op_type == "TopK")
    # a step's image: the last Where choosing by the kind drawn for that position
    positions = [node.output[0] for node in nodes if node.op_type == "Slice" and node.input[0] == order]
    steps_images = []
    for position in positions:
        choices = {node.output[0] for node in nodes if node.op_type == "Equal" and node.input[0] == position}
        steps_images.append([node.output[0] for node in nodes
                             if node.op_type == "Where" and node.input[0] in choices][-1])
    assert len(factors) == len(steps_images) == 4
    model.graph.output.extend(helper.make_empty_tensor_value_info(name)
                              for name in [order] + factors + steps_images)
    runtime = session(model)
    first = np.zeros(4)
    runs, compared = 100, 0
    for run in range(runs):
        with np.errstate(divide="ignore", invalid="ignore"):
            out, drawn, *values = runtime.run(None, {"data": image})
        first[drawn[0]] += 1
        factors, images = values[:4], [image] + values[4:]
        np.testing.assert_array_equal(out, images[-1])
        if compared == 5 or factors[3][0] < 0:
            continue
        compared += 1
        for step, k in enumerate(drawn):
            factor = float(factors[k][0])
            transform = getattr(mx.sym, f"_image_random_{kinds[k]}")(
                mx.sym.Variable("data"), min_factor=factor, max_factor=factor)
            expected = transform.eval(ctx=mx.cpu(), data=mx.nd.array(images[step], dtype="uint8"))
            difference = np.abs(images[step + 1].astype(int) - expected[0].asnumpy())
            assert difference.max() <= 1, f"order {list(drawn)}, step {step}"
    assert compared == 5
    assert np.all(np.abs(first / runs - 0.25) <= 6 * np.sqrt(0.25 * 0.75 / runs)), first
