// The reference LSTM, written the way the "Simple LSTM" seed derives it: per step the concatenated
// input xc = [x(t), h(t−1)], one weight matrix per gate, and BPTT in which the loss gradient flows
// back through h and the cell state s carries its own derivative (ds ⊙ f). One batch row at a
// time, plain loops, no BLAS: obviously right first, fast never.
//
// A "unit" is one direction of one layer (unit = layer·D + direction). A bidirectional layer runs
// its reverse unit on the time-reversed input and reverses that unit's outputs back; the layer's
// output is [forward h, reverse h] per step.

#include "reference/reference.hpp"

#include <cmath>

namespace fuselstm::reference {
namespace {

enum Gate { kI = 0, kF = 1, kG = 2, kO = 3 };  // PyTorch's block order in the weight rows

template <typename T> T sigmoid(T v) { return T(1) / (T(1) + std::exp(-v)); }
template <typename T>
T act(CellActivation cell, T s) { return cell == CellActivation::tanh ? std::tanh(s) : s; }

// One unit's weights, in the seed's terms: W_gate[r][j] is row r of gate block `gate`, column j of
// xc = [x, h].
template <typename T>
struct UnitWeights {
  const std::vector<T>& weight_ih;
  const std::vector<T>& weight_hh;
  const std::vector<T>* bias_ih;  // null: no bias
  const std::vector<T>* bias_hh;
  std::int64_t X, H;
  T w(int gate, std::int64_t r, std::int64_t j) const {
    const std::int64_t row = gate * H + r;
    return j < X ? weight_ih[row * X + j] : weight_hh[row * H + (j - X)];
  }
};

// Everything one cell computed at one step for one batch row.
template <typename T>
struct CellState {
  std::vector<T> xc;          // [X + H]
  std::vector<T> i, f, g, o;  // [H] post-activation gates
  std::vector<T> s, h;        // [H] cell state and output
};

template <typename T>
struct UnitTrace {
  std::vector<std::vector<CellState<T>>> cells;  // [t][b]
  std::vector<std::vector<T>> s0;                 // [b] initial cell state
};

// input [T, B, X]; h0, c0: [B, H] slices or empty (zeros).
template <typename T>
UnitTrace<T> run_unit(const Dims& d, CellActivation cell, const UnitWeights<T>& w,
                      const std::vector<T>& input, const T* h0, const T* c0) {
  const std::int64_t H = w.H, X = w.X;
  UnitTrace<T> tr;
  tr.cells.assign(d.steps, std::vector<CellState<T>>(d.batch));
  for (std::int64_t b = 0; b < d.batch; ++b) {
    std::vector<T> s_prev(H, T(0)), h_prev(H, T(0));
    for (std::int64_t r = 0; r < H; ++r) {
      if (h0) h_prev[r] = h0[b * H + r];
      if (c0) s_prev[r] = c0[b * H + r];
    }
    tr.s0.push_back(s_prev);
    for (std::int64_t t = 0; t < d.steps; ++t) {
      CellState<T>& st = tr.cells[t][b];
      st.xc.resize(X + H);
      for (std::int64_t j = 0; j < X; ++j) st.xc[j] = input[(t * d.batch + b) * X + j];
      for (std::int64_t j = 0; j < H; ++j) st.xc[X + j] = h_prev[j];
      std::vector<T>* outs[4] = {&st.i, &st.f, &st.g, &st.o};
      for (int gate = 0; gate < 4; ++gate) {
        outs[gate]->resize(H);
        for (std::int64_t r = 0; r < H; ++r) {
          T a = 0;
          for (std::int64_t j = 0; j < X + H; ++j) a += w.w(gate, r, j) * st.xc[j];
          if (w.bias_ih) a += (*w.bias_ih)[gate * H + r] + (*w.bias_hh)[gate * H + r];
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
  return tr;
}

// BPTT through one unit. d_out [T, B, H] is dL/dh(t) from outside the recurrence; dhT, dcT [B, H]
// slices or null. Accumulates the unit's parameter gradients; returns dL/d input [T, B, X] and
// writes dh0, dc0 [B, H] slices.
template <typename T>
std::vector<T> backward_unit(const Dims& d, CellActivation cell, const UnitWeights<T>& w,
                             const UnitTrace<T>& tr, const std::vector<T>& d_out, const T* dhT,
                             const T* dcT, std::vector<T>& dw_ih, std::vector<T>& dw_hh,
                             std::vector<T>* db_ih, std::vector<T>* db_hh, T* dh0, T* dc0) {
  const std::int64_t H = w.H, X = w.X;
  std::vector<T> d_input(d.steps * d.batch * X, T(0));
  for (std::int64_t b = 0; b < d.batch; ++b) {
    std::vector<T> diff_h(H, T(0)), diff_s(H, T(0));  // dL(t+1)/dh(t), dL(t+1)/ds(t)
    for (std::int64_t r = 0; r < H; ++r) {
      if (dhT) diff_h[r] = dhT[b * H + r];
      if (dcT) diff_s[r] = dcT[b * H + r];
    }
    for (std::int64_t t = d.steps - 1; t >= 0; --t) {
      const CellState<T>& st = tr.cells[t][b];
      const std::vector<T>& s_prev = t > 0 ? tr.cells[t - 1][b].s : tr.s0[b];
      std::vector<T> d_in[4];  // dL/d(gate pre-activation), order i, f, g, o
      for (auto& v : d_in) v.assign(H, T(0));
      for (std::int64_t r = 0; r < H; ++r) {
        // dL(t)/dh(t) = dl(t)/dh(t) + dL(t+1)/dh(t)
        const T dh = d_out[(t * d.batch + b) * H + r] + diff_h[r];
        const T a = act(cell, st.s[r]);
        const T da = cell == CellActivation::tanh ? T(1) - a * a : T(1);
        const T ds = st.o[r] * da * dh + diff_s[r];
        d_in[kI][r] = st.i[r] * (T(1) - st.i[r]) * (st.g[r] * ds);
        d_in[kF][r] = st.f[r] * (T(1) - st.f[r]) * (s_prev[r] * ds);
        d_in[kG][r] = (T(1) - st.g[r] * st.g[r]) * (st.i[r] * ds);
        d_in[kO][r] = st.o[r] * (T(1) - st.o[r]) * (a * dh);
        diff_s[r] = ds * st.f[r];  // the cell state carries its own derivative back
      }
      std::vector<T> dxc(X + H, T(0));
      for (int gate = 0; gate < 4; ++gate) {
        for (std::int64_t r = 0; r < H; ++r) {
          const T g = d_in[gate][r];
          const std::int64_t row = gate * H + r;
          for (std::int64_t j = 0; j < X + H; ++j) {
            dxc[j] += w.w(gate, r, j) * g;
            if (j < X) dw_ih[row * X + j] += g * st.xc[j];
            else dw_hh[row * H + (j - X)] += g * st.xc[j];
          }
          if (db_ih) {
            (*db_ih)[row] += g;
            (*db_hh)[row] += g;
          }
        }
      }
      for (std::int64_t j = 0; j < X; ++j) d_input[(t * d.batch + b) * X + j] = dxc[j];
      for (std::int64_t r = 0; r < H; ++r) diff_h[r] = dxc[X + r];
    }
    for (std::int64_t r = 0; r < H; ++r) {
      dh0[b * H + r] = diff_h[r];
      dc0[b * H + r] = diff_s[r];
    }
  }
  return d_input;
}

// v [T, B, W] with its time axis reversed.
template <typename T>
std::vector<T> reverse_time(const std::vector<T>& v, const Dims& d, std::int64_t W) {
  std::vector<T> out(v.size());
  for (std::int64_t t = 0; t < d.steps; ++t)
    for (std::int64_t k = 0; k < d.batch * W; ++k)
      out[t * d.batch * W + k] = v[(d.steps - 1 - t) * d.batch * W + k];
  return out;
}

std::int64_t directions(const Dims& d) { return d.bidirectional ? 2 : 1; }

template <typename T>
UnitWeights<T> unit_weights(const Dims& d, const Params<T>& p, std::size_t unit) {
  const std::int64_t layer = static_cast<std::int64_t>(unit) / directions(d);
  const std::int64_t X = layer == 0 ? d.input : directions(d) * d.hidden;
  const bool bias = !p.bias_ih.empty();
  return {p.weight_ih[unit], p.weight_hh[unit], bias ? &p.bias_ih[unit] : nullptr,
          bias ? &p.bias_hh[unit] : nullptr, X, d.hidden};
}

// The whole forward, keeping every unit's trace and input (in the unit's own time order).
template <typename T>
struct Run {
  std::vector<UnitTrace<T>> traces;
  std::vector<std::vector<T>> unit_inputs;
  std::vector<T> y;  // [T, B, D·H]
};

template <typename T>
Run<T> run_all(const Dims& d, CellActivation cell, const Params<T>& p, const std::vector<T>& x,
               const std::vector<T>& h0, const std::vector<T>& c0) {
  const std::int64_t D = directions(d), H = d.hidden, state = d.batch * H;
  Run<T> run;
  std::vector<T> input = x;
  for (std::int64_t l = 0; l < d.layers; ++l) {
    const std::int64_t X = l == 0 ? d.input : D * H;
    std::vector<T> output(d.steps * d.batch * D * H);
    for (std::int64_t r = 0; r < D; ++r) {
      const std::size_t unit = l * D + r;
      run.unit_inputs.push_back(r == 0 ? input : reverse_time(input, d, X));
      run.traces.push_back(run_unit(d, cell, unit_weights(d, p, unit), run.unit_inputs.back(),
                                    h0.empty() ? nullptr : h0.data() + unit * state,
                                    c0.empty() ? nullptr : c0.data() + unit * state));
      for (std::int64_t t = 0; t < d.steps; ++t) {
        const std::int64_t source = r == 0 ? t : d.steps - 1 - t;  // back to natural time
        for (std::int64_t b = 0; b < d.batch; ++b)
          for (std::int64_t j = 0; j < H; ++j)
            output[((t * d.batch + b) * D + r) * H + j] = run.traces.back().cells[source][b].h[j];
      }
    }
    input = std::move(output);
  }
  run.y = std::move(input);
  return run;
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
  Run<T> run = run_all(d, cell, p, x, h0, c0);
  const std::int64_t H = d.hidden, units = d.layers * directions(d);
  Forward<T> out;
  out.y = std::move(run.y);
  out.hT.resize(units * d.batch * H);
  out.cT.resize(units * d.batch * H);
  for (std::int64_t u = 0; u < units; ++u)
    for (std::int64_t b = 0; b < d.batch; ++b)
      for (std::int64_t r = 0; r < H; ++r) {
        out.hT[(u * d.batch + b) * H + r] = run.traces[u].cells[d.steps - 1][b].h[r];
        out.cT[(u * d.batch + b) * H + r] = run.traces[u].cells[d.steps - 1][b].s[r];
      }
  return out;
}

template <typename T>
Gradients<T> backward(const Dims& d, CellActivation cell, const Params<T>& p,
                      const std::vector<T>& x, const std::vector<T>& h0,
                      const std::vector<T>& c0, const std::vector<T>& dy,
                      const std::vector<T>& dhT, const std::vector<T>& dcT) {
  const Run<T> run = run_all(d, cell, p, x, h0, c0);
  const std::int64_t D = directions(d), H = d.hidden, state = d.batch * H;
  const bool bias = !p.bias_ih.empty();
  Gradients<T> out;
  out.dparams = zeros_like(p);
  out.dh0.assign(d.layers * D * state, T(0));
  out.dc0.assign(d.layers * D * state, T(0));
  // The gradient arriving at the layer's output [T, B, D·H]: dy for the top layer, then the input
  // gradient of the layer above.
  std::vector<T> d_output = dy.empty() ? std::vector<T>(d.steps * d.batch * D * H, T(0)) : dy;
  for (std::int64_t l = d.layers - 1; l >= 0; --l) {
    const std::int64_t X = l == 0 ? d.input : D * H;
    std::vector<T> d_input(d.steps * d.batch * X, T(0));
    for (std::int64_t r = 0; r < D; ++r) {
      const std::size_t unit = l * D + r;
      std::vector<T> d_unit(d.steps * state);  // in the unit's own time order
      for (std::int64_t t = 0; t < d.steps; ++t) {
        const std::int64_t natural = r == 0 ? t : d.steps - 1 - t;
        for (std::int64_t b = 0; b < d.batch; ++b)
          for (std::int64_t j = 0; j < H; ++j)
            d_unit[(t * d.batch + b) * H + j] = d_output[((natural * d.batch + b) * D + r) * H + j];
      }
      std::vector<T> d_in = backward_unit(
          d, cell, unit_weights(d, p, unit), run.traces[unit], d_unit,
          dhT.empty() ? nullptr : dhT.data() + unit * state,
          dcT.empty() ? nullptr : dcT.data() + unit * state, out.dparams.weight_ih[unit],
          out.dparams.weight_hh[unit], bias ? &out.dparams.bias_ih[unit] : nullptr,
          bias ? &out.dparams.bias_hh[unit] : nullptr, out.dh0.data() + unit * state,
          out.dc0.data() + unit * state);
      if (r == 1) d_in = reverse_time(d_in, d, X);
      for (std::size_t k = 0; k < d_in.size(); ++k) d_input[k] += d_in[k];
    }
    d_output = std::move(d_input);
  }
  out.dx = std::move(d_output);
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
