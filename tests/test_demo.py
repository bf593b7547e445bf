"""The demo (`python -m cysym.demo`): the bundled digits, training the seed MLP and the LeNet-style
CNN, what it prints (accuracy, samples/sec, memory plan) and the picture it writes."""
import builtins
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import cysym as mx
from cysym import demo


def test_load_digits_split():
    (train_x, train_y), (test_x, test_y) = demo.load_digits()
    assert train_x.shape == (1437, 8, 8) and test_x.shape == (360, 8, 8)
    assert train_y.shape == (1437,) and test_y.shape == (360,)
    assert train_x.dtype == np.float32 and train_y.dtype == np.float32
    assert 0.0 <= train_x.min() and train_x.max() <= 1.0 and train_x.max() == 1.0
    assert set(np.unique(train_y)) == set(range(10)) == set(np.unique(test_y))
    # a fixed split: the same on every call, different for another seed
    (again_x, _), _ = demo.load_digits()
    np.testing.assert_array_equal(again_x, train_x)
    (other_x, _), _ = demo.load_digits(seed=1)
    assert not np.array_equal(other_x, train_x)
    # no test image is also a training image... up to genuine duplicates in the data set
    train_rows = {row.tobytes() for row in train_x.reshape(len(train_x), -1)}
    shared = sum(row.tobytes() in train_rows for row in test_x.reshape(len(test_x), -1))
    assert shared <= 3


def test_networks_shapes():
    _, out_shapes, _ = demo.seed_mlp().infer_shape(data=(4, 8, 8))
    assert out_shapes == [(4, 10)]
    _, out_shapes, _ = demo.lenet().infer_shape(data=(4, 1, 8, 8))
    assert out_shapes == [(4, 10)]


def _run(capsys, argv):
    assert demo.main(argv) is None     # the console script exits with sys.exit(main()): status 0
    text = capsys.readouterr().out
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", text).group(1)) / 100
    assert re.search(r"training speed: [\d,]+ samples/sec \(batch \d+\)", text)
    planned, naive = re.search(r"memory plan: ([\d,]+) bytes planned .*naive sum ([\d,]+)", text).groups()
    assert 0 < int(planned.replace(",", "")) <= int(naive.replace(",", ""))
    return accuracy, text


def test_main_default_mlp_reaches_96_percent(capsys, tmp_path):
    accuracy, text = _run(capsys, ["--plot", str(tmp_path / "net")])
    assert "seed MLP" in text
    assert accuracy >= 0.96
    if shutil.which("dot"):
        assert f"network picture: {tmp_path / 'net.png'}" in text
        assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert os.listdir(tmp_path) == ["net.png"]        # the graph source is cleaned up


def test_main_cnn_runs(capsys, tmp_path):
    accuracy, text = _run(capsys, ["--cnn", "--epochs", "2", "--batch-size", "50", "--plot", ""])
    assert "LeNet-style CNN" in text and "batch 50" in text
    assert "network picture" not in text
    assert accuracy > 0.5      # two epochs already learn a lot


def test_main_is_reproducible_and_seeded(capsys):
    first, _ = _run(capsys, ["--epochs", "2", "--plot", ""])
    second, _ = _run(capsys, ["--epochs", "2", "--plot", ""])
    assert first == second
    _, first_acc, _ = demo.train(epochs=2, seed=3, progress=False)
    _, second_acc, _ = demo.train(epochs=2, seed=3, progress=False)
    assert first_acc == second_acc


def test_train_accuracy_counts_each_test_sample_once():
    # 360 test samples in batches of 32: the last batch is padded; the accuracy must not count it
    module, accuracy, speed = demo.train(epochs=1, batch_size=32, progress=False)
    (_, _), (test_x, test_y) = demo.load_digits()
    predicted = np.asarray(module.predict(mx.io.NDArrayIter(test_x, test_y, 360)))   # one batch
    assert accuracy == pytest.approx(np.mean(predicted.argmax(axis=1) == test_y))
    assert accuracy * 360 == pytest.approx(round(accuracy * 360))
    assert speed > 0


def test_picture_skipped_without_dot_leaves_no_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    demo.main(["--epochs", "1"])
    assert "network picture: skipped" in capsys.readouterr().out
    # no network picture nor graphviz source (the matplotlib pictures are test_pictures.py's)
    assert [f for f in os.listdir(tmp_path) if f.startswith("cysym-demo-network")] == []


def test_picture_skipped_without_graphviz(capsys, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("No module named 'graphviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    demo.main(["--epochs", "1"])
    assert "network picture: skipped (pip install graphviz" in capsys.readouterr().out
    # no network picture nor graphviz source (the matplotlib pictures are test_pictures.py's)
    assert [f for f in os.listdir(tmp_path) if f.startswith("cysym-demo-network")] == []


def _env_importing_this_cysym():
    """The environment of a child Python that imports the cysym under test (the installed one
    in CI, the built checkout in development); run it outside the checkout, whose uncompiled
    source would come first on sys.path."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))
    return dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_python_m_cysym_demo_help(tmp_path):
    env = _env_importing_this_cysym()
    result = subprocess.run([sys.executable, "-m", "cysym.demo", "--help"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0
    for option in ("--cnn", "--epochs", "--batch-size", "--lr", "--plot"):
        assert option in result.stdout


def test_console_script_exits_zero(tmp_path):
    """`cysym-demo` runs sys.exit(cysym.demo:main()), so main must return None (or 0)."""
    env = _env_importing_this_cysym()
    code = "import sys; from cysym.demo import main; sys.exit(main(['--epochs', '1', '--plot', '']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
