"""Emit the C source of nnvisr_core._pixel_kernels, a cffi (API mode) extension module.

Usage: python build_pixel_kernels.py OUTPUT.c      (meson runs it and compiles the result)

Packed rgb24 is the layout numpy converts slowly: each channel is a
stride-3 walk with a cast (read about 1.6 ms and write about 2.7 ms of CPU for
a 1280x720 frame, on a loaded 2-core VM). These loops vectorise (AVX2 where
the CPU has it, chosen at load time): about 0.35 and 0.95 ms there. They use
the same float32 arithmetic as pixels.py (code * gain + offset; code =
rint((x - offset) / gain) clamped to 0..255, NaN to 0), so both paths give
identical results; no fused multiply-add (-ffp-contract=off), and
-fno-trapping-math lets the clamps become vector min/max.
"""

from __future__ import annotations

import sys

import cffi

DECLARATIONS = """
void nnvisr_rgb24_read(const uint8_t *src, ptrdiff_t linesize, int width, int height, float *dst,
                       const float *gain, const float *offset);
int nnvisr_rgb24_write(const float *src, int width, int height, uint8_t *dst, ptrdiff_t linesize,
                       const float *gain, const float *offset);
"""

SOURCE = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* packed R G B rows -> planes R, G, B of width*height floats each. The gains are copied to locals and the
   rows are restrict: uint8_t may alias anything, and without both the rows are not vectorised. */
__attribute__((target_clones("avx2", "default")))
static void nnvisr_rgb24_read(const uint8_t *src, ptrdiff_t linesize, int width, int height, float *dst,
                              const float *gain, const float *offset)
{
    const size_t plane = (size_t)width * height;
    const float g0 = gain[0], g1 = gain[1], g2 = gain[2], o0 = offset[0], o1 = offset[1], o2 = offset[2];
    for (int y = 0; y < height; y++) {
        const uint8_t *restrict s = src + y * linesize;
        float *restrict r = dst + (size_t)y * width;
        float *restrict g = r + plane;
        float *restrict b = g + plane;
        for (int x = 0; x < width; x++) {
            r[x] = (float)s[3 * x] * g0 + o0;
            g[x] = (float)s[3 * x + 1] * g1 + o1;
            b[x] = (float)s[3 * x + 2] * g2 + o2;
        }
    }
}

/* one plane row -> codes: the rounding store of pixels.write_rgb. 1.5 * 2^23 rounds half to even (the default
   rounding mode) for every value the clamp lets through. NaN compares false: 0, as numpy's cast gives on x86. */
__attribute__((target_clones("avx2", "default")))
static void nnvisr_row_codes(const float *restrict s, uint8_t *restrict o, int n, float gain, float offset)
{
    for (int x = 0; x < n; x++) {
        float v = (s[x] - offset) / gain;
        v = v > 0.0f ? v : 0.0f;
        v = v < 255.0f ? v : 255.0f;
        v = (v + 12582912.0f) - 12582912.0f;
        o[x] = (uint8_t)(int32_t)v;
    }
}

__attribute__((target_clones("avx2", "default")))
static void nnvisr_interleave(const uint8_t *restrict r, const uint8_t *restrict g, const uint8_t *restrict b,
                              uint8_t *restrict d, int n)
{
    for (int x = 0; x < n; x++) {
        d[3 * x] = r[x];
        d[3 * x + 1] = g[x];
        d[3 * x + 2] = b[x];
    }
}

/* planes R, G, B of width*height floats -> packed rows; -1 when out of memory */
static int nnvisr_rgb24_write(const float *src, int width, int height, uint8_t *dst, ptrdiff_t linesize,
                              const float *gain, const float *offset)
{
    const size_t plane = (size_t)width * height;
    uint8_t *row = malloc(3 * (size_t)width);
    if (!row)
        return -1;
    for (int y = 0; y < height; y++) {
        for (int c = 0; c < 3; c++)
            nnvisr_row_codes(src + c * plane + (size_t)y * width, row + c * (size_t)width, width, gain[c], offset[c]);
        nnvisr_interleave(row, row + width, row + 2 * (size_t)width, dst + y * linesize, width);
    }
    free(row);
    return 0;
}
"""


def main(output: str) -> None:
    builder = cffi.FFI()
    builder.cdef(DECLARATIONS)
    builder.set_source("nnvisr_core._pixel_kernels", SOURCE)
    builder.emit_c_code(output)


if __name__ == "__main__":
    main(sys.argv[1])
