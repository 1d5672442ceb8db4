// oneDNN's LSTM primitive as the CPU peer, on the shapes of a fuselstm_bench JSON file.
//
// For every row of --from (one JSON object per line, as fuselstm_bench --json writes) with the tanh
// cell in fp32, times the same training step with oneDNN's lstm_forward (forward_training) and
// lstm_backward: x, h0 and c0 given, y, hT and cT computed; then dy, dhT and dcT given and dx, dh0,
// dc0 and every weight and bias gradient computed. The timed region is one call: the weight
// gradients cleared (oneDNN accumulates into them, as fuselstm's zero_grad and PyTorch's do),
// forward, backward, the stream waited on. Everything else happens once, outside it: primitive
// descriptors with format_tag::any for the weights, the weights reordered from the user layout
// (ldigo) into the layouts forward and backward each prefer, every buffer and the workspace.
//
// Layers: oneDNN's primitive stacks L layers of one width, so X == H (or L == 1) is one primitive;
// X != H with L > 1 is two, a first layer (X -> H) and a stack of L - 1 layers (H -> H), chained
// through their dst_layer / diff_src_layer buffers. oneDNN has one bias per gate (fuselstm, cuDNN
// and PyTorch have two: the sum is the same model, and the extra add is negligible work).
//
// Before timing, the program checks itself on small shapes (one layer, a stack, a first layer plus
// a stack): forward against a double-precision reference of the same equations, and the gradient
// of J = <dy, y> + <dhT, hT> + <dcT, cT> along a random direction of every input and parameter
// against central differences of that reference. Each timed shape's outputs and gradients are
// checked to be finite.
//
// Writes one JSON line per configuration with the fields of bench/pytorch_peer.py's rows (impl
// "onednn", the same "key"); the per-call times go under "onednn": {"times_ms": [...]} and
// bench/peer_figures.py adds the figures (µs per step, GFLOP/s, ...) computed as for PyTorch.
//
// Build (bench/peers_env.sh does it; not part of the CMake build): g++ -std=c++17 -O2
//   bench/onednn_peer.cpp -I$VENV/include -L$VENV/lib -ldnnl -Wl,--disable-new-dtags,-rpath,$VENV/lib
// Run with OCL_ICD_FILENAMES=$VENV/lib/libintelocl.so (see bench/peers_env.sh: PyPI's oneDNN is a
// SYCL build whose CPU engine is an OpenCL CPU device).

#include <oneapi/dnnl/dnnl.hpp>

#include <nlohmann/json.hpp>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using json = nlohmann::json;

struct Shape {
  std::int64_t T, B, X, H, L;
};

struct Options {
  std::string from, out;
  int threads = 0, warmup = 2, reps = 10;
  double max_seconds = 30.0;
  unsigned seed = 1;
};

// Host copies of one shape's inputs and parameters, in oneDNN's user layouts:
// x [T][B][X]; h0, c0, dhT, dcT [L][B][H]; dy [T][B][H]; per layer l: Wx [X_l][4][H],
// Wh [H][4][H], b [4][H] (gates i, f, g, o; X_0 = X, X_l = H).
struct HostProblem {
  Shape s;
  std::vector<float> x, h0, c0, dy, dhT, dcT;
  std::vector<std::vector<float>> Wx, Wh, b;

  std::int64_t in(std::int64_t l) const { return l == 0 ? s.X : s.H; }

  HostProblem(Shape shape, unsigned seed) : s(shape) {
    std::mt19937 rng(seed);
    auto fill = [&](std::vector<float>& v, std::size_t n, float scale) {
      std::uniform_real_distribution<float> u(-scale, scale);
      v.resize(n);
      for (float& e : v) e = u(rng);
    };
    const auto TB = static_cast<std::size_t>(s.T * s.B), LBH = static_cast<std::size_t>(s.L * s.B * s.H);
    fill(x, TB * s.X, 1.0f);
    fill(h0, LBH, 0.5f);
    fill(c0, LBH, 0.5f);
    fill(dy, TB * s.H, 1.0f);
    fill(dhT, LBH, 1.0f);
    fill(dcT, LBH, 1.0f);
    const float k = 1.0f / std::sqrt(static_cast<float>(s.H));  // PyTorch's nn.LSTM init
    Wx.resize(s.L), Wh.resize(s.L), b.resize(s.L);
    for (std::int64_t l = 0; l < s.L; ++l) {
      fill(Wx[l], static_cast<std::size_t>(in(l) * 4 * s.H), k);
      fill(Wh[l], static_cast<std::size_t>(s.H * 4 * s.H), k);
      fill(b[l], static_cast<std::size_t>(4 * s.H), k);
    }
  }
};

void write_to(const memory& m, const float* data, std::size_t n) {
  if (m.get_desc().get_size() != n * sizeof(float)) throw std::logic_error("write_to: size mismatch");
  auto* p = m.map_data<float>();
  std::memcpy(p, data, n * sizeof(float));
  m.unmap_data(p);
}

std::vector<float> read_from(const memory& m) {
  std::vector<float> v(m.get_desc().get_size() / sizeof(float));
  auto* p = m.map_data<float>();
  std::memcpy(v.data(), p, v.size() * sizeof(float));
  m.unmap_data(p);
  return v;
}

void zero(const memory& m) {
  auto* p = m.map_data<float>();
  std::memset(p, 0, m.get_desc().get_size());
  m.unmap_data(p);
}

// One primitive pair: `layers` stacked layers of width H over inputs of width `in`.
struct Stage {
  std::int64_t first_layer = 0, layers = 0, in = 0;
  dnnl::lstm_forward::primitive_desc fwd_pd;
  dnnl::lstm_backward::primitive_desc bwd_pd;
  dnnl::lstm_forward fwd;
  dnnl::lstm_backward bwd;
  // user layouts (filled from the host problem, read back for the check)
  memory w_layer_user, w_iter_user, bias_user;
  // the primitives' own layouts
  memory w_layer_fwd, w_iter_fwd, bias_fwd, w_layer_bwd, w_iter_bwd, bias_bwd;
  memory src_layer, src_iter, src_iter_c, dst_layer, dst_iter, dst_iter_c, workspace;
  memory diff_src_layer, diff_src_iter, diff_src_iter_c, diff_w_layer, diff_w_iter, diff_bias;
  memory diff_dst_layer, diff_dst_iter, diff_dst_iter_c;
};

class OnednnLstm {
 public:
  OnednnLstm(const dnnl::engine& engine, dnnl::stream& stream, Shape s) : engine_(engine), stream_(stream), s_(s) {
    if (s.L == 1 || s.X == s.H) {
      stages_.push_back(make_stage(0, s.L, s.X));
    } else {
      stages_.push_back(make_stage(0, 1, s.X));
      stages_.push_back(make_stage(1, s.L - 1, s.H));
    }
    // Chain the stages: a stack's input is the first layer's output, and its dx is the first
    // layer's dy.
    for (std::size_t k = 1; k < stages_.size(); ++k) {
      stages_[k].src_layer = stages_[k - 1].dst_layer;
      stages_[k - 1].diff_dst_layer = stages_[k].diff_src_layer;
    }
  }

  std::size_t stage_count() const { return stages_.size(); }

  // Copies inputs and parameters in, and reorders the weights into the primitives' layouts.
  void load(const HostProblem& p) {
    const std::size_t BH = static_cast<std::size_t>(s_.B * s_.H);
    write_to(stages_.front().src_layer, p.x.data(), p.x.size());
    write_to(stages_.back().diff_dst_layer, p.dy.data(), p.dy.size());
    for (Stage& st : stages_) {
      const std::size_t off = static_cast<std::size_t>(st.first_layer) * BH, n = st.layers * BH;
      write_to(st.src_iter, p.h0.data() + off, n);
      write_to(st.src_iter_c, p.c0.data() + off, n);
      write_to(st.diff_dst_iter, p.dhT.data() + off, n);
      write_to(st.diff_dst_iter_c, p.dcT.data() + off, n);
      std::vector<float> wx, wh, b;
      for (std::int64_t l = st.first_layer; l < st.first_layer + st.layers; ++l) {
        wx.insert(wx.end(), p.Wx[l].begin(), p.Wx[l].end());
        wh.insert(wh.end(), p.Wh[l].begin(), p.Wh[l].end());
        b.insert(b.end(), p.b[l].begin(), p.b[l].end());
      }
      write_to(st.w_layer_user, wx.data(), wx.size());
      write_to(st.w_iter_user, wh.data(), wh.size());
      write_to(st.bias_user, b.data(), b.size());
      for (auto [from, to] : {std::pair{st.w_layer_user, st.w_layer_fwd}, {st.w_iter_user, st.w_iter_fwd},
                              {st.bias_user, st.bias_fwd}, {st.w_layer_user, st.w_layer_bwd},
                              {st.w_iter_user, st.w_iter_bwd}, {st.bias_user, st.bias_bwd}}) {
        dnnl::reorder(from, to).execute(stream_, from, to);
      }
    }
    stream_.wait();
  }

  // The timed call: clear the weight gradients, forward (training), backward, wait.
  void step() {
    for (Stage& st : stages_) {
      zero(st.diff_w_layer);
      zero(st.diff_w_iter);
      zero(st.diff_bias);
    }
    for (Stage& st : stages_) {
      st.fwd.execute(stream_, {{DNNL_ARG_SRC_LAYER, st.src_layer},
                               {DNNL_ARG_SRC_ITER, st.src_iter},
                               {DNNL_ARG_SRC_ITER_C, st.src_iter_c},
                               {DNNL_ARG_WEIGHTS_LAYER, st.w_layer_fwd},
                               {DNNL_ARG_WEIGHTS_ITER, st.w_iter_fwd},
                               {DNNL_ARG_BIAS, st.bias_fwd},
                               {DNNL_ARG_DST_LAYER, st.dst_layer},
                               {DNNL_ARG_DST_ITER, st.dst_iter},
                               {DNNL_ARG_DST_ITER_C, st.dst_iter_c},
                               {DNNL_ARG_WORKSPACE, st.workspace}});
    }
    for (auto it = stages_.rbegin(); it != stages_.rend(); ++it) {
      Stage& st = *it;
      st.bwd.execute(stream_, {{DNNL_ARG_SRC_LAYER, st.src_layer},
                               {DNNL_ARG_SRC_ITER, st.src_iter},
                               {DNNL_ARG_SRC_ITER_C, st.src_iter_c},
                               {DNNL_ARG_WEIGHTS_LAYER, st.w_layer_bwd},
                               {DNNL_ARG_WEIGHTS_ITER, st.w_iter_bwd},
                               {DNNL_ARG_BIAS, st.bias_bwd},
                               {DNNL_ARG_DST_LAYER, st.dst_layer},
                               {DNNL_ARG_DST_ITER, st.dst_iter},
                               {DNNL_ARG_DST_ITER_C, st.dst_iter_c},
                               {DNNL_ARG_WORKSPACE, st.workspace},
                               {DNNL_ARG_DIFF_SRC_LAYER, st.diff_src_layer},
                               {DNNL_ARG_DIFF_SRC_ITER, st.diff_src_iter},
                               {DNNL_ARG_DIFF_SRC_ITER_C, st.diff_src_iter_c},
                               {DNNL_ARG_DIFF_WEIGHTS_LAYER, st.diff_w_layer},
                               {DNNL_ARG_DIFF_WEIGHTS_ITER, st.diff_w_iter},
                               {DNNL_ARG_DIFF_BIAS, st.diff_bias},
                               {DNNL_ARG_DIFF_DST_LAYER, st.diff_dst_layer},
                               {DNNL_ARG_DIFF_DST_ITER, st.diff_dst_iter},
                               {DNNL_ARG_DIFF_DST_ITER_C, st.diff_dst_iter_c}});
    }
    stream_.wait();
  }

  // Results in the host problem's layouts: y, hT, cT, dx, dh0, dc0 and per layer dWx, dWh, db.
  struct Results {
    std::vector<float> y, hT, cT, dx, dh0, dc0;
    std::vector<std::vector<float>> dWx, dWh, db;
  };
  Results results() {
    Results r;
    r.y = read_from(stages_.back().dst_layer);
    r.dx = read_from(stages_.front().diff_src_layer);
    for (Stage& st : stages_) {
      for (auto [to, from] : {std::pair{&r.hT, st.dst_iter}, {&r.cT, st.dst_iter_c}, {&r.dh0, st.diff_src_iter},
                              {&r.dc0, st.diff_src_iter_c}}) {
        const auto v = read_from(from);
        to->insert(to->end(), v.begin(), v.end());
      }
      const auto wx = user_layout(st.diff_w_layer, st.w_layer_user), wh = user_layout(st.diff_w_iter, st.w_iter_user),
                 b = user_layout(st.diff_bias, st.bias_user);
      for (std::int64_t k = 0; k < st.layers; ++k) {
        auto slice = [&](const std::vector<float>& v) {
          const std::size_t n = v.size() / static_cast<std::size_t>(st.layers);
          return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(k * n),
                                    v.begin() + static_cast<std::ptrdiff_t>((k + 1) * n));
        };
        r.dWx.push_back(slice(wx));
        r.dWh.push_back(slice(wh));
        r.db.push_back(slice(b));
      }
    }
    return r;
  }

 private:
  std::vector<float> user_layout(memory m, const memory& like) {
    memory user(like.get_desc(), engine_);
    dnnl::reorder(m, user).execute(stream_, m, user);
    stream_.wait();
    return read_from(user);
  }

  Stage make_stage(std::int64_t first_layer, std::int64_t layers, std::int64_t in) {
    const std::int64_t T = s_.T, B = s_.B, H = s_.H, G = 4;
    const auto dir = dnnl::rnn_direction::unidirectional_left2right;
    const memory::desc src_layer({T, B, in}, dt::f32, tag::tnc), dst_layer({T, B, H}, dt::f32, tag::tnc);
    const memory::desc state({layers, 1, B, H}, dt::f32, tag::ldnc);
    const memory::desc w_layer_any({layers, 1, in, G, H}, dt::f32, tag::any);
    const memory::desc w_iter_any({layers, 1, H, G, H}, dt::f32, tag::any);
    const memory::desc bias_any({layers, 1, G, H}, dt::f32, tag::any);
    Stage st;
    st.first_layer = first_layer;
    st.layers = layers;
    st.in = in;
    st.fwd_pd = dnnl::lstm_forward::primitive_desc(engine_, dnnl::prop_kind::forward_training, dir, src_layer, state,
                                                   state, w_layer_any, w_iter_any, bias_any, dst_layer, state, state);
    st.bwd_pd = dnnl::lstm_backward::primitive_desc(
        engine_, dnnl::prop_kind::backward, dir, src_layer, state, state, w_layer_any, w_iter_any, bias_any, dst_layer,
        state, state, src_layer, state, state, w_layer_any, w_iter_any, bias_any, dst_layer, state, state, st.fwd_pd);
    st.fwd = dnnl::lstm_forward(st.fwd_pd);
    st.bwd = dnnl::lstm_backward(st.bwd_pd);
    auto make = [&](const memory::desc& d) { return memory(d, engine_); };
    st.w_layer_user = make(memory::desc({layers, 1, in, G, H}, dt::f32, tag::ldigo));
    st.w_iter_user = make(memory::desc({layers, 1, H, G, H}, dt::f32, tag::ldigo));
    st.bias_user = make(memory::desc({layers, 1, G, H}, dt::f32, tag::ldgo));
    st.w_layer_fwd = make(st.fwd_pd.weights_layer_desc());
    st.w_iter_fwd = make(st.fwd_pd.weights_iter_desc());
    st.bias_fwd = make(st.fwd_pd.bias_desc());
    st.w_layer_bwd = make(st.bwd_pd.weights_layer_desc());
    st.w_iter_bwd = make(st.bwd_pd.weights_iter_desc());
    st.bias_bwd = make(st.bwd_pd.bias_desc());
    st.src_layer = make(src_layer);
    st.src_iter = make(state);
    st.src_iter_c = make(state);
    st.dst_layer = make(dst_layer);
    st.dst_iter = make(state);
    st.dst_iter_c = make(state);
    st.workspace = make(st.fwd_pd.workspace_desc());
    st.diff_src_layer = make(src_layer);
    st.diff_src_iter = make(state);
    st.diff_src_iter_c = make(state);
    st.diff_w_layer = make(st.bwd_pd.diff_weights_layer_desc());
    st.diff_w_iter = make(st.bwd_pd.diff_weights_iter_desc());
    st.diff_bias = make(st.bwd_pd.diff_bias_desc());
    st.diff_dst_layer = make(dst_layer);
    st.diff_dst_iter = make(state);
    st.diff_dst_iter_c = make(state);
    return st;
  }

  dnnl::engine engine_;
  dnnl::stream& stream_;
  Shape s_;
  std::vector<Stage> stages_;
};

// ---- the check: a double-precision reference of the same equations ----

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// Parameters and inputs of HostProblem as doubles, one flat vector each, so a direction can be
// added to all of them at once.
struct Point {
  std::vector<std::vector<double>> parts;  // x, h0, c0, then Wx_l, Wh_l, b_l per layer
};

Point point_of(const HostProblem& p) {
  Point pt;
  auto add = [&](const std::vector<float>& v) { pt.parts.emplace_back(v.begin(), v.end()); };
  add(p.x), add(p.h0), add(p.c0);
  for (std::int64_t l = 0; l < p.s.L; ++l) add(p.Wx[l]), add(p.Wh[l]), add(p.b[l]);
  return pt;
}

// J = <dy, y> + <dhT, hT> + <dcT, cT>; y, hT and cT returned through the pointers when given.
double reference_J(const HostProblem& p, const Point& pt, std::vector<double>* y_out = nullptr) {
  const Shape s = p.s;
  const auto& x = pt.parts[0];
  const auto& h0 = pt.parts[1];
  const auto& c0 = pt.parts[2];
  std::vector<double> input(x), output(static_cast<std::size_t>(s.T * s.B * s.H));
  double J = 0;
  for (std::int64_t l = 0; l < s.L; ++l) {
    const std::int64_t X = p.in(l), H = s.H;
    const auto& Wx = pt.parts[3 + 3 * l];
    const auto& Wh = pt.parts[4 + 3 * l];
    const auto& b = pt.parts[5 + 3 * l];
    std::vector<double> h(h0.begin() + l * s.B * H, h0.begin() + (l + 1) * s.B * H);
    std::vector<double> c(c0.begin() + l * s.B * H, c0.begin() + (l + 1) * s.B * H), g(4 * H);
    for (std::int64_t t = 0; t < s.T; ++t) {
      std::vector<double> h_new(h.size());
      for (std::int64_t n = 0; n < s.B; ++n) {
        for (std::int64_t go = 0; go < 4 * H; ++go) {
          double a = b[go];
          for (std::int64_t i = 0; i < X; ++i) a += input[(t * s.B + n) * X + i] * Wx[i * 4 * H + go];
          for (std::int64_t i = 0; i < H; ++i) a += h[n * H + i] * Wh[i * 4 * H + go];
          g[go] = a;
        }
        for (std::int64_t o = 0; o < H; ++o) {
          const double ig = sigmoid(g[o]), fg = sigmoid(g[H + o]), cg = std::tanh(g[2 * H + o]),
                       og = sigmoid(g[3 * H + o]);
          double& cc = c[n * H + o];
          cc = fg * cc + ig * cg;
          h_new[n * H + o] = og * std::tanh(cc);
          output[(t * s.B + n) * H + o] = h_new[n * H + o];
        }
      }
      h = h_new;
    }
    for (std::int64_t k = 0; k < s.B * H; ++k) {
      J += p.dhT[l * s.B * H + k] * h[k] + p.dcT[l * s.B * H + k] * c[k];
    }
    input = output;
  }
  for (std::size_t k = 0; k < output.size(); ++k) J += p.dy[k] * output[k];
  if (y_out) *y_out = output;
  return J;
}

// Checks one small shape; throws with the numbers when oneDNN disagrees with the reference.
std::string check_small(const dnnl::engine& engine, dnnl::stream& stream, Shape s, unsigned seed) {
  HostProblem p(s, seed);
  OnednnLstm lstm(engine, stream, s);
  lstm.load(p);
  lstm.step();
  lstm.step();  // twice: the weight gradients must not accumulate across calls
  const auto r = lstm.results();
  const Point base = point_of(p);
  std::vector<double> y_ref;
  reference_J(p, base, &y_ref);
  double y_err = 0;
  for (std::size_t k = 0; k < y_ref.size(); ++k) {
    // fp32 products of length X + H with |values| <= 1: a few ulp of the sums
    y_err = std::max(y_err, std::abs(r.y[k] - y_ref[k]) / (1e-5 + 1e-5 * std::abs(y_ref[k])));
  }
  // Directional derivative: <grad J, v> against (J(p + eps v) - J(p - eps v)) / (2 eps).
  std::mt19937 rng(seed + 7);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Point v = base, plus = base, minus = base;
  const double eps = 1e-4;
  for (std::size_t i = 0; i < v.parts.size(); ++i) {
    for (std::size_t k = 0; k < v.parts[i].size(); ++k) {
      v.parts[i][k] = u(rng);
      plus.parts[i][k] += eps * v.parts[i][k];
      minus.parts[i][k] -= eps * v.parts[i][k];
    }
  }
  std::vector<const std::vector<float>*> grads = {&r.dx, &r.dh0, &r.dc0};
  for (std::int64_t l = 0; l < s.L; ++l) grads.insert(grads.end(), {&r.dWx[l], &r.dWh[l], &r.db[l]});
  double analytic = 0, magnitude = 0;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (grads[i]->size() != v.parts[i].size()) throw std::logic_error("check_small: gradient size mismatch");
    for (std::size_t k = 0; k < v.parts[i].size(); ++k) {
      analytic += (*grads[i])[k] * v.parts[i][k];
      magnitude += std::abs((*grads[i])[k] * v.parts[i][k]);
    }
  }
  const double numeric = (reference_J(p, plus) - reference_J(p, minus)) / (2 * eps);
  // fp32 gradients summed over ~1e3 terms: 1e-4 of the sum of magnitudes
  const double grad_err = std::abs(analytic - numeric) / (1e-4 * magnitude);
  char text[256];
  std::snprintf(text, sizeof text,
                "T=%lld B=%lld X=%lld H=%lld L=%lld (%zu primitive%s): y max scaled error %.2g, "
                "<dJ, v> %.6g vs central differences %.6g (scaled error %.2g)",
                static_cast<long long>(s.T), static_cast<long long>(s.B), static_cast<long long>(s.X),
                static_cast<long long>(s.H), static_cast<long long>(s.L), lstm.stage_count(),
                lstm.stage_count() > 1 ? "s" : "", y_err, analytic, numeric, grad_err);
  if (!(y_err <= 1.0) || !(grad_err <= 1.0)) throw std::runtime_error(std::string("oneDNN check failed: ") + text);
  return text;
}

// ---- the program ----

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--from") o.from = value();
    else if (a == "--json") o.out = value();
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--warmup") o.warmup = std::stoi(value());
    else if (a == "--reps") o.reps = std::stoi(value());
    else if (a == "--max-seconds") o.max_seconds = std::stod(value());
    else if (a == "--seed") o.seed = static_cast<unsigned>(std::stoul(value()));
    else throw std::invalid_argument("unknown argument " + a);
  }
  if (o.from.empty() || o.out.empty()) {
    throw std::invalid_argument(
        "usage: onednn_peer --from FUSELSTM_JSONL --json OUT_JSONL [--threads N] [--warmup N] [--reps N] "
        "[--max-seconds S] [--seed N]");
  }
  return o;
}

// oneDNN here threads with TBB, which sizes itself from the process's CPU mask: --threads N keeps
// the first N CPUs of it. Returns the CPUs left.
int restrict_cpus(int threads) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return -1;
  const int available = CPU_COUNT(&mask);
  if (threads <= 0 || threads >= available) return available;
  cpu_set_t kept;
  CPU_ZERO(&kept);
  int n = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && n < threads; ++cpu) {
    if (CPU_ISSET(cpu, &mask)) CPU_SET(cpu, &kept), ++n;
  }
  if (sched_setaffinity(0, sizeof kept, &kept) != 0) return -1;
  return n;
}

std::string utc_now() {
  char text[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

bool all_finite(const OnednnLstm::Results& r) {
  auto finite = [](const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float e) { return std::isfinite(e); });
  };
  bool ok = finite(r.y) && finite(r.hT) && finite(r.cT) && finite(r.dx) && finite(r.dh0) && finite(r.dc0);
  for (std::size_t l = 0; l < r.dWx.size(); ++l) ok = ok && finite(r.dWx[l]) && finite(r.dWh[l]) && finite(r.db[l]);
  return ok;
}

json run_row(const json& row, const Options& o, const dnnl::engine& engine, dnnl::stream& stream, const json& base) {
  json out = base;
  const json& config = row.at("config");
  out["suite"] = row.value("suite", json());
  out["key"] = row.at("key");
  out["date"] = utc_now();
  out["device"] = row.at("device");
  out["device_name"] = row.value("device_name", json());
  out["ceilings"] = row.value("ceilings", json::object());
  out["config"] = config;
  out["status"] = "ok";
  out["reason"] = "";
  out["timing"] = {{"warmup", o.warmup}, {"reps", o.reps}, {"max_seconds", o.max_seconds}, {"clock", "steady_clock"}};
  if (row.at("device") != "cpu") {
    out.update({{"status", "skipped"}, {"reason", "the oneDNN peer runs on the CPU"}});
    return out;
  }
  if (config.at("cell") != "tanh") {
    out.update({{"status", "skipped"}, {"reason", "oneDNN has only the standard tanh cell"}});
    return out;
  }
  if (config.at("precision") != "fp32" || config.value("mode", "fwdbwd") != "fwdbwd") {
    out.update({{"status", "skipped"}, {"reason", "the oneDNN peer runs fp32 training steps only"}});
    return out;
  }
  auto dim = [&](const char* name) { return config.at(name).get<std::int64_t>(); };
  const Shape s{dim("T"), dim("B"), dim("X"), dim("H"), dim("L")};
  HostProblem p(s, o.seed);
  OnednnLstm lstm(engine, stream, s);
  lstm.load(p);
  using clock = std::chrono::steady_clock;
  auto timed = [&] {
    const auto begin = clock::now();
    lstm.step();
    return std::chrono::duration<double, std::milli>(clock::now() - begin).count();
  };
  double last = 0;
  for (int k = 0; k < std::max(1, o.warmup); ++k) last = timed();
  int reps = o.reps;
  if (o.max_seconds > 0 && last * reps > o.max_seconds * 1e3) {
    reps = std::min(reps, std::max(3, static_cast<int>(o.max_seconds * 1e3 / std::max(last, 1e-6))));
  }
  std::vector<double> times;
  for (int k = 0; k < reps; ++k) times.push_back(timed());
  if (!all_finite(lstm.results())) {
    out.update({{"status", "error"}, {"reason", "oneDNN produced non-finite outputs or gradients"}});
  }
  out["onednn"] = {{"times_ms", times}, {"reps_requested", o.reps}, {"primitives", lstm.stage_count()}};
  return out;
}

int run(const Options& o) {
  const int cpus = restrict_cpus(o.threads);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto* v = dnnl::version();
  char version[64];
  std::snprintf(version, sizeof version, "%d.%d.%d", v->major, v->minor, v->patch);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  const json base = {{"schema", "fuselstm-bench/1"},
                     {"impl", "onednn"},
                     {"host", host},
                     {"onednn_version", std::string(version) + " (" + v->hash + ")"},
                     {"onednn_cpu_runtime", "SYCL CPU device, TBB threading"},
                     {"threads", cpus},
                     {"weights_layout", "format_tag::any, reordered once outside the timed region"},
                     {"bias", "one per gate (oneDNN's LSTM has no second bias)"}};
  std::fprintf(stderr, "# oneDNN %s peer, %d CPUs (TBB)\n", version, cpus);
  for (Shape s : {Shape{5, 3, 4, 4, 1}, Shape{4, 2, 5, 5, 3}, Shape{4, 3, 6, 5, 3}}) {
    std::fprintf(stderr, "# check: %s\n", check_small(engine, stream, s, o.seed).c_str());
  }
  std::ifstream in(o.from);
  if (!in) throw std::runtime_error("cannot read " + o.from);
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    rows.push_back(json::parse(line));
  }
  std::ofstream out(o.out);
  if (!out) throw std::runtime_error("cannot write " + o.out);
  int status = 0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const json& row = rows[k];
    if (row.value("status", "") != "ok") continue;  // fuselstm did not run it
    if (row.at("config").value("memory_mode", "store_all") != "store_all") continue;  // once per shape
    std::fprintf(stderr, "[%zu/%zu] oneDNN %s ...\n", k + 1, rows.size(), row.at("key").get<std::string>().c_str());
    json result;
    try {
      result = run_row(row, o, engine, stream, base);
    } catch (const std::exception& e) {  // recorded, and the run goes on
      result = base;
      result.update({{"key", row.at("key")},
                     {"config", row.at("config")},
                     {"device", row.at("device")},
                     {"status", "error"},
                     {"reason", e.what()}});
    }
    if (result["status"] == "ok") {
      std::vector<double> t = result["onednn"]["times_ms"];
      std::sort(t.begin(), t.end());
      const double T = row["config"]["T"];
      std::fprintf(stderr, "    %.2f us/step (median of %zu)\n", t[t.size() / 2] * 1e3 / T, t.size());
    } else {
      if (result["status"] == "error") status = 1;
      std::fprintf(stderr, "    %s: %s\n", result["status"].get<std::string>().c_str(),
                   result["reason"].get<std::string>().c_str());
    }
    out << result.dump() << "\n";
    out.flush();
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "onednn_peer: oneDNN error %d: %s%s\n", static_cast<int>(e.status), e.what(),
                 std::getenv("OCL_ICD_FILENAMES") ? ""
                                                  : " (OCL_ICD_FILENAMES is not set: source .venv-peers/peers.env, "
                                                    "see bench/peers_env.sh)");
    return 1;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "onednn_peer: %s\n", e.what());
    return 64;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "onednn_peer: %s\n", e.what());
    return 1;
  }
}
