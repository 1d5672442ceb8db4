#pragma once
// The state behind fuselstm::Lstm: parameters, gradients, the ops of its device, reusable
// workspaces. Internal; the optimizers use it to run on the model's ops.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fuselstm/config.hpp"
#include "fuselstm/lstm.hpp"
#include "fuselstm/parameter_names.hpp"
#include "runtime/context_state.hpp"
#include "runtime/raw_buffer.hpp"
#include "ops/ops.hpp"
#include "lstm/call_buffers.hpp"
#include "lstm/sequence.hpp"

namespace fuselstm::detail {

struct ContextData {
  std::uint64_t model_id = 0;
  std::int64_t steps = 0;
  std::int64_t batch = 0;
  SegmentPlan plan;
  RawBuffer lengths;               // [B] int32, or empty: every sequence has T steps
  Tensor x;                        // [T, B, X] copy of the input, padding zeroed (dW_ih needs it)
  // Per unit (layer·D + direction):
  std::vector<Tensor> h;           // [T+1, B, H]
  std::vector<Tensor> checkpoints;  // stored [T+1, B, H]; recompute [segments+1, B, H]
  std::vector<Tensor> gates;       // per unit [T, B, 4H] when stored; empty when recomputing
  // plan.da_in_gates: a backward has written da over `gates` (set before it starts, so a backward
  // that failed half-way counts); the next backward recomputes them from the inputs first.
  bool gates_spent = false;
  std::vector<Tensor> reversed_input;  // bidirectional: per layer [T, B, X_k]
  std::vector<Tensor> layer_output;    // bidirectional: per layer < L−1 [T, B, 2H]
  // Inter-layer dropout (training with config.dropout > 0), per layer k > 0 at index k (index 0
  // unused): layer k−1's output after the mask [T, B, D·H], and the mask's key.
  std::vector<Tensor> dropped_input;
  std::vector<kernels::DropoutKey> dropout_keys;
};

struct ModelImpl {
  explicit ModelImpl(const LstmConfig& config);

  LstmConfig config;
  ExecutionContext context;  // where everything of the model lives and runs
  std::uint64_t id;  // tells this model's contexts from other models'
  // Entry i of names, params and grads is the tensor ids[i]; ids = parameter_ids(config).
  std::vector<ParameterId> ids;
  std::vector<std::string> names;
  std::map<std::string, std::size_t> index_of;
  std::vector<Tensor> params;
  std::vector<Tensor> grads;
  bool training = true;              // applies inter-layer dropout (Lstm::set_training)
  std::uint64_t dropout_offset = 0;  // next position in the dropout stream

  // The context's ops for config.dtype and config.math (shared: tests may substitute recording
  // ops for one model).
  std::shared_ptr<ops::Ops<float>> ops_f32;   // when config.dtype == f32
  std::shared_ptr<ops::Ops<double>> ops_f64;  // when config.dtype == f64
  template <typename T> ops::Ops<T>& ops();

  // Scratch shared by forward (recompute) and backward, shaped by call_buffers.hpp's workspace
  // part; grown, never shrunk, so a training loop of one (T, B) allocates it once.
  struct Workspace {
    Tensor seg_gates, seg_c, h_spare;              // SegmentWorkspace
    Tensor da, dh_rec, dc, dx_inner, dbias, dy_reverse, dx_reverse;  // BackwardWorkspace
    Tensor dweight_t;                                                // BackwardWorkspace
    std::int64_t bytes() const {
      std::int64_t total = 0;
      for (const Tensor* t : {&seg_gates, &seg_c, &h_spare, &da, &dh_rec, &dc, &dx_inner, &dbias,
                              &dy_reverse, &dx_reverse, &dweight_t}) {
        total += static_cast<std::int64_t>(t->bytes());
      }
      return total;
    }
  } work;

  /// A tensor of the model's dtype on its context; undefined for an empty (absent) shape.
  Tensor empty(const Shape& shape) const {
    return shape.empty() ? Tensor() : Tensor::empty(shape, config.dtype, context);
  }
  std::size_t lookup(const std::string& name) const;
  /// Whether a forward now keeps inter-layer dropout masks.
  bool dropout_active() const {
    return training && config.dropout > 0 && config.num_layers > 1;
  }
  /// The segment plan for (T, B) under config.memory_mode (automatic resolved).
  SegmentPlan segment_plan(std::int64_t steps, std::int64_t batch) const;
  /// Grows the workspace to serve a call described by `buffers` (scratch only: it is freed before
  /// the larger one is taken, so the peak is the new size, not old + new).
  void reserve_workspace(const CallBuffers& buffers);
};

/// The implementation behind a public Lstm, for the library's own tools and white-box tests.
struct ModelAccess {
  static ModelImpl& impl(Lstm& model) { return *model.impl_; }
};

template <> inline ops::Ops<float>& ModelImpl::ops<float>() { return *ops_f32; }
template <> inline ops::Ops<double>& ModelImpl::ops<double>() { return *ops_f64; }

}  // namespace fuselstm::detail
