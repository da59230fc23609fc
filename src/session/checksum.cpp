// Memory checksums for verification: fixed 64 MiB slices, each a CRC32C,
// summed up as the CRC32C of the slices' CRCs in order. Slices run on
// several threads; the result does not depend on how many.
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "core/crc32c.hpp"
#include "session/control.hpp"

namespace statewire::detail {

std::uint32_t region_checksum(const std::uint8_t* base, std::uint64_t size) {
  constexpr std::uint64_t kSlice = 64ull << 20;
  const std::uint64_t slices = (size + kSlice - 1) / kSlice;
  std::vector<std::uint32_t> sums(slices, 0);
  std::atomic<std::uint64_t> next{0};
  auto work = [&] {
    for (std::uint64_t i; (i = next.fetch_add(1)) < slices;) {
      const std::uint64_t off = i * kSlice;
      sums[i] = crc32c(0, base + off, static_cast<std::size_t>(std::min(kSlice, size - off)));
    }
  };
  const unsigned threads =
      static_cast<unsigned>(std::min<std::uint64_t>(slices, std::max(1u, std::thread::hardware_concurrency())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return crc32c(0, sums.data(), sums.size() * sizeof(std::uint32_t));
}

}  // namespace statewire::detail
