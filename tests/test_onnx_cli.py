"""python -m cysym convert (both ways) and info, on files written by MXNet 1.9.1 and on broken
files (which give an error message and exit status 1, never a traceback)."""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx_helpers import one_kernel_thread, session  # noqa: E402,F401

import cysym as mx  # noqa: E402
from cysym.__main__ import main  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "mxnet"
SYMBOL, PARAMS = str(FIXTURES / "lenet-symbol.json"), str(FIXTURES / "lenet-0003.params")


def test_convert_to_onnx_and_back(tmp_path, capsys):
    onnx_file = str(tmp_path / "lenet.onnx")
    assert main(["convert", SYMBOL, PARAMS, onnx_file, "--shape", "data=3,1,12,12", "--dynamic"]) == 0
    io = np.load(FIXTURES / "lenet-io.npz")
    runtime = session(onnx_file)
    np.testing.assert_allclose(runtime.run(None, {"data": io["data"]})[0], io["out_infer_0"],
                               rtol=1e-4, atol=1e-6)
    prefix = str(tmp_path / "back")
    assert main(["convert", onnx_file, prefix, "--epoch", "3"]) == 0
    sym, arg_params, aux_params = mx.model.load_checkpoint(prefix, 3)
    exe = sym.simple_bind(mx.cpu(), grad_req="null", data=(2, 1, 12, 12))   # dynamic: any batch
    exe.copy_params_from(arg_params, aux_params)
    np.testing.assert_allclose(exe.forward(data=io["data"][:2])[0], io["out_infer_0"][:2],
                               rtol=1e-4, atol=1e-6)
    assert "wrote" in capsys.readouterr().out


def test_convert_refuses_wrong_shapes(tmp_path, capsys):
    with pytest.raises(SystemExit, match=r"the inputs are \['data'\]"):
        main(["convert", SYMBOL, PARAMS, str(tmp_path / "x.onnx"), "--shape", "label=3"])
    with pytest.raises(SystemExit, match="--shape"):
        main(["convert", SYMBOL, PARAMS, str(tmp_path / "x.onnx")])
    assert main(["convert", SYMBOL, PARAMS, str(tmp_path / "x.onnx"), "--shape", "3,1,12,12",
                 "--shape", "3"]) == 1
    assert "2 input shapes given for the 1 inputs" in capsys.readouterr().err


def test_info_of_each_kind_of_file(tmp_path, capsys):
    onnx_file = str(tmp_path / "lenet.onnx")
    assert main(["convert", SYMBOL, PARAMS, onnx_file, "--shape", "3,1,12,12"]) == 0
    capsys.readouterr()
    assert main(["info", onnx_file]) == 0
    text = capsys.readouterr().out
    assert "data  (3, 1, 12, 12)  float32" in text and "softmax  (3, 4)  float32" in text
    assert "conv1_weight  (4, 1, 3, 3)  float32" in text and "Conv x2" in text
    assert main(["info", SYMBOL]) == 0
    text = capsys.readouterr().out
    assert "Convolution x2" in text and "bn1_moving_mean, bn1_moving_var" in text
    assert main(["info", PARAMS]) == 0
    text = capsys.readouterr().out
    assert "arg:fc2_weight  (4, 10)  float32" in text and "12 arrays" in text


@pytest.mark.parametrize("name,content", [("cut.onnx", 60), ("cut-symbol.json", 40), ("cut.params", 50)])
def test_info_refuses_broken_files(name, content, tmp_path, capsys):
    source = {"cut.onnx": None, "cut-symbol.json": SYMBOL, "cut.params": PARAMS}[name]
    if source is None:
        main(["convert", SYMBOL, PARAMS, str(tmp_path / "full.onnx"), "--shape", "3,1,12,12"])
        source = str(tmp_path / "full.onnx")
    path = tmp_path / name
    path.write_bytes(Path(source).read_bytes()[:content])
    capsys.readouterr()
    assert main(["info", str(path)]) == 1
    assert str(path) in capsys.readouterr().err
