// The non-template half of describe.hpp's builder: appending ops and fields,
// recording misuse, and naming QEMU's VMStateInfo for each element kind.
#include <fmt/format.h>

#include <cstring>

#include "statewire/describe.hpp"

namespace statewire::detail {

namespace {

// Integers and doubles of one width have the same wire form (big-endian bytes
// of that width); bools are left alone because loading checks them.
bool fusable(const Op& op) {
  return (op.kind <= ElemKind::i64 || op.kind == ElemKind::f64) && !op.varray && !op.vec &&
         op.test < 0 && !op.equal && !op.pointer;
}

ElemKind unsigned_of_width(std::size_t w) {
  switch (w) {
    case 1: return ElemKind::u8;
    case 2: return ElemKind::u16;
    case 4: return ElemKind::u32;
    default: return ElemKind::u64;
  }
}

}  // namespace

void add_op(Program& p, Op op, Field f) {
  p.plans.reset();  // the layout changes: plans are rebuilt on next use
  op.special = op.pointer || op.list || op.map || op.tmp;
  const std::size_t w = elem_width(op.kind);
  if (w && !op.varray && !op.vec && op.test < 0 && !op.equal && !op.pointer)
    p.plain_size += static_cast<std::uint32_t>(w * op.count);
  else
    p.plain = false;
  if (!p.fused.empty() && fusable(op)) {
    FusedOp& last = p.fused.back();
    const Op& prev = last.op;
    if (fusable(prev) && elem_width(prev.kind) == w && prev.since == op.since &&
        prev.offset + prev.count * w == op.offset) {
      last.op.kind = unsigned_of_width(w);
      last.op.is_array = true;
      last.op.count += op.count;
      ++last.n;
      p.ops.push_back(std::move(op));
      p.schema.fields->push_back(std::move(f));
      return;
    }
  }
  p.fused.push_back({op, static_cast<std::uint32_t>(p.ops.size()), 1});
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

void copy_bytes(void* dst, const void* src, std::size_t n) noexcept { std::memcpy(dst, src, n); }

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
