#pragma once
// fuselstm: training LSTMs with backpropagation through time, on CUDA GPUs and on the CPU.
//
// Conventions, stated once for every header:
// - Shape letters: T time steps, B batch, X input features, H hidden units (memory cells),
//   L stacked layers, G = 4H gate pre-activations in PyTorch's order i, f, g, o.
// - Tensors are contiguous and row-major; sequences are [T, B, F] (time-major, as cuDNN and
//   PyTorch's default); states are [L, B, H]. Shapes in brackets in the docs are exact.
// - Work runs on an ExecutionContext (context.hpp): a device, one stream, a caching arena. Every
//   tensor remembers the context it was made on; naming only a Device uses its default context.
//   Every tensor a model takes or returns lives on the model's device (LstmConfig::device); a
//   tensor on another device is rejected with ShapeError. Copies between host and device happen
//   only in Tensor::to / to_vector / assign / from_vector. Raw pointers of a CUDA tensor
//   (data()) are device memory; calls return once their work is queued (context.hpp says when
//   results may be read).
// - An undefined Tensor (Tensor()) means "not given": zeros for h0, c0, dy, dhT, dcT.
// - Errors are exceptions derived from fuselstm::Error (error.hpp), naming the argument and the
//   expected and actual values; a failed call changes nothing.
// - A model is used by one thread at a time. Results are deterministic on a given device.
// - docs/DETERMINISM.md lists which operations guarantee bitwise reproducibility, and on what.

#include "fuselstm/clip.hpp"
#include "fuselstm/checkpoint.hpp"
#include "fuselstm/config.hpp"
#include "fuselstm/context.hpp"
#include "fuselstm/device.hpp"
#include "fuselstm/embedding.hpp"
#include "fuselstm/error.hpp"
#include "fuselstm/guard.hpp"
#include "fuselstm/head.hpp"
#include "fuselstm/init.hpp"
#include "fuselstm/loss.hpp"
#include "fuselstm/io.hpp"
#include "fuselstm/last_step.hpp"
#include "fuselstm/lstm.hpp"
#include "fuselstm/mlp.hpp"
#include "fuselstm/optim.hpp"
#include "fuselstm/parameter_names.hpp"
#include "fuselstm/parameters.hpp"
#include "fuselstm/schedule.hpp"
#include "fuselstm/tensor.hpp"
#include "fuselstm/version.hpp"
