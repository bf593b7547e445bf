"""Callbacks: Speedometer's log lines, checkpoint periods, metric logging, progress bar."""
import logging

import numpy as np
import pytest

from cysym import callback, metric
from cysym.callback import BatchEndParam


def _metric():
    m = metric.Accuracy()
    m.update([np.array([1, 0, 1, 1])], [np.array([[0, 1], [1, 0], [1, 0], [0, 1.0]])])
    return m


def test_batch_end_param_fields():
    param = BatchEndParam(epoch=1, nbatch=2, eval_metric=None, locals={})
    assert (param.epoch, param.nbatch, param.eval_metric, param.locals) == (1, 2, None, {})
    from cysym import model  # model re-exports it for MXNet scripts
    assert model.BatchEndParam is BatchEndParam


def test_speedometer_logs_every_frequent_batches_and_resets(caplog):
    speed = callback.Speedometer(batch_size=8, frequent=2)
    m = _metric()
    with caplog.at_level(logging.INFO):
        for nbatch in range(5):
            speed(BatchEndParam(3, nbatch, m, {}))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("Epoch[3] Batch [0-2]\tSpeed: ")
    assert lines[0].endswith("samples/sec\taccuracy=0.750000")
    assert lines[1].startswith("Epoch[3] Batch [2-4]\tSpeed: ")
    assert lines[1].endswith("\taccuracy=nan")  # auto_reset cleared the local statistics
    assert m.global_num_inst == 4


def test_speedometer_without_reset_and_without_metric(caplog):
    with caplog.at_level(logging.INFO):
        speed = callback.Speedometer(batch_size=4, frequent=1, auto_reset=False)
        m = _metric()
        speed(BatchEndParam(0, 0, m, {}))
        speed(BatchEndParam(0, 1, m, {}))
        speed = callback.Speedometer(batch_size=4, frequent=1)
        speed(BatchEndParam(2, 0, None, {}))
        speed(BatchEndParam(2, 1, None, {}))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("Epoch[0] Batch [0-1]\tSpeed: ") and lines[0].endswith("accuracy=0.750000")
    assert m.num_inst == 4
    assert lines[1].startswith("Iter[2] Batch [1]\tSpeed: ")


def test_speedometer_restarts_timer_on_new_epoch(caplog):
    speed = callback.Speedometer(batch_size=1, frequent=1)
    with caplog.at_level(logging.INFO):
        speed(BatchEndParam(0, 0, None, {}))
        speed(BatchEndParam(0, 1, None, {}))
        speed(BatchEndParam(1, 0, None, {}))  # nbatch went back: re-initialize, no line
    assert len(caplog.records) == 1


def test_do_checkpoint_calls_save_checkpoint_every_period(monkeypatch):
    from cysym import model
    calls = []
    monkeypatch.setattr(model, "save_checkpoint", lambda *args: calls.append(args))
    cb = callback.do_checkpoint("run/net", period=2)
    for epoch in range(5):
        cb(epoch, "SYM", {"w": 1}, {"a": 2})
    assert calls == [("run/net", 2, "SYM", {"w": 1}, {"a": 2}),
                     ("run/net", 4, "SYM", {"w": 1}, {"a": 2})]
    calls.clear()
    callback.do_checkpoint("p", period=0)(0, None, {}, {})
    assert calls == [("p", 1, None, {}, {})]


def test_module_checkpoint():
    class FakeModule:
        def __init__(self):
            self.calls = []

        def save_checkpoint(self, *args):
            self.calls.append(args)

    mod = FakeModule()
    cb = callback.module_checkpoint(mod, "pre", period=3, save_optimizer_states=True)
    for epoch in range(6):
        cb(epoch)
    assert mod.calls == [("pre", 3, True), ("pre", 6, True)]


def test_log_train_metric(caplog):
    m = _metric()
    cb = callback.log_train_metric(period=2, auto_reset=True)
    with caplog.at_level(logging.INFO):
        cb(BatchEndParam(1, 1, m, {}))
        cb(BatchEndParam(1, 2, m, {}))
    assert [r.getMessage() for r in caplog.records] == ["Iter[1] Batch[2] Train-accuracy=0.750000"]
    assert m.num_inst == 0


def test_progress_bar(caplog):
    bar = callback.ProgressBar(total=4, length=8)
    with caplog.at_level(logging.INFO):
        bar(BatchEndParam(0, 1, None, {}))
    assert caplog.records[0].getMessage() == "[==------] 25%\r"


def test_log_validation_metrics(caplog):
    with caplog.at_level(logging.INFO):
        callback.LogValidationMetricsCallback()(BatchEndParam(4, None, _metric(), {}))
    assert caplog.records[0].getMessage() == "Epoch[4] Validation-accuracy=0.750000"


@pytest.mark.parametrize("frequent", [1, 3])
def test_speedometer_speed_is_positive(caplog, frequent):
    speed = callback.Speedometer(batch_size=2, frequent=frequent)
    with caplog.at_level(logging.INFO):
        for nbatch in range(frequent + 1):
            speed(BatchEndParam(0, nbatch, None, {}))
    message = caplog.records[-1].getMessage()
    value = float(message.split("Speed: ")[1].split(" ")[0])
    assert value > 0
