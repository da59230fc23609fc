#include "statewire/value.hpp"

#include <fmt/format.h>

#include <cstring>

namespace statewire {

std::string_view kind_name(ValueKind k) noexcept {
  static constexpr std::string_view names[] = {"null", "u8",  "u16",  "u32", "u64",
                                               "i8",   "i16", "i32",  "i64", "bool",
                                               "f64",  "blob", "string", "array", "struct"};
  return names[static_cast<std::size_t>(k)];
}

bool operator==(const Array& a, const Array& b) {
  return a.layout == b.layout && a.items == b.items && a.markers == b.markers;
}

bool operator==(const Struct& a, const Struct& b) {
  return a.members == b.members && a.subsections == b.subsections;
}

const Value* Struct::find(std::string_view name) const {
  for (const auto& m : members)
    if (m.name == name) return &m.value;
  return nullptr;
}

Value* Struct::find(std::string_view name) {
  for (auto& m : members)
    if (m.name == name) return &m.value;
  return nullptr;
}

bool Value::is_integer() const noexcept {
  auto k = kind();
  return k >= ValueKind::u8 && k <= ValueKind::boolean;
}

bool Value::as_u64(std::uint64_t& out) const noexcept {
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T>) {
          out = static_cast<std::uint64_t>(x);
          return true;
        } else {
          return false;
        }
      },
      v);
}

std::size_t Value::scalar_width() const noexcept {
  return std::visit(
      [](const auto& x) -> std::size_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_arithmetic_v<T>)
          return sizeof(T);
        else
          return 0;
      },
      v);
}

bool operator==(const Value& a, const Value& b) {
  if (a.v.index() != b.v.index()) return false;
  if (const double* x = a.get_if<double>()) {
    const double* y = b.get_if<double>();
    return std::memcmp(x, y, sizeof(double)) == 0;
  }
  return a.v == b.v;
}

std::string Section::label() const { return fmt::format("{}/{}", name, instance_id); }

namespace {

std::string hex(const std::vector<std::uint8_t>& b, std::size_t max = 64) {
  std::string out;
  for (std::size_t i = 0; i < b.size() && i < max; ++i) out += fmt::format("{:02x}", b[i]);
  if (b.size() > max) out += fmt::format("... ({} bytes)", b.size());
  return out;
}

void render(std::string& out, const Struct& s, int depth);

void render_value(std::string& out, const Value& v, int depth) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Null>) {
          out += "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          out += x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          out += fmt::format("{}", x);
        } else if constexpr (std::is_integral_v<T>) {
          if constexpr (std::is_signed_v<T>)
            out += fmt::format("{}", static_cast<std::int64_t>(x));
          else
            out += fmt::format("{:#x}", static_cast<std::uint64_t>(x));
        } else if constexpr (std::is_same_v<T, Blob>) {
          out += x.bytes.empty() ? "<0 bytes>" : hex(x.bytes);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out += fmt::format("\"{}\"", x);
        } else if constexpr (std::is_same_v<T, Array>) {
          bool simple = x.items.empty() || x.items.front().scalar_width() != 0;
          if (simple) {
            out += "[";
            for (std::size_t i = 0; i < x.items.size(); ++i) {
              if (i) out += ", ";
              render_value(out, x.items[i], depth);
            }
            out += "]";
          } else {
            out += fmt::format("[{} items]\n", x.items.size());
            for (std::size_t i = 0; i < x.items.size(); ++i) {
              out += fmt::format("{:{}}[{}] ", "", (depth + 1) * 2, i);
              render_value(out, x.items[i], depth + 1);
              if (out.empty() || out.back() != '\n') out += "\n";
            }
          }
        } else if constexpr (std::is_same_v<T, Struct>) {
          out += "{\n";
          render(out, x, depth + 1);
          out += fmt::format("{:{}}}}", "", depth * 2);
        }
      },
      v.v);
}

void render(std::string& out, const Struct& s, int depth) {
  for (const auto& m : s.members) {
    out += fmt::format("{:{}}{} ({}) = ", "", depth * 2, m.name, kind_name(m.value.kind()));
    render_value(out, m.value, depth);
    if (out.back() != '\n') out += "\n";
  }
  for (const auto& sub : s.subsections) {
    out += fmt::format("{:{}}subsection {} v{}\n", "", depth * 2, sub.name, sub.version_id);
    render(out, sub.body, depth + 1);
  }
}

}  // namespace

std::string to_text(const Value& v) {
  std::string out;
  render_value(out, v, 0);
  return out;
}

std::string to_text(const Struct& s) {
  std::string out;
  render(out, s, 0);
  return out;
}

std::string to_text(const Section& s) {
  std::string out = fmt::format("section {} instance {} version {}\n", s.name, s.instance_id,
                                s.version_id);
  render(out, s.body, 1);
  return out;
}

std::string to_text(const StateStream& s) {
  std::string out;
  for (const auto& sec : s.sections) out += to_text(sec);
  return out;
}

}  // namespace statewire
