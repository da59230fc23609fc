#include "core/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace statewire::detail {

namespace {

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}

constexpr auto kTable = make_table();

std::uint32_t crc_table(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

// The CRC register is linear: continuing a register r over n more bytes
// gives shift(r, n) ^ (the register of those bytes from 0), where shift
// multiplies by x^(8n) modulo the polynomial. That lets three stretches be
// computed side by side and joined.

// a * b modulo the polynomial, bit-reflected (x^0 is the top bit).
constexpr std::uint32_t multmodp(std::uint32_t a, std::uint32_t b) noexcept {
  std::uint32_t m = 1u << 31, p = 0;
  while (true) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ 0x82f63b78u : b >> 1;
  }
  return p;
}

// x^(2^k) modulo the polynomial.
constexpr std::uint32_t x_pow2(int k) noexcept {
  std::uint32_t p = 1u << 30;  // x^1
  for (int i = 0; i < k; ++i) p = multmodp(p, p);
  return p;
}

// Each of the three stretches is 2^13 bytes: x^(8 * 2^13) = x^(2^16).
constexpr std::size_t kStretch = 8192;
constexpr std::uint32_t kShift1 = x_pow2(16);  // over one stretch
constexpr std::uint32_t kShift2 = x_pow2(17);  // over two

#if defined(__x86_64__)
// The crc32 instruction takes 3 cycles but starts one per cycle: three
// independent registers keep it busy (about 3x one register on long inputs).
__attribute__((target("sse4.2"))) std::uint64_t crc_sse42_3way(std::uint64_t c,
                                                               const std::uint8_t*& p,
                                                               std::size_t& n) noexcept {
  while (n >= 3 * kStretch) {
    std::uint64_t c1 = 0, c2 = 0;
    const std::uint8_t* q = p;
    for (std::size_t i = 0; i < kStretch; i += 8) {
      std::uint64_t w0, w1, w2;
      std::memcpy(&w0, q + i, 8);
      std::memcpy(&w1, q + kStretch + i, 8);
      std::memcpy(&w2, q + 2 * kStretch + i, 8);
      c = _mm_crc32_u64(c, w0);
      c1 = _mm_crc32_u64(c1, w1);
      c2 = _mm_crc32_u64(c2, w2);
    }
    c = multmodp(kShift2, static_cast<std::uint32_t>(c)) ^
        multmodp(kShift1, static_cast<std::uint32_t>(c1)) ^ c2;
    p += 3 * kStretch;
    n -= 3 * kStretch;
  }
  return c;
}

__attribute__((target("sse4.2"))) std::uint32_t crc_sse42(std::uint32_t crc,
                                                          const std::uint8_t* p,
                                                          std::size_t n) noexcept {
  std::uint64_t c = crc_sse42_3way(crc, p, n);
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
#endif

}  // namespace

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const std::uint8_t*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  static const bool have_sse42 = __builtin_cpu_supports("sse4.2");
  crc = have_sse42 ? crc_sse42(crc, p, n) : crc_table(crc, p, n);
#else
  crc = crc_table(crc, p, n);
#endif
  return ~crc;
}

}  // namespace statewire::detail
