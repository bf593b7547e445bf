"""mx.mon.Monitor: statistics of every array an executor computes, every `interval` batches.

    mon = mx.mon.Monitor(10, pattern=".*weight|.*output")
    mod.fit(..., monitor=mon)        # or mon.install(exe); mon.tic(); forward/backward; mon.toc_print()

It rides on Executor.set_monitor_callback: between tic() and toc() every operator output (and
with monitor_all every input) whose name matches `pattern` is reduced by stat_func at once;
toc() adds the arguments and auxiliary states and returns (batch, name, statistic) rows.
"""
import logging
import math
import re

import numpy as np

from .ndarray import NDArray

_LOG = logging.getLogger(__name__)

__all__ = ["Monitor"]


def _norm_stat(x):
    """||x||_2 / sqrt(x.size), as a (1,) NDArray (MXNet's default statistic)."""
    value = np.linalg.norm(np.asarray(x, dtype=np.float64).ravel()) / math.sqrt(max(x.size, 1))
    return np.array([value], dtype=np.float32).view(NDArray)


class Monitor:
    """Collect stat_func(array) for the arrays whose names match `pattern`, every `interval`
    batches (MXNet's mx.mon.Monitor)."""

    def __init__(self, interval, stat_func=None, pattern=".*", sort=False, monitor_all=False):
        self.stat_func = _norm_stat if stat_func is None else stat_func
        self.interval = interval
        self.activated = False
        self.queue = []
        self.step = 0
        self.exes = []
        self.re_prog = re.compile(pattern)
        self.sort = sort
        self.monitor_all = monitor_all

        def stat_helper(name, array):
            """The executor callback: the statistic is taken now, the buffer is reused later."""
            if isinstance(name, bytes):
                name = name.decode("utf-8")
            if not self.activated or not self.re_prog.match(name):
                return
            self.queue.append((self.step, name, self.stat_func(array)))
        self.stat_helper = stat_helper

    def install(self, exe):
        """Report the arrays of executor `exe` (several executors may be installed)."""
        exe.set_monitor_callback(self.stat_helper, self.monitor_all)
        self.exes.append(exe)

    def tic(self):
        """Start collecting for this batch if it is one of every `interval`; call before forward."""
        if self.step % self.interval == 0:
            self.queue = []
            self.activated = True
        self.step += 1

    def toc(self):
        """Stop collecting; [(batch, name, statistic as text)], arguments and auxiliary states
        included, sorted by name if `sort`."""
        if not self.activated:
            return []
        for exe in self.exes:
            for name, array in zip(exe._symbol.list_arguments(), exe.arg_arrays):
                if self.re_prog.match(name):
                    self.queue.append((self.step, name, self.stat_func(array)))
            for name, array in zip(exe._symbol.list_auxiliary_states(), exe.aux_arrays):
                if self.re_prog.match(name):
                    self.queue.append((self.step, name, self.stat_func(array)))
        self.activated = False
        if self.sort:
            self.queue.sort(key=lambda x: x[1])
        res = []
        for step, name, values in self.queue:
            text = ""
            for value in (values if isinstance(values, list) else [values]):
                value = np.asarray(value)
                text += (str(value.reshape(-1)[0]) if value.shape == (1,) else str(value)) + "\t"
            res.append((step, name, text))
        self.queue = []
        return res

    def toc_print(self):
        """toc(), logged one row per array."""
        for step, name, text in self.toc():
            _LOG.info("Batch: {:7d} {:30s} {:s}".format(step, name, text))
