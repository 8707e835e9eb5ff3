#include "prune/wanda.h"

#include <cmath>

namespace shrink {

std::vector<float> WandaColumnScale(const ImatrixEntry& entry) {
  std::vector<float> scale(entry.sum_sq.size());
  for (size_t j = 0; j < scale.size(); ++j) {
    scale[j] = static_cast<float>(std::sqrt(entry.sum_sq[j]));
  }
  return scale;
}

}  // namespace shrink
