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
#include "statewire/describe_options.hpp"
#include "statewire/detail/describe_program.hpp"
#include "statewire/detail/describe_traits.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire {

// What a hook returns when it succeeds: the same as `return {};` but without
// the 128-byte clear tl::expected's value-initialisation costs on every call.
inline Result<void> ok() { return detail::success(); }

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
  NativeDescription& field(std::string_view name, M Own::*member, Opts&&... opts);

  // Raw bytes: a std::array<uint8_t, N> or uint8_t[N] (also char/std::byte).
  template <class M, class Own, class... Opts>
  NativeDescription& buffer(std::string_view name, M Own::*member, Opts&&... opts);

  // A nested struct, or a fixed array of them, described by `d`; or a raw
  // pointer to one (QEMU's _POINTER: it must not be NULL), or a fixed array
  // of raw pointers (QEMU's ARRAY_OF_POINTER_TO_STRUCT: a NULL element is the
  // marker 0x30; on load the destination's pointers decide). Pointees are
  // loaded in place and put back if the load fails, so S must be copyable.
  template <class M, class Own, class S, class... Opts>
  NativeDescription& structure(std::string_view name, M Own::*member, const NativeDescription<S>& d,
                               Opts&&... opts);

  // An array whose length is the earlier-described integer member `count`,
  // at most `max` (default: the array's capacity). The array may be a
  // std::array / C array (count <= capacity) or a std::vector (resized on load).
  // Elements: scalars, std::string, or byte arrays (each one buffer).
  template <class M, class Own, class N, class NOwn, class... Opts>
  NativeDescription& varray(std::string_view name, M Own::*member, N NOwn::*count_member,
                            std::uint32_t max, Opts&&... opts);
  template <class M, class Own, class N, class NOwn>
  NativeDescription& varray(std::string_view name, M Own::*mp, N NOwn::*count);

  // An array of structs whose length is the integer member `count`, at most `max`.
  template <class M, class Own, class N, class NOwn, class S, class... Opts>
  NativeDescription& struct_varray(std::string_view name, M Own::*member, N NOwn::*count_member,
                                   std::uint32_t max, const NativeDescription<S>& d,
                                   Opts&&... opts);

  // A std::vector<S> or std::list<S> as QEMU's QTAILQ/QLIST: 0x01 before
  // each element's body, 0x00 after the last (a load continues on any
  // non-zero byte). Elements are saved and loaded at `d`'s own version; QEMU
  // loads them at the field's `_V` version, which its devices set to the same.
  template <class M, class Own, class S, class... Opts>
  NativeDescription& list(std::string_view name, M Own::*member, const NativeDescription<S>& d,
                          Opts&&... opts);

  // A std::map<K, V> as QEMU's GTree: be32 node count, then per node in key
  // order 0x01, the key and the value's body, then 0x00. `key` is
  // direct_key() for an integer K (QEMU's GTREE_DIRECT_KEY: be64 on the wire)
  // or the description of a struct K. Load refuses a count that does not
  // match the nodes (as QEMU) and keys out of ascending order (a saved GTree
  // never has them; QEMU would let a later node replace an earlier one).
  template <class M, class Own, class KD, class V, class... Opts>
  NativeDescription& map(std::string_view name, M Own::*member, const KD& key,
                         const NativeDescription<V>& value, Opts&&... opts);

  // A child that exists only on the wire (QEMU's VMSTATE_WITH_TMP): `make`
  // computes it from the object on save (and as the starting point of a
  // load), `apply` writes a loaded one back; neither needs `mutable` members.
  //   .computed("fpreg", fpreg_tmp, [](const Cpu& c) { return FpTmp{...}; },
  //             [](Cpu& c, const FpTmp& t) -> Result<void> { ...; return ok(); })
  template <class Tmp, class Make, class Apply, class... Opts>
  NativeDescription& computed(std::string_view name, const NativeDescription<Tmp>& d, Make make,
                              Apply apply, Opts&&... opts);

  // `n` bytes of padding: zeros on save, skipped on load (VMSTATE_UNUSED).
  template <class... Opts>
  NativeDescription& unused(std::uint32_t n, Opts&&... opts);

  // A subsection of the same object, sent iff `needed(obj)`. Its name must
  // start with "<this name>/" (QEMU's loader matches subsections by prefix).
  template <class F>
  NativeDescription& subsection(const NativeDescription<T>& sub, std::string needed_name,
                                F needed);

  // Hooks. Each returns Result<void> and takes the object, and optionally the
  // version being saved or loaded: (const T&[, uint32_t]) for pre_save and
  // post_save, which see the object read-only; (T&[, uint32_t]) for pre_load
  // and post_load, which work on the object being loaded. A failure stops the
  // save or load with Errc::hook_failed naming the description and the hook.
  template <class F>
  NativeDescription& pre_save(F f);
  template <class F>
  NativeDescription& post_save(F f);
  template <class F>
  NativeDescription& pre_load(F f);
  template <class F>
  NativeDescription& post_load(F f);

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
  static M T::*own(M Own::*mp);

  static std::string fmt_trailing(std::size_t n) {
    return std::to_string(n) + " bytes left after the body";
  }

  template <class C>
  void fill_count(detail::Op& op, Field& f);

  template <class C, class N, class M>
  void set_varray(detail::Op& op, Field& f, std::string_view name, M T::*mp, N T::*count,
                  std::uint32_t max);

  void apply(detail::Op& op, Field& f, Since s);
  template <class F>
  void apply(detail::Op& op, Field& f, When<F> w);

  void apply(detail::Op& op, Field& f, MustEqual);
  void apply(detail::Op& op, Field& f, StructVersion v);

  template <class... Opts>
  void finish(std::string_view name, detail::Op op, Field f, Opts&&... opts);

  std::shared_ptr<detail::Program> p_;
};

// Starts a description of T: its vmsd name, current version and the oldest
// version its loader accepts.
template <class T>
NativeDescription<T> describe(std::string name, std::uint32_t version, std::uint32_t minimum) {
  return NativeDescription<T>(std::move(name), version, minimum);
}

}  // namespace statewire

// The describing methods' definitions.
#include "statewire/detail/describe_builder.hpp"
