#include "cli/any_stream.hpp"

#include <cstring>

#include "cli/mapped_file.hpp"
#include "statewire/framed.hpp"
#include "statewire/tree_json.hpp"

namespace statewire::cli {

Result<InputStream> read_any_stream(const std::string& path, const qemu::QemuDecodeOptions& qemu) {
  SW_TRY(file, MappedFile::open(path));
  return decode_any_stream(file.bytes(), path, qemu);
}

Result<InputStream> decode_any_stream(ByteSpan b, const std::string& path,
                                      const qemu::QemuDecodeOptions& qemu) {
  if (b.size() >= 4 && std::memcmp(b.data(), "QEVM", 4) == 0) {
    auto s = qemu::decode_qemu_stream(b, qemu);
    if (!s) return Unexpected(std::move(s.error().in_section(path)));
    return InputStream{std::move(*s), "qemu"};
  }
  if (is_framed(b)) {
    auto f = decode_framed(b);
    if (!f) return Unexpected(std::move(f.error().in_section(path)));
    return InputStream{std::move(f->stream), "framed"};
  }
  std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
  auto tree = stream_from_json(text);
  if (!tree) return Unexpected(std::move(tree.error().in_section(path)));
  return InputStream{std::move(*tree), "json"};
}

}  // namespace statewire::cli
