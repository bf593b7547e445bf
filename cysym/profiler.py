"""MXNet's profiler API (mx.profiler) for bound executors: the time of every kernel call while the
profiler runs, as a Chrome trace file (`dump`) or a table per operator (`dumps`).

    mx.profiler.set_config(profile_all=True, filename='profile.json', aggregate_stats=True)
    mx.profiler.set_state('run')
    exe.forward(is_train=True); exe.backward()
    mx.profiler.set_state('stop')
    print(mx.profiler.dumps())          # per operator: count, total, min, max, average (ms)
    mx.profiler.dump()                  # profile.json, for chrome://tracing or Perfetto

While the profiler runs, an executor runs its kernels one at a time and reads the clock around
each (about 0.1 µs per call); it runs back to back, without the clock, otherwise.  Only kernel
calls are recorded (cysym has no asynchronous engine, storage pool or API layer to trace): the
`profile_*` options of set_config are accepted for compatibility and change nothing.
"""
import json
import os
import threading

import numpy as np

from .base import MXNetError

_CONFIG_KEYS = {"profile_all", "profile_symbolic", "profile_imperative", "profile_memory",
                "profile_api", "filename", "continuous_dump", "dump_period", "aggregate_stats",
                "profile_process"}
_SORT_KEYS = {"total": 1, "avg": 4, "min": 2, "max": 3, "count": 0}


class _Profiler:
    def __init__(self):
        self.lock = threading.Lock()
        self.filename = "profile.json"
        self.running = False
        self.paused = False
        self.events = []        # (operator, node name, start s, duration s, pass)

    @property
    def recording(self):
        return self.running and not self.paused


_profiler = _Profiler()


def set_config(**kwargs):
    """Set the profiler's options (MXNet's names); `filename` is where dump() writes."""
    unknown = sorted(set(kwargs) - _CONFIG_KEYS)
    if unknown:
        raise MXNetError(f"profiler.set_config: unknown option(s) {', '.join(unknown)}; expected "
                         f"some of {', '.join(sorted(_CONFIG_KEYS))}")
    if "filename" in kwargs:
        _profiler.filename = os.fspath(kwargs["filename"])


def set_state(state="stop", profile_process="worker"):
    """'run' starts recording kernel calls, 'stop' stops."""
    if state not in ("run", "stop"):
        raise MXNetError(f"profiler.set_state: state must be 'run' or 'stop', not {state!r}")
    _profiler.running = state == "run"
    _profiler.paused = False


def state():
    """'run' while recording, else 'stop'."""
    return "run" if _profiler.running else "stop"


def pause(profile_process="worker"):
    """Stop recording until ``resume`` (the state stays 'run')."""
    _profiler.paused = True


def resume(profile_process="worker"):
    """Record again after ``pause``."""
    _profiler.paused = False


def recording():
    """True while calls are recorded (running and not paused); executors ask before each pass."""
    return _profiler.recording


def run_recorded(plan, call_nodes, begin, end, is_train, phase):
    """Run plan calls [begin, end) one at a time (Plan.run_timed) and record each call's time
    under its (operator, node name) from call_nodes and `phase` ('forward' or 'backward')."""
    stop = len(plan) if end < 0 else min(end, len(plan))
    spans = np.full((max(stop - begin, 0), 2), -1.0)    # calls after a failing one keep -1
    try:
        plan.run_timed(begin, stop, is_train, spans)
    finally:
        recorded = [(*call_nodes[begin + i], float(start), float(duration), phase)
                    for i, (start, duration) in enumerate(spans) if duration >= 0]
        with _profiler.lock:
            _profiler.events.extend(recorded)


def _aggregate():
    """{operator: [count, total s, min s, max s]}"""
    table = {}
    with _profiler.lock:
        events = list(_profiler.events)
    for op, _node, _start, duration, _phase in events:
        row = table.setdefault(op, [0, 0.0, float("inf"), 0.0])
        row[0] += 1
        row[1] += duration
        row[2] = min(row[2], duration)
        row[3] = max(row[3], duration)
    return table


def dumps(reset=False, format="table", sort_by="total", ascending=False):
    """The recorded calls aggregated per operator, as MXNet's table (times in ms) or JSON."""
    if format not in ("table", "json"):
        raise MXNetError(f"profiler.dumps: format must be 'table' or 'json', not {format!r}")
    if sort_by not in _SORT_KEYS:
        raise MXNetError(f"profiler.dumps: sort_by must be one of {', '.join(_SORT_KEYS)}, "
                         f"not {sort_by!r}")
    rows = [(op, count, total, low, high, total / count)
            for op, (count, total, low, high) in _aggregate().items()]
    rows.sort(key=lambda r: r[1 + _SORT_KEYS[sort_by]], reverse=not ascending)
    if reset:
        with _profiler.lock:
            _profiler.events.clear()
    if format == "json":
        return json.dumps({"Time": {"operator": {
            op: {"Count": count, "Total": total * 1e3, "Min": low * 1e3, "Max": high * 1e3,
                 "Avg": avg * 1e3} for op, count, total, low, high, avg in rows}},
            "Unit": {"Time": "ms"}})
    lines = ["", "Profile Statistics:", "\tNote the difference in units for different entries.",
             "operator", "=================",
             f"{'Name':<40}{'Total Count':>12}{'Time (ms)':>16}{'Min Time (ms)':>16}"
             f"{'Max Time (ms)':>16}{'Avg Time (ms)':>16}",
             f"{'----':<40}{'-----------':>12}{'---------':>16}{'-------------':>16}"
             f"{'-------------':>16}{'-------------':>16}"]
    for op, count, total, low, high, avg in rows:
        lines.append(f"{op:<40}{count:>12}{total * 1e3:>16.4f}{low * 1e3:>16.4f}"
                     f"{high * 1e3:>16.4f}{avg * 1e3:>16.4f}")
    return "\n".join(lines) + "\n"


def dump(finished=True, profile_process="worker"):
    """Write the recorded calls to the configured file as a Chrome trace (one complete event per
    kernel call: name = operator, args.name = node); the file is replaced atomically."""
    with _profiler.lock:
        events = list(_profiler.events)
        if finished:
            _profiler.events.clear()
    trace = {"traceEvents": [
        {"name": op, "cat": phase, "ph": "X", "ts": start * 1e6, "dur": duration * 1e6,
         "pid": os.getpid(), "tid": 0, "args": {"name": node}}
        for op, node, start, duration, phase in events], "displayTimeUnit": "ms"}
    target = _profiler.filename
    temporary = f"{target}.tmp{os.getpid()}"
    with open(temporary, "w") as stream:
        json.dump(trace, stream)
    os.replace(temporary, target)
