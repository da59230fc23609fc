// The bulk byte swap behind integer arrays: every width, every length around
// the vector step sizes, unaligned source and destination, against a plain
// per-element reversal.
#include "describe/byteswap.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace statewire::detail {
namespace {

template <std::size_t W>
void check_all_lengths() {
  for (std::size_t n = 0; n < 70; ++n) {
    for (std::size_t skew = 0; skew < 3; ++skew) {
      std::vector<unsigned char> src(n * W + skew), dst(n * W + skew + 1, 0xee);
      for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 1);
      swap_copy<W>(dst.data() + skew, src.data() + skew, n);
      for (std::size_t e = 0; e < n; ++e)
        for (std::size_t k = 0; k < W; ++k)
          ASSERT_EQ(dst[skew + e * W + k], src[skew + e * W + (W - 1 - k)])
              << "W=" << W << " n=" << n << " element " << e << " byte " << k;
      EXPECT_EQ(dst[skew + n * W], 0xee) << "wrote past the end";
    }
  }
}

TEST(ByteSwap, ReversesEveryElementForEveryWidthAndLength) {
  check_all_lengths<2>();
  check_all_lengths<4>();
  check_all_lengths<8>();
}

}  // namespace
}  // namespace statewire::detail
