// The one walk over a compiled native description, shared by every visitor.
//
// walk_body() decides which fields are present (test, else version), resolves
// counts (bounded variable arrays), finds the elements (in the object or in a
// std::vector member), recurses into nested structs, runs the hooks and adds
// the field path to errors. What happens to the elements is the visitor's:
// save (object -> bytes), load (bytes -> object), to_tree, from_tree. The
// visitor is a template parameter, so each hot loop compiles to its own
// straight code with no virtual call per scalar.
//
// Errors: the walk and the visitors return bool (true: go on) and keep the
// Error in the visitor, because a Result<void> per field costs a 128-byte
// clear on every success; the entry points turn it back into a Result.
//
// A visitor V derives from VisitorBase and provides:
//   static constexpr bool kLoading;           // hooks and vector handling side
//   static constexpr bool kFused;             // run Program::fused, not ops
//   bool run_hooks() const;
//   bool stopped() const;                     // from_tree on a partial tree
//   void locate(Error&) const;                // add the current byte offset
//   bool prepare(const Op&, std::uint64_t n);  // before resizing a vector
//   template <class E> bool scalars(const Op&, const Field&, Ptr, std::uint64_t n);
//   bool buffers / strings (const Op&, const Field&, Ptr, std::uint64_t n);
//   bool unused(const Op&, const Field&);
//   bool structs(const Op&, const Field&, Ptr, std::uint64_t n, Each each);
//   bool pointers(const Op&, const Field&, Ptr slots, std::uint64_t n, Each one);
//   bool list(const Op&, const Field&, Ptr container, Each each);
//   bool map(const Op&, const Field&, Ptr map, KeyEach key, Each value);
//   bool subsections(const Program&, Ptr obj);
//   Plain plain(const Program&, Ptr obj);       // kFused only: a plain body at once
#pragma once

#include <fmt/format.h>

#include <cstring>

#include "statewire/detail/describe_program.hpp"

namespace statewire::detail {

using Ptr = unsigned char*;

// Where a visitor keeps the error that stopped the walk.
class VisitorBase {
 public:
  Error& error() noexcept { return error_; }

  [[gnu::cold]] bool raise(Error e) {
    error_ = std::move(e);
    return false;
  }
  [[gnu::cold]] bool raise(Errc code, std::string message) {
    return raise(make_error(code, std::move(message)));
  }
  // Keeps the error of a failed Result; true if it succeeded.
  template <class T>
  bool ok(Result<T>& r) {
    if (r) [[likely]] return true;
    return raise(std::move(r.error()));
  }
  template <class T>
  bool ok(Result<T>&& r) {
    return ok(r);
  }

 private:
  Error error_;
};

// Checks a body version against the description's accepted range.
[[nodiscard]] inline Result<void> check_range(const Program& p, std::uint32_t version,
                                              std::string_view what = "incoming") {
  if (version > p.version)
    return fail(Errc::version_too_new,
                fmt::format("{}: {} version_id {} is too new for local version_id {}", p.name,
                            what, version, p.version));
  if (version < p.minimum)
    return fail(Errc::version_too_old,
                fmt::format("{}: {} version_id {} is too old for local minimum version_id {}",
                            p.name, what, version, p.minimum));
  return {};
}

// The current value of a varray's count member.
[[nodiscard]] inline Result<std::uint64_t> read_count(const Op& op, const unsigned char* obj) {
  const unsigned char* at = obj + op.count_offset;
  auto get = [at](auto v) {
    std::memcpy(&v, at, sizeof v);
    return v;
  };
  std::int64_t s = 0;
  switch (op.count_kind) {
    case ElemKind::u8: return get(std::uint8_t{});
    case ElemKind::u16: return get(std::uint16_t{});
    case ElemKind::u32: return get(std::uint32_t{});
    case ElemKind::u64: return get(std::uint64_t{});
    case ElemKind::i8: s = get(std::int8_t{}); break;
    case ElemKind::i16: s = get(std::int16_t{}); break;
    case ElemKind::i32: s = get(std::int32_t{}); break;
    case ElemKind::i64: s = get(std::int64_t{}); break;
    default: return fail(Errc::schema_invalid, "count member is not an integer");
  }
  if (s < 0) return fail(Errc::invalid_value, fmt::format("negative element count {}", s));
  return static_cast<std::uint64_t>(s);
}

[[nodiscard]] inline Result<void> hook_result(const Program& p, const char* which,
                                              Result<void> r) {
  if (r) return {};
  Error e = std::move(r.error());
  e.code = Errc::hook_failed;
  e.message = fmt::format("{} of {} failed: {}", which, p.name, e.message);
  return fail(std::move(e));
}

template <class V>
bool walk_body(const Program& p, Ptr obj, std::uint32_t version, V& v);

// The elements of one field at `elems` (n of them, `op.stride` apart).
template <class V>
[[gnu::always_inline]] inline bool dispatch(const Op& op, const Field& f, Ptr elems,
                                            std::uint64_t n, V& v) {
  switch (op.kind) {
    case ElemKind::u8: return v.template scalars<std::uint8_t>(op, f, elems, n);
    case ElemKind::u16: return v.template scalars<std::uint16_t>(op, f, elems, n);
    case ElemKind::u32: return v.template scalars<std::uint32_t>(op, f, elems, n);
    case ElemKind::u64: return v.template scalars<std::uint64_t>(op, f, elems, n);
    case ElemKind::i8: return v.template scalars<std::int8_t>(op, f, elems, n);
    case ElemKind::i16: return v.template scalars<std::int16_t>(op, f, elems, n);
    case ElemKind::i32: return v.template scalars<std::int32_t>(op, f, elems, n);
    case ElemKind::i64: return v.template scalars<std::int64_t>(op, f, elems, n);
    case ElemKind::boolean: return v.template scalars<bool>(op, f, elems, n);
    case ElemKind::f64: return v.template scalars<double>(op, f, elems, n);
    case ElemKind::buffer: return v.buffers(op, f, elems, n);
    case ElemKind::string: return v.strings(op, f, elems, n);
    case ElemKind::unused: return v.unused(op, f);
    case ElemKind::structure: {
      const Program& nested = *op.nested;
      // VSTRUCT: a fixed version instead of the nested description's own.
      const auto ver = op.struct_version >= 0 ? static_cast<std::uint32_t>(op.struct_version)
                                              : nested.version;
      auto each = [&nested, ver, &v](Ptr e) { return walk_body(nested, e, ver, v); };
      return v.structs(op, f, elems, n, each);
    }
  }
  return v.raise(Errc::schema_invalid, "unknown element kind");
}

// The rarer constructs, kept out of walk_op's hot path.
template <class V>
[[gnu::noinline]] bool walk_special(const Op& op, const Field& f, Ptr obj, Ptr elems,
                                    std::uint64_t n, V& v) {
  (void)n;
  if (op.tmp) {
    // WITH_TMP: the child exists only on the wire; computed from the object
    // (also the starting point of a load) and, loaded, written back by apply.
    std::shared_ptr<void> t = op.tmp->make(obj);
    const Program& nested = *op.nested;
    auto each = [&nested, &v](Ptr e) { return walk_body(nested, e, nested.version, v); };
    Op one = op;
    one.tmp = nullptr;
    one.is_array = false;
    one.count = 1;
    if (!v.structs(one, f, static_cast<Ptr>(t.get()), 1, each)) return false;
    if constexpr (V::kLoading) {
      if (v.stopped()) return true;
      return v.ok(op.tmp->apply(obj, t.get()));
    }
    return true;
  }
  if (op.map) {
    const Program& values = *op.nested;
    auto value = [&values, &v](Ptr e) { return walk_body(values, e, values.version, v); };
    const Program* keys = op.key.get();
    auto key = [keys, &v](Ptr e) { return walk_body(*keys, e, keys->version, v); };
    return v.map(op, f, elems, key, value);
  }
  if (op.list) {
    const Program& nested = *op.nested;
    auto each = [&nested, &v](Ptr e) { return walk_body(nested, e, nested.version, v); };
    return v.list(op, f, elems, each);
  }
  // Pointers: each element is reached through a raw pointer; the visitor
  // handles NULL (an array's marker, an error for a single pointer).
  Op one = op;
  one.pointer = false;
  one.is_array = false;
  one.count = 1;
  auto each = [&one, &f, &v](Ptr target) { return dispatch(one, f, target, 1, v); };
  return v.pointers(op, f, elems, n, each);
}

template <class V>
[[gnu::always_inline]] inline bool walk_op(const Op& op, const Field& f, Ptr obj, V& v) {
  std::uint64_t n = op.count;
  if (op.varray) {
    auto c = read_count(op, obj);
    if (!v.ok(c)) return false;
    if (*c > op.max)
      return v.raise(Errc::limit_exceeded,
                     fmt::format("{} elements (count {}) above the bound {}", *c,
                                 f.count.field, op.max));
    n = *c;
  }
  Ptr elems = obj + op.offset;
  if (op.vec) {
    if constexpr (V::kLoading) {
      if (!v.prepare(op, n)) return false;
      elems = op.vec->resize(elems, static_cast<std::size_t>(n));
    } else {
      std::size_t have = op.vec->size(elems);
      if (have < n)
        return v.raise(Errc::invalid_value,
                       fmt::format("count {} says {} elements, the vector holds {}",
                                   f.count.field, n, have));
      elems = op.vec->data(elems);
    }
  }
  if (op.special) [[unlikely]]
    return walk_special(op, f, obj, elems, n, v);
  return dispatch(op, f, elems, n, v);
}

// Whether a body can take the fixed-size path: plain fields at the
// description's own version and nothing that runs code in between.
inline bool plain_at(const Program& p, std::uint32_t version) {
  return p.plain && version == p.version && p.subs.empty() && !p.pre_save && !p.post_save &&
         !p.pre_load && !p.post_load;
}

enum class Plain : std::uint8_t { done, failed, use_walk };

template <class V>
bool walk_body(const Program& p, Ptr obj, std::uint32_t version, V& v) {
  if constexpr (V::kFused) {
    if (plain_at(p, version)) {
      const Plain r = v.plain(p, obj);
      if (r == Plain::done) return v.subsections(p, obj);
      if (r == Plain::failed) return false;
      // use_walk: the bytes are short; the field by field walk names the field.
    }
  }
  if constexpr (V::kLoading) {
    if (p.pre_load && v.run_hooks())
      if (auto r = p.pre_load(obj, version); !r) [[unlikely]]
        return v.ok(hook_result(p, "pre_load", std::move(r)));
  } else {
    if (p.pre_save)
      if (auto r = p.pre_save(obj, version); !r) [[unlikely]]
        return v.ok(hook_result(p, "pre_save", std::move(r)));
  }
  const std::vector<Field>& fields = *p.schema.fields;
  auto one = [&](const Op& op, std::size_t i) -> bool {
    bool present = op.test >= 0 ? p.tests[static_cast<std::size_t>(op.test)](obj, version)
                                : op.since <= version;
    if (!present) return true;
    if (!walk_op(op, fields[i], obj, v)) [[unlikely]] {
      v.locate(v.error());
      v.error().in_field(fields[i].name);
      return false;
    }
    return true;
  };
  if constexpr (V::kFused) {
    for (const FusedOp& fo : p.fused) {
      if (fo.n == 1) {
        if (!one(fo.op, fo.first)) return false;
        continue;
      }
      if (fo.op.since > version) continue;
      if (!walk_op(fo.op, fields[fo.first], obj, v)) [[unlikely]] {
        // Replay the run field by field so the error names the right one.
        for (std::uint32_t j = fo.first; j < fo.first + fo.n; ++j)
          if (!one(p.ops[j], j)) return false;
        v.error().in_field(fields[fo.first].name);
        return false;
      }
    }
  } else {
    for (std::size_t i = 0, e = p.ops.size(); i < e; ++i) {
      if (!one(p.ops[i], i)) return false;
      if (v.stopped()) return true;
    }
  }
  if (!v.subsections(p, obj)) return false;
  if constexpr (V::kLoading) {
    if (p.post_load && v.run_hooks())
      if (auto r = p.post_load(obj, version); !r) [[unlikely]]
        return v.ok(hook_result(p, "post_load", std::move(r)));
  } else {
    if (p.post_save)
      if (auto r = p.post_save(obj, version); !r) [[unlikely]]
        return v.ok(hook_result(p, "post_save", std::move(r)));
  }
  return true;
}

// Runs `each` over n structs, adding "[k]" to an error's path for arrays.
template <class V, class Each>
bool for_each_struct(V& v, const Op& op, Ptr elems, std::uint64_t n, Each&& each) {
  for (std::uint64_t k = 0; k < n; ++k) {
    if (!each(elems + k * op.stride)) [[unlikely]] {
      if (op.is_array) v.error().in_field(fmt::format("[{}]", k));
      return false;
    }
  }
  return true;
}

}  // namespace statewire::detail
