"""The README's quick start runs as written."""
import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_quick_start_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    namespace = {}
    exec(compile(blocks[0], "README.md quick start", "exec"), namespace)
    assert namespace["net"].list_arguments() == ["data", "fc1_weight", "fc1_bias", "fc2_weight",
                                                 "fc2_bias", "out_label"]
    assert namespace["out_shapes"] == [(32, 64)]
    assert namespace["exe"].grad_dict["fc1_weight"].any()
    assert '"op": "FullyConnected"' in capsys.readouterr().out


def test_operator_list_is_the_registry():
    from cysym.__main__ import operator_list
    text = README.read_text()
    listed = text.split("<!-- operators: begin -->\n")[1].split("<!-- operators: end -->")[0]
    assert listed == operator_list(), "regenerate the README list with `python -m cysym operators`"
