// Builders for crafted hostile inputs (issue 18): small framed files and QEMU
// streams written byte by byte, so a test can state exactly what a file
// claims, and helpers that edit real corpus streams.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/crc32c.hpp"
#include "statewire/cursor.hpp"

namespace statewire::testing {

// Little-endian appends, as the framed format writes.
struct LeWriter {
  Bytes b;
  void u8(std::uint8_t v) { b.push_back(v); }
  void u16(std::uint16_t v) { for (int i = 0; i < 2; ++i) b.push_back(std::uint8_t(v >> (8 * i))); }
  void u32(std::uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(std::uint8_t(v >> (8 * i))); }
  void u64(std::uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back(std::uint8_t(v >> (8 * i))); }
  void str(std::string_view s) {
    u16(static_cast<std::uint16_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  void bytes(ByteSpan s) { b.insert(b.end(), s.begin(), s.end()); }
};

// A framed file: magic, version 1, then records with their CRCs.
struct FramedBuilder {
  LeWriter w;
  FramedBuilder() {
    static constexpr std::uint8_t kMagic[8] = {0x89, 'S', 'W', 'F', '\r', '\n', 0x1a, '\n'};
    w.bytes(kMagic);
    w.u16(1);
  }
  std::size_t record(std::uint8_t type, std::uint8_t flags, const Bytes& payload) {
    const std::size_t at = w.b.size();
    w.u8(type);
    w.u8(flags);
    w.u32(static_cast<std::uint32_t>(payload.size()));
    w.bytes(payload);
    w.u32(detail::crc32c(0, w.b.data() + at, 6 + payload.size()));
    return at;
  }
  void header() {
    LeWriter p;
    p.str("statewire");
    p.str("test");
    p.str("");
    p.u16(0);
    p.u16(0);
    record(0x01, 0x01, p.b);
  }
  void end(std::uint64_t sections) {
    LeWriter p;
    p.u64(sections);
    p.u64(w.b.size());
    record(0x0f, 0x01, p.b);
  }
};

// Big-endian appends, as QEMU's stream writes.
struct BeWriter {
  Bytes b;
  void u8(std::uint8_t v) { b.push_back(v); }
  void u32(std::uint32_t v) { for (int i = 3; i >= 0; --i) b.push_back(std::uint8_t(v >> (8 * i))); }
  void u64(std::uint64_t v) { for (int i = 7; i >= 0; --i) b.push_back(std::uint8_t(v >> (8 * i))); }
  void counted(std::string_view s) {
    u8(static_cast<std::uint8_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
};

// A QEMU stream holding one RAM section: one block of `block_size` bytes
// (whatever it declares), then `pages(w)` writes the page records. With
// `in_part`, the START section ends after the block list and the pages come
// in a PART section, as QEMU writes them.
template <class Pages>
Bytes qemu_ram_stream(std::uint64_t block_size, Pages&& pages, bool in_part = false) {
  BeWriter w;
  w.u32(0x5145564D);  // "QEVM"
  w.u32(3);
  w.u8(0x01);  // START
  w.u32(0);    // section id
  w.counted("ram");
  w.u32(0);  // instance
  w.u32(4);  // version
  w.u64(block_size | 0x04);  // MEM_SIZE: total of the block list
  w.counted("pc.ram");
  w.u64(block_size);
  if (in_part) {
    w.u64(0x10);  // EOS
    w.u8(0x02);   // PART
    w.u32(0);     // section id
  }
  pages(w);
  w.u64(0x10);  // EOS
  w.u8(0x00);   // EOF
  return w.b;
}

// Peak resident memory of this process so far, in bytes.
inline std::uint64_t peak_rss() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;
}

// ASan reserves terabytes of address space, so `ulimit -v` cannot bound a
// child process there; tests then skip that bound.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

// A shell prefix that caps the virtual memory of the command after it.
inline std::string memory_cap_prefix(std::uint64_t mib) {
  if (kAddressSanitizer) return "";
  return "ulimit -v " + std::to_string(mib * 1024) + "; ";
}

}  // namespace statewire::testing
