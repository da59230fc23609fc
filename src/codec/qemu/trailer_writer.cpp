// Rebuilding description-trailer entries from trees (qemu_stream.hpp,
// rewrite_description_trailer). QEMU's trailer records what it wrote: per
// field a name, a type, a size (per element) and array_len, nested structs
// with their vmsd name and version, arrays of structs as one entry per
// element with "index". The loader ignores the trailer; statewire's decoder
// and analyze read it, so it must match the bytes.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "core/json_document.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/validate.hpp"

namespace statewire::qemu {

namespace {

using Json = nlohmann::ordered_json;

// QEMU writes ", " and ": " between items.
void write_json(const Json& j, std::string& out) {
  if (j.is_object()) {
    out += '{';
    bool first = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!first) out += ", ";
      first = false;
      out += Json(it.key()).dump();
      out += ": ";
      write_json(it.value(), out);
    }
    out += '}';
  } else if (j.is_array()) {
    out += '[';
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (i) out += ", ";
      write_json(j[i], out);
    }
    out += ']';
  } else {
    out += j.dump();
  }
}

const char* int_type(ValueKind k) {
  switch (k) {
    case ValueKind::u8: return "uint8";
    case ValueKind::u16: return "uint16";
    case ValueKind::u32: return "uint32";
    case ValueKind::u64: return "uint64";
    case ValueKind::i8: return "int8";
    case ValueKind::i16: return "int16";
    case ValueKind::i32: return "int32";
    case ValueKind::i64: return "int64";
    case ValueKind::boolean: return "bool";
    case ValueKind::f64: return "uint64";
    default: return nullptr;
  }
}

// Old field entries by name, each usable once.
class OldFields {
 public:
  explicit OldFields(const Json* fields) {
    if (fields && fields->is_array())
      for (const auto& f : *fields) entries_.push_back(&f);
  }
  const Json* take(const std::string& name) {
    for (auto& e : entries_)
      if (e && e->value("name", "") == name) {
        const Json* out = e;
        e = nullptr;
        return out;
      }
    return nullptr;
  }

 private:
  std::vector<const Json*> entries_;
};

Json body_fields(const Struct& s, const Json* old);
Json subsections_json(const Struct& s, const Json* old);

Json struct_entry(const std::string& name, const Struct& s, const Json* old_entry) {
  const Json* old_struct = old_entry && old_entry->contains("struct") ? &(*old_entry)["struct"] : nullptr;
  Json inner = Json::object();
  inner["vmsd_name"] = old_struct ? old_struct->value("vmsd_name", name) : name;
  inner["version"] = old_struct ? old_struct->value("version", 0) : 0;
  inner["fields"] = body_fields(s, old_struct && old_struct->contains("fields") ? &(*old_struct)["fields"] : nullptr);
  if (!s.subsections.empty()) inner["subsections"] = subsections_json(s, old_struct && old_struct->contains("subsections") ? &(*old_struct)["subsections"] : nullptr);
  Json e = Json::object();
  e["name"] = name;
  e["type"] = "struct";
  e["struct"] = inner;
  e["size"] = vmstate_wire_size(Value(s));
  return e;
}

void add_member(Json& out, const Member& m, OldFields& old) {
  const Json* prev = old.take(m.name);
  const Value& v = m.value;
  // An entry that still describes the value exactly keeps QEMU's type name.
  auto reusable = [&](std::uint64_t size) {
    // A byte array kept as one buffer has the bytes of its elements.
    return prev && !prev->contains("struct") &&
           prev->value("size", std::uint64_t{0}) * prev->value("array_len", std::uint64_t{1}) == size;
  };
  if (const Struct* st = v.get_if<Struct>()) {
    out.push_back(struct_entry(m.name, *st, prev));
    return;
  }
  if (const Array* a = v.get_if<Array>()) {
    const char* t = a->items.empty() ? nullptr : int_type(a->items[0].kind());
    if (t && a->layout == ArrayLayout::plain) {
      Json e = Json::object();
      e["name"] = m.name;
      e["array_len"] = a->items.size();
      e["type"] = prev ? prev->value("type", t) : t;
      e["size"] = a->items[0].scalar_width();
      out.push_back(e);
      return;
    }
    if (!a->items.empty() && a->items[0].get_if<Struct>() && prev && prev->contains("struct") &&
        prev->value("array_len", std::uint64_t{0}) == a->items.size()) {
      // QEMU 7.2 describes a fixed array of structs once, with array_len.
      Json one = struct_entry(m.name, *a->items[0].get_if<Struct>(), prev);
      Json e = Json::object();
      e["name"] = m.name;
      e["array_len"] = a->items.size();
      e["type"] = "struct";
      e["struct"] = one["struct"];
      e["size"] = one["size"];
      out.push_back(e);
      return;
    }
    for (std::size_t i = 0; i < a->items.size(); ++i) {
      OldFields none(nullptr);
      Json sub = Json::array();
      add_member(sub, {m.name, a->items[i]}, none);
      for (auto& e : sub) {
        e["index"] = i;
        out.push_back(e);
      }
    }
    return;
  }
  const std::uint64_t size = vmstate_wire_size(v);
  if (reusable(size)) {
    out.push_back(*prev);
    return;
  }
  Json e = Json::object();
  e["name"] = m.name;
  const char* t = int_type(v.kind());
  e["type"] = t ? t : "buffer";
  e["size"] = size;
  out.push_back(e);
}

Json body_fields(const Struct& s, const Json* old) {
  OldFields of(old);
  Json out = Json::array();
  for (const auto& m : s.members) add_member(out, m, of);
  return out;
}

Json subsections_json(const Struct& s, const Json* old) {
  Json out = Json::array();
  for (const auto& sub : s.subsections) {
    const Json* prev = nullptr;
    if (old && old->is_array())
      for (const auto& o : *old)
        if (o.value("vmsd_name", "") == sub.name) prev = &o;
    Json e = Json::object();
    e["vmsd_name"] = sub.name;
    e["version"] = sub.version_id;
    e["fields"] = body_fields(sub.body, prev && prev->contains("fields") ? &(*prev)["fields"] : nullptr);
    if (!sub.body.subsections.empty())
      e["subsections"] = subsections_json(sub.body, prev && prev->contains("subsections") ? &(*prev)["subsections"] : nullptr);
    out.push_back(e);
  }
  return out;
}

}  // namespace

Result<void> rewrite_description_trailer(StateStream& stream, const std::vector<std::string>& changed) {
  Value* t = stream.envelope.find(keys::kTrailer);
  if (!t || !t->get_if<std::string>()) return {};
  auto parsed = statewire::detail::parse_json_document<Json>(*t->get_if<std::string>(), Limits{},
                                                            "description trailer");
  if (!parsed) return fail(std::move(parsed.error()));
  Json root = std::move(*parsed);
  if (!root.is_object() || !root.contains("devices") ||
      !root["devices"].is_array())
    return fail(Errc::invalid_value, "description trailer: not the expected JSON object");
  const std::set<std::string> changed_set(changed.begin(), changed.end());
  Json devices = Json::array();
  for (const auto& sec : stream.sections) {
    if (sec.kind != SectionKind::full && sec.kind != SectionKind::start) continue;
    const Json* old = nullptr;
    for (const auto& d : root["devices"])
      if (d.value("name", "") == sec.name && d.value("instance_id", std::uint64_t{0}) == sec.instance_id)
        old = &d;
    if (old && !changed_set.count(sec.label())) {
      devices.push_back(*old);
      continue;
    }
    if (!old && sec.kind != SectionKind::full) continue;
    if (!old && !changed_set.count(sec.label())) continue;  // QEMU did not describe it
    std::size_t slash = sec.name.rfind('/');
    Json e = Json::object();
    e["name"] = sec.name;
    e["instance_id"] = sec.instance_id;
    e["vmsd_name"] = slash == std::string::npos ? sec.name : sec.name.substr(slash + 1);
    e["version"] = sec.version_id;
    e["fields"] = body_fields(sec.body, old && old->contains("fields") ? &(*old)["fields"] : nullptr);
    if (!sec.body.subsections.empty())
      e["subsections"] = subsections_json(sec.body, old && old->contains("subsections") ? &(*old)["subsections"] : nullptr);
    devices.push_back(e);
  }
  root["devices"] = devices;
  std::string text;
  write_json(root, text);
  *t = Value(std::move(text));
  return {};
}

}  // namespace statewire::qemu
