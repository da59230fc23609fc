// Rules files (include/statewire/rules_file.hpp) through nlohmann::json;
// values go through the tree JSON codec so they keep their exact kind.
#include "statewire/rules_file.hpp"

#include "core/json_document.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "statewire/tree_json.hpp"

namespace statewire {

namespace {

using Json = nlohmann::ordered_json;

Unexpected bad(const std::string& path, const std::string& what) {
  Error e = make_error(Errc::schema_invalid, what);
  e.field_path = path;
  return Unexpected(std::move(e));
}

Result<std::string> str(const Json& j, const char* key, const std::string& path, bool required = true) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return bad(path, fmt::format("missing \"{}\"", key));
    return std::string();
  }
  if (!it->is_string()) return bad(path + "." + key, "expected a string");
  return it->get<std::string>();
}

Result<std::uint32_t> u32(const Json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end()) return bad(path, fmt::format("missing \"{}\"", key));
  if (!it->is_number_unsigned() || it->get<std::uint64_t>() > 0xffffffffu)
    return bad(path + "." + key, "expected a 32-bit unsigned integer");
  return static_cast<std::uint32_t>(it->get<std::uint64_t>());
}

Result<std::vector<std::string>> strings(const Json& j, const char* key, const std::string& path) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end()) return out;
  if (!it->is_array()) return bad(path + "." + key, "expected an array of strings");
  for (std::size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) return bad(fmt::format("{}.{}[{}]", path, key, i), "expected a string");
    out.push_back((*it)[i].get<std::string>());
  }
  return out;
}

Result<Struct> fields_struct(const Json& fields, const std::string& path) {
  Json wrap = Json::object();
  wrap["fields"] = fields;
  auto s = struct_from_json(wrap.dump());
  if (!s) {
    Error e = std::move(s.error());
    e.field_path = path + (e.field_path.empty() ? "" : " " + e.field_path);
    return Unexpected(std::move(e));
  }
  return s;
}

Result<Value> value(const Json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end()) return bad(path, fmt::format("missing \"{}\"", key));
  if (!it->is_object()) return bad(path + "." + key, "expected {\"t\": kind, \"v\": value}");
  Json member = *it;
  member["n"] = "value";
  SW_TRY(s, fields_struct(Json::array({member}), path + "." + key));
  return std::move(s.members.at(0).value);
}

Result<ValueKind> width(const std::string& name, const std::string& path) {
  static const std::pair<const char*, ValueKind> kKinds[] = {
      {"u8", ValueKind::u8},   {"u16", ValueKind::u16}, {"u32", ValueKind::u32},
      {"u64", ValueKind::u64}, {"i8", ValueKind::i8},   {"i16", ValueKind::i16},
      {"i32", ValueKind::i32}, {"i64", ValueKind::i64}};
  for (const auto& [n, k] : kKinds)
    if (name == n) return k;
  return bad(path + ".type", fmt::format("\"{}\" is not an integer type (u8 .. i64)", name));
}

Result<TransformOp> parse_op(const Json& j, const std::string& path) {
  if (!j.is_object()) return bad(path, "expected an operation object");
  SW_TRY(op, str(j, "op", path));
  TransformOp o;
  if (op == "add") {
    o.kind = OpKind::add_field;
    SW_TRY(p, str(j, "path", path));
    SW_TRY(v, value(j, "value", path));
    SW_TRY(b, str(j, "before", path, false));
    o.path = std::move(p), o.value = std::move(v), o.before = std::move(b);
  } else if (op == "drop") {
    o.kind = OpKind::drop_field;
    SW_TRY(p, str(j, "path", path));
    o.path = std::move(p);
  } else if (op == "rename") {
    o.kind = OpKind::rename_field;
    SW_TRY(p, str(j, "path", path));
    SW_TRY(to, str(j, "to", path));
    o.path = std::move(p), o.name = std::move(to);
  } else if (op == "move") {
    o.kind = OpKind::move_field;
    SW_TRY(p, str(j, "path", path));
    SW_TRY(b, str(j, "before", path, false));
    o.path = std::move(p), o.before = std::move(b);
  } else if (op == "width") {
    o.kind = OpKind::change_width;
    SW_TRY(p, str(j, "path", path));
    SW_TRY(t, str(j, "type", path));
    SW_TRY(k, width(t, path));
    o.path = std::move(p), o.width = k;
  } else if (op == "set-version") {
    o.kind = OpKind::set_version;
    SW_TRY(p, str(j, "subsection", path));
    SW_TRY(v, u32(j, "version", path));
    o.path = std::move(p), o.version = v;
  } else if (op == "add-subsection") {
    o.kind = OpKind::add_subsection;
    SW_TRY(p, str(j, "name", path));
    SW_TRY(v, u32(j, "version", path));
    Struct body;
    if (auto it = j.find("fields"); it != j.end()) {
      SW_TRY(b, fields_struct(*it, path + ".fields"));
      body = std::move(b);
    }
    o.path = std::move(p), o.version = v, o.value = Value(std::move(body));
  } else if (op == "drop-subsection") {
    o.kind = OpKind::drop_subsection;
    SW_TRY(p, str(j, "name", path));
    o.path = std::move(p);
  } else if (op == "refuse-subsection") {
    o.kind = OpKind::refuse_subsection;
    SW_TRY(p, str(j, "name", path));
    SW_TRY(r, str(j, "reason", path));
    o.path = std::move(p), o.reason = std::move(r);
  } else if (op == "refuse-value") {
    o.kind = OpKind::refuse_value;
    SW_TRY(p, str(j, "path", path));
    if (j.contains("value")) {  // without one: the field must not be sent at all
      SW_TRY(v, value(j, "value", path));
      o.value = std::move(v);
    }
    SW_TRY(r, str(j, "reason", path));
    o.path = std::move(p), o.reason = std::move(r);
  } else if (op == "split") {
    o.kind = OpKind::split_section;
    SW_TRY(into, str(j, "into", path));
    SW_TRY(v, u32(j, "version", path));
    SW_TRY(f, strings(j, "fields", path));
    if (f.empty()) return bad(path + ".fields", "split needs the fields that move");
    o.name = std::move(into), o.version = v, o.fields = std::move(f);
  } else if (op == "merge") {
    o.kind = OpKind::merge_section;
    SW_TRY(from, str(j, "from", path));
    SW_TRY(b, str(j, "before", path, false));
    o.name = std::move(from), o.before = std::move(b);
  } else if (op == "compute") {
    return bad(path, "\"compute\" needs C++ code: register it with ops::compute");
  } else {
    return bad(path + ".op", fmt::format("unknown operation \"{}\"", op));
  }
  return o;
}

// A section id as QEMU writes it in a section header: 1 to 255 bytes.
Result<std::string> idstr(const Json& j, const char* key, const std::string& path) {
  SW_TRY(s, str(j, key, path));
  if (s.empty() || s.size() > 255)
    return bad(path + "." + key, fmt::format("a section id is 1 to 255 bytes, not {}", s.size()));
  return s;
}

// One entry of the "stream" list into `out`; `path` is its JSON path.
Result<void> parse_stream_op(const Json& j, const std::string& path, StreamRewrites& out) {
  if (!j.is_object()) return bad(path, "expected an operation object");
  SW_TRY(op, str(j, "op", path));
  if (op == "rename-section") {
    SW_TRY(from, idstr(j, "from", path));
    SW_TRY(to, idstr(j, "to", path));
    for (const auto& [f, t] : out.renames) {
      if (f == from)
        return bad(path + ".from", fmt::format("section {} is already renamed (to {})", f, t));
      if (t == to)
        return bad(path + ".to", fmt::format("{} is already the new name of {}", t, f));
    }
    out.renames.emplace_back(std::move(from), std::move(to));
  } else if (op == "machine-type") {
    SW_TRY(to, str(j, "to", path));
    if (to.empty() || to.size() > 255)
      return bad(path + ".to", "a machine type name is 1 to 255 bytes");
    if (out.machine_type)
      return bad(path, fmt::format("the machine type is already set (to {})", *out.machine_type));
    out.machine_type = std::move(to);
  } else {
    return bad(path + ".op", fmt::format("unknown stream operation \"{}\" (rename-section, "
                                         "machine-type)", op));
  }
  return {};
}

Json value_json(const Value& v) {
  Struct s;
  s.members.push_back({"value", v});
  Json j = Json::parse(to_json(s, {-1}));
  Json m = j["fields"][0];
  m.erase("n");
  return m;
}

Json op_json(const TransformOp& o) {
  Json j = Json::object();
  j["op"] = std::string(op_kind_name(o.kind));
  switch (o.kind) {
    case OpKind::add_field:
      j["path"] = o.path;
      j["value"] = value_json(o.value);
      if (!o.before.empty()) j["before"] = o.before;
      break;
    case OpKind::drop_field: j["path"] = o.path; break;
    case OpKind::rename_field: j["path"] = o.path; j["to"] = o.name; break;
    case OpKind::move_field: j["path"] = o.path; j["before"] = o.before; break;
    case OpKind::change_width: j["path"] = o.path; j["type"] = std::string(kind_name(o.width)); break;
    case OpKind::set_version: j["subsection"] = o.path; j["version"] = o.version; break;
    case OpKind::add_subsection: {
      j["name"] = o.path;
      j["version"] = o.version;
      if (const Struct* b = o.value.get_if<Struct>())
        j["fields"] = Json::parse(to_json(*b, {-1}))["fields"];
      break;
    }
    case OpKind::drop_subsection: j["name"] = o.path; break;
    case OpKind::refuse_subsection: j["name"] = o.path; j["reason"] = o.reason; break;
    case OpKind::refuse_value:
      j["path"] = o.path;
      if (!o.value.get_if<Null>()) j["value"] = value_json(o.value);
      j["reason"] = o.reason;
      break;
    case OpKind::split_section:
      j["into"] = o.name;
      j["version"] = o.version;
      j["fields"] = o.fields;
      break;
    case OpKind::merge_section:
      j["from"] = o.name;
      if (!o.before.empty()) j["before"] = o.before;
      break;
    case OpKind::compute_field: j["path"] = o.path; break;
  }
  return j;
}

}  // namespace

Result<TransformSet> parse_rules_json(std::string_view text, std::string_view origin) {
  // The parser recurses: the nesting is bounded first (limits.hpp).
  // Syntax errors name line and column; the nesting is bounded first.
  SW_TRY(root, detail::parse_json_document<Json>(text, Limits{}, "rules file"));
  if (!root.is_object()) return bad("$", "expected an object with \"transforms\" or \"stream\"");
  if (auto v = root.find("statewire_rules"); v == root.end() || *v != 1)
    return bad("$.statewire_rules", "expected \"statewire_rules\": 1");
  TransformSet out;
  // "stream": rewrites of records rather than bodies (section ids, machine type).
  auto st = root.find("stream");
  if (st != root.end()) {
    if (!st->is_array()) return bad("$.stream", "expected an array");
    for (std::size_t i = 0; i < st->size(); ++i)
      SW_CHECK(parse_stream_op((*st)[i], fmt::format("$.stream[{}]", i), out.stream()));
  }
  auto ts = root.find("transforms");
  if (ts == root.end() && st != root.end()) return out;
  if (ts == root.end() || !ts->is_array()) return bad("$.transforms", "expected an array");
  for (std::size_t i = 0; i < ts->size(); ++i) {
    const Json& tj = (*ts)[i];
    std::string path = fmt::format("$.transforms[{}]", i);
    if (!tj.is_object()) return bad(path, "expected a transform object");
    Transform t;
    SW_TRY(section, str(tj, "section", path));
    SW_TRY(from, u32(tj, "from", path));
    SW_TRY(to, u32(tj, "to", path));
    SW_TRY(note, str(tj, "note", path, false));
    t.section = std::move(section), t.from = from, t.to = to, t.note = std::move(note);
    t.origin = std::string(origin);
    if (auto w = tj.find("when"); w != tj.end()) {
      if (!w->is_object()) return bad(path + ".when", "expected an object");
      SW_TRY(has, strings(*w, "has", path + ".when"));
      SW_TRY(lacks, strings(*w, "lacks", path + ".when"));
      SW_TRY(untested, strings(*w, "has_untested", path + ".when"));
      t.when = {std::move(has), std::move(lacks), std::move(untested)};
    }
    auto os = tj.find("ops");
    if (os == tj.end() || !os->is_array()) return bad(path + ".ops", "expected an array");
    for (std::size_t k = 0; k < os->size(); ++k) {
      SW_TRY(op, parse_op((*os)[k], fmt::format("{}.ops[{}]", path, k)));
      t.ops.push_back(std::move(op));
    }
    out.add(std::move(t));
  }
  return out;
}

Result<TransformSet> load_rules_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::io_error, fmt::format("cannot open rules file {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = parse_rules_json(ss.str(), path);
  if (!r) return Unexpected(std::move(r.error().in_section(path)));
  return r;
}

std::string rules_to_json(const TransformSet& set) {
  Json root = Json::object();
  root["statewire_rules"] = 1;
  Json ts = Json::array();
  for (const auto& t : set.all()) {
    Json tj = Json::object();
    tj["section"] = t.section;
    tj["from"] = t.from;
    tj["to"] = t.to;
    if (!t.note.empty()) tj["note"] = t.note;
    if (!t.when.empty()) {
      Json w = Json::object();
      if (!t.when.has.empty()) w["has"] = t.when.has;
      if (!t.when.lacks.empty()) w["lacks"] = t.when.lacks;
      if (!t.when.has_untested.empty()) w["has_untested"] = t.when.has_untested;
      tj["when"] = w;
    }
    Json os = Json::array();
    for (const auto& o : t.ops) os.push_back(op_json(o));
    tj["ops"] = os;
    ts.push_back(tj);
  }
  root["transforms"] = ts;
  const StreamRewrites& sr = set.stream();
  if (!sr.empty()) {
    Json st = Json::array();
    for (const auto& [from, to] : sr.renames)
      st.push_back(Json{{"op", "rename-section"}, {"from", from}, {"to", to}});
    if (sr.machine_type) st.push_back(Json{{"op", "machine-type"}, {"to", *sr.machine_type}});
    root["stream"] = st;
  }
  return root.dump(2) + "\n";
}

}  // namespace statewire
