// The end-to-end memory digest both ends of a transfer compute, so the
// destination can prove its staged image equals the source's memory before
// it says "prepared", with or without page CRCs on the wire.
//
// A region's digest is the CRC32C of its pages' CRC32Cs, in page order (u32,
// little-endian). Each end keeps the page CRCs between rounds and computes
// only those it does not know yet: a page CRC the sender computed for the
// wire, or the receiver for checking, is reused; a page written since its
// CRC was taken (every tracker collect) is forgotten. So the pass over all
// memory happens once, between rounds while the program runs, and the stop
// costs only the pages of the final round.
#pragma once

#include <cstdint>
#include <vector>

#include "statewire/dirty_tracker.hpp"
#include "statewire/memory_region.hpp"

namespace statewire::detail {

class PageDigest {
 public:
  // Sizes the tables for `regions`; nothing is known.
  void reset(const RegionSet& regions);
  bool ready() const { return !crcs_.empty(); }

  // Writable by several threads at distinct pages; `known` is not touched
  // (mark the pages known afterwards, from one thread).
  std::uint32_t* table(std::uint32_t region) { return crcs_[region].data(); }
  PageBitmap& known(std::uint32_t region) { return known_[region]; }

  // Forgets the CRC of every page set in `written`.
  void forget(const DirtySet& written);
  // Marks every page set in `pages` known (their CRCs were just stored).
  void learn(const DirtySet& pages);

  // Computes the CRC of every page not known yet, reading `bases[r]` (the
  // region's memory or its staging copy), on all cores. `only`, when given,
  // limits it to the pages set there (pages never received have no CRC).
  // Returns the pages computed.
  std::uint64_t fill(const RegionSet& regions, const std::vector<const std::uint8_t*>& bases,
                     const std::vector<PageBitmap>* only = nullptr);

  // Per region, the CRC32C of its page CRCs. Every page must be known.
  std::vector<std::uint32_t> digests() const;

  // The CRC32C of an all-zero page of `size` bytes.
  static std::uint32_t zero_page_crc(std::uint32_t size);

 private:
  std::vector<std::vector<std::uint32_t>> crcs_;
  std::vector<PageBitmap> known_;
};

}  // namespace statewire::detail
