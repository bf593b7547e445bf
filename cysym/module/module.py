"""Module: a thin wrapper around one bound executor for training (MXNet's mx.mod.Module)."""
import logging
import sys
import time
import weakref

import numpy as np

from .. import executor as _executor
from .. import initializer as init
from .. import kvstore as kvs
from .. import metric as metric_module
from .. import model
from .. import ndarray as nd
from .. import optimizer as opt
from .. import random as _random
from ..base import MXNetError, atomic_write
from ..callback import BatchEndParam
from ..context import cpu
from ..io import DataDesc

_LOG = logging.getLogger(__name__)

__all__ = ["BaseModule", "Module"]


def _as_descs(shapes):
    if shapes is None:
        return []
    descs = []
    for item in shapes:
        if isinstance(item, DataDesc):
            descs.append(item)
        else:
            name, shape = item
            descs.append(DataDesc(name, tuple(shape)))
    return descs


# iterator -> (fit seed, epochs whose reset it has seen); see BaseModule._begin_epoch
_ITER_EPOCHS = weakref.WeakKeyDictionary()


def _epoch_seed(fit_seed, epoch):
    """The seed of epoch `epoch`'s random stream, a pure function of (fit_seed, epoch)."""
    return int(np.random.SeedSequence([int(fit_seed), int(epoch)]).generate_state(1, np.uint64)[0])


def _call_all(callbacks, *args):
    if callbacks is None:
        return
    for callback in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:
        callback(*args)


class BaseModule:
    """The training loop shared by modules: fit, score, predict."""

    def __init__(self, logger=_LOG):
        self.logger = logger
        self.binded = False
        self.for_training = False
        self.params_initialized = False
        self.optimizer_initialized = False
        self.fit_history = []   # one dict per epoch of the last fit: see fit

    def forward_backward(self, data_batch):
        """A training forward pass on ``data_batch``, then backward."""
        self.forward(data_batch, is_train=True)
        self.backward()

    def score(self, eval_data, eval_metric, num_batch=None, batch_end_callback=None,
              score_end_callback=None, reset=True, epoch=0, sparse_row_id_fn=None):
        """Run the data through the network and return eval_metric.get_name_value()."""
        if not self.binded or not self.params_initialized:
            raise MXNetError("score: bind the module and initialize its parameters first")
        if reset:
            eval_data.reset()
        eval_metric = metric_module.create(eval_metric)
        eval_metric.reset()
        for nbatch, batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.forward(batch, is_train=False)
            self.update_metric(eval_metric, batch.label)
            _call_all(batch_end_callback, BatchEndParam(epoch, nbatch, eval_metric, locals()))
        _call_all(score_end_callback, BatchEndParam(epoch, None, eval_metric, locals()))
        return eval_metric.get_name_value()

    def iter_predict(self, eval_data, num_batch=None, reset=True):
        """Run the data through the network, batch by batch.

        Yields
        ------
        tuple
            ``(outputs, batch index, batch)``: the outputs without the last batch's padding.
        """
        if reset:
            eval_data.reset()
        for nbatch, batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.forward(batch, is_train=False)
            pad = batch.pad or 0
            outputs = [np.array(out[:out.shape[0] - pad]).view(nd.NDArray) for out in self.get_outputs()]
            yield outputs, nbatch, batch

    def predict(self, eval_data, num_batch=None, merge_batches=True, reset=True,
                always_output_list=False):
        """Outputs over the whole data (padding removed), concatenated across batches."""
        if isinstance(eval_data, (np.ndarray, list)):
            from ..io import NDArrayIter
            eval_data = NDArrayIter(eval_data, batch_size=self.data_shapes[0].shape[0])
        batches = [outputs for outputs, _, _ in self.iter_predict(eval_data, num_batch, reset)]
        if not batches:
            return []
        if not merge_batches:
            return batches
        merged = [np.concatenate([b[i] for b in batches]).view(nd.NDArray) for i in range(len(batches[0]))]
        if len(merged) == 1 and not always_output_list:
            return merged[0]
        return merged

    def fit(self, train_data, eval_data=None, eval_metric="acc", epoch_end_callback=None,
            batch_end_callback=None, kvstore="local", optimizer="sgd",
            optimizer_params=(("learning_rate", 0.01),), eval_end_callback=None,
            eval_batch_end_callback=None, initializer=None, arg_params=None, aux_params=None,
            allow_missing=False, force_rebind=False, force_init=False, begin_epoch=0,
            num_epoch=None, validation_metric=None, monitor=None, sparse_row_id_fn=None,
            progress=None):
        """Train for epochs begin_epoch..num_epoch-1 (MXNet's Module.fit).

        progress: show a tqdm progress bar per epoch; None means 'when stderr is a terminal'.

        Beyond MXNet, each epoch's metrics are appended to ``self.fit_history`` (emptied when fit
        starts): ``{'epoch': e, 'time': seconds, 'train-<metric>': value, ...}``, plus
        ``'validation-<metric>'`` items when eval_data is given; ``cysym.viz.plot_fit_history``
        draws them. With a distributed store, ``'communication-wait'`` holds the seconds this
        worker waited for the gradients' sums, also logged with the epoch's time cost.

        Unlike MXNet, train_data is reset at the start of each epoch (not after it), under that
        epoch's own random stream, so that a run resumed from a checkpoint (begin_epoch > 0,
        optimizer states loaded, cysym.random seeded as before) continues the interrupted run
        bit for bit; see _begin_epoch.
        """
        if num_epoch is None:
            raise MXNetError("fit: please specify num_epoch")
        # Drawn before the parameters are initialized, so a resumed run (which initializes
        # nothing) draws the same value as the run it resumes when both seed the same way.
        fit_seed = _random.next_seed()
        self.bind(data_shapes=train_data.provide_data, label_shapes=train_data.provide_label,
                  for_training=True, force_rebind=force_rebind)
        self.init_params(initializer=initializer if initializer is not None else init.Uniform(0.01),
                         arg_params=arg_params, aux_params=aux_params,
                         allow_missing=allow_missing, force_init=force_init)
        self.init_optimizer(kvstore=kvstore, optimizer=optimizer, optimizer_params=optimizer_params)
        distributed = getattr(self, "_kvstore", None) is not None and self._kvstore.is_distributed
        if distributed:
            # every worker shuffles with rank 0's stream, so that sharded iterators split one
            # global order (see NDArrayIter's part_index)
            seed = np.array([fit_seed], np.uint64)
            self._kvstore._comm.broadcast(seed, "fit seed broadcast")
            fit_seed = int(seed[0])
        if monitor is not None:
            self.install_monitor(monitor)
        saved_seed = getattr(getattr(self, "_optimizer", None), "fit_seed", None)
        if begin_epoch > 0 and saved_seed is not None:
            fit_seed = saved_seed   # resuming: the seed stored with the optimizer states wins
        if getattr(self, "_optimizer", None) is not None:
            self._optimizer.fit_seed = fit_seed   # saved with the optimizer states
        validation_metric = validation_metric or eval_metric
        eval_metric = metric_module.create(eval_metric)
        show_progress = sys.stderr.isatty() if progress is None else progress
        self.fit_history = []
        for epoch in range(begin_epoch, num_epoch):
            tic = time.time()
            waited = self._kvstore.comm_wait_seconds if distributed else 0.0
            eval_metric.reset()
            samples = 0
            self._begin_epoch(train_data, fit_seed, epoch)
            bar = self._progress_bar(train_data, epoch, num_epoch) if show_progress else None
            for nbatch, batch in enumerate(train_data):
                if monitor is not None:
                    monitor.tic()
                self.forward_backward(batch)
                self.update()
                if monitor is not None:
                    monitor.toc_print()
                self.update_metric(eval_metric, batch.label)
                samples += batch.data[0].shape[0] - (batch.pad or 0)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(dict(eval_metric.get_name_value()), refresh=False)
                _call_all(batch_end_callback, BatchEndParam(epoch, nbatch, eval_metric, locals()))
            if bar is not None:
                bar.close()
            elapsed = time.time() - tic
            if distributed:   # before the metrics' own sum, which waits for the slowest worker
                waited = self._kvstore.comm_wait_seconds - waited
            reported = metric_module.across_workers(eval_metric, self._kvstore) if distributed else eval_metric
            for name, value in reported.get_name_value():
                self.logger.info("Epoch[%d] Train-%s=%f", epoch, name, value)
            self.logger.info("Epoch[%d] Time cost=%.3f (%.0f samples/sec)", epoch, elapsed,
                             samples / elapsed if elapsed > 0 else float("inf"))
            record = {"epoch": epoch, "time": elapsed}
            if distributed:
                self.logger.info("Epoch[%d] Communication wait=%.3f (%.0f%% of the time cost)", epoch,
                                 waited, 100 * waited / elapsed if elapsed > 0 else 0.0)
                record["communication-wait"] = waited
            record.update((f"train-{name}", value) for name, value in reported.get_name_value())
            self.fit_history.append(record)
            arg_params, aux_params = self.get_params()
            _call_all(epoch_end_callback, epoch, self.symbol, arg_params, aux_params)
            if eval_data is not None:
                validation = metric_module.create(validation_metric)
                result = self.score(eval_data, validation, score_end_callback=eval_end_callback,
                                    batch_end_callback=eval_batch_end_callback, epoch=epoch)
                if distributed:   # each worker scored its part of the validation data
                    result = metric_module.across_workers(validation, self._kvstore).get_name_value()
                for name, value in result:
                    self.logger.info("Epoch[%d] Validation-%s=%f", epoch, name, value)
                record.update((f"validation-{name}", value) for name, value in result)

    @staticmethod
    def _begin_epoch(train_data, fit_seed, epoch):
        """Make epoch `epoch` the same whether training runs straight through or resumes.

        Each epoch's randomness (the shuffle, Dropout masks) comes from a stream seeded by
        (fit_seed, epoch) alone, and the iterator is reset at the start of the epoch from that
        stream.  A shuffling iterator's order depends on all its earlier resets (each permutes
        the previous order), so an iterator that has not seen epochs 0..epoch-1 of this run (a
        fresh one after Module.load) first replays their resets; that only permutes indices.
        """
        try:
            seen_seed, seen = _ITER_EPOCHS.get(train_data, (None, 0))
        except TypeError:   # not weak-referenceable or not hashable: no record
            seen_seed, seen = None, 0
        first = seen if seen_seed == fit_seed and seen <= epoch else 0
        for replayed in range(first, epoch + 1):
            _random.seed(_epoch_seed(fit_seed, replayed))
            train_data.reset()
        try:
            _ITER_EPOCHS[train_data] = (fit_seed, epoch + 1)
        except TypeError:
            pass

    @staticmethod
    def _progress_bar(train_data, epoch, num_epoch):
        try:
            from tqdm import tqdm
        except ImportError:
            return None
        total = getattr(train_data, "num_batches", None)
        return tqdm(total=total, desc=f"Epoch {epoch + 1}/{num_epoch}", unit="batch")


class Module(BaseModule):
    """A symbol bound once (per input shape) with parameters, an optimizer and an updater."""

    def __init__(self, symbol, data_names=("data",), label_names=("softmax_label",),
                 logger=_LOG, context=None, work_load_list=None, fixed_param_names=None,
                 state_names=None, group2ctxs=None, compression_params=None):
        super().__init__(logger)
        self._symbol = symbol
        self._context = self._one_context(context)
        arguments = symbol.list_arguments()
        self._data_names = list(data_names or [])
        self._label_names = [n for n in (label_names or []) if n in arguments]
        for name in self._data_names:
            if name not in arguments:
                raise MXNetError(f"Module: data name {name!r} is not an argument of the symbol; "
                                 f"arguments are {arguments}")
        self._fixed_param_names = list(fixed_param_names or [])
        inputs = set(self._data_names) | set(self._label_names)
        self._param_names = [n for n in arguments if n not in inputs]
        self._aux_names = symbol.list_auxiliary_states()
        self._output_names = symbol.list_outputs()
        self._exec = None
        self._arg_params = None
        self._aux_params = None
        self._optimizer = None
        self._updater = None
        self._one_call, self._one_call_key = None, None    # see _update_in_one_call
        self._preload_opt_states = None
        self._kvstore = None
        self._update_on_kvstore = False
        self._grad_buckets = None
        self._compression_params = compression_params
        self._data_shapes = []
        self._label_shapes = []
        self._monitor = None

    def _one_context(self, context):
        """MXNet code passes a context or a list of them (one per device, the batch split across
        them); on the CPU one executor does the same work, so a list of CPU contexts is one cpu()."""
        if context is None:
            return cpu()
        if isinstance(context, (list, tuple)):
            if not context:
                raise MXNetError("Module: context is an empty list")
            if len(context) > 1 and all(getattr(c, "device_type", None) == "cpu" for c in context):
                self.logger.info("Module: %d CPU contexts run as one executor on cpu()", len(context))
                return cpu()
            if len(context) == 1:
                return context[0]
            return list(context)   # not all CPU: simple_bind says why it cannot run them
        return context

    # -- properties -------------------------------------------------------------------------

    @property
    def symbol(self):
        """The module's symbol."""
        return self._symbol

    @property
    def data_names(self):
        """The names of the data inputs."""
        return self._data_names

    @property
    def label_names(self):
        """The names of the label inputs."""
        return self._label_names

    @property
    def output_names(self):
        """The names of the symbol's outputs."""
        return self._output_names

    @property
    def data_shapes(self):
        """The bound data inputs, as :class:`cysym.io.DataDesc`."""
        return self._data_shapes

    @property
    def label_shapes(self):
        """The bound label inputs, as :class:`cysym.io.DataDesc`."""
        return self._label_shapes

    @property
    def output_shapes(self):
        """``(name, shape)`` of each output of the bound executor."""
        return [(name, out.shape) for name, out in zip(self._output_names, self._exec.outputs)]

    # -- binding and parameters ----------------------------------------------------------------

    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        """Bind the symbol for these input shapes: one executor, its memory planned.

        Parameters
        ----------
        data_shapes : list of DataDesc or (name, shape)
            One per data name (an iterator's ``provide_data``), in any order.
        label_shapes : list of DataDesc or (name, shape), optional
            An iterator's ``provide_label``.
        for_training : bool
            Whether gradients are computed (``backward``); False binds for inference.
        inputs_need_grad : bool
            Also compute the gradients of the data inputs (:meth:`get_input_grads`).
        force_rebind : bool
            Bind again even if bound (else a warning, and nothing happens).
        shared_module : Module, optional
            Share this module's parameter arrays where they agree.
        grad_req : str
            ``'write'`` or ``'add'`` for the parameters (fixed parameters get ``'null'``).

        Notes
        -----
        Parameters already initialized are kept across a re-bind.
        """
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        data_descs, label_descs = _as_descs(data_shapes), _as_descs(label_shapes)
        # as MXNet: any order; the batches' arrays then come in the order of data_shapes
        if sorted(d.name for d in data_descs) != sorted(self._data_names):
            raise MXNetError(f"bind: data shapes name {[d.name for d in data_descs]}, the module's "
                             f"data_names are {self._data_names}")
        label_descs = [d for d in label_descs if d.name in self._label_names]
        shapes = {d.name: tuple(d.shape) for d in data_descs + label_descs}
        types = {d.name: d.dtype for d in data_descs + label_descs}
        if for_training:
            reqs = {n: ("null" if n in self._fixed_param_names else grad_req) for n in self._param_names}
            reqs.update({n: (grad_req if inputs_need_grad else "null") for n in self._data_names})
        else:
            reqs = "null"
        self._replace_executor(self._symbol.simple_bind(
            self._context, grad_req=reqs, type_dict=types,
            shared_exec=None if shared_module is None else shared_module._exec, **shapes))
        self._data_shapes, self._label_shapes = data_descs, label_descs
        self._grad_req = reqs
        if self._grad_buckets is not None:   # re-bound: the new gradients go in new buckets
            self._bucket_gradients()
        self.binded = True
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        if self.params_initialized:
            # re-binding (or binding a loaded checkpoint) keeps the parameters
            self._exec.copy_params_from(self._arg_params, self._aux_params)
            self._arg_params = {n: self._exec.arg_dict[n] for n in self._param_names}
            self._aux_params = {n: self._exec.aux_dict[n] for n in self._aux_names}

    def reshape(self, data_shapes, label_shapes=None):
        """Re-bind for new input shapes (a new batch size, say): the executor is reshaped, its
        parameter arrays, gradients and the optimizer's state stay shared.  Inputs whose shape
        would change must be given (label_shapes too), as in MXNet."""
        if not self.binded:
            raise MXNetError("reshape: call bind() first")
        data_descs, label_descs = _as_descs(data_shapes), _as_descs(label_shapes)
        if sorted(d.name for d in data_descs) != sorted(self._data_names):
            raise MXNetError(f"reshape: data shapes name {[d.name for d in data_descs]}, the module's "
                             f"data_names are {self._data_names}")
        label_descs = [d for d in label_descs if d.name in self._label_names]
        shapes = {d.name: tuple(d.shape) for d in data_descs + label_descs}
        self._replace_executor(self._exec.reshape(allow_up_sizing=True, **shapes))
        self._data_shapes = data_descs
        self._label_shapes = label_descs or [
            DataDesc(d.name, self._exec.arg_dict[d.name].shape, d.dtype, d.layout) for d in self._label_shapes]
        if self.params_initialized:
            self._arg_params = {n: self._exec.arg_dict[n] for n in self._param_names}
            self._aux_params = {n: self._exec.aux_dict[n] for n in self._aux_names}

    def init_params(self, initializer=None, arg_params=None, aux_params=None, allow_missing=False,
                    force_init=False, allow_extra=False):
        """Fill every parameter: from arg_params/aux_params when given, else the initializer."""
        if self.params_initialized and not force_init:
            return
        if not self.binded:
            raise MXNetError("init_params: call bind before initializing the parameters")
        initializer = initializer if initializer is not None else init.Uniform(0.01)
        attrs = self._symbol.attr_dict()
        for names, given, targets in ((self._param_names, arg_params, self._exec.arg_dict),
                                      (self._aux_names, aux_params, self._exec.aux_dict)):
            if given and not allow_extra:
                extra = [k for k in given if k not in names]
                if extra:
                    raise MXNetError(f"init_params: {extra[0]!r} is not a parameter of the module")
            for name in names:
                target = targets[name]
                if given is not None and name in given:
                    value = np.asarray(given[name])
                    if value.shape != target.shape:
                        raise MXNetError(f"init_params: {name!r} has shape {value.shape}, the "
                                         f"module expects {target.shape}")
                    target[...] = value
                elif given is not None and not allow_missing:
                    raise MXNetError(f"init_params: {name!r} is missing from the given parameters")
                else:
                    initializer(init.InitDesc(name, attrs.get(name, {})), target)
        self._arg_params = {n: self._exec.arg_dict[n] for n in self._param_names}
        self._aux_params = {n: self._exec.aux_dict[n] for n in self._aux_names}
        self.params_initialized = True

    def get_params(self):
        """Copies of (arg_params, aux_params)."""
        if not self.params_initialized:
            raise MXNetError("get_params: the parameters are not initialized")
        return ({n: nd.array(a, dtype=a.dtype) for n, a in self._arg_params.items()},
                {n: nd.array(a, dtype=a.dtype) for n, a in self._aux_params.items()})

    def set_params(self, arg_params, aux_params, allow_missing=False, force_init=True,
                   allow_extra=False):
        """Set the parameters from ``arg_params`` and ``aux_params`` (dicts of arrays, copied).

        Parameters
        ----------
        arg_params, aux_params : dict of str to NDArray
        allow_missing : bool
            Leave parameters not in the dicts as they are (else an error).
        force_init : bool
            Set them even if the parameters are initialized already.
        allow_extra : bool
            Ignore arrays for names the symbol does not have (else an error).
        """
        self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                         allow_missing=allow_missing, force_init=force_init, allow_extra=allow_extra)

    # -- optimizer --------------------------------------------------------------------------------

    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        """Create the optimizer, its updater and, when asked for, the KVStore.

        Parameters
        ----------
        kvstore : str or KVStore
            ``'local'`` (the default: no store on one CPU), ``'device'``, ``'dist_sync'`` ...
        optimizer : str or Optimizer
            A name (``'sgd'``, ``'adam'`` ...) created with ``optimizer_params``, or an instance.
        optimizer_params : dict or tuple of pairs
            The optimizer's arguments; ``rescale_grad`` defaults to 1 / batch size (times the number
            of workers for a distributed store), as in MXNet.
        force_init : bool
            Create it again even if there is one (else a warning, and nothing happens).
        """
        if self.optimizer_initialized and not force_init:
            self.logger.warning("optimizer already initialized, ignoring init_optimizer()")
            return
        if not self.binded or not self.params_initialized:
            raise MXNetError("init_optimizer: bind and initialize the parameters first")
        kvstore, update_on_kvstore = self._create_kvstore(kvstore)
        batch_size = self._data_shapes[0].shape[0]
        if kvstore is not None and kvstore.is_distributed:
            # gradients are summed over the workers: the mean is over every worker's batch
            batch_size *= kvstore.num_workers
        idx2name = dict(enumerate(self._param_names))
        if isinstance(optimizer, str):
            params = dict(optimizer_params)
            # MXNet's default: gradients are summed over the batch, so scale them by 1/batch
            params.setdefault("rescale_grad", 1.0 / batch_size)
            optimizer = opt.create(optimizer, sym=self._symbol, param_idx2name=idx2name, **params)
        elif not isinstance(optimizer, opt.Optimizer):
            raise MXNetError(f"init_optimizer: optimizer must be a name or an Optimizer, not {optimizer!r}")
        else:
            if optimizer.rescale_grad != 1.0 / batch_size:
                self.logger.warning("Optimizer created manually outside Module but rescale_grad is "
                                    "not normalized to 1.0/batch_size/num_workers (%s vs. %s). "
                                    "Is this intended?",
                                    optimizer.rescale_grad, 1.0 / batch_size)
            if not optimizer.idx2name:
                optimizer.idx2name = idx2name.copy()
        self._optimizer = optimizer
        self._updater = opt.get_updater(optimizer)
        self._kvstore, self._update_on_kvstore, self._grad_buckets = kvstore, update_on_kvstore, None
        if kvstore is not None and self._compression_params:
            kvstore.set_gradient_compression(self._compression_params)
        if kvstore is not None and kvstore.is_distributed:
            self._broadcast_params()
            self._bucket_gradients()
        elif kvstore is not None:
            if update_on_kvstore:
                kvstore.set_optimizer(self._optimizer)
            for index, name in enumerate(self._param_names):
                kvstore.init(name, self._arg_params[name])
                if update_on_kvstore:
                    kvstore.pull(name, self._exec.arg_dict[name], priority=-index)
        self.optimizer_initialized = True
        if self._preload_opt_states is not None:
            self.load_optimizer_states(self._preload_opt_states,
                                       allow_pickle=getattr(self, "_preload_allow_pickle", False))
            self._preload_opt_states = None

    def _create_kvstore(self, kvstore):
        """(store or None, whether the store runs the optimizer), as MXNet's _create_kvstore:
        one device and a local type need no store; a distributed store sums the gradients and
        the module's own updater runs on every worker."""
        if kvstore is None:
            return None, False
        if isinstance(kvstore, str):
            if "dist" not in kvstore:
                kvs.create(kvstore)   # refuses unknown names
                return None, False
            kvstore = kvs.create(kvstore)
        elif not isinstance(kvstore, kvs.KVStore):
            raise TypeError(f"kvstore must be KVStore, str or None, not {type(kvstore).__name__}")
        if kvstore.is_distributed:
            return kvstore, False
        return kvstore, "local_allreduce" not in kvstore.type

    def _broadcast_params(self):
        """Rank 0's parameters and auxiliary states on every worker (MXNet's init + pull)."""
        comm = self._kvstore._comm
        for name in self._param_names:
            comm.broadcast(self._exec.arg_dict[name], f"broadcast of parameter {name!r}")
        for name in self._aux_names:
            comm.broadcast(self._exec.aux_dict[name], f"broadcast of auxiliary state {name!r}")

    def _bucket_gradients(self):
        """Re-bind with the parameters' gradients as views of the store's bucket buffers, so the
        backward pass writes where the allreduce reads."""
        trained = [n for n in self._param_names
                   if self._exec.grad_dict.get(n) is not None and n not in self._fixed_param_names]
        buckets = kvs.GradientBuckets(
            self._kvstore._comm, [(n, self._exec.grad_dict[n].shape, self._exec.grad_dict[n].dtype)
                                  for n in trained], self._kvstore.bucket_bytes,
            self._kvstore._compression)
        self._grad_buckets = buckets
        self._bind_gradients_in_buckets()

    def _bind_gradients_in_buckets(self):
        """Bind the executor's gradients to the bucket views (re-binding only if they are not),
        and overlap the buckets' sums with its backward pass."""
        views = self._grad_buckets.views
        if all(self._exec.grad_dict[n] is views[n] for n in views if n in self._exec.grad_dict):
            self._grad_buckets.overlap(self._exec)
            return
        grads = {n: views.get(n, g) for n, g in self._exec.grad_dict.items()}
        self._replace_executor(_executor.bind(
            self._symbol, self._context, self._exec.arg_dict, args_grad=grads,
            grad_req=self._grad_req, aux_states=self._exec.aux_dict))

    def _share_kvstore(self, shared):
        """Sum gradients and update through module `shared`'s store and buckets (a
        BucketingModule's bucket, whose parameters and gradients are the default bucket's)."""
        self._kvstore, self._update_on_kvstore = shared._kvstore, shared._update_on_kvstore
        self._grad_buckets = shared._grad_buckets
        if self._grad_buckets is not None:
            self._bind_gradients_in_buckets()

    def update(self):
        """One optimizer step on every trainable parameter, from the current gradients (summed
        over the workers first when the store is distributed)."""
        if not self.optimizer_initialized:
            raise MXNetError("update: call init_optimizer first")
        if self._grad_buckets is not None:
            self._grad_buckets.finish()
        if self._kvstore is None and self._update_in_one_call():
            return
        for index, name in enumerate(self._param_names):
            grad = self._exec.grad_dict.get(name)
            if grad is None or name in self._fixed_param_names:
                continue
            weight = self._exec.arg_dict[name]
            if self._update_on_kvstore:
                self._kvstore.push(name, grad, priority=-index)
                self._kvstore.pull(name, weight, priority=-index)
                continue
            if self._kvstore is not None and self._grad_buckets is None:
                self._kvstore.push(name, grad, priority=-index)
                self._kvstore.pull(name, grad, priority=-index)
            self._updater(index, grad, weight)

    def _update_in_one_call(self):
        """Whether one kernel call (optimizer.SGDStep) just updated every trained parameter, as
        the updater called on each would have: plain SGD or momentum, float32/float64 arrays."""
        key = (self._exec, self._updater, self._updater.optimizer, self._updater.states)
        if self._one_call_key is None or any(a is not b for a, b in zip(key, self._one_call_key)):
            trained = [(index, name) for index, name in enumerate(self._param_names)
                       if self._exec.grad_dict.get(name) is not None and name not in self._fixed_param_names]
            self._one_call = opt.SGDStep.create(
                self._updater, [index for index, _ in trained],
                [self._exec.arg_dict[name] for _, name in trained],
                [self._exec.grad_dict[name] for _, name in trained])
            self._one_call_key = key
        return self._one_call is not None and self._one_call()

    def save_optimizer_states(self, fname):
        """Write the optimizer states (rank 0 only in a distributed job: they are identical)."""
        if kvs.writes_checkpoints():
            atomic_write(fname, self._active_updater().get_states(dump_optimizer=True))

    def _active_updater(self):
        """The updater holding the optimizer states: the store's when it runs the optimizer."""
        return self._kvstore._updater if self._update_on_kvstore else self._updater

    def load_optimizer_states(self, fname, allow_pickle=False):
        """Restore the optimizer states saved by save_optimizer_states / save_checkpoint.

        allow_pickle=True also reads MXNet's (and older cysym's) pickled .states files; unpickling
        runs any code the file contains, so only for files you trust."""
        updater = self._active_updater()
        with open(fname, "rb") as f:
            updater.set_states(f.read(), allow_pickle=allow_pickle, source=str(fname))
        self._optimizer = updater.optimizer

    # -- running ----------------------------------------------------------------------------------

    def forward(self, data_batch, is_train=None):
        """Run the network on one batch.

        Parameters
        ----------
        data_batch : DataBatch
            ``data`` (and ``label``) arrays in the order of the bound shapes. A batch of another
            size re-binds the module for it (:meth:`reshape`), as MXNet does.
        is_train : bool, optional
            Training mode (Dropout active, BatchNorm on batch statistics); default: as bound.
        """
        if not self.binded or not self.params_initialized:
            raise MXNetError("forward: bind the module and initialize its parameters first")
        is_train = self.for_training if is_train is None else is_train
        data = list(data_batch.data)
        labels = list(data_batch.label or [])
        if data and tuple(data[0].shape) != tuple(self._data_shapes[0].shape):
            self._reshape_for(data, labels)
        for name, value in zip(self._bound_data_names(), data):
            self._exec.arg_dict[name][...] = value
        if labels and self._label_names:
            for name, value in zip(self._bound_label_names(), labels):
                self._exec.arg_dict[name][...] = np.asarray(value).reshape(self._exec.arg_dict[name].shape)
        self._exec.forward(is_train=is_train)

    def _bound_data_names(self):
        """Data names in the order of the bound data_shapes: the order of a batch's arrays."""
        return [d.name for d in self._data_shapes]

    def _bound_label_names(self):
        return [d.name for d in self._label_shapes] or self._label_names

    def _reshape_for(self, data, labels):
        data_names, label_names = self._bound_data_names(), self._bound_label_names()
        shapes = {n: tuple(d.shape) for n, d in zip(data_names, data)}
        shapes.update({n: tuple(np.shape(l)) for n, l in zip(label_names, labels)})
        self._replace_executor(self._exec.reshape(partial_shaping=True, **shapes))
        self._data_shapes = [DataDesc(d.name, shapes[d.name], d.dtype, d.layout) for d in self._data_shapes]
        self._label_shapes = [DataDesc(n, shapes[n]) for n in label_names if n in shapes]
        self._arg_params = {n: self._exec.arg_dict[n] for n in self._param_names}
        self._aux_params = {n: self._exec.aux_dict[n] for n in self._aux_names}

    def _replace_executor(self, executor):
        """Use `executor` from now on; an installed monitor follows it."""
        if self._monitor is not None:
            self._monitor.exes = [e for e in self._monitor.exes if e is not self._exec]
            self._monitor.install(executor)
        if self._grad_buckets is not None:
            self._grad_buckets.overlap(executor)
        self._exec = executor

    def install_monitor(self, mon):
        """Report the executor's arrays to mx.mon.Monitor `mon` (also after reshapes)."""
        if not self.binded:
            raise MXNetError("install_monitor: call bind() first")
        self._monitor = mon
        mon.install(self._exec)

    def backward(self, out_grads=None):
        """Compute the gradients of the last forward pass (a training one).

        Parameters
        ----------
        out_grads : list of NDArray, optional
            Head gradients, for outputs that are not loss heads.
        """
        if not self.for_training:
            raise MXNetError("backward: the module was bound with for_training=False")
        self._exec.backward(out_grads)

    def get_outputs(self, merge_multi_context=True):
        """The outputs of the last forward pass.

        Returns
        -------
        list of NDArray
            The executor's own arrays (valid until the next forward); ``merge_multi_context`` is
            accepted for compatibility (one executor, nothing to merge).
        """
        return list(self._exec.outputs)

    def get_input_grads(self, merge_multi_context=True):
        """The gradients of the data inputs from the last backward (bind with ``inputs_need_grad=True``).

        Returns
        -------
        list of NDArray
        """
        if not self.inputs_need_grad:
            raise MXNetError("get_input_grads: bind with inputs_need_grad=True")
        return [self._exec.grad_dict[n] for n in self._bound_data_names()]

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        """Add the last forward pass's outputs, against ``labels``, to ``eval_metric``."""
        eval_metric.update(list(labels or []), self.get_outputs())

    # -- checkpoints --------------------------------------------------------------------------------

    def save_params(self, fname):
        """Write the parameters to ``fname`` in MXNet's ``.params`` format (``arg:<name>`` and
        ``aux:<name>`` keys).
        """
        arg_params, aux_params = self.get_params()
        save_dict = {f"arg:{k}": v for k, v in arg_params.items()}
        save_dict.update({f"aux:{k}": v for k, v in aux_params.items()})
        nd.save(fname, save_dict)

    def load_params(self, fname):
        """Set the parameters from a ``.params`` file (MXNet's or cysym's), see :meth:`save_params`."""
        arg_params, aux_params = model.split_params(nd.load(fname), fname)
        self.set_params(arg_params, aux_params)

    def save_checkpoint(self, prefix, epoch, save_optimizer_states=False, remove_amp_cast=True):
        """prefix-symbol.json, prefix-%04d.params and (optionally) prefix-%04d.states.

        Everything is encoded before any file is written, so a failure (a parameter or an
        optimizer that cannot be saved) leaves an existing checkpoint untouched."""
        arg_params, aux_params = self.get_params()
        files = model.checkpoint_files(prefix, epoch, self._symbol, arg_params, aux_params)
        if save_optimizer_states:
            if not self.optimizer_initialized:
                raise MXNetError("save_checkpoint: save_optimizer_states needs init_optimizer first")
            files.append((f"{prefix}-{epoch:04d}.states",
                          self._active_updater().get_states(dump_optimizer=True)))
        model.write_files(files)
        if not kvs.writes_checkpoints():
            return
        self.logger.info('Saved checkpoint to "%s-%04d.params"', prefix, epoch)
        if save_optimizer_states:
            self.logger.info('Saved optimizer state to "%s-%04d.states"', prefix, epoch)

    @staticmethod
    def load(prefix, epoch, load_optimizer_states=False, allow_pickle=False, **kwargs):
        """A Module from a checkpoint; parameters are set when it is bound, optimizer states (when
        load_optimizer_states) by init_optimizer. allow_pickle=True also reads pickled .states
        files (MXNet's, older cysym's): unpickling runs any code the file contains."""
        symbol, arg_params, aux_params = model.load_checkpoint(prefix, epoch)
        module = Module(symbol=symbol, **kwargs)
        module._arg_params, module._aux_params = arg_params, aux_params
        module.params_initialized = True
        if load_optimizer_states:
            module._preload_opt_states = f"{prefix}-{epoch:04d}.states"
            module._preload_allow_pickle = allow_pickle
        return module
