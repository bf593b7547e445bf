"""What a user sees while training: cysym logs through the 'cysym' logger (silent until the
program configures logging), the progress bar stays on screen per epoch, and the demo's
figures do not depend on the machine's thread count."""
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import cysym as mx
from cysym import demo

PACKAGE = Path(mx.__file__).parent
TRAIN = """
import numpy as np
import cysym as mx
{configure}
x = np.random.default_rng(0).random((64, 5)).astype(np.float32)
y = (x.sum(axis=1) > 2.5).astype(np.float32)
net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable('data'), num_hidden=2), name='softmax')
mod = mx.mod.Module(net)
mod.fit(mx.io.NDArrayIter(x, y, batch_size=8), num_epoch=2, progress=False,
        batch_end_callback=mx.callback.Speedometer(8, 2))
"""


def _train_in_child(tmp_path, configure):
    env = dict(os.environ, PYTHONPATH=str(PACKAGE.parent))
    return subprocess.run([sys.executable, "-c", TRAIN.format(configure=configure)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_cysym_logger_has_a_null_handler():
    handlers = logging.getLogger("cysym").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)


def test_silent_until_logging_is_configured(tmp_path):
    quiet = _train_in_child(tmp_path, "")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "" and quiet.stderr == ""


def test_fit_and_speedometer_lines_once_logging_is_configured(tmp_path):
    shown = _train_in_child(tmp_path, "import logging; logging.basicConfig(level=logging.INFO)")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stderr.splitlines()
    # Speedometer(8, 2): batches 2, 4, 6 of the 8 per epoch, through the cysym.callback logger
    speed = [line for line in lines if line.startswith("INFO:cysym.callback:Epoch[")]
    assert len(speed) == 6 and "Speed:" in speed[0] and "samples/sec" in speed[0]
    assert sum(line.startswith("INFO:cysym.module.module:Epoch[") and "Time cost" in line
               for line in lines) == 2


def test_library_modules_log_through_cysym_loggers():
    # a call on the root logger (logging.info(...)) would bypass the NullHandler contract
    root_calls = [f"{path.relative_to(PACKAGE)}:{number}"
                  for path in PACKAGE.rglob("*.py")
                  for number, line in enumerate(path.read_text().splitlines(), 1)
                  if re.search(r"\blogging\.(debug|info|warning|error|exception|critical|log)\(", line)]
    assert not root_calls


def test_progress_bar_is_kept_per_epoch(capsys):
    x = np.random.default_rng(1).random((40, 3)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.float32)
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2),
                               name="softmax")
    mx.mod.Module(net).fit(mx.io.NDArrayIter(x, y, batch_size=10), num_epoch=3, progress=True)
    err = capsys.readouterr().err
    # each epoch's bar ends complete on a line of its own (an erased bar leaves no line)
    finished = [line.split("\r")[-1] for line in err.split("\n")]
    for epoch in (1, 2, 3):
        assert any(line.startswith(f"Epoch {epoch}/3: 100%") and "4/4" in line for line in finished), err


def test_demo_runs_one_kernel_thread_by_default_and_restores_the_count(capsys):
    before = mx.get_num_threads()
    other = 2 if before == 1 else 1
    mx.set_num_threads(other)
    try:
        assert demo.main(["--epochs", "1", "--plot", ""]) is None
        assert "seed MLP (128-64-10), 1 kernel thread\n" in capsys.readouterr().out
        assert mx.get_num_threads() == other
        demo.main(["--epochs", "1", "--plot", "", "--threads", "2"])
        assert "2 kernel threads" in capsys.readouterr().out
    finally:
        mx.set_num_threads(before)


def test_demo_accuracy_does_not_depend_on_the_thread_count(tmp_path):
    # the CNN's GEMMs are large enough to split over threads: the demo runs in deterministic
    # mode, and neither its --threads nor the environment's thread count changes its numbers
    script = ("import sys; from cysym.demo import main; "
              "main(['--cnn', '--epochs', '2', '--plot', ''] + sys.argv[1:])")
    printed = []
    for threads, arguments in (("1", []), ("2", []), ("2", ["--threads", "2"])):
        env = dict(os.environ, PYTHONPATH=str(PACKAGE.parent), OMP_NUM_THREADS=threads)
        result = subprocess.run([sys.executable, "-c", script, *arguments], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        printed.append(re.search(r"test accuracy: .*", result.stdout).group())
    assert printed[0] == printed[1] == printed[2]
