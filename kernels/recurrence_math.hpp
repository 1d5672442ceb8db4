#pragma once
// The recurrent part of one layer over a run of steps, as one operation: what every recurrent
// algorithm (standard, persistent) computes, and where each step's operands are. The per-step
// views are built here once, so every implementation addresses the same memory the same way.

#include <cstdint>

#include "kernels/cell_math.hpp"

namespace fuselstm::kernels {

/// Forward over steps [first, end) of one unit: for each t in order,
///   gates(t) += h(t−1)·W_hhᵀ, then the fused forward step (cell_math's lstm_forward_element).
template <typename T>
struct ForwardRecurrenceArgs {
  std::int64_t first = 0, end = 0;  // [a, b)
  std::int64_t batch = 0, hidden = 0;
  const T* weight_hh = nullptr;  // [4H, H] row-major
  const T* bias_ih = nullptr;    // [4H] or null
  const T* bias_hh = nullptr;    // [4H] or null
  T* gates = nullptr;            // [b−a, B, 4H]: the input projection in, activations out
  // c(τ): c_first at τ = a, c_last at τ = b, else c_mid + (τ − a − 1)·B·H.
  const T* c_first = nullptr;
  T* c_mid = nullptr;
  T* c_last = nullptr;
  const T* h = nullptr;  // [T+1, B, H]: h(t−1) of step t at row t
  T* h_out = nullptr;    // h(t) of step t at h_out + (t+1)·h_out_stride
  std::int64_t h_out_stride = 0;
  const std::int32_t* lengths = nullptr;  // [B] or null
  bool save_gates = true;

  FUSELSTM_HD std::int64_t state() const { return batch * hidden; }
  FUSELSTM_HD T* c_at(std::int64_t tau) const {
    if (tau == first) return const_cast<T*>(c_first);  // only ever read (step first's c_prev)
    if (tau == end) return c_last;
    return c_mid + (tau - first - 1) * state();
  }
  FUSELSTM_HD T* gates_at(std::int64_t t) const { return gates + (t - first) * batch * 4 * hidden; }
  FUSELSTM_HD const T* h_prev_at(std::int64_t t) const { return h + t * state(); }
  /// The cell step of step t (its gates already hold the recurrent product).
  FUSELSTM_HD ForwardStepArgs<T> step(std::int64_t t) const {
    ForwardStepArgs<T> s;
    s.batch = batch;
    s.hidden = hidden;
    s.gates = gates_at(t);
    s.bias_ih = bias_ih;
    s.bias_hh = bias_hh;
    s.c_prev = c_at(t);
    s.c = c_at(t + 1);
    s.h = h_out + (t + 1) * h_out_stride;
    s.h_prev = h_prev_at(t);
    s.lengths = lengths;
    s.step = t;
    s.save_gates = save_gates;
    return s;
  }
};

/// Backward over steps [first, end) of one unit, t = b−1 down to a:
///   the fused backward step (lstm_backward_element) writes da(t), then dh_rec = da(t)·W_hh.
template <typename T>
struct BackwardRecurrenceArgs {
  std::int64_t first = 0, end = 0;
  std::int64_t batch = 0, hidden = 0;
  const T* weight_hh = nullptr;  // [4H, H] row-major
  const T* gates = nullptr;      // [b−a, B, 4H] saved activations
  const T* c_first = nullptr;    // c(τ) as in ForwardRecurrenceArgs
  const T* c_mid = nullptr;
  const T* c_last = nullptr;
  const T* dy = nullptr;  // row (t, b) at dy + t·dy_step + b·dy_batch, or null
  std::int64_t dy_step = 0, dy_batch = 0;
  T* dh_rec = nullptr;  // [B, H] in: dJ/dh(b−1) through later steps; out: through step a
  T* dc = nullptr;      // [B, H] in/out
  T* da = nullptr;      // ring of da_ring_steps [B, 4H] slices: step t at slice t mod ring
  std::int64_t da_ring_steps = 1;
  const std::int32_t* lengths = nullptr;
  T* dh_carry = nullptr;  // [B, H] with lengths, else null
  /// weight_hh holds the same values as in the previous backward run on this ops object (the
  /// pieces of one unit's backward): what an implementation prepared from it then (the host's
  /// packed panels) may be used again. False: prepare afresh.
  bool same_weights_as_before = false;

  FUSELSTM_HD std::int64_t state() const { return batch * hidden; }
  FUSELSTM_HD const T* c_at(std::int64_t tau) const {
    if (tau == first) return c_first;
    if (tau == end) return c_last;
    return c_mid + (tau - first - 1) * state();
  }
  FUSELSTM_HD T* da_at(std::int64_t t) const {
    return da + (t % da_ring_steps) * batch * 4 * hidden;
  }
  /// The same run restricted to steps [a, b) ⊆ [first, end): the same memory, step by step.
  FUSELSTM_HD BackwardRecurrenceArgs steps(std::int64_t a, std::int64_t b) const {
    BackwardRecurrenceArgs r = *this;
    r.first = a;
    r.end = b;
    r.gates = gates + (a - first) * batch * 4 * hidden;
    r.c_first = c_at(a);
    r.c_mid = c_mid ? c_mid + (a - first) * state() : nullptr;
    r.c_last = c_at(b);
    return r;
  }
  /// The cell step of step t (reads dh_rec, updates dc, writes da_at(t)).
  FUSELSTM_HD BackwardStepArgs<T> step(std::int64_t t) const {
    BackwardStepArgs<T> s;
    s.batch = batch;
    s.hidden = hidden;
    s.gates = gates + (t - first) * batch * 4 * hidden;
    s.c = c_at(t + 1);
    s.c_prev = c_at(t);
    s.dy = dy ? dy + t * dy_step : nullptr;
    s.dy_batch_stride = dy_batch;
    s.dh_rec = dh_rec;
    s.dc = dc;
    s.da = da_at(t);
    s.lengths = lengths;
    s.step = t;
    s.dh_carry = dh_carry;
    return s;
  }
};

}  // namespace fuselstm::kernels
