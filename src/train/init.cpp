// Initialisation options: the forget-gate bias and orthogonal recurrent weights (drawn and
// factorised on the host in double, then written into the parameters on any device).

#include "fuselstm/init.hpp"

#include <cmath>
#include <new>
#include <random>
#include <string>

#include "fuselstm/error.hpp"
#include "fuselstm/parameter_names.hpp"
#include "train/orthogonal.hpp"

#if FUSELSTM_HAVE_LAPACK
extern "C" {
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work,
             const int* lwork, int* info);
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau,
             double* work, const int* lwork, int* info);
}
#endif

namespace fuselstm {
namespace detail {
namespace {

void apply_column_signs(std::vector<double>& q, const std::vector<double>& r_diag, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) {
    if (r_diag[j] < 0) {
      for (std::int64_t i = 0; i < n; ++i) q[i + j * n] = -q[i + j * n];
    }
  }
}

}  // namespace

std::vector<double> orthogonal_factor_householder(std::vector<double> a, std::int64_t n) {
  // Householder QR: reflection k maps column k below the diagonal onto alpha·e_k.
  std::vector<std::vector<double>> reflectors(n);
  std::vector<double> r_diag(n);
  for (std::int64_t k = 0; k < n; ++k) {
    double norm2 = 0;
    for (std::int64_t i = k; i < n; ++i) norm2 += a[i + k * n] * a[i + k * n];
    const double alpha = a[k + k * n] >= 0 ? -std::sqrt(norm2) : std::sqrt(norm2);
    std::vector<double> v(a.begin() + k + k * n, a.begin() + n + k * n);
    v[0] -= alpha;
    double v2 = 0;
    for (double x : v) v2 += x * x;
    if (v2 > 0) {
      for (std::int64_t j = k; j < n; ++j) {
        double dot = 0;
        for (std::int64_t i = k; i < n; ++i) dot += v[i - k] * a[i + j * n];
        const double s = 2 * dot / v2;
        for (std::int64_t i = k; i < n; ++i) a[i + j * n] -= s * v[i - k];
      }
    }
    r_diag[k] = v2 > 0 ? alpha : a[k + k * n];
    reflectors[k] = std::move(v);
  }
  // Q = H_0·H_1·…·H_{n−1}·I, applied from the last reflection.
  std::vector<double> q(n * n, 0.0);
  for (std::int64_t i = 0; i < n; ++i) q[i + i * n] = 1;
  for (std::int64_t k = n - 1; k >= 0; --k) {
    const std::vector<double>& v = reflectors[k];
    double v2 = 0;
    for (double x : v) v2 += x * x;
    if (v2 == 0) continue;
    for (std::int64_t j = 0; j < n; ++j) {
      double dot = 0;
      for (std::int64_t i = k; i < n; ++i) dot += v[i - k] * q[i + j * n];
      const double s = 2 * dot / v2;
      for (std::int64_t i = k; i < n; ++i) q[i + j * n] -= s * v[i - k];
    }
  }
  apply_column_signs(q, r_diag, n);
  return q;
}

#if FUSELSTM_HAVE_LAPACK
bool orthogonal_uses_lapack() {
  return true;
}

std::vector<double> orthogonal_factor(std::vector<double> a, std::int64_t n64) {
  const int n = static_cast<int>(n64);
  std::vector<double> tau(n);
  int info = 0, query = -1;
  double size = 0;
  dgeqrf_(&n, &n, a.data(), &n, tau.data(), &size, &query, &info);
  int lwork = std::max(1, static_cast<int>(size));
  std::vector<double> work(lwork);
  dgeqrf_(&n, &n, a.data(), &n, tau.data(), work.data(), &lwork, &info);
  if (info != 0) throw ValueError("fuselstm: LAPACK dgeqrf failed, info " + std::to_string(info));
  std::vector<double> r_diag(n);
  for (int j = 0; j < n; ++j) r_diag[j] = a[j + j * n];
  dorgqr_(&n, &n, &n, a.data(), &n, tau.data(), &size, &query, &info);
  lwork = std::max(1, static_cast<int>(size));
  work.assign(lwork, 0.0);
  dorgqr_(&n, &n, &n, a.data(), &n, tau.data(), work.data(), &lwork, &info);
  if (info != 0) throw ValueError("fuselstm: LAPACK dorgqr failed, info " + std::to_string(info));
  apply_column_signs(a, r_diag, n64);
  return a;
}
#else
bool orthogonal_uses_lapack() {
  return false;
}

std::vector<double> orthogonal_factor(std::vector<double> a, std::int64_t n) {
  return orthogonal_factor_householder(std::move(a), n);
}
#endif

}  // namespace detail

void init_forget_gate_bias(Lstm& model, double value) {
  const LstmConfig& cfg = model.config();
  if (!cfg.bias)
    throw ValueError(
        "fuselstm: init_forget_gate_bias: the model has no bias (config.bias is false)");
  if (!std::isfinite(value)) {
    throw ValueError("fuselstm: init_forget_gate_bias: value must be finite, got " +
                     std::to_string(value));
  }
  const std::int64_t H = cfg.hidden_size;
  for (const ParameterId& id : parameter_ids(cfg)) {  // every layer and direction
    if (id.kind != ParameterKind::bias_ih && id.kind != ParameterKind::bias_hh) continue;
    Tensor& bias = model.parameter(parameter_name(id));
    std::vector<double> v = bias.to_vector<double>();
    const double forget = id.kind == ParameterKind::bias_ih ? value : 0.0;
    for (std::int64_t j = H; j < 2 * H; ++j) v[j] = forget;
    bias.assign(v);
  }
}

namespace detail {
// init_orthogonal_recurrent's work once its arguments are checked (defined below).
void draw_orthogonal_recurrent(Lstm& model, std::uint64_t seed, double gain);
}  // namespace detail

void init_orthogonal_recurrent(Lstm& model, std::uint64_t seed, double gain) {
  if (!std::isfinite(gain)) {
    throw ValueError("fuselstm: init_orthogonal_recurrent: gain must be finite, got " +
                     std::to_string(gain));
  }
  const LstmConfig& cfg = model.config();
  // The QR works on host copies in double (H² per block, 4H² per tensor, kept for every tensor
  // so that a failure writes nothing): a failed host allocation is an OutOfMemoryError.
  try {
    detail::draw_orthogonal_recurrent(model, seed, gain);
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError("fuselstm: init_orthogonal_recurrent: out of host memory for H = " +
                           std::to_string(cfg.hidden_size));
  }
}

namespace detail {

void draw_orthogonal_recurrent(Lstm& model, std::uint64_t seed, double gain) {
  const LstmConfig& cfg = model.config();
  const std::int64_t H = cfg.hidden_size;
  std::mt19937_64 engine(seed);
  auto uniform = [&engine]() { return static_cast<double>(engine() >> 11) * 0x1.0p-53; };
  // Computed for every layer and direction before any is written, in parameter_ids order.
  std::vector<std::pair<std::string, std::vector<double>>> recurrent;
  for (const ParameterId& id : parameter_ids(cfg)) {
    if (id.kind != ParameterKind::weight_hh) continue;
    std::vector<double> w(4 * H * H);  // [4H, H] row-major
    for (std::int64_t block = 0; block < 4; ++block) {
      std::vector<double> a(H * H);
      for (double& x : a) {
        const double u1 = uniform(), u2 = uniform();
        x = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2);
      }
      const std::vector<double> q = detail::orthogonal_factor(std::move(a), H);
      for (std::int64_t i = 0; i < H; ++i) {
        for (std::int64_t j = 0; j < H; ++j) w[(block * H + i) * H + j] = gain * q[i + j * H];
      }
    }
    recurrent.emplace_back(parameter_name(id), std::move(w));
  }
  for (const auto& [name, w] : recurrent) model.parameter(name).assign(w);
}

}  // namespace detail

}  // namespace fuselstm
