// statewire/detail/describe_program.hpp — the compiled form of a native description.
//
// describe.hpp's typed builder turns member pointers into this flat, type-erased
// program: one Op per field with the member's byte offset (computed once), the
// element kind, count, version and test. The visitors in src/describe/ walk it
// with a switch per op and a tight loop per array, so saving and loading cost no
// virtual call per scalar and never build a tree. Not promised API: use
// NativeDescription<T> (describe.hpp) instead.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire::detail {

// What one element of a native field is in memory and on the wire.
enum class ElemKind : std::uint8_t {
  u8, u16, u32, u64, i8, i16, i32, i64,
  boolean,    // C++ bool, one byte on the wire
  f64,        // double, be64 bits
  buffer,     // `buf_size` raw bytes (std::array<uint8_t, N> / uint8_t[N])
  string,     // std::string, be32 length + bytes
  structure,  // a nested program's body
  unused,     // padding: `buf_size` zeros on save, skipped on load; no memory
};

// Wire width of a scalar element kind, 0 for the others.
constexpr std::size_t elem_width(ElemKind k) {
  switch (k) {
    case ElemKind::u8: case ElemKind::i8: case ElemKind::boolean: return 1;
    case ElemKind::u16: case ElemKind::i16: return 2;
    case ElemKind::u32: case ElemKind::i32: return 4;
    case ElemKind::u64: case ElemKind::i64: case ElemKind::f64: return 8;
    default: return 0;
  }
}

// Access to a std::vector<E> member, so the visitors need not know E.
struct VectorOps {
  std::size_t (*size)(const void* vec);
  unsigned char* (*data)(void* vec);
  unsigned char* (*resize)(void* vec, std::size_t n);  // returns data()
};

// Access to a list member (std::vector<S> / std::list<S> as QEMU's
// QTAILQ/QLIST), so the visitors need not know the container.
struct ListOps {
  std::size_t (*size)(const void* c);
  void (*elements)(void* c, std::vector<unsigned char*>& out);  // in list order
  void (*clear)(void* c);
  unsigned char* (*append)(void* c);  // a default-constructed element at the end
};

// Access to a std::map member (QEMU's GTree), so the visitors need not know
// its types. A node is a std::pair<K, V> built before it is inserted.
struct MapOps {
  void (*entries)(void* m, std::vector<std::pair<unsigned char*, unsigned char*>>& out);
  void (*clear)(void* m);
  std::shared_ptr<void> (*make_node)();
  unsigned char* (*node_key)(void* node);
  unsigned char* (*node_value)(void* node);
  // Appends the node; false unless its key sorts after every key there.
  bool (*append)(void* m, void* node);
  // Direct keys (integers): from and to the be64 on the wire; false: does not fit.
  bool (*set_direct)(unsigned char* key, std::uint64_t v);
  std::uint64_t (*get_direct)(const unsigned char* key);
};

// A wire-only child (QEMU's VMSTATE_WITH_TMP): `make` computes it from the
// object (save, and the starting point of a load), `apply` writes a loaded one
// back.
struct Computed {
  std::function<std::shared_ptr<void>(const void* obj)> make;
  std::function<Result<void>(void* obj, const void* tmp)> apply;
};

struct Program;

struct Op {
  ElemKind kind = ElemKind::u8;
  ElemKind count_kind = ElemKind::u32;  // integer kind of the count member (varrays)
  bool is_array = false;                // fixed or variable count (tree: an Array)
  bool varray = false;                  // count read from the member at count_offset
  std::uint32_t offset = 0;             // of the member in the object
  std::uint32_t count = 1;              // fixed element count
  std::uint32_t count_offset = 0;
  std::uint32_t max = 0;                // varray bound
  std::uint32_t stride = 0;             // host bytes between elements
  std::uint32_t buf_size = 0;           // buffer / unused bytes per element
  std::uint32_t since = 0;              // present when body version >= since
  std::int32_t test = -1;               // index into Program::tests, -1: none
  std::int64_t struct_version = -1;     // VSTRUCT: nested body at this version
  bool equal = false;                   // _EQUAL: load checks, never stores
  bool pointer = false;                 // each element is a raw pointer to it
  bool special = false;                 // pointer, list, map or tmp: one test in the walk
  const VectorOps* vec = nullptr;       // elements live in a std::vector member
  const ListOps* list = nullptr;        // a marker-delimited list of structs
  const MapOps* map = nullptr;          // a GTree: nested describes the values
  std::shared_ptr<const Program> key;   // the map's key description (null: direct key)
  std::shared_ptr<const Computed> tmp;  // a wire-only child (nested describes it)
  std::shared_ptr<const Program> nested;  // for structure
};

// A run of ops the byte visitors execute as one: adjacent plain scalar fields
// of one width whose members are contiguous in memory (a register file
// declared field by field) become one array op. Tree visitors and error paths
// still see the fields one by one (`first`, `n` index Program::ops).
struct FusedOp {
  Op op;
  std::uint32_t first = 0;
  std::uint32_t n = 1;
};

using TestFn = std::function<bool(const void* obj, std::uint32_t version)>;
using NeededFn = std::function<bool(const void* obj)>;
// Every hook gets the version being saved or loaded (a hook written without
// it is wrapped by the builder).
using SaveHook = std::function<Result<void>(const void* obj, std::uint32_t version)>;
using PreLoadHook = std::function<Result<void>(void* obj, std::uint32_t version)>;
using PostLoadHook = std::function<Result<void>(void* obj, std::uint32_t version)>;

struct PlainPlans;  // src/describe/byte_plan.hpp

// Where a Program keeps its compiled plain-body plans (src/describe/
// byte_plan.hpp): built on first save or load under the mutex, then read
// through `ready` with one atomic load. Describing (a field, hook or
// subsection added) drops them; describe before sharing a description
// between threads. Copies start empty.
class PlanSlot {
 public:
  PlanSlot() = default;
  PlanSlot(const PlanSlot&) noexcept {}
  PlanSlot& operator=(const PlanSlot&) noexcept {
    reset();
    return *this;
  }
  ~PlanSlot();
  void reset() noexcept;

  struct Deleter {
    void operator()(PlainPlans* p) const noexcept;
  };
  std::atomic<const PlainPlans*> ready{nullptr};  // non-null: usable at the own version
  std::atomic<bool> decided{false};               // built, or found not to apply
  std::mutex mutex;
  std::unique_ptr<PlainPlans, Deleter> plans;
};

struct SubProgram {
  std::shared_ptr<const Program> program;  // same object type as the parent
  NeededFn needed;
};

struct Program {
  std::string name;
  std::uint32_t version = 0;
  std::uint32_t minimum = 0;
  std::vector<Op> ops;              // parallel to schema.fields
  std::vector<FusedOp> fused;       // the same ops, runs merged (save and load)
  std::vector<TestFn> tests;
  std::vector<SubProgram> subs;     // parallel to schema.subsections
  SaveHook pre_save, post_save;
  PreLoadHook pre_load;
  PostLoadHook post_load;
  Description schema;
  // A default-constructed object of the described type (for test resolvers);
  // empty when the type has no default constructor.
  std::function<std::shared_ptr<void>()> make_default;
  // A copy of an object, and copy-assignment (empty when the type cannot be
  // copied): test resolvers start from a destination, and a load writing
  // through pointers saves each pointee first so a failure can restore it.
  std::function<std::shared_ptr<void>(const void*)> clone;
  std::function<void(void* dst, const void* src)> assign;
  // True while every field is a plain scalar or scalar array (no test, no
  // variable count, no string, buffer or struct): at the description's own
  // version its body then has a fixed size, `plain_size`, and saving or
  // loading it is one bounds check and a loop over `fused`.
  bool plain = true;
  std::uint32_t plain_size = 0;
  // sizeof the described type (0: unknown): byte plans read within it.
  std::uint32_t object_size = 0;
  // The first misuse found while describing; every visitor returns it.
  std::optional<Error> misuse;
  mutable PlanSlot plans;
};

// A successful Result<void> for hot paths. `return {};` value-initialises
// tl::expected<void, Error>, which clears its whole 128-byte storage (a
// `rep stos` per call); copying a success only sets the flag.
inline const Result<void> kSuccess{};
inline Result<void> success() { return kSuccess; }

struct SaveParams {
  std::uint32_t version = 0;
};

struct LoadParams {
  DecodeLimits limits;
  bool run_hooks = true;
  bool partial = false;  // from_tree: stop quietly where the tree's members end
};

// What a load wrote outside the object (through pointers), to put back if the
// load fails; the object itself is restored by the caller's backup.
class UndoLog {
 public:
  UndoLog() = default;
  UndoLog(const UndoLog&) = delete;
  UndoLog& operator=(const UndoLog&) = delete;
  ~UndoLog() = default;
  // Saves what `target` holds: `bytes` raw bytes, or (prog set) a copy by prog.
  void save(void* target, std::size_t bytes, const Program* prog);
  void restore() noexcept;

 private:
  struct Entry {
    void* target;
    std::size_t bytes;
    const Program* prog;
    std::shared_ptr<void> copy;
    std::vector<unsigned char> raw;
  };
  std::vector<Entry> entries_;
};

// The visitors (src/describe/). `obj` points at an object of the program's type.
[[nodiscard]] Result<void> save(const Program& p, const void* obj, ByteWriter& out,
                                const SaveParams& sp);
[[nodiscard]] Result<void> load(const Program& p, void* obj, Cursor& cur,
                                std::uint32_t version, const LoadParams& lp);
// Loads a plain body of the description's own version straight into `obj`
// when nothing can fail once the first byte is written (length, bool bytes
// and the byte after the body are checked first), so no backup is needed.
// `whole`: the body must be all that `cur` holds. False: nothing was done;
// use load(), which also names any error.
[[nodiscard]] bool load_at_once(const Program& p, void* obj, Cursor& cur, std::uint32_t version,
                                bool whole);
[[nodiscard]] Result<Struct> to_tree(const Program& p, const void* obj, const SaveParams& sp);
[[nodiscard]] Result<void> from_tree(const Program& p, void* obj, const Struct& body,
                                     std::uint32_t version, const LoadParams& lp);
// `destination` (nullable: a default-constructed object) is what the
// predicates and pointers are read from, as QEMU's loader reads its own object.
TestResolver make_test_resolver(const std::shared_ptr<const Program>& p,
                                std::shared_ptr<const void> destination);
PointerResolver make_pointer_resolver(const Program& p, const void* destination);

}  // namespace statewire::detail
