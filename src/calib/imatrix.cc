#include "calib/imatrix.h"

#include <utility>

#include "base/check.h"

namespace shrink {

ImatrixCollector::ImatrixCollector(LinearFilter filter) : LinearInputCollector(std::move(filter)) {}

const ImatrixEntry* ImatrixCollector::Find(std::string_view tensor_name) const {
  const auto it = entries_.find(tensor_name);
  return it == entries_.end() ? nullptr : &it->second;
}

void ImatrixCollector::Accumulate(std::string name, std::span<const float> x, int64_t T,
                                  int64_t C_in) {
  auto [it, inserted] = entries_.try_emplace(std::move(name));
  ImatrixEntry& e = it->second;
  if (inserted) e.sum_sq.assign(static_cast<size_t>(C_in), 0.0);
  SHRINK_CHECK(static_cast<int64_t>(e.sum_sq.size()) == C_in);  // one model per collector
  for (int64_t t = 0; t < T; ++t) {
    const float* row = x.data() + t * C_in;
    for (int64_t j = 0; j < C_in; ++j) {
      const double v = row[j];
      e.sum_sq[j] += v * v;
    }
  }
  e.rows += T;
}

ImatrixData ToImatrixData(const ImatrixCollector& collector, std::vector<std::string> datasets,
                          int64_t chunk_count, int64_t chunk_size) {
  ImatrixData data;
  data.format = ImatrixFormat::kGguf;
  data.datasets = std::move(datasets);
  data.chunk_count = chunk_count;
  data.chunk_size = chunk_size;
  for (const auto& [name, e] : collector.entries()) {
    ImatrixTensor& t = data.tensors[name];
    t.columns = static_cast<int64_t>(e.sum_sq.size());
    t.sums.assign(e.sum_sq.begin(), e.sum_sq.end());  // F64 -> F32: the one rounding
    t.counts = {e.rows};
  }
  return data;
}

}  // namespace shrink
