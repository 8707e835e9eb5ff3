// Knowledge distillation: a student TrainableModel learns a teacher's output distribution.
//
//   Distiller d(teacher_prepared, {.alpha = 0.5f, .tau = 2.0f}, micro_batch, seq);
//   trainer.Step(inputs, targets, d.Loss(inputs, targets));   // train/trainer.h
//
// The teacher is any loaded model (any stored type: a quantized teacher is allowed and faster),
// run through the inference runtime (model/transformer.h InferenceSession) on each sequence of
// the micro-batch; its logits feed the fused loss of train/ops.h DistillForwardBackward:
// alpha · tau² · KL(teacher ‖ student) [or KL(student ‖ teacher) with reverse] + (1 - alpha) · CE.
// Only one micro-batch of teacher logits is held: (micro · seq, V) floats.
//
// With top-k (TopKTeacher.k > 0) the KL term reads only the teacher's k most probable tokens per
// position plus the rest bucket (train/topk_distill.h); with a cache (train/teacher_cache.h) the
// windows already in it are read instead of running the teacher, and the others are run, reduced
// to their top k and appended, so a run that writes the cache and one that reads it compute the
// same losses bit for bit (both read the stored values). Validation (Evaluate) always runs the
// teacher and reports the full-vocabulary KLD.
//
// Thread safety: none (one thread drives a Distiller; the teacher's products and the loss run on
// the kernel thread pool).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "model/model.h"
#include "model/prepared_model.h"
#include "model/transformer.h"
#include "train/ops.h"
#include "train/teacher_cache.h"
#include "train/trainable_model.h"
#include "train/trainer.h"

namespace shrink::train {

// Teacher and student must share a vocabulary: the same size and the same token texts. The
// error names the first differing id. Checked before any training starts.
Status CheckSameVocabulary(const Model& teacher, const Model& student);

// Held-out quality of the student against the teacher, over whole windows.
struct DistillEval {
  double ppl = 0.0;  // exp(mean cross-entropy of the student on the next token)
  double kld = 0.0;  // mean KL(teacher ‖ student) per token at temperature 1
  int64_t tokens = 0;
};

// The teacher as top-k rows: k = 0 is the full distribution; `cache` (optional, with k > 0) must
// have been opened with this k, the loss's tau and the Distiller's seq, and outlive the Distiller.
struct TopKTeacherOptions {
  int64_t k = 0;
  TeacherCache* cache = nullptr;
};

class Distiller {
 public:
  // REQUIRES: `teacher` outlives the Distiller; loss.tau > 0, loss.alpha in [0, 1]; seq no more
  // than the teacher's context; top-k: k <= V and loss.reverse false.
  Distiller(const PreparedModel& teacher, const DistillLoss& loss, int64_t micro_batch, int64_t seq,
            TopKTeacherOptions topk = {});

  // The loss of one Trainer step over (batch, seq) inputs and targets; the spans must outlive
  // the Step call. `windows` (batch): the data windows of the sequences (TokenBatches::Next),
  // needed with a cache only. After the step, last_kl()/last_ce() hold the step's mean KL and CE.
  Trainer::LossFn Loss(std::span<const int32_t> inputs, std::span<const int32_t> targets,
                       std::span<const int64_t> windows = {});
  // Top-k: windows read from the cache, and windows the teacher ran for, so far.
  int64_t cache_reads() const { return cache_reads_; }
  int64_t teacher_windows() const { return teacher_windows_; }
  double last_kl() const { return kl_sum_ / static_cast<double>(tokens_ ? tokens_ : 1); }
  double last_ce() const { return ce_sum_ / static_cast<double>(tokens_ ? tokens_ : 1); }

  // Student PPL and KLD vs the teacher over `windows` (W, seq + 1) tokens: inputs are the first
  // seq of each window, targets the last seq. Runs the student's forward pass only (its
  // gradients are untouched); requires the student to have been Reserve()d for micro_batch × seq.
  Result<DistillEval> Evaluate(TrainableModel& student, std::span<const int32_t> windows);

 private:
  // Teacher logits of `sequences` sequences of seq tokens into teacher_logits_.
  Status TeacherLogits(const int32_t* inputs, int64_t sequences);
  // Top-k rows of `sequences` sequences (of windows[0..sequences) with a cache) into ids_,
  // log_p_, log_rest_.
  Status TeacherTopKRows(const int32_t* inputs, const int64_t* windows, int64_t sequences);

  const PreparedModel& teacher_;
  DistillLoss loss_;
  int64_t micro_, seq_, vocab_;
  InferenceSession session_;
  std::vector<float> teacher_logits_;  // (micro · seq, V)
  std::vector<float> kl_rows_, ce_rows_;
  TopKTeacherOptions topk_;
  std::vector<int32_t> ids_;             // (micro · seq, k)
  std::vector<float> log_p_, log_rest_;  // (micro · seq, k), (micro · seq)
  int64_t cache_reads_ = 0, teacher_windows_ = 0;
  double kl_sum_ = 0.0, ce_sum_ = 0.0;
  int64_t tokens_ = 0;
};

}  // namespace shrink::train
