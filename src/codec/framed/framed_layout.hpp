// Constants of the framed format (docs/framed-format.md), shared by the
// writer and the reader. All integers are little-endian.
//
//   file    := magic[8] u16 version record* END-record
//   record  := u8 type, u8 flags, u32 stored_len, payload[stored_len], u32 crc32c
//              (the CRC covers type, flags, length and payload)
//   flags   := bit0 mandatory, bit1 zstd, bit2 lz4 (compressed payload is
//              u32 raw_len + compressed bytes)
#pragma once

#include <cstdint>

namespace statewire::framed {

inline constexpr std::uint8_t kMagic[8] = {0x89, 'S', 'W', 'F', '\r', '\n', 0x1a, '\n'};

enum RecordType : std::uint8_t {
  kHeader = 0x01,
  kNames = 0x02,
  kSection = 0x03,
  kEnvelope = 0x04,
  kChunk = 0x05,
  kEnd = 0x0f,
};

inline constexpr std::uint8_t kFlagMandatory = 0x01;
inline constexpr std::uint8_t kFlagZstd = 0x02;
inline constexpr std::uint8_t kFlagLz4 = 0x04;

inline constexpr std::size_t kRecordHeaderSize = 1 + 1 + 4;
inline constexpr std::size_t kCrcSize = 4;

// Bulk memory: a section's top-level array of more than this many elements
// is sent in CHUNK records of this many elements each.
inline constexpr std::size_t kChunkItems = 256;
// Set in an array's layout byte when its elements follow in CHUNK records.
inline constexpr std::uint8_t kChunkedLayoutBit = 0x80;
// The element count of a chunked array whose size was not known when its
// section was written (a section streamed as it arrives): its elements are
// the CHUNK records up to the next record of another type.
inline constexpr std::uint32_t kOpenCount = 0xffffffff;

// A value's tag: u8 type (ValueKind) + u32 payload length.
inline constexpr std::size_t kValueTagSize = 1 + 4;

}  // namespace statewire::framed
