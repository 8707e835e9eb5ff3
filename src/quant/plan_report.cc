#include "quant/plan_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace shrink {
namespace {

std::string Roles(const RoleSet& roles) {
  std::string out;
  for (const TensorSpec& spec : TensorTable()) {
    if (!roles.Has(spec.role)) continue;
    if (!out.empty()) out += ", ";
    out += spec.name;
  }
  return out;
}

std::string Shape(const std::vector<int64_t>& shape) {
  return fmt::format("{}", fmt::join(shape, " x "));
}

}  // namespace

std::string DescribeRule(const QuantRule& rule, int32_t n_layers) {
  std::string out = Roles(rule.roles);
  if (!rule.layers.all) out += ", " + rule.layers.Describe(n_layers);
  if (rule.when.output_matrix) out += ", when it is the output matrix (token_embd only if tied)";
  if (rule.when.min_gqa > 0) out += fmt::format(", when GQA >= {}", rule.when.min_gqa);
  if (rule.when.row_misfits_base)
    out += ", when the row is not a multiple of the base type's block";
  if (rule.when.imatrix == ImatrixNeed::kWith) out += ", with an imatrix";
  if (rule.when.imatrix == ImatrixNeed::kWithout) out += ", without an imatrix";
  return fmt::format("{}: {}", out, Traits(rule.type).name);
}

std::string ExplainTensor(const QuantPlan& plan, const TensorPlan& t) {
  const QuantMix& mix = *plan.mix;
  std::string out;
  if (t.rule == TensorPlan::kVector) {
    out = "1-D tensor (norm): F32";
  } else if (t.rule == TensorPlan::kOverride) {
    out = fmt::format("--tensor-type {}={}", t.source->name, Traits(t.type).name);
  } else if (t.rule == TensorPlan::kBudget) {
    out = fmt::format("size budget: least total proxy loss under the budget: {}, proxy loss {:.4g}",
                      Traits(t.type).name, t.proxy_loss);
  } else if (t.rule == TensorPlan::kBaseType) {
    out = fmt::format("{} base type{}: {}", mix.name, plan.pure ? " (--pure)" : "",
                      Traits(mix.base).name);
  } else {
    const QuantRule& rule = mix.rules[t.rule];
    out = fmt::format("rule {} of {} ({}): {}", t.rule + 1, mix.name, rule.why,
                      DescribeRule(rule, plan.n_layers));
  }
  if (t.fell_back) {
    const TypeTraits& chosen = Traits(t.chosen);
    out += fmt::format("; fallback: row {} is not a multiple of {}'s {}-element block: {}",
                       t.source->cols(), chosen.name, chosen.block_elements, Traits(t.type).name);
  }
  if (t.copied()) out += " (as stored: copied)";
  switch (t.importance_use) {
    case ImportanceUse::kNone:
      break;
    case ImportanceUse::kUsed:
      out += "; imatrix: importance-weighted";
      break;
    case ImportanceUse::kTypeUnweighted:
      out += fmt::format("; imatrix does not apply to {} (no importance-weighted encoder)",
                         Traits(t.type).name);
      break;
    case ImportanceUse::kNoEntry:
      out += "; imatrix has no entry for it: not weighted";
      break;
  }
  return out;
}

std::string FormatPlanTable(const QuantPlan& plan, bool explain) {
  size_t name_width = 6, shape_width = 5;
  for (const TensorPlan& t : plan.tensors) {
    name_width = std::max(name_width, t.source->name.size());
    shape_width = std::max(shape_width, Shape(t.source->shape).size());
  }
  std::string out =
      fmt::format("{:<{}}  {:<{}}  {:<6}  {:<6}  {:>11}{}\n", "tensor", name_width, "shape",
                  shape_width, "from", "to", "bytes", explain ? "  why" : "");
  for (const TensorPlan& t : plan.tensors) {
    out += fmt::format("{:<{}}  {:<{}}  {:<6}  {:<6}  {:>11}", t.source->name, name_width,
                       Shape(t.source->shape), shape_width, Traits(t.source->type).name,
                       Traits(t.type).name, t.bytes);
    if (explain) out += "  " + ExplainTensor(plan, t);
    out += '\n';
  }
  return out;
}

std::string FormatPlanSummary(const QuantPlan& plan, uint64_t file_bytes) {
  std::map<uint32_t, int> per_type;
  int fell_back = 0, weighted = 0, reencoded = 0;
  int64_t elements = 0;
  for (const TensorPlan& t : plan.tensors) {
    ++per_type[static_cast<uint32_t>(t.type)];
    fell_back += t.fell_back ? 1 : 0;
    weighted += t.importance_use == ImportanceUse::kUsed ? 1 : 0;
    reencoded += !t.copied() && t.source->shape.size() >= 2 ? 1 : 0;
    elements += t.source->element_count();
  }
  std::string counts;
  for (const auto& [id, n] : per_type) {
    if (!counts.empty()) counts += ", ";
    counts += fmt::format("{} {}", n, FindType(id)->name);
  }
  const double mib = 1024.0 * 1024.0;
  std::string out = fmt::format(
      "{}{}: {} tensors -> {}; {:.2f} MiB of tensor data; file {} bytes ({:.2f} MiB), {:.4f} bits "
      "per weight",
      plan.mix->name, plan.pure ? " (--pure)" : "", plan.tensors.size(), counts,
      static_cast<double>(plan.tensor_bytes()) / mib, file_bytes,
      static_cast<double>(file_bytes) / mib,
      elements > 0 ? 8.0 * static_cast<double>(plan.tensor_bytes()) / static_cast<double>(elements)
                   : 0.0);
  if (fell_back > 0) {
    out += fmt::format("; {} tensors fell back to a smaller-block type (row length)", fell_back);
  }
  if (plan.with_imatrix) {
    out +=
        fmt::format("; the imatrix weighs {} of the {} re-encoded matrices", weighted, reencoded);
  }
  return out;
}

}  // namespace shrink
