#include "calib/hessian.h"

#include <utility>

#include "base/check.h"
#include "calib/gram.h"

namespace shrink {

std::vector<double> GptqHessian(const GramEntry& entry) {
  SHRINK_CHECK(entry.rows > 0);
  const double scale = 2.0 / static_cast<double>(entry.rows);
  std::vector<double> H(entry.xtx.size());
  for (size_t i = 0; i < H.size(); ++i) H[i] = scale * entry.xtx[i];
  return H;
}

HessianCollector::HessianCollector(LinearFilter filter) : LinearInputCollector(std::move(filter)) {}

const GramEntry* HessianCollector::Find(std::string_view tensor_name) const {
  const auto it = entries_.find(tensor_name);
  return it == entries_.end() ? nullptr : &it->second;
}

void HessianCollector::Accumulate(std::string name, std::span<const float> x, int64_t T,
                                  int64_t C_in) {
  auto [it, inserted] = entries_.try_emplace(std::move(name));
  GramEntry& e = it->second;
  if (inserted) {
    e.cols = C_in;
    e.xtx.assign(static_cast<size_t>(C_in * C_in), 0.0);
  }
  SHRINK_CHECK(e.cols == C_in);  // one model per collector
  AccumulateGram(x, T, C_in, e.xtx);
  e.rows += T;
}

}  // namespace shrink
