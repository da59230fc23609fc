// Building a library-managed tracker.
#include <fmt/format.h>

#include "memory/library_trackers.hpp"

namespace statewire::detail {

TrackerSupport probe_uffd_wp() { return {TrackerKind::uffd_wp, false, "not built yet"}; }
TrackerSupport probe_mprotect() { return {TrackerKind::mprotect, false, "not built yet"}; }

Result<std::unique_ptr<DirtyTracker>> make_library_tracker(TrackerKind kind) {
  return fail(Errc::unsupported, fmt::format("dirty tracker {} is not built", tracker_name(kind)));
}

}  // namespace statewire::detail
