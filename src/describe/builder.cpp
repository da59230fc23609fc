// The non-template half of describe.hpp's builder: appending ops and fields,
// recording misuse, and naming QEMU's VMStateInfo for each element kind.
#include <fmt/format.h>

#include "statewire/describe.hpp"

namespace statewire::detail {

void add_op(Program& p, Op op, Field f) {
  p.ops.push_back(std::move(op));
  p.schema.fields->push_back(std::move(f));
}

void add_misuse(Program& p, std::string message) {
  if (p.misuse) return;
  Error e = make_error(Errc::schema_invalid, fmt::format("bad description: {}", message));
  e.in_section(p.name);
  p.misuse = std::move(e);
}

const Field* find_count_field(const Program& p, std::uint32_t offset, ElemKind kind) {
  // The count must already be on the wire when the array is read, so only
  // earlier plain scalar fields qualify.
  for (std::size_t i = p.ops.size(); i-- > 0;) {
    const Op& op = p.ops[i];
    if (op.offset == offset && op.kind == kind && !op.is_array && op.kind <= ElemKind::i64)
      return &(*p.schema.fields)[i];
  }
  return nullptr;
}

std::string_view elem_info(ElemKind k) noexcept {
  switch (k) {
    case ElemKind::u8: return "uint8";
    case ElemKind::u16: return "uint16";
    case ElemKind::u32: return "uint32";
    case ElemKind::u64: return "uint64";
    case ElemKind::i8: return "int8";
    case ElemKind::i16: return "int16";
    case ElemKind::i32: return "int32";
    case ElemKind::i64: return "int64";
    case ElemKind::boolean: return "bool";
    case ElemKind::f64: return "float64";
    case ElemKind::buffer: return "buffer";
    case ElemKind::string: return "string";
    case ElemKind::structure: return "";
    case ElemKind::unused: return "unused_buffer";
  }
  return "";
}

FieldKind elem_field_kind(ElemKind k) noexcept {
  switch (k) {
    case ElemKind::u8: return FieldKind::u8;
    case ElemKind::u16: return FieldKind::u16;
    case ElemKind::u32: return FieldKind::u32;
    case ElemKind::u64: return FieldKind::u64;
    case ElemKind::i8: return FieldKind::i8;
    case ElemKind::i16: return FieldKind::i16;
    case ElemKind::i32: return FieldKind::i32;
    case ElemKind::i64: return FieldKind::i64;
    case ElemKind::boolean: return FieldKind::boolean;
    case ElemKind::f64: return FieldKind::f64;
    case ElemKind::buffer: return FieldKind::buffer;
    case ElemKind::string: return FieldKind::string;
    case ElemKind::structure: return FieldKind::structure;
    case ElemKind::unused: return FieldKind::unused;
  }
  return FieldKind::opaque;
}

}  // namespace statewire::detail
