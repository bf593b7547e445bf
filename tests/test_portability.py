"""What the kernels ask of the OS and the CPU, checked where this machine can check it: the
Python-level fallbacks that Windows and macOS take (by removing the Linux-only functions), and the
CPUID-based AVX2 test (shared by GCC, Clang and MSVC) against what Linux reports."""
import os
import subprocess
import sys

import pytest

import cysym
from cysym._ops import cpu, threads

# the folder holding the cysym these tests import (the installed one in CI, the checkout here)
PACKAGE_PARENT = os.path.dirname(os.path.dirname(cysym.__file__))


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux's affinity mask")
def test_cpus_available_is_the_affinity_mask_where_the_os_has_one():
    assert threads._cpus_available() == len(os.sched_getaffinity(0))


def test_cpus_available_falls_back_to_the_cpu_count(monkeypatch):
    # Windows and macOS have no os.sched_getaffinity
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert threads._cpus_available() == 7
    monkeypatch.setattr(os, "cpu_count", lambda: None)   # "undeterminable"
    assert threads._cpus_available() == 1


def test_the_kernels_import_without_fork_or_affinity_functions(tmp_path):
    """As on Windows: no os.register_at_fork, no os.sched_getaffinity, and no BLAS count to start
    from (OPENBLAS_NUM_THREADS unset does not matter: blas_num_threads is replaced), in a fresh
    process; the kernels then default to os.cpu_count() threads and run a plan."""
    script = """
import os
del os.register_at_fork, os.sched_getaffinity, os.fork   # (random.py registers at fork where os.fork is)
os.cpu_count = lambda: 3
import cysym._ops.threads as threads
threads.blas_num_threads = lambda: None
assert threads._default_count() == 3, threads._default_count()
import numpy as np
import cysym as mx
x = mx.sym.Variable('x')
ex = (mx.sym.relu(x) * 2).simple_bind(mx.cpu(), x=(2, 3))
ex.forward(x=np.array([[-1.0, 2.0, 3.0], [4.0, -5.0, 6.0]]))
print(ex.outputs[0].asnumpy().ravel().tolist())
"""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = PACKAGE_PARENT
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "[0.0, 4.0, 6.0, 8.0, 0.0, 12.0]"


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="reads Linux's /proc/cpuinfo")
def test_wide_build_detection_agrees_with_linux():
    """cpu.pyx reads CPUID and XGETBV itself (MSVC has no __builtin_cpu_supports); Linux lists
    avx2, fma and the avx512 flags only when the CPU has them and the kernel saves the YMM
    (and the 512-bit and opmask) registers."""
    with open("/proc/cpuinfo") as info:
        flags = next(line for line in info if line.startswith("flags")).split(":")[1].split()
    assert cpu.runs("avx2") == ("avx2" in flags and "fma" in flags)
    assert cpu.runs("avx512") == (cpu.runs("avx2") and all(
        f"avx512{part}" in flags for part in ("f", "dq", "bw", "vl")))


def test_an_unknown_build_is_refused():
    with pytest.raises(ValueError, match="unknown build 'avx10'"):
        cpu.runs("avx10")
