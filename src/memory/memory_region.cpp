// Regions and their layout as the handshake compares it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>

#include "statewire/memory_region.hpp"

namespace statewire {

Result<std::uint32_t> RegionSet::add(MemoryRegion r) {
  auto refuse = [&](std::string why) {
    return fail(Errc::invalid_value, fmt::format("memory region '{}': {}", r.name, why));
  };
  if (r.name.empty()) return refuse("a region needs a name");
  if (r.name.size() > 255) return refuse("name longer than 255 bytes");
  for (const auto& have : regions_)
    if (have.name == r.name) return refuse("registered twice");
  if (regions_.size() >= 0xffff) return refuse("more than 65535 regions");
  if (r.base == nullptr) return refuse("null base pointer");
  if (!std::has_single_bit(r.page_size) || r.page_size < 512 || r.page_size > (1u << 30))
    return refuse(fmt::format("page size {} is not a power of two from 512 to 1 GiB", r.page_size));
  if (r.size == 0 || r.size % r.page_size != 0)
    return refuse(fmt::format("size {} is not a positive multiple of the page size {}", r.size,
                              r.page_size));
  if (r.size / r.page_size > 0xffffffffu)
    return refuse(fmt::format("{} pages: page records index at most 2^32 pages per region",
                              r.size / r.page_size));
  regions_.push_back(std::move(r));
  return static_cast<std::uint32_t>(regions_.size() - 1);
}

Result<std::uint32_t> RegionSet::find(std::string_view name) const {
  for (std::size_t i = 0; i < regions_.size(); ++i)
    if (regions_[i].name == name) return static_cast<std::uint32_t>(i);
  return fail(Errc::not_found, fmt::format("no memory region named '{}'", name));
}

std::uint64_t RegionSet::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& r : regions_) n += r.size;
  return n;
}

std::uint64_t RegionSet::total_pages() const {
  std::uint64_t n = 0;
  for (const auto& r : regions_) n += r.page_count();
  return n;
}

std::vector<RegionLayout> layout(const RegionSet& regions) {
  std::vector<RegionLayout> out;
  out.reserve(regions.size());
  for (const auto& r : regions.regions()) out.push_back({r.name, r.size, r.page_size});
  return out;
}

Result<void> check_layout(std::span<const RegionLayout> ours, std::span<const RegionLayout> theirs) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const RegionLayout* match = nullptr;
    std::size_t at = 0;
    for (std::size_t j = 0; j < theirs.size(); ++j)
      if (theirs[j].name == ours[i].name) match = &theirs[at = j];
    if (!match) {
      problems.push_back(fmt::format("region '{}' ({} bytes) is missing on the peer", ours[i].name,
                                     ours[i].size));
      continue;
    }
    if (match->size != ours[i].size)
      problems.push_back(fmt::format("region '{}' is {} bytes here and {} on the peer",
                                     ours[i].name, ours[i].size, match->size));
    if (match->page_size != ours[i].page_size)
      problems.push_back(fmt::format("region '{}' has {}-byte pages here and {} on the peer",
                                     ours[i].name, ours[i].page_size, match->page_size));
    if (at != i)
      problems.push_back(fmt::format("region '{}' is number {} here and {} on the peer",
                                     ours[i].name, i, at));
  }
  for (const auto& t : theirs) {
    bool found = false;
    for (const auto& o : ours) found = found || o.name == t.name;
    if (!found)
      problems.push_back(
          fmt::format("the peer has region '{}' ({} bytes) that is not registered here", t.name,
                      t.size));
  }
  if (problems.empty()) return {};
  return fail(Errc::mismatch, fmt::format("memory layouts differ: {}", fmt::join(problems, "; ")));
}

std::vector<std::uint8_t> encode_layout(std::span<const RegionLayout> regions) {
  ByteWriter w;
  w.put_be16(static_cast<std::uint16_t>(regions.size()));
  for (const auto& r : regions) {
    w.put_be16(static_cast<std::uint16_t>(r.name.size()));
    w.put_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(r.name.data()), r.name.size()));
    w.put_be64(r.size);
    w.put_be32(r.page_size);
  }
  return std::move(w).take();
}

Result<std::vector<RegionLayout>> decode_layout(ByteSpan bytes) {
  Cursor cur(bytes);
  SW_TRY(count, cur.read_be16());
  // Each entry takes at least 14 bytes, so a count the bytes cannot hold is refused first.
  if (count > cur.remaining() / 14)
    return fail(Errc::truncated, fmt::format("memory layout: {} regions announced in {} bytes",
                                             count, cur.remaining()));
  std::vector<RegionLayout> out;
  out.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) {
    RegionLayout r;
    SW_TRY(len, cur.read_be16());
    SW_TRY(name, cur.read_bytes(len));
    r.name.assign(reinterpret_cast<const char*>(name.data()), name.size());
    SW_TRY(size, cur.read_be64());
    SW_TRY(page, cur.read_be32());
    if (r.name.empty() || page < 512 || page > (1u << 30) || (page & (page - 1)) != 0 || size == 0 ||
        size % page != 0)
      return fail(cur.error_here(Errc::invalid_value,
                                 fmt::format("memory layout: region '{}' of {} bytes in pages of {} (a "
                                             "name, and a power of two from 512 B to 1 GiB that "
                                             "divides a size above 0)",
                                             r.name, size, page)));
    r.size = size;
    r.page_size = page;
    out.push_back(std::move(r));
  }
  if (cur.remaining() != 0)
    return fail(Errc::invalid_value,
                fmt::format("memory layout: {} bytes after the last region", cur.remaining()));
  return out;
}

}  // namespace statewire
