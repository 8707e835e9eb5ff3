#include "calib/calibration_run.h"

#include <algorithm>
#include <vector>

#include "base/check.h"

namespace shrink {

Result<CalibrationPlan> PlanCalibration(size_t n_tokens, int32_t n_ctx, int32_t max_chunks) {
  if (n_ctx < 1) return Status::Errorf("the context is {} tokens, expected at least 1", n_ctx);
  if (max_chunks == 0) return Status::Error("0 chunks requested: nothing to calibrate on");
  if (n_tokens < static_cast<size_t>(n_ctx)) {
    return Status::Errorf(
        "the text has {} tokens, fewer than one chunk: --ctx {} needs at least {} tokens", n_tokens,
        n_ctx, n_ctx);
  }
  const size_t available = n_tokens / static_cast<size_t>(n_ctx);
  CalibrationPlan plan;
  plan.n_ctx = n_ctx;
  plan.n_chunk =
      static_cast<int32_t>(max_chunks < 0 ? std::min<size_t>(available, INT32_MAX)
                                          : std::min(available, static_cast<size_t>(max_chunks)));
  return plan;
}

Status RunCalibration(InferenceSession& session, int32_t vocab_size,
                      std::span<const TokenId> tokens, const CalibrationPlan& plan,
                      const CalibrationOptions& options) {
  SHRINK_CHECK(plan.n_ctx >= 1 && plan.n_chunk >= 1 &&
               tokens.size() >= static_cast<size_t>(plan.n_ctx) * plan.n_chunk);
  const size_t n_ctx = static_cast<size_t>(plan.n_ctx);
  const int32_t first_logit_row = options.all_logits ? 0 : plan.n_ctx - 1;
  std::vector<TokenId> chunk(n_ctx);
  std::vector<float> logits(static_cast<size_t>(plan.n_ctx - first_logit_row) * vocab_size);
  for (int32_t c = 0; c < plan.n_chunk; ++c) {
    const std::span<const TokenId> src = tokens.subspan(c * n_ctx, n_ctx);
    std::copy(src.begin(), src.end(), chunk.begin());
    if (options.bos >= 0) chunk[0] = options.bos;
    session.Reset();
    SHRINK_RETURN_IF_ERROR(session.Evaluate(chunk, logits, first_logit_row)
                               .WithContext(fmt::format("chunk {} of {}", c + 1, plan.n_chunk)));
    if (options.on_chunk) options.on_chunk(c + 1);
  }
  return Status::Ok();
}

}  // namespace shrink
