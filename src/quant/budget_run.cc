#include "quant/budget_run.h"

#include <fmt/format.h>

#include <cmath>

#include "calib/linear_input.h"
#include "model/tensor_table.h"
#include "quant/importance.h"

namespace shrink {
namespace {

// The imatrix entry that weighs `t`: the output projection's input is "output.weight" also when
// token_embd doubles as the output (tied embeddings).
std::string EntryName(const TensorView& t, const Config& config) {
  if (t.role == TensorRole::kTokenEmbd && config.tied_embeddings) return "output.weight";
  return t.name;
}

// The mean over every entry's per-column mean x²: the uniform weight of matrices without an entry.
double MeanImportance(const ImatrixData& imatrix) {
  double sum = 0.0;
  int64_t n = 0;
  for (const auto& [name, e] : imatrix.tensors) {
    for (float v : MeanSquares(imatrix.format, e)) {
      sum += v;
      ++n;
    }
  }
  return n > 0 && sum > 0.0 ? sum / static_cast<double>(n) : 1.0;
}

// The whole-plan choice where every matrix takes its fewest bytes.
BudgetSolution SmallestChoice(std::span<const TensorSensitivity> s) {
  BudgetSolution out;
  for (const TensorSensitivity& t : s) {
    int best = 0;
    for (size_t c = 1; c < t.candidates.size(); ++c) {
      if (t.candidates[c].bytes < t.candidates[best].bytes) best = static_cast<int>(c);
    }
    out.choice.push_back(best);
    out.bytes += t.candidates[best].bytes;
  }
  return out;
}

}  // namespace

Result<BudgetOutcome> PlanForBudget(const Config& config,
                                    std::span<const TensorView* const> tensors,
                                    const BudgetRequest& request) {
  const bool by_size = request.target_file_bytes > 0;
  for (const auto& [role, factor] : request.role_scales) {
    bool known = false;
    for (const TensorSpec& spec : TensorTable()) known |= spec.name == role;
    if (!known || !(factor > 0.0 && std::isfinite(factor))) {
      return Status::Errorf(
          "--budget-role-scale {}={}: expected a tensor role (attn_q, attn_k, attn_v, "
          "attn_output, ffn_gate, ffn_up, ffn_down, token_embd, output) and a factor > 0",
          role, factor);
    }
  }
  BudgetOutcome out;
  std::vector<std::vector<float>> importance;
  std::vector<SensitivityInput> inputs;
  const double uniform = request.imatrix != nullptr ? MeanImportance(*request.imatrix) : 1.0;
  int64_t elements = 0, misfit_256 = 0;
  importance.reserve(tensors.size());
  for (const TensorView* t : tensors) {
    elements += t->element_count();
    if (t->shape.size() < 2) {
      out.fixed_bytes += static_cast<uint64_t>(t->element_count()) * 4;
      continue;
    }
    misfit_256 += t->cols() % 256 != 0 ? 1 : 0;
    std::vector<float> w;
    if (request.imatrix != nullptr) {
      SHRINK_ASSIGN_OR_RETURN(
          w, ImportanceFor(*request.imatrix, request.imatrix_path, *t, EntryName(*t, config)));
      if (w.empty() && SpecOf(t->role).linear && BlockLinears(t->layer, t->role)) {
        return Status::Errorf(
            "{}: no entry for '{}', a linear input the budget must weigh (the imatrix has {} "
            "entries: is it from another model?)",
            request.imatrix_path, t->name, request.imatrix->tensors.size());
      }
    }
    out.weighted += w.empty() ? 0 : 1;
    importance.push_back(std::move(w));
    // quantize --imatrix encodes with an entry of the tensor's own name only (AttachImatrix).
    double role_scale = 1.0;
    for (const auto& [role, factor] : request.role_scales) {
      if (role == TensorRoleName(t->role)) role_scale = factor;
    }
    inputs.push_back({t, importance.back(), uniform, EntryName(*t, config) == t->name, role_scale});
  }
  // Byte sizes do not depend on the losses: check the minimum before measuring anything.
  for (const SensitivityInput& in : inputs) {
    TensorSensitivity bytes_only;
    bytes_only.tensor = in.tensor;
    const std::vector<TensorType> types =
        CandidateTypes(in.tensor->cols(), request.sensitivity.allowed);
    if (types.empty()) {
      return Status::Errorf("{}: none of the --budget-types fits its rows of {}", in.tensor->name,
                            in.tensor->cols());
    }
    for (TensorType type : types) {
      const uint64_t row = static_cast<uint64_t>(*RowBytes(type, in.tensor->cols()));
      bytes_only.candidates.push_back(
          {type, row * static_cast<uint64_t>(in.tensor->element_count() / in.tensor->cols()), 0.0});
    }
    out.sensitivities.push_back(std::move(bytes_only));
  }

  const auto bpw_of = [&](uint64_t bytes) {
    return 8.0 * static_cast<double>(bytes) / static_cast<double>(elements);
  };
  // Bytes outside the tensor data (header, metadata, alignment), from the smallest plan.
  uint64_t overhead = 0;
  const BudgetSolution smallest = SmallestChoice(out.sensitivities);
  QuantMix scratch_mix;
  if (by_size) {
    QuantPlan p = BudgetPlan(config, tensors, out.sensitivities, smallest,
                             request.imatrix != nullptr, scratch_mix);
    SHRINK_ASSIGN_OR_RETURN(const uint64_t file, request.file_size(p));
    overhead = file - p.tensor_bytes();
    if (request.target_file_bytes < file) {
      return Status::Errorf(
          "--target-size {} bytes is below the smallest file this model can have: {} bytes "
          "({:.2f} MB, {:.3f} bits per weight) with every matrix at its smallest type ({} of the "
          "matrices have rows that are not a multiple of 256, so no k-quant fits them and their "
          "smallest type is a block-32 one)",
          request.target_file_bytes, file, static_cast<double>(file) / 1e6,
          bpw_of(p.tensor_bytes()), misfit_256);
    }
  } else {
    const uint64_t least = smallest.bytes + out.fixed_bytes;
    const auto target =
        static_cast<uint64_t>(std::floor(request.target_bpw * static_cast<double>(elements) / 8.0));
    if (target < least) {
      return Status::Errorf(
          "--target-bpw {} is below the smallest this model can have: {:.4f} bits per weight "
          "({} bytes of tensor data) with every matrix at its smallest type ({} of the {} "
          "matrices have rows that are not a multiple of 256, so no k-quant fits them and their "
          "smallest type is a block-32 one)",
          request.target_bpw, bpw_of(least), least, misfit_256, inputs.size());
    }
  }

  SHRINK_ASSIGN_OR_RETURN(out.sensitivities, MeasureAll(inputs, request.sensitivity));

  // With a file target, padding depends on the types: shrink the matrix budget by any excess and
  // solve again (alignment moves a file by at most a few bytes per tensor, so this settles fast).
  uint64_t matrix_budget =
      by_size ? request.target_file_bytes - overhead - out.fixed_bytes
              : static_cast<uint64_t>(
                    std::floor(request.target_bpw * static_cast<double>(elements) / 8.0)) -
                    out.fixed_bytes;
  for (int attempt = 0;; ++attempt) {
    SHRINK_ASSIGN_OR_RETURN(out.solution, SolveBudget(out.sensitivities, matrix_budget));
    out.mix = std::make_unique<QuantMix>();
    out.plan = BudgetPlan(config, tensors, out.sensitivities, out.solution,
                          request.imatrix != nullptr, *out.mix);
    if (!by_size) break;
    SHRINK_ASSIGN_OR_RETURN(const uint64_t file, request.file_size(out.plan));
    if (file <= request.target_file_bytes || attempt == 8) break;
    matrix_budget -= std::min(matrix_budget, file - request.target_file_bytes);
  }
  out.matrix_budget = matrix_budget;

  const uint64_t data = out.plan.tensor_bytes();
  out.report = fmt::format(
      "budget: {} -> {} bytes for the {} matrices ({} bytes of F32 norms fixed); chose {} bytes "
      "of tensor data ({:.4f} bits per weight), total proxy loss {:.6g} (price λ = {:.4g}); the "
      "smallest possible is {:.4f} bits per weight, and past {:.4f} bits per weight more bytes buy "
      "nothing\n"
      "budget: proxy = Σ imp·(w−ŵ)² over each matrix, {}; rows sampled: at most {} per matrix\n",
      by_size ? fmt::format("--target-size {} bytes", request.target_file_bytes)
              : fmt::format("--target-bpw {}", request.target_bpw),
      matrix_budget, inputs.size(), out.fixed_bytes, data, bpw_of(data), out.solution.loss,
      out.solution.lambda, bpw_of(out.solution.min_bytes + out.fixed_bytes),
      bpw_of(out.solution.max_bytes + out.fixed_bytes),
      request.imatrix != nullptr
          ? fmt::format("imp from {} for {} matrices, uniform {:.4g} (the imatrix's mean) for "
                        "the {} it has no entry for",
                        request.imatrix_path, out.weighted, uniform,
                        inputs.size() - static_cast<size_t>(out.weighted))
          : std::string("no --imatrix: uniform weights (imp = 1), the plain squared error"),
      request.sensitivity.max_rows);
  if (out.solution.capped) {
    out.report += fmt::format(
        "budget: the target is above the largest useful plan ({} bytes of matrices, every matrix "
        "at its least-loss type): that plan is used\n",
        out.solution.max_bytes);
  }
  return out;
}

}  // namespace shrink
