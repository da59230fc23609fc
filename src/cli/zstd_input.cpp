#include "cli/zstd_input.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "cli/spool_file.hpp"

namespace statewire::cli {

namespace {
constexpr unsigned char kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
// zstd's own limit for a frame's window: the decoder allocates the window a
// frame header asks for, so a hostile header cannot ask for more than this.
constexpr int kMaxWindowLog = 27;  // 128 MiB
}  // namespace

bool starts_with_zstd_frame(int fd) {
  unsigned char head[4];
  return pread(fd, head, sizeof head, 0) == static_cast<ssize_t>(sizeof head) &&
         std::memcmp(head, kZstdMagic, sizeof head) == 0;
}

Result<int> unzstd_to_spool(int fd, const std::string& name) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return fail(Errc::io_error, "out of memory for the zstd decoder");
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kMaxWindowLog);
  SW_TRY(out, make_spool_file(name));
  SpoolGuard guard{out};
  std::vector<char> in_buf(ZSTD_DStreamInSize() > (1u << 20) ? ZSTD_DStreamInSize() : (1u << 20));
  std::vector<char> out_buf(ZSTD_DStreamOutSize() > (1u << 20) ? ZSTD_DStreamOutSize() : (1u << 20));
  std::uint64_t consumed = 0;
  std::size_t last = 0;  // ZSTD_decompressStream's hint: 0 once a frame is complete
  for (off_t at = 0;;) {
    ssize_t n = pread(fd, in_buf.data(), in_buf.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Errc::io_error, fmt::format("cannot read {}: {}", name, std::strerror(errno)));
    if (n == 0) break;
    at += n;
    ZSTD_inBuffer in{in_buf.data(), static_cast<std::size_t>(n), 0};
    while (in.pos < in.size) {
      ZSTD_outBuffer o{out_buf.data(), out_buf.size(), 0};
      last = ZSTD_decompressStream(dctx.get(), &o, &in);
      if (ZSTD_isError(last))
        return fail(Errc::invalid_value,
                    fmt::format("{}: zstd data damaged near compressed offset {}: {}", name,
                                consumed + in.pos, ZSTD_getErrorName(last)));
      SW_CHECK(write_all(out, out_buf.data(), o.pos, name));
    }
    consumed += static_cast<std::uint64_t>(n);
    // Flush what the decoder still holds for this input.
    for (;;) {
      ZSTD_outBuffer o{out_buf.data(), out_buf.size(), 0};
      ZSTD_inBuffer none{nullptr, 0, 0};
      std::size_t r = ZSTD_decompressStream(dctx.get(), &o, &none);
      if (ZSTD_isError(r)) break;
      SW_CHECK(write_all(out, out_buf.data(), o.pos, name));
      if (o.pos < o.size) break;
    }
  }
  if (last != 0)
    return fail(Errc::truncated,
                fmt::format("{}: ends inside a zstd frame after {} compressed bytes", name, consumed));
  guard.release();
  return out;
}

}  // namespace statewire::cli
