"""Evaluation metrics (MXNet's mx.metric): `metric.update(labels, preds)` with lists of arrays,
then `metric.get()` -> (name, value).

Each metric keeps a local sum/count (reset by `reset_local`, e.g. by Speedometer every few batches)
and a global one (reset only by `reset`).
"""
import math
from collections import OrderedDict

import numpy as _numpy

__all__ = ["EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "MCC", "Perplexity",
           "PearsonCorrelation", "PCC",
           "MAE", "MSE", "RMSE", "CrossEntropy", "NegativeLogLikelihood", "Loss", "CustomMetric",
           "register", "alias", "create", "np", "check_label_shapes"]

# NumPy is `_numpy` here: `np` is MXNet's public mx.metric.np() wrapper, defined below.

_METRIC_REGISTRY = {}


def register(klass):
    """Register an EvalMetric subclass under its lower-cased class name (decorator)."""
    if not (isinstance(klass, type) and issubclass(klass, EvalMetric)):
        raise TypeError(f"register: {klass!r} is not an EvalMetric subclass")
    _METRIC_REGISTRY[klass.__name__.lower()] = klass
    return klass


def alias(*aliases):
    """Register extra names for a metric class (decorator)."""
    def _decorate(klass):
        for name in aliases:
            _METRIC_REGISTRY[name.lower()] = klass
        return klass
    return _decorate


def _as_numpy(arr):
    return arr.asnumpy() if hasattr(arr, "asnumpy") else _numpy.asarray(arr)


def check_label_shapes(labels, preds, wrap=False, shape=False):
    """Raise ValueError unless labels and preds have the same length (or shape, if shape=True).

    wrap=True turns a single array into a one-element list (and returns both).
    """
    if not shape:
        label_shape, pred_shape = len(labels), len(preds)
    else:
        label_shape, pred_shape = labels.shape, preds.shape
    if label_shape != pred_shape:
        raise ValueError(f"Shape of labels {label_shape} does not match shape of predictions {pred_shape}")
    if wrap:
        if isinstance(labels, _numpy.ndarray):
            labels = [labels]
        if isinstance(preds, _numpy.ndarray):
            preds = [preds]
    return labels, preds


class EvalMetric:
    """Base class: a running sum_metric / num_inst, named `name`.

    output_names / label_names select which outputs/labels `update_dict` passes to `update`.
    """

    def __init__(self, name, output_names=None, label_names=None, **kwargs):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._has_global_stats = kwargs.pop("has_global_stats", False)
        self._kwargs = kwargs
        self.reset()

    def __str__(self):
        return f"EvalMetric: {dict(self.get_name_value())}"

    def get_config(self):
        """The constructor arguments, to re-create the metric with ``create(**config)``."""
        config = self._kwargs.copy()
        config.update({"metric": self.__class__.__name__, "name": self.name,
                       "output_names": self.output_names, "label_names": self.label_names})
        return config

    def update_dict(self, label, pred):
        """update() from dicts {name: array} of labels and predictions."""
        if self.output_names is not None:
            pred = [pred[name] for name in self.output_names]
        else:
            pred = list(pred.values())
        if self.label_names is not None:
            label = [label[name] for name in self.label_names]
        else:
            label = list(label.values())
        self.update(label, pred)

    def update(self, labels, preds):
        """Accumulate the metric over a batch: labels and preds are lists of arrays."""
        raise NotImplementedError(f"{self.__class__.__name__} does not implement update()")

    def _add(self, sum_metric, num_inst):
        self.sum_metric += sum_metric
        self.global_sum_metric += sum_metric
        self.num_inst += num_inst
        self.global_num_inst += num_inst

    def reset(self):
        """Clear the local and global statistics."""
        self.num_inst = 0
        self.sum_metric = 0.0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0

    def reset_local(self):
        """Clear the local statistics (since the last reset_local); the global ones stay."""
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self):
        """(name, sum_metric / num_inst), NaN before any update."""
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, float(self.sum_metric / self.num_inst))

    def get_global(self):
        """(name, value) over everything since the last ``reset`` (``get`` is since ``reset_local``)."""
        if self._has_global_stats:
            if self.global_num_inst == 0:
                return (self.name, float("nan"))
            return (self.name, float(self.global_sum_metric / self.global_num_inst))
        return self.get()

    def get_name_value(self):
        """[(name, value), ...]."""
        name, value = self.get()
        if not isinstance(name, list):
            name = [name]
        if not isinstance(value, list):
            value = [value]
        return list(zip(name, value))

    def get_global_name_value(self):
        """[(name, value), ...] of ``get_global``."""
        if self._has_global_stats:
            name, value = self.get_global()
            if not isinstance(name, list):
                name = [name]
            if not isinstance(value, list):
                value = [value]
            return list(zip(name, value))
        return self.get_name_value()


def create(metric, *args, **kwargs):
    """A metric from a name ('acc', 'ce', 'mse', ...), an EvalMetric, a metric's get_config()
    (a dict, or its items as keywords), a callable feval(label, pred) (-> CustomMetric) or a
    list of these (-> CompositeEvalMetric)."""
    if isinstance(metric, dict):   # a get_config(): {'metric': class name, constructor arguments}
        kwargs = {**metric, **kwargs}
        metric = kwargs.pop("metric")
    if isinstance(metric, EvalMetric):
        if args or kwargs:
            raise ValueError("create: cannot pass arguments together with an EvalMetric instance")
        return metric
    if callable(metric):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, (list, tuple)):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    if isinstance(metric, str):
        klass = _METRIC_REGISTRY.get(metric.lower())
        if klass is None:
            raise ValueError(f"Cannot find metric {metric!r}; registered: {sorted(_METRIC_REGISTRY)}")
        return klass(*args, **kwargs)
    raise TypeError(f"create: cannot make a metric from {metric!r}")


def across_workers(eval_metric, kvstore):
    """A copy of eval_metric whose statistics are summed over the workers of a distributed
    kvstore (eval_metric itself when the store is local or None): the value over all the
    data the workers saw together.  Every worker must call it (it is a collective)."""
    if kvstore is None or not kvstore.is_distributed:
        return eval_metric
    import copy
    total = copy.deepcopy(eval_metric)
    leaves, pending = [], [total]
    while pending:
        metric = pending.pop()
        if isinstance(metric, CompositeEvalMetric):
            pending.extend(metric.metrics)
            continue
        # these keep statistics other than a sum and a count; a sum of their parts is not theirs
        if isinstance(metric, PCC) or (isinstance(metric, (_BinaryCountMetric, PearsonCorrelation))
                                       and metric.average != "macro"):
            raise ValueError(f"across_workers: metric {metric.name!r} ({type(metric).__name__}, "
                             f"average={getattr(metric, 'average', None)!r}) cannot be summed over "
                             "workers; use a macro-averaged metric")
        leaves.append(metric)
    fields = ("sum_metric", "num_inst", "global_sum_metric", "global_num_inst")
    summed = kvstore._comm.sum_scalars(
        [getattr(metric, field) for metric in leaves for field in fields], "metric aggregation")
    for position, (metric, field) in enumerate((m, f) for m in leaves for f in fields):
        value = summed[position]
        setattr(metric, field, int(value) if field.endswith("num_inst") else float(value))
    return total


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; get() returns ([names], [values])."""

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.metrics = [create(m) for m in (metrics or [])]

    def add(self, metric):
        """Add a metric (a name or an EvalMetric) to the composite."""
        self.metrics.append(create(metric))

    def get_metric(self, index):
        """The composite's metric at ``index``."""
        try:
            return self.metrics[index]
        except IndexError:
            raise ValueError(f"Metric index {index} is out of range 0 and {len(self.metrics)}") from None

    def update_dict(self, labels, preds):
        if self.label_names is not None:
            labels = OrderedDict([i for i in labels.items() if i[0] in self.label_names])
        if self.output_names is not None:
            preds = OrderedDict([i for i in preds.items() if i[0] in self.output_names])
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels, preds):
        for metric in self.metrics:
            metric.update(labels, preds)

    def reset(self):
        for metric in getattr(self, "metrics", []):
            metric.reset()

    def reset_local(self):
        for metric in self.metrics:
            metric.reset_local()

    def _collect(self, getter):
        names, values = [], []
        for metric in self.metrics:
            name, value = getter(metric)
            names.extend(name if isinstance(name, list) else [name])
            values.extend(value if isinstance(value, list) else [value])
        return (names, values)

    def get(self):
        return self._collect(lambda m: m.get())

    def get_global(self):
        return self._collect(lambda m: m.get_global())

    def get_config(self):
        config = super().get_config()
        config.update({"metrics": [m.get_config() for m in self.metrics]})
        return config


@register
@alias("acc")
class Accuracy(EvalMetric):
    """Fraction of samples whose argmax prediction (along axis) equals the label."""

    def __init__(self, axis=1, name="accuracy", output_names=None, label_names=None):
        super().__init__(name, axis=axis, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.axis = axis

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred_label in zip(labels, preds):
            pred_label = _as_numpy(pred_label)
            label = _as_numpy(label)
            if pred_label.shape != label.shape:
                pred_label = _numpy.argmax(pred_label, axis=self.axis)
            pred_label = pred_label.astype("int32").ravel()
            label = label.astype("int32").ravel()
            check_label_shapes(label, pred_label)
            self._add(int((pred_label == label).sum()), len(pred_label))


@register
@alias("top_k_accuracy", "top_k_acc")
class TopKAccuracy(EvalMetric):
    """Fraction of samples whose label is among the top_k scoring classes."""

    def __init__(self, top_k=1, name="top_k_accuracy", output_names=None, label_names=None):
        super().__init__(name, top_k=top_k, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.top_k = top_k
        if self.top_k <= 1:
            raise ValueError(f"Please use Accuracy if top_k is no more than 1, got top_k={top_k}")
        self.name += f"_{self.top_k}"

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred_label in zip(labels, preds):
            pred_label = _as_numpy(pred_label).astype("float32")
            if pred_label.ndim > 2:
                raise ValueError(f"Predictions should be no more than 2 dims, got shape {pred_label.shape}")
            label = _as_numpy(label).astype("int32")
            check_label_shapes(label, pred_label)
            num_samples = pred_label.shape[0]
            if pred_label.ndim == 1:
                self._add(int((pred_label.astype("int32").ravel() == label.ravel()).sum()), num_samples)
                continue
            num_classes = pred_label.shape[1]
            top_k = min(num_classes, self.top_k)
            order = _numpy.argpartition(pred_label, -top_k, axis=1)
            correct = 0
            for j in range(top_k):
                correct += int((order[:, num_classes - 1 - j].ravel() == label.ravel()).sum())
            self._add(correct, num_samples)


class _BinaryClassificationMetrics:
    """True/false positive/negative counts of a binary classifier (class 1 positive), since the
    last local reset and since the last full reset."""

    _COUNTS = ("true_positives", "false_positives", "false_negatives", "true_negatives")

    def __init__(self):
        self.reset_stats()

    def update_binary_stats(self, label, pred):
        pred = _as_numpy(pred)
        label = _as_numpy(label).astype("int32")
        pred_label = _numpy.argmax(pred, axis=1)
        check_label_shapes(label, pred)
        if len(_numpy.unique(label)) > 2:
            raise ValueError("F1 and MCC currently only support binary classification; labels have "
                             f"values {_numpy.unique(label).tolist()}")
        pred_true = pred_label == 1
        label_true = label.ravel() == 1
        counts = {"true_positives": int((pred_true & label_true).sum()),
                  "false_positives": int((pred_true & ~label_true).sum()),
                  "false_negatives": int((~pred_true & label_true).sum()),
                  "true_negatives": int((~pred_true & ~label_true).sum())}
        for key, count in counts.items():
            setattr(self, key, getattr(self, key) + count)
            setattr(self, f"global_{key}", getattr(self, f"global_{key}") + count)

    def _counts(self, use_global):
        prefix = "global_" if use_global else ""
        return [float(getattr(self, prefix + key)) for key in self._COUNTS]

    def _fscore(self, use_global):
        true_pos, false_pos, false_neg, _ = self._counts(use_global)
        precision = true_pos / (true_pos + false_pos) if true_pos + false_pos > 0 else 0.
        recall = true_pos / (true_pos + false_neg) if true_pos + false_neg > 0 else 0.
        return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.

    @property
    def fscore(self):
        return self._fscore(False)

    @property
    def global_fscore(self):
        return self._fscore(True)

    def matthewscc(self, use_global=False):
        """(TP*TN - FP*FN) / sqrt of the product of the non-zero margins, 0 without examples."""
        true_pos, false_pos, false_neg, true_neg = self._counts(use_global)
        if not true_pos + false_pos + false_neg + true_neg:
            return 0.
        denominator = 1.
        for margin in (true_pos + false_pos, true_pos + false_neg, true_neg + false_pos,
                       true_neg + false_neg):
            if margin != 0.:
                denominator *= margin
        return (true_pos * true_neg - false_pos * false_neg) / math.sqrt(denominator)

    @property
    def total_examples(self):
        return sum(getattr(self, key) for key in self._COUNTS)

    @property
    def global_total_examples(self):
        return sum(getattr(self, f"global_{key}") for key in self._COUNTS)

    def local_reset_stats(self):
        for key in self._COUNTS:
            setattr(self, key, 0)

    def reset_stats(self):
        for key in self._COUNTS:
            setattr(self, key, 0)
            setattr(self, f"global_{key}", 0)


class _BinaryCountMetric(EvalMetric):
    """A metric of the binary counts: average='macro' is the mean of per-batch values, 'micro'
    the value of the counts pooled over batches."""

    def __init__(self, name, output_names=None, label_names=None, average="macro"):
        self.average = average
        self.metrics = _BinaryClassificationMetrics()
        super().__init__(name=name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self._kwargs["average"] = average

    def _value(self, use_global):
        raise NotImplementedError

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            self.metrics.update_binary_stats(label, pred)
        if self.average == "macro":
            self.sum_metric += self._value(False)
            self.global_sum_metric += self._value(True)
            self.num_inst += 1
            self.global_num_inst += 1
            self.metrics.reset_stats()
        else:
            self.sum_metric = self._value(False) * self.metrics.total_examples
            self.global_sum_metric = self._value(True) * self.metrics.global_total_examples
            self.num_inst = self.metrics.total_examples
            self.global_num_inst = self.metrics.global_total_examples

    def reset(self):
        super().reset()
        self.metrics.reset_stats()

    def reset_local(self):
        super().reset_local()
        self.metrics.local_reset_stats()


@register
class F1(_BinaryCountMetric):
    """F1 score of a binary classifier (class 1 positive; preds are (N, 2) scores).

    average='macro': the mean of per-batch F1 scores; 'micro': F1 of the pooled counts.
    """

    def __init__(self, name="f1", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names=output_names, label_names=label_names, average=average)

    def _value(self, use_global):
        return self.metrics.global_fscore if use_global else self.metrics.fscore


@register
class MCC(_BinaryCountMetric):
    """Matthews correlation coefficient of a binary classifier (class 1 positive; preds are
    (N, 2) scores): (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)), zero margins left out.

    average='macro': the mean of per-batch values; 'micro': the value of the pooled counts.
    """

    def __init__(self, name="mcc", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names=output_names, label_names=label_names, average=average)

    def _value(self, use_global):
        return self.metrics.matthewscc(use_global=use_global)


@register
class Perplexity(EvalMetric):
    """exp(mean negative log-probability of the labels), skipping ignore_label."""

    def __init__(self, ignore_label, axis=-1, name="perplexity", output_names=None, label_names=None):
        super().__init__(name, ignore_label=ignore_label, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.ignore_label = ignore_label
        self.axis = axis

    def update(self, labels, preds):
        if len(labels) != len(preds):
            raise ValueError(f"Perplexity: {len(labels)} labels but {len(preds)} predictions")
        loss = 0.
        num = 0
        for label, pred in zip(labels, preds):
            label = _as_numpy(label)
            pred = _as_numpy(pred)
            if label.size != pred.size / pred.shape[self.axis]:
                raise ValueError(f"shape mismatch: {label.shape} vs. {pred.shape}")
            label = label.reshape((label.size,)).astype("int64")
            pred = _numpy.moveaxis(pred, self.axis, -1).reshape((label.size, -1))
            prob = pred[_numpy.arange(label.size), label]
            if self.ignore_label is not None:
                ignore = (label == self.ignore_label).astype(prob.dtype)
                num -= int(ignore.sum())
                prob = prob * (1 - ignore) + ignore
            loss -= float(_numpy.sum(_numpy.log(_numpy.maximum(1e-10, prob))))
            num += prob.size
        self._add(loss, num)

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.sum_metric / self.num_inst))

    def get_global(self):
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.global_sum_metric / self.global_num_inst))


def _regression_pairs(labels, preds):
    labels, preds = check_label_shapes(labels, preds, True)
    for label, pred in zip(labels, preds):
        label = _as_numpy(label)
        pred = _as_numpy(pred)
        if label.ndim == 1:
            label = label.reshape(label.shape[0], 1)
        if pred.ndim == 1:
            pred = pred.reshape(pred.shape[0], 1)
        yield label, pred


@register
class MAE(EvalMetric):
    """Mean absolute error, averaged per batch (as MXNet: each update counts one instance)."""

    def __init__(self, name="mae", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):
        for label, pred in _regression_pairs(labels, preds):
            self._add(float(_numpy.abs(label - pred).mean()), 1)


@register
class MSE(EvalMetric):
    """Mean squared error, averaged per batch."""

    def __init__(self, name="mse", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):
        for label, pred in _regression_pairs(labels, preds):
            self._add(float(((label - pred) ** 2.0).mean()), 1)


@register
class RMSE(EvalMetric):
    """Root mean squared error, computed per batch and averaged over batches."""

    def __init__(self, name="rmse", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):
        for label, pred in _regression_pairs(labels, preds):
            self._add(float(_numpy.sqrt(((label - pred) ** 2.0).mean())), 1)


@register
@alias("pearsonr")
class PearsonCorrelation(EvalMetric):
    """Pearson correlation of predictions and labels (both flattened).

    average='macro': the mean of per-batch correlations; 'micro': the correlation of every value
    seen, from running means and sums of squares (Welford).
    """

    def __init__(self, name="pearsonr", output_names=None, label_names=None, average="macro"):
        self.average = average
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self._kwargs["average"] = average

    def _reset_micro(self):
        self._count = 0
        self._mean_label = self._mean_pred = 0.
        self._sse_label = self._sse_pred = 0.
        self._covariance = 0.

    def reset(self):
        super().reset()
        self._reset_micro()

    @staticmethod
    def _welford(values, count, mean, sse):
        count += len(values)
        delta = values - mean
        mean += _numpy.sum(delta / count)
        sse += _numpy.sum(delta * (values - mean))
        return count, mean, sse

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label = _as_numpy(label).ravel().astype(_numpy.float64)
            pred = _as_numpy(pred).ravel().astype(_numpy.float64)
            check_label_shapes(label, pred, False, True)
            if self.average == "macro":
                self._add(float(_numpy.corrcoef(pred, label)[0, 1]), 1)
                continue
            self.num_inst += 1
            self.global_num_inst += 1
            # the label mean before this batch, the prediction mean after it, as MXNet pairs them
            count, self._mean_label, self._sse_label = self._welford(
                label, self._count, self._mean_label, self._sse_label)
            self._covariance += _numpy.sum((label - self._mean_label) * (pred - self._mean_pred))
            self._count, self._mean_pred, self._sse_pred = self._welford(
                pred, self._count, self._mean_pred, self._sse_pred)

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        if self.average == "macro":
            return (self.name, float(self.sum_metric / self.num_inst))
        n = self._count
        return (self.name, float(self._covariance / ((n - 1) * math.sqrt(self._sse_pred / (n - 1))
                                                     * math.sqrt(self._sse_label / (n - 1)))))


@register
@alias("pcc")
class PCC(EvalMetric):
    """Multiclass Matthews correlation (Gorodkin's R_K) of the confusion matrix of argmax(pred)
    (or pred itself when it has the label's shape) against the labels; the matrix grows with
    the largest class seen."""

    def __init__(self, name="pcc", output_names=None, label_names=None, has_global_stats=True):
        self.k = 2
        super().__init__(name=name, output_names=output_names, label_names=label_names,
                         has_global_stats=has_global_stats)

    def _grow(self, inc):
        self.lcm = _numpy.pad(self.lcm, ((0, inc), (0, inc)), "constant", constant_values=0)
        self.gcm = _numpy.pad(self.gcm, ((0, inc), (0, inc)), "constant", constant_values=0)
        self.k += inc

    @staticmethod
    def _calc_mcc(cmat):
        n = cmat.sum()
        x = cmat.sum(axis=1)
        y = cmat.sum(axis=0)
        cov_xx = _numpy.sum(x * (n - x))
        cov_yy = _numpy.sum(y * (n - y))
        if cov_xx == 0 or cov_yy == 0:
            return float("nan")
        cov_xy = _numpy.sum(cmat.diagonal() * n - x * y)
        return cov_xy / (cov_xx * cov_yy) ** 0.5

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label = _as_numpy(label).astype("int32")
            pred = _as_numpy(pred)
            pred = pred.argmax(axis=1) if pred.shape != label.shape else pred.astype("int32")
            n = max(pred.max(), label.max())
            if n >= self.k:
                self._grow(int(n) + 1 - self.k)
            batch = _numpy.zeros((self.k, self.k))
            _numpy.add.at(batch, (pred.ravel(), label.ravel()), 1)
            self.lcm += batch
            self.gcm += batch
        self.num_inst += 1
        self.global_num_inst += 1

    @property
    def sum_metric(self):
        """The local sum, computed from the local confusion matrix."""
        return self._calc_mcc(self.lcm) * self.num_inst

    @sum_metric.setter
    def sum_metric(self, value):
        """The confusion matrices carry the state; EvalMetric's resets assign 0 here."""

    @property
    def global_sum_metric(self):
        """The global sum, computed from the global confusion matrix."""
        return self._calc_mcc(self.gcm) * self.global_num_inst

    @global_sum_metric.setter
    def global_sum_metric(self, value):
        """As sum_metric."""

    def reset(self):
        super().reset()
        self.gcm = _numpy.zeros((self.k, self.k))
        self.lcm = _numpy.zeros((self.k, self.k))

    def reset_local(self):
        super().reset_local()
        self.lcm = _numpy.zeros((self.k, self.k))


@register
@alias("ce")
class CrossEntropy(EvalMetric):
    """Mean of -log(p[label] + eps) over samples; preds are (N, classes) probabilities."""

    def __init__(self, eps=1e-12, name="cross-entropy", output_names=None, label_names=None):
        super().__init__(name, eps=eps, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.eps = eps

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label = _as_numpy(label).ravel()
            pred = _as_numpy(pred)
            if label.shape[0] != pred.shape[0]:
                raise ValueError(f"{self.name}: {label.shape[0]} labels but {pred.shape[0]} predictions")
            prob = pred[_numpy.arange(label.shape[0]), _numpy.int64(label)]
            self._add(float((-_numpy.log(prob + self.eps)).sum()), label.shape[0])


@register
@alias("nll_loss")
class NegativeLogLikelihood(CrossEntropy):
    """Same as CrossEntropy, named 'nll-loss'."""

    def __init__(self, eps=1e-12, name="nll-loss", output_names=None, label_names=None):
        super().__init__(eps=eps, name=name, output_names=output_names, label_names=label_names)


@register
@alias("loss")
class Loss(EvalMetric):
    """Mean of the outputs themselves (for networks whose output is a loss); labels are ignored."""

    def __init__(self, name="loss", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, _, preds):
        if isinstance(preds, _numpy.ndarray):
            preds = [preds]
        for pred in preds:
            pred = _as_numpy(pred)
            self._add(float(pred.sum()), pred.size)


@register
class CustomMetric(EvalMetric):
    """A metric from feval(label, pred) -> value or (sum_metric, num_inst), on NumPy arrays."""

    def __init__(self, feval, name=None, allow_extra_outputs=False, output_names=None,
                 label_names=None):
        if name is None:
            name = feval.__name__
            if name.find("<") != -1:
                name = f"custom({name})"
        super().__init__(name, feval=feval, allow_extra_outputs=allow_extra_outputs,
                         output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels, preds):
        if not self._allow_extra_outputs:
            labels, preds = check_label_shapes(labels, preds, True)
        for pred, label in zip(preds, labels):
            reval = self._feval(_as_numpy(label), _as_numpy(pred))
            if isinstance(reval, tuple):
                sum_metric, num_inst = reval
                self._add(sum_metric, num_inst)
            else:
                self._add(reval, 1)

    def get_config(self):
        raise NotImplementedError("CustomMetric cannot be serialized")


def np(numpy_feval, name=None, allow_extra_outputs=False):  # noqa: F811  (MXNet's public name)
    """A CustomMetric from a function of NumPy arrays feval(label, pred) -> float."""
    def feval(label, pred):
        return numpy_feval(label, pred)
    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
