// QEMU's configuration section (record 0x07, right after the file header):
// a VMState body of vmsd "configuration" with no header, version or footer:
//   be32 len, len bytes machine name, then optional subsections
//   configuration/target-page-bits (be32), configuration/capabilities
//   (be32 count, count x (u8 len + name)), configuration/uuid (16 bytes).
// Decoded here by hand because its layout is fixed by QEMU and tiny; the tree
// uses plain members, so encode_body() writes it back unchanged.
#pragma once

#include <optional>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"
#include "statewire/value.hpp"

namespace statewire::qemu::detail {

struct Configuration {
  Struct body;
  std::optional<std::uint32_t> target_page_bits;
};

[[nodiscard]] Result<Configuration> decode_configuration(Cursor& cur);

}  // namespace statewire::qemu::detail
