// A whole state stream from a file in any of the three formats (QEMU's,
// framed, tree JSON), recognised by its first bytes: for the commands that
// look at the state itself (check --devices-from, diff, show, set).
#pragma once

#include <string>

#include "statewire/qemu_stream.hpp"
#include "statewire/result.hpp"
#include "statewire/value.hpp"

namespace statewire::cli {

struct InputStream {
  StateStream stream;
  std::string format;  // "qemu", "framed" or "json": what the file was
};

// `path` "-" reads standard input. `qemu` decides how QEMU streams' device
// sections are explained (schema sources).
[[nodiscard]] Result<InputStream> read_any_stream(const std::string& path,
                                                  const qemu::QemuDecodeOptions& qemu);
// The same from bytes already read (`name` is the input's, for errors).
[[nodiscard]] Result<InputStream> decode_any_stream(ByteSpan bytes, const std::string& name,
                                                    const qemu::QemuDecodeOptions& qemu);

}  // namespace statewire::cli
