// The PointerResolver of a native description: which elements of the
// destination's arrays of pointers are NULL, for decode_body().
#include "statewire/describe.hpp"

#include <algorithm>
#include <cstring>

#include "describe/walk.hpp"

namespace statewire::detail {

namespace {

// Which elements of each array of pointers of the destination are NULL, read
// once. Keys are paths from the body decode_body() starts at ("dev.slots",
// "dev.one.slots", "dev.ring[2].slots"; vmstate_body.hpp), so a pointer array
// inside a nested struct, or inside a struct reached through a pointer, is
// decided by the object it is in. Subsections share the object and start
// their own paths. Lists, maps, vectors and computed children are built
// afresh by a load, so nothing of the destination decides pointers in them.
void collect_pointers(const Program& p, const unsigned char* obj, const std::string& path,
                      PointerResolver& out, std::size_t depth) {
  if (depth > 64 || !obj) return;
  const auto& fields = *p.schema.fields;
  for (std::size_t i = 0; i < p.ops.size(); ++i) {
    const Op& op = p.ops[i];
    if (op.list || op.map || op.tmp || op.vec) continue;
    std::uint64_t n = op.count;
    if (op.varray) {
      auto c = read_count(op, obj);
      n = c ? std::min<std::uint64_t>(*c, op.max) : 0;
    }
    const std::string here = fmt::format("{}.{}", path, fields[i].name);
    auto element_path = [&](std::uint64_t k) {
      return op.is_array ? fmt::format("{}[{}]", here, k) : here;
    };
    if (op.pointer) {
      std::vector<bool> null;
      for (std::uint64_t k = 0; k < n; ++k) {
        const unsigned char* target;
        std::memcpy(&target, obj + op.offset + k * op.stride, sizeof target);
        null.push_back(target == nullptr);
        if (target && op.kind == ElemKind::structure)
          collect_pointers(*op.nested, target, element_path(k), out, depth + 1);
      }
      if (op.is_array)
        out[here] = [null = std::move(null)](const Struct&, std::uint64_t k) -> std::optional<bool> {
          if (k >= null.size()) return std::nullopt;
          return bool(null[k]);
        };
    } else if (op.kind == ElemKind::structure) {
      for (std::uint64_t k = 0; k < n; ++k)
        collect_pointers(*op.nested, obj + op.offset + k * op.stride, element_path(k), out,
                         depth + 1);
    }
  }
  for (const SubProgram& s : p.subs) collect_pointers(*s.program, obj, s.program->name, out, depth + 1);
}

}  // namespace

PointerResolver make_pointer_resolver(const Program& p, const void* destination) {
  PointerResolver out;
  collect_pointers(p, static_cast<const unsigned char*>(destination), p.name, out, 0);
  return out;
}

}  // namespace statewire::detail
