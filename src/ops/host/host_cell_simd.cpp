// The vectorised float32 cell steps of the host ops: CPU detection, the FUSELSTM_HOST_SIMD switch,
// the per-row dispatch, and the vector code for AVX2+FMA and AVX-512F (host_cell_vector.inc,
// compiled twice under per-function target attributes, so the library still runs on a CPU without
// AVX2: nothing outside those functions uses the wider instruction sets).

#include "ops/host/host_cell_simd.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define FUSELSTM_HOST_SIMD_X86 1
#include <immintrin.h>
#else
#define FUSELSTM_HOST_SIMD_X86 0
#endif

namespace fuselstm::ops {
namespace {

// One row b of a step whose sequence is still running (the carried rows never get here).
struct ForwardRow {
  std::int64_t hidden;   // H: the stride between a unit's four gates
  std::int64_t units;    // how many units from the pointers below (H for a whole row)
  float* gates;          // [4H] this row's pre-activations; out: i, f, g, o when save_gates
  const float* bias_ih;  // [4H] or null
  const float* bias_hh;  // [4H] or null
  const float* c_prev;   // [H]
  float* c;              // [H]
  float* h;              // [H]
  bool save_gates;
  bool tanh_cell;
};
struct BackwardRow {
  std::int64_t hidden;  // H: the stride between a unit's four gates
  std::int64_t units;   // how many units from the pointers below
  const float* gates;   // [4H] saved i, f, g, o
  const float* c;       // [H]
  const float* c_prev;  // [H]
  const float* dy;      // [H] or null
  const float* dh_rec;  // [H]
  float* dc;            // [H] in/out
  float* da;            // [4H] out
  float* dh_carry;      // [H] in/out, or null
  bool tanh_cell;
};

}  // namespace

#if FUSELSTM_HOST_SIMD_X86

// --- AVX2 + FMA: 8 lanes -------------------------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace avx2 {
namespace {
using V = __m256;
using Mask = __m256;
constexpr int kWidth = 8;
inline V load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, V v) { _mm256_storeu_ps(p, v); }
inline V splat(float x) { return _mm256_set1_ps(x); }
inline V splat_bits(unsigned bits) { return _mm256_castsi256_ps(_mm256_set1_epi32(int(bits))); }
inline V add(V a, V b) { return _mm256_add_ps(a, b); }
inline V sub(V a, V b) { return _mm256_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
inline V div(V a, V b) { return _mm256_div_ps(a, b); }
inline V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
inline V vmin(V a, V b) { return _mm256_min_ps(a, b); }
inline V vmax(V a, V b) { return _mm256_max_ps(a, b); }
inline V vand(V a, V b) { return _mm256_and_ps(a, b); }
inline V vor(V a, V b) { return _mm256_or_ps(a, b); }
inline V vxor(V a, V b) { return _mm256_xor_ps(a, b); }
inline Mask less(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
inline V select(Mask m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
inline V round_nearest(V x) {
  return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline V pow2_minus1(V n) {
  const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126));
  return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
}
}  // namespace
#include "ops/host/host_cell_vector.inc"
#include "ops/host/host_panel_vector.inc"
}  // namespace avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// --- AVX-512F: 16 lanes, the same operations ------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
// GCC 12 flags the intrinsics' own `_mm512_undefined_ps()` (a self-initialised variable).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace avx512 {
namespace {
using V = __m512;
using Mask = __mmask16;
constexpr int kWidth = 16;
inline __m512i bits(V x) { return _mm512_castps_si512(x); }
inline V from_bits(__m512i x) { return _mm512_castsi512_ps(x); }
inline V load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, V v) { _mm512_storeu_ps(p, v); }
inline V splat(float x) { return _mm512_set1_ps(x); }
inline V splat_bits(unsigned b) { return from_bits(_mm512_set1_epi32(int(b))); }
inline V add(V a, V b) { return _mm512_add_ps(a, b); }
inline V sub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V div(V a, V b) { return _mm512_div_ps(a, b); }
inline V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
inline V vmin(V a, V b) { return _mm512_min_ps(a, b); }
inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }
// The float forms of and/or/xor need AVX512DQ; the integer ones are AVX512F.
inline V vand(V a, V b) { return from_bits(_mm512_and_si512(bits(a), bits(b))); }
inline V vor(V a, V b) { return from_bits(_mm512_or_si512(bits(a), bits(b))); }
inline V vxor(V a, V b) { return from_bits(_mm512_xor_si512(bits(a), bits(b))); }
inline Mask less(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
inline V select(Mask m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
inline V round_nearest(V x) {
  return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline V pow2_minus1(V n) {
  const __m512i biased = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(126));
  return from_bits(_mm512_slli_epi32(biased, 23));
}
}  // namespace
#include "ops/host/host_cell_vector.inc"
#include "ops/host/host_panel_vector.inc"
}  // namespace avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

#endif  // FUSELSTM_HOST_SIMD_X86

namespace {

using ForwardRowFn = void (*)(const ForwardRow&);
using BackwardRowFn = void (*)(const BackwardRow&);
using ArrayFn = void (*)(const float*, float*, std::int64_t);

struct Kernels {
  ForwardRowFn forward_row = nullptr;
  BackwardRowFn backward_row = nullptr;
  ArrayFn sigmoid = nullptr;
  ArrayFn tanh = nullptr;
};

// The vector code of `kind`, or all null (scalar, or a kind this CPU or build cannot run).
Kernels kernels_of(HostSimd kind) {
#if FUSELSTM_HOST_SIMD_X86
  if (host_simd_supported(kind)) {
    if (kind == HostSimd::avx2) {
      return {avx2::forward_row, avx2::backward_row, avx2::sigmoid_n, avx2::tanh_n};
    }
    if (kind == HostSimd::avx512) {
      return {avx512::forward_row, avx512::backward_row, avx512::sigmoid_n, avx512::tanh_n};
    }
  }
#else
  (void)kind;
#endif
  return {};
}

HostSimd read_selection() {
  const char* env = std::getenv("FUSELSTM_HOST_SIMD");
  const std::string asked = env ? env : "";
  HostSimd want = HostSimd::avx512;  // auto: the widest (1.3-1.6x AVX2's speed on the dev VM)
  if (asked == "0" || asked == "scalar" || asked == "off") want = HostSimd::scalar;
  else if (asked == "avx2") want = HostSimd::avx2;
  if (want == HostSimd::avx512 && !host_simd_supported(HostSimd::avx512)) want = HostSimd::avx2;
  if (want == HostSimd::avx2 && !host_simd_supported(HostSimd::avx2)) want = HostSimd::scalar;
  return want;
}

}  // namespace

const char* host_simd_name(HostSimd kind) {
  switch (kind) {
  case HostSimd::scalar: return "scalar";
  case HostSimd::avx2: return "avx2";
  case HostSimd::avx512: return "avx512";
  }
  return "?";
}

bool host_simd_supported(HostSimd kind) {
#if FUSELSTM_HOST_SIMD_X86
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  static const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  switch (kind) {
  case HostSimd::scalar: return true;
  case HostSimd::avx2: return avx2;
  case HostSimd::avx512: return avx512;
  }
  return false;
#else
  return kind == HostSimd::scalar;
#endif
}

HostSimd host_simd_selected() {
  static const HostSimd kind = read_selection();
  return kind;
}

void host_forward_step(HostSimd kind, CellActivation cell,
                       const kernels::ForwardStepArgs<float>& a) {
  host_forward_step_units(kind, cell, a, 0, a.hidden);
}

void host_backward_step(HostSimd kind, CellActivation cell,
                        const kernels::BackwardStepArgs<float>& a) {
  host_backward_step_units(kind, cell, a, 0, a.hidden);
}

void host_forward_step_units(HostSimd kind, CellActivation cell,
                             const kernels::ForwardStepArgs<float>& a, std::int64_t unit_begin,
                             std::int64_t unit_end) {
  const ForwardRowFn row_fn = kernels_of(kind).forward_row;
  if (!row_fn) {
    scalar_forward_step_units(cell, a, unit_begin, unit_end);
    return;
  }
  const std::int64_t H = a.hidden, j = unit_begin;
  const bool tanh_cell = cell == CellActivation::tanh;
  for (std::int64_t b = 0; b < a.batch; ++b) {
    if (a.lengths && a.step >= a.lengths[b]) {  // carried: the element function's own branch
      for (std::int64_t e = b * H + unit_begin; e < b * H + unit_end; ++e) {
        kernels::lstm_forward_element<float, true>(e, a);
      }
      continue;
    }
    ForwardRow r;
    r.hidden = H;
    r.units = unit_end - unit_begin;
    r.gates = a.gates + b * 4 * H + j;
    r.bias_ih = a.bias_ih ? a.bias_ih + j : nullptr;
    r.bias_hh = a.bias_hh ? a.bias_hh + j : nullptr;
    r.c_prev = a.c_prev + b * H + j;
    r.c = a.c + b * H + j;
    r.h = a.h + b * H + j;
    r.save_gates = a.save_gates;
    r.tanh_cell = tanh_cell;
    row_fn(r);
  }
}

void host_backward_step_units(HostSimd kind, CellActivation cell,
                              const kernels::BackwardStepArgs<float>& a, std::int64_t unit_begin,
                              std::int64_t unit_end) {
  const BackwardRowFn row_fn = kernels_of(kind).backward_row;
  if (!row_fn) {
    scalar_backward_step_units(cell, a, unit_begin, unit_end);
    return;
  }
  const std::int64_t H = a.hidden, j = unit_begin;
  const bool tanh_cell = cell == CellActivation::tanh;
  for (std::int64_t b = 0; b < a.batch; ++b) {
    if (a.lengths && a.step >= a.lengths[b]) {  // padded: the element function's own branch
      for (std::int64_t e = b * H + unit_begin; e < b * H + unit_end; ++e) {
        kernels::lstm_backward_element<float, true>(e, a);
      }
      continue;
    }
    BackwardRow r;
    r.hidden = H;
    r.units = unit_end - unit_begin;
    r.gates = a.gates + b * 4 * H + j;
    r.c = a.c + b * H + j;
    r.c_prev = a.c_prev + b * H + j;
    r.dy = a.dy ? a.dy + b * a.dy_batch_stride + j : nullptr;
    r.dh_rec = a.dh_rec + b * H + j;
    r.dc = a.dc + b * H + j;
    r.da = a.da + b * 4 * H + j;
    r.dh_carry = a.dh_carry ? a.dh_carry + b * H + j : nullptr;
    r.tanh_cell = tanh_cell;
    row_fn(r);
  }
}

namespace {

// The scalar panel products: the vector code's chain of FMAs, one lane at a time (std::fma rounds
// once, as the vector FMA does, so the bits are the same).
template <int P>
void scalar_panel_product(const float* const* panels, std::int64_t step, std::int64_t K,
                          const float* x,
                          std::int64_t x_stride, std::int64_t rows, const float* partial,
                          PanelOut<float> out) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (int p = 0; p < P; ++p) {
      float* o = out.data + r * out.row_stride + p * out.panel_stride;
      const float* from = partial ? partial + (r * P + p) * 16 : nullptr;
      for (int l = 0; l < 16; ++l) {
        float acc = from ? from[l] : 0.0f;
        for (std::int64_t k = 0; k < K; ++k) {
          acc = std::fma(panels[p][k * step + l], x[r * x_stride + k], acc);
        }
        o[l] = out.add ? o[l] + acc : acc;
      }
    }
  }
}

}  // namespace

PanelProducts host_panel_products(HostSimd kind) {
#if FUSELSTM_HOST_SIMD_X86
  if (host_simd_supported(kind)) {
    if (kind == HostSimd::avx2) return {avx2::panel_product4, avx2::panel_product1};
    if (kind == HostSimd::avx512) return {avx512::panel_product4, avx512::panel_product1};
  }
#endif
  return {scalar_panel_product<4>, scalar_panel_product<1>};
}

void host_sigmoid(HostSimd kind, const float* x, float* y, std::int64_t n) {
  if (const ArrayFn fn = kernels_of(kind).sigmoid) {
    fn(x, y, n);
    return;
  }
  for (std::int64_t e = 0; e < n; ++e) y[e] = kernels::sigmoid(x[e]);
}

void host_tanh(HostSimd kind, const float* x, float* y, std::int64_t n) {
  if (const ArrayFn fn = kernels_of(kind).tanh) {
    fn(x, y, n);
    return;
  }
  for (std::int64_t e = 0; e < n; ++e) y[e] = kernels::tanh_of(x[e]);
}

}  // namespace fuselstm::ops
