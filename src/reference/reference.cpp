// The reference LSTM, written the way the "Simple LSTM" seed derives it: per step the concatenated
// input xc = [x(t), h(t−1)], one weight matrix per gate, and BPTT in which the loss gradient flows
// back through h and the cell state s carries its own derivative (ds ⊙ f). One batch row at a
// time, plain loops, no BLAS: obviously right first, fast never.

#include "fuselstm/reference.hpp"

#include <cmath>

namespace fuselstm::reference {
namespace {

enum Gate { kI = 0, kF = 1, kG = 2, kO = 3 };  // PyTorch's block order in the weight rows

template <typename T> T sigmoid(T v) { return T(1) / (T(1) + std::exp(-v)); }

// W_gate[r][j] of the seed: row r of gate block `gate`, column j of xc = [x, h].
template <typename T>
T gate_weight(const Params<T>& p, std::size_t layer, int gate, std::int64_t r, std::int64_t j,
              std::int64_t X, std::int64_t H) {
  const std::int64_t row = gate * H + r;
  return j < X ? p.weight_ih[layer][row * X + j] : p.weight_hh[layer][row * H + (j - X)];
}

// Everything one cell computed at one step for one batch row.
template <typename T>
struct CellState {
  std::vector<T> xc;          // [X + H]
  std::vector<T> i, f, g, o;  // [H] post-activation gates
  std::vector<T> s, h;        // [H] cell state and output
};

template <typename T>
struct Trace {  // [layer][t][b]
  std::vector<std::vector<std::vector<CellState<T>>>> cells;
  std::vector<std::vector<std::vector<T>>> s0, h0;  // [layer][b] initial states
};

template <typename T>
T act(CellActivation cell, T s) { return cell == CellActivation::tanh ? std::tanh(s) : s; }

template <typename T>
Trace<T> run(const Dims& d, CellActivation cell, const Params<T>& p, const std::vector<T>& x,
             const std::vector<T>& h0, const std::vector<T>& c0) {
  const std::int64_t H = d.hidden;
  Trace<T> tr;
  tr.cells.resize(d.layers);
  tr.s0.resize(d.layers);
  tr.h0.resize(d.layers);
  for (std::int64_t l = 0; l < d.layers; ++l) {
    const std::int64_t X = l == 0 ? d.input : H;
    const bool bias = !p.bias_ih.empty();
    tr.cells[l].assign(d.steps, std::vector<CellState<T>>(d.batch));
    for (std::int64_t b = 0; b < d.batch; ++b) {
      std::vector<T> s_prev(H, T(0)), h_prev(H, T(0));
      for (std::int64_t r = 0; r < H; ++r) {
        if (!h0.empty()) h_prev[r] = h0[(l * d.batch + b) * H + r];
        if (!c0.empty()) s_prev[r] = c0[(l * d.batch + b) * H + r];
      }
      tr.s0[l].push_back(s_prev);
      tr.h0[l].push_back(h_prev);
      for (std::int64_t t = 0; t < d.steps; ++t) {
        CellState<T>& st = tr.cells[l][t][b];
        st.xc.resize(X + H);
        for (std::int64_t j = 0; j < X; ++j) {
          st.xc[j] = l == 0 ? x[(t * d.batch + b) * X + j] : tr.cells[l - 1][t][b].h[j];
        }
        for (std::int64_t j = 0; j < H; ++j) st.xc[X + j] = h_prev[j];
        std::vector<T>* outs[4] = {&st.i, &st.f, &st.g, &st.o};
        for (int gate = 0; gate < 4; ++gate) {
          outs[gate]->resize(H);
          for (std::int64_t r = 0; r < H; ++r) {
            T a = 0;
            for (std::int64_t j = 0; j < X + H; ++j) a += gate_weight(p, l, gate, r, j, X, H) * st.xc[j];
            if (bias) a += p.bias_ih[l][gate * H + r] + p.bias_hh[l][gate * H + r];
            (*outs[gate])[r] = gate == kG ? std::tanh(a) : sigmoid(a);
          }
        }
        st.s.resize(H);
        st.h.resize(H);
        for (std::int64_t r = 0; r < H; ++r) {
          st.s[r] = st.g[r] * st.i[r] + s_prev[r] * st.f[r];
          st.h[r] = act(cell, st.s[r]) * st.o[r];
        }
        s_prev = st.s;
        h_prev = st.h;
      }
    }
  }
  return tr;
}

template <typename T>
Params<T> zeros_like(const Params<T>& p) {
  Params<T> z;
  for (const auto& v : p.weight_ih) z.weight_ih.emplace_back(v.size(), T(0));
  for (const auto& v : p.weight_hh) z.weight_hh.emplace_back(v.size(), T(0));
  for (const auto& v : p.bias_ih) z.bias_ih.emplace_back(v.size(), T(0));
  for (const auto& v : p.bias_hh) z.bias_hh.emplace_back(v.size(), T(0));
  return z;
}

}  // namespace

template <typename T>
Forward<T> forward(const Dims& d, CellActivation cell, const Params<T>& p, const std::vector<T>& x,
                   const std::vector<T>& h0, const std::vector<T>& c0) {
  const Trace<T> tr = run(d, cell, p, x, h0, c0);
  const std::int64_t H = d.hidden;
  Forward<T> out;
  out.y.resize(d.steps * d.batch * H);
  out.hT.resize(d.layers * d.batch * H);
  out.cT.resize(d.layers * d.batch * H);
  for (std::int64_t t = 0; t < d.steps; ++t)
    for (std::int64_t b = 0; b < d.batch; ++b)
      for (std::int64_t r = 0; r < H; ++r)
        out.y[(t * d.batch + b) * H + r] = tr.cells[d.layers - 1][t][b].h[r];
  for (std::int64_t l = 0; l < d.layers; ++l)
    for (std::int64_t b = 0; b < d.batch; ++b)
      for (std::int64_t r = 0; r < H; ++r) {
        out.hT[(l * d.batch + b) * H + r] = tr.cells[l][d.steps - 1][b].h[r];
        out.cT[(l * d.batch + b) * H + r] = tr.cells[l][d.steps - 1][b].s[r];
      }
  return out;
}

template <typename T>
Gradients<T> backward(const Dims& d, CellActivation cell, const Params<T>& p,
                      const std::vector<T>& x, const std::vector<T>& h0,
                      const std::vector<T>& c0, const std::vector<T>& dy,
                      const std::vector<T>& dhT, const std::vector<T>& dcT) {
  const Trace<T> tr = run(d, cell, p, x, h0, c0);
  const std::int64_t H = d.hidden;
  const bool bias = !p.bias_ih.empty();
  Gradients<T> out;
  out.dparams = zeros_like(p);
  out.dh0.assign(d.layers * d.batch * H, T(0));
  out.dc0.assign(d.layers * d.batch * H, T(0));
  // The gradient arriving at layer l's outputs h(t) from above: dy for the top layer, then the
  // x-part of the layer above's dxc.
  std::vector<T> from_above = dy.empty() ? std::vector<T>(d.steps * d.batch * H, T(0)) : dy;
  for (std::int64_t l = d.layers - 1; l >= 0; --l) {
    const std::int64_t X = l == 0 ? d.input : H;
    std::vector<T> dinput(d.steps * d.batch * X, T(0));
    for (std::int64_t b = 0; b < d.batch; ++b) {
      std::vector<T> diff_h(H, T(0)), diff_s(H, T(0));  // dL(t+1)/dh(t), dL(t+1)/ds(t)
      for (std::int64_t r = 0; r < H; ++r) {
        if (!dhT.empty()) diff_h[r] = dhT[(l * d.batch + b) * H + r];
        if (!dcT.empty()) diff_s[r] = dcT[(l * d.batch + b) * H + r];
      }
      for (std::int64_t t = d.steps - 1; t >= 0; --t) {
        const CellState<T>& st = tr.cells[l][t][b];
        const std::vector<T>& s_prev = t > 0 ? tr.cells[l][t - 1][b].s : tr.s0[l][b];
        std::vector<T> d_in[4];  // dL/d(gate pre-activation), order i, f, g, o
        for (auto& v : d_in) v.assign(H, T(0));
        for (std::int64_t r = 0; r < H; ++r) {
          // dL(t)/dh(t) = dl(t)/dh(t) + dL(t+1)/dh(t)
          const T dh = from_above[(t * d.batch + b) * H + r] + diff_h[r];
          const T a = act(cell, st.s[r]);
          const T da = cell == CellActivation::tanh ? T(1) - a * a : T(1);
          const T ds = st.o[r] * da * dh + diff_s[r];
          const T dout = a * dh;
          const T di = st.g[r] * ds;
          const T dg = st.i[r] * ds;
          const T df = s_prev[r] * ds;
          d_in[kI][r] = st.i[r] * (T(1) - st.i[r]) * di;
          d_in[kF][r] = st.f[r] * (T(1) - st.f[r]) * df;
          d_in[kG][r] = (T(1) - st.g[r] * st.g[r]) * dg;
          d_in[kO][r] = st.o[r] * (T(1) - st.o[r]) * dout;
          diff_s[r] = ds * st.f[r];  // the cell state carries its own derivative back
        }
        std::vector<T> dxc(X + H, T(0));
        for (int gate = 0; gate < 4; ++gate) {
          for (std::int64_t r = 0; r < H; ++r) {
            const T g = d_in[gate][r];
            const std::int64_t row = gate * H + r;
            for (std::int64_t j = 0; j < X + H; ++j) {
              dxc[j] += gate_weight(p, l, gate, r, j, X, H) * g;
              if (j < X) out.dparams.weight_ih[l][row * X + j] += g * st.xc[j];
              else out.dparams.weight_hh[l][row * H + (j - X)] += g * st.xc[j];
            }
            if (bias) {
              out.dparams.bias_ih[l][row] += g;
              out.dparams.bias_hh[l][row] += g;
            }
          }
        }
        for (std::int64_t j = 0; j < X; ++j) dinput[(t * d.batch + b) * X + j] = dxc[j];
        for (std::int64_t r = 0; r < H; ++r) diff_h[r] = dxc[X + r];
      }
      for (std::int64_t r = 0; r < H; ++r) {
        out.dh0[(l * d.batch + b) * H + r] = diff_h[r];
        out.dc0[(l * d.batch + b) * H + r] = diff_s[r];
      }
    }
    if (l == 0) out.dx = std::move(dinput);
    else from_above = std::move(dinput);
  }
  return out;
}

template Forward<float> forward(const Dims&, CellActivation, const Params<float>&,
                                const std::vector<float>&, const std::vector<float>&,
                                const std::vector<float>&);
template Forward<double> forward(const Dims&, CellActivation, const Params<double>&,
                                 const std::vector<double>&, const std::vector<double>&,
                                 const std::vector<double>&);
template Gradients<float> backward(const Dims&, CellActivation, const Params<float>&,
                                   const std::vector<float>&, const std::vector<float>&,
                                   const std::vector<float>&, const std::vector<float>&,
                                   const std::vector<float>&, const std::vector<float>&);
template Gradients<double> backward(const Dims&, CellActivation, const Params<double>&,
                                    const std::vector<double>&, const std::vector<double>&,
                                    const std::vector<double>&, const std::vector<double>&,
                                    const std::vector<double>&, const std::vector<double>&);

}  // namespace fuselstm::reference
