"""Operator declarations, one module per family; importing this registers them all."""
from . import activation, conv, dense, elemwise, loss, norm, reduce, shape  # noqa: F401
from . import custom  # noqa: F401  (Python operators: cysym.operator)
from . import layers  # noqa: F401
from . import index  # noqa: F401
from . import init_op  # noqa: F401  (_zeros, the RNN cells' begin states)
from . import layout  # noqa: F401
from . import resize  # noqa: F401  (_contrib_AdaptiveAvgPooling2D, _contrib_BilinearResize2D)
from . import sort  # noqa: F401  (topk, sort, argsort)
from . import sequence  # noqa: F401
from . import roi  # noqa: F401  (ROIPooling, _contrib_ROIAlign, _contrib_PSROIPooling)
from . import detection  # noqa: F401  (_contrib_box_nms, MultiBox*, Proposal)
from . import gather  # noqa: F401  (gather_nd, scatter_nd, batch_take, index_copy, ...)
from . import transformer  # noqa: F401
from . import rnn  # noqa: F401  (RNN, _rnn_param_concat)
from . import deformable  # noqa: F401  (_contrib_DeformableConvolution, _contrib_ModulatedDeformableConvolution)
from . import linalg  # noqa: F401  (_linalg_gemm ... _linalg_syevd: mx.sym.linalg, mx.nd.linalg)
from . import random_ops  # noqa: F401  (_random_*, _sample_*, _random_pdf_*: mx.sym.random, mx.nd.random)
from . import spatial  # noqa: F401  (im2col, col2im, GridGenerator, BilinearSampler, SpatialTransformer, Correlation)
from . import update_ops  # noqa: F401  (sgd_update ... lamb_update_phase2, mp_ and multi_ forms)
from . import ctc  # noqa: F401  (CTCLoss, ctc_loss, _contrib_CTCLoss, _contrib_ctc_loss)
from . import misc  # noqa: F401  (diag, khatri_rao, _slice_assign, _split_v2, _histogram, all_finite, amp_cast, ...)
from . import contrib_misc  # noqa: F401  (_contrib_gradientmultiplier, _contrib_round_ste, _contrib_sign_ste, _contrib_quadratic)
from . import image  # noqa: F401  (_image_to_tensor, _image_normalize, _image_flip_*: mx.sym.image, mx.nd.image)
from . import image_random  # noqa: F401  (_image_random_*: mx.nd.image.random_brightness, ...)
from . import contrib_vision  # noqa: F401  (_contrib_RROIAlign)
from . import hawkes  # noqa: F401  (_contrib_hawkesll)
from . import half  # noqa: F401  (_float16_convert: the bind-time float16 pass's conversions)
