// `convert` between QEMU's stream and the framed format, section at a time:
// a reader (QemuStreamReader or FramedStreamReader) feeds a writer
// (QemuStreamWriter or FramedStreamWriter) as records arrive, RAM one record
// at a time, so memory stays bounded whatever the stream's size, and a pipe
// converts while it is still being written.
#pragma once

#include <string_view>

#include "statewire/byte_source.hpp"
#include "statewire/codec.hpp"

namespace statewire::cli {

// `from` and `to` are "qemu" or "framed"; `opt` as for the whole-buffer codecs
// (framed header fields, compression; the machine type and fingerprints are
// filled in from the stream).
[[nodiscard]] Result<void> stream_convert(ByteSource& in, std::string_view from, ByteSink& out,
                                          std::string_view to, CodecOptions opt);

}  // namespace statewire::cli
