// Page record headers, zero detection and CRC32C over many pages.
#include "memory/page_wire.hpp"

#include <bit>

#include "core/crc32c.hpp"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace statewire::detail {

static_assert(std::endian::native == std::endian::little,
              "page records are written in the machine's order, which is little-endian here");

namespace {
template <class T>
void put(std::uint8_t* out, std::size_t at, T v) {
  std::memcpy(out + at, &v, sizeof v);
}
template <class T>
T get(const std::uint8_t* in, std::size_t at) {
  T v;
  std::memcpy(&v, in + at, sizeof v);
  return v;
}
}  // namespace

void put_header(std::uint8_t* out, const PageHeader& h) noexcept {
  put<std::uint32_t>(out, 0, kPageMagic);
  out[4] = static_cast<std::uint8_t>(h.kind);
  out[5] = h.flags;
  put<std::uint16_t>(out, 6, h.region);
  put<std::uint32_t>(out, 8, h.count);
  put<std::uint32_t>(out, 12, h.payload);
  put<std::uint64_t>(out, 16, h.round);
  put<std::uint64_t>(out, 24, h.aux);
  put<std::uint32_t>(out, 32, 0);
}

bool get_header(const std::uint8_t* in, PageHeader& h) noexcept {
  if (get<std::uint32_t>(in, 0) != kPageMagic) return false;
  h.kind = static_cast<PageRecord>(in[4]);
  h.flags = in[5];
  h.region = get<std::uint16_t>(in, 6);
  h.count = get<std::uint32_t>(in, 8);
  h.payload = get<std::uint32_t>(in, 12);
  h.round = get<std::uint64_t>(in, 16);
  h.aux = get<std::uint64_t>(in, 24);
  return true;
}

std::uint32_t header_crc(const std::uint8_t* header, const PageEntry* table,
                         std::size_t count) noexcept {
  std::uint32_t c = crc32c(0, header, 36);
  return crc32c(c, table, count * sizeof(PageEntry));
}

bool is_zero_page(const std::uint8_t* page, std::size_t size) noexcept {
  for (std::size_t at = 0; at < size; at += 64) {
    std::uint64_t w[8];
    std::memcpy(w, page + at, 64);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
  }
  return true;
}

namespace {

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) void crc4(const std::uint8_t* a, const std::uint8_t* b,
                                            const std::uint8_t* c, const std::uint8_t* d,
                                            std::size_t size, std::uint32_t* out) noexcept {
  std::uint64_t ca = 0xffffffffu, cb = 0xffffffffu, cc = 0xffffffffu, cd = 0xffffffffu;
  for (std::size_t i = 0; i < size; i += 8) {
    std::uint64_t wa, wb, wc, wd;
    std::memcpy(&wa, a + i, 8);
    std::memcpy(&wb, b + i, 8);
    std::memcpy(&wc, c + i, 8);
    std::memcpy(&wd, d + i, 8);
    ca = _mm_crc32_u64(ca, wa);
    cb = _mm_crc32_u64(cb, wb);
    cc = _mm_crc32_u64(cc, wc);
    cd = _mm_crc32_u64(cd, wd);
  }
  out[0] = ~static_cast<std::uint32_t>(ca);
  out[1] = ~static_cast<std::uint32_t>(cb);
  out[2] = ~static_cast<std::uint32_t>(cc);
  out[3] = ~static_cast<std::uint32_t>(cd);
}
#endif

}  // namespace

void crc_pages(const std::uint8_t* const* pages, std::size_t count, std::size_t size,
               std::uint32_t* out) noexcept {
  std::size_t i = 0;
#if defined(__x86_64__)
  static const bool have_sse42 = __builtin_cpu_supports("sse4.2");
  if (have_sse42)
    for (; i + 4 <= count; i += 4) crc4(pages[i], pages[i + 1], pages[i + 2], pages[i + 3], size, out + i);
#endif
  for (; i < count; ++i) out[i] = crc32c(0, pages[i], size);
}

}  // namespace statewire::detail
