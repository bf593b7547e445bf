"""cysym: MXNet's Symbol API on modern Python, with statically planned memory and Cython kernels."""
__version__ = "0.1.0"

import logging as _logging

# Every module logs to a child of the "cysym" logger; an application shows those lines by
# configuring logging (logging.basicConfig(level=logging.INFO)), a library's usual contract.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

from . import _rank_parent
_rank_parent.become_parent_of_the_rank()   # under mpiexec: see cysym/_rank_parent.py

from . import base, name, attribute, registry  # noqa: F401
from .base import MXNetError
from .attribute import AttrScope
from .context import Context, cpu, gpu, cpu_pinned, current_context, num_gpus
from ._ops.threads import (get_num_threads, set_num_threads,  # the kernels' threads
                           get_deterministic, set_deterministic)
from . import context, random, ndarray
from . import ndarray as nd
from . import symbol
from . import symbol as sym
from . import executor
from . import initializer, optimizer, lr_scheduler, metric, io, callback, model, profiler
from . import recordio, image  # Pillow is imported only when an image is encoded or decoded
from . import kvstore
from . import kvstore as kv
from . import initializer as init
from . import module
from . import module as mod
from . import visualization
from . import visualization as viz
from . import test_utils
from . import monitor
from . import monitor as mon
from . import operator
from . import rnn
from . import onnx  # the onnx package itself is imported only when a function is called

__all__ = ["MXNetError", "AttrScope", "Context", "cpu", "gpu", "cpu_pinned", "current_context", "num_gpus",
           "sym", "symbol", "nd", "ndarray", "name", "attribute", "base", "random", "context", "executor",
           "init", "initializer", "optimizer", "lr_scheduler", "metric", "io", "callback", "model",
           "kv", "kvstore", "mod", "module", "viz", "visualization", "test_utils", "mon", "monitor",
           "recordio", "image"]
