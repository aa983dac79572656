// The time-step loops of rnnstrategy.forecasting.batched.layers, compiled for one cell and one
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
// which other models share the call, on the batch rows around it, or on the thread. Work
// comes in units of one model's rows (native.py deals them to threads): the rows of a
// step are independent until the weight gradient sums over them, so a model may be split
// by rows, and its weight gradient (by column strips) then runs after its rows, summed in
// the order a whole-model unit sums it.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

// 16-float vectors are passed between inlined functions only: no ABI concerns.
#pragma GCC diagnostic ignored "-Wpsabi"

#ifndef CELL
#error "compile with -DCELL=0|1|2 -DHIDDEN=n"
#endif

namespace {

constexpr int H = HIDDEN;
constexpr int G = CELL == 0 ? H : 4 * H;           // packed pre-activation columns of a row
constexpr int GH = CELL == 0 ? H : CELL == 1 ? 3 * H : 4 * H;  // columns that read h(t-1)

// ---- the gate maths, on one hidden unit (float) or on 16 at once (f16) ----
//
// The gate loops run over whole vectors of hidden units when H is a multiple of 16 (the
// compiler then has nothing to guess), else one unit at a time, vectorised by the compiler.
typedef float f16 __attribute__((vector_size(64)));
typedef std::int32_t i16 __attribute__((vector_size(64)));
using Lanes = std::conditional_t<H % 16 == 0, f16, float>;
constexpr int LANES = sizeof(Lanes) / sizeof(float);

template <class T>  // from and to any float address (memcpy: no alignment assumed)
inline T at(const float* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class T>
inline void put(float* p, T v) { std::memcpy(p, &v, sizeof v); }

// The saved activations are written once and read back by the backward pass only after
// every model's forward: with STREAM (whole vectors, 64-byte aligned rows) they bypass the
// cache instead of evicting the step's working set, and skip the read before the write.
template <bool STREAM, class T>
inline void save(float* p, T v) {
#ifdef __AVX512F__
    if constexpr (STREAM && sizeof(T) == 64) {
        _mm512_stream_ps(p, v);
        return;
    }
#endif
    put(p, v);
}
inline void stream_fence() {
#ifdef __AVX512F__
    _mm_sfence();
#endif
}

inline float clamp(float x, float lo, float hi) {
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}
inline f16 clamp(f16 x, float lo, float hi) {
#ifdef __AVX512F__
    return _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
#else
    x = x < lo ? f16{} + lo : x;
    return x > hi ? f16{} + hi : x;
#endif
}
inline std::int32_t to_int(float x) { return static_cast<std::int32_t>(x); }
inline i16 to_int(f16 x) { return __builtin_convertvector(x, i16); }

// 1 / d: a division for one unit; on 16 units with AVX-512, the 14-bit reciprocal estimate
// and one Newton step (within about two ulps, and much cheaper than a division).
inline float reciprocal(float d) { return 1.0f / d; }
inline f16 reciprocal(f16 d) {
#ifdef __AVX512F__
    const f16 r = _mm512_rcp14_ps(d);
    return r * (2.0f - d * r);
#else
    return 1.0f / d;
#endif
}

// exp for the sigmoid: Cody-Waite range reduction and a degree-6 polynomial (about one
// ulp), without branches.
template <class T>
inline T exp_approx(T x) {
    x = clamp(x, -87.0f, 88.0f);  // keeps 2^n a normal float; sigmoid saturates long before
    const T n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
    const T r = (x - n * 0.693359375f) + n * 2.12194440e-4f;              // x - n ln 2
    T p = 1.9875691500e-4f + T{};
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const auto bits = (to_int(n) + 127) << 23;  // 2^n
    return p * __builtin_bit_cast(T, bits);
}

template <class T>
inline T sigmoid(T x) { return reciprocal(1.0f + exp_approx(-x)); }

// The gate loops read and write disjoint rows (or, for the LSTM cell state kept in
// place, the same element in the same iteration): safe to vectorise.
#define VECTOR_LOOP _Pragma("GCC ivdep")

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

// Gates of one step from its pre-activations (kernel order) for hidden units [j, j + lanes):
// h(t) into hn, activations into a (packed order: rnn [h]; gru [r, z, n, a_uh]; lstm
// [i, f, g, o]); lstm: c(t) into cn (may be cp: each unit reads its old value first).
template <class T, bool STREAM>
inline void forward_units(int j, const float* p, const float* hp, float* hn, float* a, const float* cp, float* cn) {
    if constexpr (CELL == 0) {
        const T v = 2.0f * sigmoid(at<T>(p + j)) - 1.0f;
        put(hn + j, v);
        save<STREAM>(a + j, v);
    } else if constexpr (CELL == 1) {
        const T r = sigmoid(at<T>(p + H + j));
        const T z = sigmoid(at<T>(p + 2 * H + j));
        const T a_uh = at<T>(p + 3 * H + j);  // 2 (W_hn h + b_hn)
        const T n = 2.0f * sigmoid(at<T>(p + j) + r * a_uh) - 1.0f;
        put(hn + j, n + z * (at<T>(hp + j) - n));  // (1 - z) n + z h(t-1)
        save<STREAM>(a + j, r);
        save<STREAM>(a + H + j, z);
        save<STREAM>(a + 2 * H + j, n);
        save<STREAM>(a + 3 * H + j, a_uh);
    } else {
        const T i = sigmoid(at<T>(p + j));
        const T f = sigmoid(at<T>(p + H + j));
        const T g = 2.0f * sigmoid(at<T>(p + 2 * H + j)) - 1.0f;
        const T o = sigmoid(at<T>(p + 3 * H + j));
        const T cv = f * at<T>(cp + j) + i * g;
        put(cn + j, cv);
        put(hn + j, o * (2.0f * sigmoid(2.0f * cv) - 1.0f));
        save<STREAM>(a + j, i);
        save<STREAM>(a + H + j, f);
        save<STREAM>(a + 2 * H + j, g);
        save<STREAM>(a + 3 * H + j, o);
    }
}

// Gates of one step from its pre-activations for B rows: h(t) into xh, activations into act.
template <bool STREAM>
inline void forward_rows(int B, int K, const float* pre, const float* h_prev, float* h, float* act,
                         const float* c_prev, float* c) {
    for (int b = 0; b < B; ++b) {
        const float* cp = CELL == 2 ? c_prev + b * H : nullptr;
        float* cn = CELL == 2 ? c + b * H : nullptr;
        VECTOR_LOOP
        for (int j = 0; j < H; j += LANES)
            forward_units<Lanes, STREAM>(j, pre + b * G, h_prev + b * K, h + b * K, act + b * G, cp, cn);
    }
}

// One model's inputs: step t's row b is at x + t * step + b * row.
struct Inputs {
    const float* x;
    std::int64_t step;
    int row;
    const float* at(int t) const { return x + t * step; }
};

// Rows [r0, r1) of one model whose first n rows are real; B is the rows of a step (the
// layout's stride). Real rows are computed, each on its own (a row's numbers do not depend
// on the rows computed with it, so a model's rows may be split across threads); padding rows
// [max(r0, n), r1) are not: their h(t) is set to zero (finite, so that whatever reads them,
// weighted zero, stays finite).
void forward_model(int L, int B, int r0, int r1, int n, int K, int n_in, Inputs x, float* xh, const float* wx,
                   const float* wh, const float* bias, float* act, float* cs, bool saving) {
    const int rows = r1 - r0, real = n < r0 ? 0 : (n < r1 ? n : r1) - r0;
    x.x += static_cast<std::int64_t>(r0) * x.row;
    xh += static_cast<std::size_t>(r0) * K;
    act += static_cast<std::size_t>(r0) * G;
    if (cs) cs += static_cast<std::size_t>(r0) * H;
    Scratch pre(static_cast<std::size_t>(rows) * G);
    Scratch cells(CELL == 2 && !saving ? static_cast<std::size_t>(rows) * H : 0);  // c in place when not saving
    Scratch zeros(CELL == 2 ? static_cast<std::size_t>(rows) * H : 0);             // c(-1)
    const bool stream = saving && LANES == 16 && reinterpret_cast<std::uintptr_t>(act) % 64 == 0;
    for (int t = 0; t < L; ++t) {
        const float* xh_t = xh + static_cast<std::size_t>(t) * B * K;
        float* h = xh + static_cast<std::size_t>(t + 1) * B * K;
        pre_activations(real, K, n_in, x.at(t), x.row, xh_t, wx, wh, bias, pre.data);
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
        if (stream)
            forward_rows<true>(real, K, pre.data, xh_t, h, a, c_prev, c);
        else
            forward_rows<false>(real, K, pre.data, xh_t, h, a, c_prev, c);
        for (int b = real; b < rows; ++b) std::memset(h + static_cast<std::size_t>(b) * K, 0, H * sizeof(float));
    }
    if (stream) stream_fence();
}

// ---- backward: gate gradients of step t from d h(t) (lstm: and the carried d c) ----

// For hidden units [j, j + lanes): d_a (the kernel's column order) and the direct part of
// d h(t-1) (gru: z d h; others 0); lstm: the carried d c updated in place.
template <class T>
inline void backward_units(int j, const float* a, const float* hp, const float* cp, const float* cn, const float* dh,
                           float* dc, float* da, float* dp) {
    const T d_h = at<T>(dh + j);
    if constexpr (CELL == 0) {
        const T v = at<T>(a + j);
        put(da + j, d_h * (0.5f - 0.5f * v * v));  // h = tanh(a / 2)
        put(dp + j, T{});
    } else if constexpr (CELL == 1) {
        const T r = at<T>(a + j), z = at<T>(a + H + j), n = at<T>(a + 2 * H + j), a_uh = at<T>(a + 3 * H + j);
        const T d_u = d_h * (1.0f - z) * (0.5f - 0.5f * n * n);  // d of n's pre-activation
        put(da + j, d_u);                                        // u_i
        put(da + H + j, d_u * a_uh * r * (1.0f - r));            // r
        put(da + 2 * H + j, d_h * (at<T>(hp + j) - n) * z * (1.0f - z));  // z
        put(da + 3 * H + j, d_u * r);                            // u_h
        put(dp + j, d_h * z);
    } else {
        const T i = at<T>(a + j), f = at<T>(a + H + j), g = at<T>(a + 2 * H + j), o = at<T>(a + 3 * H + j);
        const T tc = 2.0f * sigmoid(2.0f * at<T>(cn + j)) - 1.0f;
        const T dcv = at<T>(dc + j) + d_h * o * (1.0f - tc * tc);
        put(da + j, dcv * g * i * (1.0f - i));
        put(da + H + j, dcv * at<T>(cp + j) * f * (1.0f - f));
        put(da + 2 * H + j, dcv * i * (0.5f - 0.5f * g * g));
        put(da + 3 * H + j, d_h * tc * o * (1.0f - o));
        put(dc + j, dcv * f);
        put(dp + j, T{});
    }
}

// Writes d_a (B x G, the kernel's column order) and the direct part of d h(t-1).
inline void backward_rows(int B, int K, const float* act, const float* h_prev, const float* c_prev, const float* c,
                          const float* d_h, float* d_c, float* d_a, float* d_h_prev) {
    for (int b = 0; b < B; ++b) {
        const float* cp = CELL == 2 ? c_prev + b * H : nullptr;
        const float* cn = CELL == 2 ? c + b * H : nullptr;
        float* dc = CELL == 2 ? d_c + b * H : nullptr;
        const float *a = act + b * G, *hp = h_prev + b * K, *dh = d_h + b * H;
        float *da = d_a + b * G, *dp = d_h_prev + b * H;
        VECTOR_LOOP
        for (int j = 0; j < H; j += LANES) backward_units<Lanes>(j, a, hp, cp, cn, dh, dc, da, dp);
    }
}

// dwt(rows x G) += [x_t, h(t-1), 1](B x rows)^T @ d_a(B x G): step t's share of the
// weight gradient, every element summed over the batch rows in order (dwt rows: x
// [0, n_in), h [n_in, n_in + H), bias last). The GRU's packed weights have zero blocks
// (u_i reads no h, u_h no x; see layers._pack): their gradient is not computed, stays zero.
// Columns [c0, c1) only (whole strips; every column without strips): each element is summed
// on its own, so the columns may be split across threads.
inline void accumulate_weight_grad(int B, int n_in, int K, const float* x_t, int x_row, const float* xh_t,
                                   const float* d_a, float* dwt, int c0 = 0, int c1 = G) {
    const int rows = n_in + H + 1;
    if constexpr (CV > 0) {
        for (int c = c0; c < c1; c += STRIP) {
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

// Rows [r0, r1) of one model whose first n rows are real (B: the rows of a step, the layout's
// stride). Rows are independent until the weight gradient sums over them: with dwt (the whole
// model in one unit, r0 = 0 and r1 = B) it is accumulated step by step into dwt ((n_in + H + 1) x G,
// zeroed by the caller: the gradient of the packed weights' x, h(t-1) and bias columns,
// transposed); without (the model's rows split across units), d_a must be given and
// weight_grad_model adds the weight gradient once every unit has run, in the same order.
// d_a (L x B x G) may be null with dwt: each step's gradients then live in scratch memory only.
// Padding rows (their d h must be zero) are skipped; their rows of d_a are zero.
void backward_model(int L, int B, int r0, int r1, int n, int K, int n_in, Inputs x, const float* xh, const float* act,
                    const float* cs, const float* wb, const float* d_hs, bool sequence, float* d_a, float* dwt) {
    const int rows = r1 - r0, real = n < r0 ? 0 : (n < r1 ? n : r1) - r0;
    const std::size_t stride = static_cast<std::size_t>(B) * H, span = static_cast<std::size_t>(rows) * H;
    x.x += static_cast<std::int64_t>(r0) * x.row;
    xh += static_cast<std::size_t>(r0) * K;
    act += static_cast<std::size_t>(r0) * G;
    if (cs) cs += static_cast<std::size_t>(r0) * H;
    d_hs += static_cast<std::size_t>(r0) * H;
    if (d_a) d_a += static_cast<std::size_t>(r0) * G;
    Scratch d_h(span), d_h_prev(span), d_c(CELL == 2 ? span : 0), zeros(CELL == 2 ? span : 0),
        d_a_step(d_a ? 0 : static_cast<std::size_t>(rows) * G);
    const float* last = d_hs + (sequence ? (L - 1) * stride : 0);
    std::memcpy(d_h.data, last, span * sizeof(float));
    float* now = d_h.data;
    float* before = d_h_prev.data;
    for (int t = L - 1; t >= 0; --t) {
        if (sequence && t < L - 1) {
            const float* extra = d_hs + t * stride;
            for (std::size_t e = 0; e < span; ++e) now[e] += extra[e];
        }
        const float* xh_t = xh + static_cast<std::size_t>(t) * B * K;
        const float* c = CELL == 2 ? cs + t * stride : nullptr;
        const float* c_prev = CELL == 2 ? (t ? cs + (t - 1) * stride : zeros.data) : nullptr;
        float* d_a_t = d_a ? d_a + static_cast<std::size_t>(t) * B * G : d_a_step.data;
        backward_rows(real, K, act + static_cast<std::size_t>(t) * B * G, xh_t, c_prev, c, now, d_c.data, d_a_t, before);
        if (d_a && real < rows) std::memset(d_a_t + static_cast<std::size_t>(real) * G, 0, (rows - real) * G * sizeof(float));
        if (dwt) accumulate_weight_grad(real, n_in, K, x.at(t), x.row, xh_t, d_a_t, dwt);
        if (t > 0) recurrent_grad(real, d_a_t + G - GH, wb, before);  // h(-1) is a constant zero
        float* swap = now;
        now = before;
        before = swap;
    }
}

// Column parts of the weight gradient that weight_grad_model can compute apart: its strips
// (one part without strips).
constexpr int PARTS = CV > 0 ? G / STRIP : 1;

// dwt's columns of parts [p0, p1) from one model's stored d_a (L x B x G, first n rows real),
// summed as backward_model's fused path sums them (steps from the last, rows in order): the
// same numbers, bit for bit.
void weight_grad_model(int L, int B, int n, int K, int n_in, Inputs x, const float* xh, const float* d_a, float* dwt,
                       int p0, int p1) {
    const int c0 = CV > 0 ? p0 * STRIP : 0, c1 = CV > 0 ? p1 * STRIP : G;
    for (int t = L - 1; t >= 0; --t)
        accumulate_weight_grad(n, n_in, K, x.at(t), x.row, xh + static_cast<std::size_t>(t) * B * K,
                               d_a + static_cast<std::size_t>(t) * B * G, dwt, c0, c1);
}

}  // namespace

extern "C" {

// units: n_units triples (model, first row, end row), each computed by forward_model or
// backward_model; see the layouts at the top. x's strides are in floats: x_model from one model
// to the next, x_step from one step to the next, x_row from one batch row to the next. act and
// cs hold L steps when saving, else one (cs unused: the cell state is kept in scratch memory).
// rows: per model, how many leading batch rows are real (the rest padding), or null for all B.
void recurrent_forward(int n_units, const int* units, int L, int B, int K, int n_in, const float* x,
                       std::int64_t x_model, std::int64_t x_step, int x_row, float* xh, const float* wx, const float* wh,
                       const float* bias, float* act, float* cs, int saving, const int* rows) {
    const std::size_t depth = saving ? L : 1;
    for (int u = 0; u < n_units; ++u) {
        const int m = units[3 * u], r0 = units[3 * u + 1], r1 = units[3 * u + 2];
        forward_model(L, B, r0, r1, rows ? rows[m] : B, K, n_in, {x + m * x_model, x_step, x_row},
                      xh + static_cast<std::size_t>(m) * (L + 1) * B * K,
                      wx + static_cast<std::size_t>(m) * n_in * G, wh + static_cast<std::size_t>(m) * H * G,
                      bias + static_cast<std::size_t>(m) * G, act + m * depth * B * G,
                      CELL == 2 && saving ? cs + static_cast<std::size_t>(m) * L * B * H : nullptr, saving != 0);
    }
}

// x as in recurrent_forward. d_hs: (M, L, B, H) when sequence, else (M, B, H) (the last step's
// only). d_a: per model, where its (L, B, G) gradients of the pre-activations go, or null (then a
// whole-model unit keeps them in scratch memory; a unit of part of a model's rows needs one);
// dwt: (M, n_in + H + 1, G), zeroed by the caller, accumulated by whole-model units only.
void recurrent_backward(int n_units, const int* units, int L, int B, int K, int n_in, const float* x,
                        std::int64_t x_model, std::int64_t x_step, int x_row, const float* xh, const float* act,
                        const float* cs, const float* wb, const float* d_hs, int sequence, float* const* d_a,
                        float* dwt, const int* rows) {
    const std::size_t step = static_cast<std::size_t>(B) * H;
    for (int u = n_units - 1; u >= 0; --u) {  // the last models' forward state may still be cached
        const int m = units[3 * u], r0 = units[3 * u + 1], r1 = units[3 * u + 2];
        const bool whole = r0 == 0 && r1 == B;
        backward_model(L, B, r0, r1, rows ? rows[m] : B, K, n_in, {x + m * x_model, x_step, x_row},
                       xh + static_cast<std::size_t>(m) * (L + 1) * B * K,
                       act + static_cast<std::size_t>(m) * L * B * G,
                       CELL == 2 ? cs + static_cast<std::size_t>(m) * L * step : nullptr,
                       wb + static_cast<std::size_t>(m) * GH * H, d_hs + m * (sequence ? L : 1) * step,
                       sequence != 0, d_a[m], whole ? dwt + static_cast<std::size_t>(m) * (n_in + H + 1) * G : nullptr);
    }
}

// The weight gradient of the models whose rows recurrent_backward ran in several units. units:
// triples (model, first part, end part), parts of weight_grad_parts(); d_a as there (given).
void recurrent_weight_grad(int n_units, const int* units, int L, int B, int K, int n_in, const float* x,
                           std::int64_t x_model, std::int64_t x_step, int x_row, const float* xh, float* const* d_a,
                           float* dwt, const int* rows) {
    for (int u = 0; u < n_units; ++u) {
        const int m = units[3 * u], p0 = units[3 * u + 1], p1 = units[3 * u + 2];
        weight_grad_model(L, B, rows ? rows[m] : B, K, n_in, {x + m * x_model, x_step, x_row},
                          xh + static_cast<std::size_t>(m) * (L + 1) * B * K, d_a[m],
                          dwt + static_cast<std::size_t>(m) * (n_in + H + 1) * G, p0, p1);
    }
}

int weight_grad_parts() { return PARTS; }

}  // extern "C"
