// statewire/describe.hpp — describe a program's own structs, then save, load,
// build trees and export schemas from that one description.
//
//   struct Uart { uint8_t lcr; uint16_t divider; std::array<uint8_t, 16> rx; uint8_t rx_len; };
//   const auto uart = statewire::describe<Uart>("uart", /*version=*/2, /*minimum=*/1)
//       .field("lcr", &Uart::lcr)
//       .field("divider", &Uart::divider, statewire::since(2))
//       .field("rx_len", &Uart::rx_len)
//       .varray("rx", &Uart::rx, &Uart::rx_len)        // length is rx_len, at most 16
//       .post_load([](Uart& u, uint32_t) -> statewire::Result<void> { ... });
//   SW_TRY(bytes, uart.save(u));                        // QEMU VMState body bytes
//   SW_CHECK(uart.load(u2, bytes, /*version=*/2));
//
// Fields are named by member pointers, so types and offsets come from the
// compiler. The bytes are QEMU's VMState body encoding (vmstate_body.hpp), so
// decode_body(d.schema(), ...) reads what save() writes and the QEMU stream codec
// can carry it. save() writes straight from the object (no tree); load() checks
// every read, bounds every variable count, and restores the object from a
// backup if anything fails. Misusing the builder (a count member not described earlier, a bound
// above an array's capacity, ...) is recorded and returned by every visitor as
// Errc::schema_invalid. A NativeDescription is a handle: copies share one
// compiled program, so finish describing before using or copying it.
// Not here: compatibility transforms (transform layer).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "statewire/cursor.hpp"
#include "statewire/detail/describe_program.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire {

// Field options, in any order after the member pointer.
struct Since {
  std::uint32_t version;
};
// The field exists from this version of its description on (QEMU's `_V`).
constexpr Since since(std::uint32_t version) { return {version}; }

// The field is sent iff `pred(obj, version)` (or `pred(obj)`) holds; the test
// replaces the version rule (QEMU's `_TEST`). `name` is exported in the schema
// and keys the TestResolver, so keep it unique within a description tree.
template <class F>
struct When {
  std::string name;
  F pred;
};
template <class F>
When<std::decay_t<F>> when(std::string name, F&& pred) {
  return {std::move(name), std::forward<F>(pred)};
}

// What a hook returns when it succeeds: the same as `return {};` but without
// the 128-byte clear tl::expected's value-initialisation costs on every call.
inline Result<void> ok() { return detail::success(); }

struct SaveOptions {
  // Target version of the top-level body (default: the description's own).
  // Fields newer than it are omitted, reproducing what an older build wrote.
  std::optional<std::uint32_t> version;
};

struct LoadOptions {
  DecodeLimits limits;
};

namespace detail {

// Element type and capacity of the containers a field may be.
template <class M>
struct container {
  using elem = M;
  static constexpr std::size_t capacity = 1;
  static constexpr bool is_array = false;
  static constexpr bool is_vec = false;
};
template <class E, std::size_t N>
struct container<std::array<E, N>> {
  using elem = E;
  static constexpr std::size_t capacity = N;
  static constexpr bool is_array = true;
  static constexpr bool is_vec = false;
};
template <class E, std::size_t N>
struct container<E[N]> {
  using elem = E;
  static constexpr std::size_t capacity = N;
  static constexpr bool is_array = true;
  static constexpr bool is_vec = false;
};
template <class E, class A>
struct container<std::vector<E, A>> {
  using elem = E;
  static constexpr std::size_t capacity = 0;
  static constexpr bool is_array = true;
  static constexpr bool is_vec = true;
};

template <class E>
constexpr bool is_scalar_elem() {
  return std::is_arithmetic_v<E> || std::is_enum_v<E>;
}

// The ElemKind of a scalar C++ type (enums by their underlying type).
template <class E>
constexpr ElemKind scalar_kind() {
  if constexpr (std::is_enum_v<E>) {
    return scalar_kind<std::underlying_type_t<E>>();
  } else if constexpr (std::is_same_v<E, bool>) {
    return ElemKind::boolean;
  } else if constexpr (std::is_same_v<E, double>) {
    return ElemKind::f64;
  } else {
    static_assert(std::is_integral_v<E>, "describe: unsupported scalar type");
    constexpr bool s = std::is_signed_v<E>;
    if constexpr (sizeof(E) == 1) return s ? ElemKind::i8 : ElemKind::u8;
    else if constexpr (sizeof(E) == 2) return s ? ElemKind::i16 : ElemKind::u16;
    else if constexpr (sizeof(E) == 4) return s ? ElemKind::i32 : ElemKind::u32;
    else return s ? ElemKind::i64 : ElemKind::u64;
  }
}

// Byte-sized element types a buffer may hold.
template <class E>
constexpr bool is_byte_elem() {
  return std::is_same_v<E, std::uint8_t> || std::is_same_v<E, char> ||
         std::is_same_v<E, std::int8_t> || std::is_same_v<E, std::byte> ||
         std::is_same_v<E, unsigned char>;
}

// Byte offset of a data member, computed once from the member pointer. The
// object is never constructed; only the member's address is taken.
template <class T, class M>
std::uint32_t offset_of(M T::*mp) {
  union Storage {
    Storage() {}
    ~Storage() {}
    T obj;
  };
  static Storage storage;
  const auto* base = reinterpret_cast<const unsigned char*>(std::addressof(storage.obj));
  const auto* field = reinterpret_cast<const unsigned char*>(std::addressof(storage.obj.*mp));
  return static_cast<std::uint32_t>(field - base);
}

template <class V>
const VectorOps* vector_ops() {
  static const VectorOps ops{
      [](const void* v) { return static_cast<const V*>(v)->size(); },
      [](void* v) { return reinterpret_cast<unsigned char*>(static_cast<V*>(v)->data()); },
      [](void* v, std::size_t n) {
        static_cast<V*>(v)->resize(n);
        return reinterpret_cast<unsigned char*>(static_cast<V*>(v)->data());
      }};
  return &ops;
}

// Shared, non-template parts of the builder (src/describe/builder.cpp).
void add_op(Program& p, Op op, Field f);
void add_misuse(Program& p, std::string message);
// Name of an earlier scalar field at this offset (the count of a varray).
const Field* find_count_field(const Program& p, std::uint32_t offset, ElemKind kind);
std::string_view elem_info(ElemKind k) noexcept;
FieldKind elem_field_kind(ElemKind k) noexcept;
// memcpy behind a call, so the compiler cannot turn it into `rep movsq`.
void copy_bytes(void* dst, const void* src, std::size_t n) noexcept;

}  // namespace detail

template <class T>
class NativeDescription {
 public:
  NativeDescription(std::string name, std::uint32_t version, std::uint32_t minimum)
      : p_(std::make_shared<detail::Program>()) {
    p_->name = name;
    if constexpr (sizeof(T) <= UINT32_MAX) p_->object_size = static_cast<std::uint32_t>(sizeof(T));
    p_->version = version;
    p_->minimum = minimum;
    p_->schema.name = std::move(name);
    p_->schema.version_id = version;
    p_->schema.minimum_version_id = minimum;
    p_->schema.fields.emplace();
    if (minimum > version)
      detail::add_misuse(*p_, "minimum_version_id is above version_id");
    if constexpr (std::is_default_constructible_v<T>)
      p_->make_default = [] { return std::shared_ptr<void>(std::make_shared<T>()); };
  }

  // ---- Describing ------------------------------------------------------

  // A scalar (any integer width, bool, double, enum), a std::string, or a fixed
  // array (std::array / C array) of those.
  template <class M, class... Opts>
  NativeDescription& field(std::string_view name, M T::*mp, Opts&&... opts) {
    using C = detail::container<M>;
    using E = typename C::elem;
    static_assert(!C::is_vec, "describe: a std::vector needs varray() with a count member");
    detail::Op op;
    Field f;
    if constexpr (detail::is_scalar_elem<E>()) {
      static_assert(sizeof(E) == detail::elem_width(detail::scalar_kind<E>()),
                    "describe: scalar's host size differs from its wire width");
      op.kind = detail::scalar_kind<E>();
    } else {
      static_assert(std::is_same_v<E, std::string>,
                    "describe: field() takes scalars, std::string or fixed arrays of them; "
                    "use buffer(), structure() or varray()");
      op.kind = detail::ElemKind::string;
    }
    op.offset = detail::offset_of(mp);
    op.stride = sizeof(E);
    fill_count<C>(op, f);
    f.size = sizeof(E);
    finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  }

  // Raw bytes: a std::array<uint8_t, N> or uint8_t[N] (also char/std::byte).
  template <class M, class... Opts>
  NativeDescription& buffer(std::string_view name, M T::*mp, Opts&&... opts) {
    using C = detail::container<M>;
    static_assert(C::is_array && !C::is_vec && detail::is_byte_elem<typename C::elem>(),
                  "describe: buffer() takes a fixed array of bytes");
    detail::Op op;
    Field f;
    op.kind = detail::ElemKind::buffer;
    op.offset = detail::offset_of(mp);
    op.stride = static_cast<std::uint32_t>(sizeof(M));
    op.buf_size = static_cast<std::uint32_t>(sizeof(M));
    f.size = sizeof(M);
    finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  }

  // A nested struct, or a fixed array of them, described by `d`.
  template <class M, class S, class... Opts>
  NativeDescription& structure(std::string_view name, M T::*mp, const NativeDescription<S>& d,
                               Opts&&... opts) {
    using C = detail::container<M>;
    static_assert(std::is_same_v<typename C::elem, S>,
                  "describe: structure()'s description must describe the member's type");
    static_assert(!C::is_vec, "describe: a std::vector of structs needs struct_varray()");
    detail::Op op;
    Field f;
    op.kind = detail::ElemKind::structure;
    op.offset = detail::offset_of(mp);
    op.stride = sizeof(S);
    op.nested = d.program();
    fill_count<C>(op, f);
    f.size = sizeof(S);
    f.nested = std::make_shared<const Description>(d.schema());
    if (d.program()->misuse) detail::add_misuse(*p_, d.program()->misuse->message);
    finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  }

  // An array whose length is the earlier-described integer member `count`,
  // at most `max` (default: the array's capacity). The array may be a
  // std::array / C array (count <= capacity) or a std::vector (resized on load).
  // Elements: scalars, std::string, or byte arrays (each one buffer).
  template <class M, class N, class... Opts>
  NativeDescription& varray(std::string_view name, M T::*mp, N T::*count, std::uint32_t max,
                            Opts&&... opts) {
    using C = detail::container<M>;
    using E = typename C::elem;
    static_assert(C::is_array, "describe: varray() takes an array or std::vector");
    detail::Op op;
    Field f;
    if constexpr (detail::is_scalar_elem<E>()) {
      op.kind = detail::scalar_kind<E>();
      f.size = sizeof(E);
    } else if constexpr (std::is_same_v<E, std::string>) {
      op.kind = detail::ElemKind::string;
      f.size = sizeof(E);
    } else {
      using B = detail::container<E>;
      static_assert(B::is_array && !B::is_vec && detail::is_byte_elem<typename B::elem>(),
                    "describe: varray() elements are scalars, strings or byte arrays; "
                    "for structs use struct_varray()");
      op.kind = detail::ElemKind::buffer;
      op.buf_size = static_cast<std::uint32_t>(sizeof(E));
      f.size = sizeof(E);
    }
    op.stride = sizeof(E);
    set_varray<C, N>(op, f, name, mp, count, max);
    finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  }
  template <class M, class N>
  NativeDescription& varray(std::string_view name, M T::*mp, N T::*count) {
    static_assert(!detail::container<M>::is_vec, "describe: a std::vector needs an explicit bound");
    return varray(name, mp, count, static_cast<std::uint32_t>(detail::container<M>::capacity));
  }

  // An array of structs whose length is the integer member `count`, at most `max`.
  template <class M, class N, class S, class... Opts>
  NativeDescription& struct_varray(std::string_view name, M T::*mp, N T::*count,
                                   std::uint32_t max, const NativeDescription<S>& d,
                                   Opts&&... opts) {
    using C = detail::container<M>;
    static_assert(C::is_array && std::is_same_v<typename C::elem, S>,
                  "describe: varray()'s description must describe the element type");
    detail::Op op;
    Field f;
    op.kind = detail::ElemKind::structure;
    op.stride = sizeof(S);
    op.nested = d.program();
    f.size = sizeof(S);
    f.nested = std::make_shared<const Description>(d.schema());
    if (d.program()->misuse) detail::add_misuse(*p_, d.program()->misuse->message);
    set_varray<C, N>(op, f, name, mp, count, max);
    finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  }

  // `n` bytes of padding: zeros on save, skipped on load (VMSTATE_UNUSED).
  template <class... Opts>
  NativeDescription& unused(std::uint32_t n, Opts&&... opts) {
    detail::Op op;
    Field f;
    op.kind = detail::ElemKind::unused;
    op.buf_size = n;
    f.size = n;
    finish("unused", std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  }

  // A subsection of the same object, sent iff `needed(obj)`. Its name must
  // start with "<this name>/" (QEMU's loader matches subsections by prefix).
  template <class F>
  NativeDescription& subsection(const NativeDescription<T>& sub, std::string needed_name,
                                F needed) {
    if (sub.name().rfind(p_->name + "/", 0) != 0)
      detail::add_misuse(*p_, "subsection " + sub.name() + " does not start with " + p_->name + "/");
    if (sub.program()->misuse) detail::add_misuse(*p_, sub.program()->misuse->message);
    p_->plans.reset();
    p_->subs.push_back({sub.program(), [needed = std::move(needed)](const void* o) {
                          return static_cast<bool>(needed(*static_cast<const T*>(o)));
                        }});
    if (!p_->schema.subsections) p_->schema.subsections.emplace();
    p_->schema.subsections->push_back(Subsection{sub.schema(), std::move(needed_name)});
    return *this;
  }

  // Hooks. Each returns Result<void>; a failure stops the save or load with
  // Errc::hook_failed naming the description and the hook. pre_save/post_save
  // see the object read-only; pre_load/post_load work on the copy being loaded.
  template <class F>
  NativeDescription& pre_save(F f) {
    p_->plans.reset();
    p_->pre_save = [f = std::move(f)](const void* o) { return f(*static_cast<const T*>(o)); };
    return *this;
  }
  template <class F>
  NativeDescription& post_save(F f) {
    p_->plans.reset();
    p_->post_save = [f = std::move(f)](const void* o) { return f(*static_cast<const T*>(o)); };
    return *this;
  }
  template <class F>
  NativeDescription& pre_load(F f) {
    p_->plans.reset();
    p_->pre_load = [f = std::move(f)](void* o) { return f(*static_cast<T*>(o)); };
    return *this;
  }
  template <class F>
  NativeDescription& post_load(F f) {
    p_->plans.reset();
    p_->post_load = [f = std::move(f)](void* o, std::uint32_t v) {
      return f(*static_cast<T*>(o), v);
    };
    return *this;
  }

  // ---- Visitors --------------------------------------------------------

  // Appends the body (QEMU VMState encoding) of `obj` to `out`; on error
  // nothing is appended.
  [[nodiscard]] Result<void> save(const T& obj, ByteWriter& out, const SaveOptions& o = {}) const {
    return detail::save(*p_, &obj, out, {o.version.value_or(p_->version)});
  }
  [[nodiscard]] Result<Bytes> save(const T& obj, const SaveOptions& o = {}) const {
    ByteWriter w;
    SW_CHECK(save(obj, w, o));
    return std::move(w).take();
  }

  // Reads one body of `version` from `cur` (leaving it after the body). `obj`
  // changes only on success; fields the version lacks keep their values.
  [[nodiscard]] Result<void> load(T& obj, Cursor& cur, std::uint32_t version,
                                  const LoadOptions& o = {}) const {
    if (detail::load_at_once(*p_, &obj, cur, version, false)) return detail::success();
    return transact(obj, [&](T& work) {
      return detail::load(*p_, &work, cur, version, {o.limits, true, false});
    });
  }
  // Same, but the whole span must be the body.
  [[nodiscard]] Result<void> load(T& obj, ByteSpan bytes, std::uint32_t version,
                                  const LoadOptions& o = {}) const {
    Cursor cur(bytes);
    if (detail::load_at_once(*p_, &obj, cur, version, true)) return detail::success();
    return transact(obj, [&](T& work) -> Result<void> {
      SW_CHECK(detail::load(*p_, &work, cur, version, {o.limits, true, false}));
      if (!cur.empty()) {
        Error e = cur.error_here(Errc::mismatch, fmt_trailing(cur.remaining()));
        e.in_section(p_->name);
        return fail(std::move(e));
      }
      return detail::success();
    });
  }

  // The tree of what save() would write (equal to decode_body of those bytes).
  [[nodiscard]] Result<Struct> to_tree(const T& obj, const SaveOptions& o = {}) const {
    return detail::to_tree(*p_, &obj, {o.version.value_or(p_->version)});
  }
  // Loads a tree of `version` (as decode_body returns it); `obj` changes only on success.
  [[nodiscard]] Result<void> from_tree(T& obj, const Struct& body, std::uint32_t version,
                                       const LoadOptions& o = {}) const {
    return transact(obj, [&](T& work) {
      return detail::from_tree(*p_, &work, body, version, {o.limits, true, false});
    });
  }

  // The schema in statewire's Description form; to_schema_json() exports it in
  // QEMU's -dump-vmstate shape (size = host size of one element).
  const Description& schema() const noexcept { return p_->schema; }
  // Decides this description's test-gated fields for decode_body() from a tree:
  // the partial tree is loaded into a default-constructed object and the test
  // runs on it.
  TestResolver test_resolver() const { return detail::make_test_resolver(p_); }

  const std::string& name() const noexcept { return p_->name; }
  std::uint32_t version() const noexcept { return p_->version; }
  std::uint32_t minimum_version() const noexcept { return p_->minimum; }
  const std::shared_ptr<const detail::Program> program() const noexcept { return p_; }

 private:
  // Runs `body` on `obj` after taking a backup, and puts the backup back if
  // it fails, so a failed load leaves `obj` as it was (one copy on success).
  // Types owning memory keep the backup in a per-thread scratch object whose
  // capacity is reused, so a steady stream of loads does not allocate; the
  // scratch holds the previous state until the next load of that type on
  // that thread.
  template <class F>
  Result<void> transact(T& obj, F&& body) const {
    if constexpr (std::is_trivially_copyable_v<T>) {
      // Not `T backup = obj`: GCC copies a big struct of known size with
      // `rep movsq`, whose start-up cost was a fifth of loading a CPU-sized
      // state; the library's memcpy (size unknown to the compiler) is not.
      alignas(T) unsigned char backup[sizeof(T)];
      detail::copy_bytes(backup, &obj, sizeof(T));
      Result<void> r = body(obj);
      if (!r) [[unlikely]] detail::copy_bytes(&obj, backup, sizeof(T));
      return r;
    } else if constexpr (!std::is_default_constructible_v<T>) {
      T backup = obj;
      Result<void> r = body(obj);
      if (!r) [[unlikely]] obj = std::move(backup);
      return r;
    } else {
      static thread_local T scratch;
      static thread_local bool busy = false;
      if (busy) {  // a hook loading another object of the same type
        T backup = obj;
        Result<void> r = body(obj);
        if (!r) obj = std::move(backup);
        return r;
      }
      busy = true;
      scratch = obj;
      Result<void> r = body(obj);
      if (!r) [[unlikely]] {
        using std::swap;
        swap(obj, scratch);
      }
      busy = false;
      return r;
    }
  }

  static std::string fmt_trailing(std::size_t n) {
    return std::to_string(n) + " bytes left after the body";
  }

  template <class C>
  void fill_count(detail::Op& op, Field& f) {
    if constexpr (C::is_array) {
      op.is_array = true;
      op.count = static_cast<std::uint32_t>(C::capacity);
      f.count = Count::fixed(op.count);
    }
  }

  template <class C, class N, class M>
  void set_varray(detail::Op& op, Field& f, std::string_view name, M T::*mp, N T::*count,
                  std::uint32_t max) {
    static_assert(std::is_integral_v<N> && !std::is_same_v<N, bool>,
                  "describe: a varray's count member must be an integer");
    op.is_array = true;
    op.varray = true;
    op.offset = detail::offset_of(mp);
    op.count_offset = detail::offset_of(count);
    op.count_kind = detail::scalar_kind<N>();
    op.max = max;
    if constexpr (C::is_vec) {
      op.vec = detail::vector_ops<M>();
    } else if (max > C::capacity) {
      detail::add_misuse(*p_, std::string(name) + ": bound above the array's capacity");
    }
    const Field* cf = detail::find_count_field(*p_, op.count_offset, op.count_kind);
    if (!cf) {
      detail::add_misuse(*p_, std::string(name) + ": count member is not an earlier field");
      f.count = Count::from("", max);
    } else {
      f.count = Count::from(cf->name, max);
    }
  }

  void apply(detail::Op& op, Field& f, Since s) {
    op.since = s.version;
    f.version_id = s.version;
    if (s.version > p_->version)
      detail::add_misuse(*p_, f.name + ": since a version above the description's");
  }
  template <class F>
  void apply(detail::Op& op, Field& f, When<F> w) {
    op.test = static_cast<std::int32_t>(p_->tests.size());
    f.test = w.name;
    F pred = std::move(w.pred);
    p_->tests.push_back([pred = std::move(pred)](const void* o, std::uint32_t v) -> bool {
      const T& obj = *static_cast<const T*>(o);
      if constexpr (std::is_invocable_v<const F&, const T&, std::uint32_t>)
        return pred(obj, v);
      else
        return pred(obj);
    });
  }

  template <class... Opts>
  void finish(std::string_view name, detail::Op op, Field f, Opts&&... opts) {
    f.name = std::string(name);
    f.kind = detail::elem_field_kind(op.kind);
    f.info = std::string(detail::elem_info(op.kind));
    (apply(op, f, std::forward<Opts>(opts)), ...);
    detail::add_op(*p_, std::move(op), std::move(f));
  }

  std::shared_ptr<detail::Program> p_;
};

// Starts a description of T: its vmsd name, current version and the oldest
// version its loader accepts.
template <class T>
NativeDescription<T> describe(std::string name, std::uint32_t version, std::uint32_t minimum) {
  return NativeDescription<T>(std::move(name), version, minimum);
}

}  // namespace statewire
