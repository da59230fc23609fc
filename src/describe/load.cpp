// Load visitor: QEMU VMState body bytes -> object, every read through Cursor.
//
// A field's elements are taken from the input in one bounds-checked read and
// then byte-swapped in a loop. Variable counts were already bounded by the
// walk; vectors are resized only after the bytes they need are known to be
// there. The caller loads into a copy and commits on success (describe.hpp).
#include <cstring>

#include "describe/byte_plan.hpp"
#include "describe/byteswap.hpp"
#include "describe/walk.hpp"

namespace statewire::detail {

namespace {

class LoadVisitor : public VisitorBase {
 public:
  static constexpr bool kLoading = true;
  static constexpr bool kFused = true;

  LoadVisitor(Cursor& cur, const LoadParams& lp) : cur_(cur), lp_(lp) {}

  bool run_hooks() const { return lp_.run_hooks; }
  bool stopped() const { return false; }
  void locate(Error& e) const { e.at(cur_.offset()); }

  // Before a std::vector is resized to n: refuse counts the input cannot hold.
  bool prepare(const Op& op, std::uint64_t n) {
    if (n > lp_.limits.max_elements)
      return raise(Errc::limit_exceeded,
                   fmt::format("{} elements above the limit {}", n, lp_.limits.max_elements));
    std::uint64_t wire = elem_width(op.kind);
    if (op.kind == ElemKind::buffer) wire = op.buf_size;
    if (op.kind == ElemKind::string) wire = 4;
    if (wire && n > cur_.remaining() / wire)
      return raise(cur_.error_here(
          Errc::truncated, fmt::format("need {} bytes for {} elements, {} left", n * wire, n,
                                       cur_.remaining())));
    return true;
  }

  template <class E>
  bool scalars(const Op&, const Field&, Ptr elems, std::uint64_t n) {
    constexpr std::size_t W = sizeof(E);
    const std::size_t bytes = static_cast<std::size_t>(n) * W;
    const std::uint8_t* in = cur_.try_take(bytes);
    if (!in) [[unlikely]] return ok(cur_.read_bytes(bytes));
    if constexpr (std::is_same_v<E, bool>) {
      // QEMU writes 0 or 1. Another byte would not save back to itself, and
      // decode_body() refuses it too, so both paths accept the same bytes.
      for (std::size_t i = 0; i < n; ++i) {
        if (in[i] > 1) [[unlikely]] {
          Error e = make_error(Errc::invalid_value,
                               fmt::format("bool byte {:#04x}, expected 0 or 1", in[i]));
          e.offset = cur_.offset() - bytes + i;
          return raise(std::move(e));
        }
        bool b = in[i] != 0;
        std::memcpy(elems + i, &b, 1);
      }
    } else if constexpr (W == 1) {
      std::memcpy(elems, in, bytes);
    } else {
      swap_copy<W>(elems, in, static_cast<std::size_t>(n));
    }
    return true;
  }

  bool buffers(const Op& op, const Field&, Ptr elems, std::uint64_t n) {
    const std::size_t bytes = static_cast<std::size_t>(n) * op.buf_size;
    const std::uint8_t* in = cur_.try_take(bytes);
    if (!in) [[unlikely]] return ok(cur_.read_bytes(bytes));
    if (op.stride == op.buf_size) {
      if (bytes) std::memcpy(elems, in, bytes);
    } else {
      for (std::size_t i = 0; i < n; ++i)
        std::memcpy(elems + i * op.stride, in + i * op.buf_size, op.buf_size);
    }
    return true;
  }

  bool strings(const Op& op, const Field&, Ptr elems, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      auto len = cur_.read_be32();
      if (!ok(len)) return false;
      if (*len > lp_.limits.max_blob)
        return raise(cur_.error_here(Errc::limit_exceeded,
                                     fmt::format("string of {} bytes above the limit {}", *len,
                                                 lp_.limits.max_blob)));
      auto in = cur_.read_bytes(*len);
      if (!ok(in)) return false;
      auto& s = *reinterpret_cast<std::string*>(elems + i * op.stride);
      s.assign(reinterpret_cast<const char*>(in->data()), in->size());
    }
    return true;
  }

  bool unused(const Op& op, const Field&) { return ok(cur_.skip(op.buf_size)); }

  template <class Each>
  bool structs(const Op& op, const Field&, Ptr elems, std::uint64_t n, Each&& each) {
    if (++depth_ > lp_.limits.max_depth)
      return raise(Errc::limit_exceeded, "descriptions nested too deep");
    bool r = for_each_struct(*this, op, elems, n, each);
    --depth_;
    return r;
  }

  // A plain body: one bounds check, then every run copied or swapped. Short
  // input goes back to the walk, which names the field that is cut.
  Plain plain(const Program& p, Ptr obj) {
    const std::uint8_t* in = cur_.try_take(p.plain_size);
    if (!in) return Plain::use_walk;
    const std::uint64_t start = cur_.offset() - p.plain_size;
    const std::uint8_t* s = in;
    for (const FusedOp& fo : p.fused) {
      const Op& op = fo.op;
      unsigned char* d = obj + op.offset;
      switch (elem_width(op.kind)) {
        case 1:
          if (op.kind == ElemKind::boolean) {
            for (std::uint32_t i = 0; i < op.count; ++i) {
              if (s[i] > 1) [[unlikely]] {
                Error e = make_error(Errc::invalid_value,
                                     fmt::format("bool byte {:#04x}, expected 0 or 1", s[i]));
                e.offset = start + static_cast<std::uint64_t>(s - in) + i;
                e.in_field((*p.schema.fields)[fo.first].name);
                raise(std::move(e));
                return Plain::failed;
              }
            }
          }
          std::memcpy(d, s, op.count);
          break;
        case 2: swap_copy<2>(d, s, op.count); break;
        case 4: swap_copy<4>(d, s, op.count); break;
        default: swap_copy<8>(d, s, op.count); break;
      }
      s += elem_width(op.kind) * op.count;
    }
    return Plain::done;
  }

  // QEMU's rule: subsections follow while the next byte is 0x05 and the name
  // starts with this description's name; a matching name we do not know is
  // an error, anything else ends the list and is left for the caller.
  bool subsections(const Program& p, Ptr obj) {
    while (cur_.remaining() >= 2) {
      // Look at the header on a copy; only a subsection of ours consumes it.
      Cursor probe = cur_;
      const std::uint8_t* head = probe.try_take(2);
      if (head[0] != kSubsectionMarker) break;
      const std::size_t len = head[1];
      if (len < p.name.size() + 1) break;
      const std::uint8_t* raw = probe.try_take(len);
      if (!raw) break;
      const std::string_view name(reinterpret_cast<const char*>(raw), len);
      if (name.substr(0, p.name.size()) != p.name) break;
      const SubProgram* sub = nullptr;
      for (const SubProgram& s : p.subs)
        if (s.program->name == name) sub = &s;
      if (!sub)
        return raise(cur_.error_here(
            Errc::unknown_subsection, fmt::format("subsection {} is not known to {}", name, p.name)));
      cur_ = probe;
      const std::uint64_t at = cur_.offset();
      auto ver = cur_.read_be32();
      if (!ok(ver)) return false;
      const Program& sp = *sub->program;
      if (*ver > sp.version || *ver < sp.minimum) [[unlikely]] {
        auto r = check_range(sp, *ver);
        r.error().at(at);
        return ok(r);
      }
      if (!walk_body(sp, obj, *ver, *this)) {
        error().in_field(sp.name);
        return false;
      }
    }
    return true;
  }

 private:
  Cursor& cur_;
  const LoadParams& lp_;
  std::size_t depth_ = 0;
};

}  // namespace

bool load_at_once(const Program& p, void* obj, Cursor& cur, std::uint32_t version, bool whole) {
  if (version != p.version) return false;
  const PlainPlans* plans = plain_plans(p);
  if (!plans) return false;
  const ByteSpan in = cur.rest();
  const std::size_t n = plans->size;
  if (in.size() < n) return false;
  if (whole ? in.size() != n : in.size() > n && in[n] == kSubsectionMarker) return false;
  for (std::uint32_t at : plans->bools)
    if (in[at] > 1) return false;
  plans->load.run(in.data(), static_cast<unsigned char*>(obj) + plans->load_base);
  (void)cur.try_take(n);
  return true;
}

Result<void> load(const Program& p, void* obj, Cursor& cur, std::uint32_t version,
                  const LoadParams& lp) {
  if (p.misuse) return fail(*p.misuse);
  if (version > p.version || version < p.minimum) [[unlikely]] {
    auto r = check_range(p, version);
    r.error().in_section(p.name);
    return r;
  }
  LoadVisitor v(cur, lp);
  if (!walk_body(p, static_cast<Ptr>(obj), version, v)) {
    v.error().in_section(p.name);
    return fail(std::move(v.error()));
  }
  return success();
}

}  // namespace statewire::detail
