"""Optimizers and the updater (MXNet's mx.optimizer), updating NumPy weights in place.

Each update follows the MXNet 1.x kernel it replaces (`sgd_mom_update`, `adam_update`,
`rmsprop_update`, ...), in the weight's dtype, so trajectories match MXNet's up to float rounding.
`Updater.get_states()` saves the per-parameter states (and optionally the optimizer, with its
update counts and scheduler) as arrays and plain values, without pickle (cysym.optimizer_states);
`set_states()` restores them so a resumed run is bit-for-bit the same.
"""
import math
import warnings

import numpy as np

from . import _ops, optimizer_states
from .ndarray import NDArray
from . import random as _random

__all__ = ["Optimizer", "SGD", "ccSGD", "NAG", "Adam", "AdaGrad", "RMSProp", "AdaDelta", "Signum",
           "FTML", "LAMB", "LARS", "DCASGD", "SGLD", "Adamax", "Nadam", "Ftrl",
           "Updater", "SGDStep", "register", "create", "get_updater"]


def _plain(arr):
    """A base-class ndarray view of arr (same memory): in-place math on it updates arr."""
    return arr.view(np.ndarray) if isinstance(arr, np.ndarray) else np.asarray(arr)


_fused = {}


def _fused_update(name, weight, *args):
    """Run the fused kernel `name` of cysym._ops.optim on the weight in place; a weight the
    kernel cannot write (strided, or not float32/float64) is updated through a float32 copy."""
    kernel = _fused.get(name)
    if kernel is None:
        # loaded when first used, so the pure-Python modules load without the compiled kernels
        kernel = _fused[name] = getattr(_ops.load("optim"), name)
    w = _plain(weight)
    if w.flags.c_contiguous and w.dtype in (np.float32, np.float64):
        kernel(w, *args)
    else:
        copy = np.ascontiguousarray(w, dtype=np.float32)
        kernel(copy, *args)
        w[...] = copy


def _zeros_like(weight, dtype=None):
    """A state array: an NDArray, as MXNet's optimizers make them."""
    return np.zeros(weight.shape, dtype=weight.dtype if dtype is None else dtype).view(NDArray)


def _clip(arr, bound):
    """Clip arr in place into [-bound, bound]."""
    np.clip(arr, -bound, bound, out=arr)
    return arr


class Optimizer:
    """Base class of all optimizers: learning rate (and its schedule), weight decay, per-parameter
    multipliers, gradient rescaling and clipping, and the per-index update counts.

    lr_mult / wd_mult come from the symbol's `__lr_mult__` / `__wd_mult__` attributes, then from
    set_lr_mult / set_wd_mult.  As in MXNet, when param_idx2name is given, parameters whose names
    end in neither `_weight` nor `_gamma` get wd_mult 0 (no weight decay on biases and betas).
    """

    opt_registry = {}

    def __init__(self, rescale_grad=1., param_idx2name=None, wd=0., clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        # as MXNet: a scheduler alone keeps its base_lr; a learning_rate given with it replaces it
        if lr_scheduler is None and learning_rate is None:
            learning_rate = 0.01
        self.lr = learning_rate
        if lr_scheduler is not None and learning_rate is not None and lr_scheduler.base_lr != learning_rate:
            warnings.warn("learning rate from ``lr_scheduler`` has been overwritten by "
                          "``learning_rate`` in optimizer.", UserWarning, stacklevel=3)
            lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.lr_mult = {}
        self.wd_mult = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        self._index_update_count = {}
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        if param_idx2name is None:
            param_idx2name = {}
        if not isinstance(param_idx2name, dict):
            raise TypeError("param_idx2name should be a dict of param indexes to names, "
                            f"not {type(param_idx2name).__name__}")
        self.idx2name = param_idx2name.copy()
        self.sym_info = (sym.attr_dict(), sym.list_arguments()) if sym is not None else ()
        self.param_dict = param_dict if param_dict else {}
        self.set_lr_mult({})
        self.set_wd_mult({})

    # -- registry ---------------------------------------------------------------------------------

    @staticmethod
    def register(klass):
        """Register an optimizer class under its lower-cased name (decorator)."""
        if not isinstance(klass, type):
            raise TypeError(f"register: {klass!r} is not a class")
        name = klass.__name__.lower()
        if name in Optimizer.opt_registry:
            warnings.warn(f"WARNING: New optimizer {klass.__module__}.{klass.__name__} is overriding "
                          f"existing optimizer {Optimizer.opt_registry[name].__module__}."
                          f"{Optimizer.opt_registry[name].__name__}")
        Optimizer.opt_registry[name] = klass
        return klass

    @staticmethod
    def create_optimizer(name, **kwargs):
        """An instance of the optimizer registered as name (case-insensitive)."""
        klass = Optimizer.opt_registry.get(name.lower())
        if klass is None:
            raise ValueError(f"Cannot find optimizer {name}; registered: {sorted(Optimizer.opt_registry)}")
        return klass(**kwargs)

    # -- learning rate and weight decay -------------------------------------------------------------

    @property
    def learning_rate(self):
        """The current learning rate: the scheduler's at this update count, else ``lr``."""
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def set_learning_rate(self, lr):
        """Set ``lr`` (an error when a learning-rate scheduler decides it)."""
        if self.lr_scheduler is not None:
            raise UserWarning("LRScheduler of the optimizer has already been defined. Note that "
                              "set_learning_rate can mutate the value of the learning rate of the "
                              "optimizer only when the LRScheduler of the optimizer is undefined.")
        self.lr = lr

    def set_lr_mult(self, args_lr_mult):
        """Per-parameter lr multipliers {name or index: mult}, on top of the symbol's `__lr_mult__`."""
        self.lr_mult = {}
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and "__lr_mult__" in attr[name]:
                    self.lr_mult[name] = float(attr[name]["__lr_mult__"])
        self.lr_mult.update(args_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        """Per-parameter wd multipliers; names not ending in _weight/_gamma default to 0."""
        self.wd_mult = {}
        for name in self.idx2name.values():
            if not (name.endswith("_weight") or name.endswith("_gamma")):
                self.wd_mult[name] = 0.0
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and "__wd_mult__" in attr[name]:
                    self.wd_mult[name] = float(attr[name]["__wd_mult__"])
        self.wd_mult.update(args_wd_mult)

    def _update_count(self, index):
        """Count one more update of index; num_update is the largest count over all indices."""
        if index not in self._index_update_count:
            self._index_update_count[index] = self.begin_num_update
        self._index_update_count[index] += 1
        self.num_update = max(self._index_update_count[index], self.num_update)

    def _get_lr(self, index):
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        return lr * self._multiplier(index, "lr_mult")

    def _get_wd(self, index):
        return self.wd * self._multiplier(index, "wd_mult")

    def _multiplier(self, index, kind):
        """The lr_mult or wd_mult (`kind`) of parameter `index`: its Gluon parameter's, else
        the one set for the index, else for its name, else 1."""
        if index in self.param_dict:
            return getattr(self.param_dict[index], kind)
        mults = getattr(self, kind)
        if index in mults:
            return mults[index]
        if index in self.idx2name:
            return mults.get(self.idx2name[index], 1.0)
        return 1.0

    # -- states and updates -------------------------------------------------------------------------

    def create_state(self, index, weight):
        """The auxiliary state (momentum, moments...) for one weight; None if it needs none."""
        return None

    # MXNet's SGD, NAG and LARS keep (state, master copy); the others (master copy, state)
    _master_copy_last = False

    def create_state_multi_precision(self, index, weight):
        """create_state, plus a float32 master copy of a float16 weight when multi_precision."""
        if self.multi_precision and weight.dtype == np.float16:
            master = np.array(weight, dtype=np.float32).view(NDArray)
            state = self.create_state(index, master)
            return (state, master) if self._master_copy_last else (master, state)
        if weight.dtype == np.float16 and not self.multi_precision:
            warnings.warn("Accumulating with float16 in optimizer can lead to poor accuracy or slow "
                          "convergence. Consider using multi_precision=True option of the optimizer")
        return self.create_state(index, weight)

    def update(self, index, weight, grad, state):
        """Update weight in place from grad and state (which is updated in place too)."""
        raise NotImplementedError(f"{self.__class__.__name__} does not implement update()")

    def update_multi_precision(self, index, weight, grad, state):
        """``update``, through a float32 master copy when ``multi_precision`` is set for a float16 weight."""
        if self.multi_precision and weight.dtype == np.float16:
            original_state, master = state if self._master_copy_last else state[::-1]
            self.update(index, master, np.asarray(grad, dtype=np.float32).view(NDArray), original_state)
            weight[...] = master.astype(weight.dtype)
        else:
            self.update(index, weight, grad, state)

    def _next_update(self, index):
        """Count one more update of parameter `index`; its learning rate and weight decay now."""
        self._update_count(index)
        return self._get_lr(index), self._get_wd(index)

    def _rescaled(self, grad, dtype, clip_if_set=True):
        """rescale_grad * grad in a new array of the weight's dtype, clipped if clip_gradient is set."""
        g = np.multiply(_plain(grad), self.rescale_grad, dtype=dtype)
        if clip_if_set and self.clip_gradient is not None:
            _clip(g, self.clip_gradient)
        return g

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("param_dict", None)  # set by a trainer, not part of the optimizer's state
        return state

    def __setstate__(self, state):
        self.__dict__ = state
        self.param_dict = {}


register = Optimizer.register
create = Optimizer.create_optimizer


@register
class SGD(Optimizer):
    """SGD with momentum and weight decay (MXNet's sgd_update / sgd_mom_update).

    The update::

        g = clip(rescale_grad * grad, clip_gradient)
        mom = momentum * mom - lr * (g + wd * weight);  weight += mom
        (without momentum: weight = (1 - lr * wd) * weight - lr * g)
    """

    _master_copy_last = True

    def __init__(self, momentum=0.0, lazy_update=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lazy_update = lazy_update  # only meaningful for sparse gradients, which cysym lacks

    def create_state(self, index, weight):
        return _zeros_like(weight) if self.momentum != 0.0 else None

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        # MXNet passes clip_gradient to the kernel only when it is truthy (0 means no clipping)
        _fused_update("sgd_update", weight, grad, lr, wd, self.rescale_grad, self.clip_gradient or -1.0,
                      state, self.momentum)


class SGDStep:
    """One SGD (or momentum) step over many parameters in one kernel call: what an Updater
    holding plain SGD computes when called on each of them in turn (the same update counts,
    learning rates, weight decays and bits), without Python per parameter.  Module.update runs
    its step through one, made by `create` once per bound executor and updater."""

    def __init__(self, updater, indices, weights, grads, moms):
        self.updater, self.optimizer, self.states = updater, updater.optimizer, updater.states
        self.indices, self.weights, self.grads, self.moms = indices, weights, grads, moms
        self._mom_ids = list(map(id, moms))
        self._mults_of = None       # (lr_mult, wd_mult, idx2name) the multipliers were read from
        self._kernels = _ops.load("optim")

    @classmethod
    def create(cls, updater, indices, weights, grads):
        """A step for these parameters (creating their states, as the updater would), or None
        when the updater's optimizer is not plain SGD or an array needs the per-parameter path
        (float16, strided, overlapping, mismatched: that path converts or refuses)."""
        optimizer = updater.optimizer
        if type(optimizer).update is not SGD.update or optimizer.param_dict or not indices:
            return None
        if any(np.shape(g) != np.shape(w) for g, w in zip(grads, weights)):
            return None
        for index, weight in zip(indices, weights):
            if index not in updater.states:
                updater.states[index] = optimizer.create_state_multi_precision(index, weight)
                updater.states_synced[index] = True
        moms = [updater.states[index] for index in indices]
        if not _ops.load("optim").sgd_arrays_direct(weights, grads, moms):
            return None
        return cls(updater, indices, weights, grads, moms)

    def __call__(self):
        """Update every parameter; False (nothing done) when the updater changed since
        `create` (another optimizer or states) or the parameters' update counts differ."""
        updater, optimizer = self.updater, self.optimizer
        if updater.optimizer is not optimizer or updater.states is not self.states:
            return False
        if list(map(id, map(self.states.get, self.indices))) != self._mom_ids:
            return False
        if optimizer.param_dict:
            return False
        mults_of = (optimizer.lr_mult, optimizer.wd_mult, optimizer.idx2name)
        if self._mults_of != mults_of:
            self._lr_mults = np.array([optimizer._multiplier(i, "lr_mult") for i in self.indices])
            self._wd_mults = np.array([optimizer._multiplier(i, "wd_mult") for i in self.indices])
            self._mults_of = tuple(dict(d) for d in mults_of)
        count = self._kernels.count_updates(optimizer._index_update_count, self.indices,
                                            optimizer.begin_num_update)
        if count < 0:
            return False
        optimizer.num_update = max(count, optimizer.num_update)
        lr = optimizer.lr_scheduler(optimizer.num_update) if optimizer.lr_scheduler is not None else optimizer.lr
        self._kernels.sgd_update_many(self.weights, self.grads, self.moms, self._lr_mults, self._wd_mults,
                                      lr, optimizer.wd, optimizer.rescale_grad,
                                      optimizer.clip_gradient or -1.0, optimizer.momentum)
        return True


@register
class ccSGD(SGD):  # noqa: N801  (MXNet's name)
    """[DEPRECATED] Same as SGD, kept for MXNet scripts."""


@register
class NAG(Optimizer):
    """Nesterov accelerated SGD.

    The update::

        g = clip(rescale_grad * grad, clip_gradient) + wd * weight
        mom = momentum * mom + g;  weight -= lr * (g + momentum * mom)
    """

    _master_copy_last = True

    def __init__(self, momentum=0.0, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    def create_state(self, index, weight):
        return _zeros_like(weight) if self.momentum != 0.0 else None

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        w = _plain(weight)
        g = self._rescaled(grad, w.dtype)
        if state is not None:
            mom = _plain(state)
            mom *= self.momentum
            g += wd * w
            mom += g
            g += self.momentum * mom
            w += -lr * g
        else:
            if self.momentum != 0.0:
                raise ValueError("NAG: momentum is set but the state has no momentum buffer")
            w += -lr * (g + wd * w)


@register
class Signum(Optimizer):
    """signSGD / Signum.

    The update::

        g = clip(rescale_grad * grad, clip_gradient) + wd * weight
        mom = momentum * mom - (1 - momentum) * g;  weight = (1 - lr * wd_lh) * weight + lr * sign(mom)
        without momentum: weight = (1 - lr * wd) * weight - lr * sign(clip(rescale_grad * grad))
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, wd_lh=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.wd_lh = wd_lh

    def create_state(self, index, weight):
        return _zeros_like(weight) if self.momentum != 0.0 else None

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        w = _plain(weight)
        g = np.multiply(_plain(grad), self.rescale_grad, dtype=w.dtype)
        if self.clip_gradient:
            _clip(g, self.clip_gradient)
        if state is not None:
            mom = _plain(state)
            g += wd * w
            mom *= self.momentum
            mom -= (1 - self.momentum) * g
            w *= (1 - lr * self.wd_lh)
            w += lr * np.sign(mom)
        else:
            # signsgd_update: the sign of the gradient, with wd as a plain decay
            w *= (1 - lr * wd)
            w -= lr * np.sign(g)


@register
class Adam(Optimizer):
    """Adam (MXNet's adam_update, with the bias correction folded into lr).

    The update::

        lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
        g = clip(rescale_grad * grad + wd * weight, clip_gradient)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        weight -= lr_t * m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 lazy_update=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))  # mean, variance

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        t = self._index_update_count[index]
        coef1 = 1. - self.beta1 ** t
        coef2 = 1. - self.beta2 ** t
        lr *= math.sqrt(coef2) / coef1
        _fused_update("adam_update", weight, grad, state[0], state[1], lr, self.beta1, self.beta2,
                      self.epsilon, wd, self.rescale_grad, self.clip_gradient or -1.0)


@register
class AdaGrad(Optimizer):
    """AdaGrad.

    The update::

        g = clip(rescale_grad * grad, clip_gradient)
        history += g^2;  weight -= lr * (g / sqrt(history + eps) + wd * weight)
    """

    def __init__(self, eps=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        return _zeros_like(weight)  # history

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        w = _plain(weight)
        history = _plain(state)
        g = self._rescaled(grad, w.dtype)
        history += np.square(g)
        div = g / np.sqrt(history + self.float_stable_eps)
        w += (div + w * wd) * -lr


@register
class RMSProp(Optimizer):
    """RMSProp: Tieleman & Hinton (centered=False) or Graves (centered=True).

    The update::

        g = clip(rescale_grad * grad + wd * weight, clip_gradient)
        n = (1 - gamma1) * g^2 + gamma1 * n
        not centered: weight -= lr * g / sqrt(n + epsilon)
        centered:     gm = (1 - gamma1) * g + gamma1 * gm
                      delta = gamma2 * delta - lr * g / sqrt(n - gm^2 + epsilon);  weight += delta
        then weight = clip(weight, clip_weights) if clip_weights is set.
    """

    def __init__(self, learning_rate=0.001, gamma1=0.9, gamma2=0.9, epsilon=1e-8, centered=False,
                 clip_weights=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.centered = centered
        self.epsilon = epsilon
        self.clip_weights = clip_weights

    def create_state(self, index, weight):
        if self.centered:
            return (_zeros_like(weight), _zeros_like(weight), _zeros_like(weight))  # n, g, delta
        return (_zeros_like(weight),)  # n

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        w = _plain(weight)
        g = np.multiply(_plain(grad), self.rescale_grad, dtype=w.dtype)
        g += wd * w
        if self.clip_gradient:
            _clip(g, self.clip_gradient)
        n = _plain(state[0])
        n *= self.gamma1
        n += (1 - self.gamma1) * np.square(g)
        if not self.centered:
            w -= lr * g / np.sqrt(n + self.epsilon)
        else:
            mean_g, delta = _plain(state[1]), _plain(state[2])
            mean_g *= self.gamma1
            mean_g += (1 - self.gamma1) * g
            delta *= self.gamma2
            delta -= lr * g / np.sqrt(n - np.square(mean_g) + self.epsilon)
            w += delta
        if self.clip_weights:
            _clip(w, self.clip_weights)


@register
class AdaDelta(Optimizer):
    """AdaDelta.

    The update::

        g = clip(rescale_grad * grad, clip_gradient)
        acc_g = rho * acc_g + (1 - rho) * g^2
        delta = sqrt(acc_delta + epsilon) / sqrt(acc_g + epsilon) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta^2
        weight -= delta + wd * weight
    """

    def __init__(self, rho=0.90, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))  # accumulated g, accumulated delta

    def update(self, index, weight, grad, state):
        wd = self._get_wd(index)
        self._update_count(index)
        w = _plain(weight)
        # MXNet scales the caller's gradient in place here; we work on a copy instead
        g = self._rescaled(grad, w.dtype)
        acc_g, acc_delta = _plain(state[0]), _plain(state[1])
        acc_g[...] = self.rho * acc_g + (1. - self.rho) * g * g
        current_delta = np.sqrt(acc_delta + self.epsilon) / np.sqrt(acc_g + self.epsilon) * g
        acc_delta[...] = self.rho * acc_delta + (1. - self.rho) * current_delta * current_delta
        w -= current_delta + wd * w


@register
class FTML(Optimizer):
    """Follow the Moving Leader (MXNet's ftml_update).

    The update::

        g = clip(rescale_grad * grad + wd * weight, clip_gradient)
        v = beta2 * v + (1 - beta2) * g^2
        d_t = (1 - beta1^t) / lr * (sqrt(v / (1 - beta2^t)) + epsilon)
        z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d) * weight;  d = d_t
        weight = -z / d_t
    """

    def __init__(self, beta1=0.6, beta2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight), _zeros_like(weight))  # d, v, z

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        t = self._index_update_count[index]
        w = _plain(weight)
        d, v, z = (_plain(a) for a in state)
        g = self._rescaled(grad, w.dtype, clip_if_set=False) + wd * w
        if self.clip_gradient:
            _clip(g, self.clip_gradient)
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        d_t = (1 - self.beta1 ** t) / lr * (np.sqrt(v / (1 - self.beta2 ** t)) + self.epsilon)
        z *= self.beta1
        z += (1 - self.beta1) * g - (d_t - self.beta1 * d) * w
        d[...] = d_t
        w[...] = -z / d_t


@register
class LAMB(Optimizer):
    """Layer-wise adaptive moments (MXNet's lamb_update_phase1/phase2).

    The update::

        g = clip(rescale_grad * grad, clip_gradient)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        u = m_hat / (sqrt(v_hat) + epsilon) + wd * weight   (m_hat = m / (1 - beta1^t), v_hat
            likewise, when bias_correction; else m and v)
        r1 = ||weight|| bounded to [lower_bound, upper_bound];  r2 = ||u||
        weight -= lr * (r1 / r2 if r1 and r2 are non-zero else 1) * u
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 lower_bound=None, upper_bound=None, bias_correction=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.bias_correction = bias_correction

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))  # mean, variance

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        t = self._index_update_count[index]
        w = _plain(weight)
        mean, var = (_plain(a) for a in state)
        g = self._rescaled(grad, w.dtype)
        mean *= self.beta1
        mean += (1 - self.beta1) * g
        var *= self.beta2
        var += (1 - self.beta2) * g * g
        if self.bias_correction:
            update = (mean / (1 - self.beta1 ** t)) / (np.sqrt(var / (1 - self.beta2 ** t)) + self.epsilon)
        else:
            update = mean / (np.sqrt(var) + self.epsilon)
        update += wd * w
        r1 = float(np.linalg.norm(w))
        r2 = float(np.linalg.norm(update))
        if self.lower_bound:
            r1 = max(r1, self.lower_bound)
        if self.upper_bound:
            r1 = min(r1, self.upper_bound)
        ratio = r1 / r2 if r1 != 0 and r2 != 0 else 1.0
        w -= lr * ratio * update


@register
class LARS(Optimizer):
    """Layer-wise adaptive rate scaling (MXNet's LARS: multi_lars then sgd(_mom)_update).

    The update::

        lr_layer = lr * eta * ||w|| / (||grad|| * rescale_grad + wd * ||w|| + eps)
                   (lr for names ending in gamma, beta or bias, or when a norm is zero)
        SGD with lr_layer, and momentum * lr_now / lr_before when momentum_correction

    Only names ending in `_weight` get weight decay.
    """

    _master_copy_last = True

    def __init__(self, momentum=0.0, lazy_update=True, eta=0.001, eps=0,
                 momentum_correction=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.momentum_correction = momentum_correction
        self.lazy_update = lazy_update
        self.eta = eta
        self.eps = eps
        self.last_lr = None
        self.cur_lr = None

    def set_wd_mult(self, args_wd_mult):
        self.wd_mult = {name: 0.0 for name in self.idx2name.values() if not name.endswith("_weight")}
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and "__wd_mult__" in attr[name]:
                    self.wd_mult[name] = float(attr[name]["__wd_mult__"])
        self.wd_mult.update(args_wd_mult)

    def create_state(self, index, weight):
        return _zeros_like(weight) if self.momentum != 0.0 else None

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        now = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        self.last_lr = now if self.cur_lr is None else self.cur_lr
        self.cur_lr = now
        name = self.idx2name.get(index, str(index))
        w = _plain(weight)
        # MXNet computes the layer rate in float32 (multi_sum_sq, multi_lars)
        lr = np.float32(lr)
        if not name.endswith(("gamma", "beta", "bias")):
            w_norm = np.sqrt(np.sum(np.square(w, dtype=np.float32), dtype=np.float32))
            g_norm = np.sqrt(np.sum(np.square(_plain(grad), dtype=np.float32), dtype=np.float32))
            if w_norm > 0 and g_norm > 0:
                lr = lr * np.float32(self.eta) * w_norm / (
                    g_norm * np.float32(self.rescale_grad) + np.float32(wd) * w_norm + np.float32(self.eps))
        lr, wd = float(lr), float(np.float32(wd))
        g = self._rescaled(grad, w.dtype)
        if state is not None:
            momentum = self.momentum
            if self.momentum_correction and self.last_lr != 0:
                momentum *= self.cur_lr / self.last_lr
            mom = _plain(state)
            mom *= momentum
            mom -= lr * (g + wd * w)
            w += mom
        else:
            w -= lr * (g + wd * w)


@register
class DCASGD(Optimizer):
    """Delay-compensated asynchronous SGD.

    The update::

        g = clip(rescale_grad * grad, clip_gradient)
        step = -lr * (g + wd * weight + lamda * g^2 * (weight - previous_weight))
        mom = momentum * mom + step (step alone without momentum)
        previous_weight = weight;  weight += mom

    (MXNet 1.9.1's own DCASGD fails with momentum: it tests an array's truth value.)
    """

    def __init__(self, momentum=0.0, lamda=0.04, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lamda = lamda

    def create_state(self, index, weight):
        # (momentum or None, the weight before the last update)
        return (_zeros_like(weight) if self.momentum != 0.0 else None,
                np.array(_plain(weight), copy=True))

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        w = _plain(weight)
        mom, previous = state
        previous = _plain(previous)
        g = self._rescaled(grad, w.dtype)
        step = -lr * (g + wd * w + self.lamda * g * g * (w - previous))
        if mom is not None:
            mom = _plain(mom)
            mom *= self.momentum
            mom += step
            step = mom
        previous[...] = w
        w += step


@register
class SGLD(Optimizer):
    """Stochastic gradient Langevin dynamics.

    The update::

        g = clip(rescale_grad * grad, clip_gradient)
        weight += -lr / 2 * (g + wd * weight) + N(0, sqrt(lr))   (noise from cysym.random)
    """

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        w = _plain(weight)
        g = self._rescaled(grad, w.dtype)
        w -= lr / 2 * (g + wd * w)
        w += _random.generator().normal(0.0, math.sqrt(lr), size=w.shape).astype(w.dtype)


@register
class Adamax(Optimizer):
    """AdaMax, Adam with the infinity norm.

    The update::

        g = clip(rescale_grad * grad + wd * weight, clip_gradient)
        m = beta1 * m + (1 - beta1) * g;  u = max(beta2 * u, |g|)
        weight -= lr / (1 - beta1^t) * m / u
    """

    def __init__(self, learning_rate=0.002, beta1=0.9, beta2=0.999, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))  # mean, infinity norm

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        t = self._index_update_count[index]
        lr /= (1. - self.beta1 ** t)
        w = _plain(weight)
        m_t, u_t = (_plain(a) for a in state)
        g = self._rescaled(grad, w.dtype, clip_if_set=False) + wd * w
        if self.clip_gradient is not None:
            _clip(g, self.clip_gradient)
        m_t *= self.beta1
        m_t += (1. - self.beta1) * g
        np.maximum(self.beta2 * u_t, np.abs(g), out=u_t)
        w -= lr * m_t / u_t


@register
class Nadam(Optimizer):
    """Nesterov Adam with the warming momentum schedule (Dozat), as MXNet's.

    The update::

        g = clip(rescale_grad * grad + wd * weight, clip_gradient)
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * schedule_decay));  mu_t1 likewise at t + 1
        m_schedule *= mu_t   (one product for the optimizer, over every update)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        m_bar = (1 - mu_t) * g / (1 - m_schedule) + mu_t1 * m / (1 - m_schedule * mu_t1)
        weight -= lr * m_bar / (sqrt(v / (1 - beta2^t)) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 schedule_decay=0.004, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule_decay = schedule_decay
        self.m_schedule = 1.

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))  # mean, variance

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        t = self._index_update_count[index]
        w = _plain(weight)
        g = self._rescaled(grad, w.dtype, clip_if_set=False) + wd * w
        if self.clip_gradient is not None:
            _clip(g, self.clip_gradient)
        momentum_t = self.beta1 * (1. - 0.5 * (0.96 ** (t * self.schedule_decay)))
        momentum_t_1 = self.beta1 * (1. - 0.5 * (0.96 ** ((t + 1) * self.schedule_decay)))
        self.m_schedule = self.m_schedule * momentum_t
        m_schedule_next = self.m_schedule * momentum_t_1
        m_t, v_t = (_plain(a) for a in state)
        m_t *= self.beta1
        m_t += (1. - self.beta1) * g
        v_t *= self.beta2
        v_t += (1. - self.beta2) * g * g
        m_t_bar = ((1. - momentum_t) * g / (1. - self.m_schedule)
                   + momentum_t_1 * m_t / (1. - m_schedule_next))
        w -= lr * m_t_bar / (np.sqrt(v_t / (1. - self.beta2 ** t)) + self.epsilon)


@register
class Ftrl(Optimizer):
    """FTRL-Proximal (MXNet's ftrl_update).

    The update::

        g = clip(rescale_grad * grad, clip_gradient)
        z += g - (sqrt(n + g^2) - sqrt(n)) * weight / lr;  n += g^2
        weight = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)
    """

    def __init__(self, lamda1=0.01, learning_rate=0.1, beta=1, **kwargs):
        super().__init__(**kwargs)
        self.lamda1 = lamda1
        self.beta = beta
        self.lr = learning_rate

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))  # z, n

    def update(self, index, weight, grad, state):
        lr, wd = self._next_update(index)
        w = _plain(weight)
        z, n = (_plain(a) for a in state)
        g = self._rescaled(grad, w.dtype)
        z += g - (np.sqrt(n + g * g) - np.sqrt(n)) * w / lr
        n += g * g
        w[...] = (np.sign(z) * self.lamda1 - z) / ((self.beta + np.sqrt(n)) / lr + wd) * (np.abs(z) > self.lamda1)


class Updater:
    """`updater(index, grad, weight)`: create the index's state on first use, then update in place.

    index, grad and weight may also be equal-length lists (one update per entry).
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.states = {}
        self.states_synced = {}

    def __call__(self, index, grad, weight):
        if isinstance(index, (list, tuple)):
            if not (len(index) == len(grad) == len(weight)):
                raise ValueError(f"Updater: {len(index)} indices, {len(grad)} gradients and "
                                 f"{len(weight)} weights")
            for i, g, w in zip(index, grad, weight):
                self._update_one(i, g, w)
        else:
            self._update_one(index, grad, weight)

    def _update_one(self, index, grad, weight):
        if tuple(np.shape(grad)) != tuple(np.shape(weight)):
            name = self.optimizer.idx2name.get(index, index)
            raise ValueError(f"Updater: parameter {name!r} has shape {tuple(np.shape(weight))} but "
                             f"its gradient has shape {tuple(np.shape(grad))}")
        if index not in self.states:
            self.states[index] = self.optimizer.create_state_multi_precision(index, weight)
            self.states_synced[index] = True
        self.optimizer.update_multi_precision(index, weight, grad, self.states[index])

    def set_states(self, states, allow_pickle=False, source="<optimizer states>"):
        """Restore from get_states() bytes: the states, and the optimizer too if it was dumped.

        A pickle (MXNet's .states files, cysym's before cysym.optimizer_states) is read only with
        allow_pickle=True: unpickling runs any code the file contains."""
        states, optimizer = optimizer_states.loads(states, source, allow_pickle)
        self.states = states
        if optimizer is not None:
            self.optimizer = optimizer
        self.states_synced = dict.fromkeys(self.states.keys(), False)

    def get_states(self, dump_optimizer=False):
        """The states (and the optimizer, with its update counts, if dump_optimizer) as the bytes
        of an NDArray file with a JSON description (cysym.optimizer_states): no pickle."""
        return optimizer_states.dumps(self.states, self.optimizer if dump_optimizer else None)


def get_updater(optimizer):
    """An Updater for optimizer (MXNet's mx.optimizer.get_updater)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"get_updater: expected an Optimizer, not {type(optimizer).__name__}")
    return Updater(optimizer)

