// statewire/detail/describe_traits.hpp — what describe.hpp's builder knows of C++
// types: which containers a field may be (arrays, vectors, lists, maps), the
// element kind of a scalar, member offsets, container and hook adapters, and the
// non-template builder helpers (src/describe/builder.cpp). Not promised API.
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

#include "statewire/detail/describe_program.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"

namespace statewire {

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

}  // namespace statewire
