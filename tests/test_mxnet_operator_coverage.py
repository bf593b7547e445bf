"""cysym's registry against MXNet 1.9.1's operator names (tests/fixtures/mxnet/operators-1.9.1.json,
written by make_operator_list.py beside it): every MXNet operator counted in the README is either
registered here or in the README's list of missing operators with a reason, and the figures the
README gives are the registry's."""
import json
import re
from pathlib import Path

import pytest

import cysym  # noqa: F401  (registers every operator)
from cysym.registry import find_op

ROOT = Path(__file__).parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "mxnet" / "operators-1.9.1.json"
REGENERATE = "update the README's 'Against MXNet 1.9.1's operator list' section"


def mxnet_names():
    data = json.loads(FIXTURE.read_text())
    assert data["mxnet"] == "1.9.1"
    return data["operators"]


def counted(name):
    """The README's scope: not a gradient node, not the NumPy interface (mx.np / mx.npx), not a
    sparse-storage form, not a oneDNN fusion made by MXNet's graph passes."""
    return "backward" not in name and not name.startswith(
        ("_np_", "_npi_", "_npx_", "_sparse_", "_sg_mkldnn_"))


def coverage_section():
    text = (ROOT / "README.md").read_text()
    return text.split("<!-- mxnet coverage: begin -->\n")[1].split("<!-- mxnet coverage: end -->")[0]


def missing_with_reasons(section):
    """{operator name: reason} from the README's bullets '- `a`, `b`: reason'."""
    reasons = {}
    for bullet in re.split(r"\n- ", "\n" + section.split("\n- ", 1)[1]):
        names, _, reason = bullet.strip().partition(":")
        for name in re.findall(r"`([^`]+)`", names):
            assert name not in reasons, f"{name} is listed twice in the README"
            reasons[name] = " ".join(reason.split())
    return reasons


def test_fixture_is_mxnet_1_9_1s_list():
    names = mxnet_names()
    assert names == sorted(set(names)) and len(names) > 1000
    for name in ("FullyConnected", "Convolution_v1", "_contrib_box_nms", "_backward_FullyConnected",
                 "_np_sum", "_sparse_dot", "_sg_mkldnn_conv", "reset_arrays"):
        assert name in names


def test_every_counted_mxnet_operator_is_registered_or_listed_with_a_reason():
    reasons = missing_with_reasons(coverage_section())
    missing = [name for name in mxnet_names() if counted(name) and find_op(name) is None]
    unexplained = [name for name in missing if name not in reasons]
    assert not unexplained, f"MXNet operators neither registered nor in the README: {unexplained}; {REGENERATE}"
    for name, reason in reasons.items():
        assert len(reason) > 10, f"{name} has no reason in the README"


def test_the_missing_list_names_only_missing_mxnet_operators():
    names = set(mxnet_names())
    for name in missing_with_reasons(coverage_section()):
        assert name in names, f"the README lists {name}, which MXNet 1.9.1 does not register"
        assert counted(name), f"the README lists {name}, which the count leaves out"
        assert find_op(name) is None, f"the README lists {name} as missing, but cysym registers it; {REGENERATE}"


def test_the_readme_figures_are_the_registrys():
    names = [name for name in mxnet_names() if counted(name)]
    public = [name for name in names if not name.startswith("_")]
    figures = re.search(r"cysym registers (\d+) of the (\d+) MXNet 1\.9\.1 operator names counted "
                        r"here, and (\d+) of its (\d+)\s+public names .*?The (\d+) it does not have",
                        coverage_section(), re.S)
    assert figures, "the README's coverage sentence is missing"
    registered = sum(find_op(name) is not None for name in names)
    expected = (registered, len(names), sum(find_op(name) is not None for name in public),
                len(public), len(names) - registered)
    assert tuple(map(int, figures.groups())) == expected, REGENERATE


@pytest.mark.parametrize("bullet", ["- `a`, `b`: two reasons\n", "- `c`: one\n  on two lines\n"])
def test_the_bullets_parse(bullet):
    reasons = missing_with_reasons("intro\n\n" + bullet)
    assert set(reasons) <= {"a", "b", "c"} and all(reasons.values())
