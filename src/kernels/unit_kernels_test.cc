// Per-target tests of the pieces of the integer kernels (Highway's per-target test style: each
// function below is compiled for every target and run on each one this CPU supports): the SIMD
// unpackers (single units and AVX-512 unit pairs) against the traits' scalar Quants, byte for
// byte; the row kernels' slot scales against the traits' Scales, bit for bit; the byte dot products against plain
// integer sums; the activation quantizer against its scalar reference, bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/random_blocks_test_util.h"
#include "kernels/reference.h"
#include "kernels/weight_units.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/unit_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "kernels/block_matmul-inl.h"

HWY_BEFORE_NAMESPACE();
namespace shrink {
namespace HWY_NAMESPACE {

#if SHRINK_HAVE_UNIT_VECTORS

void StoreUnit(const UnitBytes& u, int8_t* out) {
  for (int k = 0; k < kUnitVecs; ++k) {
    hn::StoreU(hn::BitCast(DI8(), u.v[k]), DI8(), out + k * kUnitLanes);
  }
}

template <class U>
void CheckUnpack() {
  std::mt19937 rng(11);
  const int64_t cols = 256 * 2;
  const std::vector<uint8_t> bytes = RandomBlocks(U::kType, 3, cols, rng);
  const auto* blocks = reinterpret_cast<const typename U::Block*>(bytes.data());
  const int64_t n = static_cast<int64_t>(bytes.size() / sizeof(typename U::Block));
  for (int64_t b = 0; b < n; ++b) {
    [&]<int... kUnit>(std::integer_sequence<int, kUnit...>) {
      (
          [&] {
            int8_t simd[32], scalar[32];
            StoreUnit(UnpackUnit<kUnit>(U(), blocks[b]), simd);
            U::Quants(blocks[b], kUnit, scalar);
            for (int i = 0; i < 32; ++i) {
              ASSERT_EQ(simd[i], scalar[i]) << Traits(U::kType).name << " block " << b << " unit "
                                            << kUnit << " element " << i;
              if (!U::kSigned) {
                ASSERT_GE(scalar[i], 0);
                ASSERT_LE(scalar[i], 63);
              }
            }
          }(),
          ...);
    }
    (std::make_integer_sequence<int, U::kUnits>());
    if constexpr (kHasUnitPairs<U>) {
      [&]<int... kPair>(std::integer_sequence<int, kPair...>) {
        (
            [&] {
              int8_t simd[64], scalar[64];
              const hn::Twice<DI8> di8p;
              hn::StoreU(hn::BitCast(di8p, UnpackUnitPair<2 * kPair>(U(), blocks[b])), di8p, simd);
              U::Quants(blocks[b], 2 * kPair, scalar);
              U::Quants(blocks[b], 2 * kPair + 1, scalar + 32);
              for (int i = 0; i < 64; ++i) {
                ASSERT_EQ(simd[i], scalar[i]) << Traits(U::kType).name << " block " << b << " pair "
                                              << kPair << " element " << i;
              }
            }(),
            ...);
      }
      (std::make_integer_sequence<int, U::kUnits / 2>());
    }
  }
}

// The row kernels' slot scales (unit_scales-inl.h: vector forms for Q4_K, Q5_K, Q6_K) are the
// traits' Scales, bit for bit.
template <class U>
void CheckSlotScales() {
  std::mt19937 rng(14);
  const std::vector<uint8_t> bytes = RandomBlocks(U::kType, 3, 256 * 2, rng);
  const auto* blocks = reinterpret_cast<const typename U::Block*>(bytes.data());
  const int64_t n = static_cast<int64_t>(bytes.size() / sizeof(typename U::Block));
  constexpr int G = kGroupBlocks<U>;
  for (int64_t b = 0; b < n; ++b) {
    UnitScales s[U::kUnits];
    U::Scales(blocks[b], s);
    float scale[2 * U::kUnits], min[2 * U::kUnits];
    BlockSlotScales(U(), blocks[b], scale, min);
    if (b % G == 0 && b + G <= n) {  // a whole group, loaded together (legacy: 8 blocks)
      GroupScales<U, G> group;
      group.Load(blocks + b);
      for (int g = 0; g < G; ++g) {
        UnitScales sg[U::kUnits];
        U::Scales(blocks[b + g], sg);
        for (int u = 0; u < U::kUnits; ++u) {
          for (int h = 0; h < kSlots<U>; ++h) {
            const int i = kSlots<U> * (U::kUnits * g + u) + h;
            ASSERT_EQ(std::bit_cast<uint32_t>(group.scale[i]),
                      std::bit_cast<uint32_t>(sg[u].scale[h]))
                << Traits(U::kType).name << " group at " << b << " block " << g;
            ASSERT_EQ(std::bit_cast<uint32_t>(group.min[i]), std::bit_cast<uint32_t>(sg[u].min[h]))
                << Traits(U::kType).name << " group at " << b << " block " << g;
          }
        }
      }
    }
    for (int u = 0; u < U::kUnits; ++u) {
      for (int h = 0; h < kSlots<U>; ++h) {
        const int i = kSlots<U> * u + h;
        ASSERT_EQ(std::bit_cast<uint32_t>(scale[i]), std::bit_cast<uint32_t>(s[u].scale[h]))
            << Traits(U::kType).name << " block " << b << " unit " << u << " half " << h;
        ASSERT_EQ(std::bit_cast<uint32_t>(min[i]), std::bit_cast<uint32_t>(s[u].min[h]))
            << Traits(U::kType).name << " block " << b << " unit " << u << " half " << h;
      }
    }
  }
}

void TestSlotScalesMatchTraits() {
  for (TensorType type : kIntegerKernelTypes) {
    VisitUnits(type, [](auto units) { CheckSlotScales<decltype(units)>(); });
  }
}

void TestUnpackMatchesScalarQuants() {
  for (TensorType type : kIntegerKernelTypes) {
    VisitUnits(type, [](auto units) { CheckUnpack<decltype(units)>(); });
  }
}

// Half sums of the result lanes (lower lanes: bytes 0..15) against plain integer sums.
template <class Dot>
void CheckDot(bool signed_a, Dot dot) {
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> a_dist(signed_a ? -128 : 0, signed_a ? 127 : 128);
  std::uniform_int_distribution<int> b_dist(-127, 127);
  const DI32 di32;
  constexpr int kLanes32 = static_cast<int>(hn::MaxLanes(DI32()));
  for (int rep = 0; rep < 200; ++rep) {
    alignas(64) uint8_t a[32];
    alignas(64) int8_t b[32];
    for (int i = 0; i < 32; ++i) {
      const int v = rep == 0 ? (signed_a ? -128 : 128) : a_dist(rng);  // the extremes first
      a[i] = static_cast<uint8_t>(v);
      b[i] = static_cast<int8_t>(rep == 0 ? -127 : b_dist(rng));
    }
    for (int k = 0; k < kUnitVecs; ++k) {
      const int base = k * static_cast<int>(kUnitLanes);
      int32_t lanes[kLanes32];
      hn::StoreU(dot(hn::LoadU(DU8(), a + base), hn::LoadU(DI8(), b + base), hn::Set(di32, 7)),
                 di32, lanes);
      int64_t expected[2] = {0, 0}, got[2] = {-7 * kLanes32 / 2, -7 * kLanes32 / 2};
      for (int i = 0; i < static_cast<int>(kUnitLanes); ++i) {
        const int av = signed_a ? static_cast<int8_t>(a[base + i]) : a[base + i];
        expected[i * 2 / static_cast<int>(kUnitLanes)] += av * b[base + i];
      }
      for (int j = 0; j < kLanes32; ++j) got[j * 2 / kLanes32] += lanes[j];
      ASSERT_EQ(got[0], expected[0]) << "rep " << rep;
      ASSERT_EQ(got[1], expected[1]) << "rep " << rep;
    }
  }
}

void TestDotBytesMatchesIntegerSums() {
  const DI32 di32;
  CheckDot(false, [&](auto a, auto b, auto s) { return DotBytesAccumulate(di32, a, b, s); });
  CheckDot(false, [&](auto a, auto b, auto s) { return DotBytesAccumulateWide(di32, a, b, s); });
  CheckDot(true, [&](auto a, auto b, auto s) {
    return DotSignedBytesAccumulate(di32, hn::BitCast(DI8(), a), b, s);
  });
}

void TestQuantizeActivationsMatchesReference() {
  std::mt19937 rng(13);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  const int64_t n = 32 * 40;
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  for (int i = 32; i < 64; ++i) x[i] = 0.0f;                      // an all-zero block
  for (int i = 64; i < 96; ++i) x[i] = 0.5f * (i % 5 - 2);        // ties at ±0.5 steps
  for (int i = 96; i < 128; ++i) x[i] = i == 100 ? -3.0f : 1.0f;  // one negative maximum
  std::vector<ActBlock> simd(n / 32), scalar(n / 32);
  QuantizeActivationBlocks(x.data(), n, simd.data());
  reference::QuantizeActivations(x.data(), n, scalar.data());
  for (int64_t b = 0; b < n / 32; ++b) {
    ASSERT_EQ(std::memcmp(simd[b].q, scalar[b].q, 32), 0) << "block " << b;
    ASSERT_EQ(simd[b].d, scalar[b].d) << "block " << b;
    ASSERT_EQ(simd[b].ds, scalar[b].ds) << "block " << b;
    ASSERT_EQ(simd[b].ds_half[0], scalar[b].ds_half[0]) << "block " << b;
    ASSERT_EQ(simd[b].ds_half[1], scalar[b].ds_half[1]) << "block " << b;
    ASSERT_EQ(simd[b].qsum, scalar[b].qsum) << "block " << b;
  }
}

#else  // HWY_SCALAR: no unit kernels; the scalar reference is what runs (block_matmul.cc).

void TestUnpackMatchesScalarQuants() {}
void TestSlotScalesMatchTraits() {}
void TestDotBytesMatchesIntegerSums() {}
void TestQuantizeActivationsMatchesReference() {}

#endif  // SHRINK_HAVE_UNIT_VECTORS

}  // namespace HWY_NAMESPACE
}  // namespace shrink
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace shrink {
HWY_BEFORE_TEST(UnitKernelsTest);
HWY_EXPORT_AND_TEST_P(UnitKernelsTest, TestUnpackMatchesScalarQuants);
HWY_EXPORT_AND_TEST_P(UnitKernelsTest, TestSlotScalesMatchTraits);
HWY_EXPORT_AND_TEST_P(UnitKernelsTest, TestDotBytesMatchesIntegerSums);
HWY_EXPORT_AND_TEST_P(UnitKernelsTest, TestQuantizeActivationsMatchesReference);
}  // namespace shrink
#endif
