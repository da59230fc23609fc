// `convert` between QEMU's stream and the framed format, section at a time:
// a reader (QemuStreamReader or FramedStreamReader) feeds a writer
// (QemuStreamWriter or FramedStreamWriter) as records arrive, RAM one record
// at a time, so memory stays bounded whatever the stream's size, and a pipe
// converts while it is still being written.
#pragma once

#include <string_view>

#include "statewire/byte_source.hpp"
#include "statewire/codec.hpp"
#include "statewire/schema_catalog.hpp"
#include "statewire/validate.hpp"

namespace statewire::cli {

// Checking each section before it is written, as the destination's loader
// would (validate.hpp): against `schemas` (a --schema dump) when set, else
// against a QEMU input's own description trailer when it can be found ahead
// of the sections (a file, not a pipe).
struct SectionChecks {
  const SchemaCatalog* schemas = nullptr;
  std::string schemas_name;  // for messages ("checked against DUMP")
  bool force = false;        // problems are warnings and the section is written
  ValidateOptions validate;
};

// `from` and `to` are "qemu" or "framed"; `opt` as for the whole-buffer codecs
// (framed header fields, compression; the machine type and fingerprints are
// filled in from the stream). With `checks`, a section that fails is not
// written: the conversion stops with its first problem (all of them printed).
[[nodiscard]] Result<void> stream_convert(ByteSource& in, std::string_view from, ByteSink& out,
                                          std::string_view to, CodecOptions opt,
                                          const SectionChecks* checks = nullptr);

}  // namespace statewire::cli
