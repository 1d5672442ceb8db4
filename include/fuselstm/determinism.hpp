#pragma once
// Determinism: what gives the same bits twice, and what does not. (Documentation only.)
//
// Guaranteed bitwise reproducible — the same build, the same device (same GPU model and CUDA /
// cuBLAS versions, or the same CPU and BLAS with the same thread count), the same inputs, seeds
// and call sequence give the same bits:
// - Lstm::forward / backward: fixed GEMM and step sequence, one stream, no atomics; bias
//   gradients are fixed-order column sums. This holds for MathMode::tf32 too (other values,
//   the same every run).
// - Linear::forward / backward: GEMMs and a fixed-order column sum.
// - MseLoss, CrossEntropyLoss: element/row kernels without atomics; the value is a fixed-order
//   sum in double (Ops::reduce: one block, fixed strides and tree on CUDA; sequential on the host).
// - Sgd, Adam, AdamW: one element-wise kernel per tensor; hyper-parameters in double on the host.
// - grad_norm / clip_grad_norm: per-tensor fixed-order sums in double, added on the host in list
//   order; clip_grad_value is element-wise. The non-finite guard only reads.
// - Inter-layer dropout: the mask is a pure function of (dropout_seed, stream position), Philox
//   counter-based: identical on the host and every GPU, independent of launch configuration.
//   The position advances with each training forward (Lstm::dropout_offset; save it to resume).
// - Initialisation (Lstm::init_uniform / init_pytorch_default, Linear, init_forget_gate_bias,
//   init_orthogonal_recurrent): drawn on the host from std::mt19937_64 with the library's own
//   conversions, so every device gets the same weights. Orthogonal init also depends on the
//   LAPACK (or plain C++) QR and libm's log/cos of the build: the same build gives the same bits.
//
// Not bitwise equal (close, within the test tolerances): the host against CUDA, two GPU models,
// two cuBLAS or BLAS versions or BLAS thread counts, f32 against f64, fp32 against tf32, and a
// different association of the same work (e.g. another batch size, or a sequence split in two
// forward calls).

namespace fuselstm {}
