// Soft-dirty bits: probed, and refused where the kernel lacks them.
//
// The kernel sets bit 55 of a page's /proc/self/pagemap entry when the page
// is written after "4" was written to /proc/self/clear_refs. A kernel built
// without CONFIG_MEM_SOFT_DIRTY accepts the clear but never sets the bit, so
// the probe writes a scratch page and looks.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "memory/library_trackers.hpp"

namespace statewire::detail {

TrackerSupport probe_soft_dirty() {
  TrackerSupport s{TrackerKind::soft_dirty, false, ""};
  const long page = ::sysconf(_SC_PAGESIZE);
  void* m = ::mmap(nullptr, static_cast<std::size_t>(page), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    s.reason = fmt::format("cannot map a scratch page: {}", std::strerror(errno));
    return s;
  }
  static_cast<volatile char*>(m)[0] = 1;
  const int clear = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  const int map = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (clear < 0 || map < 0) {
    s.reason = fmt::format("cannot open /proc/self/clear_refs or pagemap: {}", std::strerror(errno));
  } else if (::write(clear, "4", 1) != 1) {
    s.reason = fmt::format("writing 4 to /proc/self/clear_refs failed: {}", std::strerror(errno));
  } else {
    static_cast<volatile char*>(m)[0] = 2;
    std::uint64_t entry = 0;
    const off_t at = static_cast<off_t>(reinterpret_cast<std::uintptr_t>(m) / static_cast<std::uintptr_t>(page) * 8);
    if (::pread(map, &entry, 8, at) != 8)
      s.reason = fmt::format("reading /proc/self/pagemap failed: {}", std::strerror(errno));
    else if (((entry >> 55) & 1) == 0)
      s.reason = "the kernel does not set soft-dirty bits (built without CONFIG_MEM_SOFT_DIRTY)";
    else {
      // Works, but not offered: clear_refs resets the bits of the whole
      // process (any other user of them breaks) and pagemap is read entry by
      // entry; uffd-wp does the same job for our regions only.
      s.reason = "soft-dirty bits work on this kernel, but statewire uses uffd-wp instead "
                 "(clear_refs would reset the whole process's bits)";
    }
  }
  if (clear >= 0) ::close(clear);
  if (map >= 0) ::close(map);
  ::munmap(m, static_cast<std::size_t>(page));
  return s;
}

}  // namespace statewire::detail
