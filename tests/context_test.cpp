// The execution context and its arena: steady state takes nothing from the system, borrowed streams
// are never destroyed, tensors handed between contexts give the right results.

#include "runtime/context_state.hpp"
#include "runtime/memory.hpp"
#include "train_test_util.hpp"

namespace fuselstm::testing {
namespace {

struct SteadyCase {
  const char* name;
  MemoryMode mode;
  bool bidirectional, batch_first, lengths, dropout;
};

// One training iteration of everything a loop touches: forward, head, loss, backward, clipping
// and an optimizer step, all on `ctx`.
struct TrainingLoop {
  TrainingLoop(const ExecutionContext& ctx, const SteadyCase& c)
      : config(make(ctx, c)),
        model(config),
        head(model, 5, 3),
        loss(LossOptions{}),
        opt(parameters_of(model, head), AdamOptions{}) {
    std::mt19937_64 rng(9);
    const Shape seq = c.batch_first ? Shape{B, T, X} : Shape{T, B, X};
    x = Tensor::from_vector(seq, random_values(T * B * X, rng), DType::f64, ctx);
    if (c.lengths) lengths = {T, 3, T - 1};
    targets.resize(static_cast<std::size_t>(T * B));
    for (std::size_t k = 0; k < targets.size(); ++k) targets[k] = static_cast<std::int64_t>(k % 5);
  }
  static LstmConfig make(const ExecutionContext& ctx, const SteadyCase& c) {
    LstmConfig cfg;
    cfg.input_size = X;
    cfg.hidden_size = 6;
    cfg.num_layers = 2;
    cfg.dtype = DType::f64;
    cfg.device = ctx.device();
    cfg.context = ctx;
    cfg.memory_mode = c.mode;
    cfg.segment_steps = 3;
    cfg.projection_steps = 3;
    cfg.bidirectional = c.bidirectional;
    cfg.batch_first = c.batch_first;
    cfg.dropout = c.dropout ? 0.25 : 0.0;
    return cfg;
  }
  void iterate() {
    ForwardResult f = model.forward(x, Tensor(), Tensor(), lengths);
    Tensor logits = head.forward(f.y);
    // Batch-first logits are [B, T, K]; the loss reads [T, B, K]: the same rows either way here,
    // which is all this test needs (it counts allocations, not values).
    LossResult r = loss(logits.clone().reshape({T, B, 5}), targets);
    model.zero_grad();
    head.zero_grad();
    Tensor dy = head.backward(f.y, std::move(r.grad).reshape(logits.shape()));
    model.backward(f.context, dy);
    clip_grad_norm(parameters_of(model, head), 1.0);
    opt.step();
  }
  static constexpr std::int64_t T = 7, B = 3, X = 4;
  LstmConfig config;
  Lstm model;
  Linear head;
  CrossEntropyLoss loss;
  Adam opt;
  Tensor x;
  std::vector<std::int64_t> lengths;
  std::vector<std::int64_t> targets;
};

TEST(Arena, SecondTrainingIterationTakesNothingFromTheSystem) {
  const SteadyCase cases[] = {
      {"store_all", MemoryMode::store_all, false, false, false, false},
      {"recompute", MemoryMode::recompute, false, false, false, false},
      {"bidirectional, lengths", MemoryMode::store_all, true, false, true, false},
      {"batch_first, recompute, dropout", MemoryMode::recompute, false, true, false, true},
  };
  for (const SteadyCase& c : cases) {
    const ExecutionContext ctx(Device::cpu());  // its own counters
    TrainingLoop loop(ctx, c);
    loop.iterate();
    const MemoryStats first = ctx.memory_stats();
    ASSERT_GT(first.system_allocations, 0) << c.name;
    for (int k = 0; k < 3; ++k) loop.iterate();
    const MemoryStats later = ctx.memory_stats();
    EXPECT_EQ(later.system_allocations, first.system_allocations) << c.name;
    EXPECT_GT(later.allocations, first.allocations) << c.name << ": the arena served them";
    EXPECT_EQ(later.reserved_bytes, first.reserved_bytes) << c.name;
    EXPECT_EQ(later.current_bytes, first.current_bytes) << c.name << ": nothing leaked";
  }
}

TEST(Arena, StepTakesNothingFromTheSystemAfterTheFirst) {
  const ExecutionContext ctx(Device::cpu());
  LstmConfig cfg;
  cfg.input_size = 5;
  cfg.hidden_size = 7;
  cfg.num_layers = 2;
  cfg.device = Device::cpu();
  cfg.context = ctx;
  Lstm model(cfg);
  std::mt19937_64 rng(4);
  const Tensor x = Tensor::from_vector({3, 5}, random_values(15, rng), DType::f32, ctx);
  Tensor h, c;  // undefined: the first step starts from zeros
  model.step(x, h, c);
  model.step(x, h, c);
  const std::int64_t after_two = ctx.memory_stats().system_allocations;
  for (int k = 0; k < 20; ++k) model.step(x, h, c);
  EXPECT_EQ(ctx.memory_stats().system_allocations, after_two);
}

TEST(Arena, StepFromUndefinedStateEqualsStepFromZeros) {
  LstmConfig cfg;
  cfg.input_size = 4;
  cfg.hidden_size = 3;
  cfg.num_layers = 2;
  cfg.dtype = DType::f64;
  Lstm model(cfg);
  std::mt19937_64 rng(5);
  const Tensor x = Tensor::from_vector({2, 4}, random_values(8, rng), DType::f64);
  Tensor h, c;
  Tensor h0 = Tensor::zeros({2, 2, 3}, DType::f64), c0 = Tensor::zeros({2, 2, 3}, DType::f64);
  EXPECT_EQ(model.step(x, h, c).to_vector<double>(), model.step(x, h0, c0).to_vector<double>());
  EXPECT_EQ(h.to_vector<double>(), h0.to_vector<double>());
  EXPECT_EQ(c.to_vector<double>(), c0.to_vector<double>());
}

TEST(Arena, CachedBlocksAreReusedAndReleasedOnRequest) {
  const ExecutionContext ctx(Device::cpu());
  { Tensor a = Tensor::empty({1000}, DType::f64, ctx); }
  MemoryStats s = ctx.memory_stats();
  EXPECT_EQ(s.current_bytes, 0);
  EXPECT_GE(s.reserved_bytes, 8000);                      // cached
  { Tensor b = Tensor::empty({1200}, DType::f32, ctx); }  // 4800 B: served by the 8000 B block
  EXPECT_EQ(ctx.memory_stats().system_allocations, 1);
  { Tensor s = Tensor::empty({100}, DType::f32, ctx); }  // 400 B: would waste over half the block
  EXPECT_EQ(ctx.memory_stats().system_allocations, 2);
  { Tensor c = Tensor::empty({5000}, DType::f64, ctx); }  // larger: from the system
  EXPECT_EQ(ctx.memory_stats().system_allocations, 3);
  ExecutionContext(ctx).release_cached_memory();  // a copy is the same context
  s = ctx.memory_stats();
  EXPECT_EQ(s.reserved_bytes, 0);
  EXPECT_EQ(s.current_bytes, 0);
}

TEST(Context, TensorsRememberTheirContextAndCopiesCrossContexts) {
  const ExecutionContext a(Device::cpu()), b(Device::cpu());
  EXPECT_NE(a, b);
  EXPECT_EQ(a, ExecutionContext(a));
  EXPECT_EQ(ExecutionContext::default_for(Device::cpu()),
            ExecutionContext::default_for(Device::cpu()));
  const Tensor t = Tensor::from_vector({3}, std::vector<double>{1, 2, 3}, DType::f32, a);
  EXPECT_EQ(t.context(), a);
  EXPECT_EQ(a.memory_stats().current_bytes, 12);
  const Tensor u = t.to(b);
  EXPECT_EQ(u.context(), b);
  EXPECT_EQ(u.to_vector<double>(), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(Tensor().context(), ExecutionContext::default_for(Device::cpu()));
}

TEST(Context, ModelsOnTwoContextsHandTensorsToEachOther) {
  // Layer 1 of a stack, run as two one-layer models on two contexts, equals the two-layer model.
  const ExecutionContext a(Device::cpu()), b(Device::cpu());
  LstmConfig two;
  two.input_size = 4;
  two.hidden_size = 5;
  two.num_layers = 2;
  two.dtype = DType::f64;
  Lstm stack(two);
  LstmConfig first = two, second = two;
  first.num_layers = second.num_layers = 1;
  first.context = a;
  second.context = b;
  second.input_size = 5;
  Lstm bottom(first), top(second);
  for (const char* kind : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
    bottom.parameter(std::string(kind) + "_l0")
        .assign(stack.parameter(std::string(kind) + "_l0").to_vector<double>());
    top.parameter(std::string(kind) + "_l0")
        .assign(stack.parameter(std::string(kind) + "_l1").to_vector<double>());
  }
  std::mt19937_64 rng(6);
  const Tensor x = Tensor::from_vector({6, 2, 4}, random_values(48, rng), DType::f64, a);
  const ForwardResult whole = stack.forward(x);
  const ForwardResult lower = bottom.forward(x);
  const ForwardResult upper = top.forward(lower.y);  // a tensor of context a into context b
  EXPECT_EQ(upper.y.context(), b);
  EXPECT_EQ(upper.y.to_vector<double>(), whole.y.to_vector<double>());
}

// --- CUDA (skip without a GPU) ----------------------------------------------------------------

TEST(ContextCuda, BorrowedStreamIsNeverDestroyed) {
  FUSELSTM_REQUIRE_GPU();
  void* stream = detail::cuda_runtime::create_stream(0);
  {
    const ExecutionContext ctx = ExecutionContext::borrow_stream(Device::cuda(0), stream);
    EXPECT_EQ(ctx.cuda_stream(), stream);
    Tensor t = Tensor::zeros({1000}, DType::f32, ctx);
    t.fill(2.0);
    EXPECT_EQ(t.to_vector<float>()[999], 2.0f);
  }
  // Still a live stream: work queues and completes on it.
  EXPECT_NO_THROW(detail::cuda_runtime::synchronize(0, stream));
  EXPECT_NO_THROW(detail::cuda_runtime::memset_async(0, nullptr, 0, 0, stream));
  detail::cuda_runtime::destroy_stream(0, stream);
}

TEST(ContextCuda, SecondTrainingIterationTakesNothingFromTheSystem) {
  FUSELSTM_REQUIRE_GPU();
  const ExecutionContext ctx(Device::cuda(0));
  TrainingLoop loop(ctx, {"cuda", MemoryMode::store_all, true, false, true, true});
  loop.iterate();
  const std::int64_t first = ctx.memory_stats().system_allocations;
  for (int k = 0; k < 3; ++k) loop.iterate();
  EXPECT_EQ(ctx.memory_stats().system_allocations, first);
}

TEST(ContextCuda, ModelsOnTwoStreamsHandTensorsToEachOther) {
  FUSELSTM_REQUIRE_GPU();
  const ExecutionContext a(Device::cuda(0)), b(Device::cuda(0));
  ASSERT_NE(a.cuda_stream(), b.cuda_stream());
  LstmConfig cfg;
  cfg.input_size = 64;
  cfg.hidden_size = 64;
  cfg.dtype = DType::f64;
  cfg.device = Device::cuda(0);
  Lstm reference_model(cfg);
  cfg.context = a;
  Lstm on_a(cfg);
  cfg.context = b;
  Lstm on_b(cfg);
  for (const std::string& name : reference_model.parameter_names()) {
    const std::vector<double> v = reference_model.parameter(name).to_vector<double>();
    on_a.parameter(name).assign(v);
    on_b.parameter(name).assign(v);
  }
  std::mt19937_64 rng(8);
  const Tensor x =
      Tensor::from_vector({200, 8, 64}, random_values(200 * 8 * 64, rng), DType::f64, a);
  const ForwardResult want = reference_model.forward(reference_model.forward(x).y);
  // The second model reads a's output while a's stream may still be writing it (kept alive until
  // b's work is done, as the stream contract asks).
  const ForwardResult lower = on_a.forward(x);
  const ForwardResult got = on_b.forward(lower.y);
  EXPECT_EQ(got.y.to_vector<double>(), want.y.to_vector<double>());
}

}  // namespace
}  // namespace fuselstm::testing
