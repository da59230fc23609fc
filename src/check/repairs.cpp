// check's suggested transforms as data (issue 12): after the comparison, the
// findings whose repair is a tree operation get a Transform the planner can
// run. Forward repairs run on the old build's state: a field the new build
// added is inserted with a zero default before its new neighbour, a field it
// removed is dropped, a reordered field is moved, a removed subsection is
// dropped, a renamed field gets its new name, an integer that changed width
// is converted with a range check. Each is conditioned on the destination's
// description (so it applies only where the new layout is what is read).
#include <fmt/format.h>

#include "check/compare.hpp"
#include "statewire/schema_catalog.hpp"

namespace statewire::check_detail {

namespace {

std::optional<ValueKind> value_kind(FieldKind k) {
  switch (k) {
    case FieldKind::u8: return ValueKind::u8;
    case FieldKind::u16: return ValueKind::u16;
    case FieldKind::u32: return ValueKind::u32;
    case FieldKind::u64: return ValueKind::u64;
    case FieldKind::i8: return ValueKind::i8;
    case FieldKind::i16: return ValueKind::i16;
    case FieldKind::i32: return ValueKind::i32;
    case FieldKind::i64: return ValueKind::i64;
    default: return std::nullopt;
  }
}

Value zero_of(ValueKind k) {
  switch (k) {
    case ValueKind::u8: return Value(std::uint8_t{0});
    case ValueKind::u16: return Value(std::uint16_t{0});
    case ValueKind::u32: return Value(std::uint32_t{0});
    case ValueKind::u64: return Value(std::uint64_t{0});
    case ValueKind::i8: return Value(std::int8_t{0});
    case ValueKind::i16: return Value(std::int16_t{0});
    case ValueKind::i32: return Value(std::int32_t{0});
    default: return Value(std::int64_t{0});
  }
}

std::optional<Value> zero_struct(const Description& d, std::size_t depth);

// The reset value of one element; nullopt when its encoding is run-time dependent.
std::optional<Value> zero_element(const Field& f, std::size_t depth) {
  if (f.nested) return zero_struct(*f.nested, depth + 1);
  if (auto k = value_kind(f.kind)) return zero_of(*k);
  if (f.kind == FieldKind::boolean) return Value(false);
  if (f.kind == FieldKind::f64) return Value(0.0);
  if (f.size == 0 || f.kind == FieldKind::string) return std::nullopt;
  return Value(Blob{std::vector<std::uint8_t>(f.size, 0)});
}

std::optional<Value> zero_field(const Field& f, std::size_t depth) {
  if (depth > 16 || f.list || f.nullable || f.count.mode == Count::Mode::from_field) return std::nullopt;
  auto e = zero_element(f, depth);
  if (!e) return std::nullopt;
  if (f.count.mode == Count::Mode::single) return e;
  Array a;
  a.items.assign(f.count.n, *e);
  return Value(std::move(a));
}

std::optional<Value> zero_struct(const Description& d, std::size_t depth) {
  Struct s;
  for (const auto& f : d.field_list()) {
    if (f.has_test() || f.version_id > d.version_id) continue;
    auto v = zero_field(f, depth);
    if (!v) return std::nullopt;
    s.members.push_back({f.name, std::move(*v)});
  }
  return Value(std::move(s));
}

// The description a path lives in, and the field's position there.
struct Located {
  const Description* parent = nullptr;
  std::size_t index = 0;
};

std::optional<Located> locate(const Description& top, const std::string& path) {
  // Paths: "a.b", "[sub].a.b". Walk all but the last component.
  const Description* cur = &top;
  std::string rest = path;
  while (!rest.empty()) {
    if (rest.front() == '[') {
      auto close = rest.find(']');
      if (close == std::string::npos) return std::nullopt;
      const Subsection* sub = cur->find_subsection(rest.substr(1, close - 1));
      if (!sub) return std::nullopt;
      cur = &sub->description;
      rest = rest.substr(close + 1);
      if (!rest.empty() && rest.front() == '.') rest = rest.substr(1);
      continue;
    }
    auto dot = rest.find_first_of(".[");
    std::string name = rest.substr(0, dot);
    const auto& fl = cur->field_list();
    for (std::size_t i = 0; i < fl.size(); ++i) {
      if (fl[i].name != name) continue;
      if (dot == std::string::npos) return Located{cur, i};
      if (!fl[i].nested) return std::nullopt;
      cur = fl[i].nested.get();
      break;
    }
    if (dot == std::string::npos) return std::nullopt;
    rest = rest.substr(dot);
    if (!rest.empty() && rest.front() == '.') rest = rest.substr(1);
  }
  return std::nullopt;
}

const Description* device(const SchemaSet& s, const std::string& key) {
  const DeviceSchema* d = s.find_device(key);
  return d ? &d->description : nullptr;
}

std::string leaf(const std::string& path) {
  auto p = path.find_last_of(".]");
  return p == std::string::npos ? path : path.substr(p + 1);
}

std::string parent_path(const std::string& path) {
  auto p = path.find_last_of('.');
  if (p == std::string::npos) {
    auto b = path.rfind(']');
    return b == std::string::npos ? std::string() : path.substr(0, b + 1);
  }
  return path.substr(0, p);
}

Transform base(const Description& od, const Finding& f, std::string note) {
  Transform t;
  t.section = f.section;
  t.from = t.to = od.version_id;
  t.note = std::move(note);
  t.origin = "check:" + f.rule;
  return t;
}

}  // namespace

void attach_repairs(const SchemaSet& o, const SchemaSet& n, CheckReport& report) {
  for (Finding& f : report.findings) {
    const Description* od = device(o, f.device);
    const Description* nd = device(n, f.device);
    if (!od || !nd || f.section.empty()) continue;
    if (f.rule == "field-added") {
      auto at = locate(*nd, f.path);
      if (!at) continue;
      const Field& field = at->parent->field_list()[at->index];
      auto def = zero_field(field, 0);
      if (!def) continue;
      const auto& fl = at->parent->field_list();
      std::string before = at->index + 1 < fl.size() ? fl[at->index + 1].name : std::string();
      Transform t = base(*od, f, "field added in the new build: insert its reset value");
      (field.has_test() ? t.when.has : t.when.has_untested).push_back(f.path);
      t.ops.push_back(ops::add(f.path, std::move(*def), before));
      f.repair_transform = std::move(t);
    } else if (f.rule == "field-removed") {
      Transform t = base(*od, f, "field removed in the new build: drop it");
      t.when.lacks.push_back(f.path);
      t.ops.push_back(ops::drop(f.path));
      f.repair_transform = std::move(t);
    } else if (f.rule == "field-reordered") {
      auto at = locate(*nd, f.path);
      if (!at) continue;
      const auto& fl = at->parent->field_list();
      std::string before = at->index + 1 < fl.size() ? fl[at->index + 1].name : std::string();
      Transform t = base(*od, f, "field moved in the new build");
      t.ops.push_back(ops::move(f.path, before));
      f.repair_transform = std::move(t);
    } else if (f.rule == "subsection-removed") {
      std::string name = f.path.size() > 2 ? leaf(f.path) : f.path;
      auto b = f.path.rfind('['), e = f.path.rfind(']');
      if (b == std::string::npos || e == std::string::npos || e < b) continue;
      name = f.path.substr(b + 1, e - b - 1);
      Transform t = base(*od, f, "subsection gone from the new build: drop it");
      t.when.lacks.push_back("[" + name + "]");
      t.ops.push_back(ops::drop_subsection(name));
      f.repair_transform = std::move(t);
    } else if (f.rule == "field-renamed") {
      if (f.new_name.empty()) continue;
      std::string parent = parent_path(f.path);
      std::string new_path = parent.empty() ? f.new_name
                             : parent.back() == ']' ? parent + "." + f.new_name
                                                    : parent + "." + f.new_name;
      Transform t = base(*od, f, "field renamed in the new build");
      t.when.has.push_back(new_path);
      t.ops.push_back(ops::rename(f.path, f.new_name));
      f.repair_transform = std::move(t);
    } else if (f.rule == "field-size-changed") {
      auto at = locate(*nd, f.path);
      if (!at) continue;
      auto k = value_kind(at->parent->field_list()[at->index].kind);
      if (!k) continue;  // a dump's opaque bytes: no integer to convert
      Transform t = base(*od, f, "integer width changed in the new build");
      t.ops.push_back(ops::change_width(f.path, *k));
      f.repair_transform = std::move(t);
    }
  }
}

namespace {

// A subsection path as check writes it: "[name]" or "outer.[name]".
std::string subsection_path(const std::string& p) {
  return p.find('[') == std::string::npos ? "[" + p + "]" : p;
}

// Whether `op` acts on the field or subsection at `path`.
bool touches(const TransformOp& op, const std::string& path) {
  switch (op.kind) {
    case OpKind::add_subsection:
    case OpKind::drop_subsection:
    case OpKind::refuse_subsection:
    case OpKind::set_version:
      return !op.path.empty() && subsection_path(op.path) == path;
    case OpKind::rename_field: {
      if (op.path == path) return true;
      const std::string parent = parent_path(op.path);
      return (parent.empty() ? op.name : parent + "." + op.name) == path;
    }
    case OpKind::split_section:
    case OpKind::merge_section:
      return false;
    default:
      return op.path == path;
  }
}

}  // namespace

void attach_known_repairs(const SchemaSet& o, const SchemaSet& n, const TransformSet& set,
                          CheckReport& report) {
  for (Finding& f : report.findings) {
    const Description* od = device(o, f.device);
    const Description* nd = device(n, f.device);
    if (!od || !nd || f.section.empty() || f.path.empty()) continue;
    for (CheckDirection dir : {CheckDirection::forward, CheckDirection::backward}) {
      // A transform runs on the source's state when the destination's description meets its condition.
      const Description& dest = dir == CheckDirection::forward ? *nd : *od;
      for (const Transform& t : set.all()) {
        if (t.section != f.section || !t.when.holds(dest)) continue;
        for (const TransformOp& op : t.ops) {
          if (!touches(op, f.path)) continue;
          KnownRepair k;
          k.direction = dir;
          k.transform = t.label();
          k.origin = t.origin;
          k.op = op.to_string();
          if (op.kind == OpKind::refuse_subsection || op.kind == OpKind::refuse_value) k.refuses = op.reason;
          f.known_repairs.push_back(std::move(k));
        }
      }
    }
  }
}

}  // namespace statewire::check_detail

namespace statewire {

TransformSet repair_transforms(const CheckReport& report) {
  TransformSet out;
  for (const auto& f : report.findings)
    if (f.repair_transform && f.repair_direction != CheckDirection::backward)
      out.add(*f.repair_transform);
  return out;
}

}  // namespace statewire
