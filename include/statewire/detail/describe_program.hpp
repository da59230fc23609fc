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
  const VectorOps* vec = nullptr;       // elements live in a std::vector member
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
using SaveHook = std::function<Result<void>(const void* obj)>;
using PreLoadHook = std::function<Result<void>(void* obj)>;
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
TestResolver make_test_resolver(const std::shared_ptr<const Program>& p);

}  // namespace statewire::detail
