// Building a library-managed tracker.
#include <fmt/format.h>

#include "memory/library_trackers.hpp"

namespace statewire::detail {

Result<std::unique_ptr<DirtyTracker>> make_uffd_tracker();

// Not offered: it needs a process-wide SIGSEGV handler (it would take over
// or chain with the program's own, and every fault of the program would pass
// through ours), a signal and an mprotect call per first write per round,
// and each mprotect splits the mapping, so thousands of dirty pages make
// thousands of mappings. uffd-wp does the same work inside the kernel.
TrackerSupport probe_mprotect() {
  return {TrackerKind::mprotect, false,
          "not offered: it needs a process-wide SIGSEGV handler and splits the mapping at every "
          "dirty page; statewire uses uffd-wp, which the kernel resolves without a signal"};
}

Result<std::unique_ptr<DirtyTracker>> make_library_tracker(TrackerKind kind) {
  if (kind == TrackerKind::uffd_wp) return make_uffd_tracker();
  return fail(Errc::unsupported, fmt::format("dirty tracker {} is not built", tracker_name(kind)));
}

}  // namespace statewire::detail
