"""The random-sampling operators beyond the registry table (tests/opcases_random.py): the
statistics of real draws, the seeding contract, shapes and dtypes of MXNet's mx.nd.random /
mx.sym.random API, and densities computed by MXNet 1.9.1.

The statistical checks run at fixed seeds, so they are deterministic; each compares a sample
mean with the distribution's mean within 5 standard errors, and a sample variance with the
variance within 10%."""
import numpy as np
import pytest

import cysym as mx

N = 40000


def check_moments(samples, mean, var):
    samples = np.asarray(samples, dtype=np.float64).ravel()
    assert abs(samples.mean() - mean) < 5 * np.sqrt(var / samples.size), (samples.mean(), mean)
    assert abs(samples.var() - var) < 0.1 * var, (samples.var(), var)


MOMENTS = [
    ("uniform", dict(low=-1.0, high=3.0), 1.0, 16 / 12),
    ("normal", dict(loc=2.0, scale=0.5), 2.0, 0.25),
    ("gamma", dict(alpha=3.0, beta=0.5), 1.5, 0.75),
    ("gamma", dict(alpha=0.4, beta=2.0), 0.8, 1.6),
    ("exponential", dict(scale=2.0), 2.0, 4.0),
    ("poisson", dict(lam=3.5), 3.5, 3.5),
    ("poisson", dict(lam=42.0), 42.0, 42.0),
    ("negative_binomial", dict(k=4, p=0.4), 6.0, 15.0),
    ("generalized_negative_binomial", dict(mu=3.0, alpha=0.5), 3.0, 7.5),
    ("generalized_negative_binomial", dict(mu=2.0, alpha=0.0), 2.0, 2.0),
]


@pytest.mark.parametrize("name,params,mean,var", MOMENTS,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MOMENTS)])
def test_moments_of_scalar_samplers(name, params, mean, var):
    mx.random.seed(42)
    samples = getattr(mx.nd.random, name)(shape=(N,), dtype="float64", **params)
    assert samples.shape == (N,) and samples.dtype == np.float64
    check_moments(samples, mean, var)
    if name in ("poisson", "negative_binomial", "generalized_negative_binomial"):
        np.testing.assert_array_equal(samples, np.round(samples))
        assert samples.min() >= 0


def test_uniform_stays_in_its_interval_and_float32_is_default():
    mx.random.seed(3)
    samples = mx.nd.random.uniform(-2, 5, shape=(N,))
    assert samples.dtype == np.float32
    assert samples.min() >= -2 and samples.max() < 5


def test_randint_covers_its_range_uniformly():
    mx.random.seed(4)
    samples = mx.nd.random.randint(-3, 4, shape=(N,))
    assert samples.dtype == np.int32
    counts = np.bincount(samples.asnumpy() + 3)
    assert len(counts) == 7
    np.testing.assert_allclose(counts / N, 1 / 7, atol=5 * np.sqrt(1 / 7 * 6 / 7 / N))
    assert mx.nd.random.randint(0, 2 ** 40, shape=(3,), dtype="int64").dtype == np.int64


@pytest.mark.parametrize("name,params,means", [
    ("uniform", ([0.0, 10.0], [1.0, 14.0]), [0.5, 12.0]),
    ("normal", ([-1.0, 3.0], [0.1, 2.0]), [-1.0, 3.0]),
    ("gamma", ([2.0, 0.5], [1.0, 3.0]), [2.0, 1.5]),
    ("exponential", ([0.5, 4.0],), [2.0, 0.25]),
    ("poisson", ([1.5, 25.0],), [1.5, 25.0]),
    ("negative_binomial", ([2.0, 5.0], [0.5, 0.8]), [2.0, 1.25]),
    ("generalized_negative_binomial", ([1.0, 6.0], [0.2, 1.0]), [1.0, 6.0]),
])
def test_sample_operators_draw_per_element(name, params, means):
    mx.random.seed(7)
    arrays = [mx.nd.array(p, dtype="float64") for p in params]
    samples = getattr(mx.nd, f"sample_{name}")(*arrays, shape=(100, 200))
    assert samples.shape == (2, 100, 200) and samples.dtype == np.float32
    for row, mean in zip(samples.asnumpy(), means):
        assert abs(row.mean() - mean) < 5 * row.std() / np.sqrt(row.size) + 1e-6


def test_sample_output_dtype_is_its_own():
    mu = mx.nd.array([0.0, 1.0], dtype="float64")
    assert mx.nd.sample_normal(mu, mu + 1).dtype == np.float32
    assert mx.nd.sample_normal(mu, mu + 1, dtype="float64").dtype == np.float64
    assert mx.nd.random.normal(mu, mu + 1, shape=3).shape == (2, 3)


def test_multinomial_frequencies_and_log_probabilities():
    probabilities = np.array([[0.1, 0.6, 0.3], [0.5, 0.0, 0.5]])
    mx.random.seed(8)
    sample, log_prob = mx.nd.random.multinomial(mx.nd.array(probabilities, dtype="float64"),
                                                shape=(N,), get_prob=True)
    assert sample.shape == (2, N) and sample.dtype == np.int32 and log_prob.dtype == np.float64
    for row, p in zip(sample.asnumpy(), probabilities):
        np.testing.assert_allclose(np.bincount(row, minlength=3) / N, p, atol=0.01)
    np.testing.assert_allclose(log_prob, np.log(np.take_along_axis(probabilities, sample, 1)))
    one = mx.nd.random.multinomial(mx.nd.array([0.2, 0.8]))
    assert one.shape == (1,) and one.dtype == np.int32


def test_seed_reproduces_and_different_seeds_differ():
    draws = {}
    for seed in (11, 11, 12):
        mx.random.seed(seed)
        draws.setdefault(seed, []).append(
            [mx.nd.random.normal(shape=(5,)).asnumpy(), mx.random.uniform(shape=(5,)).asnumpy(),
             mx.nd.random.poisson(mx.nd.array([1.0, 30.0]), shape=4).asnumpy()])
    for first, again in zip(*draws[11]):
        np.testing.assert_array_equal(first, again)
    for first, other in zip(draws[11][0], draws[12][0]):
        assert not np.array_equal(first, other)


@pytest.mark.parametrize("is_train", [False, True])
def test_bound_graph_draws_anew_each_forward_and_follows_the_seed(is_train):
    x = mx.sym.Variable("x")
    net = mx.sym.random.normal(shape=(2, 3)) + x + mx.sym.random.uniform_like(x)
    exe = net.simple_bind(mx.cpu(), x=(2, 3))
    mx.random.seed(5)
    first = exe.forward(is_train=is_train)[0].copy()
    second = exe.forward(is_train=is_train)[0].copy()
    assert not np.array_equal(first, second)
    mx.random.seed(5)
    np.testing.assert_array_equal(exe.forward(is_train=is_train)[0], first)


def test_symbolic_api_names_and_outputs():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    with mx.name.NameManager():
        assert mx.sym.random.uniform(shape=(2,)).list_outputs() == ["_random_uniform0_output"]
        assert mx.sym.random.uniform(a, b).list_outputs() == ["_sample_uniform0_output"]
        assert mx.sym.random.uniform_like(a).list_outputs() == ["uniform_like0_output"]
        assert mx.sym.random.multinomial(a).list_outputs() == ["_sample_multinomial0_output0",
                                                               "_sample_multinomial0_output1"]
    _, out_shapes, _ = mx.sym.random.exponential(a, shape=(4, 5)).infer_shape(a=(2, 3))
    assert out_shapes == [(2, 3, 4, 5)]
    _, out_types, _ = mx.sym.random.randint(0, 5, shape=(2,)).infer_type()
    assert out_types == [np.int32]
    loaded = mx.sym.load_json(mx.sym.random_normal(shape=(3,), name="n").tojson()
                              .replace('"_random_normal"', '"normal"'))
    assert loaded.infer_shape()[1] == [(3,)]
    with pytest.raises(TypeError):
        mx.sym.random.uniform(a, 1.0)


def test_imperative_api_shapes_dtypes_and_out():
    assert mx.nd.random.uniform().shape == (1,)
    assert mx.nd.random.uniform(shape=(2, 3), dtype="float64").dtype == np.float64
    assert mx.nd.random.randn(2, 3).shape == (2, 3)
    like = mx.nd.random.normal_like(mx.nd.zeros((2, 4), dtype="float64"), loc=1.0)
    assert like.shape == (2, 4) and like.dtype == np.float64
    out = mx.nd.zeros((3, 2))
    assert mx.nd.random.gamma(2.0, 1.0, out=out) is out and (out.asnumpy() > 0).all()
    # float16 samples are drawn in float32 and rounded
    assert mx.nd.random.uniform(shape=(2,), dtype="float16").dtype == np.float16


# Values printed by MXNet 1.9.1 (/tmp/mxref: mx.nd.random_pdf_<name> in float64 on these inputs)
SAMPLE = [[0.5, 1.5, 2.5], [0.2, 0.7, 3.0]]
COUNTS = [[1.0, 2.0, 3.0], [0.0, 1.0, 3.0]]
MXNET_PDF = [
    ("gamma", SAMPLE, ([1.5, 3.0], [2.0, 0.5]),
     [[0.8302149948411893, 0.1946086933185658, 0.034001466410081366],
      [0.0022620935450899005, 0.021581072747635596, 0.12551071508349182]]),
    ("normal", SAMPLE, ([1.5, 3.0], [2.0, 0.5]),
     [[0.17603266093287223, 0.1994711374253213, 0.17603266093287223],
      [1.2365240828284627e-07, 2.0281703848778605e-05, 0.7978845497012852]]),
    ("exponential", SAMPLE, ([1.5, 3.0],),
     [[0.708549829111522, 0.1580988368427965, 0.03527661878401366],
      [1.646434908282079, 0.3673692847589458, 0.0003702294122600387]]),
    ("poisson", COUNTS, ([1.5, 3.0],),
     [[0.33469524022264474, 0.25102143016698353, 0.12551071508349182],
      [0.049787068367863944, 0.14936120510359185, 0.22404180765538775]]),
    ("negative_binomial", COUNTS, ([1.5, 3.0], [0.3, 0.6]),
     [[0.17253260561412725, 0.15096602991236138, 0.12328892442842847],
      [0.21599999999999997, 0.2592, 0.13824]]),
    ("generalized_negative_binomial", COUNTS, ([1.5, 3.0], [2.0, 0.5]),
     [[0.1875, 0.10546875000000003, 0.06591796875], [0.16000000000000003, 0.192, 0.13824000000000003]]),
    ("uniform", SAMPLE, ([-1.0, 0.0], [1.5, 3.0]), [[0.4] * 3, [1 / 3] * 3]),
]


@pytest.mark.parametrize("name,sample,params,expected", MXNET_PDF, ids=[m[0] for m in MXNET_PDF])
def test_densities_computed_by_mxnet(name, sample, params, expected):
    arrays = [mx.nd.array(v, dtype="float64") for v in (sample,) + params]
    out = getattr(mx.nd, f"random_pdf_{name}")(*arrays)
    # MXNet's normal density takes pi as a float32 constant: its values are 1.4e-8 off
    np.testing.assert_allclose(out, expected, rtol=2e-8 if name == "normal" else 1e-12)


def test_dirichlet_log_density_and_gamma_gradients_computed_by_mxnet():
    sample = mx.nd.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], dtype="float64")
    out = mx.nd.random_pdf_dirichlet(sample, mx.nd.array([0.1, 0.4, 0.9], dtype="float64"),
                                     is_log=True)
    np.testing.assert_allclose(out, [-0.9951871015008575, 0.24081237127938548], rtol=1e-12)
    x, alpha, beta = mx.sym.Variable("x"), mx.sym.Variable("al"), mx.sym.Variable("be")
    exe = mx.sym.random_pdf_gamma(x, alpha, beta).simple_bind(
        mx.cpu(), x=(2, 3), al=(2,), be=(2,), type_dict={"x": "float64", "al": "float64",
                                                          "be": "float64"})
    exe.forward(is_train=True, x=np.array(SAMPLE), al=np.array([1.5, 3.0]), be=np.array([2.0, 0.5]))
    exe.backward([np.ones((2, 3))])
    np.testing.assert_allclose(exe.grad_dict["x"], [
        [-0.8302149948411893, -0.3243478221976097, -0.06120263953814646],
        [0.021489888678354056, 0.05086967147656962, 0.0209184525139153]], rtol=1e-10)
    # MXNet's digamma (its cephes port) is 8e-8 off at 1.5, where psi(1.5) = 2 - euler_gamma
    # - 2 log(2) is what SciPy's gives
    np.testing.assert_allclose(exe.grad_dict["al"], [0.22988615953398353, -0.11479615697683238],
                               rtol=1e-6)
    np.testing.assert_allclose(exe.grad_dict["be"], [0.0020946625037305752, 0.5040319733744656],
                               rtol=1e-10)


def test_shuffle_permutes_rows_uniformly_and_follows_the_seed():
    data = np.arange(15, dtype=np.int64).reshape(5, 3)
    mx.random.seed(9)
    first = mx.nd.random.shuffle(mx.nd.array(data, dtype="int64")).asnumpy()
    assert first.dtype == np.int64
    np.testing.assert_array_equal(np.sort(first, axis=0), data)
    np.testing.assert_array_equal(first[:, 1:] - first[:, :1], data[:, 1:] - data[:, :1])
    mx.random.seed(9)
    np.testing.assert_array_equal(mx.random.shuffle(mx.nd.array(data, dtype="int64")), first)
    rows = np.array([mx.nd.random.shuffle(mx.nd.array(np.arange(5.0))).asnumpy()
                     for _ in range(4000)])
    frequencies = np.array([np.bincount(rows[:, k].astype(int), minlength=5) for k in range(5)])
    np.testing.assert_allclose(frequencies / 4000, 0.2, atol=5 * np.sqrt(0.16 / 4000))


def test_unique_zipfian_samples_are_distinct_and_log_uniform():
    mx.random.seed(10)
    samples, tries = mx.nd._internal._sample_unique_zipfian(range_max=50, shape=(300, 20))
    assert samples.dtype == np.int64 and tries.dtype == np.int64 and tries.shape == (300,)
    samples = samples.asnumpy()
    assert all(len(set(row)) == 20 for row in samples)
    assert samples.min() >= 0 and samples.max() < 50 and (tries.asnumpy() >= 20).all()
    single, _ = mx.nd._internal._sample_unique_zipfian(range_max=100, shape=(N, 1))
    # MXNet's draw round(exp(u log(range_max))) - 1 gives 0 with probability log(1.5) / log(100)
    p = np.log(1.5) / np.log(100)
    assert abs((single.asnumpy() == 0).mean() - p) < 5 * np.sqrt(p * (1 - p) / N)
