#include "train/distill.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "base/check.h"
#include "train/topk_distill.h"

namespace shrink::train {

Status CheckSameVocabulary(const Model& teacher, const Model& student) {
  const int64_t vt = teacher.config.vocab_size, vs = student.config.vocab_size;
  if (vt != vs) {
    return Status::Errorf(
        "the teacher has a vocabulary of {} tokens and the student {}: distillation compares "
        "their distributions token by token, so they need the same vocabulary",
        vt, vs);
  }
  if (teacher.tokenizer == nullptr || student.tokenizer == nullptr) return Status::Ok();
  for (int32_t id = 0; id < teacher.tokenizer->vocab_size(); ++id) {
    const std::string a = teacher.tokenizer->TokenToPiece(id, /*render_special=*/true);
    const std::string b = student.tokenizer->TokenToPiece(id, /*render_special=*/true);
    if (a != b) {
      return Status::Errorf(
          "the teacher's and the student's vocabularies differ at token {} (\"{}\" vs \"{}\"): "
          "distillation needs the same vocabulary",
          id, a, b);
    }
  }
  return Status::Ok();
}

Distiller::Distiller(const PreparedModel& teacher, const DistillLoss& loss, int64_t micro_batch,
                     int64_t seq, TopKTeacherOptions topk)
    : teacher_(teacher),
      loss_(loss),
      micro_(micro_batch),
      seq_(seq),
      vocab_(teacher.config().vocab_size),
      session_(teacher, static_cast<int32_t>(seq)),
      teacher_logits_(static_cast<size_t>(micro_batch * seq * vocab_)),
      kl_rows_(static_cast<size_t>(micro_batch * seq)),
      ce_rows_(kl_rows_.size()),
      topk_(topk),
      ids_(static_cast<size_t>(micro_batch * seq * topk.k)),
      log_p_(ids_.size()),
      log_rest_(topk.k > 0 ? kl_rows_.size() : 0) {
  SHRINK_CHECK(topk.k >= 0 && topk.k <= vocab_ && (topk.k == 0 || !loss.reverse));
  SHRINK_CHECK(topk.cache == nullptr || topk.k > 0);
}

Status Distiller::TeacherLogits(const int32_t* inputs, int64_t sequences) {
  for (int64_t b = 0; b < sequences; ++b) {
    session_.Reset();
    const size_t rows = static_cast<size_t>(seq_);
    SHRINK_RETURN_IF_ERROR(session_.Evaluate(
        std::span<const TokenId>(inputs + b * seq_, rows),
        std::span<float>(teacher_logits_.data() + b * seq_ * vocab_, rows * vocab_)));
  }
  return Status::Ok();
}

Status Distiller::TeacherTopKRows(const int32_t* inputs, const int64_t* windows,
                                  int64_t sequences) {
  const int64_t k = topk_.k;
  for (int64_t b = 0; b < sequences; ++b) {
    const std::span<const int32_t> tokens(inputs + b * seq_, static_cast<size_t>(seq_));
    int32_t* ids = ids_.data() + b * seq_ * k;
    float* log_p = log_p_.data() + b * seq_ * k;
    float* log_rest = log_rest_.data() + b * seq_;
    if (topk_.cache != nullptr && topk_.cache->Has(windows[b])) {
      SHRINK_RETURN_IF_ERROR(topk_.cache->Read(windows[b], tokens, ids, log_p, log_rest));
      ++cache_reads_;
      continue;
    }
    SHRINK_RETURN_IF_ERROR(TeacherLogits(tokens.data(), 1));
    SelectTeacherTopK(teacher_logits_.data(), seq_, vocab_, loss_.tau, k, ids, log_p, log_rest);
    ++teacher_windows_;
    if (topk_.cache != nullptr) {
      SHRINK_RETURN_IF_ERROR(topk_.cache->Append(windows[b], tokens, ids, log_p, log_rest));
    }
  }
  return Status::Ok();
}

Trainer::LossFn Distiller::Loss(std::span<const int32_t> inputs, std::span<const int32_t> targets,
                                std::span<const int64_t> windows) {
  SHRINK_CHECK(topk_.cache == nullptr ||
               static_cast<int64_t>(windows.size()) * seq_ == static_cast<int64_t>(inputs.size()));
  kl_sum_ = ce_sum_ = 0.0;
  tokens_ = 0;
  return [this, inputs, targets, windows](TrainableModel& student, int64_t first, int64_t sequences,
                                          float grad_scale) -> Result<double> {
    const int64_t rows = sequences * seq_;
    const int32_t* in = inputs.data() + first * seq_;
    const int32_t* tg = targets.data() + first * seq_;
    DistillLossSums s;
    if (topk_.k > 0) {
      SHRINK_RETURN_IF_ERROR(
          TeacherTopKRows(in, windows.empty() ? nullptr : windows.data() + first, sequences));
      const TeacherTopK teacher{
          .k = topk_.k, .ids = ids_.data(), .log_p = log_p_.data(), .log_rest = log_rest_.data()};
      s = TopKDistillForwardBackward(student.logits().data(), kl_rows_.data(), ce_rows_.data(),
                                     teacher, tg, rows, vocab_, loss_, grad_scale);
    } else {
      SHRINK_RETURN_IF_ERROR(TeacherLogits(in, sequences));
      s = DistillForwardBackward(student.logits().data(), kl_rows_.data(), ce_rows_.data(),
                                 teacher_logits_.data(), tg, rows, vocab_, loss_, grad_scale);
    }
    kl_sum_ += s.kl;
    ce_sum_ += s.ce;
    tokens_ += rows;
    return loss_.alpha * s.kl + (1.0 - loss_.alpha) * s.ce;
  };
}

Result<DistillEval> Distiller::Evaluate(TrainableModel& student, std::span<const int32_t> windows) {
  const int64_t W = static_cast<int64_t>(windows.size()) / (seq_ + 1);
  std::vector<int32_t> inputs(static_cast<size_t>(micro_ * seq_)), targets(inputs.size());
  double kl = 0.0, ce = 0.0;
  for (int64_t w0 = 0; w0 < W; w0 += micro_) {
    const int64_t n = std::min(micro_, W - w0);
    for (int64_t b = 0; b < n; ++b) {
      const int32_t* win = windows.data() + (w0 + b) * (seq_ + 1);
      std::copy(win, win + seq_, inputs.begin() + b * seq_);
      std::copy(win + 1, win + seq_ + 1, targets.begin() + b * seq_);
    }
    SHRINK_RETURN_IF_ERROR(student.CheckTokens({inputs.data(), static_cast<size_t>(n * seq_)}));
    SHRINK_RETURN_IF_ERROR(student.CheckTokens({targets.data(), static_cast<size_t>(n * seq_)}));
    SHRINK_RETURN_IF_ERROR(TeacherLogits(inputs.data(), n));
    student.Forward(inputs.data(), n, seq_);
    // alpha 0.5 so that both terms are computed; the gradient written into the logits is unused.
    const DistillLossSums s = DistillForwardBackward(
        student.logits().data(), kl_rows_.data(), ce_rows_.data(), teacher_logits_.data(),
        targets.data(), n * seq_, vocab_, {.alpha = 0.5f, .tau = 1.0f}, 0.0f);
    kl += s.kl;
    ce += s.ce;
  }
  DistillEval e;
  e.tokens = W * seq_;
  if (e.tokens == 0) return Status::Errorf("no validation window of {} tokens", seq_ + 1);
  e.ppl = std::exp(ce / static_cast<double>(e.tokens));
  e.kld = kl / static_cast<double>(e.tokens);
  return e;
}

}  // namespace shrink::train
