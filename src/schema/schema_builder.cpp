// SchemaBuilder (include/statewire/schema_builder.hpp).
#include "statewire/schema_builder.hpp"

#include <fmt/format.h>

#include <memory>

namespace statewire {

namespace {

Field make(std::string name, FieldKind kind, std::uint64_t size) {
  Field f;
  f.name = std::move(name);
  f.kind = kind;
  f.size = size;
  return f;
}

}  // namespace

SchemaBuilder::SchemaBuilder(std::string name, std::uint32_t version, std::uint32_t minimum) {
  d_.name = std::move(name);
  d_.version_id = version;
  d_.minimum_version_id = minimum;
  d_.fields.emplace();
  if (minimum > version) {
    misuse_ = make_error(Errc::schema_invalid, "minimum_version_id is above version_id");
    misuse_->in_section(d_.name);
  }
}

SchemaBuilder& SchemaBuilder::add(Field f, const FieldOptions& o) {
  f.version_id = o.since;
  f.test = o.test;
  f.must_exist = o.must_exist;
  if (o.since > d_.version_id && !misuse_) {
    misuse_ = make_error(Errc::schema_invalid, "since a version above the description's");
    misuse_->in_field(f.name).in_section(d_.name);
  }
  d_.fields->push_back(std::move(f));
  return *this;
}

SchemaBuilder& SchemaBuilder::scalar(std::string name, FieldKind kind, FieldOptions o) {
  if (!scalar_width(kind) && !misuse_) {
    misuse_ = make_error(Errc::schema_invalid, "scalar() takes an integer, bool or f64 kind");
    misuse_->in_field(name).in_section(d_.name);
  }
  return add(make(std::move(name), kind, scalar_width(kind)), o);
}

SchemaBuilder& SchemaBuilder::array(std::string name, FieldKind kind, std::uint32_t n,
                                    FieldOptions o) {
  Field f = make(std::move(name), kind, scalar_width(kind));
  f.count = Count::fixed(n);
  return add(std::move(f), o);
}

SchemaBuilder& SchemaBuilder::varray(std::string name, FieldKind kind, std::string count_field,
                                     std::uint32_t max, FieldOptions o) {
  // The count must be on the wire before the array: an earlier integer field.
  const Field* c = nullptr;
  for (const Field& f : *d_.fields)
    if (f.name == count_field) c = &f;
  if ((!c || !is_integer_kind(c->kind) || c->count.mode != Count::Mode::single) && !misuse_) {
    misuse_ = make_error(Errc::schema_invalid,
                         fmt::format("count field '{}' is not an earlier integer field", count_field));
    misuse_->in_field(name).in_section(d_.name);
  }
  Field f = make(std::move(name), kind, scalar_width(kind));
  f.count = Count::from(std::move(count_field), max);
  return add(std::move(f), o);
}

SchemaBuilder& SchemaBuilder::buffer(std::string name, std::uint64_t size, FieldOptions o) {
  return add(make(std::move(name), FieldKind::buffer, size), o);
}

SchemaBuilder& SchemaBuilder::string(std::string name, FieldOptions o) {
  return add(make(std::move(name), FieldKind::string, 0), o);
}

SchemaBuilder& SchemaBuilder::unused(std::uint64_t size, FieldOptions o) {
  return add(make("unused", FieldKind::unused, size), o);
}

SchemaBuilder& SchemaBuilder::structure(std::string name, const Description& nested,
                                        FieldOptions o) {
  Field f = make(std::move(name), FieldKind::structure, 0);
  f.nested = std::make_shared<const Description>(nested);
  if (o.count) f.count = Count::fixed(o.count);
  f.struct_version = o.struct_version;
  return add(std::move(f), o);
}

SchemaBuilder& SchemaBuilder::list(std::string name, const Description& element, FieldOptions o) {
  Field f = make(std::move(name), FieldKind::structure, 0);
  f.nested = std::make_shared<const Description>(element);
  f.list = true;
  return add(std::move(f), o);
}

SchemaBuilder& SchemaBuilder::pointers(std::string name, FieldKind kind, std::uint32_t n,
                                       FieldOptions o) {
  Field f = make(std::move(name), kind, scalar_width(kind));
  f.count = Count::fixed(n);
  f.nullable = true;
  return add(std::move(f), o);
}

SchemaBuilder& SchemaBuilder::struct_pointers(std::string name, const Description& nested,
                                              std::uint32_t n, FieldOptions o) {
  Field f = make(std::move(name), FieldKind::structure, 0);
  f.nested = std::make_shared<const Description>(nested);
  f.count = Count::fixed(n);
  f.nullable = true;
  return add(std::move(f), o);
}

SchemaBuilder& SchemaBuilder::field(Field f) {
  d_.fields->push_back(std::move(f));
  return *this;
}

SchemaBuilder& SchemaBuilder::subsection(const Description& sub, std::string needed) {
  // QEMU's loader matches a subsection by the parent's name and a '/'.
  if (sub.name.rfind(d_.name + "/", 0) != 0 && !misuse_) {
    misuse_ = make_error(Errc::schema_invalid,
                         fmt::format("subsection {} does not start with {}/", sub.name, d_.name));
    misuse_->in_section(d_.name);
  }
  if (!d_.subsections) d_.subsections.emplace();
  d_.subsections->push_back(Subsection{sub, std::move(needed)});
  return *this;
}

Result<Description> SchemaBuilder::build() const {
  if (misuse_) return fail(*misuse_);
  return d_;
}

}  // namespace statewire
