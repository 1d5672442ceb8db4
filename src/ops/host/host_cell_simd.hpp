#pragma once
// The host's fused cell steps in float32, vectorised: the same semantics as
// kernels::lstm_forward_element / lstm_backward_element (one row of B at a time, carried rows and
// dh_carry through the scalar element functions themselves), with sigmoid and tanh computed by
// polynomials on AVX2+FMA (8 lanes) or AVX-512F (16 lanes) instead of libm's expf/tanhf.
//
// Accuracy against double precision, measured over all 2,202,009,602 floats in [−20, 20] (a
// dense sample of it is re-checked by tests/host_cell_simd_test.cpp on every run):
//   sigmoid: max abs error 8.93e−8, max 2.48 ulp (the same maxima as libm's 1/(1 + expf(−x)));
//   tanh:    max abs error 8.99e−8, max 1.51 ulp (glibc's tanhf: 1.04e−7, 2.19 ulp).
// The same bounds hold on [−88, 88] (sampled by the test); sigmoid is exactly 0 below −88.72 and
// 1 above 17, tanh ±1 above 9.1, as the scalar path gives; ±0, ±inf and NaN as libm.
// Nothing else in the cell differs: the cell's products and sums are the scalar code's, in its
// order and without FMA contraction, so the identity cell's backward step is bit-identical to
// the scalar one.
//
// Determinism: each element is a fixed function of its own inputs (no reduction, no dependence on
// B, on the position in the row or on the thread count), and the AVX2 and AVX-512 code is the same
// sequence of IEEE operations, so both give the same bits. The choice is made once per process:
// the widest the CPU supports, or FUSELSTM_HOST_SIMD (below). double always takes the scalar path.

#include <cstdint>

#include "fuselstm/config.hpp"
#include "kernels/cell_math.hpp"

namespace fuselstm::ops {

/// Which code runs the float32 cell steps on the host.
enum class HostSimd {
  scalar,  // the element functions with libm (any CPU; the only path for double)
  avx2,    // AVX2 + FMA, 8 lanes
  avx512,  // AVX-512F, 16 lanes; the same bits as avx2
};

const char* host_simd_name(HostSimd kind);  // "scalar", "avx2", "avx512"

/// Whether this CPU (and this build: x86-64 with GCC or Clang) can run `kind`; scalar: always.
bool host_simd_supported(HostSimd kind);

/// The kind the host ops use, decided once per process: FUSELSTM_HOST_SIMD = 0 | scalar | avx2 |
/// avx512 asks for one (a kind the CPU cannot run falls back to the best narrower one it can);
/// unset, empty, `auto` or any other value: the widest supported (AVX-512 ran the steps 1.3–1.6×
/// faster than AVX2 on the development VM: bench/RESULTS.md).
HostSimd host_simd_selected();

/// The scalar loops over all B·H elements (the element functions as they are).
template <typename T>
void scalar_forward_step(CellActivation cell, const kernels::ForwardStepArgs<T>& args) {
  const std::int64_t n = args.batch * args.hidden;
  if (cell == CellActivation::tanh) {
    for (std::int64_t e = 0; e < n; ++e) kernels::lstm_forward_element<T, true>(e, args);
  } else {
    for (std::int64_t e = 0; e < n; ++e) kernels::lstm_forward_element<T, false>(e, args);
  }
}
template <typename T>
void scalar_backward_step(CellActivation cell, const kernels::BackwardStepArgs<T>& args) {
  const std::int64_t n = args.batch * args.hidden;
  if (cell == CellActivation::tanh) {
    for (std::int64_t e = 0; e < n; ++e) kernels::lstm_backward_element<T, true>(e, args);
  } else {
    for (std::int64_t e = 0; e < n; ++e) kernels::lstm_backward_element<T, false>(e, args);
  }
}

/// The scalar loops over units [unit_begin, unit_end) of every row.
template <typename T>
void scalar_forward_step_units(CellActivation cell, const kernels::ForwardStepArgs<T>& args,
                               std::int64_t unit_begin, std::int64_t unit_end) {
  for (std::int64_t b = 0; b < args.batch; ++b) {
    for (std::int64_t e = b * args.hidden + unit_begin; e < b * args.hidden + unit_end; ++e) {
      if (cell == CellActivation::tanh) kernels::lstm_forward_element<T, true>(e, args);
      else kernels::lstm_forward_element<T, false>(e, args);
    }
  }
}
template <typename T>
void scalar_backward_step_units(CellActivation cell, const kernels::BackwardStepArgs<T>& args,
                                std::int64_t unit_begin, std::int64_t unit_end) {
  for (std::int64_t b = 0; b < args.batch; ++b) {
    for (std::int64_t e = b * args.hidden + unit_begin; e < b * args.hidden + unit_end; ++e) {
      if (cell == CellActivation::tanh) kernels::lstm_backward_element<T, true>(e, args);
      else kernels::lstm_backward_element<T, false>(e, args);
    }
  }
}

/// One forward / backward step with `kind` (one the CPU does not support runs the scalar loops).
void host_forward_step(HostSimd kind, CellActivation cell,
                       const kernels::ForwardStepArgs<float>& args);
void host_backward_step(HostSimd kind, CellActivation cell,
                        const kernels::BackwardStepArgs<float>& args);

/// The same steps on hidden units [unit_begin, unit_end) of every row only (each element is a
/// function of its own inputs, so a split of the units gives the whole step's bits).
void host_forward_step_units(HostSimd kind, CellActivation cell,
                             const kernels::ForwardStepArgs<float>& args, std::int64_t unit_begin,
                             std::int64_t unit_end);
void host_backward_step_units(HostSimd kind, CellActivation cell,
                              const kernels::BackwardStepArgs<float>& args,
                              std::int64_t unit_begin, std::int64_t unit_end);

/// Where a panel product puts its sums: row r, panel p's 16 lanes at data + r·row_stride +
/// p·panel_stride. `add`: data += the finished sums (one add per element, after the whole chain)
/// instead of data = sums.
template <typename T>
struct PanelOut {
  T* data = nullptr;
  std::int64_t row_stride = 0, panel_stride = 0;
  bool add = false;
};

/// out = panels · x for the persistent algorithm, continuing from `partial` ([rows][P][16], the
/// sums of the previous K chunk; may be out's own memory) or from 0 when it is null.
/// host_panel_vector.inc states the layout and the summation order, which every kind follows:
/// AVX2, AVX-512 and scalar give the same bits. `four` takes 4 panels, `one` 1 panel.
using PanelProductFn = void (*)(const float* const* panels, std::int64_t step, std::int64_t K,
                                const float* x,
                                std::int64_t x_stride, std::int64_t rows, const float* partial,
                                PanelOut<float> out);
struct PanelProducts {
  PanelProductFn four = nullptr;
  PanelProductFn one = nullptr;
};
PanelProducts host_panel_products(HostSimd kind);

/// y[e] = sigmoid(x[e]) / tanh(x[e]) for e < n with `kind`'s functions (for the accuracy tests).
void host_sigmoid(HostSimd kind, const float* x, float* y, std::int64_t n);
void host_tanh(HostSimd kind, const float* x, float* y, std::int64_t n);

}  // namespace fuselstm::ops
