// Save visitor: object -> QEMU VMState body bytes, with no tree in between.
//
// Bytes go straight into the ByteWriter's buffer through a raw pointer; the
// buffer grows in chunks (one bounds check per field, not per element) and is
// cut back to what was written at the end, or to where it started on error.
// Integer arrays are byte-swapped in one loop that GCC vectorises.
#include <algorithm>
#include <cstring>

#include "describe/byte_plan.hpp"
#include "describe/byteswap.hpp"
#include "describe/walk.hpp"

namespace statewire::detail {

namespace {

class SaveVisitor : public VisitorBase {
 public:
  static constexpr bool kLoading = false;
  static constexpr bool kFused = true;

  explicit SaveVisitor(ByteWriter& w)
      : w_(w), start_(w.size()), pos_(w.size()),
        base_(const_cast<unsigned char*>(w.bytes().data())) {}

  bool run_hooks() const { return true; }
  bool stopped() const { return false; }
  void locate(Error&) const {}
  bool prepare(const Op&, std::uint64_t) { return true; }

  template <class E>
  bool scalars(const Op&, const Field&, Ptr elems, std::uint64_t n) {
    constexpr std::size_t W = sizeof(E);
    const std::size_t bytes = static_cast<std::size_t>(n) * W;
    unsigned char* d = ensure(bytes);
    if constexpr (W == 1) {
      // bool is stored as 0/1, which is also its wire form. An empty array
      // may have no storage at all (memcpy from null is undefined, even of 0).
      if (bytes) std::memcpy(d, elems, bytes);
    } else {
      swap_copy<W>(d, elems, static_cast<std::size_t>(n));
    }
    pos_ += bytes;
    return true;
  }

  bool buffers(const Op& op, const Field&, Ptr elems, std::uint64_t n) {
    const std::size_t bytes = static_cast<std::size_t>(n) * op.buf_size;
    unsigned char* d = ensure(bytes);
    if (op.stride == op.buf_size) {
      if (bytes) std::memcpy(d, elems, bytes);
    } else {
      for (std::size_t i = 0; i < n; ++i)
        std::memcpy(d + i * op.buf_size, elems + i * op.stride, op.buf_size);
    }
    pos_ += bytes;
    return true;
  }

  bool strings(const Op& op, const Field&, Ptr elems, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto& s = *reinterpret_cast<const std::string*>(elems + i * op.stride);
      if (s.size() > 0xffffffffu)
        return raise(Errc::limit_exceeded, "string longer than 4 GiB");
      unsigned char* d = ensure(4 + s.size());
      std::uint32_t len = from_be(static_cast<std::uint32_t>(s.size()));
      std::memcpy(d, &len, 4);
      if (!s.empty()) std::memcpy(d + 4, s.data(), s.size());
      pos_ += 4 + s.size();
    }
    return true;
  }

  bool unused(const Op& op, const Field&) {
    std::memset(ensure(op.buf_size), 0, op.buf_size);
    pos_ += op.buf_size;
    return true;
  }

  template <class Each>
  bool structs(const Op& op, const Field&, Ptr elems, std::uint64_t n, Each&& each) {
    return for_each_struct(*this, op, elems, n, each);
  }

  // Arrays of pointers: a NULL element is QEMU's marker byte 0x30; a single
  // pointer (QEMU's _POINTER fields) must point somewhere.
  template <class Each>
  bool pointers(const Op& op, const Field&, Ptr slots, std::uint64_t n, Each&& one) {
    for (std::uint64_t k = 0; k < n; ++k) {
      Ptr target;
      std::memcpy(&target, slots + k * op.stride, sizeof target);
      if (!target) {
        if (!op.is_array) return raise(Errc::invalid_value, "pointer is NULL");
        *ensure(1) = kNullPointerMarker;
        pos_ += 1;
        continue;
      }
      if (!one(target)) [[unlikely]] {
        if (op.is_array) error().in_field(fmt::format("[{}]", k));
        return false;
      }
    }
    return true;
  }

  // QTAILQ/QLIST: 0x01 before each element's body, 0x00 after the last.
  template <class Each>
  bool list(const Op& op, const Field&, Ptr container, Each&& each) {
    std::vector<unsigned char*> elems;
    op.list->elements(container, elems);
    for (std::size_t k = 0; k < elems.size(); ++k) {
      *ensure(1) = 1;
      pos_ += 1;
      if (!each(elems[k])) [[unlikely]] {
        error().in_field(fmt::format("[{}]", k));
        return false;
      }
    }
    *ensure(1) = 0;
    pos_ += 1;
    return true;
  }

  // GTree: be32 node count, then per node (in key order) 0x01, the key (be64
  // for a direct key, else its body) and the value's body; 0x00.
  template <class KeyEach, class Each>
  bool map(const Op& op, const Field&, Ptr m, KeyEach&& key, Each&& value) {
    std::vector<std::pair<unsigned char*, unsigned char*>> nodes;
    op.map->entries(m, nodes);
    if (nodes.size() > 0xffffffffu) return raise(Errc::limit_exceeded, "map over 2^32 nodes");
    std::uint32_t n = from_be(static_cast<std::uint32_t>(nodes.size()));
    std::memcpy(ensure(4), &n, 4);
    pos_ += 4;
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      *ensure(1) = 1;
      pos_ += 1;
      bool r = true;
      if (op.key) {
        r = key(nodes[k].first);
      } else {
        std::uint64_t kv = from_be(op.map->get_direct(nodes[k].first));
        std::memcpy(ensure(8), &kv, 8);
        pos_ += 8;
      }
      if (r) r = value(nodes[k].second);
      if (!r) [[unlikely]] {
        error().in_field(fmt::format("[{}]", k));
        return false;
      }
    }
    *ensure(1) = 0;
    pos_ += 1;
    return true;
  }

  // Each needed subsection: 0x05, u8 name length, name, be32 version, body.
  bool subsections(const Program& p, Ptr obj) {
    for (const SubProgram& s : p.subs) {
      if (!s.needed(obj)) continue;
      const Program& sp = *s.program;
      unsigned char* d = ensure(2 + sp.name.size() + 4);
      d[0] = kSubsectionMarker;
      d[1] = static_cast<unsigned char>(sp.name.size());
      std::memcpy(d + 2, sp.name.data(), sp.name.size());
      std::uint32_t ver = from_be(sp.version);
      std::memcpy(d + 2 + sp.name.size(), &ver, 4);
      pos_ += 2 + sp.name.size() + 4;
      if (!walk_body(sp, obj, sp.version, *this)) {
        error().in_field(sp.name);
        return false;
      }
    }
    return true;
  }

  // A plain body: one bounds check, then every run copied or swapped.
  Plain plain(const Program& p, Ptr obj) {
    unsigned char* d = ensure(p.plain_size);
    for (const FusedOp& fo : p.fused) {
      const Op& op = fo.op;
      const unsigned char* s = obj + op.offset;
      switch (elem_width(op.kind)) {
        case 1: std::memcpy(d, s, op.count); break;
        case 2: swap_copy<2>(d, s, op.count); break;
        case 4: swap_copy<4>(d, s, op.count); break;
        default: swap_copy<8>(d, s, op.count); break;
      }
      d += elem_width(op.kind) * op.count;
    }
    pos_ += p.plain_size;
    return Plain::done;
  }

  void commit() { w_.truncate(pos_); }
  void rollback() { w_.truncate(start_); }

 private:
  // Room for n more bytes at pos_; grows the writer by at least a chunk so
  // small fields do not each resize the vector.
  unsigned char* ensure(std::size_t n) {
    if (w_.size() - pos_ < n) [[unlikely]] {
      std::size_t chunk = std::max<std::size_t>({n, 1024, w_.size() - start_});
      std::size_t old = w_.size();
      base_ = w_.grow(chunk) - old;
    }
    return base_ + pos_;
  }

  ByteWriter& w_;
  std::size_t start_;
  std::size_t pos_;
  unsigned char* base_;
};

}  // namespace

Result<void> save(const Program& p, const void* obj, ByteWriter& out, const SaveParams& sp) {
  // Plans exist only for a well-formed fixed-layout body at the own version.
  if (sp.version == p.version) {
    if (const PlainPlans* plans = plain_plans(p)) {
      // The plan may write past the body's end (BytePlan::kOverrun): grow
      // by that much more and cut it off again.
      const std::size_t end = out.size() + plans->size;
      plans->save.run(static_cast<const unsigned char*>(obj),
                      out.grow(plans->size + BytePlan::kOverrun));
      out.truncate(end);
      return success();
    }
  }
  if (p.misuse) return fail(*p.misuse);
  if (sp.version > p.version || sp.version < p.minimum) [[unlikely]] {
    auto r = check_range(p, sp.version, "target");
    r.error().in_section(p.name);
    return r;
  }
  SaveVisitor v(out);
  if (!walk_body(p, const_cast<Ptr>(static_cast<const unsigned char*>(obj)), sp.version, v)) {
    v.rollback();
    v.error().in_section(p.name);
    return fail(std::move(v.error()));
  }
  v.commit();
  return success();
}

}  // namespace statewire::detail
