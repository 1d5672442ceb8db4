#pragma once
// Losses on a head's outputs: mean-squared error and softmax cross-entropy, each returning the loss
// value and its gradient with respect to its input in one fused pass.

#include <cstdint>
#include <memory>
#include <vector>

#include "fuselstm/tensor.hpp"

namespace fuselstm {

/// How the per-element (MSE) or per-row (cross-entropy) terms become one number.
enum class Reduction {
  sum,   ///< L = Σ terms
  mean,  ///< L = Σ terms / N; N is stated per loss below
};

/// Which time steps of a [T, B, K] (or batch-first [B, T, K]) input the loss sees.
enum class LossSteps {
  all,   ///< every real step: T·B rows, or Σ lengths[b] with lengths (padding is not seen)
  last,  ///< each sequence's own last real step (lengths[b] − 1, or T − 1): B rows; the gradient
         ///< of every other step is zero
};

struct LossOptions {
  Reduction reduction = Reduction::mean;
  LossSteps steps = LossSteps::all;
  /// Cross-entropy only: rows whose target equals this contribute nothing (padding). PyTorch's
  /// default.
  std::int64_t ignore_index = -100;
  /// The input is [B, T, K] (an Lstm with batch_first's y) instead of [T, B, K]. Only the layout
  /// changes: `last` still means each sequence's last step.
  bool batch_first = false;
};

/// A loss value and dL/d(input).
struct LossResult {
  double value = 0;  ///< L, summed in double in a fixed order (deterministic)
  Tensor grad;       ///< like the input; zero on steps the loss does not see (padding included)
};

/// Mean-squared error: term = (prediction − target)² per element of the rows seen.
///   sum:  L = Σ (p − y)²;  mean: L = Σ (p − y)² / N with N = rows seen·K (every element counts,
///   as torch.nn.MSELoss(reduction='mean') on the packed sequence: padding is not counted).
///   dL/dp = 2(p − y) (sum) or 2(p − y)/N (mean).
/// Runs on the prediction's execution context (its dtype, device and stream); needs no other
/// module. Scratch buffers are kept and reused between calls of the same context.
class MseLoss {
public:
  explicit MseLoss(const LossOptions& options = {});
  ~MseLoss();
  MseLoss(MseLoss&&) noexcept;
  MseLoss& operator=(MseLoss&&) noexcept;
  /// prediction [T, B, K] ([B, T, K] with options.batch_first), or rows [N, K] (e.g. a head on
  /// gather_last_steps: one step of N sequences, no lengths); target: the prediction's shape
  /// (steps = all) or [B, K] (steps = last), of its dtype and device. lengths (optional, B entries
  /// in [1, T]): sequence b has lengths[b] real steps; later steps are padding, never seen, even
  /// when they hold NaN (their gradient is exactly 0). Waits for the device to read the value.
  LossResult operator()(const Tensor& prediction, const Tensor& target,
                        const std::vector<std::int64_t>& lengths = {});
  const LossOptions& options() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Softmax cross-entropy over K classes with integer targets (torch.nn.CrossEntropyLoss on
/// logits): per row r seen, with target t_r ≠ ignore_index,
///   term_r = log Σ_j exp(z_rj) − z_{r,t_r}  (stable: the row's max is subtracted first)
///   sum:  L = Σ_r term_r;  mean: L = Σ_r term_r / N with N = the number of rows seen whose target
///   ≠ ignore_index (PyTorch's weighting); N = 0 gives L = 0 and a zero gradient (PyTorch: NaN).
///   dL/dz_rj = (softmax(z_r)_j − [j = t_r]) (sum) or that / N (mean); 0 for ignored rows.
/// Runs on the logits' context like MseLoss.
class CrossEntropyLoss {
public:
  explicit CrossEntropyLoss(const LossOptions& options = {});
  ~CrossEntropyLoss();
  CrossEntropyLoss(CrossEntropyLoss&&) noexcept;
  CrossEntropyLoss& operator=(CrossEntropyLoss&&) noexcept;
  /// logits [T, B, K] ([B, T, K] with options.batch_first), or rows [N, K] (one step of N
  /// sequences: targets [N], no lengths), of either dtype on any device; targets
  /// on the host in the logits' row order: [T·B] (steps = all; index t·B + b, or b·T + t with
  /// batch_first) or [B] (steps = last: sequence b's target), each in [0, K) or ignore_index
  /// (ValueError naming the first bad index otherwise; targets at padding are not read). lengths
  /// as MseLoss's: padding is never seen and N counts real rows only, as PyTorch on a packed
  /// sequence. Waits for the device to read the value.
  LossResult operator()(const Tensor& logits, const std::vector<std::int64_t>& targets,
                        const std::vector<std::int64_t>& lengths = {});
  const LossOptions& options() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fuselstm
