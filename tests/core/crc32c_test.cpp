// CRC32C: the fast path (three registers side by side, joined by
// multiplying by x^(8n)) gives the bit-by-bit definition's value at every
// length and alignment around its 24 KiB stripes, and continuing a CRC over
// a second buffer equals the CRC of both at once.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/crc32c.hpp"

namespace statewire::detail {
namespace {

std::uint32_t bitwise(std::uint32_t crc, const std::uint8_t* p, std::size_t n) {
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::mt19937 rng(12);
  std::vector<std::uint8_t> b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

TEST(Crc32c, KnownValue) {
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xe3069283u);
}

TEST(Crc32c, EqualsTheBitwiseDefinitionAroundStripeBoundaries) {
  const auto b = random_bytes(3 * 3 * 8192 + 64);
  const std::size_t stripe = 3 * 8192;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, stripe - 1, stripe, stripe + 1,
                        stripe + 9, 2 * stripe, 2 * stripe + 7, 3 * stripe + 63})
    for (std::size_t off : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
      if (off + n > b.size()) continue;
      SCOPED_TRACE(testing::Message() << "n=" << n << " off=" << off);
      EXPECT_EQ(crc32c(0, b.data() + off, n), bitwise(0, b.data() + off, n));
      EXPECT_EQ(crc32c(0xdeadbeef, b.data() + off, n), bitwise(0xdeadbeef, b.data() + off, n));
    }
}

TEST(Crc32c, ContinuingEqualsOnePass) {
  const auto b = random_bytes(100000);
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{24576}, std::size_t{50001}}) {
    const std::uint32_t first = crc32c(0, b.data(), cut);
    EXPECT_EQ(crc32c(first, b.data() + cut, b.size() - cut), crc32c(0, b.data(), b.size()));
  }
}

}  // namespace
}  // namespace statewire::detail
