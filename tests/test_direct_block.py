"""The direct convolution's block of sums (cysym/_ops/_direct_block.h), the interleaved
depthwise block (_depthwise_lanes.h) and the normalization layers' one-pass sums
(_moments.h): the plain loops that compilers without GCC's vector extension (MSVC) build give
the sums of the vector version that GCC and Clang build, at every vector width.  Compiled here
with the C compiler that built the kernels."""
import os
import platform
import subprocess
import sysconfig

import numpy as np
import pytest

import cysym._ops
from cysym._ops import cpu

HEADER_DIR = os.path.dirname(cysym._ops.__file__)

# four filters' taps and the offsets of their inputs, as _direct_rows passes them; the program
# prints the eight sums of each type
HARNESS = r"""
#include <stddef.h>
#include <stdio.h>
typedef ptrdiff_t Py_ssize_t;
#include "_direct_block.h"

int main(void) {
    float xf[512], wf[4][20], outf[4 * CYSYM_DIRECT_WIDTH_F];
    double xd[512], wd[4][20], outd[4 * CYSYM_DIRECT_WIDTH_D];
    Py_ssize_t offsets[20];
    for (int i = 0; i < 512; i++) { xf[i] = (float)((i * 37 % 101) - 50) / 7; xd[i] = xf[i]; }
    for (int k = 0; k < 4; k++)
        for (int t = 0; t < 20; t++) { wf[k][t] = (float)((k * 13 + t * 7) % 11 - 5) / 3; wd[k][t] = wf[k][t]; }
    for (int t = 0; t < 20; t++) offsets[t] = (t * 23) % 300;
    cysym_direct_block_f(xf, offsets, 20, wf[0], wf[1], wf[2], wf[3], outf);
    cysym_direct_block_d(xd, offsets, 20, wd[0], wd[1], wd[2], wd[3], outd);
    printf("%d %d\n", (int)CYSYM_DIRECT_WIDTH_F, (int)CYSYM_DIRECT_WIDTH_D);
    for (int j = 0; j < 4 * CYSYM_DIRECT_WIDTH_F; j++) printf("%.9g ", outf[j]);
    printf("\n");
    for (int j = 0; j < 4 * CYSYM_DIRECT_WIDTH_D; j++) printf("%.17g ", outd[j]);
    printf("\n");
    return 0;
}
"""


def _run_harness(tmp_path, name, text, *flags):
    """The lines a C harness prints, compiled with the kernels' C compiler and `flags`."""
    source = tmp_path / f"{name}.c"
    source.write_text(text)
    program = tmp_path / (name + "".join(f.replace("-", "_") for f in flags))
    compiler = (sysconfig.get_config_var("CC") or "cc").split()
    subprocess.run(compiler + ["-O2", "-std=c99", "-I", HEADER_DIR, *flags, str(source), "-o",
                               str(program)], check=True, capture_output=True)
    return subprocess.run([str(program)], check=True, capture_output=True,
                          text=True).stdout.splitlines()


def _sums(tmp_path, *flags):
    lines = _run_harness(tmp_path, "harness", HARNESS, *flags)
    widths = [int(v) for v in lines[0].split()]
    return widths, [np.array(line.split(), float) for line in lines[1:]]


# (compiler flags, floats and doubles in one block of sums: two vectors) of the portable build
# and of each wide build this machine runs (the program runs here)
BUILD_VECTORS = [([], [8, 4])] + [
    (flags, widths) for build, flags, widths in (("avx2", ["-mavx2", "-mfma"], [16, 8]),
                                                ("avx512", ["-mavx512f", "-mavx2", "-mfma"], [32, 16]))
    if platform.machine() in ("x86_64", "AMD64") and cpu.runs(build)]


@pytest.mark.parametrize("vector_flags, block_widths", BUILD_VECTORS,
                         ids=lambda value: " ".join(map(str, value)) or "baseline")
def test_plain_loops_give_the_vector_sums(tmp_path, vector_flags, block_widths):
    widths, vector = _sums(tmp_path, *vector_flags)
    plain_widths, plain = _sums(tmp_path, *vector_flags, "-DCYSYM_PLAIN_DIRECT_BLOCK")
    assert widths == plain_widths == block_widths
    expected = []
    x = np.array([((i * 37 % 101) - 50) / 7 for i in range(512)])
    w = np.array([[((k * 13 + t * 7) % 11 - 5) / 3 for t in range(20)] for k in range(4)])
    offsets = [(t * 23) % 300 for t in range(20)]
    for width in widths:
        expected.append(np.concatenate([sum(w[k, t] * x[offsets[t]:offsets[t] + width]
                                            for t in range(20)) for k in range(4)]))
    for got_vector, got_plain, want in zip(vector, plain, expected):
        np.testing.assert_allclose(got_vector, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got_plain, want, rtol=1e-5, atol=1e-5)


# the interleaved depthwise block (_depthwise_lanes.h) on a 7x9 padded group at stride 1 and 2
LANES_HARNESS = r"""
#include <stddef.h>
#include <stdio.h>
typedef ptrdiff_t Py_ssize_t;
#include "_depthwise_lanes.h"

int main(void) {
    float inf[63 * CYSYM_LANES_F], wf[9 * CYSYM_LANES_F], outf[35 * CYSYM_LANES_F];
    double ind[63 * CYSYM_LANES_D], wd[9 * CYSYM_LANES_D], outd[35 * CYSYM_LANES_D];
    for (int i = 0; i < 63 * CYSYM_LANES_F; i++) inf[i] = (float)((i * 37 % 101) - 50) / 7;
    for (int i = 0; i < 63 * CYSYM_LANES_D; i++) ind[i] = (double)((i * 37 % 101) - 50) / 7;
    for (int i = 0; i < 9 * CYSYM_LANES_F; i++) wf[i] = (float)((i * 13 % 11) - 5) / 3;
    for (int i = 0; i < 9 * CYSYM_LANES_D; i++) wd[i] = (double)((i * 13 % 11) - 5) / 3;
    for (int stride = 1; stride <= 2; stride++) {
        int ho = (7 - 3) / stride + 1, wo = (9 - 3) / stride + 1;
        cysym_depthwise_lanes_f(inf, 9, stride, wf, outf, ho, wo);
        cysym_depthwise_lanes_d(ind, 9, stride, wd, outd, ho, wo);
        for (int j = 0; j < ho * wo * CYSYM_LANES_F; j++) printf("%.9g ", outf[j]);
        printf("\n");
        for (int j = 0; j < ho * wo * CYSYM_LANES_D; j++) printf("%.17g ", outd[j]);
        printf("\n");
    }
    return 0;
}
"""


def _lane_sums(tmp_path, *flags):
    return [np.array(line.split(), float)
            for line in _run_harness(tmp_path, "lanes", LANES_HARNESS, *flags)]


def _lane_reference(lanes, stride, dtype):
    i = np.arange(63 * lanes)
    x = (((i * 37 % 101) - 50) / 7).astype(dtype).reshape(7, 9, lanes)
    w = ((((np.arange(9 * lanes) * 13) % 11) - 5) / 3).astype(dtype).reshape(3, 3, lanes)
    ho, wo = (7 - 3) // stride + 1, (9 - 3) // stride + 1
    return np.array([[sum(w[a, c] * x[oh * stride + a, ow * stride + c] for a in range(3) for c in range(3))
                      for ow in range(wo)] for oh in range(ho)]).ravel()


@pytest.mark.parametrize("vector_flags, block_widths", BUILD_VECTORS,
                         ids=lambda value: " ".join(map(str, value)) or "baseline")
def test_plain_loops_give_the_interleaved_depthwise_sums(tmp_path, vector_flags, block_widths):
    vector = _lane_sums(tmp_path, *vector_flags)
    plain = _lane_sums(tmp_path, *vector_flags, "-DCYSYM_PLAIN_DIRECT_BLOCK")
    expected = [_lane_reference(lanes, stride, dtype) for stride in (1, 2)
                for lanes, dtype in ((16, np.float32), (8, np.float64))]
    for got_vector, got_plain, want in zip(vector, plain, expected, strict=True):
        np.testing.assert_allclose(got_vector, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got_plain, want, rtol=1e-5, atol=1e-5)


# the one-pass sums of _moments.h over 1,000 values (62 blocks of 16: the header leaves the
# last 8 to its caller), shifted as BatchNorm shifts them, and masked as by a ReLU's output
MOMENTS_HARNESS = r"""
#include <stddef.h>
#include <stdio.h>
typedef ptrdiff_t Py_ssize_t;
#include "_moments.h"

int main(void) {
    float af[1000], bf[1000];
    double ad[1000], bd[1000], total, other;
    for (int i = 0; i < 1000; i++) {
        af[i] = (float)((i * 37 % 101) - 20) / 7; ad[i] = af[i];
        bf[i] = (float)((i * 13 % 89) - 40) / 3; bd[i] = bf[i];
    }
    total = 1; other = 2;   /* the sums are added to what the caller holds */
    printf("%d ", (int)cysym_moments_f(af, 1.5, 1000, &total, &other));
    printf("%.17g %.17g\n", total, other);
    total = 1; other = 2;
    printf("%d ", (int)cysym_moments_d(ad, 1.5, 1000, &total, &other));
    printf("%.17g %.17g\n", total, other);
    total = 1; other = 2;
    printf("%d ", (int)cysym_sum_and_products_f(af, bf, -0.5, 1000, &total, &other));
    printf("%.17g %.17g\n", total, other);
    total = 1; other = 2;
    printf("%d ", (int)cysym_sum_and_products_d(ad, bd, -0.5, 1000, &total, &other));
    printf("%.17g %.17g\n", total, other);
    /* masked by y = b > 0: a ReLU's output */
    total = 1; other = 2;
    printf("%d ", (int)cysym_masked_sum_and_products_f(af, af, 0.25, bf, 1000, &total, &other));
    printf("%.17g %.17g\n", total, other);
    total = 1; other = 2;
    printf("%d ", (int)cysym_masked_sum_and_products_d(ad, ad, 0.25, bd, 1000, &total, &other));
    printf("%.17g %.17g\n", total, other);
    return 0;
}
"""


@pytest.mark.parametrize("vector_flags, block_widths", BUILD_VECTORS,
                         ids=lambda value: " ".join(map(str, value)) or "baseline")
def test_plain_loops_give_the_one_pass_moments(tmp_path, vector_flags, block_widths):
    vector = _run_harness(tmp_path, "moments", MOMENTS_HARNESS, *vector_flags)
    plain = _run_harness(tmp_path, "moments", MOMENTS_HARNESS, *vector_flags,
                         "-DCYSYM_PLAIN_MOMENTS")
    i = np.arange(992)
    a = (((i * 37 % 101) - 20) / 7).astype(np.float32).astype(float)
    b = (((i * 13 % 89) - 40) / 3).astype(np.float32).astype(float)
    d = a - 1.5
    masked = np.where(b > 0, a, 0)
    want = [(1 + d.sum(), 2 + (d * d).sum()), (1 + a.sum(), 2 + (a * (b + 0.5)).sum()),
            (1 + masked.sum(), 2 + (masked * (a - 0.25)).sum())]
    assert 0 < np.count_nonzero(masked) < masked.size
    for lines in (vector, plain):
        rows = [[float(v) for v in line.split()] for line in lines]
        assert [row[0] for row in rows] == [992] * 6
        for row, (total, other) in zip(rows, [want[0], want[0], want[1], want[1], want[2],
                                              want[2]], strict=True):
            np.testing.assert_allclose(row[1:], [total, other], rtol=1e-13)
