// Lossless JSON for state trees, the reading half: JSON text -> tree, every
// element checked, errors with its JSON path (layout in tree_json.hpp).
#include "statewire/tree_json.hpp"

#include <fmt/format.h>

#include <bit>
#include <limits>
#include <optional>
#include <utility>
#include <nlohmann/json.hpp>

#include "core/json_document.hpp"

namespace statewire {

namespace {

using Json = nlohmann::ordered_json;


int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Unexpected bad(const std::string& path, const std::string& what) {
  Error e = make_error(Errc::invalid_value, what);
  e.field_path = path;
  return Unexpected(std::move(e));
}

// "0x1f", "-0x10" or "123": integers as strings, as editors and jq keep them.
std::optional<std::pair<bool, std::uint64_t>> parse_int_text(std::string_view t) {
  bool neg = false;
  if (!t.empty() && t.front() == '-') {
    neg = true;
    t.remove_prefix(1);
  }
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    t.remove_prefix(2);
  }
  if (t.empty() || t.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t) {
    int d = base == 16 ? hex_digit(c) : (c >= '0' && c <= '9' ? c - '0' : -1);
    if (d < 0) return std::nullopt;
    if (v > (std::numeric_limits<std::uint64_t>::max() - static_cast<unsigned>(d)) / base)
      return std::nullopt;
    v = v * base + static_cast<unsigned>(d);
  }
  return std::pair{neg, v};
}

template <class T>
Result<T> get_int(const Json& j, const std::string& path) {
  if (j.is_string()) {
    auto p = parse_int_text(j.get_ref<const std::string&>());
    if (!p) return bad(path, fmt::format("\"{}\" is not an integer (decimal or 0x hex)",
                                         j.get_ref<const std::string&>()));
    auto [neg, mag] = *p;
    if (!neg) {
      if (mag > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
        return bad(path, fmt::format("{} does not fit the declared width", j.get_ref<const std::string&>()));
      return static_cast<T>(mag);
    }
    if constexpr (std::is_signed_v<T>) {
      const auto lim = static_cast<std::uint64_t>(std::numeric_limits<T>::max()) + 1;
      if (mag > lim)
        return bad(path, fmt::format("{} does not fit the declared width", j.get_ref<const std::string&>()));
      return static_cast<T>(0 - mag);
    }
    if (mag != 0)
      return bad(path, fmt::format("{} is negative for an unsigned field", j.get_ref<const std::string&>()));
    return T(0);
  }
  if (j.is_number_unsigned()) {
    auto u = j.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
      return bad(path, fmt::format("{} does not fit the declared width", u));
    return static_cast<T>(u);
  }
  if (j.is_number_integer()) {
    auto s = j.get<std::int64_t>();
    if (s < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        (s > 0 && static_cast<std::uint64_t>(s) >
                      static_cast<std::uint64_t>(std::numeric_limits<T>::max())))
      return bad(path, fmt::format("{} does not fit the declared width", s));
    return static_cast<T>(s);
  }
  return bad(path, "expected an integer");
}

Result<std::uint32_t> get_u32_member(const Json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end()) return bad(path, fmt::format("missing \"{}\"", key));
  return get_int<std::uint32_t>(*it, path + "." + key);
}

Result<std::vector<std::uint8_t>> from_hex(const std::string& s, const std::string& path) {
  if (s.size() % 2) return bad(path, "odd number of hex digits");
  std::vector<std::uint8_t> out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return bad(path, fmt::format("bad hex digit near position {}", 2 * i));
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

// A name as the writer gives it: `key` as a string, or `key`_hex for names
// that are not valid UTF-8.
Result<std::string> get_name_member(const Json& j, const char* key, const std::string& path) {
  if (auto it = j.find(key); it != j.end() && it->is_string()) return it->get<std::string>();
  const std::string hex_key = std::string(key) + "_hex";
  if (auto it = j.find(hex_key); it != j.end() && it->is_string()) {
    SW_TRY(bytes, from_hex(it->get_ref<const std::string&>(), path + "." + hex_key));
    return std::string(bytes.begin(), bytes.end());
  }
  return bad(path, fmt::format("missing string \"{}\"", key));
}

Result<Struct> parse_struct(const Json& j, const std::string& path, std::size_t depth,
                            std::size_t max_depth);

Unexpected too_deep(const std::string& path, std::size_t max_depth) {
  Error e = make_error(Errc::limit_exceeded, fmt::format("nested deeper than {}", max_depth));
  e.field_path = path;
  return Unexpected(std::move(e));
}

// Depth counts tree levels as the framed reader does: one per array or struct.
Result<Value> parse_value(const Json& j, const std::string& path, std::size_t depth,
                          std::size_t max_depth) {
  if (depth > max_depth) return too_deep(path, max_depth);
  if (!j.is_object()) return bad(path, "expected a value object");
  auto t = j.find("t");
  if (t == j.end() || !t->is_string()) return bad(path, "missing type \"t\"");
  const std::string type = t->get<std::string>();
  auto vit = j.find("v");
  auto need_v = [&]() -> Result<const Json*> {
    if (vit == j.end()) return bad(path, "missing value \"v\"");
    return &*vit;
  };
  const std::string vpath = path + ".v";
  if (type == "null") return Value(Null{});
  if (type == "bool") {
    SW_TRY(v, need_v());
    if (!v->is_boolean()) return bad(vpath, "expected true or false");
    return Value(v->get<bool>());
  }
#define SW_INT_CASE(name, T)                     \
  if (type == name) {                            \
    SW_TRY(v, need_v());                         \
    SW_TRY(x, get_int<T>(*v, vpath));            \
    return Value(x);                             \
  }
  SW_INT_CASE("u8", std::uint8_t)
  SW_INT_CASE("u16", std::uint16_t)
  SW_INT_CASE("u32", std::uint32_t)
  SW_INT_CASE("u64", std::uint64_t)
  SW_INT_CASE("i8", std::int8_t)
  SW_INT_CASE("i16", std::int16_t)
  SW_INT_CASE("i32", std::int32_t)
  SW_INT_CASE("i64", std::int64_t)
#undef SW_INT_CASE
  if (type == "f64") {
    // The bit pattern is authoritative; "v" alone is accepted for hand edits.
    if (auto b = j.find("bits"); b != j.end()) {
      if (!b->is_string() || b->get<std::string>().size() != 16)
        return bad(path + ".bits", "expected 16 hex digits");
      std::uint64_t bits = 0;
      for (char c : b->get<std::string>()) {
        int d = hex_digit(c);
        if (d < 0) return bad(path + ".bits", "expected 16 hex digits");
        bits = bits << 4 | static_cast<unsigned>(d);
      }
      return Value(std::bit_cast<double>(bits));
    }
    SW_TRY(v, need_v());
    if (!v->is_number()) return bad(vpath, "expected a number");
    return Value(v->get<double>());
  }
  if (type == "blob") {
    SW_TRY(v, need_v());
    if (!v->is_string()) return bad(vpath, "expected a hex string");
    SW_TRY(bytes, from_hex(v->get_ref<const std::string&>(), vpath));
    return Value(Blob{std::move(bytes)});
  }
  if (type == "string") {
    if (auto h = j.find("hex"); h != j.end()) {
      if (!h->is_string()) return bad(path + ".hex", "expected a hex string");
      SW_TRY(bytes, from_hex(h->get_ref<const std::string&>(), path + ".hex"));
      return Value(std::string(bytes.begin(), bytes.end()));
    }
    SW_TRY(v, need_v());
    if (!v->is_string()) return bad(vpath, "expected a string");
    return Value(v->get<std::string>());
  }
  if (type == "array") {
    Array a;
    if (auto l = j.find("layout"); l != j.end()) {
      if (*l == "marker_list")
        a.layout = ArrayLayout::marker_list;
      else if (*l == "gtree")
        a.layout = ArrayLayout::gtree;
      else if (*l != "plain")
        return bad(path + ".layout", "expected \"plain\", \"marker_list\" or \"gtree\"");
    }
    auto items = j.find("items");
    if (items == j.end() || !items->is_array()) return bad(path, "missing array \"items\"");
    if (auto m = j.find("markers"); m != j.end()) {
      // A list's own marker bytes: one per item, never 0x00 (that ends the list).
      if (!m->is_array() || m->size() != items->size())
        return bad(path + ".markers", "expected one marker byte per item");
      for (const Json& b : *m) {
        if (!b.is_number_unsigned() || b.get<std::uint64_t>() == 0 || b.get<std::uint64_t>() > 255)
          return bad(path + ".markers", "expected bytes 1 to 255");
        a.markers.push_back(static_cast<std::uint8_t>(b.get<std::uint64_t>()));
      }
    }
    a.items.reserve(items->size());
    for (std::size_t i = 0; i < items->size(); ++i) {
      SW_TRY(item, parse_value((*items)[i], fmt::format("{}[{}]", path, i), depth + 1, max_depth));
      a.items.push_back(std::move(item));
    }
    return Value(std::move(a));
  }
  if (type == "struct") {
    SW_TRY(s, parse_struct(j, path, depth + 1, max_depth));
    return Value(std::move(s));
  }
  return bad(path + ".t", fmt::format("unknown type \"{}\"", type));
}

Result<Struct> parse_struct(const Json& j, const std::string& path, std::size_t depth,
                            std::size_t max_depth) {
  if (depth > max_depth) return too_deep(path, max_depth);
  Struct s;
  auto fields = j.find("fields");
  if (fields == j.end() || !fields->is_array()) return bad(path, "missing array \"fields\"");
  s.members.reserve(fields->size());
  for (std::size_t i = 0; i < fields->size(); ++i) {
    const Json& f = (*fields)[i];
    std::string fpath = fmt::format("{}.fields[{}]", path, i);
    if (!f.is_object()) return bad(fpath, "expected a field object");
    SW_TRY(name, get_name_member(f, "n", fpath));
    SW_TRY(v, parse_value(f, path + "." + name, depth, max_depth));
    s.members.push_back({std::move(name), std::move(v)});
  }
  if (auto subs = j.find("subsections"); subs != j.end()) {
    if (!subs->is_array()) return bad(path + ".subsections", "expected an array");
    for (std::size_t i = 0; i < subs->size(); ++i) {
      const Json& sj = (*subs)[i];
      std::string spath = fmt::format("{}.subsections[{}]", path, i);
      if (!sj.is_object()) return bad(spath, "expected a subsection object");
      SubsectionState sub;
      SW_TRY(name, get_name_member(sj, "name", spath));
      sub.name = std::move(name);
      SW_TRY(ver, get_u32_member(sj, "version_id", spath));
      sub.version_id = ver;
      SW_TRY(body, parse_struct(sj, spath, depth + 1, max_depth));
      sub.body = std::move(body);
      s.subsections.push_back(std::move(sub));
    }
  }
  return s;
}

Result<Json> parse_text(std::string_view text, const Limits& limits) {
  auto root = detail::parse_json_document<Json>(text, limits, "tree JSON");
  if (!root) return fail(std::move(root.error().in_field("$")));
  return root;
}

}  // namespace

Result<StateStream> stream_from_json(std::string_view text, const Limits& limits) {
  SW_TRY(root, parse_text(text, limits));
  auto secs = root.find("sections");
  if (!root.is_object() || secs == root.end() || !secs->is_array())
    return bad("$", "expected {\"sections\": [...]}");
  StateStream out;
  for (std::size_t i = 0; i < secs->size(); ++i) {
    const Json& sj = (*secs)[i];
    std::string path = fmt::format("$.sections[{}]", i);
    if (!sj.is_object()) return bad(path, "expected a section object");
    Section sec;
    SW_TRY(name, get_name_member(sj, "name", path));
    sec.name = std::move(name);
    SW_TRY(inst, get_u32_member(sj, "instance_id", path));
    sec.instance_id = inst;
    SW_TRY(ver, get_u32_member(sj, "version_id", path));
    sec.version_id = ver;
    if (auto k = sj.find("kind"); k != sj.end()) {
      if (*k == "full") sec.kind = SectionKind::full;
      else if (*k == "start") sec.kind = SectionKind::start;
      else if (*k == "part") sec.kind = SectionKind::part;
      else if (*k == "end") sec.kind = SectionKind::end;
      else return bad(path + ".kind", "expected full, start, part or end");
      SW_TRY(id, get_u32_member(sj, "section_id", path));
      sec.section_id = id;
    }
    SW_TRY(body, parse_struct(sj, sec.label(), 0, limits.max_depth));
    sec.body = std::move(body);
    out.sections.push_back(std::move(sec));
  }
  if (auto env = root.find("envelope"); env != root.end()) {
    if (!env->is_object()) return bad("$.envelope", "expected an object");
    SW_TRY(body, parse_struct(*env, "$.envelope", 0, limits.max_depth));
    out.envelope = std::move(body);
  }
  return out;
}

Result<Struct> struct_from_json(std::string_view text, const Limits& limits) {
  SW_TRY(root, parse_text(text, limits));
  return parse_struct(root, "$", 0, limits.max_depth);
}

}  // namespace statewire