// Wanda's per-column activation scale from calibration statistics.
//
// Wanda scores weight W_ij by |W_ij|·‖X_j‖₂, where X_j is input column j over every calibration
// row. An importance matrix (calib/imatrix.h) already holds Σ_t x[t][j]² per column of every
// block linear, so ‖X_j‖₂ = sqrt(sum_sq[j]). (Wanda's reference code keeps the mean of x² over
// samples instead; a constant factor per tensor does not change which weights of a row rank
// lowest.)
#pragma once

#include <vector>

#include "calib/imatrix.h"

namespace shrink {

// sqrt(sum_sq[j]) per column, rounded to F32.
std::vector<float> WandaColumnScale(const ImatrixEntry& entry);

}  // namespace shrink
