// The native description the describe fuzz target loads: every field kind,
// a test-gated field, a field since version 2, a subsection. Kept beside the
// target (not in examples/) so the fuzz build needs only the library.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "statewire/describe.hpp"

namespace statewire::fuzz {

struct FuzzInner {
  std::uint16_t a = 0;
  bool on = false;
  friend bool operator==(const FuzzInner&, const FuzzInner&) = default;
};

struct FuzzModel {
  std::uint8_t u8 = 0;
  std::int64_t i64 = 0;
  bool flag = false;
  double real = 0;
  std::array<std::uint32_t, 2> fixed{};
  std::array<std::uint8_t, 3> buf{};
  std::string text;
  std::uint8_t n = 0;
  std::array<std::uint16_t, 4> var{};
  std::uint16_t m = 0;
  std::vector<FuzzInner> inners;
  std::uint8_t nb = 0;
  std::vector<std::array<std::uint8_t, 2>> bufs;
  std::uint32_t newer = 0;
  std::uint8_t gated = 0;
  std::uint64_t extra = 0;
};

inline const NativeDescription<FuzzModel>& fuzz_model() {
  static const auto inner = describe<FuzzInner>("fuzz/inner", 1, 1)
                                .field("a", &FuzzInner::a)
                                .field("on", &FuzzInner::on);
  static const auto d =
      describe<FuzzModel>("fuzz", 2, 1)
          .field("u8", &FuzzModel::u8)
          .field("i64", &FuzzModel::i64)
          .field("flag", &FuzzModel::flag)
          .field("real", &FuzzModel::real)
          .field("fixed", &FuzzModel::fixed)
          .buffer("buf", &FuzzModel::buf)
          .field("text", &FuzzModel::text)
          .field("n", &FuzzModel::n)
          .varray("var", &FuzzModel::var, &FuzzModel::n, 4)
          .field("m", &FuzzModel::m)
          .struct_varray("inners", &FuzzModel::inners, &FuzzModel::m, 300, inner)
          .field("nb", &FuzzModel::nb)
          .varray("bufs", &FuzzModel::bufs, &FuzzModel::nb, 200)
          .field("newer", &FuzzModel::newer, since(2))
          .field("gated", &FuzzModel::gated,
                 when("fuzz_flag", [](const FuzzModel& f) { return f.flag; }))
          .subsection(describe<FuzzModel>("fuzz/extra", 1, 1).field("extra", &FuzzModel::extra),
                      "fuzz_extra_needed", [](const FuzzModel& f) { return f.extra != 0; });
  return d;
}

}  // namespace statewire::fuzz
