"""MXNet checkpoints: `prefix-symbol.json` plus `prefix-%04d.params` (arg:/aux: keys)."""
import logging

from . import kvstore as _kvstore
from . import ndarray as nd
from . import symbol as sym
from .base import MXNetError, atomic_write
from .callback import BatchEndParam  # noqa: F401  (MXNet users import it from here too)

_LOG = logging.getLogger(__name__)

__all__ = ["save_checkpoint", "load_checkpoint", "load_params", "BatchEndParam"]


def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params, remove_amp_cast=True):
    """Write the symbol and the parameters; each file is replaced atomically.

    Both files are encoded before either is written, so a parameter that cannot be saved
    leaves an existing checkpoint (symbol and parameters) untouched."""
    files = checkpoint_files(prefix, epoch, symbol, arg_params, aux_params)
    write_files(files)
    if _kvstore.writes_checkpoints():
        _LOG.info('Saved checkpoint to "%s-%04d.params"', prefix, epoch)


def checkpoint_files(prefix, epoch, symbol, arg_params, aux_params):
    """[(file name, bytes or text)] of a checkpoint, encoded without touching the disk."""
    save_dict = {f"arg:{k}": v for k, v in (arg_params or {}).items()}
    save_dict.update({f"aux:{k}": v for k, v in (aux_params or {}).items()})
    files = [(f"{prefix}-{epoch:04d}.params", nd._encode(save_dict))]
    if symbol is not None:
        files.insert(0, (f"{prefix}-symbol.json", symbol.tojson()))
    return files


def write_files(files):
    """Write each (name, data) through a temporary file and a rename; in a distributed job only
    rank 0 writes (every worker holds the same parameters)."""
    if not _kvstore.writes_checkpoints():
        return
    for fname, data in files:
        atomic_write(fname, data)


def load_params(prefix, epoch):
    """(arg_params, aux_params) from `prefix-%04d.params`."""
    return split_params(nd.load(f"{prefix}-{epoch:04d}.params"), f"{prefix}-{epoch:04d}.params")


def split_params(save_dict, source):
    if not isinstance(save_dict, dict):
        raise MXNetError(f"{source}: expected named arrays (arg:/aux: keys), got a list")
    arg_params, aux_params = {}, {}
    for key, value in save_dict.items():
        kind, _, name = key.partition(":")
        if kind == "arg" and name:
            arg_params[name] = value
        elif kind == "aux" and name:
            aux_params[name] = value
        else:
            raise MXNetError(f"{source}: key {key!r} is neither 'arg:<name>' nor 'aux:<name>'")
    return arg_params, aux_params


def load_checkpoint(prefix, epoch):
    """(symbol, arg_params, aux_params) saved by save_checkpoint (or by MXNet)."""
    symbol = sym.load(f"{prefix}-symbol.json")
    arg_params, aux_params = load_params(prefix, epoch)
    return symbol, arg_params, aux_params
