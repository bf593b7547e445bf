"""Saves are atomic and durable: fsync'd file and directory, normal permissions, and no
temporary files left behind by saves that were killed."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import cysym as mx
from cysym import base

# the folder holding the cysym under test (site-packages after an install, the checkout after
# an in-place build): a child Python imports that one, run outside the checkout
CYSYM_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_saved_files_get_the_umask_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        mx.nd.save(str(tmp_path / "a.params"), {"w": mx.nd.ones((2, 3))})
        mx.sym.Variable("x").save(str(tmp_path / "a-symbol.json"))
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "a.params").st_mode & 0o777 == mode
    assert os.stat(tmp_path / "a-symbol.json").st_mode & 0o777 == mode


def test_overwriting_keeps_the_files_mode(tmp_path):
    path = tmp_path / "a.params"
    mx.nd.save(str(path), [mx.nd.ones(3)])
    os.chmod(path, 0o640)
    mx.nd.save(str(path), [mx.nd.zeros(3)])
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_file_and_directory_are_fsynced_around_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file"))
        real_fsync(fd)

    def replace(src, dst):
        events.append("rename")
        real_replace(src, dst)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    mx.nd.save(str(tmp_path / "a.params"), [mx.nd.ones(3)])
    assert events == ["fsync-file", "rename", "fsync-dir"]


def test_stale_temporary_files_of_dead_saves_are_removed(tmp_path):
    target = tmp_path / "net-0001.params"
    stale = tmp_path / f".net-0001.params.cysym-tmp-{_dead_pid()}-0123abcd"
    live = tmp_path / f".net-0001.params.cysym-tmp-{os.getppid()}-0123abcd"   # a running writer
    other = tmp_path / f".other.params.cysym-tmp-{_dead_pid()}-0123abcd"      # another file's
    unrelated = tmp_path / ".tmp-abcdefgh"
    for path in (stale, live, other, unrelated):
        path.write_bytes(b"partial")
    mx.nd.save(str(target), [mx.nd.ones(3)])
    assert not stale.exists()
    assert live.exists() and other.exists() and unrelated.exists()
    assert sorted(os.listdir(tmp_path)) == sorted(
        [target.name, live.name, other.name, unrelated.name])


def test_a_killed_save_leaves_the_old_file_and_its_litter_is_cleaned(tmp_path):
    """kill -9 during a large save: the old checkpoint is intact, and the next save removes the
    dead save's temporary file."""
    target = tmp_path / "big.params"
    mx.nd.save(str(target), {"w": mx.nd.ones((3,))})
    script = (f"import cysym as mx, numpy as np\n"
              f"big = np.ones((64, 1 << 20), np.float32)\n"
              f"print('ready', flush=True)\n"
              f"while True:\n"
              f"    mx.nd.save({str(target)!r}, {{'w': big}})\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             env=dict(os.environ, PYTHONPATH=CYSYM_PARENT), cwd=tmp_path, text=True)
    assert child.stdout.readline().strip() == "ready"
    deadline = time.time() + 20
    while time.time() < deadline and not any(".cysym-tmp-" in n for n in os.listdir(tmp_path)):
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    loaded = mx.nd.load(str(target))["w"]       # the old file or a complete new one
    assert loaded.shape in ((3,), (64, 1 << 20))
    mx.nd.save(str(target), {"w": mx.nd.zeros((2,))})
    assert os.listdir(tmp_path) == [target.name]
    np.testing.assert_array_equal(mx.nd.load(str(target))["w"], np.zeros(2))


def test_a_failed_write_removes_its_temporary_file(tmp_path, monkeypatch):
    def broken(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError):
        base.atomic_write(str(tmp_path / "a.json"), "{}")
    assert os.listdir(tmp_path) == []
