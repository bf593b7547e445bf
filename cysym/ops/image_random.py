"""MXNet's random image transforms (src/operator/image/image_random-inl.h; mx.nd.image,
mx.sym.image): _image_random_flip_left_right, _image_random_flip_top_bottom,
_image_random_brightness, _image_random_contrast, _image_random_saturation, _image_random_hue,
_image_random_color_jitter and _image_random_lighting, on an H x W x C image, C 1 or 3.

Each forward draws new parameters from cysym.random's generator (so `mx.random.seed(n)` repeats
them; the draws are cysym's, not MXNet's bits), with MXNet's distributions:
* the flips: flip with probability 1/2;
* brightness, contrast, saturation, hue: a factor uniform in [min_factor, max_factor); the
  output is x * f (brightness), x * f + (1 - f) * the mean gray level (contrast), gray * (1 - f)
  + x * f (saturation), or the hue turned by f * 360 degrees (hue);
* color_jitter: the four in a random order, each of them whose parameter p is positive with the
  factor 1 + U(-p, p) (hue: U(-p, p));
* lighting: AlexNet's PCA noise (see _image_adjust_lighting) with alphas drawn from
  N(0, alpha_std).
Values are computed in float and saturated into the image's dtype as MXNet's (uint8: clamped to
[0, 255] and truncated); every array dtype is taken.

As in MXNet, the gradient the image receives is the output's gradient unchanged (MXNet's
`_copy`): these are data augmentations, and the draws a derivative would need are not kept.

Where this differs from MXNet 1.9.1:
* saturation computes MXNet's gray value, the blue value times 0.114 (its loop assigns where it
  means to sum), so that results agree with MXNet's;
* hue and lighting return a one-channel image unchanged, and color_jitter with no positive
  parameter returns the image (MXNet leaves those outputs unwritten); the flips write the middle
  column or row of an odd width or height (MXNet's FlipImpl skips it out of place);
* hue maps a turned hue that rounds to 6 sectors, or a NaN, to sector 0 (MXNet reads past its
  table), and wraps large hues with fmod (MXNet's loop of subtractions never ends for them).
"""
import numpy as np

from .. import random as _random
from ..registry import ARRAY_DTYPES, OpDef, Param, register
from .common import kernels
from .image import _flip_shape, _lighting_offsets


class _Draw:
    """The Python call before an image_transform kernel: draws this forward's parameters and
    writes the kernel's steps (count, then code and parameters per step) into `steps`."""

    def __init__(self, op_name, params, steps, step_codes):
        self.kind = op_name[len("_image_random_"):]
        self.params = params
        self.steps = steps
        self.codes = step_codes

    def __call__(self):
        rng = _random.generator()
        steps = self._draw(rng)
        self.steps[:] = 0
        self.steps[0] = len(steps)
        for k, (name, *values) in enumerate(steps):
            # MXNet draws float parameters: round them as it does
            self.steps[1 + 4 * k:1 + 4 * k + 1 + len(values)] = \
                [self.codes[name]] + [float(np.float32(v)) for v in values]

    def _draw(self, rng):
        p = self.params
        if self.kind in ("flip_left_right", "flip_top_bottom"):
            return [] if rng.random() < 0.5 else [(self.kind,)]
        if self.kind in ("brightness", "contrast", "saturation", "hue"):
            return [(self.kind, rng.uniform(p["min_factor"], p["max_factor"]))]
        if self.kind == "lighting":
            alphas = np.float32(rng.normal(0.0, p["alpha_std"], 3))
            return [("lighting",) + tuple(_lighting_offsets(alphas))]
        steps = []
        for kind in rng.permutation(["brightness", "contrast", "saturation", "hue"]):
            jitter = p[kind]
            if jitter > 0:
                factor = rng.uniform(-jitter, jitter)
                steps.append((kind, factor if kind == "hue" else 1.0 + factor))
        return steps


def _random_kernel(b):
    image = kernels("image")
    steps = np.zeros(image.STEP_ARRAY_SIZE, np.float64)
    b.plan.add_python(_Draw(b.node.op.name, b.params, steps, image.STEP_CODES), b.label)
    image.append_image_transform(b.plan, b.inputs[0], b.outputs[0], steps, b.req[0], b.label)


def _register(name, params=(), doc=""):
    register(OpDef(
        name,
        aliases=(f"_npx_{name}",),
        params=params,
        dtypes=ARRAY_DTYPES,
        infer_shape=_flip_shape,
        inplace=[(0, 0)],
        kernel=_random_kernel,
        gradient=lambda g: [g.out_grads[0]],
        doc=doc + " The image has shape (H, W, C), C 1 or 3; its gradient is the output's "
                  "gradient unchanged, as in MXNet.",
    ))


_register("_image_random_flip_left_right",
          doc="Swaps the left and right of the image (the W axis) with probability 1/2.")
_register("_image_random_flip_top_bottom",
          doc="Swaps the top and bottom of the image (the H axis) with probability 1/2.")

_FACTORS = [Param("min_factor", "float", doc="Minimum factor.", low=0.0),
            Param("max_factor", "float", doc="Maximum factor.", low=0.0)]
_register("_image_random_brightness", _FACTORS,
          doc="image * f, f drawn uniformly from [min_factor, max_factor).")
_register("_image_random_contrast", _FACTORS,
          doc="image * f + (1 - f) * its mean gray level (luma 0.299 R + 0.587 G + 0.114 B), f "
              "drawn uniformly from [min_factor, max_factor).")
_register("_image_random_saturation", _FACTORS,
          doc="gray * (1 - f) + image * f, f drawn uniformly from [min_factor, max_factor); gray "
              "is MXNet 1.9.1's, the blue value times 0.114.")
_register("_image_random_hue", _FACTORS,
          doc="The image's hue (in HLS) turned by f * 360 degrees, f drawn uniformly from "
              "[min_factor, max_factor).")
_register("_image_random_color_jitter",
          [Param(name, "float", doc=f"How much to jitter {name}.")
           for name in ("brightness", "contrast", "saturation", "hue")],
          doc="Brightness, contrast, saturation and hue jitter in a random order, each whose "
              "parameter p is positive, with the factor 1 + U(-p, p) (hue: U(-p, p)).")
_register("_image_random_lighting",
          [Param("alpha_std", "float", 0.05, "Level of the lighting noise.")],
          doc="AlexNet's PCA lighting noise with alphas drawn from N(0, alpha_std) for R, G, B.")
