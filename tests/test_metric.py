"""Metrics against NumPy, over two batches, plus create() and the composite/custom metrics."""
import math

import numpy as np
import pytest

from cysym import metric


def _batches(seed=0, classes=3, sizes=(5, 7)):
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        logits = rng.normal(size=(n, classes))
        prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        label = rng.integers(0, classes, size=n).astype(np.float32)
        out.append((label, prob.astype(np.float32)))
    return out


def _run(m, batches):
    for label, pred in batches:
        m.update([label], [pred])
    return m.get()


def test_accuracy():
    batches = _batches()
    name, value = _run(metric.create("acc"), batches)
    correct = sum((p.argmax(1) == l).sum() for l, p in batches)
    assert name == "accuracy"
    assert value == pytest.approx(correct / 12)
    # predictions already given as class ids (same shape as labels)
    m = metric.Accuracy()
    m.update([np.array([0, 1, 2])], [np.array([0, 1, 1])])
    assert m.get()[1] == pytest.approx(2 / 3)
    assert isinstance(metric.create("accuracy"), metric.Accuracy)


def test_accuracy_axis_and_shape_mismatch():
    pred = np.zeros((2, 3, 4))
    pred[0, :, 1] = 1  # argmax over axis 2 -> 1 for row 0
    m = metric.Accuracy(axis=2)
    m.update([np.ones((2, 3))], [pred])
    assert m.get()[1] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="does not match"):
        metric.Accuracy().update([np.zeros(2), np.zeros(2)], [np.zeros((2, 3))])


def test_top_k_accuracy():
    batches = _batches(classes=5)
    m = metric.create("top_k_accuracy", top_k=3)
    name, value = _run(m, batches)
    hits = sum(sum(int(l[i]) in np.argsort(p[i])[-3:] for i in range(len(l))) for l, p in batches)
    assert name == "top_k_accuracy_3"
    assert value == pytest.approx(hits / 12)


def test_cross_entropy_and_nll():
    batches = _batches()
    expected = sum(-np.log(p[np.arange(len(l)), l.astype(int)] + 1e-12).sum() for l, p in batches) / 12
    assert _run(metric.create("ce"), batches) == ("cross-entropy", pytest.approx(expected, rel=1e-6))
    assert _run(metric.create("nll_loss"), batches)[1] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name, fn", [
    ("mse", lambda l, p: ((l - p) ** 2).mean()),
    ("mae", lambda l, p: np.abs(l - p).mean()),
    ("rmse", lambda l, p: np.sqrt(((l - p) ** 2).mean())),
])
def test_regression_metrics_average_per_batch(name, fn):
    rng = np.random.default_rng(1)
    batches = [(rng.normal(size=(n, 2)), rng.normal(size=(n, 2))) for n in (3, 5)]
    got = _run(metric.create(name), batches)
    assert got == (name, pytest.approx(np.mean([fn(l, p) for l, p in batches])))
    # 1-d labels are compared as columns
    m = metric.create(name)
    m.update([np.array([1.0, 2.0])], [np.array([[1.5], [2.0]])])
    assert m.get()[1] == pytest.approx(fn(np.array([1.0, 2.0]), np.array([1.5, 2.0])))


def _f1(label, pred_label):
    tp = np.sum((pred_label == 1) & (label == 1))
    fp = np.sum((pred_label == 1) & (label == 0))
    fn = np.sum((pred_label == 0) & (label == 1))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def test_f1_macro_and_micro():
    batches = _batches(classes=2, sizes=(9, 11), seed=4)
    macro = _run(metric.create("f1"), batches)
    assert macro == ("f1", pytest.approx(np.mean([_f1(l, p.argmax(1)) for l, p in batches])))
    micro = _run(metric.F1(average="micro"), batches)
    all_l = np.concatenate([l for l, _ in batches])
    all_p = np.concatenate([p.argmax(1) for _, p in batches])
    assert micro[1] == pytest.approx(_f1(all_l, all_p))
    with pytest.raises(ValueError, match="binary"):
        metric.F1().update([np.array([0, 1, 2])], [np.zeros((3, 2))])


def test_perplexity_with_ignore_label():
    label = np.array([0, 1, 2, 1])
    pred = np.array([[0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    m = metric.Perplexity(ignore_label=2)
    m.update([label], [pred])
    kept = [0.5, 0.8, 0.3]
    assert m.get()[1] == pytest.approx(math.exp(-np.log(kept).sum() / 3))


def test_loss_metric():
    m = metric.create("loss")
    m.update(None, [np.array([1.0, 2.0]), np.array([3.0])])
    assert m.get() == ("loss", pytest.approx(2.0))


def test_nan_before_update_reset_and_reset_local():
    m = metric.Accuracy()
    assert math.isnan(m.get()[1])
    m.update([np.array([1, 0])], [np.array([[0.0, 1.0], [0.0, 1.0]])])
    assert (m.num_inst, m.sum_metric) == (2, 1)
    m.reset_local()
    assert m.num_inst == 0 and m.global_num_inst == 2
    assert m.get_global()[1] == pytest.approx(0.5)
    m.reset()
    assert m.global_num_inst == 0 and math.isnan(m.get()[1])


def test_composite_and_list_create():
    batches = _batches()
    comp = metric.create(["acc", "ce", metric.MSE()])
    assert isinstance(comp, metric.CompositeEvalMetric)
    names, values = _run(comp, batches)
    assert names == ["accuracy", "cross-entropy", "mse"]
    assert values[0] == pytest.approx(_run(metric.Accuracy(), batches)[1])
    assert comp.get_name_value()[1][0] == "cross-entropy"
    assert isinstance(comp.get_metric(2), metric.MSE)
    with pytest.raises(ValueError, match="out of range"):
        comp.get_metric(5)
    comp.reset()
    assert all(math.isnan(v) for v in comp.get()[1])
    comp.add("mae")
    assert comp.get()[0][-1] == "mae"


def test_custom_metric_and_np_wrapper():
    def mean_abs(label, pred):
        return float(np.abs(label - pred.argmax(1)).mean())

    batches = _batches()
    m = metric.create(mean_abs)
    assert isinstance(m, metric.CustomMetric) and m.name == "mean_abs"
    assert _run(m, batches)[1] == pytest.approx(np.mean([mean_abs(l, p) for l, p in batches]))
    pairs = metric.np(lambda l, p: (float((p.argmax(1) == l).sum()), len(l)))
    assert pairs.name == "custom(<lambda>)"
    assert _run(pairs, batches)[1] == pytest.approx(_run(metric.Accuracy(), batches)[1])
    named = metric.create(mean_abs, name="mine")
    assert named.name == "mine"


def test_create_passthrough_and_errors():
    acc = metric.Accuracy()
    assert metric.create(acc) is acc
    with pytest.raises(ValueError, match="Cannot find metric"):
        metric.create("nope")


def test_update_dict_selects_names():
    m = metric.Accuracy(output_names=["out"], label_names=["lab"])
    m.update_dict({"lab": np.array([1, 0]), "other": np.array([5, 5])},
                  {"out": np.array([[0.0, 1.0], [1.0, 0.0]]), "x": np.zeros((2, 2))})
    assert m.get()[1] == 1.0
    assert "accuracy" in str(m)
