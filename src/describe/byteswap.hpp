// Bulk big-endian <-> host conversion of integer arrays for the describe
// visitors: the step that separates saving an array from a memcpy.
//
// On x86-64 with AVX2 (checked once at run time) one byte shuffle swaps 32
// bytes per step; otherwise SSE2 (part of the baseline ABI) swaps 16 bytes per
// step with shifts and word shuffles; elsewhere, and for the tail, one bswap
// per element. Source and destination may be unaligned and must not overlap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define STATEWIRE_AVX2_DISPATCH 1
#endif

#include "statewire/cursor.hpp"

namespace statewire::detail {

#if defined(__SSE2__)
template <std::size_t W>
inline __m128i bswap_lanes(__m128i x) {
  // Swap the bytes of each 16-bit lane, then reorder the 16-bit lanes.
  __m128i y = _mm_or_si128(_mm_slli_epi16(x, 8), _mm_srli_epi16(x, 8));
  if constexpr (W == 4) {
    y = _mm_shufflelo_epi16(y, _MM_SHUFFLE(2, 3, 0, 1));
    y = _mm_shufflehi_epi16(y, _MM_SHUFFLE(2, 3, 0, 1));
  } else if constexpr (W == 8) {
    y = _mm_shufflelo_epi16(y, _MM_SHUFFLE(0, 1, 2, 3));
    y = _mm_shufflehi_epi16(y, _MM_SHUFFLE(0, 1, 2, 3));
  }
  return y;
}
#endif

#if defined(STATEWIRE_AVX2_DISPATCH)
inline const bool kHasAvx2 = (__builtin_cpu_init(), __builtin_cpu_supports("avx2"));

// Swaps the whole 32-byte steps; returns how many elements it did.
template <std::size_t W>
[[gnu::target("avx2")]] std::size_t swap_copy_avx2(unsigned char* dst, const unsigned char* src,
                                                   std::size_t n) {
  // Within each 16-byte lane, byte k of an element comes from byte W-1-k.
  alignas(32) static constexpr auto kMask = [] {
    std::array<std::uint8_t, 32> m{};
    for (std::size_t i = 0; i < 32; ++i) m[i] = static_cast<std::uint8_t>((i % 16) / W * W + (W - 1 - i % W));
    return m;
  }();
  const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(kMask.data()));
  constexpr std::size_t kPerStep = 32 / W;
  std::size_t i = 0;
  for (; i + kPerStep <= n; i += kPerStep) {
    __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i * W));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i * W), _mm256_shuffle_epi8(x, mask));
  }
  return i;
}
#endif

// Copies n elements of W bytes (2, 4 or 8), reversing the bytes of each.
template <std::size_t W>
inline void swap_copy(unsigned char* dst, const unsigned char* src, std::size_t n) {
  using U = std::conditional_t<W == 2, std::uint16_t,
                               std::conditional_t<W == 4, std::uint32_t, std::uint64_t>>;
  std::size_t i = 0;
#if defined(STATEWIRE_AVX2_DISPATCH)
  if (kHasAvx2 && n >= 32 / W) i = swap_copy_avx2<W>(dst, src, n);
#endif
#if defined(__SSE2__)
  constexpr std::size_t kPerStep = 16 / W;
  for (; i + kPerStep <= n; i += kPerStep) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * W));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i * W), bswap_lanes<W>(x));
  }
#endif
  for (; i < n; ++i) {
    U x;
    std::memcpy(&x, src + i * W, W);
    x = from_be(x);
    std::memcpy(dst + i * W, &x, W);
  }
}

}  // namespace statewire::detail
