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
#include <cstring>
#include <iterator>
#include <list>
#include <map>
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

// An integer field whose incoming value must equal the destination's (QEMU's
// `_EQUAL`): load checks it and stores nothing; save writes it as usual.
struct MustEqual {};
constexpr MustEqual must_equal() { return {}; }

// A nested struct sent and read at this fixed version of its description
// instead of the description's own (QEMU's VMSTATE_VSTRUCT).
struct StructVersion {
  std::uint32_t version;
};
constexpr StructVersion struct_version(std::uint32_t version) { return {version}; }

// The key of a map() is an integer written as be64 (QEMU's GTREE_DIRECT_KEY).
struct DirectKey {};
constexpr DirectKey direct_key() { return {}; }

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

// std::vector<S> / std::list<S> as a QEMU QTAILQ/QLIST.
template <class M>
struct list_container : std::false_type {};
template <class E, class A>
struct list_container<std::vector<E, A>> : std::true_type {
  using elem = E;
};
template <class E, class A>
struct list_container<std::list<E, A>> : std::true_type {
  using elem = E;
};

template <class M>
struct map_container : std::false_type {};
template <class K, class V, class C, class A>
struct map_container<std::map<K, V, C, A>> : std::true_type {};

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

template <class L>
const ListOps* list_ops() {
  static const ListOps ops{
      [](const void* c) { return static_cast<const L*>(c)->size(); },
      [](void* c, std::vector<unsigned char*>& out) {
        for (auto& e : *static_cast<L*>(c))
          out.push_back(reinterpret_cast<unsigned char*>(std::addressof(e)));
      },
      [](void* c) { static_cast<L*>(c)->clear(); },
      [](void* c) {
        auto& l = *static_cast<L*>(c);
        l.emplace_back();
        return reinterpret_cast<unsigned char*>(std::addressof(l.back()));
      }};
  return &ops;
}

template <class Mp>
const MapOps* map_ops() {
  using K = typename Mp::key_type;
  using V = typename Mp::mapped_type;
  using Node = std::pair<K, V>;
  static const MapOps ops{
      [](void* m, std::vector<std::pair<unsigned char*, unsigned char*>>& out) {
        for (auto& [k, v] : *static_cast<Mp*>(m))
          out.emplace_back(reinterpret_cast<unsigned char*>(const_cast<K*>(std::addressof(k))),
                           reinterpret_cast<unsigned char*>(std::addressof(v)));
      },
      [](void* m) { static_cast<Mp*>(m)->clear(); },
      []() { return std::shared_ptr<void>(std::make_shared<Node>()); },
      [](void* n) { return reinterpret_cast<unsigned char*>(&static_cast<Node*>(n)->first); },
      [](void* n) { return reinterpret_cast<unsigned char*>(&static_cast<Node*>(n)->second); },
      [](void* m, void* n) {
        auto& map = *static_cast<Mp*>(m);
        auto& node = *static_cast<Node*>(n);
        if (!map.empty() && !map.key_comp()(std::prev(map.end())->first, node.first)) return false;
        map.emplace_hint(map.end(), std::move(node.first), std::move(node.second));
        return true;
      },
      [](unsigned char* key, std::uint64_t v) {
        if constexpr (std::is_integral_v<K>) {
          const K k = static_cast<K>(v);
          if (static_cast<std::uint64_t>(k) != v) return false;
          std::memcpy(key, &k, sizeof k);
          return true;
        } else {
          return false;
        }
      },
      [](const unsigned char* key) -> std::uint64_t {
        if constexpr (std::is_integral_v<K>) {
          K k;
          std::memcpy(&k, key, sizeof k);
          return static_cast<std::uint64_t>(k);
        } else {
          return 0;
        }
      }};
  return &ops;
}

// A hook as the program stores it: gets the object and the version; a hook
// written without the version is called without it.
template <class Obj, class F>
auto wrap_hook(F f) {
  return [f = std::move(f)](auto* o, std::uint32_t version) -> Result<void> {
    Obj& obj = *static_cast<Obj*>(o);
    if constexpr (std::is_invocable_v<F&, Obj&, std::uint32_t>)
      return f(obj, version);
    else
      return f(obj);
  };
}
template <class Obj, class F>
constexpr bool is_hook() {
  return std::is_invocable_r_v<Result<void>, F&, Obj&, std::uint32_t> ||
         std::is_invocable_r_v<Result<void>, F&, Obj&>;
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
    if constexpr (std::is_copy_constructible_v<T> && std::is_copy_assignable_v<T>) {
      p_->clone = [](const void* o) {
        return std::shared_ptr<void>(std::make_shared<T>(*static_cast<const T*>(o)));
      };
      p_->assign = [](void* d, const void* o) {
        *static_cast<T*>(d) = *static_cast<const T*>(o);
      };
    }
  }

  // ---- Describing ------------------------------------------------------

  // A scalar (any integer width, bool, double, enum), a std::string, a fixed
  // array (std::array / C array) of those, a 2-D fixed array of scalars (one
  // flat array on the wire, as QEMU's _2DARRAY), or a raw pointer / fixed
  // array of raw pointers to scalars (an array's NULL elements are QEMU's
  // 0x30 marker; on load the destination's pointers decide). Members of a
  // base class of T work too (`&Derived::base_member`).
  template <class M, class Own, class... Opts>
  NativeDescription& field(std::string_view name, M Own::*member, Opts&&... opts) {
    M T::*mp = own(member);
    using C = detail::container<M>;
    using E = typename C::elem;
    using Inner = detail::container<E>;
    static_assert(!C::is_vec, "describe: a std::vector needs varray() with a count member");
    detail::Op op;
    Field f;
    if constexpr (C::is_array && Inner::is_array && !Inner::is_vec) {
      using E2 = typename Inner::elem;
      static_assert(detail::is_scalar_elem<E2>(),
                    "describe: a 2-D array given to field() must hold scalars");
      static_assert(sizeof(E) == sizeof(E2) * Inner::capacity, "describe: padded 2-D array");
      op.kind = detail::scalar_kind<E2>();
      op.offset = detail::offset_of(mp);
      op.stride = sizeof(E2);
      op.is_array = true;
      op.count = static_cast<std::uint32_t>(C::capacity * Inner::capacity);
      f.count = Count::fixed(op.count);
      f.size = sizeof(E2);
      finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
      return *this;
    } else if constexpr (std::is_pointer_v<E>) {
      using P = std::remove_cv_t<std::remove_pointer_t<E>>;
      static_assert(detail::is_scalar_elem<P>(),
                    "describe: field() takes pointers to scalars; a pointer to a struct goes "
                    "to structure()");
      op.kind = detail::scalar_kind<P>();
      op.pointer = true;
      op.offset = detail::offset_of(mp);
      op.stride = sizeof(E);
      op.buf_size = sizeof(P);
      fill_count<C>(op, f);
      f.size = sizeof(P);
      f.nullable = C::is_array;
      finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
      return *this;
    } else if constexpr (detail::is_scalar_elem<E>()) {
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
  template <class M, class Own, class... Opts>
  NativeDescription& buffer(std::string_view name, M Own::*member, Opts&&... opts) {
    M T::*mp = own(member);
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

  // A nested struct, or a fixed array of them, described by `d`; or a raw
  // pointer to one (QEMU's _POINTER: it must not be NULL), or a fixed array
  // of raw pointers (QEMU's ARRAY_OF_POINTER_TO_STRUCT: a NULL element is the
  // marker 0x30; on load the destination's pointers decide). Pointees are
  // loaded in place and put back if the load fails, so S must be copyable.
  template <class M, class Own, class S, class... Opts>
  NativeDescription& structure(std::string_view name, M Own::*member, const NativeDescription<S>& d,
                               Opts&&... opts) {
    M T::*mp = own(member);
    using C = detail::container<M>;
    using E = typename C::elem;
    constexpr bool is_ptr = std::is_pointer_v<E>;
    static_assert(std::is_same_v<std::remove_cv_t<std::remove_pointer_t<E>>, S>,
                  "describe: structure()'s description must describe the member's type");
    static_assert(!C::is_vec, "describe: a std::vector of structs needs struct_varray() or list()");
    detail::Op op;
    Field f;
    op.kind = detail::ElemKind::structure;
    op.offset = detail::offset_of(mp);
    op.stride = sizeof(E);
    if constexpr (is_ptr) {
      op.pointer = true;
      f.nullable = C::is_array;
      if (!d.program()->clone)
        detail::add_misuse(*p_, std::string(name) + ": a pointee must be copyable (a failed "
                                                    "load puts it back)");
    }
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
  template <class M, class Own, class N, class NOwn, class... Opts>
  NativeDescription& varray(std::string_view name, M Own::*member, N NOwn::*count_member,
                            std::uint32_t max, Opts&&... opts) {
    M T::*mp = own(member);
    N T::*count = own(count_member);
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
  template <class M, class Own, class N, class NOwn>
  NativeDescription& varray(std::string_view name, M Own::*mp, N NOwn::*count) {
    static_assert(!detail::container<M>::is_vec, "describe: a std::vector needs an explicit bound");
    return varray(name, mp, count, static_cast<std::uint32_t>(detail::container<M>::capacity));
  }

  // An array of structs whose length is the integer member `count`, at most `max`.
  template <class M, class Own, class N, class NOwn, class S, class... Opts>
  NativeDescription& struct_varray(std::string_view name, M Own::*member, N NOwn::*count_member,
                                   std::uint32_t max, const NativeDescription<S>& d,
                                   Opts&&... opts) {
    M T::*mp = own(member);
    N T::*count = own(count_member);
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

  // A std::vector<S> or std::list<S> as QEMU's QTAILQ/QLIST: 0x01 before
  // each element's body, 0x00 after the last (a load continues on any
  // non-zero byte). Elements are saved and loaded at `d`'s own version; QEMU
  // loads them at the field's `_V` version, which its devices set to the same.
  template <class M, class Own, class S, class... Opts>
  NativeDescription& list(std::string_view name, M Own::*member, const NativeDescription<S>& d,
                          Opts&&... opts) {
    M T::*mp = own(member);
    static_assert(detail::list_container<M>::value,
                  "describe: list() takes a std::vector or std::list of structs");
    static_assert(std::is_same_v<typename detail::list_container<M>::elem, S>,
                  "describe: list()'s description must describe the element type");
    detail::Op op;
    Field f;
    op.kind = detail::ElemKind::structure;
    op.offset = detail::offset_of(mp);
    op.stride = sizeof(S);
    op.nested = d.program();
    op.list = detail::list_ops<M>();
    f.size = sizeof(S);
    f.list = true;
    f.info = "qtailq";
    f.nested = std::make_shared<const Description>(d.schema());
    if (d.program()->misuse) detail::add_misuse(*p_, d.program()->misuse->message);
    finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  }

  // A std::map<K, V> as QEMU's GTree: be32 node count, then per node in key
  // order 0x01, the key and the value's body, then 0x00. `key` is
  // direct_key() for an integer K (QEMU's GTREE_DIRECT_KEY: be64 on the wire)
  // or the description of a struct K. Load refuses a count that does not
  // match the nodes (as QEMU) and keys out of ascending order (a saved GTree
  // never has them; QEMU would let a later node replace an earlier one).
  template <class M, class Own, class KD, class V, class... Opts>
  NativeDescription& map(std::string_view name, M Own::*member, const KD& key,
                         const NativeDescription<V>& value, Opts&&... opts) {
    M T::*mp = own(member);
    static_assert(detail::map_container<M>::value, "describe: map() takes a std::map");
    static_assert(std::is_same_v<typename M::mapped_type, V>,
                  "describe: map()'s value description must describe the mapped type");
    detail::Op op;
    Field f;
    if constexpr (std::is_same_v<KD, DirectKey>) {
      static_assert(std::is_integral_v<typename M::key_type> && sizeof(typename M::key_type) <= 8,
                    "describe: a direct key is an integer of at most 64 bits");
    } else {
      static_assert(std::is_same_v<KD, NativeDescription<typename M::key_type>>,
                    "describe: map()'s key is direct_key() or the key type's description");
      op.key = key.program();
      f.key = std::make_shared<const Description>(key.schema());
      if (key.program()->misuse) detail::add_misuse(*p_, key.program()->misuse->message);
    }
    op.kind = detail::ElemKind::structure;
    op.offset = detail::offset_of(mp);
    op.stride = sizeof(V);
    op.nested = value.program();
    op.map = detail::map_ops<M>();
    f.size = sizeof(V);
    f.gtree = true;
    f.info = "gtree";
    f.nested = std::make_shared<const Description>(value.schema());
    if (value.program()->misuse) detail::add_misuse(*p_, value.program()->misuse->message);
    finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  }

  // A child that exists only on the wire (QEMU's VMSTATE_WITH_TMP): `make`
  // computes it from the object on save (and as the starting point of a
  // load), `apply` writes a loaded one back; neither needs `mutable` members.
  //   .computed("fpreg", fpreg_tmp, [](const Cpu& c) { return FpTmp{...}; },
  //             [](Cpu& c, const FpTmp& t) -> Result<void> { ...; return ok(); })
  template <class Tmp, class Make, class Apply, class... Opts>
  NativeDescription& computed(std::string_view name, const NativeDescription<Tmp>& d, Make make,
                              Apply apply, Opts&&... opts) {
    static_assert(std::is_invocable_r_v<Tmp, const Make&, const T&>,
                  "describe: computed()'s first function takes (const T&) and returns the "
                  "wire-only struct");
    static_assert(std::is_invocable_r_v<Result<void>, const Apply&, T&, const Tmp&>,
                  "describe: computed()'s second function takes (T&, const Tmp&) and returns "
                  "Result<void>");
    detail::Op op;
    Field f;
    op.kind = detail::ElemKind::structure;
    op.stride = sizeof(Tmp);
    op.nested = d.program();
    op.tmp = std::make_shared<const detail::Computed>(detail::Computed{
        [make = std::move(make)](const void* o) {
          return std::shared_ptr<void>(std::make_shared<Tmp>(make(*static_cast<const T*>(o))));
        },
        [apply = std::move(apply)](void* o, const void* t) {
          return apply(*static_cast<T*>(o), *static_cast<const Tmp*>(t));
        }});
    f.size = sizeof(Tmp);
    f.info = "tmp";
    f.nested = std::make_shared<const Description>(d.schema());
    if (d.program()->misuse) detail::add_misuse(*p_, d.program()->misuse->message);
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

  // Hooks. Each returns Result<void> and takes the object, and optionally the
  // version being saved or loaded: (const T&[, uint32_t]) for pre_save and
  // post_save, which see the object read-only; (T&[, uint32_t]) for pre_load
  // and post_load, which work on the object being loaded. A failure stops the
  // save or load with Errc::hook_failed naming the description and the hook.
  template <class F>
  NativeDescription& pre_save(F f) {
    static_assert(detail::is_hook<const T, F>(),
                  "describe: pre_save takes a callable (const T&) or (const T&, uint32_t "
                  "version) returning Result<void>");
    p_->plans.reset();
    p_->pre_save = detail::wrap_hook<const T>(std::move(f));
    return *this;
  }
  template <class F>
  NativeDescription& post_save(F f) {
    static_assert(detail::is_hook<const T, F>(),
                  "describe: post_save takes a callable (const T&) or (const T&, uint32_t "
                  "version) returning Result<void>");
    p_->plans.reset();
    p_->post_save = detail::wrap_hook<const T>(std::move(f));
    return *this;
  }
  template <class F>
  NativeDescription& pre_load(F f) {
    static_assert(detail::is_hook<T, F>(),
                  "describe: pre_load takes a callable (T&) or (T&, uint32_t version) "
                  "returning Result<void>");
    p_->plans.reset();
    p_->pre_load = detail::wrap_hook<T>(std::move(f));
    return *this;
  }
  template <class F>
  NativeDescription& post_load(F f) {
    static_assert(detail::is_hook<T, F>(),
                  "describe: post_load takes a callable (T&) or (T&, uint32_t version) "
                  "returning Result<void>");
    p_->plans.reset();
    p_->post_load = detail::wrap_hook<T>(std::move(f));
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
  // Decides this description's test-gated fields for decode_body() as load()
  // into `destination` decides them: the partial tree is loaded over a copy
  // of the destination and the test runs on it (QEMU runs it on the object
  // being loaded). Without a destination: a default-constructed object. Tests
  // of nested struct descriptions run on their type's default object.
  TestResolver test_resolver() const { return detail::make_test_resolver(p_, nullptr); }
  TestResolver test_resolver(const T& destination) const {
    static_assert(std::is_copy_constructible_v<T>, "describe: test_resolver(dest) copies dest");
    return detail::make_test_resolver(p_, std::make_shared<const T>(destination));
  }
  // Decides, for decode_body(), which elements of this description's arrays of
  // pointers are NULL: those NULL in `destination` (read now), as load() into
  // it reads them. Covers the top-level body and its subsections.
  PointerResolver pointer_resolver(const T& destination) const {
    return detail::make_pointer_resolver(*p_, &destination);
  }

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

  // A member pointer of T or of one of its base classes, as one of T.
  template <class M, class Own>
  static M T::*own(M Own::*mp) {
    static_assert(std::is_same_v<Own, T> || std::is_base_of_v<Own, T>,
                  "describe: the member belongs neither to the described type nor to a base "
                  "class of it");
    return static_cast<M T::*>(mp);
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

  void apply(detail::Op& op, Field& f, MustEqual) {
    if (op.kind > detail::ElemKind::i64 || op.pointer || op.varray || op.vec) {
      detail::add_misuse(*p_, f.name + ": must_equal() takes an integer field");
      return;
    }
    op.equal = true;
    f.info += " equal";
  }
  void apply(detail::Op& op, Field& f, StructVersion v) {
    if (op.kind != detail::ElemKind::structure || op.list || op.tmp || !op.nested) {
      detail::add_misuse(*p_, f.name + ": struct_version() takes a nested struct field");
      return;
    }
    if (v.version > op.nested->version || v.version < op.nested->minimum)
      detail::add_misuse(*p_, f.name + ": struct_version() outside the nested description's range");
    op.struct_version = v.version;
    f.struct_version = v.version;
  }

  template <class... Opts>
  void finish(std::string_view name, detail::Op op, Field f, Opts&&... opts) {
    f.name = std::string(name);
    f.kind = detail::elem_field_kind(op.kind);
    if (f.info.empty()) f.info = std::string(detail::elem_info(op.kind));
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
