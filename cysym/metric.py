"""Evaluation metrics (MXNet's mx.metric): `metric.update(labels, preds)` with lists of arrays,
then `metric.get()` -> (name, value).

Each metric keeps a local sum/count (reset by `reset_local`, e.g. by Speedometer every few batches)
and a global one (reset only by `reset`).
"""
import math
from collections import OrderedDict

import numpy as _numpy

__all__ = ["EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "Perplexity",
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
        """The constructor arguments, to re-create the metric with create(**config)."""
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
        self.num_inst = 0
        self.sum_metric = 0.0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0

    def reset_local(self):
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self):
        """(name, sum_metric / num_inst), NaN before any update."""
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, float(self.sum_metric / self.num_inst))

    def get_global(self):
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
        if self._has_global_stats:
            name, value = self.get_global()
            if not isinstance(name, list):
                name = [name]
            if not isinstance(value, list):
                value = [value]
            return list(zip(name, value))
        return self.get_name_value()


def create(metric, *args, **kwargs):
    """A metric from a name ('acc', 'ce', 'mse', ...), an EvalMetric, a callable
    feval(label, pred) (-> CustomMetric) or a list of these (-> CompositeEvalMetric)."""
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


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; get() returns ([names], [values])."""

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.metrics = [create(m) for m in (metrics or [])]

    def add(self, metric):
        self.metrics.append(create(metric))

    def get_metric(self, index):
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
    """True/false positive/negative counts of a binary classifier."""

    def __init__(self):
        self.reset_stats()

    def update_binary_stats(self, label, pred):
        pred = _as_numpy(pred)
        label = _as_numpy(label).astype("int32")
        pred_label = _numpy.argmax(pred, axis=1)
        check_label_shapes(label, pred)
        if len(_numpy.unique(label)) > 2:
            raise ValueError("F1 currently only supports binary classification; labels have "
                             f"values {_numpy.unique(label).tolist()}")
        pred_true = pred_label == 1
        pred_false = ~pred_true
        label_true = label.ravel() == 1
        label_false = ~label_true
        self.true_positives += int((pred_true & label_true).sum())
        self.false_positives += int((pred_true & label_false).sum())
        self.false_negatives += int((pred_false & label_true).sum())
        self.true_negatives += int((pred_false & label_false).sum())

    @property
    def precision(self):
        denominator = self.true_positives + self.false_positives
        return self.true_positives / denominator if denominator > 0 else 0.

    @property
    def recall(self):
        denominator = self.true_positives + self.false_negatives
        return self.true_positives / denominator if denominator > 0 else 0.

    @property
    def fscore(self):
        if self.precision + self.recall > 0:
            return 2 * self.precision * self.recall / (self.precision + self.recall)
        return 0.

    @property
    def total_examples(self):
        return (self.false_negatives + self.false_positives + self.true_negatives
                + self.true_positives)

    def reset_stats(self):
        self.false_positives = 0
        self.false_negatives = 0
        self.true_positives = 0
        self.true_negatives = 0


@register
class F1(EvalMetric):
    """F1 score of a binary classifier (class 1 positive; preds are (N, 2) scores).

    average='macro': the mean of per-batch F1 scores; 'micro': F1 of the pooled counts.
    """

    def __init__(self, name="f1", output_names=None, label_names=None, average="macro"):
        self.average = average
        self.metrics = _BinaryClassificationMetrics()
        super().__init__(name=name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            self.metrics.update_binary_stats(label, pred)
        if self.average == "macro":
            self._add(self.metrics.fscore, 1)
            self.metrics.reset_stats()
        else:
            self.sum_metric = self.global_sum_metric = self.metrics.fscore * self.metrics.total_examples
            self.num_inst = self.global_num_inst = self.metrics.total_examples

    def reset(self):
        super().reset()
        self.metrics.reset_stats()

    def reset_local(self):
        super().reset_local()
        self.metrics.reset_stats()


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
