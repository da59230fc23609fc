// Resolving device/member paths over a StateStream (see state_path.hpp).
#include "statewire/state_path.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <vector>

namespace statewire {

namespace {

Unexpected path_error(Errc code, std::string_view path, std::string what) {
  Error e = make_error(code, std::move(what));
  e.field_path = std::string(path);
  return Unexpected(std::move(e));
}

bool device_matches(const Section& s, std::string_view dev) {
  if (s.name == dev) return true;
  const auto slash = s.name.rfind('/');
  if (slash != std::string::npos && std::string_view(s.name).substr(slash + 1) == dev) return true;
  // QEMU device paths with a '/' inside the vmsd name part ("cpu" vs "cpu_common") are
  // matched only in full or by the last component.
  return false;
}

// A name looked for below a struct: members and subsections, any depth.
void search(Value& v, std::string_view name, const std::string& at,
            std::vector<std::pair<Value*, std::string>>& hits);

void search_struct(Struct& s, std::string_view name, const std::string& at,
                   std::vector<std::pair<Value*, std::string>>& hits) {
  auto join = [&](std::string_view n) { return at.empty() ? std::string(n) : at + "." + std::string(n); };
  for (auto& m : s.members) {
    if (m.name == name) hits.emplace_back(&m.value, join(m.name));
    else search(m.value, name, join(m.name), hits);
  }
  for (auto& sub : s.subsections) search_struct(sub.body, name, join(sub.name), hits);
}

void search(Value& v, std::string_view name, const std::string& at,
            std::vector<std::pair<Value*, std::string>>& hits) {
  if (Struct* st = v.get_if<Struct>()) search_struct(*st, name, at, hits);
}

}  // namespace

Result<ValueRef> find_value(StateStream& stream, std::string_view path) {
  // Device part: up to the first '.' or '[' after which a member starts. An
  // idstr may hold '.' (PCI addresses "0000:00:01.1/ide"), so try the
  // longest device name that matches some section first.
  std::vector<Section*> secs;
  std::size_t dev_end = 0;
  for (std::size_t p = path.size(); p > 0; --p) {
    if (p != path.size() && path[p] != '.' && path[p] != '[') continue;
    std::string_view dev = path.substr(0, p);
    secs.clear();
    for (auto& s : stream.sections)
      if (s.kind != SectionKind::part && s.kind != SectionKind::end && s.name != "ram" &&
          device_matches(s, dev))
        secs.push_back(&s);
    if (!secs.empty()) {
      dev_end = p;
      break;
    }
  }
  if (secs.empty())
    return path_error(Errc::not_found, path,
                      fmt::format("no device section matches \"{}\"", path.substr(0, path.find_first_of(".["))));
  std::string_view rest = path.substr(dev_end);
  Section* sec = nullptr;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    unsigned inst = 0;
    if (close == std::string_view::npos ||
        std::sscanf(std::string(rest.substr(1, close - 1)).c_str(), "%u", &inst) != 1)
      return path_error(Errc::invalid_value, path, "expected [instance number] after the device");
    for (Section* s : secs)
      if (s->instance_id == inst) sec = s;
    if (!sec)
      return path_error(Errc::not_found, path,
                        fmt::format("no instance {} of \"{}\"", inst, path.substr(0, dev_end)));
    rest = rest.substr(close + 1);
  } else if (secs.size() == 1) {
    sec = secs.front();
  } else {
    std::string ids;
    for (Section* s : secs) ids += fmt::format("{}{}", ids.empty() ? "" : ", ", s->instance_id);
    return path_error(Errc::invalid_value, path,
                      fmt::format("\"{}\" has instances {}: say which, e.g. {}[{}]",
                                  path.substr(0, dev_end), ids, path.substr(0, dev_end),
                                  secs.front()->instance_id));
  }
  ValueRef out;
  out.section = sec->label();
  Value* cur = nullptr;
  Struct* st = &sec->body;
  std::string resolved;
  while (!rest.empty()) {
    if (rest.front() == '.') rest.remove_prefix(1);
    if (rest.empty()) return path_error(Errc::invalid_value, path, "path ends with '.'");
    if (rest.front() == '[') {
      const auto close = rest.find(']');
      Array* a = cur ? cur->get_if<Array>() : nullptr;
      unsigned idx = 0;
      if (close == std::string_view::npos ||
          std::sscanf(std::string(rest.substr(1, close - 1)).c_str(), "%u", &idx) != 1)
        return path_error(Errc::invalid_value, path, "expected [index]");
      if (!a)
        return path_error(Errc::invalid_value, path,
                          fmt::format("{} is not an array", resolved.empty() ? "the section" : resolved));
      if (idx >= a->items.size())
        return path_error(Errc::not_found, path,
                          fmt::format("{} has {} elements, no [{}]", resolved, a->items.size(), idx));
      cur = &a->items[idx];
      resolved += fmt::format("[{}]", idx);
      st = cur->get_if<Struct>();
      rest = rest.substr(close + 1);
      continue;
    }
    if (!st)
      return path_error(Errc::invalid_value, path,
                        fmt::format("{} is not a struct", resolved));
    // The longest member (or subsection) name that the rest starts with.
    Value* next = nullptr;
    Struct* next_struct = nullptr;
    std::size_t used = 0;
    std::string name_used;
    for (auto& m : st->members) {
      const std::string& n = m.name;
      if (n.size() > used && rest.substr(0, n.size()) == n &&
          (rest.size() == n.size() || rest[n.size()] == '.' || rest[n.size()] == '[')) {
        next = &m.value;
        next_struct = m.value.get_if<Struct>();
        used = n.size();
        name_used = n;
      }
    }
    for (auto& sub : st->subsections) {
      for (std::string_view n : {std::string_view(sub.name),
                                 std::string_view(sub.name).substr(sub.name.rfind('/') + 1)}) {
        if (n.size() > used && rest.substr(0, n.size()) == n &&
            (rest.size() == n.size() || rest[n.size()] == '.' || rest[n.size()] == '[')) {
          next = nullptr;
          next_struct = &sub.body;
          used = n.size();
          name_used = sub.name;
        }
      }
    }
    if (used == 0) {
      // Not a member here: a unique match deeper down ("serial.divider").
      const std::string_view want = rest.substr(0, rest.find_first_of(".["));
      std::vector<std::pair<Value*, std::string>> hits;
      search_struct(*st, want, resolved, hits);
      if (hits.size() != 1)
        return path_error(Errc::not_found, path,
                          hits.empty()
                              ? fmt::format("no field \"{}\" in {}", want,
                                            resolved.empty() ? out.section : resolved)
                              : fmt::format("\"{}\" is ambiguous: {} and {} more", want,
                                            hits[0].second, hits.size() - 1));
      cur = hits[0].first;
      st = cur->get_if<Struct>();
      resolved = hits[0].second;
      rest.remove_prefix(want.size());
      continue;
    }
    cur = next;
    st = next_struct;
    resolved = resolved.empty() ? name_used : resolved + "." + name_used;
    rest.remove_prefix(used);
  }
  if (!cur && !st) return path_error(Errc::invalid_value, path, "the path names nothing");
  if (!cur) out.body = st;
  out.value = cur;
  out.path = resolved;
  return out;
}

namespace {

std::optional<std::pair<bool, std::uint64_t>> parse_number(std::string_view t) {
  bool neg = false;
  if (!t.empty() && (t.front() == '-' || t.front() == '+')) {
    neg = t.front() == '-';
    t.remove_prefix(1);
  }
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    t.remove_prefix(2);
  }
  if (t.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t) {
    int d = c >= '0' && c <= '9' ? c - '0'
            : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
            : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
    if (d < 0) return std::nullopt;
    if (v > (std::numeric_limits<std::uint64_t>::max() - static_cast<unsigned>(d)) /
                static_cast<unsigned>(base))
      return std::nullopt;
    v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
  }
  return std::pair{neg, v};
}

template <class T>
Result<void> assign(Value& v, bool neg, std::uint64_t mag, std::string_view text) {
  using L = std::numeric_limits<T>;
  if (!neg) {
    if (mag > static_cast<std::uint64_t>(L::max()))
      return fail(Errc::invalid_value,
                  fmt::format("{} does not fit {} (at most {:#x})", text, kind_name(v.kind()),
                              static_cast<std::uint64_t>(L::max())));
    v = Value(static_cast<T>(mag));
    return {};
  }
  if constexpr (std::is_signed_v<T>) {
    const auto lim = static_cast<std::uint64_t>(L::max()) + 1;
    if (mag > lim)
      return fail(Errc::invalid_value,
                  fmt::format("{} does not fit {} (at least {})", text, kind_name(v.kind()),
                              static_cast<std::int64_t>(L::min())));
    v = Value(static_cast<T>(0 - mag));
    return {};
  }
  if (mag == 0) {
    v = Value(T(0));
    return {};
  }
  return fail(Errc::invalid_value,
              fmt::format("{} is negative; the field is {}", text, kind_name(v.kind())));
}

}  // namespace

Result<void> set_scalar(Value& v, std::string_view text) {
  if (v.kind() == ValueKind::boolean) {
    if (text == "true" || text == "1") v = Value(true);
    else if (text == "false" || text == "0") v = Value(false);
    else return fail(Errc::invalid_value, fmt::format("{} is not a bool (true, false, 1, 0)", text));
    return {};
  }
  auto n = parse_number(text);
  if (!n)
    return fail(Errc::invalid_value,
                fmt::format("\"{}\" is not a number (decimal or 0x hex)", text));
  auto [neg, mag] = *n;
  switch (v.kind()) {
    case ValueKind::u8: return assign<std::uint8_t>(v, neg, mag, text);
    case ValueKind::u16: return assign<std::uint16_t>(v, neg, mag, text);
    case ValueKind::u32: return assign<std::uint32_t>(v, neg, mag, text);
    case ValueKind::u64: return assign<std::uint64_t>(v, neg, mag, text);
    case ValueKind::i8: return assign<std::int8_t>(v, neg, mag, text);
    case ValueKind::i16: return assign<std::int16_t>(v, neg, mag, text);
    case ValueKind::i32: return assign<std::int32_t>(v, neg, mag, text);
    case ValueKind::i64: return assign<std::int64_t>(v, neg, mag, text);
    case ValueKind::blob: {
      // A field a dump explained is kept as bytes of its size, in wire order.
      auto& bytes = v.get_if<Blob>()->bytes;
      const std::size_t w = bytes.size();
      if (w == 0 || w > 8)
        return fail(Errc::unsupported,
                    fmt::format("the field is {} bytes of data, not a number", w));
      if (neg || (w < 8 && mag >> (8 * w)))
        return fail(Errc::invalid_value,
                    fmt::format("{} does not fit the field's {} byte{}", text, w, w == 1 ? "" : "s"));
      for (std::size_t i = 0; i < w; ++i) bytes[w - 1 - i] = static_cast<std::uint8_t>(mag >> (8 * i));
      return {};
    }
    default:
      return fail(Errc::unsupported,
                  fmt::format("cannot set a {} from text", kind_name(v.kind())));
  }
}

}  // namespace statewire

namespace statewire {

namespace {

std::string_view trim(std::string_view t) {
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  return t;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "0x0102ab", "01 02 ab", "52:54:00:12:34:56": bytes in the order written.
std::optional<std::vector<std::uint8_t>> parse_hex_bytes(std::string_view t) {
  t = trim(t);
  if (t.size() >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) t.remove_prefix(2);
  std::vector<std::uint8_t> out;
  int high = -1;
  for (char c : t) {
    if (c == ' ' || c == ':' || c == '-' || c == '_') {
      if (high >= 0) return std::nullopt;  // a separator inside a byte
      continue;
    }
    const int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    if (high < 0) {
      high = d;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + d));
      high = -1;
    }
  }
  if (high >= 0 || out.empty()) return std::nullopt;
  return out;
}

// A string value: as typed, or in double quotes with \\, \" and \xNN
// escapes (what `show` prints for bytes that are not printable).
Result<std::string> parse_string(std::string_view t) {
  if (t.size() < 2 || t.front() != '"' || t.back() != '"') return std::string(t);
  t = t.substr(1, t.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '\\') {
      out += t[i];
      continue;
    }
    if (i + 1 >= t.size()) return fail(Errc::invalid_value, "a string ends in a lone backslash");
    const char e = t[++i];
    if (e == '\\' || e == '"') {
      out += e;
    } else if (e == 'x' && i + 2 < t.size() && hex_digit(t[i + 1]) >= 0 && hex_digit(t[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(t[i + 1]) * 16 + hex_digit(t[i + 2]));
      i += 2;
    } else {
      return fail(Errc::invalid_value, fmt::format("unknown escape \\{} in a string", e));
    }
  }
  return out;
}

// "[a, b, [c, d]]" -> "a", "b", "[c, d]": split at top-level commas,
// brackets and quoted strings kept whole.
Result<std::vector<std::string_view>> split_list(std::string_view t) {
  t = trim(t);
  if (t.size() < 2 || t.front() != '[' || t.back() != ']')
    return fail(Errc::invalid_value, "an array takes [a, b, ...] (or hex bytes for an array of u8)");
  t = t.substr(1, t.size() - 2);
  std::vector<std::string_view> out;
  if (trim(t).empty()) return out;
  int depth = 0;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (quoted) {
      if (c == '\\') ++i;
      else if (c == '"') quoted = false;
      continue;
    }
    if (c == '"') quoted = true;
    else if (c == '[') ++depth;
    else if (c == ']' && --depth < 0) return fail(Errc::invalid_value, "unbalanced ] in an array");
    else if (c == ',' && depth == 0) {
      out.push_back(trim(t.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (depth != 0 || quoted) return fail(Errc::invalid_value, "unbalanced [ or \" in an array");
  out.push_back(trim(t.substr(start)));
  return out;
}

bool is_byte(const Value& v) {
  if (v.kind() == ValueKind::u8) return true;
  const Blob* b = v.get_if<Blob>();
  return b && b->bytes.size() == 1;
}

Result<void> set_array(Array& a, std::string_view text) {
  const std::size_t n = a.items.size();
  std::vector<std::string> parts;
  const std::string_view t = trim(text);
  if (!t.empty() && t.front() != '[' && !a.items.empty() &&
      std::all_of(a.items.begin(), a.items.end(), is_byte)) {
    // An array of bytes from hex, like a buffer.
    auto bytes = parse_hex_bytes(t);
    if (!bytes)
      return fail(Errc::invalid_value,
                  fmt::format("\"{}\" is neither [a, b, ...] nor hex bytes", text));
    for (std::uint8_t b : *bytes) parts.push_back(fmt::format("{}", b));
  } else {
    SW_TRY(list, split_list(t));
    for (auto p : list) parts.emplace_back(p);
  }
  if (parts.size() != n)
    return fail(Errc::invalid_value,
                fmt::format("the array has {} element{}, the value gives {} (set keeps an array's "
                            "length: the stream's description fixes it)",
                            n, n == 1 ? "" : "s", parts.size()));
  // All elements or none.
  Array copy = a;
  for (std::size_t i = 0; i < n; ++i) {
    if (auto r = set_value(copy.items[i], parts[i]); !r) {
      Error e = r.error();
      e.message = fmt::format("element [{}]: {}", i, e.message);
      return Unexpected(std::move(e));
    }
  }
  a = std::move(copy);
  return {};
}

}  // namespace

Result<void> set_value(Value& v, std::string_view text) {
  switch (v.kind()) {
    case ValueKind::array: return set_array(*v.get_if<Array>(), text);
    case ValueKind::string: {
      SW_TRY(s, parse_string(text));
      if (s.size() > 0xffffffffu) return fail(Errc::limit_exceeded, "a string over 4 GiB");
      v = Value(std::move(s));
      return {};
    }
    case ValueKind::f64: {
      const std::string t(trim(text));
      char* end = nullptr;
      const double d = std::strtod(t.c_str(), &end);
      if (t.empty() || end != t.c_str() + t.size())
        return fail(Errc::invalid_value, fmt::format("\"{}\" is not a number", text));
      v = Value(d);
      return {};
    }
    case ValueKind::blob: {
      auto& bytes = v.get_if<Blob>()->bytes;
      const std::size_t w = bytes.size();
      // Up to 8 bytes a number fits (big-endian, as QEMU writes integers);
      // any size takes its bytes in hex.
      if (w > 0 && w <= 8 && parse_number(text)) return set_scalar(v, text);
      auto hex = parse_hex_bytes(text);
      if (!hex)
        return fail(Errc::invalid_value,
                    fmt::format("the field is {} bytes of data: give them in hex (0x0102..., "
                                "01:02:..., \"01 02 ...\"){}",
                                w, w <= 8 ? " or as a number" : ""));
      if (hex->size() != w)
        return fail(Errc::invalid_value,
                    fmt::format("the field is {} byte{}, the value gives {}", w, w == 1 ? "" : "s",
                                hex->size()));
      bytes = std::move(*hex);
      return {};
    }
    case ValueKind::structure:
      return fail(Errc::unsupported, "the path names a struct: set its members one by one");
    case ValueKind::null:
      return fail(Errc::unsupported, "the path names a NULL pointer element, which holds no value");
    default: return set_scalar(v, text);
  }
}

}  // namespace statewire
