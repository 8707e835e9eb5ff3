#include "eval/report.h"

#include <fmt/format.h>

#include <cmath>

namespace shrink {

std::string FormatRunningPpl(int32_t chunk_number, double ppl) {
  return fmt::format("[{}]{:.4f},", chunk_number, ppl);
}

namespace {
std::string FinalEstimateLine(double ppl, double error) {
  if (!(error > 0)) return "Unexpected negative standard deviation of log(prob)\n";
  return fmt::format("Final estimate: PPL = {:.4f} +/- {:.5f}\n", ppl, error);
}
}  // namespace

std::string FormatFinalEstimate(const NllAccumulator& nll) {
  return FinalEstimateLine(nll.Ppl(), nll.PplError());
}

std::string FormatKldFinalEstimate(const KldAccumulator& kld) {
  const KldStatistics s = kld.Statistics();
  const double ppl = std::exp(s.log_ppl.mean);
  return FinalEstimateLine(ppl, ppl * s.log_ppl.error);
}

std::string KldTableHeader() {
  return "chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence         "
         "     Δp RMS            Same top p\n";
}

std::string FormatKldChunkRow(int32_t chunk_number, const KldStatistics& s) {
  const double ppl = std::exp(s.log_ppl.mean);
  return fmt::format(
      "{:4d}    {:9.4f} ± {:9.4f}    {:10.5f} ± {:10.5f}    {:10.5f} ± {:10.5f}    {:6.3f} ± "
      "{:6.3f} %"
      "    {:6.3f} ± {:6.3f} %\n",
      chunk_number, ppl, ppl * s.log_ppl.error, s.log_ppl_ratio.mean, s.log_ppl_ratio.error,
      s.kld.mean, s.kld.error, 100.0 * s.p_diff_rms.mean, 100.0 * s.p_diff_rms.error,
      100.0 * s.same_top.mean, 100.0 * s.same_top.error);
}

std::string FormatKldSummary(const KldAccumulator& kld) {
  if (kld.count() < 100) return "";
  const KldStatistics s = kld.Statistics();
  std::string out;
  auto line = [&out](std::string text) { out += text, out += '\n'; };

  line("====== Perplexity statistics ======");
  const double ppl = std::exp(s.log_ppl.mean), ppl_unc = ppl * s.log_ppl.error;
  line(fmt::format("Mean PPL(Q)                   : {:10.6f} ± {:10.6f}", ppl, ppl_unc));
  const double ppl_base = std::exp(s.log_ppl_base.mean);
  const double ppl_base_unc = ppl_base * s.log_ppl_base.error;
  line(fmt::format("Mean PPL(base)                : {:10.6f} ± {:10.6f}", ppl_base, ppl_base_unc));
  const double cor = s.log_ppl_cov / (s.log_ppl.error * s.log_ppl_base.error);
  line(fmt::format("Cor(ln(PPL(Q)), ln(PPL(base))): {:6.2f}%", 100.0 * cor));
  line(fmt::format("Mean ln(PPL(Q)/PPL(base))     : {:10.6f} ± {:10.6f}", s.log_ppl_ratio.mean,
                   s.log_ppl_ratio.error));
  const double ratio = std::exp(s.log_ppl_ratio.mean);
  line(fmt::format("Mean PPL(Q)/PPL(base)         : {:10.6f} ± {:10.6f}", ratio,
                   ratio * s.log_ppl_ratio.error));
  const double ppl_cov = ppl * ppl_base * s.log_ppl_cov;
  const double diff_unc =
      std::sqrt(ppl_unc * ppl_unc + ppl_base_unc * ppl_base_unc - 2.0 * ppl_cov);
  line(
      fmt::format("Mean PPL(Q)-PPL(base)         : {:10.6f} ± {:10.6f}", ppl - ppl_base, diff_unc));
  line("");

  const std::vector<float> klds = kld.SortedKld();
  line("====== KL divergence statistics ======");
  line(fmt::format("Mean    KLD: {:10.6f} ± {:10.6f}", s.kld.mean, s.kld.error));
  line(fmt::format("Maximum KLD: {:10.6f}", klds.back()));
  const struct {
    const char* label;
    float fraction;
  } kld_rows[] = {{"99.9%", 0.999f}, {"99.0%", 0.990f}, {"95.0%", 0.950f}, {"90.0%", 0.900f}};
  for (const auto& r : kld_rows) {
    line(fmt::format("{}   KLD: {:10.6f}", r.label, Percentile(klds, r.fraction)));
  }
  line(fmt::format("Median  KLD: {:10.6f}", Median(klds)));
  const struct {
    const char* label;
    float fraction;
  } kld_low[] = {{"10.0%", 0.100f}, {" 5.0%", 0.050f}, {" 1.0%", 0.010f}, {" 0.1%", 0.001f}};
  for (const auto& r : kld_low) {
    line(fmt::format("{}   KLD: {:10.6f}", r.label, Percentile(klds, r.fraction)));
  }
  line(fmt::format("Minimum KLD: {:10.6f}", klds.front()));
  line("");

  const std::vector<float> dps = kld.SortedPDiff();
  line("====== Token probability statistics ======");
  line(fmt::format("Mean    Δp: {:6.3f} ± {:5.3f} %", 100.0 * s.p_diff.mean,
                   100.0 * s.p_diff.error));
  line(fmt::format("Maximum Δp: {:6.3f}%", 100.0 * dps.back()));
  const struct {
    const char* label;
    float fraction;
  } dp_high[] = {{"99.9%", 0.999f},
                 {"99.0%", 0.990f},
                 {"95.0%", 0.950f},
                 {"90.0%", 0.900f},
                 {"75.0%", 0.750f}};
  for (const auto& r : dp_high) {
    line(fmt::format("{}   Δp: {:6.3f}%", r.label, 100.0 * Percentile(dps, r.fraction)));
  }
  line(fmt::format("Median  Δp: {:6.3f}%", 100.0 * Median(dps)));
  const struct {
    const char* label;
    float fraction;
  } dp_low[] = {{"25.0%", 0.250f},
                {"10.0%", 0.100f},
                {" 5.0%", 0.050f},
                {" 1.0%", 0.010f},
                {" 0.1%", 0.001f}};
  for (const auto& r : dp_low) {
    line(fmt::format("{}   Δp: {:6.3f}%", r.label, 100.0 * Percentile(dps, r.fraction)));
  }
  line(fmt::format("Minimum Δp: {:6.3f}%", 100.0 * dps.front()));
  line(fmt::format("RMS Δp    : {:6.3f} ± {:5.3f} %", 100.0 * s.p_diff_rms.mean,
                   100.0 * s.p_diff_rms.error));
  line(fmt::format("Same top p: {:6.3f} ± {:5.3f} %", 100.0 * s.same_top.mean,
                   100.0 * s.same_top.error));
  return out;
}

}  // namespace shrink
