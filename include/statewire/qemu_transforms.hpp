// statewire/qemu_transforms.hpp — built-in repairs between real QEMU releases.
//
// Devices whose migration state differs between QEMU releases for the same
// machine type, so that one release cannot load the other's section, with
// values mapped as the newer QEMU's own code maps them. Each transform is
// conditioned on the destination's description, so the planner picks the
// direction the destination needs. docs/compatibility.md lists them.
//
// Stream rewrites (transform.hpp's StreamRewrites, a rules file's "stream"
// list) on a QEMU stream's tree: section ids renamed, with their entries in
// the description trailer, and the configuration record's machine type.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "statewire/transform.hpp"

namespace statewire {

TransformSet qemu_builtin_transforms();

// Applies `rw` to a QEMU stream's tree: every section (and trailer entry)
// named by a rename gets its new id; the configuration record its new
// machine type. Returns the labels of the renamed sections. A machine type
// for a stream without a configuration record is an error.
[[nodiscard]] Result<std::vector<std::string>> apply_stream_rewrites(const StreamRewrites& rw,
                                                                     StateStream& stream);

// A description trailer (QEMU's JSON) with its device entries renamed and
// every other byte as it was, so QEMU's layout is kept.
[[nodiscard]] Result<std::string> rename_trailer_entries(
    std::string_view json, const std::vector<std::pair<std::string, std::string>>& renames);

}  // namespace statewire
