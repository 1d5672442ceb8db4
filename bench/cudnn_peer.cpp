// cuDNN as the GPU peer (see cudnn_peer.hpp). Compiled only when CUDA is on and cuDNN was found.

#include "cudnn_peer.hpp"

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "fuselstm/error.hpp"
#include "gpu_helper.hpp"
#include "timing_inputs.hpp"

namespace fuselstm::bench::cudnn_peer {

namespace {

/// A failed cuDNN call: the status, the call text and file:line.
class CudnnError : public DeviceError {
 public:
  CudnnError(cudnnStatus_t status, const std::string& text) : DeviceError(text), status(status) {}
  cudnnStatus_t status;
  bool not_supported() const {
#ifdef CUDNN_STATUS_CATEGORY
    return CUDNN_STATUS_CATEGORY(status) == CUDNN_STATUS_NOT_SUPPORTED;
#else
    return status == CUDNN_STATUS_NOT_SUPPORTED;
#endif
  }
};

[[noreturn]] void throw_cudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
  std::string text = std::string("cuDNN ") + cudnnGetErrorString(status) + " (" +
                     std::to_string(int(status)) + ") at " + file + ":" + std::to_string(line) +
                     ": " + call;
#if CUDNN_MAJOR >= 9
  char last[512] = {0};
  cudnnGetLastErrorString(last, sizeof(last));
  if (last[0]) text += std::string(" [") + last + "]";
#endif
  throw CudnnError(status, text);
}

[[noreturn]] void throw_cuda(cudaError_t status, const char* call, const char* file, int line) {
  cudaGetLastError();
  const std::string text = std::string("CUDA ") + cudaGetErrorName(status) + " (" +
                           cudaGetErrorString(status) + ") at " + file + ":" +
                           std::to_string(line) + ": " + call;
  if (status == cudaErrorMemoryAllocation) throw OutOfMemoryError(text);
  throw DeviceError(text);
}

#define PEER_CUDNN_CHECK(call)                              \
  do {                                                      \
    const cudnnStatus_t peer_status_ = (call);              \
    if (peer_status_ != CUDNN_STATUS_SUCCESS)               \
      throw_cudnn(peer_status_, #call, __FILE__, __LINE__); \
  } while (0)
#define PEER_CUDA_CHECK(call)                                                             \
  do {                                                                                    \
    const cudaError_t peer_status_ = (call);                                              \
    if (peer_status_ != cudaSuccess) throw_cuda(peer_status_, #call, __FILE__, __LINE__); \
  } while (0)
// For destructors: print, never throw.
#define PEER_WARN(ok, call)                                                                 \
  do {                                                                                      \
    if (!(ok))                                                                              \
      std::fprintf(stderr, "fuselstm_bench: warning: %s failed (%s:%d)\n", #call, __FILE__, \
                   __LINE__);                                                               \
  } while (0)

/// Device memory owned by the peer.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes) PEER_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  }
  ~Buffer() { PEER_WARN(!ptr_ || cudaFree(ptr_) == cudaSuccess, cudaFree(ptr_)); }
  Buffer(Buffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }
  Buffer& operator=(Buffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  void* get() const { return ptr_; }
  float* f() const { return static_cast<float*>(ptr_); }
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// RAII for the descriptors and the handle.
struct Handle {
  cudnnHandle_t h = nullptr;
  Handle() { PEER_CUDNN_CHECK(cudnnCreate(&h)); }
  ~Handle() { PEER_WARN(cudnnDestroy(h) == CUDNN_STATUS_SUCCESS, cudnnDestroy); }
};
struct RnnDesc {
  cudnnRNNDescriptor_t d = nullptr;
  RnnDesc() { PEER_CUDNN_CHECK(cudnnCreateRNNDescriptor(&d)); }
  ~RnnDesc() { PEER_WARN(cudnnDestroyRNNDescriptor(d) == CUDNN_STATUS_SUCCESS, destroy rnn); }
};
struct DataDesc {
  cudnnRNNDataDescriptor_t d = nullptr;
  DataDesc() { PEER_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&d)); }
  ~DataDesc() { PEER_WARN(cudnnDestroyRNNDataDescriptor(d) == CUDNN_STATUS_SUCCESS, destroy data); }
};
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc() { PEER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d)); }
  ~TensorDesc() { PEER_WARN(cudnnDestroyTensorDescriptor(d) == CUDNN_STATUS_SUCCESS, destroy t); }
};
struct DropoutDesc {
  cudnnDropoutDescriptor_t d = nullptr;
  DropoutDesc() { PEER_CUDNN_CHECK(cudnnCreateDropoutDescriptor(&d)); }
  ~DropoutDesc() {
    PEER_WARN(cudnnDestroyDropoutDescriptor(d) == CUDNN_STATUS_SUCCESS, destroy dropout);
  }
};

const char* algo_name(cudnnRNNAlgo_t a) {
  switch (a) {
    case CUDNN_RNN_ALGO_STANDARD:
      return "STANDARD";
    case CUDNN_RNN_ALGO_PERSIST_STATIC:
      return "PERSIST_STATIC";
    case CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H:
      return "PERSIST_STATIC_SMALL_H";
    case CUDNN_RNN_ALGO_PERSIST_DYNAMIC:
      return "PERSIST_DYNAMIC";
    default:
      return "?";
  }
}
const char* math_name(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_FMA_MATH:
      return "FMA";
    case CUDNN_DEFAULT_MATH:
      return "DEFAULT";
    case CUDNN_TENSOR_OP_MATH:
      return "TENSOR_OP";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
      return "TENSOR_OP_ALLOW_CONVERSION";
    default:
      return "?";
  }
}

/// One cuDNN LSTM stack of the case's sizes at length T, with its buffers; float data.
class CudnnLstm {
 public:
  CudnnLstm(const Handle& handle, const BenchCase& c, std::int64_t steps, cudnnRNNAlgo_t algo,
            cudnnMathType_t math)
      : handle_(handle), c_(c), T_(steps) {
    training_ = c.mode == Mode::fwdbwd;
    PEER_CUDNN_CHECK(cudnnSetDropoutDescriptor(dropout_.d, handle_.h, 0.0f, nullptr, 0, 0));
    // projSize == hiddenSize: no projection. Double bias: b_ih and b_hh, like PyTorch and us.
    PEER_CUDNN_CHECK(cudnnSetRNNDescriptor_v8(
        rnn_.d, algo, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
        CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, math, int32_t(c.X), int32_t(c.H), int32_t(c.H),
        int32_t(c.L), dropout_.d, CUDNN_RNN_PADDED_IO_DISABLED));
    if (algo == CUDNN_RNN_ALGO_PERSIST_DYNAMIC) {
      PEER_CUDNN_CHECK(cudnnBuildRNNDynamic(handle_.h, rnn_.d, int(c.B)));
    }
    // Time-major [T, B, F], every sequence of full length: the same layout as fuselstm's.
    seq_lengths_.assign(std::size_t(c.B), int(T_));
    float padding = 0;
    PEER_CUDNN_CHECK(cudnnSetRNNDataDescriptor(x_desc_.d, CUDNN_DATA_FLOAT,
                                               CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, int(T_),
                                               int(c.B), int(c.X), seq_lengths_.data(), &padding));
    PEER_CUDNN_CHECK(cudnnSetRNNDataDescriptor(y_desc_.d, CUDNN_DATA_FLOAT,
                                               CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, int(T_),
                                               int(c.B), int(c.H), seq_lengths_.data(), &padding));
    const int dims[3] = {int(c.L), int(c.B), int(c.H)};
    const int strides[3] = {int(c.B * c.H), int(c.H), 1};
    PEER_CUDNN_CHECK(cudnnSetTensorNdDescriptor(h_desc_.d, CUDNN_DATA_FLOAT, 3, dims, strides));
    PEER_CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(handle_.h, rnn_.d, &weight_bytes_));
    PEER_CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(
        handle_.h, rnn_.d, training_ ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
        x_desc_.d, &work_bytes_, &reserve_bytes_));
  }

  /// Device bytes allocate() will take.
  std::int64_t bytes_needed() const {
    const std::int64_t f = sizeof(float);
    std::int64_t n = std::int64_t(weight_bytes_ + work_bytes_ + reserve_bytes_);
    n +=
        (T_ * c_.B * c_.X + T_ * c_.B * c_.H + 4 * c_.L * c_.B * c_.H) * f;  // x, y, hx, cx, hy, cy
    if (training_) {
      n += std::int64_t(weight_bytes_);                                         // dweights
      n += (T_ * c_.B * c_.X + T_ * c_.B * c_.H + 4 * c_.L * c_.B * c_.H) * f;  // dx, dy, dh, dc
    }
    return n + c_.B * std::int64_t(sizeof(int32_t));
  }

  void allocate() {
    const std::size_t f = sizeof(float);
    const std::size_t state = std::size_t(c_.L * c_.B * c_.H) * f;
    weights_ = Buffer(weight_bytes_);
    work_ = Buffer(work_bytes_);
    reserve_ = Buffer(reserve_bytes_);
    x_ = Buffer(std::size_t(T_ * c_.B * c_.X) * f);
    y_ = Buffer(std::size_t(T_ * c_.B * c_.H) * f);
    hx_ = Buffer(state);
    cx_ = Buffer(state);
    hy_ = Buffer(state);
    cy_ = Buffer(state);
    if (training_) {
      dweights_ = Buffer(weight_bytes_);
      dx_ = Buffer(x_.bytes());
      dy_ = Buffer(y_.bytes());
      dhy_ = Buffer(state);
      dcy_ = Buffer(state);
      dhx_ = Buffer(state);
      dcx_ = Buffer(state);
    }
    dev_seq_lengths_ = Buffer(seq_lengths_.size() * sizeof(int32_t));
    PEER_CUDA_CHECK(cudaMemcpy(dev_seq_lengths_.get(), seq_lengths_.data(),
                               dev_seq_lengths_.bytes(), cudaMemcpyHostToDevice));
  }

  /// Copies fuselstm's weights into cuDNN's weight space: per layer, linear layers 0-3 are the
  /// input matrices of gates i, f, g, o ([H, X_k] row blocks of weight_ih), 4-7 the recurrent ones
  /// (row blocks of weight_hh); their biases are the blocks of bias_ih and bias_hh.
  void load_weights(const reference::Params<double>& p) {
    for_each_block(weights_, [&](std::int64_t layer, int id, float* matrix, std::int64_t rows,
                                 std::int64_t cols, float* bias) {
      const int gate = id % 4;
      const auto& w = id < 4 ? p.weight_ih[layer] : p.weight_hh[layer];
      const auto& b = id < 4 ? p.bias_ih[layer] : p.bias_hh[layer];
      std::vector<float> block(std::size_t(rows * cols));
      for (std::size_t k = 0; k < block.size(); ++k) block[k] = float(w[gate * rows * cols + k]);
      PEER_CUDA_CHECK(
          cudaMemcpy(matrix, block.data(), block.size() * sizeof(float), cudaMemcpyHostToDevice));
      std::vector<float> bias_block(static_cast<std::size_t>(rows));
      for (std::size_t k = 0; k < bias_block.size(); ++k) bias_block[k] = float(b[gate * rows + k]);
      PEER_CUDA_CHECK(cudaMemcpy(bias, bias_block.data(), bias_block.size() * sizeof(float),
                                 cudaMemcpyHostToDevice));
    });
  }

  /// The exact validation inputs.
  void set_inputs(const Problem& p) {
    upload(x_, p.x);
    upload(hx_, p.h0);
    upload(cx_, p.c0);
    if (training_) {
      upload(dy_, p.dy);
      upload(dhy_, p.dhT);
      upload(dcy_, p.dcT);
    }
  }

  /// The timing inputs: the pattern tiled exactly as fuselstm's timing inputs (its first x).
  void set_timing_inputs(const std::vector<float>& pattern) {
    namespace ti = timing_inputs;
    const std::pair<Buffer*, ti::Fill> fills[] = {{&x_, ti::x},     {&hx_, ti::h0},
                                                  {&cx_, ti::c0},   {&dy_, ti::dy},
                                                  {&dhy_, ti::dhT}, {&dcy_, ti::dcT}};
    for (const auto& [buffer, fill] : fills) {
      if (!buffer->get()) continue;
      ti::tile(pattern.data(), pattern.size(), buffer->bytes() / sizeof(float), fill,
               [&](std::size_t at, const float* values, std::size_t count) {
                 PEER_CUDA_CHECK(cudaMemcpy(buffer->f() + at, values, count * sizeof(float),
                                            cudaMemcpyHostToDevice));
               });
    }
  }

  /// Forward (training mode when backward follows), then backward data and weights into zeroed
  /// weight gradients; queued on `stream`.
  void run(cudaStream_t stream) {
    PEER_CUDNN_CHECK(cudnnSetStream(handle_.h, stream));
    const auto* lengths = static_cast<const int32_t*>(dev_seq_lengths_.get());
    PEER_CUDNN_CHECK(cudnnRNNForward(
        handle_.h, rnn_.d, training_ ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE, lengths,
        x_desc_.d, x_.get(), y_desc_.d, y_.get(), h_desc_.d, hx_.get(), hy_.get(), h_desc_.d,
        cx_.get(), cy_.get(), weight_bytes_, weights_.get(), work_bytes_, work_.get(),
        reserve_bytes_, reserve_.get()));
    if (!training_) return;
    PEER_CUDNN_CHECK(cudnnRNNBackwardData_v8(
        handle_.h, rnn_.d, lengths, y_desc_.d, y_.get(), dy_.get(), x_desc_.d, dx_.get(), h_desc_.d,
        hx_.get(), dhy_.get(), dhx_.get(), h_desc_.d, cx_.get(), dcy_.get(), dcx_.get(),
        weight_bytes_, weights_.get(), work_bytes_, work_.get(), reserve_bytes_, reserve_.get()));
    // Only CUDNN_WGRAD_MODE_ADD exists: clear first, as fuselstm's zero_grad does.
    PEER_CUDA_CHECK(cudaMemsetAsync(dweights_.get(), 0, weight_bytes_, stream));
    PEER_CUDNN_CHECK(cudnnRNNBackwardWeights_v8(
        handle_.h, rnn_.d, CUDNN_WGRAD_MODE_ADD, lengths, x_desc_.d, x_.get(), h_desc_.d, hx_.get(),
        y_desc_.d, y_.get(), weight_bytes_, dweights_.get(), work_bytes_, work_.get(),
        reserve_bytes_, reserve_.get()));
    PEER_CUDA_CHECK(cudaGetLastError());
  }

  /// Results in run_forward_backward's order: y, hT, cT, dx, dh0, dc0, then per layer
  /// dweight_ih, dweight_hh, dbias_ih, dbias_hh (assembled from cuDNN's per-gate blocks).
  Outputs outputs() const {
    Outputs o;
    o.names = {"y", "hT", "cT", "dx", "dh0", "dc0"};
    for (const Buffer* b : {&y_, &hy_, &cy_, &dx_, &dhx_, &dcx_}) o.values.push_back(download(*b));
    if (!training_) return o;  // forward only: no gradients were computed
    std::vector<reference::Params<double>> grads(1);
    auto& g = grads[0];
    for (std::int64_t k = 0; k < c_.L; ++k) {
      const std::int64_t Xk = c_.layer_input(k);
      g.weight_ih.emplace_back(std::size_t(4 * c_.H * Xk));
      g.weight_hh.emplace_back(std::size_t(4 * c_.H * c_.H));
      g.bias_ih.emplace_back(std::size_t(4 * c_.H));
      g.bias_hh.emplace_back(std::size_t(4 * c_.H));
    }
    for_each_block(dweights_, [&](std::int64_t layer, int id, float* matrix, std::int64_t rows,
                                  std::int64_t cols, float* bias) {
      const int gate = id % 4;
      auto& w = id < 4 ? g.weight_ih[layer] : g.weight_hh[layer];
      auto& b = id < 4 ? g.bias_ih[layer] : g.bias_hh[layer];
      std::vector<float> block(std::size_t(rows * cols)),
          bias_block(static_cast<std::size_t>(rows));
      PEER_CUDA_CHECK(
          cudaMemcpy(block.data(), matrix, block.size() * sizeof(float), cudaMemcpyDeviceToHost));
      PEER_CUDA_CHECK(cudaMemcpy(bias_block.data(), bias, bias_block.size() * sizeof(float),
                                 cudaMemcpyDeviceToHost));
      for (std::size_t k = 0; k < block.size(); ++k) w[gate * rows * cols + k] = block[k];
      for (std::size_t k = 0; k < bias_block.size(); ++k) b[gate * rows + k] = bias_block[k];
    });
    for (std::int64_t k = 0; k < c_.L; ++k) {
      const std::string s = "_l" + std::to_string(k);
      o.names.insert(o.names.end(),
                     {"dweight_ih" + s, "dweight_hh" + s, "dbias_ih" + s, "dbias_hh" + s});
      o.values.insert(o.values.end(), {g.weight_ih[k], g.weight_hh[k], g.bias_ih[k], g.bias_hh[k]});
    }
    return o;
  }

 private:
  // Calls fn(layer, linear layer id, matrix, rows, cols, bias) for the 8 blocks of every layer of
  // `space` (the weight space or the weight-gradient space: same offsets), checking their shapes.
  template <typename Fn>
  void for_each_block(const Buffer& space, Fn&& fn) const {
    TensorDesc m_desc, b_desc;
    for (std::int64_t layer = 0; layer < c_.L; ++layer) {
      for (int id = 0; id < 8; ++id) {
        void* matrix = nullptr;
        void* bias = nullptr;
        PEER_CUDNN_CHECK(cudnnGetRNNWeightParams(handle_.h, rnn_.d, int32_t(layer), weight_bytes_,
                                                 space.get(), id, m_desc.d, &matrix, b_desc.d,
                                                 &bias));
        const std::int64_t rows = c_.H, cols = id < 4 ? c_.layer_input(layer) : c_.H;
        const std::int64_t m_count = element_count(m_desc), b_count = element_count(b_desc);
        if (!matrix || !bias || m_count != rows * cols || b_count != rows) {
          throw DeviceError("fuselstm_bench: cuDNN's weight block (layer " + std::to_string(layer) +
                            ", id " + std::to_string(id) + ") has " + std::to_string(m_count) +
                            " + " + std::to_string(b_count) + " values, expected " +
                            std::to_string(rows * cols) + " + " + std::to_string(rows));
        }
        fn(layer, id, static_cast<float*>(matrix), rows, cols, static_cast<float*>(bias));
      }
    }
  }

  static std::int64_t element_count(const TensorDesc& t) {
    cudnnDataType_t type;
    int nb_dims = 0, dims[8] = {0}, strides[8] = {0};
    PEER_CUDNN_CHECK(cudnnGetTensorNdDescriptor(t.d, 8, &type, &nb_dims, dims, strides));
    std::int64_t n = 1;
    for (int k = 0; k < nb_dims; ++k) n *= dims[k];
    return n;
  }

  static void upload(Buffer& b, const std::vector<double>& v) {
    if (!b.get()) return;
    std::vector<float> f(v.begin(), v.end());
    if (f.size() * sizeof(float) != b.bytes()) {
      throw DeviceError("fuselstm_bench: cuDNN peer input of " + std::to_string(f.size()) +
                        " values for a buffer of " + std::to_string(b.bytes()) + " bytes");
    }
    PEER_CUDA_CHECK(cudaMemcpy(b.get(), f.data(), b.bytes(), cudaMemcpyHostToDevice));
  }

  static std::vector<double> download(const Buffer& b) {
    std::vector<float> f(b.bytes() / sizeof(float));
    if (b.get()) {
      PEER_CUDA_CHECK(cudaMemcpy(f.data(), b.get(), b.bytes(), cudaMemcpyDeviceToHost));
    }
    return std::vector<double>(f.begin(), f.end());
  }

  const Handle& handle_;
  BenchCase c_;
  std::int64_t T_;
  bool training_ = true;
  DropoutDesc dropout_;
  RnnDesc rnn_;
  DataDesc x_desc_, y_desc_;
  TensorDesc h_desc_;
  std::vector<int32_t> seq_lengths_;
  std::size_t weight_bytes_ = 0, work_bytes_ = 0, reserve_bytes_ = 0;
  Buffer weights_, dweights_, work_, reserve_, x_, y_, dx_, dy_, hx_, cx_, hy_, cy_, dhy_, dcy_,
      dhx_, dcx_, dev_seq_lengths_;
};

struct Variant {
  cudnnRNNAlgo_t algo;
  cudnnMathType_t math;
};

std::vector<Variant> variants(Precision p) {
  const cudnnRNNAlgo_t algos[] = {CUDNN_RNN_ALGO_STANDARD, CUDNN_RNN_ALGO_PERSIST_STATIC,
                                  CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H,
                                  CUDNN_RNN_ALGO_PERSIST_DYNAMIC};
  std::vector<Variant> out;
  for (cudnnRNNAlgo_t a : algos) {
    if (p == Precision::fp32) {
      out.push_back({a, CUDNN_FMA_MATH});  // no tensor cores: a like-for-like fp32 peer
    } else {
      out.push_back({a, CUDNN_DEFAULT_MATH});  // TF32 allowed for float data (Ampere and later)
      out.push_back({a, CUDNN_TENSOR_OP_MATH});
    }
  }
  return out;
}

// Runs `body`, recording cuDNN's "not supported" and any other failure in the attempt.
template <typename Body>
bool guarded(Attempt& a, Body&& body) {
  try {
    body();
    return true;
  } catch (const CudnnError& e) {
    a.status = e.not_supported() ? "not_supported" : "error";
    a.detail = e.what();
  } catch (const OutOfMemoryError& e) {
    a.status = "skipped";
    a.detail = e.what();
  } catch (const std::exception& e) {
    a.status = "error";
    a.detail = e.what();
  }
  cudaGetLastError();  // a failed attempt must not poison the next one
  return false;
}

std::string bytes_text(std::int64_t b) {
  return std::to_string(b / (1 << 20)) + " MiB";
}

}  // namespace

bool compiled() {
  return true;
}

std::string version() {
  const std::size_t v = cudnnGetVersion();  // e.g. 91900 for 9.19.0 (8xxx for cuDNN 8)
  if (v >= 90000) {
    return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
           std::to_string(v % 100);
  }
  return std::to_string(v / 1000) + "." + std::to_string(v / 100 % 10) + "." +
         std::to_string(v % 100);
}

Result run(const Inputs& in) {
  Result r;
  const BenchCase& c = in.bench_case;
  if (c.cell != CellActivation::tanh) {
    r.note = "cuDNN has only the standard tanh cell";
    return r;
  }
  if (!in.agreement_problem || !in.agreement_outputs || !in.timing_pattern) {
    r.note = "no validation inputs to compare with";
    return r;
  }
  r.agreement_steps = in.agreement_problem->dims.T;
  const auto stream = static_cast<cudaStream_t>(in.stream);
  std::unique_ptr<Handle> handle;
  try {
    handle = std::make_unique<Handle>();
  } catch (const std::exception& e) {
    r.note = std::string("cudnnCreate failed: ") + e.what() +
             " (is cuDNN's lib folder on LD_LIBRARY_PATH?)";
    return r;
  }

  // 1. Every variant at the agreement length: does it run, does it agree, how fast.
  BenchCase short_case = c;
  short_case.T = r.agreement_steps;
  for (const Variant& v : variants(c.precision)) {
    Attempt a;
    a.algo = algo_name(v.algo);
    a.math = math_name(v.math);
    a.status = "ok";
    guarded(a, [&] {
      CudnnLstm rnn(*handle, short_case, short_case.T, v.algo, v.math);
      const gpu::MemoryInfo mem = gpu::memory_info(c.device.index);
      if (rnn.bytes_needed() > mem.free_bytes) {
        a.status = "skipped";
        a.detail =
            "needs " + bytes_text(rnn.bytes_needed()) + ", " + bytes_text(mem.free_bytes) + " free";
        return;
      }
      rnn.allocate();
      rnn.load_weights(in.weights);
      rnn.set_inputs(*in.agreement_problem);
      rnn.run(stream);
      PEER_CUDA_CHECK(cudaStreamSynchronize(stream));
      const Outputs got = rnn.outputs();
      const Outputs& ref = *in.agreement_outputs;
      const std::size_t compared = c.mode == Mode::fwd ? 3 : got.names.size();  // fwd: y, hT, cT
      if (ref.names.size() < compared ||
          !std::equal(got.names.begin(), got.names.begin() + long(compared), ref.names.begin())) {
        throw DeviceError(
            "fuselstm_bench: cuDNN's results and fuselstm's are not in the same "
            "order (a bench bug)");
      }
      for (std::size_t k = 0; k < compared; ++k) {
        const double e = scaled_max_error(got.values[k], ref.values[k]);
        a.agreement.push_back({got.names[k], e});
        if (e > a.max_error) {
          a.max_error = e;
          a.worst_tensor = got.names[k];
        }
      }
      TimingOptions quick = in.timing;
      quick.warmup = 1;
      quick.reps = 3;
      a.ranking = time_calls(c.device, in.stream, quick, [&] { rnn.run(stream); });
    });
    r.attempts.push_back(a);
  }
  for (std::size_t k = 0; k < r.attempts.size(); ++k) {
    const Attempt& a = r.attempts[k];
    if (a.status != "ok") continue;
    if (r.best < 0 || a.ranking.median_ms < r.attempts[std::size_t(r.best)].ranking.median_ms) {
      r.best = int(k);
    }
  }
  if (r.best < 0) {
    r.note = "no cuDNN algorithm ran";
    return r;
  }

  // 2. The fastest at the full length, on the timing inputs.
  Attempt& best = r.attempts[std::size_t(r.best)];
  const Variant v = variants(c.precision)[std::size_t(r.best)];
  guarded(best, [&] {
    CudnnLstm rnn(*handle, c, c.T, v.algo, v.math);
    r.bytes_needed = rnn.bytes_needed();
    r.bytes_available = gpu::memory_info(c.device.index).free_bytes;
    if (r.bytes_needed > r.bytes_available) {
      r.note = "full length skipped: needs " + bytes_text(r.bytes_needed) + ", " +
               bytes_text(r.bytes_available) + " free";
      return;
    }
    rnn.allocate();
    rnn.load_weights(in.weights);
    rnn.set_timing_inputs(*in.timing_pattern);
    best.timed = time_calls(c.device, in.stream, in.timing, [&] { rnn.run(stream); });
  });
  return r;
}

}  // namespace fuselstm::bench::cudnn_peer
