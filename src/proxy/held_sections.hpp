// The device sections the proxy held back, made acceptable to the destination:
// decoded with the source's own description trailer (or its dump), renamed,
// planned into the destination's schemas or run through rules, validated,
// and written again with a description trailer that matches.
#pragma once

#include <optional>

#include "statewire/proxy.hpp"
#include "statewire/value.hpp"

namespace statewire {

struct HeldInput {
  Bytes header;      // the stream's first 8 bytes ("QEVM", version)
  ByteSpan sections; // the held section records, as sent
  ByteSpan tail;     // EOF and the description trailer, as sent
};

// The bytes to send instead of sections + tail, or nullopt when nothing
// changes (the held bytes go out as they came). An error names the section
// and field the destination would refuse; nothing has been sent then.
[[nodiscard]] Result<std::optional<Bytes>> rewrite_held(const HeldInput& in,
                                                       const ProxyOptions& opt, ProxyResult& res);

// `tail` (EOF, then the description trailer record) with the renamed
// sections' trailer entries renamed; every other byte as QEMU wrote it.
[[nodiscard]] Result<Bytes> rename_in_trailer(
    ByteSpan tail, const std::vector<std::pair<std::string, std::string>>& renames);

}  // namespace statewire
