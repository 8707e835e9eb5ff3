#include "quant/layer_selector.h"

#include <fmt/format.h>

namespace shrink {

std::vector<int32_t> LayerSelector::Resolve(int32_t n_layers) const {
  std::vector<int32_t> out;
  for (int32_t l = 0; l < n_layers; ++l) {
    if (Selects(l, n_layers)) out.push_back(l);
  }
  return out;
}

std::string LayerSelector::Describe(int32_t n_layers) const {
  if (all) return std::string(name);
  const std::vector<int32_t> selected = Resolve(n_layers);
  // Runs of consecutive layers: "0-2, 5, 8, 26-29".
  std::string list;
  for (size_t i = 0; i < selected.size();) {
    size_t j = i;
    while (j + 1 < selected.size() && selected[j + 1] == selected[j] + 1) ++j;
    if (!list.empty()) list += ", ";
    list +=
        i == j ? fmt::format("{}", selected[i]) : fmt::format("{}-{}", selected[i], selected[j]);
    i = j + 1;
  }
  if (list.empty()) list = "none";
  return fmt::format("{} ({} of {})", name, list, n_layers);
}

}  // namespace shrink
