// The fixed description the vmstate_body fuzz target decodes against: every
// field kind, a counted array, a list, a nested struct and a subsection.
#pragma once

#include <memory>

#include "statewire/schema.hpp"

namespace statewire::fuzz {

inline Field leaf(const char* name, FieldKind k, std::uint64_t size = 0) {
  Field f;
  f.name = name;
  f.kind = k;
  f.size = size ? size : scalar_width(k);
  return f;
}

inline Description fuzz_description() {
  auto inner = std::make_shared<Description>();
  inner->name = "inner";
  inner->version_id = 1;
  inner->fields = std::vector<Field>{leaf("a", FieldKind::u32), leaf("s", FieldKind::string)};
  Subsection isub;
  isub.description.name = "inner/sub";
  isub.description.version_id = 1;
  isub.description.fields = std::vector<Field>{leaf("z", FieldKind::i16)};
  inner->subsections = std::vector<Subsection>{isub};

  Description d;
  d.name = "fz";
  d.version_id = 2;
  d.minimum_version_id = 1;
  d.fields = std::vector<Field>{leaf("u8", FieldKind::u8), leaf("u16", FieldKind::u16),
                                leaf("i64", FieldKind::i64), leaf("b", FieldKind::boolean),
                                leaf("f", FieldKind::f64), leaf("buf", FieldKind::buffer, 5),
                                leaf("pad", FieldKind::unused, 2), leaf("n", FieldKind::u8)};
  Field arr = leaf("arr", FieldKind::u32);
  arr.count = Count::from("n", 16);
  d.fields->push_back(arr);
  Field fixed = leaf("fixed", FieldKind::u16);
  fixed.count = Count::fixed(3);
  d.fields->push_back(fixed);
  Field st = leaf("st", FieldKind::structure);
  st.nested = inner;
  st.count = Count::fixed(2);
  d.fields->push_back(st);
  Field lst = st;
  lst.name = "lst";
  lst.count = Count::single();
  lst.list = true;
  d.fields->push_back(lst);
  Field ptrs = leaf("ptrs", FieldKind::u16);
  ptrs.count = Count::fixed(2);
  ptrs.nullable = true;
  d.fields->push_back(ptrs);
  Field v2 = leaf("v2", FieldKind::u64);
  v2.version_id = 2;
  d.fields->push_back(v2);
  Subsection sub;
  sub.description.name = "fz/extra";
  sub.description.version_id = 1;
  sub.description.fields = std::vector<Field>{leaf("x", FieldKind::u32)};
  d.subsections = std::vector<Subsection>{sub};
  return d;
}

}  // namespace statewire::fuzz
