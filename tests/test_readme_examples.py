"""Every ```python block of README.md runs verbatim, in README order, in a fresh process in a
temporary folder: the blocks share one namespace, as a reader typing them into one session
would (the training example trains the quick start's `net`).

A block can be marked by an HTML comment on the line before its fence:
    <!-- readme-test: needs module:mpi4py program:dot script:train.py -->
`needs` names what the block uses beyond cysym's test extra (an importable module or a program
on PATH): without it the block is not run, and the test says which blocks were left out;
`script:NAME` runs the block as the file NAME with `python NAME` (a standalone program, as the
README tells to run it) instead of in the shared namespace.

The files the examples load are the ones a reader has: the MXNet-exported ResNet-18 of
tests/fixtures/realmodels (reduced in width) under the names the examples use, and an
`mx.nd.save` file written by MXNet 1.9.1.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cysym

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
FIXTURES = Path(__file__).parent / "fixtures"
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<marks>[^>]*?) -->\n)?```python\n(?P<code>.*?)```", re.S)

# Runs in the child: each block compiled under its README line, so a traceback points there.
DRIVER = """
import json, runpy, subprocess, sys
namespace = {"__name__": "__main__"}
for block in json.load(open(sys.argv[1])):
    print(f"--- README.md line {block['line']}", flush=True)
    if block["script"]:
        with open(block["script"], "w") as f:
            f.write(block["code"])
        subprocess.run([sys.executable, block["script"]], check=True)
    else:
        exec(compile("\\n" * (block["line"] - 1) + block["code"], "README.md", "exec"), namespace)
print("--- all blocks ran", flush=True)
"""

FILES = {   # name in the examples: fixture
    "resnet18_v1-symbol.json": "realmodels/resnet18_v1-symbol.json",
    "resnet18_v1-0000.params": "realmodels/resnet18_v1-0000.params",
    "resnet-symbol.json": "realmodels/resnet18_v1-symbol.json",
    "resnet-0000.params": "realmodels/resnet18_v1-0000.params",
    "resnet-0010.params": "realmodels/resnet18_v1-0000.params",
    "arrays.nd": "mxnet/ndarrays.nd",
}


def readme_blocks():
    """[{'line', 'code', 'needs', 'script'}] in README order."""
    text = README.read_text()
    blocks = []
    for match in BLOCK.finditer(text):
        marks = (match["marks"] or "").split()
        needs = [mark for mark in marks if not mark.startswith("script:") and mark != "needs"]
        scripts = [mark.partition(":")[2] for mark in marks if mark.startswith("script:")]
        blocks.append({"line": text[:match.start("code")].count("\n") + 1, "code": match["code"],
                       "needs": needs, "script": scripts[0] if scripts else None})
    return blocks


def available(need):
    kind, _, name = need.partition(":")
    if kind == "module":
        return importlib.util.find_spec(name) is not None
    if kind == "program":
        return shutil.which(name) is not None
    raise ValueError(f"README.md: unknown readme-test need {need!r} (module:NAME or program:NAME)")


def test_blocks_are_found_and_marks_parse():
    blocks = readme_blocks()
    assert len(blocks) >= 8
    assert blocks[0]["code"].startswith("import numpy as np\nimport cysym as mx\n")
    for block in blocks:
        for need in block["needs"]:
            available(need)     # raises on a misspelt mark
    assert any(block["script"] == "train.py" for block in blocks)


def test_every_readme_example_runs(tmp_path):
    blocks = readme_blocks()
    runnable = [block for block in blocks if all(available(need) for need in block["needs"])]
    left_out = [(block["line"], block["needs"]) for block in blocks if block not in runnable]
    for name, fixture in FILES.items():
        shutil.copy(FIXTURES / fixture, tmp_path / name)
    (tmp_path / "blocks.json").write_text(json.dumps(runnable))
    (tmp_path / "driver.py").write_text(DRIVER)
    # the cysym under test (installed, or the checkout built in place)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(cysym.__file__)))
    result = subprocess.run([sys.executable, "driver.py", "blocks.json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    ran = re.findall(r"--- README.md line (\d+)", result.stdout)
    assert result.returncode == 0, (
        f"README.md line {ran[-1] if ran else '?'} failed\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    assert "--- all blocks ran" in result.stdout
    assert [int(line) for line in ran] == [block["line"] for block in runnable]
    if left_out:
        print(f"README blocks not run here (line, needs): {left_out}")
