// One step of rnnstrategy.forecasting.batched.optim.StackedAdam, compiled: per model, gradient-norm
// clipping and Adam in one pass over its numbers, instead of a dozen PyTorch operations
// that each read and write every model's parameters, gradients and moments. See optim.py
// for the maths (torch.optim.Adam's, and clip_grad_norm_'s rule) and native.py, which
// builds and loads this file.
//
// Each model is updated on its own, in a fixed order: its numbers do not depend on which
// other models share the call.

#include <cmath>
#include <cstdint>

namespace {

constexpr int LANES = 16;  // partial sums of the squared gradient: a fixed order that vectorises

// Sum of squares of n floats: LANES running sums, then added in order.
float sum_of_squares(const float* g, std::int64_t n, float* lanes) {
    for (int l = 0; l < LANES; ++l) lanes[l] = 0.0f;
    std::int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; ++l) lanes[l] += g[i + l] * g[i + l];
    for (int l = 0; i < n; ++i, ++l) lanes[l] += g[i] * g[i];
    float total = 0.0f;
    for (int l = 0; l < LANES; ++l) total += lanes[l];
    return total;
}

}  // namespace

extern "C" {

// params[k], grads[k]: part k's (M, sizes[k]) rows, contiguous; m, v: (M, width) moments,
// each model's parts one after the other in its row. For each model with active[m]:
// clip its gradient to a total norm of max_norm (if max_norm > 0), then
//   m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g^2;
//   p += (m step_size[m]) / (sqrt(v) / correction2_sqrt[m] + eps).
// The gradients are left as they were (unclipped).
void adam_step(int n_models, int n_parts, const std::int64_t* sizes, float* const* params, const float* const* grads,
               float* m, float* v, std::int64_t width, const std::uint8_t* active, const float* step_size,
               const float* correction2_sqrt, float beta1, float beta2, float eps, float max_norm) {
    const float weight = 1.0f - beta1, keep2 = beta2, add2 = 1.0f - beta2;
    float lanes[LANES];
    for (int k = 0; k < n_models; ++k) {
        if (!active[k]) continue;
        float scale = 1.0f;
        if (max_norm > 0.0f) {
            float squares = 0.0f;
            for (int q = 0; q < n_parts; ++q) squares += sum_of_squares(grads[q] + k * sizes[q], sizes[q], lanes);
            const float clip = max_norm / (std::sqrt(squares) + 1e-6f);
            scale = clip < 1.0f ? clip : 1.0f;
        }
        float* __restrict mk = m + k * width;
        float* __restrict vk = v + k * width;
        const float step = step_size[k], correction = correction2_sqrt[k];
        for (int q = 0; q < n_parts; ++q) {
            float* __restrict p = params[q] + k * sizes[q];
            const float* __restrict g = grads[q] + k * sizes[q];
            for (std::int64_t i = 0; i < sizes[q]; ++i) {
                const float gi = g[i] * scale;
                const float mi = mk[i] + weight * (gi - mk[i]);  // torch's lerp for a weight below 0.5
                const float vi = vk[i] * keep2 + add2 * gi * gi;
                mk[i] = mi;
                vk[i] = vi;
                p[i] += (mi * step) / (std::sqrt(vi) / correction + eps);
            }
            mk += sizes[q];
            vk += sizes[q];
        }
    }
}

}  // extern "C"
