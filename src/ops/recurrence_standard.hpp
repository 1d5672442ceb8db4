#pragma once
// The standard algorithm's recurrent steps, written against the ops interface: per step one GEMM
// with W_hh and one fused cell step (cuDNN's "standard" algorithm). The orchestration runs these
// unless the persistent algorithm was chosen; an ops backend without a persistent implementation
// runs them for forward_recurrence / backward_recurrence.

#include "ops/ops.hpp"

namespace fuselstm::ops {

template <typename T>
void standard_forward_recurrence(Ops<T>& ops, CellActivation cell,
                                 const kernels::ForwardRecurrenceArgs<T>& a) {
  const std::int64_t B = a.batch, H = a.hidden, G = 4 * H;
  for (std::int64_t t = a.first; t < a.end; ++t) {
    // gates(t)[B, 4H] += h(t−1)[B, H]·W_hhᵀ   (column-major: W_hh is H×4H as stored, op T)
    ops.gemm(Trans::T, Trans::N, G, B, H, T(1), a.weight_hh, H, a.h_prev_at(t), H, T(1),
             a.gates_at(t), G);
    ops.forward_step(cell, a.step(t));
  }
}

template <typename T>
void standard_backward_recurrence(Ops<T>& ops, CellActivation cell,
                                  const kernels::BackwardRecurrenceArgs<T>& a) {
  const std::int64_t B = a.batch, H = a.hidden, G = 4 * H;
  for (std::int64_t t = a.end - 1; t >= a.first; --t) {
    ops.backward_step(cell, a.step(t));
    // dh_rec[B, H] = da(t)[B, 4H]·W_hh   (column-major: W_hh is H×4H as stored, op N)
    ops.gemm(Trans::N, Trans::N, H, B, G, T(1), a.weight_hh, H, a.da_at(t), G, T(0), a.dh_rec, H);
  }
}

/// Runs the recurrent steps with the persistent algorithm (the ops' own) or the standard one.
template <typename T>
void run_forward_recurrence(Ops<T>& ops, bool persistent, CellActivation cell,
                            const kernels::ForwardRecurrenceArgs<T>& a) {
  if (persistent) ops.forward_recurrence(cell, a);
  else standard_forward_recurrence(ops, cell, a);
}
template <typename T>
void run_backward_recurrence(Ops<T>& ops, bool persistent, CellActivation cell,
                             const kernels::BackwardRecurrenceArgs<T>& a) {
  if (persistent) ops.backward_recurrence(cell, a);
  else standard_backward_recurrence(ops, cell, a);
}

}  // namespace fuselstm::ops
