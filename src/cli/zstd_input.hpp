// Inputs compressed with zstd (`state.mig.zst`, `zstd -c` in a pipe) are
// read as what they hold: analyze and convert take them as they are.
#pragma once

#include <string>

#include "statewire/result.hpp"

namespace statewire::cli {

// True when the file at `fd` starts with a zstd frame (read with pread at
// offset 0, so the descriptor's position is untouched).
bool starts_with_zstd_frame(int fd);

// Decompresses every frame of `fd` into a new unlinked temporary file and
// returns that file's descriptor. Memory stays bounded (zstd's window and
// two 1 MiB buffers); the output needs disk space for the whole stream.
[[nodiscard]] Result<int> unzstd_to_spool(int fd, const std::string& name);

}  // namespace statewire::cli
