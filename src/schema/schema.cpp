#include "statewire/schema.hpp"

#include <algorithm>
#include <array>

namespace statewire {

namespace {
constexpr std::array<std::string_view, 16> kKindNames = {
    "u8",  "u16",     "u32", "u64",    "i8",     "i16",       "i32",    "i64",
    "bool", "f64", "buffer", "unused", "string", "struct", "opaque", "custom"};
}

std::string_view field_kind_name(FieldKind k) noexcept {
  return kKindNames[static_cast<std::size_t>(k)];
}

std::optional<FieldKind> field_kind_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kKindNames.size(); ++i)
    if (kKindNames[i] == name) return static_cast<FieldKind>(i);
  return std::nullopt;
}

std::size_t scalar_width(FieldKind k) noexcept {
  switch (k) {
    case FieldKind::u8: case FieldKind::i8: case FieldKind::boolean: return 1;
    case FieldKind::u16: case FieldKind::i16: return 2;
    case FieldKind::u32: case FieldKind::i32: return 4;
    case FieldKind::u64: case FieldKind::i64: case FieldKind::f64: return 8;
    default: return 0;
  }
}

bool is_integer_kind(FieldKind k) noexcept {
  return k <= FieldKind::i64 || k == FieldKind::boolean;
}

bool is_signed_kind(FieldKind k) noexcept {
  return k >= FieldKind::i8 && k <= FieldKind::i64;
}

std::optional<std::uint64_t> Field::element_wire_size() const noexcept {
  if (nullable || list || gtree) return std::nullopt;
  if (std::size_t w = scalar_width(kind)) return w;
  switch (kind) {
    case FieldKind::buffer: case FieldKind::unused: case FieldKind::opaque: return size;
    default: return std::nullopt;
  }
}

bool operator==(const Field& a, const Field& b) {
  bool nested_equal = (!a.nested && !b.nested) ||
                      (a.nested && b.nested && *a.nested == *b.nested);
  return nested_equal && a.name == b.name && a.kind == b.kind && a.info == b.info &&
         a.size == b.size && a.count == b.count && a.version_id == b.version_id &&
         a.test == b.test && a.must_exist == b.must_exist && a.nullable == b.nullable &&
         a.list == b.list && a.num == b.num && a.null_elements == b.null_elements &&
         a.struct_version == b.struct_version && a.gtree == b.gtree &&
         ((!a.key && !b.key) || (a.key && b.key && *a.key == *b.key));
}

bool operator==(const Description& a, const Description& b) {
  return a.name == b.name && a.version_id == b.version_id &&
         a.minimum_version_id == b.minimum_version_id && a.fields == b.fields &&
         a.subsections == b.subsections;
}

const std::vector<Field>& Description::field_list() const {
  static const std::vector<Field> kNone;
  return fields ? *fields : kNone;
}

const std::vector<Subsection>& Description::subsection_list() const {
  static const std::vector<Subsection> kNone;
  return subsections ? *subsections : kNone;
}

const Field* Description::find_field(std::string_view n) const {
  for (const auto& f : field_list())
    if (f.name == n) return &f;
  return nullptr;
}

const Subsection* Description::find_subsection(std::string_view n) const {
  for (const auto& s : subsection_list())
    if (s.description.name == n) return &s;
  return nullptr;
}

const DeviceSchema* SchemaSet::find_device(std::string_view key) const {
  for (const auto& d : devices)
    if (d.key == key) return &d;
  return nullptr;
}

const Description* SchemaSet::find_description(std::string_view vmsd_name) const {
  for (const auto& d : devices)
    if (d.description.name == vmsd_name) return &d.description;
  return nullptr;
}

namespace {
void accumulate(const Description& d, std::size_t depth, SchemaStats& s) {
  ++s.descriptions;
  s.max_depth = std::max(s.max_depth, depth);
  for (const auto& f : d.field_list()) {
    ++s.fields;
    if (f.nested) accumulate(*f.nested, depth + 1, s);
  }
  for (const auto& sub : d.subsection_list()) {
    ++s.subsections;
    accumulate(sub.description, depth + 1, s);
  }
}
}  // namespace

SchemaStats stats(const Description& d) {
  SchemaStats s;
  accumulate(d, 1, s);
  return s;
}

SchemaStats stats(const SchemaSet& set) {
  SchemaStats s;
  for (const auto& d : set.devices) accumulate(d.description, 1, s);
  return s;
}

}  // namespace statewire
