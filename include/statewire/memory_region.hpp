// statewire/memory_region.hpp — the bulk memory a live migration moves.
//
// A program registers each block of memory it wants moved (guest RAM, a
// cache, a heap arena) as a named region: a base pointer, a size and a page
// size. Both ends register the same names with the same sizes and page sizes;
// the session's handshake compares the two layouts (`layout`, `check_layout`)
// before any page flows. Region ids are the registration order, which is
// what page records carry on the wire. This header moves nothing; see
// ram_transfer.hpp for that and dirty_tracker.hpp for finding what changed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"

namespace statewire {

inline constexpr std::uint32_t kDefaultPageSize = 4096;

struct MemoryRegion {
  std::string name;
  std::uint8_t* base = nullptr;  // owned by the program; must outlive the migration
  std::uint64_t size = 0;        // bytes, a multiple of page_size
  std::uint32_t page_size = kDefaultPageSize;  // a power of two, 512 B .. 1 GiB
  // Destination side: the region is a whole private anonymous mapping (or a
  // page-aligned part of one) that the receiver may replace at commit by
  // moving its staging pages there (mremap) instead of copying them: commit
  // then costs page-table updates, not a copy of the region. Leave false for
  // shared or file-backed memory.
  bool replace_on_commit = false;

  std::uint64_t page_count() const { return size / page_size; }
  std::span<std::uint8_t> page(std::uint64_t index) const {
    return {base + index * page_size, page_size};
  }
};

// What the two ends must agree on: no pointers, just the shape.
struct RegionLayout {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t page_size = kDefaultPageSize;
  friend bool operator==(const RegionLayout&, const RegionLayout&) = default;
};

class RegionSet {
 public:
  // Adds a region and returns its id. Refused: an empty or duplicate name, a
  // null base, a size of 0 or not a multiple of the page size, a page size
  // that is not a power of two in range, or more than 65535 regions.
  [[nodiscard]] Result<std::uint32_t> add(MemoryRegion region);

  std::size_t size() const { return regions_.size(); }
  bool empty() const { return regions_.empty(); }
  const MemoryRegion& operator[](std::uint32_t id) const { return regions_[id]; }
  const std::vector<MemoryRegion>& regions() const { return regions_; }
  // The id of a region by name, or not_found.
  [[nodiscard]] Result<std::uint32_t> find(std::string_view name) const;

  std::uint64_t total_bytes() const;
  std::uint64_t total_pages() const;

 private:
  std::vector<MemoryRegion> regions_;
};

std::vector<RegionLayout> layout(const RegionSet& regions);

// Every difference between our layout and the peer's (missing, extra,
// different size or page size, different order), all of them in one error
// (Errc::mismatch), or success when they are the same.
[[nodiscard]] Result<void> check_layout(std::span<const RegionLayout> ours,
                                        std::span<const RegionLayout> theirs);

// The layout as bytes for a handshake: u16 count, then per region u16 name
// length, name bytes, u64 size, u32 page size (big-endian, like the rest of
// the handshake). Decoding checks every length against the bytes present.
std::vector<std::uint8_t> encode_layout(std::span<const RegionLayout> layout);
[[nodiscard]] Result<std::vector<RegionLayout>> decode_layout(ByteSpan bytes);

}  // namespace statewire
