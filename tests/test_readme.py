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
