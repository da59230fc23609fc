// A ByteSource that hands out input in small pieces, like a pipe or a socket:
// no size, no random access, at most `piece` bytes per read (0: random sizes
// 1..4096 from a fixed seed, so a failure replays).
#pragma once

#include <algorithm>
#include <random>

#include "statewire/byte_source.hpp"

namespace statewire::testing {

class PieceSource final : public ByteSource {
 public:
  PieceSource(ByteSpan bytes, std::size_t piece) : bytes_(bytes), piece_(piece) {}
  Result<std::size_t> read(std::span<std::uint8_t> dst) override {
    std::size_t n = piece_ ? piece_ : std::uniform_int_distribution<std::size_t>(1, 4096)(rng_);
    n = std::min({n, dst.size(), bytes_.size() - pos_});
    std::copy_n(bytes_.data() + pos_, n, dst.data());
    pos_ += n;
    ++reads_;
    return n;
  }
  std::size_t reads() const { return reads_; }

 private:
  ByteSpan bytes_;
  std::size_t piece_;
  std::size_t pos_ = 0, reads_ = 0;
  std::mt19937_64 rng_{12};
};

}  // namespace statewire::testing
