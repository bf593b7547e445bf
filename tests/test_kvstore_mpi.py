"""Data-parallel training under mpiexec (issue 12): every rank ends with the same parameters,
equal to one process training on the whole batch; a rank that raises or is killed ends the job
with an error naming it, within a time limit, and the last checkpoint resumes the job.

The jobs run tests/mpi_scripts/train.py; skipped where mpi4py or mpiexec is absent (CI installs
the 'mpi' extra: mpi4py and the mpich wheel, whose mpiexec runs as root)."""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time

import numpy as np
import pytest

pytest.importorskip("mpi4py")

SCRIPT = os.path.join(os.path.dirname(__file__), "mpi_scripts", "train.py")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOTAL_BATCH = 60   # split over 2 or 3 workers: 30 or 20 samples each
TIME_LIMIT = 120   # seconds a job (including a failing one) may take on a loaded 2-core machine


def _mpiexec():
    """The mpiexec of this Python's environment (the mpich wheel's, in a venv) first, then PATH."""
    for directory in (os.path.dirname(sys.executable), sysconfig.get_path("scripts")):
        candidate = os.path.join(directory, "mpiexec")
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("mpiexec")


MPIEXEC = _mpiexec()
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install 'cysym[mpi]')")


def _env(**extra):
    env = dict(os.environ)
    # the cysym under test, wherever it is imported from (checkout or installed)
    import cysym
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(cysym.__file__)),
                                         env.get("PYTHONPATH", "")])
    env["CYSYM_KV_TIMEOUT"] = "60"
    env.update(extra)
    return env


def _run(out, workers, *args, check=True, env=None):
    """Run train.py: under `mpiexec -n workers`, or alone when workers is None."""
    command = [sys.executable, SCRIPT, str(out), *args]
    if workers is not None:
        command = [MPIEXEC, "-n", str(workers)] + command
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=_env(**(env or {})), timeout=TIME_LIMIT,
                            cwd=ROOT)
    result.elapsed = time.monotonic() - start
    if check and result.returncode != 0:
        raise AssertionError(f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _params(path):
    with np.load(path) as saved:
        return {k: saved[k] for k in saved.files}


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory):
    """The parameters and score of one process training `model` on the whole batch (one run per
    model, shared by the rank counts)."""
    runs = {}

    def run(model):
        if model not in runs:
            out = tmp_path_factory.mktemp(f"single-{model}")
            _run(out, None, "--model", model, "--kvstore", "local", "--batch", str(TOTAL_BATCH))
            runs[model] = _params(out / "rank0.npz")
        return runs[model]
    return run


@pytest.mark.parametrize("model, workers, bucket_bytes", [
    ("mlp", 2, None), ("mlp", 3, None), ("lenet", 2, None), ("lenet", 3, None),
    # buckets of ~2 KB: most start during the backward pass, overlapping it
    ("lenet", 3, "2000")], ids=["mlp-2-ranks", "mlp-3-ranks-oversubscribed", "lenet-2-ranks",
                                "lenet-3-ranks-oversubscribed", "lenet-3-ranks-small-buckets"])
def test_ranks_match_one_process_on_the_whole_batch(tmp_path, one_process_run, model, workers,
                                                   bucket_bytes):
    """float64, SGD with momentum and weight decay, shuffled shards, two epochs."""
    _run(tmp_path, workers, "--model", model, "--batch", str(TOTAL_BATCH // workers),
         env={"CYSYM_KV_BUCKET_BYTES": bucket_bytes} if bucket_bytes else None)
    reference = one_process_run(model)
    ranks = [_params(tmp_path / f"rank{r}.npz") for r in range(workers)]
    for rank, params in enumerate(ranks):
        assert sorted(params) == sorted(reference)
        for name in reference:
            np.testing.assert_array_equal(params[name], ranks[0][name], err_msg=f"rank {rank} {name}")
            np.testing.assert_allclose(params[name], reference[name], rtol=1e-6, atol=1e-12,
                                       err_msg=f"rank {rank} {name}")
    # the score each rank reports is over every rank's shard: the whole data's
    assert ranks[0]["accuracy"] == pytest.approx(float(reference["accuracy"]), rel=1e-12)


def test_float32_adam_ranks_identical_and_close(tmp_path):
    """float32: the sum over workers rounds differently from one large batch's sum."""
    (tmp_path / "dist").mkdir()
    (tmp_path / "single").mkdir()
    _run(tmp_path / "dist", 2, "--dtype", "float32", "--optimizer", "adam", "--batch", "30")
    _run(tmp_path / "single", None, "--dtype", "float32", "--optimizer", "adam", "--kvstore", "local",
         "--batch", "60")
    reference = _params(tmp_path / "single" / "rank0.npz")
    first, second = (_params(tmp_path / "dist" / f"rank{r}.npz") for r in range(2))
    for name in reference:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
        np.testing.assert_allclose(first[name], reference[name], rtol=1e-3, atol=1e-5, err_msg=name)


def test_a_rank_that_raises_ends_the_job_naming_it(tmp_path):
    result = _run(tmp_path, 3, "--batch", "20", "--fail-rank", "1", "--fail-batch", "3", check=False)
    assert result.returncode != 0
    assert "rank 1 of 3 failed" in result.stderr
    assert "injected failure at batch 3" in result.stderr


def test_a_hung_rank_ends_the_job_after_the_timeout_naming_it(tmp_path):
    """A rank that stops without dying (here: sleeps) is found by the others' timeout: they ask
    every rank whether it is alive, and name the ones that do not answer."""
    result = _run(tmp_path, 3, "--batch", "20", "--fail-rank", "2", "--fail-batch", "3",
                  "--fail-how", "hang", check=False, env={"CYSYM_KV_TIMEOUT": "5"})
    assert result.returncode != 0
    assert result.elapsed < 60
    assert re.search(r"rank [01] of 3: allreduce of 1 gradient buckets did not complete within 5 s "
                     r"\(CYSYM_KV_TIMEOUT\): rank 2 of 3 did not answer", result.stderr), result.stderr


def test_a_killed_rank_ends_the_job_and_the_checkpoint_resumes_it(tmp_path):
    prefix = str(tmp_path / "ck")
    common = ["--batch", "20", "--epochs", "3", "--checkpoint", prefix]
    # 240 samples / 60 per step: 4 steps per epoch; rank 1 dies in the second epoch's 2nd step
    result = _run(tmp_path, 3, *common, "--fail-rank", "1", "--fail-batch", "6", "--fail-how", "kill",
                  check=False)
    assert result.returncode != 0
    assert result.elapsed < TIME_LIMIT
    # the killed rank's parent process names it (cysym/_rank_parent.py); the launcher's own
    # report may name another rank, which it killed itself
    killed = re.findall(r"cysym.kvstore: rank (\d) of 3 \(pid (\d+) on [^)]*\) was killed by signal 9 "
                        r"\(SIGKILL\); ending the job", result.stderr)
    assert killed == [("1", re.search(r"rank 1 = pid (\d+) \(launched as \d+\)", result.stderr).group(1))], \
        result.stderr
    assert sorted(os.listdir(tmp_path)) == ["ck-0001.params", "ck-0001.states", "ck-symbol.json"]
    # the job restarted from epoch 1 ends where an uninterrupted one does
    (tmp_path / "resumed").mkdir()
    (tmp_path / "straight").mkdir()
    _run(tmp_path / "resumed", 3, *common, "--resume", "1")
    _run(tmp_path / "straight", 3, "--batch", "20", "--epochs", "3")
    resumed, straight = _params(tmp_path / "resumed" / "rank2.npz"), _params(tmp_path / "straight" / "rank0.npz")
    for name in straight:
        np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)


def _readme_train_py():
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme.split("## Training on several machines", 1)[1].split("\n## ", 1)[0]
    return next(block for block in re.findall(r"```python\n(.*?)```", section, re.S)
                if "mx.kv.create('dist_sync')" in block)


def test_readme_train_py_runs_and_resumes(tmp_path):
    (tmp_path / "train.py").write_text(_readme_train_py())

    def launch(*args):
        result = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "train.py", *args], cwd=tmp_path,
                                capture_output=True, text=True, env=_env(), timeout=TIME_LIMIT)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    first = launch()
    accuracy = float(re.search(r"test \('accuracy', ([0-9.]+)\)", first.stdout).group(1))
    assert accuracy > 0.8
    assert "Epoch[7] Validation-accuracy=" in first.stderr
    # the time each epoch waited for the gradients' sums (rank 0's)
    assert re.search(r"Epoch\[7\] Communication wait=[0-9.]+ \([0-9]+% of the time cost\)", first.stderr)
    assert (tmp_path / "mlp-0008.params").exists() and (tmp_path / "mlp-0006.states").exists()
    resumed = launch("6")
    assert "Epoch[5]" not in resumed.stderr and "Epoch[7] Train-accuracy" in resumed.stderr
    assert re.search(r"test \('accuracy', ", resumed.stdout)


def _quantize_2bit(values, residual, threshold):
    """MXNet's 2-bit quantization (gradient_compression-inl.h) of values + residual: what is
    sent (+-threshold or 0) and the residual kept."""
    residual = residual + values
    sent = np.where(residual >= threshold, threshold, np.where(residual <= -threshold, -threshold, 0))
    return sent.astype(np.float32), (residual - sent).astype(np.float32)


@pytest.mark.parametrize("workers", [2, 3])
def test_2bit_compressed_push_sums_what_each_worker_sends(tmp_path, workers):
    _run_script = [MPIEXEC, "-n", str(workers), sys.executable,
                   os.path.join(os.path.dirname(SCRIPT), "compressed_push.py"), str(tmp_path)]
    result = subprocess.run(_run_script, capture_output=True, text=True, env=_env(), timeout=TIME_LIMIT)
    assert result.returncode == 0, result.stdout + result.stderr
    residuals = [np.zeros((5, 7), np.float32) for _ in range(workers)]
    expected = []
    for step in range(3):
        total = np.zeros((5, 7), np.float32)
        for rank in range(workers):
            grads = np.random.default_rng([rank, step]).uniform(-0.5, 0.5, (2, 5, 7)).astype(np.float32)
            sent, residuals[rank] = _quantize_2bit(grads[0] + grads[1], residuals[rank], np.float32(0.3))
            total += sent
        expected.append(total)
    for rank in range(workers):
        np.testing.assert_allclose(np.load(tmp_path / f"rank{rank}.npy"), np.stack(expected), rtol=1e-6,
                                   err_msg=f"rank {rank}")


def test_module_trains_with_2bit_compression(tmp_path):
    """Module(compression_params=...) quantizes each bucket with its residual during backward;
    every rank still ends with the same parameters, and the model learns."""
    _run(tmp_path, 2, "--dtype", "float32", "--batch", "30", "--epochs", "4", "--compression", "0.5",
         env={"CYSYM_KV_BUCKET_BYTES": "20000"})
    first, second = (_params(tmp_path / f"rank{r}.npz") for r in range(2))
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert float(first["accuracy"]) > 0.5


@pytest.mark.parametrize("thread_level", ["multiple", "serialized"])
def test_gradients_stay_summed_after_rebind_reshape_and_with_a_monitor(tmp_path, thread_level):
    """With 2 KB buckets the MLP's gradients make three buckets (fc3's, fc2's and fc1's): the
    first two start while backward still runs (fc1's are written last), also after a re-bind
    and a reshape. With MPI's THREAD_MULTIPLE (mpi4py's default) a thread moves the started
    sums along; below it, the backward pass does after each later node.  Bound unfused: fused,
    each layer's backward is one node (cysym/dense_fusion.py) and every node after the first
    bucket's ends another bucket, so none is left to move the sums along after."""
    result = subprocess.run([MPIEXEC, "-n", "2", sys.executable,
                             os.path.join(os.path.dirname(SCRIPT), "rebind.py"), str(tmp_path), thread_level],
                            capture_output=True, text=True,
                            env=_env(CYSYM_KV_BUCKET_BYTES="2000", CYSYM_FUSION="0"), timeout=TIME_LIMIT)
    assert result.returncode == 0, result.stdout + result.stderr
    first, second = (_params(tmp_path / f"rank{r}.npz") for r in range(2))
    assert first["started_in_backward"].tolist() == [2, 2, 2]
    threaded = thread_level == "multiple"
    assert bool(first["poller_thread"]) == threaded
    assert (int(first["progress_calls"]) > 0) == (not threaded)
    assert sorted(first) == sorted(second) and len(first) == 4 * 6 + 3
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_bucketing_module_sums_the_gradients_of_every_bucket(tmp_path):
    """Buckets made after init_optimizer update through the default bucket's store too."""
    script = os.path.join(os.path.dirname(SCRIPT), "bucketing.py")
    (tmp_path / "dist").mkdir()
    (tmp_path / "single").mkdir()
    for command in ([MPIEXEC, "-n", "2", sys.executable, script, str(tmp_path / "dist")],
                    [sys.executable, script, str(tmp_path / "single"), "--single", "2"]):
        result = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=TIME_LIMIT)
        assert result.returncode == 0, result.stdout + result.stderr
    reference = _params(tmp_path / "single" / "rank0.npz")
    for rank in range(2):
        params = _params(tmp_path / "dist" / f"rank{rank}.npz")
        for name in reference:
            np.testing.assert_allclose(params[name], reference[name], rtol=1e-5, atol=1e-7,
                                       err_msg=f"rank {rank} {name}")
