// The page records of a data channel (docs/memory-transfer.md) and the
// per-page work both ends share: zero detection and CRC32C of many pages.
//
// Record header, 40 bytes, little-endian (both ends are the same kind of
// machine in practice, and x86/arm64 need no swaps):
//   0  u32 magic      "SWPG"
//   4  u8  kind       1 pages, 2 zero pages, 3 end of round
//   5  u8  flags      bits 0-1 compression of the payload (0 none, 1 zstd,
//                     2 lz4); bit 2 final round (every record of it); bit 3
//                     the table's page CRCs are 0, not computed (checksums
//                     not negotiated)
//   6  u16 region     region id (registration order)
//   8  u32 count      table entries (0 for end of round)
//   12 u32 payload    bytes after the table (count * page size when raw)
//   16 u64 round
//   24 u64 aux        end of round: entries this channel sent in the round
//   32 u32 reserved   0
//   36 u32 crc        CRC32C of bytes 0..35 and the table
// Table: `count` entries of u32 page index, u32 CRC32C of the page's bytes
// (0 for zero pages). Then the payload: the pages in table order, raw or as
// one compressed block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace statewire::detail {

inline constexpr std::uint32_t kPageMagic = 0x47505753;  // "SWPG" in memory order
inline constexpr std::size_t kPageHeaderSize = 40;
inline constexpr std::size_t kPageEntrySize = 8;
// Bounds a receiver applies before allocating or reading anything: a batch
// fits one writev (IOV_MAX 1024 with the header) and a zero batch 8 KiB of table.
inline constexpr std::uint32_t kMaxDataEntries = 1000;
inline constexpr std::uint32_t kMaxZeroEntries = 1024;

enum class PageRecord : std::uint8_t { pages = 1, zero_pages = 2, end_of_round = 3 };
inline constexpr std::uint8_t kFlagCompressionMask = 0x03;
inline constexpr std::uint8_t kFlagFinal = 0x04;
inline constexpr std::uint8_t kFlagNoPageCrc = 0x08;

struct PageHeader {
  PageRecord kind = PageRecord::pages;
  std::uint8_t flags = 0;
  std::uint16_t region = 0;
  std::uint32_t count = 0;
  std::uint32_t payload = 0;
  std::uint64_t round = 0;
  std::uint64_t aux = 0;
};

struct PageEntry {
  std::uint32_t index;
  std::uint32_t crc;
};
static_assert(sizeof(PageEntry) == kPageEntrySize);

// Writes the 36 bytes before the CRC.
void put_header(std::uint8_t* out, const PageHeader& h) noexcept;
// Reads the 36 bytes before the CRC; checks nothing but the magic.
bool get_header(const std::uint8_t* in, PageHeader& h) noexcept;
// CRC32C of the header's first 36 bytes and the table.
std::uint32_t header_crc(const std::uint8_t* header, const PageEntry* table,
                         std::size_t count) noexcept;

// True when every byte of the page is 0 (size a multiple of 64); stops at
// the first non-zero cache line, so random data costs one line per page.
bool is_zero_page(const std::uint8_t* page, std::size_t size) noexcept;

// CRC32C of `count` pages of `size` bytes each (size a multiple of 8), four
// at a time: the crc32 instruction has a latency of three cycles and a
// throughput of one, so four independent pages run at almost four times the
// speed of one.
void crc_pages(const std::uint8_t* const* pages, std::size_t count, std::size_t size,
               std::uint32_t* out) noexcept;

inline std::uint32_t load_le32(const std::uint8_t* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace statewire::detail
