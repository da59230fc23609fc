// CRC32C (Castagnoli), as iSCSI, ext4 and the framed codec use it.
//
// Debian 12 packages no C/C++ CRC32C library, so this is ours: the SSE4.2
// crc32 instruction when the CPU has it (8 bytes a step, three streams side by
// side on inputs of 24 KiB and more: 3x one stream in cache), a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace statewire::detail {

// Extends `crc` (start with 0) over `n` bytes; crc32c("123456789") == 0xe3069283.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t n) noexcept;

}  // namespace statewire::detail
