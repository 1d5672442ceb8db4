// See onednn_matmul.hpp.

#include "ops/host/onednn_matmul.hpp"

#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "fuselstm/error.hpp"
#include "ops/host/onednn_gemm.hpp"
#include "ops/host/openmp_threads_for_call.hpp"

#if FUSELSTM_HAVE_DNNL
#include <dnnl.hpp>
#endif

namespace fuselstm::ops {

bool onednn_weight_matmul_selected() {
#if FUSELSTM_HAVE_DNNL
  static const bool selected = [] {
    const char* choice = std::getenv("FUSELSTM_HOST_WEIGHT_GEMM");
    return onednn_sgemm_selected() &&
           (!choice || !*choice || std::strcmp(choice, "matmul") == 0);
  }();
  return selected;
#else
  return false;
#endif
}

#if FUSELSTM_HAVE_DNNL
namespace {

using dims = dnnl::memory::dims;
using dnnl::memory;

// 64-byte aligned bytes that only grow: the packed weights and the scratchpad.
class AlignedBuffer {
public:
  void* reserve(std::size_t bytes) {
    if (bytes > capacity_) {
      const std::size_t rounded = (bytes + 63) / 64 * 64;
      void* p = std::aligned_alloc(64, rounded);
      if (!p) throw OutOfMemoryError("fuselstm: no host memory for " + std::to_string(rounded) +
                                     " bytes of packed weights (oneDNN matmul)");
      data_.reset(p);
      capacity_ = rounded;
    }
    return data_.get();
  }

private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> data_;
  std::size_t capacity_ = 0;
};

struct Primitive {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul matmul;
  memory::desc weights_as_given;
  memory::desc weights_layout;  // the layout its kernels read (pd.weights_desc())
};

// A packed copy of one weight matrix, and what it was packed from.
struct PackedWeights {
  const float* from = nullptr;
  std::int64_t m = 0, k = 0, lda = 0;
  memory::desc layout;
  AlignedBuffer buffer;
};

}  // namespace

struct OneDnnWeightMatmul::State {
  std::mutex mutex;
  // Made by the first run (ops objects that never run one, double's, make none).
  dnnl::engine engine;
  dnnl::stream stream;
  // ta, tb, m, n, k, lda, ldb, ldc, beta's bits, OpenMP threads.
  std::map<std::array<std::int64_t, 10>, Primitive> primitives;
  std::array<PackedWeights, 2> packed;  // by trans_a
  AlignedBuffer scratchpad;
  std::int64_t packs = 0;
};

OneDnnWeightMatmul::OneDnnWeightMatmul() : state_(std::make_unique<State>()) {}
OneDnnWeightMatmul::~OneDnnWeightMatmul() = default;

std::int64_t OneDnnWeightMatmul::packs() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->packs;
}

bool OneDnnWeightMatmul::run(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k,
                             const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
                             float beta, float* c, std::int64_t ldc, bool a_unchanged) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  const OpenMpThreadsForCall threads;
  // Row-major, column-major C (m×n) is Cᵀ (n×m) = op(B)ᵀ·op(A)ᵀ: src op(B)ᵀ [n, k], weights
  // op(A)ᵀ [k, m] (A), dst [n, m]; a transposed operand is the same memory with swapped strides.
  std::uint32_t beta_bits;
  std::memcpy(&beta_bits, &beta, sizeof beta_bits);
  const std::array<std::int64_t, 10> key{int(ta), int(tb), m,   n,         k,
                                         lda,     ldb,     ldc, beta_bits, OpenMpThreadsForCall::threads()};
  auto found = s.primitives.find(key);
  if (found == s.primitives.end()) {
    try {
      if (!s.engine) {
        s.engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
        s.stream = dnnl::stream(s.engine);
      }
      const memory::desc src({n, k}, memory::data_type::f32,
                             tb == Trans::N ? dims{ldb, 1} : dims{1, ldb});
      const memory::desc weights({k, m}, memory::data_type::f32,
                                 ta == Trans::N ? dims{lda, 1} : dims{1, lda});
      const memory::desc dst({n, m}, memory::data_type::f32, dims{ldc, 1});
      const memory::desc any_layout({k, m}, memory::data_type::f32, memory::format_tag::any);
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      if (beta != 0.0f) {
        dnnl::post_ops sum;
        sum.append_sum(beta);
        attr.set_post_ops(sum);
      }
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, any_layout, dst), attr, s.engine);
      if (s.primitives.size() >= 256) s.primitives.clear();  // shapes of calls long past
      found = s.primitives.emplace(key, Primitive{pd, dnnl::matmul(pd), weights, pd.weights_desc()})
                  .first;
    } catch (const dnnl::error&) {
      return false;  // no matmul for this shape here: the caller runs the sgemm
    }
  }
  const Primitive& p = found->second;
  try {
    memory weights(p.weights_as_given, s.engine, const_cast<float*>(a));
    if (p.weights_layout != p.weights_as_given) {
      PackedWeights& w = s.packed[ta == Trans::N ? 0 : 1];
      const bool reuse = a_unchanged && w.from == a && w.m == m && w.k == k && w.lda == lda &&
                         w.layout == p.weights_layout;
      memory packed(p.weights_layout, s.engine, w.buffer.reserve(p.weights_layout.get_size()));
      if (!reuse) {
        w.from = nullptr;  // until the copy is complete
        dnnl::reorder(weights, packed).execute(s.stream, weights, packed);
        w.from = a, w.m = m, w.k = k, w.lda = lda, w.layout = p.weights_layout;
        ++s.packs;
      }
      weights = packed;
    }
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(p.pd.src_desc(), s.engine, const_cast<float*>(b))},
        {DNNL_ARG_WEIGHTS, weights},
        {DNNL_ARG_DST, memory(p.pd.dst_desc(), s.engine, c)}};
    const memory::desc scratch = p.pd.scratchpad_desc();
    if (scratch.get_size() > 0) {
      args.emplace(DNNL_ARG_SCRATCHPAD,
                   memory(scratch, s.engine, s.scratchpad.reserve(scratch.get_size())));
    }
    p.matmul.execute(s.stream, args);
    s.stream.wait();
  } catch (const dnnl::error& e) {
    throw Error("fuselstm: oneDNN's matmul failed for m=" + std::to_string(m) + " n=" +
                std::to_string(n) + " k=" + std::to_string(k) + ": " + e.what());
  }
  return true;
}

#else

struct OneDnnWeightMatmul::State {};
OneDnnWeightMatmul::OneDnnWeightMatmul() = default;
OneDnnWeightMatmul::~OneDnnWeightMatmul() = default;
std::int64_t OneDnnWeightMatmul::packs() const { return 0; }
bool OneDnnWeightMatmul::run(Trans, Trans, std::int64_t, std::int64_t, std::int64_t, const float*,
                             std::int64_t, const float*, std::int64_t, float, float*,
                             std::int64_t, bool) {
  return false;
}

#endif

}  // namespace fuselstm::ops
