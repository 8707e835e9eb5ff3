// Distillation from the teacher's top-k tokens: the teacher's distribution at temperature tau
// reduced to its k most probable tokens plus one "rest" bucket, small enough to keep on disk
// (train/teacher_cache.h) instead of the (N, V) logits.
//
// Per row n the teacher gives, at temperature tau,
//   S = its k most probable token ids (descending; equal logits: the lower id first),
//   log p_i for i in S (normalized over the WHOLE vocabulary, not over S),
//   log P_R = log Σ_{v ∉ S} p_v  (-inf when S is the whole vocabulary),
// and the loss compares the two (k + 1)-bucket distributions, scaled by tau² like the full KL:
//   kl[n] = tau² · ( Σ_{i ∈ S} p_i (log p_i - log q_i) + P_R (log P_R - log Q_R) ),
// with q = softmax(z_n / tau) (the student) and Q_R = Σ_{v ∉ S} q_v summed directly (not 1 - Σ_S q,
// which cancels). With k = V the rest bucket is empty and kl is the full KL(p ‖ q) of
// train/ops.h DistillForwardBackward (to the F32 rounding of the stored log p). The bucketed KL
// is at most the full one (log-sum inequality) and is 0 exactly when q matches p on S and on
// the rest's total.
//
// Gradient (m = Σ_{i ∈ S} p_i + P_R, 1 up to rounding):
//   d kl[n] / d z_v = tau · (m q_v - p_v)                for v in S,
//                   = tau · q_v (m - P_R / Q_R)          for v not in S.
// Q_R is floored at the smallest normal double so that a student putting no representable mass
// outside S gives a large finite loss instead of inf.
#pragma once

#include <cstdint>

#include "train/ops.h"

namespace shrink::train {

// The teacher's top-k rows, N rows of k (views; the owner keeps the storage).
struct TeacherTopK {
  int64_t k = 0;
  const int32_t* ids = nullptr;     // (N, k) in [0, V)
  const float* log_p = nullptr;     // (N, k)
  const float* log_rest = nullptr;  // (N)
};

// Selects each row's top k of `logits` (N, V) at temperature tau into ids (N, k), log_p (N, k)
// and log_rest (N), as defined above. Rows run on the kernel thread pool; results do not depend
// on the thread count. REQUIRES: 1 <= k <= V, tau > 0, finite logits.
void SelectTeacherTopK(const float* logits, int64_t N, int64_t V, float tau, int64_t k,
                       int32_t* ids, float* log_p, float* log_rest);

// The fused distillation loss of train/ops.h DistillForwardBackward with the top-k teacher:
// per row alpha · kl[n] (above) + (1 - alpha) · ce[n] (cross-entropy at temperature 1), z (N, V)
// overwritten with grad_scale · d(loss)/dz. Forward KL only (loss.reverse must be false: the
// reverse KL needs the teacher's probability of every token the student favours). Returns the
// unweighted sums of kl and ce (F64). targets may be nullptr when alpha = 1.
DistillLossSums TopKDistillForwardBackward(float* z, float* kl, float* ce,
                                           const TeacherTopK& teacher, const int32_t* targets,
                                           int64_t N, int64_t V, const DistillLoss& loss,
                                           float grad_scale);

}  // namespace shrink::train
