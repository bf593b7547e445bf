"""asv smoke: the benchmark suite imports, a few benchmarks run once each under asv (`--quick`,
in this Python with the cysym under test), and `asv publish` writes a graph for each.

A benchmark that raises makes `asv run` exit with 2, so a broken benchmark fails this test. It
runs with the repository's asv.conf.json, redirected to a temporary folder (results, site, and
HOME for asv's machine file), and needs git history (a clone, as CI has).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cysym

ROOT = Path(__file__).parent.parent
ASV = ROOT / "asv_bench"
# two cheap benchmarks of two modules (10-15 s each with --quick on the loaded 2-core machine)
BENCHMARKS = r"bench_executor\.PerOpOverhead\.time_train_step|bench_updates\.Updates\.time_fused"
EXPECTED = ["bench_executor.PerOpOverhead.time_train_step", "bench_updates.Updates.time_fused"]


def asv(args, tmp_path, timeout):
    env = dict(os.environ, HOME=str(tmp_path / "home"),
               # the cysym under test, installed or built in place (asv drops PYTHONPATH)
               ASV_PYTHONPATH=os.path.dirname(os.path.dirname(cysym.__file__)))
    result = subprocess.run([sys.executable, "-m", "asv", *args, "--config", str(tmp_path / "asv.conf.json")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"asv {args[0]} exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def test_quick_asv_run_and_publish_write_graphs(tmp_path):
    config = json.loads((ASV / "asv.conf.json").read_text())
    config.update(repo=str(ROOT), benchmark_dir=str(ASV / "benchmarks"),
                  results_dir=str(tmp_path / "results"), html_dir=str(tmp_path / "html"),
                  env_dir=str(tmp_path / "env"))
    commit, branch = (subprocess.run(["git", "rev-parse", *args, "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True, check=True).stdout.strip() for args in ([], ["--abbrev-ref"]))
    if branch != "HEAD":    # publish graphs the commits of the configured branches only
        config["branches"] = [branch]
    (tmp_path / "asv.conf.json").write_text(json.dumps(config))
    (tmp_path / "home").mkdir()

    asv(["machine", "--yes", "--machine", "smoke"], tmp_path, timeout=60)
    out = asv(["run", "--quick", "--python=same", "--set-commit-hash", commit, "--machine", "smoke",
               "--show-stderr", "--bench", BENCHMARKS], tmp_path, timeout=240)
    assert "failed" not in out.lower()
    # discovery imported every benchmark module (it lists the whole suite, run or not)
    listed = json.loads((tmp_path / "results" / "benchmarks.json").read_text())
    modules = {name.split(".")[0] for name in listed if name != "version"}
    assert modules == {path.stem for path in (ASV / "benchmarks").glob("bench_*.py")}

    ran = sorted(name for name in listed if re.match(BENCHMARKS, name))
    assert ran == EXPECTED

    asv(["publish"], tmp_path, timeout=120)
    graphs = tmp_path / "html" / "graphs"
    assert (tmp_path / "html" / "index.html").exists()
    for name in ran:
        # the summary graph: [[revision, value]] with this commit's point
        summary = json.loads((graphs / "summary" / f"{name}.json").read_text())
        assert len(summary) == 1 and summary[0][1] is not None, (name, summary)
        # and the graph of this environment, with the value of every parameter row
        [series] = [json.loads(path.read_text()) for path in graphs.rglob(f"{name}.json")
                    if path.parent.name != "summary"]
        values = series[0][1] if isinstance(series[0][1], list) else [series[0][1]]
        assert all(value is not None for value in values), (name, series)
