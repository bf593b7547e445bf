"""Importing a source tree whose kernels are not built says so, and how to fix it."""
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).parent.parent / "cysym"


def test_unbuilt_source_tree_names_the_two_fixes(tmp_path):
    # a copy of the checkout's package without its compiled modules, as a fresh clone has it
    shutil.copytree(SOURCE, tmp_path / "cysym",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"))
    result = subprocess.run([sys.executable, "-c", "import cysym"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ImportError: cysym's compiled kernels are not built in "
                                f"{tmp_path / 'cysym' / '_ops'}")
    assert "pip install ." in last_line and "python3 setup.py build_ext --inplace" in last_line
