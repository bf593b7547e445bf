"""The documentation site (docs/): it builds with warnings as errors, and every example in it
runs (Sphinx's doctest builder). Needs Sphinx and the theme (the `docs` extra, also in `test`)."""
import os
import subprocess
import sys

import pytest

import cysym as mx

pytest.importorskip("sphinx", reason="the docs extra (sphinx, furo) is not installed")
pytest.importorskip("furo", reason="the docs extra (sphinx, furo) is not installed")
pytest.importorskip("matplotlib", reason="the site's memory-plan figures need matplotlib")

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")


@pytest.fixture(scope="module")
def doctrees(tmp_path_factory):
    """One read of the sources for both builds: the second reuses the first one's environment."""
    return tmp_path_factory.mktemp("doctrees")


def _sphinx(builder, out, doctrees):
    """Run sphinx-build -W in a child importing the cysym under test, outside the checkout
    (`python -m` puts the working folder first on sys.path, and a fresh clone's source tree has
    no kernels); (returncode, output)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder,
                             "-d", str(doctrees), DOCS, str(out / builder)],
                            capture_output=True, text=True, env=env, cwd=out, timeout=900)
    return result.returncode, result.stdout + result.stderr


def test_site_builds_without_warnings(tmp_path, doctrees):
    code, output = _sphinx("html", tmp_path, doctrees)
    assert code == 0, output
    html = tmp_path / "html"
    for page in ("index", "getting_started", "from_mxnet", "memory_planner", "file_formats",
                 "operators", "operators/dense", "api/cysym.symbol", "api/cysym.module"):
        assert (html / f"{page}.html").exists(), page
    # the operator reference has every visible operator, with its parameters
    dense = (html / "operators" / "dense.html").read_text()
    assert 'id="op-FullyConnected"' in dense and "num_hidden" in dense
    assert "_backward_FullyConnected" in dense
    # the API reference documents the methods people call
    symbol_page = (html / "api" / "cysym.symbol.html").read_text()
    for method in ("simple_bind", "infer_shape", "list_arguments", "tojson"):
        assert f"cysym.symbol.Symbol.{method}" in symbol_page, method
    # the memory planner page shows the figures drawn from the planner at build time
    planner_page = (html / "memory_planner.html").read_text()
    assert planner_page.count("<img") == 3
    assert (html / "_images" / "memory-lenet-training.png").exists()


def test_every_example_runs(tmp_path, doctrees):
    code, output = _sphinx("doctest", tmp_path, doctrees)
    assert code == 0, output
    report = (tmp_path / "doctest" / "output.txt").read_text()
    assert "0 failures in tests" in report
    # the pages with examples all ran some
    for page in ("getting_started", "memory_planner", "file_formats"):
        assert f"Document: {page}" in report, page
