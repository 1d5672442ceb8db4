#pragma once
// The LSTM layer stack: parameters, gradients, forward over a whole sequence, backward (BPTT).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuselstm/config.hpp"
#include "fuselstm/tensor.hpp"

namespace fuselstm {

namespace detail {
struct ContextData;
struct ModelImpl;
struct ModelAccess;
}  // namespace detail

/// What forward saved for backward: opaque. It belongs to the model that made it and holds a copy
/// of the input (T·B·X values) and, per layer, h(0..T) ((T+1)·B·H: the next layer's input) plus,
/// with MemoryMode::store_all, every step's gates and cell state ((5T+1)·B·H), or with
/// MemoryMode::recompute, the cell state at each segment start ((⌈T/k⌉+1)·B·H). Any number of
/// backward calls may use it while it lives. Move-only.
class ForwardContext {
public:
  ForwardContext();
  ~ForwardContext();
  ForwardContext(ForwardContext&&) noexcept;
  ForwardContext& operator=(ForwardContext&&) noexcept;
  bool defined() const { return static_cast<bool>(data_); }
  std::int64_t steps() const;  ///< T of the forward that made it
  std::int64_t batch() const;  ///< B of the forward that made it

private:
  friend class Lstm;
  std::unique_ptr<detail::ContextData> data_;
};

// Shapes below: D = 2 for bidirectional models, else 1; sequences are [B, T, ·] instead of
// [T, B, ·] when config.batch_first.
struct ForwardResult {
  Tensor y;   ///< [T, B, D·H] outputs of the last layer
  Tensor hT;  ///< [L·D, B, H] h after the last step, per layer and direction
  Tensor cT;  ///< [L·D, B, H] c after the last step, per layer and direction
  ForwardContext context;
};

struct InferenceResult {
  Tensor y;   ///< [T, B, D·H] outputs of the last layer
  Tensor hT;  ///< [L·D, B, H]
  Tensor cT;  ///< [L·D, B, H]
};

struct BackwardResult {
  Tensor dx;   ///< [T, B, X] dJ/dx (undefined when backward was asked not to compute it)
  Tensor dh0;  ///< [L·D, B, H] dJ/dh0
  Tensor dc0;  ///< [L·D, B, H] dJ/dc0
};

/// The bytes one forward + backward of (T, B) allocates, as planned for the configuration's memory
/// mode (MemoryMode::automatic resolved to what it will do). Parameters and gradients are not
/// included (they exist already: 2·Σ numel·dtype size).
struct MemoryPlan {
  MemoryMode mode = MemoryMode::store_all;  ///< store_all or recompute
  std::int64_t segment_steps = 0;           ///< k (T when store_all)
  std::int64_t context_bytes = 0;    ///< the ForwardContext: a copy of x, h per layer, and c and
                                     ///< gates (store_all) or c checkpoints (recompute)
  std::int64_t workspace_bytes = 0;  ///< the model's reusable scratch (segment + backward)
  std::int64_t output_bytes = 0;     ///< y, hT, cT, dx, dh0, dc0
  std::int64_t total_bytes() const { return context_bytes + workspace_bytes + output_bytes; }
};

/// A stack of L LSTM layers (PyTorch nn.LSTM's function, parameters and names, gate order i, f, g,
/// o). Per layer k and step t, from h(0) = h0[k], c(0) = c0[k]:
///   a = W_ih·x(t) + b_ih + W_hh·h(t−1) + b_hh, split into [a_i, a_f, a_g, a_o] (H each)
///   i, f, o = σ(a_i, a_f, a_o); g = tanh(a_g); c(t) = f⊙c(t−1) + i⊙g; h(t) = o⊙act(c(t))
/// where act is config.cell; layer k > 0 takes layer k−1's h(1..T) as its x.
///
/// Parameters (names as PyTorch's state_dict; X_k = X for k = 0, D·H otherwise):
///   weight_ih_l{k} [4H, X_k], weight_hh_l{k} [4H, H], bias_ih_l{k} [4H], bias_hh_l{k} [4H]
///   and, when bidirectional, the same with the suffix _reverse (PyTorch's order: each layer's
///   forward tensors, then its reverse ones).
/// Each has a gradient of the same shape, accumulated by backward and cleared by zero_grad().
/// Every tensor lives on config.device; inputs given on another device are rejected (use .to()).
///
/// A moved-from model only accepts assignment and destruction; any other call throws ValueError
/// naming the method.
/// One model is used by one thread at a time. Results are deterministic: the same device and
/// inputs give the same bits (no atomics; fixed reduction orders).
class Lstm {
public:
  /// Validates the configuration and allocates parameters (initialised by init_pytorch_default(0))
  /// and zeroed gradients on config.device.
  explicit Lstm(const LstmConfig& config);
  /// The same from its two parts: what the model is, and how it runs.
  Lstm(const LstmSpec& spec, const RunOptions& run);
  ~Lstm();
  Lstm(Lstm&&) noexcept;
  Lstm& operator=(Lstm&&) noexcept;

  const LstmConfig& config() const;

  /// Names in the order weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._l1, ...
  /// (biases only when config.bias).
  const std::vector<std::string>& parameter_names() const;
  /// The parameter or gradient called `name`; ValueError listing the valid names otherwise.
  /// Write it with Tensor::assign (same shape); never replace it by another tensor.
  Tensor& parameter(const std::string& name);
  const Tensor& parameter(const std::string& name) const;
  Tensor& gradient(const std::string& name);
  const Tensor& gradient(const std::string& name) const;

  /// Makes the parameter (and, when `gradient` is defined, its gradient) called `name` use the
  /// given tensors from now on instead of the model's own (which are freed): typically
  /// Tensor::borrow views of another framework's memory (PyTorch's nn.Parameters and their .grad),
  /// so no weight is copied per call. Each must have the parameter's shape and the model's dtype
  /// and device (ShapeError otherwise, nothing changed). References from parameter()/gradient()
  /// and ParameterRefs stay valid and see the new tensors.
  void bind_parameter(const std::string& name, Tensor value, Tensor gradient = Tensor());

  /// Every parameter uniform in [low, high). Draws on the host from std::mt19937_64(seed), one draw
  /// per element in parameter_names() order, row-major; u = (draw >> 11)·2⁻⁵³ ∈ [0, 1), value =
  /// low + (high − low)·u. Same seed, same weights on every device and standard library.
  void init_uniform(std::uint64_t seed, double low, double high);
  /// PyTorch's default: uniform in [−1/√H, 1/√H), drawn as init_uniform does.
  void init_pytorch_default(std::uint64_t seed);

  /// Runs the sequence. x [T, B, X] ([B, T, X] when config.batch_first); h0, c0 [L·D, B, H] or
  /// undefined for zeros; T, B ≥ 1. The returned context is what backward needs.
  ///
  /// lengths (optional, B entries in [1, T], any order) makes a padded batch: sequence b has
  /// lengths[b] steps; y is zero past its end, hT and cT are taken at its own last step, and
  /// backward sends no gradient from its padding (dy there is ignored). x past its end is ignored
  /// too, even NaN or Inf: it changes no output or gradient, and dx is exactly 0 there. Masked in
  /// the kernels: the same work as a full batch, no per-sequence loop.
  ///
  /// Truncated BPTT over a stream longer than memory: run windows of k steps, passing each
  /// window's hT, cT as the next window's h0, c0 (no gradient crosses a window boundary unless you
  /// pass the next window's dh0, dc0 back as dhT, dcT).
  ForwardResult forward(const Tensor& x, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor(),
                        const std::vector<std::int64_t>& lengths = {});

  /// Forward for inference: the same results as forward() without a context, in O(T·B·H) for
  /// the layer outputs plus one segment's input projection, instead of every step's gates and
  /// states (bidirectional models use forward()'s buffers for the call). Arguments as forward().
  InferenceResult infer(const Tensor& x, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor(),
                        const std::vector<std::int64_t>& lengths = {});

  /// One time step for serving (unidirectional models): x_t [B, X]; h, c [L, B, H] the state
  /// (undefined: zeros), replaced by the state after the step. Returns y_t [B, H]. step() T times
  /// equals infer(). After the first call of a batch size B, a step takes no memory from the
  /// system (the context's arena reuses the same blocks).
  Tensor step(const Tensor& x_t, Tensor& h, Tensor& c);

  /// BPTT through the forward that made `context`, for the scalar J whose gradients with respect to
  /// y [T, B, D·H], hT and cT [L·D, B, H] are dy, dhT, dcT (undefined: zero). Adds dJ/dθ to every
  /// parameter's gradient and returns dx (not computed, left undefined, when compute_dx is false),
  /// dh0, dc0. The parameters must not have changed since that forward (the gradient would be of
  /// a function that no longer exists). A context may be backpropagated again, with the same
  /// results bit for bit; on the CPU with stored memory the first backward writes its gate
  /// gradients over the context's saved gates, so a later one recomputes them first (about the
  /// cost of the forward).
  BackwardResult backward(const ForwardContext& context, const Tensor& dy,
                          const Tensor& dhT = Tensor(), const Tensor& dcT = Tensor(),
                          bool compute_dx = true);

  /// What forward + backward of T steps and batch B will allocate (see MemoryPlan). For
  /// MemoryMode::automatic, throws OutOfMemoryError naming needed and available bytes when not
  /// even the leanest recompute plan fits.
  MemoryPlan plan_memory(std::int64_t steps, std::int64_t batch) const;

  /// Training mode (the default, as a new PyTorch module) applies config.dropout between layers;
  /// evaluation mode (false) never does. Nothing else depends on the mode.
  void set_training(bool training);
  bool training() const;
  /// The position in the dropout stream where the next training forward's masks start. Each
  /// training forward with dropout > 0 takes (L − 1)·⌈T·B·H/4⌉·4 positions: layer k's mask
  /// element e (row-major [T, B, H]) is position offset + (k − 1)·⌈T·B·H/4⌉·4 + e (see
  /// kernels/dropout_math.hpp). Save it with a checkpoint and set it back to resume with the same
  /// masks; a new model starts at 0. The context keeps its masks: backward needs no state.
  std::uint64_t dropout_offset() const;
  void set_dropout_offset(std::uint64_t offset);

  /// Sets every gradient to zero.
  void zero_grad();
  /// Waits until the device has finished the model's queued work (a no-op on the CPU).
  void synchronize();
  /// The execution context the model's tensors live on and its work is queued on.
  const ExecutionContext& context() const;

private:
  friend struct detail::ModelAccess;  // the library's own tools and white-box tests
  /// *impl_; ValueError naming `method` when the model was moved from (impl_ is null).
  detail::ModelImpl& live(const char* method) const;
  std::unique_ptr<detail::ModelImpl> impl_;
};

}  // namespace fuselstm
