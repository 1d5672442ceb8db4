// Hardening at the public boundary: size products that would overflow int64 are refused by name
// before anything is allocated; the host GEMM's split for cblas's 32-bit sizes; calls on a
// moved-from model; NaN/Inf in padded positions of x contribute nothing; no numel-sized host
// temporaries and no std::bad_alloc from public calls.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fuselstm/error.hpp"
#include "fuselstm/lstm.hpp"
#include "ops/host/blas_blocks.hpp"

namespace fuselstm::testing {
namespace {

LstmConfig sized(std::int64_t X, std::int64_t H, std::int64_t L, bool bidirectional = false) {
  LstmConfig cfg;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.bidirectional = bidirectional;
  return cfg;
}

// Runs `call`, expecting E whose message holds every one of `words`.
template <typename E, typename Call>
void expect_error_naming(const std::string& what, Call call,
                         std::initializer_list<std::string> words) {
  try {
    call();
    ADD_FAILURE() << what << ": no exception";
  } catch (const E& e) {
    for (const std::string& w : words) {
      EXPECT_NE(std::string(e.what()).find(w), std::string::npos)
          << what << ": '" << e.what() << "' does not name '" << w << "'";
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": wrong exception type: " << e.what();
  }
}

constexpr std::int64_t k2To61 = std::int64_t{1} << 61;
constexpr std::int64_t k2To62 = std::int64_t{1} << 62;

TEST(SizeLimits, HugeConfigurationsAreRefusedByNameBeforeAllocating) {
  // Each would make 4H or a parameter count wrap (at H = 2^62, 4H was a zero-size model). Lstm's
  // constructor validates before it allocates: reaching an allocation of this size would throw
  // OutOfMemoryError instead of ValueError.
  for (const bool bidirectional : {false, true}) {
    const std::string d = bidirectional ? " bidirectional" : "";
    expect_error_naming<ValueError>("H = 2^61" + d,
                                    [&] { Lstm m(sized(3, k2To61, 1, bidirectional)); },
                                    {"hidden_size", std::to_string(k2To61)});
    expect_error_naming<ValueError>("H = 2^62" + d,
                                    [&] { Lstm m(sized(3, k2To62, 1, bidirectional)); },
                                    {"hidden_size", std::to_string(k2To62)});
    expect_error_naming<ValueError>("H = 2^61 - 1" + d,
                                    [&] { Lstm m(sized(3, k2To61 - 1, 1, bidirectional)); },
                                    {"hidden_size", std::to_string(k2To61 - 1)});
    expect_error_naming<ValueError>(
        "H = 2^31, L = 2" + d, [&] { Lstm m(sized(3, std::int64_t{1} << 31, 2, bidirectional)); },
        {"hidden_size"});
    expect_error_naming<ValueError>("X = 2^62" + d,
                                    [&] { Lstm m(sized(k2To62, 4, 1, bidirectional)); },
                                    {"input_size", std::to_string(k2To62)});
    expect_error_naming<ValueError>(
        "X = 2^59, H = 2" + d, [&] { Lstm m(sized(std::int64_t{1} << 59, 2, 1, bidirectional)); },
        {"input_size"});
    expect_error_naming<ValueError>("L = 10^9, H = 2^20" + d,
                                    [&] { Lstm m(sized(1, 1 << 20, 1000000000, bidirectional)); },
                                    {"num_layers", "1000000000"});
    expect_error_naming<ValueError>("L = 10^9 + 1" + d,
                                    [&] { Lstm m(sized(1, 1, 1000000001, bidirectional)); },
                                    {"num_layers", "1000000001"});
  }
  // The bounds are not tighter than int64 needs: a 2^40-parameter configuration validates.
  EXPECT_NO_THROW(sized(1 << 20, 1 << 20, 4, true).validate());
}

TEST(SizeLimits, SequencesWhoseBuffersOverflowAreRefusedByName) {
  // plan_memory and forward/infer/step share the check (forward's x would have to exist at that
  // size, so the public entry that takes T and B as numbers is the one tested).
  for (const bool bidirectional : {false, true}) {
    Lstm model(sized(3, 8, 2, bidirectional));
    const std::string d = bidirectional ? " bidirectional" : "";
    expect_error_naming<ValueError>("T = 2^62" + d, [&] { model.plan_memory(k2To62, 4); },
                                    {"plan_memory", "T = " + std::to_string(k2To62), "B = 4"});
    expect_error_naming<ValueError>("B = 2^62" + d, [&] { model.plan_memory(4, k2To62); },
                                    {"B = " + std::to_string(k2To62)});
    // T·B·4H overflows although T·B does not.
    expect_error_naming<ValueError>(
        "T = B = 2^29" + d,
        [&] { model.plan_memory(std::int64_t{1} << 29, std::int64_t{1} << 29); },
        {"T = 536870912", "B = 536870912"});
    // A long sequence that fits is planned, not refused: T = 2^40 steps of B = 3.
    const MemoryPlan plan = model.plan_memory(std::int64_t{1} << 40, 3);
    EXPECT_GT(plan.total_bytes(), (std::int64_t{1} << 40) * 3 * 3 * 4)
        << "at least the x copy" << d;
  }
}

TEST(HostGemmBlocks, SplitsWideNAndRefusesWhatCannotBeSplit) {
  const std::int64_t kIntMax = 2147483647;
  // Up to INT_MAX columns: one block, the call unchanged.
  EXPECT_EQ(ops::blas_column_block(64, 1000, 32, 64, 32, 64), 1000);
  EXPECT_EQ(ops::blas_column_block(64, kIntMax, 32, 64, 32, 64), kIntMax);
  // Past it (T·B rows of an input projection): blocks of INT_MAX columns, the last one narrower.
  const std::int64_t wide = (std::int64_t{1} << 33) + 5;
  const std::int64_t block = ops::blas_column_block(64, wide, 32, 64, 32, 64);
  EXPECT_EQ(block, kIntMax);
  std::int64_t covered = 0, calls = 0, last_c = -1;
  ops::for_each_column_block(ops::Trans::N, wide, 32, 64, block,
                             [&](std::int64_t width, std::int64_t b_offset, std::int64_t c_offset) {
                               EXPECT_LE(width, kIntMax);
                               EXPECT_EQ(b_offset, covered * 32) << "column `covered` of B";
                               EXPECT_EQ(c_offset, covered * 64) << "column `covered` of C";
                               EXPECT_GT(c_offset, last_c);
                               last_c = c_offset;
                               covered += width;
                               ++calls;
                             });
  EXPECT_EQ(covered, wide);
  EXPECT_EQ(calls, 5) << "⌈(2^33 + 5) / (2^31 − 1)⌉";
  // The same arguments always split the same way (a pure function of the sizes).
  EXPECT_EQ(ops::blas_column_block(64, wide, 32, 64, 32, 64), block);
  // m, k and leading dimensions cannot be split: refused, naming the argument.
  const std::int64_t big = kIntMax + 1;
  expect_error_naming<ShapeError>("m", [&] { ops::blas_column_block(big, 4, 4, big, 4, big); },
                                  {"m = " + std::to_string(big)});
  expect_error_naming<ShapeError>("k", [&] { ops::blas_column_block(4, 4, big, 4, big, 4); },
                                  {"k = " + std::to_string(big)});
  expect_error_naming<ShapeError>("lda", [&] { ops::blas_column_block(4, 4, 4, big, 4, 4); },
                                  {"lda = " + std::to_string(big)});
  expect_error_naming<ShapeError>("ldc", [&] { ops::blas_column_block(4, 4, 4, 4, 4, big); },
                                  {"ldc = " + std::to_string(big)});
  // op(B) = Bᵀ with n past INT_MAX: ldb ≥ n, refused through ldb.
  expect_error_naming<ShapeError>("ldb", [&] { ops::blas_column_block(4, wide, 4, 4, wide, 4); },
                                  {"ldb = " + std::to_string(wide)});
}

// The split's offsets, run for real with a small limit: blocks of 5 columns of a 4×13 product, for
// both op(B), equal the unsplit product bit for bit (each column's sum is the same loop; inputs
// are multiples of 1/8, so every sum is exact anyway).
TEST(HostGemmBlocks, BlocksComputeTheSameProduct) {
  const std::int64_t m = 4, n = 13, k = 5, limit = 5;  // m, k, lda, ldb, ldc within the limit
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> digit(-9, 9);
  for (const ops::Trans tb : {ops::Trans::N, ops::Trans::T}) {
    const std::int64_t ldb = tb == ops::Trans::N ? k : n;
    std::vector<double> a(m * k), b(k * n), whole(m * n, 0.0), split(m * n, 0.0);
    for (double& v : a) v = digit(rng) / 8.0;
    for (double& v : b) v = digit(rng) / 8.0;
    auto product = [&](std::int64_t cols, const double* bp, double* cp) {
      for (std::int64_t j = 0; j < cols; ++j)
        for (std::int64_t i = 0; i < m; ++i) {
          double sum = 0;
          for (std::int64_t p = 0; p < k; ++p) {
            sum += a[i + p * m] * (tb == ops::Trans::N ? bp[p + j * ldb] : bp[j + p * ldb]);
          }
          cp[i + j * m] = sum;
        }
    };
    product(n, b.data(), whole.data());
    // With op(B) = Bᵀ, ldb = n > limit: blas_column_block refuses (tested above); the offsets
    // are still checked here with the block given directly.
    const std::int64_t block =
        tb == ops::Trans::N ? ops::blas_column_block(m, n, k, m, ldb, m, limit) : limit;
    ASSERT_EQ(block, limit);
    ops::for_each_column_block(
        tb, n, ldb, m, block,
        [&](std::int64_t width, std::int64_t b_offset, std::int64_t c_offset) {
          product(width, b.data() + b_offset, split.data() + c_offset);
        });
    EXPECT_EQ(split, whole) << "op(B) " << (tb == ops::Trans::N ? "N" : "T");
  }
}

TEST(MovedFromLstm, EveryPublicMethodThrowsNamingIt) {
  Lstm model(sized(3, 4, 2));
  Lstm other(std::move(model));
  const Tensor x = Tensor::zeros({2, 1, 3}, DType::f32);
  ForwardResult f = other.forward(x);
  Tensor h = Tensor::zeros({2, 1, 4}, DType::f32), c = Tensor::zeros({2, 1, 4}, DType::f32);
  const Tensor x_t = Tensor::zeros({1, 3}, DType::f32);
  Lstm& moved = model;  // NOLINT(bugprone-use-after-move): the point of the test
  const Lstm& moved_const = model;
  const std::pair<const char*, std::function<void()>> calls[] = {
      {"config", [&] { moved.config(); }},
      {"parameter_names", [&] { moved.parameter_names(); }},
      {"parameter", [&] { moved.parameter("weight_ih_l0"); }},
      {"parameter", [&] { moved_const.parameter("weight_ih_l0"); }},
      {"gradient", [&] { moved.gradient("weight_ih_l0"); }},
      {"gradient", [&] { moved_const.gradient("weight_ih_l0"); }},
      {"init_uniform", [&] { moved.init_uniform(1, -0.1, 0.1); }},
      {"init_pytorch_default", [&] { moved.init_pytorch_default(1); }},
      {"forward", [&] { moved.forward(x); }},
      {"infer", [&] { moved.infer(x); }},
      {"step", [&] { moved.step(x_t, h, c); }},
      {"backward", [&] { moved.backward(f.context, Tensor()); }},
      {"plan_memory", [&] { moved.plan_memory(2, 1); }},
      {"set_training", [&] { moved.set_training(false); }},
      {"training", [&] { moved.training(); }},
      {"dropout_offset", [&] { moved.dropout_offset(); }},
      {"set_dropout_offset", [&] { moved.set_dropout_offset(3); }},
      {"zero_grad", [&] { moved.zero_grad(); }},
      {"synchronize", [&] { moved.synchronize(); }},
      {"context", [&] { moved.context(); }},
  };
  for (const auto& [method, call] : calls) {
    expect_error_naming<ValueError>(method, call, {std::string("Lstm::") + method, "moved-from"});
  }
  // Assigning a model makes it usable again; the model moved into works.
  model = Lstm(sized(3, 4, 1));
  EXPECT_EQ(model.config().num_layers, 1);
  EXPECT_NO_THROW(other.backward(f.context, Tensor::zeros({2, 1, 4}, DType::f32)));
}

// Padded positions of x (steps past lengths[b]) holding NaN, +Inf or −Inf give bitwise the same
// results as finite padding: y, hT, cT, dx (exactly 0 there), dh0, dc0, every gradient, and infer.
struct PaddingCase {
  bool bidirectional, batch_first;
  MemoryMode mode;
  DType dtype;
  std::string describe() const {
    return std::string(bidirectional ? "bidirectional" : "unidirectional") +
           (batch_first ? " batch_first " : " time-major ") + memory_mode_name(mode) + " " +
           dtype_name(dtype);
  }
};

// Bit patterns, so that NaN ≠ NaN cannot hide a difference and −0 vs +0 would show.
std::vector<std::uint64_t> bits(const Tensor& t) {
  std::vector<std::uint64_t> out;
  for (const double v : t.to_vector<double>()) {
    std::uint64_t b = 0;
    std::memcpy(&b, &v, sizeof b);
    out.push_back(b);
  }
  return out;
}

TEST(PaddedInput, NonFinitePaddingChangesNothing) {
  const std::int64_t T = 7, B = 4, X = 3, H = 5, L = 2;
  const std::vector<std::int64_t> lengths = {5, 2, 7, 1};  // one full, one of length 1
  int cases = 0;
  for (const bool bidirectional : {false, true})
    for (const bool batch_first : {false, true})
      for (const MemoryMode mode : {MemoryMode::store_all, MemoryMode::recompute})
        for (const DType dtype : {DType::f64, DType::f32}) {
          const PaddingCase c{bidirectional, batch_first, mode, dtype};
          SCOPED_TRACE(c.describe() + ", T=7 B=4 X=3 H=5 L=2, lengths {5, 2, 7, 1}");
          ++cases;
          LstmConfig cfg = sized(X, H, L, bidirectional);
          cfg.batch_first = batch_first;
          cfg.memory_mode = mode;
          cfg.segment_steps = 3;  // recompute: segments of 3, 3, 1 steps
          cfg.dtype = dtype;
          const std::int64_t D = cfg.directions();
          Lstm model(cfg);
          std::mt19937 rng(17);
          std::uniform_real_distribution<double> uniform(-1, 1);
          const Shape x_shape = batch_first ? Shape{B, T, X} : Shape{T, B, X};
          const Shape y_shape = batch_first ? Shape{B, T, D * H} : Shape{T, B, D * H};
          std::vector<double> finite(T * B * X), poisoned, dy(T * B * D * H);
          for (double& v : finite) v = uniform(rng);
          for (double& v : dy) v = uniform(rng);
          poisoned = finite;
          std::vector<bool> padded(T * B * X, false);
          const double poison[] = {std::nan(""), INFINITY, -INFINITY};
          int n_poisoned = 0;
          for (std::int64_t t = 0; t < T; ++t)
            for (std::int64_t b = 0; b < B; ++b)
              for (std::int64_t j = 0; j < X; ++j) {
                if (t < lengths[b]) continue;
                const std::int64_t e = (batch_first ? b * T + t : t * B + b) * X + j;
                padded[e] = true;
                finite[e] = 1e3 * uniform(rng);  // large finite padding: a leak would show
                poisoned[e] = poison[n_poisoned++ % 3];
              }
          ASSERT_EQ(n_poisoned, (4 * 7 - (5 + 2 + 7 + 1)) * X);

          struct Run {
            std::vector<std::vector<std::uint64_t>> results;
            Tensor dx;
          };
          auto run = [&](const std::vector<double>& x_values) {
            const Tensor x = Tensor::from_vector(x_shape, x_values, dtype);
            Run r;
            model.zero_grad();
            ForwardResult f = model.forward(x, Tensor(), Tensor(), lengths);
            const Tensor dy_t = Tensor::from_vector(y_shape, dy, dtype);
            const Tensor dhT =
                Tensor::from_vector({L * D, B, H}, std::vector<double>(L * D * B * H, 0.5), dtype);
            BackwardResult g = model.backward(f.context, dy_t, dhT, dhT);
            for (const Tensor* t : {&f.y, &f.hT, &f.cT, &g.dx, &g.dh0, &g.dc0})
              r.results.push_back(bits(*t));
            for (const std::string& name : model.parameter_names())
              r.results.push_back(bits(model.gradient(name)));
            InferenceResult i = model.infer(x, Tensor(), Tensor(), lengths);
            for (const Tensor* t : {&i.y, &i.hT, &i.cT}) r.results.push_back(bits(*t));
            r.dx = std::move(g.dx);
            return r;
          };
          const Run a = run(finite), b = run(poisoned);
          const char* what[] = {"y", "hT", "cT", "dx", "dh0", "dc0"};
          for (std::size_t k = 0; k < a.results.size(); ++k) {
            const std::string name =
                k < 6 ? what[k]
                : k < 6 + model.parameter_names().size()
                    ? "d" + model.parameter_names()[k - 6]
                    : std::string("infer ") + what[k - 6 - model.parameter_names().size()];
            EXPECT_EQ(a.results[k], b.results[k])
                << name << " differs between finite and NaN/Inf padding";
          }
          const std::vector<double> dx = b.dx.to_vector<double>();
          for (std::size_t e = 0; e < dx.size(); ++e) {
            if (padded[e]) {
              ASSERT_EQ(dx[e], 0.0) << "dx at padded element " << e;
            }
          }
        }
  EXPECT_EQ(cases, 16);
}

// Host memory: a 128 MiB f64 tensor is filled, assigned, built from a vector and initialised
// under an address-space limit that leaves 48 MiB beyond what exists: the old numel-sized
// temporaries (128 MiB, or 64 MiB converted to f32) cannot fit, 1 MiB chunks do. to_vector must
// return a new 128 MiB vector: it throws OutOfMemoryError, never std::bad_alloc. Runs in a child
// process (a death test) so the limit never touches the other tests. Exit codes say what failed.
void bounded_host_memory_child() {
  const std::int64_t n = std::int64_t{16} << 20;  // 16 Mi doubles = 128 MiB
  Tensor t = Tensor::empty({n}, DType::f64);
  Tensor f = Tensor::empty({n}, DType::f32);                                   // 64 MiB
  const std::vector<float> source(static_cast<std::size_t>(n), 0.25f);         // 64 MiB
  LstmConfig cfg = sized(1024, 1024, 2);  // 2·4H·(X + H) ≈ 16.8 Mi parameters: 67 MiB in f32
  Lstm model(cfg);
  long pages = 0, resident = 0;
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (!statm || std::fscanf(statm, "%ld %ld", &pages, &resident) != 2) std::exit(2);
  std::fclose(statm);
  const rlim_t limit = static_cast<rlim_t>(pages) * sysconf(_SC_PAGESIZE) + (rlim_t{48} << 20);
  const rlimit rl{limit, limit};
  if (setrlimit(RLIMIT_AS, &rl) != 0) std::exit(3);
  try {
    t.fill(1.5);                       // old: a 128 MiB vector<double>
    f.assign(source);                  // old: a 64 MiB converted copy
    model.init_uniform(3, -0.1, 0.1);  // old: a numel vector<double> per parameter (64 MiB)
    model.init_pytorch_default(4);
  } catch (...) {
    std::exit(4);
  }
  if (static_cast<const double*>(t.data())[n - 1] != 1.5) std::exit(5);
  if (static_cast<const float*>(f.data())[n - 1] != 0.25f) std::exit(6);
  try {
    (void)t.to_vector<double>();  // needs 128 MiB more: cannot fit
    std::exit(7);
  } catch (const OutOfMemoryError&) {
  } catch (const std::bad_alloc&) {
    std::exit(8);
  }
  std::exit(0);
}

TEST(HostMemory, NoNumelSizedTemporariesAndNoBadAlloc) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: an RLIMIT_AS bound cannot "
                  "be set (the uninstrumented build runs this test)";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(bounded_host_memory_child(), ::testing::ExitedWithCode(0), "")
      << "exit 4: fill/assign/init_uniform needed a numel-sized temporary; 5, 6: wrong values; "
         "7: to_vector fit under the limit (test does not reach its regime); 8: std::bad_alloc "
         "escaped";
}

TEST(HostMemory, ChunkedTransfersKeepTheValues) {
  // Across chunk boundaries (1 MiB = 131072 doubles, 262144 floats) and in both dtypes.
  const std::int64_t n = 300001;
  std::vector<double> values(n);
  for (std::int64_t k = 0; k < n; ++k) values[k] = 0.5 + static_cast<double>(k) / 3.0;
  for (const DType dtype : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor t = Tensor::from_vector({n}, values, dtype);
    const std::vector<double> back = t.to_vector<double>();
    for (std::int64_t k = 0; k < n; ++k) {
      const double want = dtype == DType::f64 ? values[k] : static_cast<float>(values[k]);
      ASSERT_EQ(back[k], want) << k;
    }
    Tensor filled = Tensor::empty({n}, dtype);
    filled.fill(-2.75);
    EXPECT_EQ(filled.to_vector<double>(), std::vector<double>(n, -2.75));
  }
}

}  // namespace
}  // namespace fuselstm::testing
