#pragma once
// The configuration of an LSTM model.

#include <cstdint>
#include <optional>
#include <string>

#include "fuselstm/context.hpp"
#include "fuselstm/device.hpp"
#include "fuselstm/tensor.hpp"

namespace fuselstm {

/// The cell-output activation: h = o ⊙ act(c).
enum class CellActivation {
  tanh,      ///< h = o ⊙ tanh(c): the standard cell of PyTorch nn.LSTM and cuDNN
  identity,  ///< h = o ⊙ c: the "Simple LSTM" seed's variant
};
const char* cell_activation_name(CellActivation cell);  // "tanh" / "identity"

/// Matrix-product precision on CUDA (the host always computes in the tensor dtype).
enum class MathMode {
  fp32,  ///< full fp32 (or fp64) products; no tensor-core shortcuts
  tf32,  ///< fp32 products on TF32 tensor cores (10-bit mantissa inputs); looser agreement
};

/// What forward keeps for backward.
enum class MemoryMode {
  /// Every step's gates and cell state (about 6·T·B·H values per layer): the fastest.
  store_all,
  /// Only h(1..T) per layer (the next layer's input) and c at every k-th step; backward recomputes
  /// each k-step segment's forward from its checkpoint (about one extra forward, +33% of
  /// forward+backward) and streams the input projection per segment. k = segment_steps, or ⌈√T⌉
  /// when segment_steps is 0. Gradients are bitwise equal to store_all's on the same device.
  recompute,
  /// store_all when it fits in memory_limit_bytes (0: the device's free memory), else recompute
  /// with the largest k that fits; OutOfMemoryError naming needed and available bytes otherwise.
  automatic,
};
const char* memory_mode_name(MemoryMode mode);

/// How the recurrent part of each layer runs (the steps that depend on h(t−1)); every choice
/// computes the same function, only how the work is cut and scheduled differs.
enum class RecurrentAlgorithm {
  /// The fastest one measured for this device and shape (see `standard` and `persistent`).
  automatic,
  /// Per step one BLAS/cuBLAS GEMM of h(t−1) with W_hh, then the fused cell step.
  standard,
  /// The standard algorithm's calls, recorded per forward, backward and inference pass (no work
  /// runs while recording: nothing allocates, waits or reads back) and run as a graph from a cache
  /// of the context (up to 8 graphs, 2 per pass structure): the same calls and arguments replay the
  /// cached graph as it is; new arguments (other buffers, a new dropout mask key) update a cached
  /// graph in place; a new structure (shape, plan) is captured. A training loop of one shape
  /// replays from its third step on (the arena hands back the same blocks). Same bits as
  /// standard. CUDA: CUDA graphs (cudaGraphExecUpdate for new arguments; a context borrowing the
  /// legacy default stream, which cannot be captured, runs the recorded calls directly).
  /// On an H200 (bench/RESULTS.md, session 9) a steady loop of one shape ran in 0.36-0.94x
  /// standard's time (B = 1, H = 256: 10.2 vs 28.2 µs per step). Opt-in: `automatic` does not
  /// pick it, since a loop whose shapes change (each new T is a new structure) pays a capture
  /// per shape, which is not measured yet. Host: its twin (the cached calls replayed through the
  /// same cache decisions), for checking only: no faster than standard.
  graphs,
  /// The whole time loop of a layer in one pass whose workers keep their slice of W_hh hot.
  /// Host: a team of threads (one per core, at most FUSELSTM_NUM_THREADS; OpenMP's, the threads
  /// oneDNN's sgemm runs on, when built with OpenMP; FUSELSTM_HOST_POOL=own: threads of its own;
  /// fewer inside another OpenMP parallel region, with the same bits), W_hh packed once per call.
  /// With 4 or more rows of the batch per thread (and W_hh at most 8 MiB, or 32 rows per
  /// thread) each thread runs its own rows through every step, with no barrier between steps;
  /// otherwise each owns 16-unit blocks of hidden units (all four gates' rows of W_hh) of every
  /// row, one barrier per step (FUSELSTM_HOST_SPLIT=rows|units forces one). Its products are
  /// summed in a fixed order per element, so the result is the same bits for every thread count,
  /// split, memory mode and vector width (not the standard algorithm's bits).
  /// CUDA: one cooperative kernel launch per layer, direction and segment (backward: per gradient
  /// block of ⌈1024/B⌉ steps, whose GEMMs then run while its da is fresh); each block keeps the
  /// W_hh rows of its hidden units (all four gates) in shared memory for the whole call, h(t) is
  /// exchanged through global memory with one grid-wide barrier per step; fp32 (FFMA) and fp64,
  /// deterministic. Eligible when B ≤ 64 and the slices fit the GPU's shared memory with every
  /// block resident (kernels/persistent_math.hpp); other shapes run the standard steps.
  /// Correct on an H200 (CI runs its per-block logic through a host twin) but, there, faster than
  /// standard only at B = 1 (11.1 vs 28.2 µs per step at H = 256) and 2.6-7x slower at B = 16-64
  /// (bench/RESULTS.md, session 9): opt-in only, `automatic` never picks it on CUDA.
  persistent,
};
const char* recurrent_algorithm_name(RecurrentAlgorithm algorithm);

/// What a model is: its sizes and structure, everything a model file records. Fields keep
/// PyTorch nn.LSTM's constructor names.
struct LstmSpec {
  std::int64_t input_size = 0;   ///< X, features per step of the first layer's input
  std::int64_t hidden_size = 0;  ///< H, memory cells per layer
  std::int64_t num_layers = 1;   ///< L, stacked layers; layer k > 0 takes layer k-1's output
  bool bias = true;              ///< with bias_ih_l{k} and bias_hh_l{k}
  CellActivation cell = CellActivation::tanh;
  /// Each layer also runs a reverse direction (PyTorch's *_reverse parameters) over each sequence
  /// from its own last step; outputs are [forward h, reverse h] (2H wide, the next layer's input),
  /// states are [2L, B, H] ordered layer 0 forward, layer 0 reverse, layer 1 forward, ...
  bool bidirectional = false;
  /// D: 2 when bidirectional, else 1.
  std::int64_t directions() const { return bidirectional ? 2 : 1; }
  /// Sequences (x, y, dy, dx) are [B, T, F] instead of [T, B, F]; states stay [L·D, B, H].
  bool batch_first = false;
  /// PyTorch's LSTM with projections (weight_hr_l{k}) is not supported: must be 0.
  std::int64_t proj_size = 0;
  /// Inter-layer dropout probability p ∈ [0, 1), as nn.LSTM's `dropout`: in training mode
  /// (Lstm::set_training) the input of every layer k > 0, i.e. layer k−1's output, is multiplied
  /// by a mask that keeps each element with probability 1 − p and scales it by 1/(1 − p); never
  /// after the last layer, never in evaluation mode. 0: off.
  double dropout = 0;
  /// The masks' seed: a counter-based Philox4x32-10 stream (see Lstm::dropout_offset), so the same
  /// seed gives the same masks on every device.
  std::uint64_t dropout_seed = 0;

  /// Throws ValueError naming the field when a size is < 1 or a value is out of range.
  void validate() const;
};

/// How a model runs: where, in which precision, and what forward keeps for backward. Nothing here
/// is recorded in a model file.
struct RunOptions {
  DType dtype = DType::f32;
  Device device = Device::cpu();
  /// Where the model runs: its stream, arena and BLAS handles (context.hpp states the stream
  /// contract). Unset: ExecutionContext::default_for(device). When set, it must be on `device`.
  /// PyTorch's current stream: ExecutionContext::borrow_stream(device, stream pointer).
  std::optional<ExecutionContext> context;
  MathMode math = MathMode::fp32;
  MemoryMode memory_mode = MemoryMode::store_all;
  /// k of MemoryMode::recompute; 0: ⌈√T⌉. Rounded up to a multiple of the projection block P
  /// (below), capped at T: plan_memory() reports the k used.
  std::int64_t segment_steps = 0;
  /// P: steps per input-projection GEMM block. The input projection of every mode runs in blocks
  /// [j·P, (j+1)·P) fixed in absolute time, so every memory mode (and infer()) issues the same
  /// GEMM calls on the same data and gets the same bits on any BLAS or cuBLAS. 0: automatic, a
  /// function of (T, B, device) only: ⌈1024/B⌉ steps on the host, ⌈4096/B⌉ on CUDA, capped at T.
  std::int64_t projection_steps = 0;
  std::int64_t memory_limit_bytes = 0;  ///< budget of MemoryMode::automatic; 0: free memory
  /// How the recurrent steps run. automatic: on the host, persistent for float32 on a CPU with
  /// AVX2+FMA or AVX-512 (bench/RESULTS.md: 0.40-0.94x standard's time, except 2-13% slower at
  /// B = 1 and 256 when OpenBLAS runs AVX-512 kernels), else standard; on CUDA,
  /// standard (graphs and persistent are opt-in: see each).
  RecurrentAlgorithm algorithm = RecurrentAlgorithm::automatic;

  /// Throws ValueError naming the field when a value is out of range, DeviceError when the device
  /// is not usable.
  void validate() const;
};

/// A spec and its run options together: what Lstm's constructor takes. Each field is declared once,
/// in LstmSpec or RunOptions; `cfg.hidden_size = 32; cfg.device = ...` set either part.
struct LstmConfig : LstmSpec, RunOptions {
  LstmConfig() = default;
  LstmConfig(const LstmSpec& spec, const RunOptions& run) : LstmSpec(spec), RunOptions(run) {}
  const LstmSpec& spec() const { return *this; }
  const RunOptions& run() const { return *this; }
  LstmSpec& spec() { return *this; }
  RunOptions& run() { return *this; }
  /// Both validations, and that every size product fits int64: 4·H, any parameter's elements,
  /// and all parameters and gradients' bytes (so H < 2^61 at the very least); ValueError naming
  /// the field otherwise.
  void validate() const;
};

}  // namespace fuselstm
