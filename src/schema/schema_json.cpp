// Reads and writes QEMU's -dump-vmstate JSON shape (see docs/formats.md).
//
// QEMU writes keys in a fixed order with 2-space indentation; nlohmann's
// ordered_json with dump(2) produces exactly that, so a QEMU dump re-exports
// byte for byte. Errors carry the JSON path of the offending element.
#include "statewire/schema_json.hpp"

#include <fmt/format.h>

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/json_document.hpp"

namespace statewire {

namespace {

using Json = nlohmann::ordered_json;

// QEMU dumps nest at most 5 deep; a hostile file must not overflow the stack.

Unexpected bad(const std::string& path, const std::string& what) {
  Error e = make_error(Errc::schema_invalid, what);
  e.field_path = path;
  return Unexpected(std::move(e));
}

Result<const Json*> member(const Json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) return bad(path, fmt::format("missing key \"{}\"", key));
  return &*it;
}

Result<std::uint32_t> get_u32(const Json& obj, const char* key, const std::string& path) {
  SW_TRY(v, member(obj, key, path));
  if (!v->is_number_integer() || v->get<std::int64_t>() < 0 ||
      v->get<std::int64_t>() > std::numeric_limits<std::int32_t>::max())
    return bad(path + "." + key, "expected a non-negative 32-bit integer");
  return static_cast<std::uint32_t>(v->get<std::int64_t>());
}

Result<std::string> get_string(const Json& obj, const char* key, const std::string& path) {
  SW_TRY(v, member(obj, key, path));
  if (!v->is_string()) return bad(path + "." + key, "expected a string");
  return v->get<std::string>();
}

Result<Description> parse_desc(const Json& j, const std::string& path, std::size_t depth,
                               std::size_t max_depth);

Result<Field> parse_field(const Json& j, const std::string& path, std::size_t depth,
                          std::size_t max_depth) {
  if (!j.is_object()) return bad(path, "expected a field object");
  Field f;
  SW_TRY(name, get_string(j, "field", path));
  f.name = std::move(name);
  SW_TRY(ver, get_u32(j, "version_id", path));
  f.version_id = ver;
  SW_TRY(exists, member(j, "field_exists", path));
  if (!exists->is_boolean()) return bad(path + ".field_exists", "expected true or false");
  SW_TRY(size, member(j, "size", path));
  if (!size->is_number_unsigned() && !(size->is_number_integer() && size->get<std::int64_t>() >= 0))
    return bad(path + ".size", "expected a non-negative integer");
  f.size = size->get<std::uint64_t>();
  if (auto it = j.find("num"); it != j.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
      return bad(path + ".num", "expected a non-negative integer");
    f.num = it->get<std::uint64_t>();
    f.count = Count::fixed(static_cast<std::uint32_t>(*f.num));
  }
  // statewire's extended keys (absent in QEMU's dumps).
  if (auto it = j.find("type"); it != j.end()) {
    if (!it->is_string()) return bad(path + ".type", "expected a string");
    auto k = field_kind_from_name(it->get<std::string>());
    if (!k) return bad(path + ".type", fmt::format("unknown type \"{}\"", it->get<std::string>()));
    f.kind = *k;
  }
  if (auto it = j.find("info"); it != j.end() && it->is_string()) f.info = it->get<std::string>();
  if (auto it = j.find("count"); it != j.end()) {
    if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      f.count = Count::fixed(it->get<std::uint32_t>());
    } else if (it->is_object()) {
      SW_TRY(cf, get_string(*it, "field", path + ".count"));
      SW_TRY(mx, get_u32(*it, "max", path + ".count"));
      f.count = Count::from(std::move(cf), mx);
    } else {
      return bad(path + ".count", "expected a number or {\"field\", \"max\"}");
    }
  }
  if (exists->get<bool>()) {
    f.test = std::string();
    if (auto it = j.find("test"); it != j.end() && it->is_string()) f.test = it->get<std::string>();
  }
  if (auto it = j.find("must_exist"); it != j.end() && it->is_boolean()) f.must_exist = it->get<bool>();
  if (auto it = j.find("nullable"); it != j.end() && it->is_boolean()) f.nullable = it->get<bool>();
  if (auto it = j.find("list"); it != j.end() && it->is_boolean()) f.list = it->get<bool>();
  if (auto it = j.find("gtree"); it != j.end() && it->is_boolean()) f.gtree = it->get<bool>();
  if (auto it = j.find("KeyDescription"); it != j.end()) {
    SW_TRY(key, parse_desc(*it, path + ".KeyDescription", depth + 1, max_depth));
    f.key = std::make_shared<const Description>(std::move(key));
  }
  if (auto it = j.find("struct_version"); it != j.end()) {
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() > 0xffffffffu)
      return bad(path + ".struct_version", "expected a 32-bit version");
    f.struct_version = static_cast<std::uint32_t>(it->get<std::uint64_t>());
  }
  if (auto it = j.find("Description"); it != j.end()) {
    SW_TRY(nested, parse_desc(*it, path + ".Description", depth + 1, max_depth));
    f.nested = std::make_shared<const Description>(std::move(nested));
    if (j.find("type") == j.end()) f.kind = FieldKind::structure;
  }
  return f;
}

Result<Description> parse_desc(const Json& j, const std::string& path, std::size_t depth,
                               std::size_t max_depth) {
  if (depth > max_depth) {
    Error e = make_error(Errc::limit_exceeded, fmt::format("nested deeper than {}", max_depth));
    e.field_path = path;
    return fail(std::move(e));
  }
  if (!j.is_object()) return bad(path, "expected a description object");
  Description d;
  SW_TRY(name, get_string(j, "name", path));
  d.name = std::move(name);
  SW_TRY(v, get_u32(j, "version_id", path));
  d.version_id = v;
  SW_TRY(mv, get_u32(j, "minimum_version_id", path));
  d.minimum_version_id = mv;
  if (auto it = j.find("Fields"); it != j.end()) {
    if (!it->is_array()) return bad(path + ".Fields", "expected an array");
    d.fields.emplace();
    d.fields->reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
      SW_TRY(f, parse_field((*it)[i], fmt::format("{}.Fields[{}]", path, i), depth, max_depth));
      d.fields->push_back(std::move(f));
    }
  }
  if (auto it = j.find("Subsections"); it != j.end()) {
    if (!it->is_array()) return bad(path + ".Subsections", "expected an array");
    d.subsections.emplace();
    for (std::size_t i = 0; i < it->size(); ++i) {
      const Json& sj = (*it)[i];
      SW_TRY(sd, parse_desc(sj, fmt::format("{}.Subsections[{}]", path, i), depth + 1, max_depth));
      Subsection sub{std::move(sd), {}};
      if (auto nt = sj.find("needed"); nt != sj.end() && nt->is_string())
        sub.needed = nt->get<std::string>();
      d.subsections->push_back(std::move(sub));
    }
  }
  return d;
}

Json desc_json(const Description& d, const SchemaJsonOptions& opt, const std::string* needed);

Json field_json(const Field& f, const SchemaJsonOptions& opt) {
  Json j;
  j["field"] = f.name;
  j["version_id"] = f.version_id;
  j["field_exists"] = f.has_test();
  if (f.num) j["num"] = *f.num;
  j["size"] = f.size;
  if (opt.extended) {
    j["type"] = field_kind_name(f.kind);
    if (!f.info.empty()) j["info"] = f.info;
    if (f.count.mode == Count::Mode::fixed && !f.num) j["count"] = f.count.n;
    if (f.count.mode == Count::Mode::from_field)
      j["count"] = Json{{"field", f.count.field}, {"max", f.count.max}};
    if (f.test && !f.test->empty()) j["test"] = *f.test;
    if (f.must_exist) j["must_exist"] = true;
    if (f.nullable) j["nullable"] = true;
    if (f.list) j["list"] = true;
    if (f.struct_version) j["struct_version"] = *f.struct_version;
    if (f.gtree) j["gtree"] = true;
    if (f.key) j["KeyDescription"] = desc_json(*f.key, opt, nullptr);
  }
  if (f.nested) j["Description"] = desc_json(*f.nested, opt, nullptr);
  return j;
}

Json desc_json(const Description& d, const SchemaJsonOptions& opt, const std::string* needed) {
  Json j;
  j["name"] = d.name;
  j["version_id"] = d.version_id;
  j["minimum_version_id"] = d.minimum_version_id;
  if (opt.extended && needed && !needed->empty()) j["needed"] = *needed;
  if (d.fields) {
    Json arr = Json::array();
    for (const auto& f : *d.fields) arr.push_back(field_json(f, opt));
    j["Fields"] = std::move(arr);
  }
  if (d.subsections) {
    Json arr = Json::array();
    for (const auto& s : *d.subsections) arr.push_back(desc_json(s.description, opt, &s.needed));
    j["Subsections"] = std::move(arr);
  }
  return j;
}

// QEMU's hand-rolled writer prints an empty list as "[", a blank line and the
// closing bracket at the list's own indentation; nlohmann prints "[]".
std::string qemu_layout(std::string text) {
  std::string out;
  out.reserve(text.size() + 64);
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') line_start = i + 1;
    if (text[i] == '[' && i + 1 < text.size() && text[i + 1] == ']' &&
        (i + 2 == text.size() || text[i + 2] == '\n' || text[i + 2] == ',')) {
      std::size_t indent = 0;
      while (line_start + indent < text.size() && text[line_start + indent] == ' ') ++indent;
      out += "[\n\n";
      out.append(indent, ' ');
      out += ']';
      ++i;
      continue;
    }
    out += text[i];
  }
  return out;
}

}  // namespace

Result<SchemaSet> parse_schema_json(std::string_view text, const Limits& limits) {
  SW_TRY(root, detail::parse_json_document<Json>(text, limits, "schema dump"));
  if (!root.is_object()) return bad("$", "expected a JSON object of devices");
  SchemaSet set;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string path = fmt::format("$[\"{}\"]", it.key());
    if (it.key() == "vmschkmachine") {
      if (!it->is_object()) return bad(path, "expected an object");
      SW_TRY(m, get_string(*it, "Name", path));
      set.machine = std::move(m);
      continue;
    }
    if (!it->is_object()) return bad(path, "expected a device object");
    DeviceSchema dev;
    dev.key = it.key();
    SW_TRY(name, get_string(*it, "Name", path));
    dev.name = std::move(name);
    SW_TRY(v, get_u32(*it, "version_id", path));
    dev.version_id = v;
    SW_TRY(mv, get_u32(*it, "minimum_version_id", path));
    dev.minimum_version_id = mv;
    SW_TRY(dj, member(*it, "Description", path));
    SW_TRY(desc, parse_desc(*dj, path + ".Description", 1, limits.max_depth));
    dev.description = std::move(desc);
    set.devices.push_back(std::move(dev));
  }
  return set;
}

Result<SchemaSet> load_schema_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Error e = make_error(Errc::io_error, fmt::format("cannot open schema dump {}", path));
    return Unexpected(std::move(e));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto r = parse_schema_json(ss.str());
  if (!r) r.error().section = path;
  return r;
}

std::string to_schema_json(const SchemaSet& set, const SchemaJsonOptions& opt) {
  Json root = Json::object();
  if (set.machine) root["vmschkmachine"] = Json{{"Name", *set.machine}};
  for (const auto& d : set.devices) {
    Json dev;
    dev["Name"] = d.name;
    dev["version_id"] = d.version_id;
    dev["minimum_version_id"] = d.minimum_version_id;
    dev["Description"] = desc_json(d.description, opt, nullptr);
    root[d.key] = std::move(dev);
  }
  return qemu_layout(root.dump(2)) + "\n";
}

std::uint64_t schema_fingerprint(const Description& d) {
  std::string text = desc_json(d, SchemaJsonOptions{true}, nullptr).dump();
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string to_schema_json(const Description& d, const SchemaJsonOptions& opt) {
  return qemu_layout(desc_json(d, opt, nullptr).dump(2)) + "\n";
}

}  // namespace statewire
