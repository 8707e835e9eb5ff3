#include "calib/linear_input.h"

#include <utility>

#include "base/check.h"

namespace shrink {

bool BlockLinears(int layer, TensorRole role) { return layer >= 0; }

bool AllLinears(int layer, TensorRole role) { return true; }

LinearFilter OnlyTensor(int layer, TensorRole role) {
  return [layer, role](int l, TensorRole r) { return l == layer && r == role; };
}

LinearInputCollector::LinearInputCollector(LinearFilter filter) : filter_(std::move(filter)) {
  SHRINK_CHECK(filter_ != nullptr);
}

void LinearInputCollector::OnLinearInput(int layer, TensorRole role, std::span<const float> x,
                                         int64_t T) {
  if (T <= 0 || !filter_(layer, role)) return;
  const int64_t C_in = static_cast<int64_t>(x.size()) / T;
  SHRINK_CHECK(C_in > 0 && C_in * T == static_cast<int64_t>(x.size()));
  Accumulate(TensorName(role, layer), x, T, C_in);
}

}  // namespace shrink
