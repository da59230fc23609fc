// The library-managed tracker: userfaultfd asynchronous write-protect.
//
// Each region is registered with a userfaultfd in write-protect mode with
// UFFD_FEATURE_WP_ASYNC (Linux 6.7): the first write to a protected page
// faults, and the kernel itself lifts the protection and marks the page
// written; no thread of ours handles anything. PAGEMAP_SCAN on
// /proc/self/pagemap then returns the written ranges of a region and
// protects them again in the same walk (PM_SCAN_WP_MATCHING), so a write
// that lands after a page was scanned is caught in the next round.
// UFFD_FEATURE_WP_UNPOPULATED makes never-touched pages protected too.
// This is what CRIU uses in place of soft-dirty bits; why we chose it over
// soft-dirty and mprotect is in docs/memory-transfer.md.
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "memory/library_trackers.hpp"

// Debian 12's kernel headers (6.1) predate these; the values are the kernel's ABI.
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

namespace statewire::detail {

namespace {

struct PageRegion {  // struct page_region
  std::uint64_t start, end, categories;
};
struct PmScanArg {  // struct pm_scan_arg
  std::uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  std::uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);
constexpr std::uint64_t kPageIsWritten = 1u << 1;
constexpr std::uint64_t kScanWpMatching = 1u << 0;
constexpr std::uint64_t kScanCheckWpAsync = 1u << 1;

std::string errno_text(const char* what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

// A userfaultfd set up for asynchronous write-protect, or why not.
Result<int> open_uffd() {
  // User-mode-only faults are all we need, and unprivileged processes may
  // have only those (vm.unprivileged_userfaultfd = 0).
  int fd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  if (fd < 0 && errno == EINVAL) fd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd < 0) {
    if (errno == ENOSYS) return fail(Errc::unsupported, "the kernel has no userfaultfd (CONFIG_USERFAULTFD)");
    if (errno == EPERM)
      return fail(Errc::unsupported, "userfaultfd is not permitted (vm.unprivileged_userfaultfd = 0 "
                                     "and no CAP_SYS_PTRACE)");
    return fail(Errc::unsupported, errno_text("userfaultfd"));
  }
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
  if (::ioctl(fd, UFFDIO_API, &api) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return fail(Errc::unsupported,
                e == EINVAL ? std::string("the kernel lacks asynchronous userfaultfd write-protect "
                                          "(UFFD_FEATURE_WP_ASYNC, Linux 6.7)")
                            : errno_text("UFFDIO_API"));
  }
  return fd;
}

Result<void> protect(int uffd, std::uint8_t* base, std::uint64_t size) {
  uffdio_register reg{};
  reg.range = {reinterpret_cast<std::uint64_t>(base), size};
  reg.mode = UFFDIO_REGISTER_MODE_WP;
  if (::ioctl(uffd, UFFDIO_REGISTER, &reg) != 0)
    return fail(Errc::unsupported, errno_text("UFFDIO_REGISTER in write-protect mode"));
  uffdio_writeprotect wp{};
  wp.range = reg.range;
  wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
  if (::ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) != 0) {
    const int e = errno;
    (void)::ioctl(uffd, UFFDIO_UNREGISTER, &reg.range);
    errno = e;
    return fail(Errc::unsupported, errno_text("UFFDIO_WRITEPROTECT"));
  }
  return {};
}

// Calls fn(first_byte_offset, end_byte_offset) for every written range of
// [base, base + size) and write-protects those ranges again.
template <class Fn>
Result<void> scan_written(int pagemap, std::uint8_t* base, std::uint64_t size, Fn&& fn) {
  PageRegion vec[512];
  const std::uint64_t start = reinterpret_cast<std::uint64_t>(base), end = start + size;
  std::uint64_t at = start;
  while (at < end) {
    PmScanArg arg{};
    arg.size = sizeof arg;
    arg.flags = kScanWpMatching | kScanCheckWpAsync;
    arg.start = at;
    arg.end = end;
    arg.vec = reinterpret_cast<std::uint64_t>(vec);
    arg.vec_len = std::size(vec);
    arg.category_mask = kPageIsWritten;
    arg.return_mask = kPageIsWritten;
    const int n = ::ioctl(pagemap, kPagemapScan, &arg);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Errc::io_error, errno_text("PAGEMAP_SCAN"));
    }
    for (int i = 0; i < n; ++i) fn(vec[i].start - start, vec[i].end - start);
    if (arg.walk_end <= at) break;  // no progress: the kernel says it is done
    at = arg.walk_end;
  }
  return {};
}

class UffdTracker final : public DirtyTracker {
 public:
  ~UffdTracker() override { stop(); }
  TrackerKind kind() const override { return TrackerKind::uffd_wp; }

  Result<void> start(const RegionSet& regions) override {
    if (uffd_ >= 0) return fail(Errc::invalid_value, "dirty tracker: already started");
    const auto sys_page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    for (const auto& r : regions.regions())
      if (reinterpret_cast<std::uintptr_t>(r.base) % sys_page != 0 || r.page_size % sys_page != 0)
        return fail(Errc::invalid_value,
                    fmt::format("memory region '{}': the uffd-wp tracker needs a base and page size "
                                "aligned to the system page ({} bytes)", r.name, sys_page));
    SW_TRY(fd, open_uffd());
    uffd_ = fd;
    pagemap_ = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pagemap_ < 0) {
      auto e = fail(Errc::unsupported, errno_text("open /proc/self/pagemap"));
      stop();
      return e;
    }
    for (const auto& r : regions.regions()) {
      if (auto p = protect(uffd_, r.base, r.size); !p) {
        stop();
        Error e = p.error();
        e.section = r.name;
        return fail(std::move(e));
      }
      tracked_.push_back({r.base, r.size, r.page_size});
    }
    return {};
  }

  Result<DirtySet> collect() override {
    if (uffd_ < 0) return fail(Errc::invalid_value, "dirty tracker: collect before start");
    DirtySet d;
    for (const auto& t : tracked_) {
      PageBitmap bits(t.size / t.page_size);
      SW_CHECK(scan_written(pagemap_, t.base, t.size, [&](std::uint64_t from, std::uint64_t to) {
        for (std::uint64_t p = from / t.page_size; p < (to + t.page_size - 1) / t.page_size; ++p) bits.set(p);
      }));
      d.regions.push_back(std::move(bits));
    }
    return d;
  }

  void stop() noexcept override {
    if (uffd_ >= 0) {
      for (const auto& t : tracked_) {
        uffdio_range range{reinterpret_cast<std::uint64_t>(t.base), t.size};
        (void)::ioctl(uffd_, UFFDIO_UNREGISTER, &range);
      }
      ::close(uffd_);
      uffd_ = -1;
    }
    if (pagemap_ >= 0) ::close(pagemap_);
    pagemap_ = -1;
    tracked_.clear();
  }

 private:
  struct Tracked {
    std::uint8_t* base;
    std::uint64_t size;
    std::uint32_t page_size;
  };
  int uffd_ = -1;
  int pagemap_ = -1;
  std::vector<Tracked> tracked_;
};

}  // namespace

TrackerSupport probe_uffd_wp() {
  TrackerSupport s{TrackerKind::uffd_wp, false, ""};
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* m = ::mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    s.reason = errno_text("mmap of a scratch area");
    return s;
  }
  auto* base = static_cast<std::uint8_t*>(m);
  base[0] = 1;  // one populated page, three never touched
  RegionSet regions;
  (void)regions.add({"probe", base, 4 * page, static_cast<std::uint32_t>(page)});
  UffdTracker t;
  auto started = t.start(regions);
  if (!started) {
    s.reason = started.error().message;
  } else {
    base[0] = 2;
    base[2 * page] = 3;  // a page that was never populated
    auto d = t.collect();
    if (!d)
      s.reason = d.error().message;
    else if (d->regions[0].count() != 2 || !d->regions[0].test(0) || !d->regions[0].test(2))
      s.reason = fmt::format("PAGEMAP_SCAN reported {} written pages where 2 were written",
                             d->regions[0].count());
    else {
      s.available = true;
      s.reason = "userfaultfd asynchronous write-protect with PAGEMAP_SCAN";
    }
  }
  t.stop();
  ::munmap(m, 4 * page);
  return s;
}

Result<std::unique_ptr<DirtyTracker>> make_uffd_tracker() {
  return std::unique_ptr<DirtyTracker>(new UffdTracker);
}

}  // namespace statewire::detail
