// RecurrentAlgorithm::graphs: the orchestration recorded into a call log and run from a graph
// cache (src/ops/graph_runner.hpp). CUDA builds CUDA graphs from it; the host runs its twin, the
// same cache replaying cached logs. These tests check, without a GPU:
//   - the cache's decisions (replay, update, recapture, eviction, failures) on a counting backend;
//   - capture safety: inside a recorded region an arena allocation, a stream synchronisation and a
//     tensor copy (a host read) throw, so every graphs run below proves the orchestration of its
//     configuration does none of them; the recorder is the only ops it sees, so every call it
//     records is replayed on the context's own ops (its stream);
//   - through the public API, the same bits as the standard algorithm over repeated training
//     iterations (first call: capture; later: replay or update), for every feature pairing that
//     changes the recorded calls: layers, directions, lengths, batch_first, memory modes, dropout,
//     both cells, given states, inference.

#include "agreement.hpp"
#include "lstm/model_impl.hpp"
#include "lstm/recorded_call.hpp"
#include "ops/call_recorder.hpp"
#include "ops/graph_runner.hpp"

namespace fuselstm::testing {
namespace {

// ---- The cache's decisions ----------------------------------------------------------------------

// Counts what the runner asks for; each instance has an id, each launch records the id it ran and
// replays the instance's calls on the host ops (so a test can also check what ran).
class CountingBackend final : public ops::GraphBackend<double> {
public:
  struct Instance final : ops::GraphInstance {
    Instance(int id, const ops::CallLog<double>& log, int* alive) : id(id), calls(log), alive(alive) {
      ++*alive;
    }
    ~Instance() override { --*alive; }
    int id;
    ops::CallLog<double> calls;
    int* alive;
  };

  std::unique_ptr<ops::GraphInstance> instantiate(const ops::CallLog<double>& log) override {
    if (fail_instantiate) throw Error("instantiate failed (test)");
    return std::make_unique<Instance>(next_id++, log, &alive);
  }
  bool update(ops::GraphInstance& graph, const ops::CallLog<double>& log) override {
    if (fail_update) throw Error("update failed (test)");
    if (refuse_update) return false;
    static_cast<Instance&>(graph).calls = log;
    return true;
  }
  void launch(ops::GraphInstance& graph) override {
    auto& g = static_cast<Instance&>(graph);
    launched.push_back(g.id);
    g.calls.replay(*host);
  }

  std::unique_ptr<ops::Ops<double>> host = ops::make_host_loop_ops<double>();
  std::vector<int> launched;
  int next_id = 0, alive = 0;
  bool refuse_update = false, fail_update = false, fail_instantiate = false;
};

// A log of `methods` distinct call kinds (1: fill; 2: fill + scale; ...), writing `value` to `dst`.
ops::CallLog<double> make_log(double* dst, double value, int methods = 1) {
  ops::CallRecorder<double> r(Device::cpu());
  r.fill(dst, 4, value);
  for (int k = 1; k < methods; ++k) {
    if (k % 2) r.scale(4, 1.0, dst);
    else r.axpy(4, 0.0, dst, dst);
  }
  return r.log();
}

TEST(GraphRunner, ReplaysEqualCallsAndUpdatesOtherArguments) {
  CountingBackend backend;
  ops::GraphRunner<double> runner(backend);
  std::vector<double> a(4), b(4);
  runner.run(make_log(a.data(), 1.0));  // new: capture (graph 0)
  runner.run(make_log(a.data(), 1.0));  // the same bytes: replay
  EXPECT_EQ(a, std::vector<double>(4, 1.0));
  runner.run(make_log(a.data(), 2.0));  // another value: a second graph of these methods (1)
  EXPECT_EQ(a, std::vector<double>(4, 2.0));
  runner.run(make_log(b.data(), 3.0));  // another buffer: graph 0, the older, updated in place
  EXPECT_EQ(b, std::vector<double>(4, 3.0));
  EXPECT_EQ(a, std::vector<double>(4, 2.0)) << "the old buffer is no longer written";
  runner.run(make_log(a.data(), 2.0));  // graph 1 replays
  runner.run(make_log(a.data(), 1.0));  // graph 0 (now the older) updated back
  EXPECT_EQ(a, std::vector<double>(4, 1.0)) << "the updated graph ran the new argument";
  const ops::GraphStats s = runner.stats();
  EXPECT_EQ(s.captures, 2);
  EXPECT_EQ(s.replays, 2);
  EXPECT_EQ(s.updates, 2);
  EXPECT_EQ(backend.launched, (std::vector<int>{0, 0, 1, 0, 1, 0}));
  EXPECT_EQ(backend.alive, 2);
}

TEST(GraphRunner, AlternatingArgumentsReplayBoth) {
  CountingBackend backend;
  ops::GraphRunner<double> runner(backend);
  std::vector<double> a(4), b(4);
  for (int k = 0; k < 5; ++k) {
    runner.run(make_log(a.data(), 1.0));
    runner.run(make_log(b.data(), 1.0));
  }
  EXPECT_EQ(runner.stats().captures, 2);
  EXPECT_EQ(runner.stats().updates, 0);
  EXPECT_EQ(runner.stats().replays, 8);
}

TEST(GraphRunner, RecapturesWhenTheUpdateIsRefused) {
  CountingBackend backend;
  ops::GraphRunner<double> runner(backend);
  std::vector<double> a(4);
  runner.run(make_log(a.data(), 1.0));
  runner.run(make_log(a.data(), 2.0));
  backend.refuse_update = true;  // what cudaGraphExecUpdate does when cuBLAS picked other kernels
  runner.run(make_log(a.data(), 5.0));
  EXPECT_EQ(a, std::vector<double>(4, 5.0));
  EXPECT_EQ(runner.stats().captures, 3);
  EXPECT_EQ(runner.stats().updates, 0);
  EXPECT_EQ(backend.launched, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(backend.alive, 2) << "the refused graph was dropped once its successor existed";
  runner.run(make_log(a.data(), 5.0));  // the new graph replays
  EXPECT_EQ(runner.stats().replays, 1);
}

TEST(GraphRunner, EvictsTheLeastRecentlyUsedBeyondItsCapacity) {
  CountingBackend backend;
  ops::GraphRunner<double> runner(backend);
  const int K = static_cast<int>(ops::GraphRunner<double>::kCapacity);
  std::vector<double> a(4);
  for (int m = 1; m <= K; ++m) runner.run(make_log(a.data(), m, m));  // K method sequences
  runner.run(make_log(a.data(), 1, 1));                               // touch the first
  runner.run(make_log(a.data(), K + 1, K + 1));                       // one more: evicts #2
  EXPECT_EQ(runner.stats().evictions, 1);
  EXPECT_EQ(backend.alive, K);
  runner.run(make_log(a.data(), 1, 1));  // still cached
  EXPECT_EQ(runner.stats().replays, 2);
  const std::int64_t captures = runner.stats().captures;
  runner.run(make_log(a.data(), 2, 2));  // evicted: captured again
  EXPECT_EQ(runner.stats().captures, captures + 1);
}

TEST(GraphRunner, FailuresLeaveNoGraphThatCouldRunStaleCalls) {
  CountingBackend backend;
  ops::GraphRunner<double> runner(backend);
  std::vector<double> a(4);
  backend.fail_instantiate = true;
  EXPECT_THROW(runner.run(make_log(a.data(), 1.0)), Error);
  EXPECT_EQ(backend.alive, 0);
  EXPECT_TRUE(backend.launched.empty());
  backend.fail_instantiate = false;
  runner.run(make_log(a.data(), 1.0));  // graph 0
  runner.run(make_log(a.data(), 2.0));  // graph 1
  backend.fail_update = true;           // a half-updated graph must never be launched again
  EXPECT_THROW(runner.run(make_log(a.data(), 3.0)), Error);
  EXPECT_EQ(backend.alive, 1) << "graph 0, the one being updated, was dropped";
  backend.fail_update = false;
  runner.run(make_log(a.data(), 1.0));  // graph 0's old calls: captured anew, not replayed
  EXPECT_EQ(runner.stats().captures, 3);
  EXPECT_EQ(runner.stats().replays, 0);
  runner.run(ops::CallLog<double>());  // nothing recorded: nothing to run
  EXPECT_EQ(backend.launched, (std::vector<int>{0, 1, 2}));
}

TEST(CallLog, ArgumentBytesDecideEquality) {
  std::vector<double> a(8);
  const auto one = make_log(a.data(), 1.0), same = make_log(a.data(), 1.0);
  EXPECT_TRUE(one.same_calls(same));
  EXPECT_EQ(one.method_hash(), same.method_hash());
  EXPECT_FALSE(one.same_calls(make_log(a.data(), -1.0)));
  EXPECT_FALSE(one.same_calls(make_log(a.data() + 1, 1.0)));
  EXPECT_TRUE(one.same_methods(make_log(a.data() + 1, -1.0)));
  EXPECT_FALSE(one.same_methods(make_log(a.data(), 1.0, 2)));
  // Structs with padding (ForwardStepArgs ends in a bool) compare by their fields only.
  kernels::ForwardStepArgs<double> x, y;
  std::memset(static_cast<void*>(&x), 0xAB, sizeof x);
  std::memset(static_cast<void*>(&y), 0x00, sizeof y);
  for (auto* s : {&x, &y}) *s = kernels::ForwardStepArgs<double>{};
  ops::CallRecorder<double> rx(Device::cpu()), ry(Device::cpu());
  rx.forward_step(CellActivation::tanh, x);
  ry.forward_step(CellActivation::tanh, y);
  EXPECT_TRUE(rx.log().same_calls(ry.log()));
}

// ---- Capture safety ---------------------------------------------------------------------------

TEST(CaptureRegion, RefusesAllocationWaitAndHostCopy) {
  ExecutionContext ctx(Device::cpu());
  const Tensor t = Tensor::zeros({3}, DType::f32, ctx);
  Tensor dst = Tensor::zeros({3}, DType::f32, ctx);
  {
    detail::CaptureRegion region;
    EXPECT_THROW(Tensor::empty({4}, DType::f32, ctx), Error);
    EXPECT_THROW(ctx.synchronize(), Error);
    EXPECT_THROW(t.to_vector<float>(), Error);
    EXPECT_THROW(dst.assign(std::vector<float>{1, 2, 3}), Error);
    ops::CallRecorder<float> recorder(Device::cpu());
    EXPECT_THROW(recorder.synchronize(), Error);
  }
  EXPECT_FALSE(detail::CaptureRegion::active());
  EXPECT_NO_THROW(Tensor::empty({4}, DType::f32, ctx));  // nothing left behind
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>(3, 0.0f));
}

TEST(CaptureRegion, AnUnsafeOrchestrationFailsCleanly) {
  ExecutionContext ctx(Device::cpu());
  auto ops = ctx.state()->ops<double>();
  const ops::GraphStats before = ops->graph_stats();
  EXPECT_THROW(detail::run_orchestration<double>(
                   *ops, RecurrentAlgorithm::graphs,
                   [&](ops::Ops<double>&) { Tensor::empty({2}, DType::f64, ctx); }),
               Error);
  EXPECT_EQ(ops->graph_stats().captures, before.captures) << "nothing was captured";
  EXPECT_FALSE(detail::CaptureRegion::active());
}

// ---- Through the public API: graphs == standard, bitwise ---------------------------------------

struct GraphCase {
  DType dtype = DType::f32;
  std::int64_t L = 1;
  bool bidirectional = false;
  bool batch_first = false;
  bool lengths = false;
  MemoryMode mode = MemoryMode::store_all;
  std::int64_t k = 0;
  double dropout = 0;
  CellActivation cell = CellActivation::tanh;
  bool states = false;  // h0, c0, dhT, dcT given
  std::string str() const {
    std::ostringstream s;
    s << dtype_name(dtype) << " L=" << L << (bidirectional ? " bidirectional" : "")
      << (batch_first ? " batch_first" : "") << (lengths ? " lengths" : "") << " "
      << memory_mode_name(mode) << (k ? " k=" + std::to_string(k) : "")
      << (dropout > 0 ? " dropout" : "") << " " << cell_activation_name(cell)
      << (states ? " states" : "");
    return s.str();
  }
};

struct RunResult {
  std::vector<std::vector<double>> tensors;  // per iteration: outputs, gradients, inference
  ops::GraphStats stats;
};

// `iterations` training steps (forward, backward; then inference) on one model with fresh inputs
// each step, every result read back; on a context of its own, so the graph stats are the model's.
RunResult train(const GraphCase& g, RecurrentAlgorithm algorithm, int iterations,
                const Device& device = Device::cpu()) {
  const std::int64_t T = 7, B = 5, X = 3, H = 9, D = g.bidirectional ? 2 : 1, U = g.L * D;
  LstmConfig cfg;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = g.L;
  cfg.bidirectional = g.bidirectional;
  cfg.batch_first = g.batch_first;
  cfg.dtype = g.dtype;
  cfg.memory_mode = g.mode;
  cfg.segment_steps = g.k;
  cfg.dropout = g.dropout;
  cfg.dropout_seed = 3;
  cfg.cell = g.cell;
  cfg.algorithm = algorithm;
  cfg.device = device;
  cfg.context = ExecutionContext(device);
  Lstm model(cfg);
  model.init_pytorch_default(11);
  std::mt19937_64 rng(5);
  const std::vector<std::int64_t> lengths =
      g.lengths ? std::vector<std::int64_t>{7, 2, 5, 1, 6} : std::vector<std::int64_t>{};
  const Shape seq = g.batch_first ? Shape{B, T, X} : Shape{T, B, X};
  const Shape out = g.batch_first ? Shape{B, T, D * H} : Shape{T, B, D * H};
  RunResult r;
  for (int it = 0; it < iterations; ++it) {
    auto tensor = [&](const Shape& shape) {
      return Tensor::from_vector(shape, random_values(shape_numel(shape), rng), g.dtype,
                                 *cfg.context);
    };
    const Tensor x = tensor(seq), dy = tensor(out);
    Tensor h0, c0, dhT, dcT;
    if (g.states) h0 = tensor({U, B, H}), c0 = tensor({U, B, H});
    if (g.states) dhT = tensor({U, B, H}), dcT = tensor({U, B, H});
    {
      model.set_training(true);
      ForwardResult f = model.forward(x, h0, c0, lengths);
      model.zero_grad();
      BackwardResult b = model.backward(f.context, dy, dhT, dcT);
      for (const Tensor* t : {&f.y, &f.hT, &f.cT, &b.dx, &b.dh0, &b.dc0}) {
        r.tensors.push_back(t->to_vector<double>());
      }
      for (const auto& name : model.parameter_names()) {
        r.tensors.push_back(model.gradient(name).to_vector<double>());
      }
    }
    {
      model.set_training(false);  // bidirectional: the forward's buffers, without dropout
      const InferenceResult inf = model.infer(x, h0, c0, lengths);
      r.tensors.push_back(inf.y.to_vector<double>());
      r.tensors.push_back(inf.hT.to_vector<double>());
    }
  }
  r.stats = detail::ModelAccess::impl(model).ops_f32
                ? detail::ModelAccess::impl(model).ops<float>().graph_stats()
                : detail::ModelAccess::impl(model).ops<double>().graph_stats();
  return r;
}

std::vector<GraphCase> graph_cases() {
  std::vector<GraphCase> cases;
  for (DType dtype : {DType::f32, DType::f64}) {
    GraphCase g;
    g.dtype = dtype;
    cases.push_back(g);
    g.L = 3, g.cell = CellActivation::identity, g.states = true;
    cases.push_back(g);
    g = GraphCase{};
    g.dtype = dtype, g.L = 2, g.bidirectional = true, g.batch_first = true, g.lengths = true;
    cases.push_back(g);
    g.mode = MemoryMode::recompute, g.k = 3, g.states = true;
    cases.push_back(g);
    g = GraphCase{};
    g.dtype = dtype, g.L = 3, g.dropout = 0.4, g.lengths = true, g.mode = MemoryMode::recompute;
    g.k = 2;
    cases.push_back(g);
  }
  return cases;
}

void check_graphs_equal_standard(const Device& device) {
  const int iterations = 5;
  for (const GraphCase& g : graph_cases()) {
    SCOPED_TRACE(g.str() + " on " + device.str());
    const RunResult standard = train(g, RecurrentAlgorithm::standard, iterations, device);
    const RunResult graphs = train(g, RecurrentAlgorithm::graphs, iterations, device);
    ASSERT_EQ(standard.tensors.size(), graphs.tensors.size());
    for (std::size_t i = 0; i < standard.tensors.size(); ++i) {
      EXPECT_EQ(graphs.tensors[i], standard.tensors[i]) << "tensor " << i;
    }
    // forward + backward + infer per step ran from the cache; at most kPerMethods graphs per
    // pass. Without dropout only the buffers of the first two steps differ (the first takes
    // fresh memory, later ones the arena's cached blocks, the same ones each step): every pass
    // after them replays. Dropout draws a new mask key per step, so its passes are updated.
    const ops::GraphStats& s = graphs.stats;
    std::printf("  %-66s captures %lld, updates %lld, replays %lld\n", g.str().c_str(),
                static_cast<long long>(s.captures), static_cast<long long>(s.updates),
                static_cast<long long>(s.replays));
    EXPECT_EQ(s.captures + s.updates + s.replays, 3 * iterations);
    EXPECT_LE(s.captures, 3 * static_cast<std::int64_t>(ops::GraphRunner<double>::kPerMethods));
    if (g.dropout > 0) {
      EXPECT_GE(s.updates, 1);
    } else {
      EXPECT_GE(s.replays, 3 * (iterations - 2));
    }
    EXPECT_EQ(s.evictions, 0);
    EXPECT_EQ(standard.stats.captures + standard.stats.updates + standard.stats.replays, 0);
  }
}

TEST(GraphsHost, SameBitsAsStandardAcrossRepeatedSteps) { check_graphs_equal_standard(Device::cpu()); }

// CUDA graphs replay the kernels and cuBLAS calls the standard algorithm launches (cuBLAS with
// its fixed workspace picks the same kernel when captured), so the bits match here too.
TEST(GraphsCuda, SameBitsAsStandardAcrossRepeatedSteps) {
  FUSELSTM_REQUIRE_GPU();
  check_graphs_equal_standard(Device::cuda(0));
}

TEST(GraphsCuda, SteadyTrainingLoopReplaysWithoutUpdates) {
  FUSELSTM_REQUIRE_GPU();
  GraphCase g;
  g.L = 2;
  const RunResult r = train(g, RecurrentAlgorithm::graphs, 6, Device::cuda(0));
  EXPECT_GE(r.stats.replays, 3 * 4);
}

TEST(GraphsHost, SteadyTrainingLoopReplaysWithoutUpdates) {
  // Without dropout nothing but buffer addresses can change between steps; the arena hands the
  // same blocks back to a loop of one shape (the lowest address of a size first), so from the
  // third step on the graphs replay as they are (what makes CUDA graphs pay: no capture and no
  // update per step).
  GraphCase g;
  g.L = 2;
  const RunResult r = train(g, RecurrentAlgorithm::graphs, 6);
  std::printf("  captures %lld, updates %lld, replays %lld\n",
              static_cast<long long>(r.stats.captures), static_cast<long long>(r.stats.updates),
              static_cast<long long>(r.stats.replays));
  EXPECT_GE(r.stats.replays, 3 * 4) << "steps 3-6 should replay every pass";
  EXPECT_LE(r.stats.updates, 2);
}

TEST(GraphsHost, AgreesWithTheReference) {
  AgreementOptions o;
  o.algorithm = RecurrentAlgorithm::graphs;
  std::uint64_t seed = 300;
  for (DType dtype : {DType::f64, DType::f32}) {
    o.dtype = dtype;
    o.tol = dtype == DType::f64 ? f64_tolerance() : f32_tolerance();
    for (const Case& c : agreement_cases()) {
      o.seed = seed++;
      check_agreement(c, o);
    }
  }
}

}  // namespace
}  // namespace fuselstm::testing
