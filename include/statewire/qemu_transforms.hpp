// statewire/qemu_transforms.hpp — built-in repairs between real QEMU releases.
//
// Devices whose migration state differs between QEMU releases for the same
// machine type, so that one release cannot load the other's section, with
// values mapped as the newer QEMU's own code maps them. Each transform is
// conditioned on the destination's description, so the planner picks the
// direction the destination needs. docs/compatibility.md lists them.
#pragma once

#include "statewire/transform.hpp"

namespace statewire {

TransformSet qemu_builtin_transforms();

}  // namespace statewire
