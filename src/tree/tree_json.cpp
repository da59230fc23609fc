// Lossless JSON for state trees (layout in tree_json.hpp).
#include "statewire/tree_json.hpp"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <nlohmann/json.hpp>

namespace statewire {

namespace {

using Json = nlohmann::ordered_json;

// Trees nest as deep as descriptions do (QEMU: 5); bound hostile input.
constexpr std::size_t kMaxDepth = 64;

std::string to_hex(const std::vector<std::uint8_t>& b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(b.size() * 2, '0');
  for (std::size_t i = 0; i < b.size(); ++i) {
    s[2 * i] = digits[b[i] >> 4];
    s[2 * i + 1] = digits[b[i] & 15];
  }
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Json struct_json(const Struct& s);

Json value_json(const Value& v) {
  Json j;
  j["t"] = kind_name(v.kind());
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Null>) {
        } else if constexpr (std::is_same_v<T, double>) {
          j["v"] = std::isfinite(x) ? Json(x) : Json(nullptr);
          j["bits"] = fmt::format("{:016x}", std::bit_cast<std::uint64_t>(x));
        } else if constexpr (std::is_same_v<T, bool>) {
          j["v"] = x;
        } else if constexpr (std::is_integral_v<T>) {
          // jq 1.6 (and JavaScript) hold numbers as doubles: beyond 2^53 a
          // number would come back changed, so such values are written as a
          // "0x..." string, which the reader accepts for any integer.
          constexpr std::int64_t kExact = std::int64_t(1) << 53;
          if constexpr (std::is_signed_v<T>) {
            const auto w = static_cast<std::int64_t>(x);
            if (w > kExact || w < -kExact)
              j["v"] = w < 0 ? fmt::format("-0x{:x}", 0 - static_cast<std::uint64_t>(w))
                             : fmt::format("0x{:x}", w);
            else
              j["v"] = w;
          } else {
            const auto w = static_cast<std::uint64_t>(x);
            if (w > static_cast<std::uint64_t>(kExact))
              j["v"] = fmt::format("0x{:x}", w);
            else
              j["v"] = w;
          }
        } else if constexpr (std::is_same_v<T, Blob>) {
          j["v"] = to_hex(x.bytes);
        } else if constexpr (std::is_same_v<T, std::string>) {
          j["v"] = x;
        } else if constexpr (std::is_same_v<T, Array>) {
          if (x.layout == ArrayLayout::marker_list) j["layout"] = "marker_list";
          if (x.layout == ArrayLayout::gtree) j["layout"] = "gtree";
          if (!x.markers.empty()) j["markers"] = x.markers;
          Json items = Json::array();
          for (const auto& it : x.items) items.push_back(value_json(it));
          j["items"] = std::move(items);
        } else if constexpr (std::is_same_v<T, Struct>) {
          Json body = struct_json(x);
          for (auto it = body.begin(); it != body.end(); ++it) j[it.key()] = std::move(it.value());
        }
      },
      v.v);
  return j;
}

Json struct_json(const Struct& s) {
  Json j;
  Json fields = Json::array();
  for (const auto& m : s.members) {
    Json f;
    f["n"] = m.name;
    Json v = value_json(m.value);
    for (auto it = v.begin(); it != v.end(); ++it) f[it.key()] = std::move(it.value());
    fields.push_back(std::move(f));
  }
  j["fields"] = std::move(fields);
  if (!s.subsections.empty()) {
    Json subs = Json::array();
    for (const auto& sub : s.subsections) {
      Json sj;
      sj["name"] = sub.name;
      sj["version_id"] = sub.version_id;
      Json body = struct_json(sub.body);
      for (auto it = body.begin(); it != body.end(); ++it) sj[it.key()] = std::move(it.value());
      subs.push_back(std::move(sj));
    }
    j["subsections"] = std::move(subs);
  }
  return j;
}

Json section_json(const Section& s) {
  Json j;
  j["name"] = s.name;
  j["instance_id"] = s.instance_id;
  j["version_id"] = s.version_id;
  if (s.kind != SectionKind::full || s.section_id != 0) {
    static constexpr const char* kinds[] = {"full", "start", "part", "end"};
    j["kind"] = kinds[static_cast<int>(s.kind)];
    j["section_id"] = s.section_id;
  }
  Json body = struct_json(s.body);
  for (auto it = body.begin(); it != body.end(); ++it) j[it.key()] = std::move(it.value());
  return j;
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

Result<std::string> get_str_member(const Json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return bad(path, fmt::format("missing string \"{}\"", key));
  return it->get<std::string>();
}

Result<Struct> parse_struct(const Json& j, const std::string& path, std::size_t depth);

Result<Value> parse_value(const Json& j, const std::string& path, std::size_t depth) {
  if (depth > kMaxDepth) return bad(path, fmt::format("nested deeper than {}", kMaxDepth));
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
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() % 2) return bad(vpath, "odd number of hex digits");
    Blob blob;
    blob.bytes.resize(s.size() / 2);
    for (std::size_t i = 0; i < blob.bytes.size(); ++i) {
      int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
      if (hi < 0 || lo < 0) return bad(vpath, fmt::format("bad hex digit near position {}", 2 * i));
      blob.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return Value(std::move(blob));
  }
  if (type == "string") {
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
      SW_TRY(item, parse_value((*items)[i], fmt::format("{}[{}]", path, i), depth + 1));
      a.items.push_back(std::move(item));
    }
    return Value(std::move(a));
  }
  if (type == "struct") {
    SW_TRY(s, parse_struct(j, path, depth + 1));
    return Value(std::move(s));
  }
  return bad(path + ".t", fmt::format("unknown type \"{}\"", type));
}

Result<Struct> parse_struct(const Json& j, const std::string& path, std::size_t depth) {
  if (depth > kMaxDepth) return bad(path, fmt::format("nested deeper than {}", kMaxDepth));
  Struct s;
  auto fields = j.find("fields");
  if (fields == j.end() || !fields->is_array()) return bad(path, "missing array \"fields\"");
  s.members.reserve(fields->size());
  for (std::size_t i = 0; i < fields->size(); ++i) {
    const Json& f = (*fields)[i];
    std::string fpath = fmt::format("{}.fields[{}]", path, i);
    if (!f.is_object()) return bad(fpath, "expected a field object");
    SW_TRY(name, get_str_member(f, "n", fpath));
    SW_TRY(v, parse_value(f, path + "." + name, depth + 1));
    s.members.push_back({std::move(name), std::move(v)});
  }
  if (auto subs = j.find("subsections"); subs != j.end()) {
    if (!subs->is_array()) return bad(path + ".subsections", "expected an array");
    for (std::size_t i = 0; i < subs->size(); ++i) {
      const Json& sj = (*subs)[i];
      std::string spath = fmt::format("{}.subsections[{}]", path, i);
      if (!sj.is_object()) return bad(spath, "expected a subsection object");
      SubsectionState sub;
      SW_TRY(name, get_str_member(sj, "name", spath));
      sub.name = std::move(name);
      SW_TRY(ver, get_u32_member(sj, "version_id", spath));
      sub.version_id = ver;
      SW_TRY(body, parse_struct(sj, spath, depth + 1));
      sub.body = std::move(body);
      s.subsections.push_back(std::move(sub));
    }
  }
  return s;
}

Result<Json> parse_text(std::string_view text) {
  Json root = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return bad("$", "not valid JSON");
  return root;
}

}  // namespace

std::string to_json(const StateStream& s, const TreeJsonOptions& opt) {
  Json root;
  Json secs = Json::array();
  for (const auto& sec : s.sections) secs.push_back(section_json(sec));
  root["sections"] = std::move(secs);
  if (!s.envelope.members.empty() || !s.envelope.subsections.empty())
    root["envelope"] = struct_json(s.envelope);
  return root.dump(opt.indent) + "\n";
}

std::string to_json(const Struct& s, const TreeJsonOptions& opt) {
  return struct_json(s).dump(opt.indent) + "\n";
}

Result<StateStream> stream_from_json(std::string_view text) {
  SW_TRY(root, parse_text(text));
  auto secs = root.find("sections");
  if (!root.is_object() || secs == root.end() || !secs->is_array())
    return bad("$", "expected {\"sections\": [...]}");
  StateStream out;
  for (std::size_t i = 0; i < secs->size(); ++i) {
    const Json& sj = (*secs)[i];
    std::string path = fmt::format("$.sections[{}]", i);
    if (!sj.is_object()) return bad(path, "expected a section object");
    Section sec;
    SW_TRY(name, get_str_member(sj, "name", path));
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
    SW_TRY(body, parse_struct(sj, sec.label(), 1));
    sec.body = std::move(body);
    out.sections.push_back(std::move(sec));
  }
  if (auto env = root.find("envelope"); env != root.end()) {
    if (!env->is_object()) return bad("$.envelope", "expected an object");
    SW_TRY(body, parse_struct(*env, "$.envelope", 1));
    out.envelope = std::move(body);
  }
  return out;
}

Result<Struct> struct_from_json(std::string_view text) {
  SW_TRY(root, parse_text(text));
  return parse_struct(root, "$", 0);
}

}  // namespace statewire
