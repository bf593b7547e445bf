"""Runs fuzz cases in a child process (tests/fuzz/worker.py), so that a crash or a hang is
counted against the case that caused it instead of taking the test run down."""
import json
import os
import selectors
import signal
import subprocess
import sys

import cysym

_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
# the folder holding the cysym this test run imports (the source tree after an in-place build,
# site-packages after an install): the worker must import the same, compiled one
_CYSYM_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(cysym.__file__)))
CASE_TIMEOUT = float(os.environ.get("CYSYM_FUZZ_CASE_TIMEOUT", "20"))
# the outcomes a case may have: anything else (a crash, a hang, another exception type) is a bug
ACCEPTED = ("ok", "mxnet_error")


class Worker:
    """One child interpreter running cases one at a time; restarted after a crash or hang."""

    def __init__(self):
        self.process = None

    def _start(self):
        env = dict(os.environ, PYTHONPATH=_CYSYM_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   PYTHONFAULTHANDLER="1")
        self.process = subprocess.Popen([sys.executable, _WORKER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                        text=True, bufsize=1)

    def run(self, case, timeout=CASE_TIMEOUT):
        """(outcome, detail): outcome is 'ok', 'mxnet_error', 'other_error', 'crash' or 'hang'."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        try:
            self.process.stdin.write(json.dumps(case) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return self._died()
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout)
        selector.close()
        if not ready:
            self.close()
            return "hang", f"no answer within {timeout} s"
        line = self.process.stdout.readline()
        if not line:
            return self._died()
        answer = json.loads(line)
        return answer["outcome"], answer["detail"]

    def _died(self):
        code = self.process.wait()
        stderr = self.process.stderr.read()[-4000:]
        self.process = None
        reason = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return "crash", f"the worker died ({reason}):\n{stderr}"

    def close(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process.stdin.close()
            self.process.stdout.close()
            self.process.stderr.close()
            self.process = None
