"""setup.py's compiler flags follow the compiler a build runs (GCC's spelling for GCC, Clang and
MinGW, MSVC's for MSVC), checked with a fake compiler object, without building anything."""
import importlib.util
import types
from pathlib import Path

import pytest
from setuptools import Distribution

SETUP_PY = Path(__file__).resolve().parent.parent / "setup.py"

# today's Linux release flags, as gcc's command lines printed them before the flags depended
# on the compiler (CYSYM_ONLY=cpu python3 setup.py build_ext --inplace, and the same for the others)
GCC_RELEASE = ["-O3", "-g0", "-fno-trapping-math", "-fno-math-errno", "-falign-loops=64"]


@pytest.fixture
def setup_module(monkeypatch):
    """setup.py as a module (its setup() call runs only as __main__), release build."""
    spec = importlib.util.spec_from_file_location("cysym_setup_under_test", SETUP_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "debug_build", False)
    return module


def flags_set_by_build_ext(setup_module, compiler_type, names):
    """{module name: (compile args, link args)} as ParallelBuildExt sets them for a compiler
    of this type."""
    command = setup_module.ParallelBuildExt(Distribution())
    command.extensions = [setup_module.extension(f"cysym/_ops/{name}.pyx") for name in names]
    command.compiler = types.SimpleNamespace(compiler_type=compiler_type)
    command.set_compiler_flags()
    return {ext.name.rpartition(".")[2]: (ext.extra_compile_args, ext.extra_link_args)
            for ext in command.extensions}


def test_gcc_flags_are_the_ones_builds_always_had(setup_module):
    openmp = ["-fopenmp"] if setup_module.platform.system() == "Linux" else []
    flags = flags_set_by_build_ext(setup_module, "unix", ["cpu", "elemwise", "conv_avx2", "conv_avx512"])
    assert flags == {
        "cpu": (GCC_RELEASE + openmp, openmp),
        "elemwise": (GCC_RELEASE + openmp + ["-funroll-loops"], openmp),
        "conv_avx2": (GCC_RELEASE + openmp + ["-mavx2", "-mfma"], openmp),
        "conv_avx512": (GCC_RELEASE + openmp + ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl",
                                                "-mavx2", "-mfma", "-mprefer-vector-width=512",
                                                "-mprefer-vector-width=256"], openmp),
    }


def test_msvc_gets_its_own_spelling_and_no_gcc_flag(setup_module):
    flags = flags_set_by_build_ext(setup_module, "msvc", ["cpu", "elemwise", "conv_avx2", "conv_avx512"])
    assert flags == {
        "cpu": (["/O2", "/openmp"], []),
        "elemwise": (["/O2", "/openmp"], []),
        "conv_avx2": (["/O2", "/openmp", "/arch:AVX2"], []),
        "conv_avx512": (["/O2", "/openmp", "/arch:AVX512"], []),
    }


def test_gcc_spelling_without_openmp_off_linux(setup_module):
    # Apple's Clang has no -fopenmp; MinGW is a GCC
    assert setup_module.compiler_flags("unix", "norm", system="Darwin") == (GCC_RELEASE, [])
    assert setup_module.compiler_flags("mingw32", "elemwise_avx2", system="Windows") == (
        GCC_RELEASE + ["-mavx2", "-mfma"], [])


def test_debug_build_flags_per_compiler(setup_module, monkeypatch):
    monkeypatch.setattr(setup_module, "debug_build", True)
    compile_args, link_args = setup_module.compiler_flags("unix", "dense", system="Linux")
    assert compile_args[:2] == ["-O1", "-g"] and "-O3" not in compile_args
    assert link_args == ["-fopenmp"]
    assert setup_module.compiler_flags("msvc", "dense") == (["/Od", "/Zi", "/openmp"], [])


def test_the_cython_cache_folder_changes_with_what_cythons_own_key_misses(setup_module, tmp_path,
                                                                          monkeypatch):
    """CYSYM_CYTHON_CACHE's folder (asv_bench/dashboard.sh): Cython's key has each module's source
    but its dependency scan misses `from package cimport module`, so any .pxd or .pxi of the
    package, NumPy's version and SciPy's must lead to another folder; a .pyx must not."""
    import scipy

    ops = tmp_path / "cysym" / "_ops"
    ops.mkdir(parents=True)
    (ops / "threads.pxd").write_text("cdef int count() noexcept nogil\n")
    (ops / "conv.pyx").write_text("from cysym._ops cimport threads\n")
    monkeypatch.chdir(tmp_path)
    folders = [setup_module.cython_cache("cache-root")]
    assert Path(folders[0]).parent == Path("cache-root")
    (ops / "conv.pyx").write_text("from cysym._ops cimport threads\nx = threads.count()\n")
    assert setup_module.cython_cache("cache-root") == folders[0]
    (ops / "threads.pxd").write_text("cdef long count() noexcept nogil\n")
    folders.append(setup_module.cython_cache("cache-root"))
    (ops / "sampling_pdf.pxi").write_text("cdef double pdf = 0\n")
    folders.append(setup_module.cython_cache("cache-root"))
    monkeypatch.setattr(setup_module.numpy, "__version__", "1.0.0")
    folders.append(setup_module.cython_cache("cache-root"))
    monkeypatch.setattr(scipy, "__version__", "1.0.0")
    folders.append(setup_module.cython_cache("cache-root"))
    assert len(set(folders)) == 5, folders
