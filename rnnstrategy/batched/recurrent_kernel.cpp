// The time-step loops of rnnstrategy.batched.layers, compiled for one cell and one
// hidden size (macros CELL: 0 rnn, 1 gru, 2 lstm; HIDDEN). See native.py, which
// builds and loads this file, and layers.py for the layouts and the maths:
//
//   x    (M, L, B, n_in) the inputs, any strides over models, steps and rows (columns contiguous)
//   xh   (M, L+1, B, K)  rows [h(t-1), 1, ...], K >= H + 1; h(t) is written at row t+1, h(-1) = 0
//   wx   (M, n_in, G)    input weights, transposed, columns in the kernel's order (below)
//   wh   (M, H, G)       recurrent weights, the same way
//   bias (M, G)          both biases, the same order
//   wb   (M, GH, H)      recurrent weights of the GH packed rows that read h(t-1) (GRU: r, z,
//                        u_h), untransposed: the backward pass's d h(t-1) = d a(t) @ wb
//   act  (M, L, B, G)    saved activations: rnn [h]; gru [r, z, n, a_uh]; lstm [i, f, g, o]
//   cs   (M, L, B, H)    lstm cell states
//   d_a  (M, L, B, G)    gradients of the pre-activations, in the kernel's order (optional:
//                        the caller needs them for the inputs' gradient only)
//   dwt  (M, n_in+H+1, G) gradient of the packed weights' x, h and bias columns, transposed,
//                        columns in the kernel's order
//
// Gate order and the doubled rows follow layers._pack: tanh(u) = 2 sigmoid(2u) - 1 with
// the 2 folded into the weights, so every gate is a sigmoid of its packed pre-activation.
// Each model is computed on its own, in a fixed order: its results do not depend on
// which other models share the call, on the batch rows around it, or on the thread.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#ifndef CELL
#error "compile with -DCELL=0|1|2 -DHIDDEN=n"
#endif

namespace {

constexpr int H = HIDDEN;
constexpr int G = CELL == 0 ? H : 4 * H;           // packed pre-activation columns of a row
constexpr int GH = CELL == 0 ? H : CELL == 1 ? 3 * H : 4 * H;  // columns that read h(t-1)

// exp for the sigmoid: Cody-Waite range reduction and a degree-6 polynomial (about one
// ulp); written without branches so that the compiler vectorises the loops that call it.
inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : x;  // keeps 2^n a normal float; sigmoid saturates long before
    x = x > 88.0f ? 88.0f : x;
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;              // x - n ln 2
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;  // 2^n
    return p * __builtin_bit_cast(float, bits);
}

// The gate loops below read and write disjoint rows (or, for the LSTM cell state kept in
// place, the same element in the same iteration): safe to vectorise.
#define VECTOR_LOOP _Pragma("GCC ivdep")

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// ---- small matrix products, register-blocked ----
//
// out(r, c) = start(r, c) + sum_k A(r, k) W(k, c) over one or two operands (k in order,
// the first operand first), for R rows and a strip of CV vectors of 16 columns at a time.
// A is read through strides, so one routine serves x @ W, d a @ W and x^T @ d a. Every
// element is summed in the same order whatever R is, so a row's result does not depend
// on the rows around it.
typedef float vec16 __attribute__((vector_size(64), aligned(4)));

// Column strip: 32 floats when the hidden size allows (gate blocks are whole strips), else 16.
constexpr int CV = H % 32 == 0 ? 2 : H % 16 == 0 ? 1 : 0;  // 0: plain loops instead
constexpr int RT = CV == 2 ? 12 : 16;                       // rows per block: 24 or 16 accumulators
constexpr int STRIP = 16 * CV;

struct Operand {
    const float* a;
    int a_row, a_k;  // A(r, k) = a[r * a_row + k * a_k]
    const float* w;
    int w_k;  // W(k, c) = w[k * w_k + c]
    int depth;
};

inline vec16 load(const float* p) { return *reinterpret_cast<const vec16*>(p); }

template <int R>
inline void block(const float* start, int start_row, const Operand& p, const Operand& q, float* out, int out_row) {
    vec16 acc[R][CV];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < CV; ++v) acc[r][v] = start ? load(start + r * start_row + 16 * v) : vec16{};
    const Operand* operands[2] = {&p, &q};
    for (const Operand* o : operands) {
        for (int k = 0; k < o->depth; ++k) {
            vec16 wk[CV];
            for (int v = 0; v < CV; ++v) wk[v] = load(o->w + k * o->w_k + 16 * v);
            const float* ak = o->a + k * o->a_k;
            for (int r = 0; r < R; ++r) {
                const float ar = ak[r * o->a_row];
                for (int v = 0; v < CV; ++v) acc[r][v] += ar * wk[v];
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < CV; ++v) *reinterpret_cast<vec16*>(out + r * out_row + 16 * v) = acc[r][v];
}

template <int R>
inline void leftover(int rows, const float* start, int start_row, const Operand& p, const Operand& q, float* out,
                     int out_row) {
    if constexpr (R > 0) {
        if (rows == R)
            block<R>(start, start_row, p, q, out, out_row);
        else
            leftover<R - 1>(rows, start, start_row, p, q, out, out_row);
    }
}

// One strip of columns over all rows. start_row 0 repeats one start row (a bias).
inline void strip(int rows, const float* start, int start_row, Operand p, Operand q, float* out, int out_row) {
    int r0 = 0;
    for (; r0 + RT <= rows; r0 += RT) {
        block<RT>(start ? start + r0 * start_row : nullptr, start_row, p, q, out + r0 * out_row, out_row);
        p.a += RT * p.a_row;
        q.a += RT * q.a_row;
    }
    leftover<RT - 1>(rows - r0, start ? start + r0 * start_row : nullptr, start_row, p, q, out + r0 * out_row,
                     out_row);
}

constexpr Operand kNone{nullptr, 0, 0, nullptr, 0, 0};

struct Scratch {
    float* data;
    explicit Scratch(std::size_t floats) : data(static_cast<float*>(std::calloc(floats ? floats : 1, sizeof(float)))) {}
    ~Scratch() { std::free(data); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
};

// ---- forward ----

// Pre-activations of one step, in the kernel's column order (GRU: [u_i, r, z, u_h], so
// that the inputs feed columns [0, 3H) and h(t-1) feeds [H, 4H), both contiguous; the
// others: the packed order, every column fed by both):
//   a = bias + x(t) @ wx + h(t-1) @ wh,   x(t) and h(t-1) read from the rows of xh.
constexpr int X_END = CELL == 1 ? 3 * H : G;  // columns the inputs feed: [0, X_END)
constexpr int H_BEGIN = CELL == 1 ? H : 0;    // columns h(t-1) feeds: [H_BEGIN, G)

inline void pre_activations(int B, int K, int n_in, const float* x_t, int x_row, const float* xh_t, const float* wx,
                            const float* wh, const float* bias, float* out) {
    if constexpr (CV > 0) {
        for (int c = 0; c < G; c += STRIP) {
            const Operand x_part{x_t, x_row, 1, wx + c, G, c < X_END ? n_in : 0};
            const Operand h_part{xh_t, K, 1, wh + c, G, c >= H_BEGIN ? H : 0};
            strip(B, bias + c, 0, x_part, h_part, out + c, G);
        }
    } else {  // sizes that are not whole vectors: plain loops, vectorised by the compiler
        for (int b = 0; b < B; ++b) {
            float acc[G];
            for (int j = 0; j < G; ++j) acc[j] = bias[j];
            for (int k = 0; k < n_in; ++k) {
                const float xr = x_t[b * x_row + k];
                for (int j = 0; j < X_END; ++j) acc[j] += xr * wx[k * G + j];
            }
            for (int k = 0; k < H; ++k) {
                const float hr = xh_t[b * K + k];
                for (int j = H_BEGIN; j < G; ++j) acc[j] += hr * wh[k * G + j];
            }
            for (int j = 0; j < G; ++j) out[b * G + j] = acc[j];
        }
    }
}

// Gates of one step from its pre-activations (kernel order); h(t) into xh, activations
// into act (packed order: rnn [h]; gru [r, z, n, a_uh]; lstm [i, f, g, o]).
inline void forward_rows(int B, int K, const float* pre, const float* h_prev, float* h, float* act,
                         const float* c_prev, float* c) {
    for (int b = 0; b < B; ++b) {
        const float* p = pre + b * G;
        const float* hp = h_prev + b * K;
        float* hn = h + b * K;
        float* a = act + b * G;
        if constexpr (CELL == 0) {
            VECTOR_LOOP
            for (int j = 0; j < H; ++j) {
                const float v = 2.0f * sigmoid(p[j]) - 1.0f;
                hn[j] = v;
                a[j] = v;
            }
        } else if constexpr (CELL == 1) {
            VECTOR_LOOP
            for (int j = 0; j < H; ++j) {
                const float r = sigmoid(p[H + j]);
                const float z = sigmoid(p[2 * H + j]);
                const float a_uh = p[3 * H + j];  // 2 (W_hn h + b_hn)
                const float n = 2.0f * sigmoid(p[j] + r * a_uh) - 1.0f;
                hn[j] = n + z * (hp[j] - n);  // (1 - z) n + z h(t-1)
                a[j] = r;
                a[H + j] = z;
                a[2 * H + j] = n;
                a[3 * H + j] = a_uh;
            }
        } else {
            const float* cp = c_prev + b * H;
            float* cn = c + b * H;
            VECTOR_LOOP
            for (int j = 0; j < H; ++j) {
                const float i = sigmoid(p[j]);
                const float f = sigmoid(p[H + j]);
                const float g = 2.0f * sigmoid(p[2 * H + j]) - 1.0f;
                const float o = sigmoid(p[3 * H + j]);
                const float cv = f * cp[j] + i * g;
                cn[j] = cv;
                hn[j] = o * (2.0f * sigmoid(2.0f * cv) - 1.0f);
                a[j] = i;
                a[H + j] = f;
                a[2 * H + j] = g;
                a[3 * H + j] = o;
            }
        }
    }
}

// One model's inputs: step t's row b is at x + t * step + b * row.
struct Inputs {
    const float* x;
    std::int64_t step;
    int row;
    const float* at(int t) const { return x + t * step; }
};

// Rows [n, B) are padding: not computed; their h(t) is set to zero (finite, so that
// whatever reads them, weighted zero, stays finite).
void forward_model(int L, int B, int n, int K, int n_in, Inputs x, float* xh, const float* wx, const float* wh,
                   const float* bias, float* act, float* cs, bool saving) {
    Scratch pre(static_cast<std::size_t>(B) * G);
    Scratch cells(CELL == 2 && !saving ? static_cast<std::size_t>(B) * H : 0);  // c in place when not saving
    Scratch zeros(CELL == 2 ? static_cast<std::size_t>(B) * H : 0);             // c(-1)
    for (int t = 0; t < L; ++t) {
        const float* xh_t = xh + static_cast<std::size_t>(t) * B * K;
        float* h = xh + static_cast<std::size_t>(t + 1) * B * K;
        pre_activations(n, K, n_in, x.at(t), x.row, xh_t, wx, wh, bias, pre.data);
        const float* c_prev = nullptr;
        float* c = nullptr;
        if constexpr (CELL == 2) {
            if (saving) {
                c = cs + static_cast<std::size_t>(t) * B * H;
                c_prev = t ? c - static_cast<std::size_t>(B) * H : zeros.data;
            } else {
                c = cells.data;  // updated in place: each element reads its old value first
                c_prev = c;
            }
        }
        float* a = act + (saving ? static_cast<std::size_t>(t) * B * G : 0);
        forward_rows(n, K, pre.data, xh_t, h, a, c_prev, c);
        for (int b = n; b < B; ++b) std::memset(h + static_cast<std::size_t>(b) * K, 0, H * sizeof(float));
    }
}

// ---- backward: gate gradients of step t from d h(t) (lstm: and the carried d c) ----

// Writes d_a (B x G, the kernel's column order) and the direct part of d h(t-1) (gru:
// z d h; others 0).
inline void backward_rows(int B, int K, const float* act, const float* h_prev, const float* c_prev, const float* c,
                          const float* d_h, float* d_c, float* d_a, float* d_h_prev) {
    for (int b = 0; b < B; ++b) {
        const float* a = act + b * G;
        const float* dh = d_h + b * H;
        float* da = d_a + b * G;
        float* dp = d_h_prev + b * H;
        if constexpr (CELL == 0) {
            VECTOR_LOOP
            for (int j = 0; j < H; ++j) {
                const float v = dh[j] * (0.5f - 0.5f * a[j] * a[j]);  // h = tanh(a / 2)
                da[j] = v;
                dp[j] = 0.0f;
            }
        } else if constexpr (CELL == 1) {
            const float* hp = h_prev + b * K;
            VECTOR_LOOP
            for (int j = 0; j < H; ++j) {
                const float r = a[j], z = a[H + j], n = a[2 * H + j], a_uh = a[3 * H + j];
                const float d_u = dh[j] * (1.0f - z) * (0.5f - 0.5f * n * n);  // d of n's pre-activation
                const float d_r = d_u * a_uh * r * (1.0f - r);
                const float d_z = dh[j] * (hp[j] - n) * z * (1.0f - z);
                da[j] = d_u;  // u_i
                da[H + j] = d_r;
                da[2 * H + j] = d_z;
                da[3 * H + j] = d_u * r;  // u_h
                dp[j] = dh[j] * z;
            }
        } else {
            const float* cp = c_prev + b * H;
            const float* cn = c + b * H;
            float* dc = d_c + b * H;
            VECTOR_LOOP
            for (int j = 0; j < H; ++j) {
                const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
                const float tc = 2.0f * sigmoid(2.0f * cn[j]) - 1.0f;
                const float dcv = dc[j] + dh[j] * o * (1.0f - tc * tc);
                const float d_i = dcv * g * i * (1.0f - i);
                const float d_f = dcv * cp[j] * f * (1.0f - f);
                const float d_g = dcv * i * (0.5f - 0.5f * g * g);
                const float d_o = dh[j] * tc * o * (1.0f - o);
                da[j] = d_i;
                da[H + j] = d_f;
                da[2 * H + j] = d_g;
                da[3 * H + j] = d_o;
                dc[j] = dcv * f;
                dp[j] = 0.0f;
            }
        }
    }
}

// dwt(rows x G) += [x_t, h(t-1), 1](B x rows)^T @ d_a(B x G): step t's share of the
// weight gradient, every element summed over the batch rows in order (dwt rows: x
// [0, n_in), h [n_in, n_in + H), bias last). The GRU's packed weights have zero blocks
// (u_i reads no h, u_h no x; see layers._pack): their gradient is not computed, stays zero.
inline void accumulate_weight_grad(int B, int n_in, int K, const float* x_t, int x_row, const float* xh_t,
                                   const float* d_a, float* dwt) {
    const int rows = n_in + H + 1;
    if constexpr (CV > 0) {
        for (int c = 0; c < G; c += STRIP) {
            const auto part = [&](const float* a, int a_k, int first, int count) {  // dwt rows [first, first + count)
                float* out = dwt + first * G + c;
                strip(count, out, G, {a, 1, a_k, d_a + c, G, B}, kNone, out, G);
            };
            if (!(CELL == 1 && c >= 3 * H)) part(x_t, x_row, 0, n_in);  // u_h reads no x
            if (!(CELL == 1 && c < H)) part(xh_t, K, n_in, H);          // u_i reads no h
            part(xh_t + H, K, rows - 1, 1);                             // the bias (the ones column)
        }
    } else {
        for (int f = 0; f < rows; ++f) {
            float acc[G];
            for (int j = 0; j < G; ++j) acc[j] = dwt[f * G + j];
            for (int b = 0; b < B; ++b) {
                const float xr = f < n_in ? x_t[b * x_row + f] : xh_t[b * K + f - n_in];
                for (int j = 0; j < G; ++j) acc[j] += xr * d_a[b * G + j];
            }
            for (int j = 0; j < G; ++j) dwt[f * G + j] = acc[j];
        }
    }
}

// d h(t-1) (B x H) += d_ah(B x GH, row stride G) @ wb(GH x H), d_ah: the columns of d_a
// that read h(t-1) (GRU: r, z, u_h; the others: all)
inline void recurrent_grad(int B, const float* d_ah, const float* wb, float* d_h_prev) {
    if constexpr (CV > 0) {
        for (int c = 0; c < H; c += STRIP) strip(B, d_h_prev + c, H, {d_ah, G, 1, wb + c, H, GH}, kNone, d_h_prev + c, H);
    } else {
        for (int b = 0; b < B; ++b) {
            float acc[H];
            for (int j = 0; j < H; ++j) acc[j] = d_h_prev[b * H + j];
            for (int k = 0; k < GH; ++k) {
                const float dr = d_ah[b * G + k];
                for (int j = 0; j < H; ++j) acc[j] += dr * wb[k * H + j];
            }
            for (int j = 0; j < H; ++j) d_h_prev[b * H + j] = acc[j];
        }
    }
}

// d_a (L x B x G) may be null: each step's gradients then live in scratch memory only.
// dwt ((n_in + H + 1) x G, zeroed by the caller) receives the gradient of the packed
// weights' first n_in + H + 1 columns (x, h(t-1), bias), transposed.
// Rows [n, B) are padding (their d h must be zero): skipped; their rows of d_a are zero.
void backward_model(int L, int B, int n, int K, int n_in, Inputs x, const float* xh, const float* act, const float* cs,
                    const float* wb, const float* d_hs, bool sequence, float* d_a, float* dwt) {
    const std::size_t step = static_cast<std::size_t>(B) * H;
    Scratch d_h(step), d_h_prev(step), d_c(CELL == 2 ? step : 0),
        zeros(CELL == 2 ? step : 0), d_a_step(d_a ? 0 : static_cast<std::size_t>(B) * G);
    const float* last = d_hs + (sequence ? (L - 1) * step : 0);
    std::memcpy(d_h.data, last, step * sizeof(float));
    float* now = d_h.data;
    float* before = d_h_prev.data;
    for (int t = L - 1; t >= 0; --t) {
        if (sequence && t < L - 1) {
            const float* extra = d_hs + t * step;
            for (std::size_t e = 0; e < step; ++e) now[e] += extra[e];
        }
        const float* xh_t = xh + static_cast<std::size_t>(t) * B * K;
        const float* c = CELL == 2 ? cs + t * step : nullptr;
        const float* c_prev = CELL == 2 ? (t ? cs + (t - 1) * step : zeros.data) : nullptr;
        float* d_a_t = d_a ? d_a + static_cast<std::size_t>(t) * B * G : d_a_step.data;
        backward_rows(n, K, act + static_cast<std::size_t>(t) * B * G, xh_t, c_prev, c, now, d_c.data, d_a_t, before);
        if (d_a && n < B) std::memset(d_a_t + static_cast<std::size_t>(n) * G, 0, (B - n) * G * sizeof(float));
        accumulate_weight_grad(n, n_in, K, x.at(t), x.row, xh_t, d_a_t, dwt);
        if (t > 0) recurrent_grad(n, d_a_t + G - GH, wb, before);  // h(-1) is a constant zero
        float* swap = now;
        now = before;
        before = swap;
    }
}

}  // namespace

extern "C" {

// Models [m0, m1) of a layer; see the layouts at the top. x's strides are in floats:
// x_model from one model to the next, x_step from one step to the next, x_row from one
// batch row to the next. act and cs hold L steps when saving, else one (cs unused: the
// cell state is kept in scratch memory). rows: per model, how many leading batch rows
// are real (the rest padding), or null for all B.
void recurrent_forward(int m0, int m1, int L, int B, int K, int n_in, const float* x, std::int64_t x_model,
                       std::int64_t x_step, int x_row, float* xh, const float* wx, const float* wh, const float* bias,
                       float* act, float* cs, int saving, const int* rows) {
    const std::size_t depth = saving ? L : 1;
    for (int m = m0; m < m1; ++m) {
        forward_model(L, B, rows ? rows[m] : B, K, n_in, {x + m * x_model, x_step, x_row},
                      xh + static_cast<std::size_t>(m) * (L + 1) * B * K,
                      wx + static_cast<std::size_t>(m) * n_in * G, wh + static_cast<std::size_t>(m) * H * G,
                      bias + static_cast<std::size_t>(m) * G, act + m * depth * B * G,
                      CELL == 2 && saving ? cs + static_cast<std::size_t>(m) * L * B * H : nullptr, saving != 0);
    }
}

// x as in recurrent_forward. d_hs: (M, L, B, H) when sequence, else (M, B, H) (the last
// step's only). d_a may be null (then not written); dwt: (M, n_in + H + 1, G), zeroed by
// the caller.
void recurrent_backward(int m0, int m1, int L, int B, int K, int n_in, const float* x, std::int64_t x_model,
                        std::int64_t x_step, int x_row, const float* xh, const float* act, const float* cs,
                        const float* wb, const float* d_hs, int sequence, float* d_a, float* dwt, const int* rows) {
    const std::size_t step = static_cast<std::size_t>(B) * H;
    for (int m = m0; m < m1; ++m) {
        backward_model(L, B, rows ? rows[m] : B, K, n_in, {x + m * x_model, x_step, x_row},
                       xh + static_cast<std::size_t>(m) * (L + 1) * B * K,
                       act + static_cast<std::size_t>(m) * L * B * G,
                       CELL == 2 ? cs + static_cast<std::size_t>(m) * L * step : nullptr,
                       wb + static_cast<std::size_t>(m) * GH * H, d_hs + m * (sequence ? L : 1) * step,
                       sequence != 0, d_a ? d_a + static_cast<std::size_t>(m) * L * B * G : nullptr,
                       dwt + static_cast<std::size_t>(m) * (n_in + H + 1) * G);
    }
}

}  // extern "C"
