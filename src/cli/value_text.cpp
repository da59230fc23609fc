#include "cli/value_text.hpp"

#include <fmt/format.h>

namespace statewire::cli {

std::string value_text(const Value& v) {
  switch (v.kind()) {
    case ValueKind::null: return "null";
    case ValueKind::boolean: return *v.get_if<bool>() ? "true" : "false";
    case ValueKind::u8: case ValueKind::u16: case ValueKind::u32: case ValueKind::u64: {
      std::uint64_t x = 0;
      v.as_u64(x);
      return x < 10 ? fmt::format("{}", x) : fmt::format("{:#x} ({})", x, x);
    }
    case ValueKind::i8: case ValueKind::i16: case ValueKind::i32: case ValueKind::i64: {
      std::uint64_t bits = 0;
      v.as_u64(bits);
      const std::size_t w = v.scalar_width();
      if (w < 8) bits &= (std::uint64_t(1) << (8 * w)) - 1;
      std::int64_t s = static_cast<std::int64_t>(bits);
      if (w < 8 && (bits >> (8 * w - 1)) & 1) s -= std::int64_t(1) << (8 * w);
      return s >= 0 && s < 10 ? fmt::format("{}", s) : fmt::format("{:#x} ({})", bits, s);
    }
    case ValueKind::f64: return fmt::format("{}", *v.get_if<double>());
    case ValueKind::string: return fmt::format("\"{}\"", *v.get_if<std::string>());
    case ValueKind::blob: {
      const auto& b = v.get_if<Blob>()->bytes;
      std::string out;
      const std::size_t shown = std::min<std::size_t>(b.size(), 32);
      for (std::size_t i = 0; i < shown; ++i) out += fmt::format("{}{:02x}", i ? " " : "", b[i]);
      if (b.size() > shown) out += fmt::format(" ... ({} bytes)", b.size());
      if (b.empty()) out = "(0 bytes)";
      return out;
    }
    case ValueKind::array: return fmt::format("[{} elements]", v.get_if<Array>()->items.size());
    case ValueKind::structure: return "{...}";
  }
  return "?";
}

void leaf_lines(std::string& out, const std::string& path, const Value& v, const std::string& indent) {
  if (const Struct* s = v.get_if<Struct>()) return leaf_lines(out, path, *s, indent);
  if (const Array* a = v.get_if<Array>()) {
    if (a->items.empty()) out += fmt::format("{}{} = []\n", indent, path);
    for (std::size_t i = 0; i < a->items.size(); ++i)
      leaf_lines(out, fmt::format("{}[{}]", path, i), a->items[i], indent);
    return;
  }
  out += fmt::format("{}{} = {}\n", indent, path, value_text(v));
}

void leaf_lines(std::string& out, const std::string& path, const Struct& s, const std::string& indent) {
  auto join = [&](const std::string& n) { return path.empty() ? n : path + "." + n; };
  for (const auto& m : s.members) leaf_lines(out, join(m.name), m.value, indent);
  for (const auto& sub : s.subsections) leaf_lines(out, join(sub.name), sub.body, indent);
}

}  // namespace statewire::cli
