// Training ops: every forward op has a backward op with the same argument order (llm.c style).
//
// Conventions for every pair below:
//   - Shapes in comments are row-major, the last dimension contiguous: x: (N, C) is N rows of C.
//     N counts tokens (batch × sequence), C the width of a row.
//   - A backward op takes the gradients it produces first (d-prefixed), then the gradient of the
//     forward output (`dout`), then whatever forward inputs and saved results it needs.
//   - Backward ops ACCUMULATE (+=) into every gradient they write, weights and inputs alike: a
//     tensor used twice (the residual stream, tied embeddings, the norm input feeding q/k/v) gets
//     the sum of its uses without extra buffers; callers zero gradients before a step.
//   - All arithmetic is F32 with F32 accumulation, except reductions over a row (RMS, softmax
//     sums, the loss), which accumulate in F64 so that their rounding does not grow with C or V
//     (docs/numerics.md).
// The scalar loops here are the reference; the matrix products go through OpenBLAS sgemm, and
// attention and the per-row ops run on the kernel thread pool (kernels/kernel_threads.h).
#pragma once

#include <cstdint>

#include "kernels/activation.h"
#include "kernels/rope.h"

namespace shrink::train {

// Token embedding, scaled: out[n] = scale · wte[tokens[n]].
//   out: (N, C), tokens: (N) in [0, V), wte: (V, C).
void EmbeddingForward(float* out, const int32_t* tokens, const float* wte, int64_t N, int64_t C,
                      float scale);
void EmbeddingBackward(float* dwte, const float* dout, const int32_t* tokens, int64_t N, int64_t C,
                       float scale);

// RMSNorm: out = x · rstd · w with rstd = 1/sqrt(mean(x²) + eps), per row. rstd is saved.
//   out, x: (N, C), w: (C), rstd: (N).
void RmsNormForward(float* out, float* rstd, const float* x, const float* w, int64_t N, int64_t C,
                    float eps);
void RmsNormBackward(float* dx, float* dw, const float* dout, const float* x, const float* w,
                     const float* rstd, int64_t N, int64_t C);

// Linear without bias: out = x · Wᵀ.   out: (N, OC), x: (N, C), W: (OC, C).
// Backward: dx += dout · W, dW += doutᵀ · x (two sgemms).
void LinearForward(float* out, const float* x, const float* W, int64_t N, int64_t C, int64_t OC);
void LinearBackward(float* dx, float* dW, const float* dout, const float* x, const float* W,
                    int64_t N, int64_t C, int64_t OC);

// RoPE over rows of heads, row n at position positions[n] (kernels/rope.h gives the rotation and
// both pair orderings). Not in place: out and x are different buffers.
//   out, x: (N, n_heads, head_dim), positions: (N).
// The rotation is orthogonal, so the backward op rotates dout by the opposite angle.
void RopeForward(float* out, const float* x, const int32_t* positions, int64_t N,
                 const RopeParams& p);
void RopeBackward(float* dx, const float* dout, const int32_t* positions, int64_t N,
                  const RopeParams& p);

struct AttentionShape {
  int64_t B = 0, T = 0;  // sequences, positions per sequence
  int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
  float scale = 0.0f;          // scores × scale (1/√head_dim usually)
  int64_t sliding_window = 0;  // > 0: query t attends to keys t - window < s <= t only
};
// Causal grouped-query attention within each of B sequences: query head h reads key/value head
// h / (n_heads / n_kv_heads). probs are the softmax weights, saved for the backward op.
//   out, q: (B, T, n_heads·head_dim), k, v: (B, T, n_kv_heads·head_dim),
//   probs: (B, n_heads, T, T) (entries above the diagonal are written 0).
void AttentionForward(float* out, float* probs, const float* q, const float* k, const float* v,
                      const AttentionShape& s);
void AttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* probs,
                       const float* q, const float* k, const float* v, const AttentionShape& s);

// Gated feed-forward activation: out = act(gate) · up (SiLU or GELU-tanh, kernels/activation.h).
//   out, gate, up: (n).
void GluForward(float* out, const float* gate, const float* up, int64_t n, Activation act);
void GluBackward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                 int64_t n, Activation act);

// Final logit soft-capping (Gemma): out = cap · tanh(x / cap), d/dx = 1 - tanh²(x / cap).
// The backward op takes the forward INPUT x (the output buffer holds the loss gradient by then)
// and, unlike the others, ASSIGNS dx = dout · (1 - tanh²(x / cap)) so that dx may alias dout: the
// (N, V) logits gradient is transformed in place.   out, x, dx, dout: (n).
void SoftcapForward(float* out, const float* x, int64_t n, float cap);
void SoftcapBackward(float* dx, const float* dout, const float* x, int64_t n, float cap);

// Softmax cross-entropy, fused with its backward: per row n, loss[n] = logsumexp(z_n) - z_n[y_n];
// then z is overwritten with dz = grad_scale · (softmax(z_n) - onehot(y_n)) (what a loss of
// grad_scale · Σ_n loss[n] gives). Returns Σ_n loss[n] (F64).
//   z: (N, V), targets: (N) in [0, V), losses: (N).
double CrossEntropyForwardBackward(float* z, float* losses, const int32_t* targets, int64_t N,
                                   int64_t V, float grad_scale);

// Distillation loss KL(teacher ‖ student) at temperature tau, scaled by tau² (Hinton et al.):
//   p = softmax(t_n / tau), q = softmax(z_n / tau), loss[n] = tau² · Σ_v p_v (log p_v - log q_v).
// z is overwritten with dz = grad_scale · tau · (q - p) (the gradient of grad_scale · Σ loss).
// Returns Σ_n loss[n] (F64).   z, teacher: (N, V), losses: (N).
double KlDivergenceForwardBackward(float* z, float* losses, const float* teacher, int64_t N,
                                   int64_t V, float tau, float grad_scale);

// The distillation loss, fused: per row n, with p = softmax(t_n / tau) (teacher) and
// q = softmax(z_n / tau) (student),
//   kl[n] = tau² · KL(p ‖ q) = tau² Σ_v p_v (log p_v - log q_v)            (forward KL), or
//   kl[n] = tau² · KL(q ‖ p) = tau² Σ_v q_v (log q_v - log p_v)            (reverse: mode seeking)
//   ce[n] = logsumexp(z_n) - z_n[y_n]                                       (at temperature 1)
// and the row's loss is alpha · kl[n] + (1 - alpha) · ce[n]. z is overwritten with
// grad_scale · d(loss)/dz:
//   forward KL:  tau · (q - p);   reverse KL:  tau · q_v · (log q_v - log p_v - KL(q ‖ p));
//   CE: softmax(z) - onehot(y).
// alpha = 1 needs no targets (nullptr allowed). Returns Σ_n kl[n] and Σ_n ce[n] (F64), unweighted.
//   z, teacher: (N, V), targets: (N) in [0, V) or nullptr, kl, ce: (N).
struct DistillLoss {
  float alpha = 0.5f;  // weight of the KL term; 1 - alpha weighs the cross-entropy
  float tau = 1.0f;    // temperature (> 0)
  bool reverse = false;
};
struct DistillLossSums {
  double kl = 0.0, ce = 0.0;
};
// Σ_n kl[n] and Σ_n ce[n] in F64, in row order (the per-row losses the distillation ops write).
DistillLossSums SumDistillLosses(const float* kl, const float* ce, int64_t N);
DistillLossSums DistillForwardBackward(float* z, float* kl, float* ce, const float* teacher,
                                       const int32_t* targets, int64_t N, int64_t V,
                                       const DistillLoss& loss, float grad_scale);

}  // namespace shrink::train
