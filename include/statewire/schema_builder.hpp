// statewire/schema_builder.hpp — writing a schema Description by hand (tests,
// tools, peers without C++ types) as briefly as a native description.
//
//   auto entry = SchemaBuilder("entry", 1, 1).scalar("addr", FieldKind::u64).build();
//   FieldOptions v3;
//   v3.since = 3;
//   auto dev = SchemaBuilder("dev", 3, 1)
//       .scalar("ctrl", FieldKind::u32)
//       .scalar("late", FieldKind::u16, v3)
//       .array("regs", FieldKind::u32, 4)
//       .scalar("n", FieldKind::u8)
//       .varray("filters", FieldKind::u16, "n", 16)
//       .buffer("mac", 6)
//       .structure("ring", *entry)
//       .list("queue", *entry)
//       .pointers("slots", FieldKind::u32, 4)        // NULL elements: marker 0x30
//       .unused(3)
//       .subsection(*extra, "dev_extra_needed")
//       .build();                                    // Result<Description>
//
// The fields mean what they mean in schema.hpp and vmstate_body.hpp. build()
// refuses what no stream could follow (a count field that is not an earlier
// integer field, a subsection without the parent's name prefix) with
// Errc::schema_invalid naming the field. Not here: native types (describe.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "statewire/result.hpp"
#include "statewire/schema.hpp"

namespace statewire {

struct FieldOptions {
  std::uint32_t since = 0;                     // QEMU's _V
  std::optional<std::string> test;             // QEMU's _TEST: sent iff this predicate holds
  std::uint32_t count = 0;                     // structure(): a fixed array of n structs
  std::optional<std::uint32_t> struct_version;  // structure(): VSTRUCT
  bool must_exist = false;
};

class SchemaBuilder {
 public:
  SchemaBuilder(std::string name, std::uint32_t version, std::uint32_t minimum);

  SchemaBuilder& scalar(std::string name, FieldKind kind, FieldOptions o = {});
  SchemaBuilder& array(std::string name, FieldKind kind, std::uint32_t n, FieldOptions o = {});
  // `count_field` names an earlier integer field; at most `max` elements.
  SchemaBuilder& varray(std::string name, FieldKind kind, std::string count_field,
                        std::uint32_t max, FieldOptions o = {});
  SchemaBuilder& buffer(std::string name, std::uint64_t size, FieldOptions o = {});
  SchemaBuilder& string(std::string name, FieldOptions o = {});
  SchemaBuilder& unused(std::uint64_t size, FieldOptions o = {});
  SchemaBuilder& structure(std::string name, const Description& nested, FieldOptions o = {});
  SchemaBuilder& list(std::string name, const Description& element, FieldOptions o = {});
  // Arrays of n pointers to scalars / to structs (NULL elements are 0x30).
  SchemaBuilder& pointers(std::string name, FieldKind kind, std::uint32_t n, FieldOptions o = {});
  SchemaBuilder& struct_pointers(std::string name, const Description& nested, std::uint32_t n,
                                 FieldOptions o = {});
  SchemaBuilder& field(Field f);  // anything else, as is
  SchemaBuilder& subsection(const Description& sub, std::string needed);

  [[nodiscard]] Result<Description> build() const;

 private:
  SchemaBuilder& add(Field f, const FieldOptions& o);

  Description d_;
  std::optional<Error> misuse_;
};

}  // namespace statewire
