// The trackers the library runs itself: probing what the kernel offers and
// building one. Private to src/memory.
#pragma once

#include <memory>

#include "statewire/dirty_tracker.hpp"

namespace statewire::detail {

TrackerSupport probe_uffd_wp();
TrackerSupport probe_soft_dirty();
TrackerSupport probe_mprotect();

// Only called for kinds the probe found available.
Result<std::unique_ptr<DirtyTracker>> make_library_tracker(TrackerKind kind);

}  // namespace statewire::detail
