// statewire/compression.hpp — the compression methods a framed record may use.
//
// Its own header so that capability negotiation (capabilities.hpp) can name a
// method without depending on the framed codec.
#pragma once

#include <cstdint>

namespace statewire {

enum class Compression : std::uint8_t { none, zstd, lz4 };

}  // namespace statewire
