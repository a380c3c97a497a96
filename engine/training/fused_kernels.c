/* The training graph's sequential loops over frames, one pass each instead of a few torch kernels a frame.
 *
 * Built and loaded by engine/training/fused.py (cc, at first use, cached); the graph falls back to its torch
 * loops where no compiler is at hand. Every function computes what those loops compute, bit for bit, in the same
 * order of operations (tests/test_training_fused.py): compiled without contraction into fused multiply-adds
 * (-ffp-contract=off) and with IEEE arithmetic (no -ffast-math; -fno-trapping-math only lets the compiler use
 * vector selects, which change no value).
 *
 * Tensors are (T, N) row-major: T frames of N = batch x channels values. `r` and `previous` are N-value scratch
 * buffers. `delta_input` may be NULL; otherwise it receives slayer's delta input (change plus residual), which the
 * threshold's gradient needs.
 */

#include <stdint.h>

#define SPANDEX_KERNELS(real, suffix)                                                                            \
                                                                                                                 \
/* One delta-encoder frame: d = change + residual; send d where |d| >= threshold (hardshrink with `below`, the   \
 * largest value under it); keep the rest as residual; the sent value floored to the spike grid. */              \
static inline void delta_frame_##suffix(const real *restrict source, real *restrict previous,           \
                                        real *restrict r, real *restrict out,                                   \
                                        real *restrict delta_input, int64_t n, real below, real step,              \
                                        real inv_step, int first, int relu) {                                   \
    for (int64_t i = 0; i < n; i++) {                                                                               \
        real x = source[i];                                                                                      \
        if (relu) x = x <= (real)0 ? (real)0 : x;                                                                \
        real change = first ? x : x - previous[i];                                                               \
        previous[i] = x;                                                                                         \
        real d = change + r[i];                                                                                  \
        if (delta_input) delta_input[i] = d;                                                                     \
        real sent = (d >= -below && d <= below) ? (real)0 : d;                                                   \
        r[i] = d - sent;                                                                                         \
        out[i] = __builtin_floor##suffix##_(sent * inv_step) * step;                                             \
    }                                                                                                            \
}                                                                                                                \
                                                                                                                 \
/* The input encoder: the delta unit over x (T, N). */                                                           \
void delta_forward_##suffix(const real *restrict x, real *restrict out, real *restrict delta_input,             \
                            real *restrict r, real *restrict previous, int64_t frames, int64_t n, real below,         \
                            real step, real inv_step) {                                                          \
    for (int64_t i = 0; i < n; i++) { r[i] = (real)0; previous[i] = (real)0; }                                      \
    for (int64_t t = 0; t < frames; t++)                                                                            \
        delta_frame_##suffix(x + t * n, previous, r, out + t * n, delta_input ? delta_input + t * n : 0, n,   \
                             below, step, inv_step, t == 0, 0);                                                  \
}                                                                                                                \
                                                                                                                 \
/* A hidden layer after its synapses: sigma (the running sum of `current`, into `sigma`), ReLU, then the delta   \
 * unit. */                                                                                                      \
void sigma_relu_delta_forward_##suffix(const real *restrict current, real *restrict sigma, real *restrict out,  \
                                       real *restrict delta_input, real *restrict r, real *restrict previous,   \
                                       int64_t frames, int64_t n, real below, real step, real inv_step) {             \
    for (int64_t i = 0; i < n; i++) { r[i] = (real)0; previous[i] = (real)0; }                                      \
    for (int64_t t = 0; t < frames; t++) {                                                                          \
        const real *restrict now = current + t * n;                                                              \
        real *restrict frame = sigma + t * n;                                                                    \
        if (t == 0) {                                                                                            \
            for (int64_t i = 0; i < n; i++) frame[i] = now[i];                                                      \
        } else {                                                                                                 \
            const real *restrict before = sigma + (t - 1) * n;                                                   \
            for (int64_t i = 0; i < n; i++) frame[i] = now[i] + before[i];                                          \
        }                                                                                                        \
        delta_frame_##suffix(frame, previous, r, out + t * n, delta_input ? delta_input + t * n : 0, n, below,   \
                             step, inv_step, t == 0, 1);                                                         \
    }                                                                                                            \
}                                                                                                                \
                                                                                                                 \
/* Its backward (slayer's delta gradient, ReLU's, then the running sum's): grad_out (T, N) is the gradient of   \
 * the spikes, sigma the saved running sum; grad_current receives the gradient of the synapses' output. */        \
void sigma_relu_delta_backward_##suffix(const real *restrict grad_out, const real *restrict sigma,              \
                                        real *restrict grad_current, int64_t frames, int64_t n) {                     \
    for (int64_t t = frames - 1; t >= 0; t--) {                                                                     \
        const real *restrict g = grad_out + t * n;                                                               \
        const real *restrict s = sigma + t * n;                                                                  \
        real *restrict out = grad_current + t * n;                                                               \
        if (t == frames - 1) {                                                                                   \
            for (int64_t i = 0; i < n; i++) out[i] = s[i] <= (real)0 ? (real)0 : g[i];                              \
        } else {                                                                                                 \
            const real *restrict g_next = grad_out + (t + 1) * n;                                                \
            const real *restrict later = grad_current + (t + 1) * n;                                             \
            for (int64_t i = 0; i < n; i++) {                                                                       \
                real to_x = g[i] - g_next[i];                                                                    \
                out[i] = (s[i] <= (real)0 ? (real)0 : to_x) + later[i];                                          \
            }                                                                                                    \
        }                                                                                                        \
    }                                                                                                            \
}                                                                                                                \
                                                                                                                 \
/* The output layer's sigma, written frame-major: `current` (T, B, C) summed over frames into out (B, T, C), the \
 * layout the loss multiplies the spectra in; and its backward, from grad (B, T, C) into grad_current (T, B, C). */ \
void sigma_frame_major_forward_##suffix(const real *restrict current, real *restrict out, int64_t frames, int64_t batch, \
                                        int64_t c) {                                                                \
    for (int64_t t = 0; t < frames; t++)                                                                            \
        for (int64_t b = 0; b < batch; b++) {                                                                       \
            const real *restrict now = current + (t * batch + b) * c;                                            \
            real *restrict o = out + (b * frames + t) * c;                                                       \
            if (t == 0) {                                                                                        \
                for (int64_t i = 0; i < c; i++) o[i] = now[i];                                                      \
            } else {                                                                                             \
                const real *restrict before = o - c;                                                             \
                for (int64_t i = 0; i < c; i++) o[i] = now[i] + before[i];                                          \
            }                                                                                                    \
        }                                                                                                        \
}                                                                                                                \
void sigma_frame_major_backward_##suffix(const real *restrict grad, real *restrict grad_current, int64_t frames,    \
                                         int64_t batch, int64_t c) {                                                   \
    for (int64_t t = frames - 1; t >= 0; t--)                                                                       \
        for (int64_t b = 0; b < batch; b++) {                                                                       \
            const real *restrict g = grad + (b * frames + t) * c;                                                \
            real *restrict o = grad_current + (t * batch + b) * c;                                               \
            if (t == frames - 1) {                                                                               \
                for (int64_t i = 0; i < c; i++) o[i] = g[i];                                                        \
            } else {                                                                                             \
                const real *restrict later = grad_current + ((t + 1) * batch + b) * c;                           \
                for (int64_t i = 0; i < c; i++) o[i] = g[i] + later[i];                                             \
            }                                                                                                    \
        }                                                                                                        \
}                                                                                                                \
                                                                                                                 \
/* delay_shift and the axonal delays of neurons sorted by delay: `runs` holds (start, stop, shift) triples, the  \
 * channels [start, stop) arriving `shift` frames late; y[t, b, c] = x[t - shift, b, c] (0 before). */           \
void shift_forward_##suffix(const real *restrict x, real *restrict y, const int64_t *restrict runs, int64_t n_runs,    \
                            int64_t frames, int64_t batch, int64_t c) {                                                   \
    for (int64_t t = 0; t < frames; t++)                                                                            \
        for (int64_t b = 0; b < batch; b++)                                                                         \
            for (int64_t k = 0; k < n_runs; k++) {                                                                  \
                int64_t start = runs[3 * k], stop = runs[3 * k + 1], shift = runs[3 * k + 2];                       \
                real *restrict to = y + (t * batch + b) * c;                                                     \
                if (t < shift) {                                                                                 \
                    for (int64_t i = start; i < stop; i++) to[i] = (real)0;                                         \
                } else {                                                                                         \
                    const real *restrict from = x + ((t - shift) * batch + b) * c;                               \
                    for (int64_t i = start; i < stop; i++) to[i] = from[i];                                         \
                }                                                                                                \
            }                                                                                                    \
}                                                                                                                \
                                                                                                                 \
/* Its backward: grad_x[t] = grad[t + shift] (0 past the end); with `y` (the delayed spikes), each channel's     \
 * delay gradient, slayer's sum over batch and frames of y[t] (g[t+1] - g[t]) (g[T] = 0), accumulated in double  \
 * into grad_delay (c values, zeroed here). */                                                                   \
void shift_backward_##suffix(const real *restrict grad, const real *restrict y, real *restrict grad_x,           \
                             double *restrict grad_delay, const int64_t *restrict runs, int64_t n_runs, int64_t frames,   \
                             int64_t batch, int64_t c) {                                                               \
    if (y)                                                                                                       \
        for (int64_t i = 0; i < c; i++) grad_delay[i] = 0.0;                                                        \
    for (int64_t t = 0; t < frames; t++)                                                                            \
        for (int64_t b = 0; b < batch; b++) {                                                                       \
            real *restrict to = grad_x + (t * batch + b) * c;                                                    \
            for (int64_t k = 0; k < n_runs; k++) {                                                                  \
                int64_t start = runs[3 * k], stop = runs[3 * k + 1], shift = runs[3 * k + 2];                       \
                if (t + shift >= frames) {                                                                       \
                    for (int64_t i = start; i < stop; i++) to[i] = (real)0;                                         \
                } else {                                                                                         \
                    const real *restrict from = grad + ((t + shift) * batch + b) * c;                            \
                    for (int64_t i = start; i < stop; i++) to[i] = from[i];                                         \
                }                                                                                                \
            }                                                                                                    \
            if (!y) continue;                                                                                    \
            const real *restrict now = grad + (t * batch + b) * c;                                               \
            const real *restrict spikes = y + (t * batch + b) * c;                                               \
            if (t + 1 < frames) {                                                                                \
                const real *restrict next = grad + ((t + 1) * batch + b) * c;                                    \
                for (int64_t i = 0; i < c; i++) grad_delay[i] += (double)(spikes[i] * (-now[i] + next[i]));         \
            } else {                                                                                             \
                for (int64_t i = 0; i < c; i++) grad_delay[i] += (double)(spikes[i] * -now[i]);                     \
            }                                                                                                    \
        }                                                                                                        \
}                                                                                                                \
                                                                                                                 \
/* The mask on the noisy spectra (n bins of the batch, frame-major, as the spectra): mask = relu(y + 1); the      \
 * masked real and imaginary parts, and the denoised magnitude mask * |noisy|. */                                \
void mask_forward_##suffix(const real *restrict y, const real *restrict parts, const real *restrict magnitude,   \
                           real *restrict masked, real *restrict denoised_magnitude, int64_t n) {                \
    for (int64_t i = 0; i < n; i++) {                                                                            \
        real m = y[i] + (real)1;                                                                                 \
        m = m <= (real)0 ? (real)0 : m;                                                                          \
        masked[2 * i] = parts[2 * i] * m;                                                                        \
        masked[2 * i + 1] = parts[2 * i + 1] * m;                                                                \
        denoised_magnitude[i] = m * magnitude[i];                                                                \
    }                                                                                                            \
}                                                                                                                \
                                                                                                                 \
/* Its backward: y's gradient from the masked parts' and the denoised magnitude's. */                            \
void mask_backward_##suffix(const real *restrict y, const real *restrict parts, const real *restrict magnitude,  \
                            const real *restrict grad_masked, const real *restrict grad_magnitude,              \
                            real *restrict grad_y, int64_t n) {                                                  \
    for (int64_t i = 0; i < n; i++) {                                                                            \
        /* torch's addcmul: one fused multiply-add onto the first product */                                  \
        real from_parts = __builtin_fma##suffix##_(grad_masked[2 * i + 1], parts[2 * i + 1],                    \
                                                   grad_masked[2 * i] * parts[2 * i]);                           \
        real total = from_parts + grad_magnitude[i] * magnitude[i];                                              \
        grad_y[i] = y[i] + (real)1 <= (real)0 ? (real)0 : total;                                                 \
    }                                                                                                            \
}

#define __builtin_floorf_ __builtin_floorf
#define __builtin_fmaf_ __builtin_fmaf
#define __builtin_fmad_ __builtin_fma
#define __builtin_floord_ __builtin_floor
SPANDEX_KERNELS(float, f)
SPANDEX_KERNELS(double, d)
