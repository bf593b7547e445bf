"""Optimizer states are saved without pickle (cysym.optimizer_states), and loading a checkpoint
never runs code from a file unless the caller opts in to reading a (trusted) pickle."""
import logging
import os
import pickle

import numpy as np
import pytest

import cysym as mx
from cysym import lr_scheduler, optimizer_states
from cysym import optimizer as opt
from cysym.base import MXNetError
from cysym.optimizer_states import OptimizerStatesError


class _RunsCode:
    """What a hostile .states file holds: unpickling it calls os.mkdir(path)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _trained_module(tmp_path, optimizer="adam"):
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=3, name="fc")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    module = mx.mod.Module(net, logger=logging.getLogger("quiet"))
    iterator = mx.io.NDArrayIter(np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32),
                                 np.arange(8) % 3, batch_size=4)
    module.fit(iterator, num_epoch=1, optimizer=optimizer,
               optimizer_params={"lr_scheduler": lr_scheduler.MultiFactorScheduler(step=[1, 3], base_lr=0.1)})
    return module, iterator


def test_states_file_is_an_ndarray_file_without_pickle(tmp_path):
    module, _ = _trained_module(tmp_path)
    prefix = str(tmp_path / "net")
    module.save_checkpoint(prefix, 1, save_optimizer_states=True)
    data = open(f"{prefix}-0001.states", "rb").read()
    assert not optimizer_states.is_pickle(data)
    contents = mx.nd.load(f"{prefix}-0001.states")
    assert "__cysym_optimizer_states__" in contents


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "nag", "adagrad"])
def test_round_trip_restores_states_and_optimizer(name):
    optimizer = opt.create(name, wd=0.01, multi_precision=True,
                           lr_scheduler=lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.05),
                           param_idx2name={0: "w", 1: "h"}, **({"momentum": 0.9} if name in ("sgd", "nag") else {}))
    updater = opt.get_updater(optimizer)
    weights = [np.ones((2, 3), np.float32), np.ones((4,), np.float16)]
    for step in range(3):
        for index, weight in enumerate(weights):
            updater(index, np.full(weight.shape, 0.5 + step, weight.dtype), weight)
    restored = opt.get_updater(opt.create(name))
    restored.set_states(updater.get_states(dump_optimizer=True))
    assert type(restored.optimizer) is type(optimizer)
    assert restored.optimizer.num_update == optimizer.num_update
    assert restored.optimizer._index_update_count == optimizer._index_update_count
    assert restored.optimizer.idx2name == {0: "w", 1: "h"}
    assert vars(restored.optimizer.lr_scheduler) == vars(optimizer.lr_scheduler)
    assert set(restored.states) == set(updater.states)

    def flat(state):
        if isinstance(state, tuple):
            return [a for s in state for a in flat(s)]
        return [] if state is None else [state]
    for index in updater.states:
        for got, expected in zip(flat(restored.states[index]), flat(updater.states[index]), strict=True):
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)


def test_a_pickled_states_file_is_refused_and_runs_nothing(tmp_path):
    module, iterator = _trained_module(tmp_path)
    prefix = str(tmp_path / "net")
    module.save_checkpoint(prefix, 1)
    marker = tmp_path / "code-ran"
    with open(f"{prefix}-0001.states", "wb") as f:
        pickle.dump(({0: _RunsCode(str(marker))}, None), f)
    loaded = mx.mod.Module.load(prefix, 1, load_optimizer_states=True, logger=logging.getLogger("quiet"))
    loaded.bind(data_shapes=iterator.provide_data, label_shapes=iterator.provide_label)
    with pytest.raises(OptimizerStatesError, match=r"net-0001\.states.*pickle.*allow_pickle=True"):
        loaded.init_optimizer(optimizer="adam")
    assert not marker.exists()
    assert isinstance(OptimizerStatesError("x"), MXNetError)


def test_old_pickled_states_load_with_the_explicit_opt_in(tmp_path):
    module, iterator = _trained_module(tmp_path, optimizer="sgd")
    prefix = str(tmp_path / "net")
    module.save_checkpoint(prefix, 1)
    updater = module._updater
    with open(f"{prefix}-0001.states", "wb") as f:     # what cysym wrote before, as MXNet does
        pickle.dump((updater.states, updater.optimizer), f)
    loaded = mx.mod.Module.load(prefix, 1, load_optimizer_states=True, allow_pickle=True,
                                logger=logging.getLogger("quiet"))
    loaded.bind(data_shapes=iterator.provide_data, label_shapes=iterator.provide_label)
    with pytest.warns(UserWarning, match="unpickling"):
        loaded.init_optimizer(optimizer="sgd")
    assert loaded._optimizer.num_update == updater.optimizer.num_update


def _with_meta(meta_text, arrays=None):
    contents = dict(arrays or {})
    contents["__cysym_optimizer_states__"] = np.frombuffer(meta_text.encode(), np.uint8)
    from cysym.ndarray import _encode
    return _encode(contents)


@pytest.mark.parametrize("meta", [
    '{"format": "cysym-optimizer-states", "version": 1, "states": {"t": "dict", "v": [[0, {"t": "array", "k": 5}]]}, "optimizer": null}',
    '{"format": "cysym-optimizer-states", "version": 1, "states": {"t": "dict", "v": []}, '
    '"optimizer": {"t": "object", "class": "os.system", "v": {"t": "dict", "v": []}}}',
    '{"format": "cysym-optimizer-states", "version": 1, "states": {"t": "dict", "v": []}, '
    '"optimizer": {"t": "object", "class": "cysym.lr_scheduler.FactorScheduler", "v": {"t": "dict", "v": []}}}',
    '{"format": "cysym-optimizer-states", "version": 2, "states": {"t": "dict", "v": []}}',
    '{"format": "cysym-optimizer-states", "version": 1, "states": {"t": "eval", "v": "1"}}',
    '{"format": "cysym-optimizer-states", "version": 1, "states": {"t": "list", "v": []}}',
    '{"format": "cysym-optimizer-states", "version": 1, "states": ' + '{"t": "list", "v": [' * 100 + ']}' * 100 + '}',
    'not json',
], ids=["missing-array", "unknown-class", "not-an-optimizer", "version", "unknown-tag", "not-a-dict",
        "deep", "not-json"])
def test_malformed_states_files_are_optimizer_states_errors(meta):
    with pytest.raises(OptimizerStatesError, match="invalid optimizer-states file"):
        optimizer_states.loads(_with_meta(meta), source="bad.states")


def test_states_that_cannot_be_saved_say_what():
    updater = opt.get_updater(opt.SGD())
    updater.states[0] = object()
    with pytest.raises(OptimizerStatesError, match="object"):
        updater.get_states()
