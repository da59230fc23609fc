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

// Writes what value_json(v).dump(indent) writes, without building the JSON
// tree: the section-at-a-time writer emits RAM pages this way (building and
// dumping a tree per 4 KiB page cost most of a conversion).
class Emitter {
 public:
  Emitter(std::string& out, int indent) : out_(out), indent_(indent) {}

  void value(const Value& v, int level) {
    out_ += '{';
    value_members(v, level + 1);
    close(level, '}');
  }

 private:
  void newline(int level) {
    if (indent_ < 0) return;
    out_ += '\n';
    out_.append(static_cast<std::size_t>(level * indent_), ' ');
  }
  void key(std::string_view k, int level, bool first) {
    if (!first) out_ += ',';
    newline(level);
    out_ += '"';
    out_ += k;
    out_ += indent_ < 0 ? "\":" : "\": ";
  }
  void close(int level, char c) {
    newline(level);
    out_ += c;
  }
  void string(const std::string& s) {
    for (char c : s)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == '"' ||
          c == '\\') {
        out_ += Json(s).dump();  // nlohmann's own escaping for anything unusual
        return;
      }
    out_ += '"';
    out_ += s;
    out_ += '"';
  }

  void value_members(const Value& v, int level, bool first = true) {
    key("t", level, first);
    out_ += '"';
    out_ += kind_name(v.kind());
    out_ += '"';
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Null>) {
          } else if constexpr (std::is_same_v<T, double>) {
            key("v", level, false);
            out_ += (std::isfinite(x) ? Json(x) : Json(nullptr)).dump();
            key("bits", level, false);
            fmt::format_to(std::back_inserter(out_), "\"{:016x}\"", std::bit_cast<std::uint64_t>(x));
          } else if constexpr (std::is_same_v<T, bool>) {
            key("v", level, false);
            out_ += x ? "true" : "false";
          } else if constexpr (std::is_integral_v<T>) {
            key("v", level, false);
            // As value_json: beyond 2^53 an integer is a "0x..." string.
            constexpr std::uint64_t kExact = std::uint64_t(1) << 53;
            if constexpr (std::is_signed_v<T>) {
              const auto w = static_cast<std::int64_t>(x);
              const std::uint64_t mag = w < 0 ? 0 - static_cast<std::uint64_t>(w) : static_cast<std::uint64_t>(w);
              if (mag > kExact)
                fmt::format_to(std::back_inserter(out_), "\"{}0x{:x}\"", w < 0 ? "-" : "", mag);
              else
                fmt::format_to(std::back_inserter(out_), "{}", w);
            } else {
              const auto w = static_cast<std::uint64_t>(x);
              if (w > kExact)
                fmt::format_to(std::back_inserter(out_), "\"0x{:x}\"", w);
              else
                fmt::format_to(std::back_inserter(out_), "{}", w);
            }
          } else if constexpr (std::is_same_v<T, Blob>) {
            key("v", level, false);
            out_ += '"';
            const std::size_t at = out_.size();
            out_.resize(at + 2 * x.bytes.size());
            static constexpr char digits[] = "0123456789abcdef";
            char* d = out_.data() + at;
            for (std::uint8_t b : x.bytes) {
              *d++ = digits[b >> 4];
              *d++ = digits[b & 15];
            }
            out_ += '"';
          } else if constexpr (std::is_same_v<T, std::string>) {
            key("v", level, false);
            string(x);
          } else if constexpr (std::is_same_v<T, Array>) {
            if (x.layout == ArrayLayout::marker_list || x.layout == ArrayLayout::gtree) {
              key("layout", level, false);
              out_ += x.layout == ArrayLayout::gtree ? "\"gtree\"" : "\"marker_list\"";
            }
            if (!x.markers.empty()) {
              key("markers", level, false);
              out_ += '[';
              for (std::size_t i = 0; i < x.markers.size(); ++i) {
                if (i) out_ += ',';
                newline(level + 1);
                fmt::format_to(std::back_inserter(out_), "{}", x.markers[i]);
              }
              close(level, ']');
            }
            key("items", level, false);
            if (x.items.empty()) {
              out_ += "[]";
            } else {
              out_ += '[';
              for (std::size_t i = 0; i < x.items.size(); ++i) {
                if (i) out_ += ',';
                newline(level + 1);
                value(x.items[i], level + 1);
              }
              close(level, ']');
            }
          } else if constexpr (std::is_same_v<T, Struct>) {
            struct_members(x, level, false);
          }
        },
        v.v);
  }

  void struct_members(const Struct& s, int level, bool first) {
    key("fields", level, first);
    if (s.members.empty()) {
      out_ += "[]";
    } else {
      out_ += '[';
      for (std::size_t i = 0; i < s.members.size(); ++i) {
        if (i) out_ += ',';
        newline(level + 1);
        out_ += '{';
        key("n", level + 2, true);
        string(s.members[i].name);
        value_members(s.members[i].value, level + 2, false);
        close(level + 1, '}');
      }
      close(level, ']');
    }
    if (s.subsections.empty()) return;
    key("subsections", level, false);
    out_ += '[';
    for (std::size_t i = 0; i < s.subsections.size(); ++i) {
      const SubsectionState& sub = s.subsections[i];
      if (i) out_ += ',';
      newline(level + 1);
      out_ += '{';
      key("name", level + 2, true);
      string(sub.name);
      key("version_id", level + 2, false);
      fmt::format_to(std::back_inserter(out_), "{}", sub.version_id);
      struct_members(sub.body, level + 2, false);
      close(level + 1, '}');
    }
    close(level, ']');
  }

  std::string& out_;
  int indent_;
};

// Appends `text` (a JSON dump made at level 0) as if dumped at `level`: JSON
// text holds raw newlines only as formatting, so each is followed by the
// extra indentation.
void append_at_level(std::string& out, std::string_view text, int level, int indent) {
  if (indent < 0 || level == 0) {
    out += text;
    return;
  }
  const std::string pad(static_cast<std::size_t>(level * indent), ' ');
  for (std::size_t p = 0;;) {
    const std::size_t nl = text.find('\n', p);
    if (nl == std::string_view::npos) {
      out += text.substr(p);
      return;
    }
    out += text.substr(p, nl + 1 - p);
    out += pad;
    p = nl + 1;
  }
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

// --- TreeJsonWriter: the same document, a section at a time ----------------
//
// The document is {"sections": [...], "envelope": {...}}: sections first, so
// each is written as it arrives and the envelope (which for a QEMU stream
// holds the trailer, known last) at the end. Output is byte for byte what
// to_json() gives for the whole tree.

TreeJsonWriter::TreeJsonWriter(ByteSink& sink, const TreeJsonOptions& opt)
    : sink_(sink), indent_(opt.indent) {}

Result<void> TreeJsonWriter::flush(bool force) {
  if (out_.size() < (1u << 20) && !force) return {};
  SW_CHECK(sink_.write(ByteSpan(reinterpret_cast<const std::uint8_t*>(out_.data()), out_.size())));
  out_.clear();
  return {};
}

void TreeJsonWriter::next_section() {
  // Level 0 object, level 1 "sections" array, sections at level 2.
  if (sections_++ == 0) {
    out_ += indent_ < 0 ? "{\"sections\":[" : "{\n";
    if (indent_ >= 0) {
      out_.append(static_cast<std::size_t>(indent_), ' ');
      out_ += "\"sections\": [";
    }
  } else {
    out_ += ',';
  }
  if (indent_ >= 0) {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(2 * indent_), ' ');
  }
}

Result<void> TreeJsonWriter::section(const Section& s) {
  next_section();
  append_at_level(out_, section_json(s).dump(indent_), 2, indent_);
  return flush(false);
}

Result<void> TreeJsonWriter::begin_section(const Section& head) {
  if (head.body.members.empty() || !head.body.members.back().value.get_if<Array>() ||
      !head.body.subsections.empty())
    return fail(Errc::invalid_value,
                fmt::format("section {}: the bulk array must be the body's last member", head.label()));
  next_section();
  Section h = head;
  h.body.members.back().value = Value(Array{});
  std::string text = section_json(h).dump(indent_);
  // The bulk array is the last "items" of the dump, printed empty: its
  // elements go between the brackets as they arrive.
  const std::size_t at = text.rfind(indent_ < 0 ? "\"items\":[]" : "\"items\": []");
  if (at == std::string::npos) return fail(Errc::invalid_value, "bulk array not found");
  const std::size_t open = text.find('[', at) + 1;
  append_at_level(out_, std::string_view(text).substr(0, open), 2, indent_);
  tail_ = text.substr(open + 1);  // after "]"
  bulk_items_ = 0;
  return {};
}

Result<void> TreeJsonWriter::bulk_item(const Value& v) {
  // Section at level 2, its "fields" at 3, the field object at 4, items at 5.
  if (bulk_items_++) out_ += ',';
  if (indent_ >= 0) {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(6 * indent_), ' ');
  }
  Emitter(out_, indent_).value(v, 6);
  return flush(false);
}

Result<void> TreeJsonWriter::end_section() {
  if (bulk_items_ && indent_ >= 0) {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(5 * indent_), ' ');
  }
  out_ += ']';
  append_at_level(out_, tail_, 2, indent_);
  tail_.clear();
  return flush(false);
}

Result<void> TreeJsonWriter::finish(const Struct& envelope) {
  if (sections_ == 0) {
    out_ += indent_ < 0 ? "{\"sections\":[]" : "{\n";
    if (indent_ >= 0) {
      out_.append(static_cast<std::size_t>(indent_), ' ');
      out_ += "\"sections\": []";
    }
  } else if (indent_ >= 0) {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(indent_), ' ');
    out_ += ']';
  } else {
    out_ += ']';
  }
  if (!envelope.members.empty() || !envelope.subsections.empty()) {
    out_ += ',';
    if (indent_ >= 0) {
      out_ += '\n';
      out_.append(static_cast<std::size_t>(indent_), ' ');
    }
    out_ += indent_ < 0 ? "\"envelope\":" : "\"envelope\": ";
    append_at_level(out_, struct_json(envelope).dump(indent_), 1, indent_);
  }
  if (indent_ >= 0) out_ += '\n';
  out_ += "}\n";
  return flush(true);
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
