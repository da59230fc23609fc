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

  // _EQUAL: the incoming value must be the destination's own; nothing is stored.
  template <class E>
  [[gnu::noinline]] bool equal(const Op&, const std::uint8_t* in, Ptr elems, std::uint64_t n) {
    constexpr std::size_t W = sizeof(E);
    for (std::size_t i = 0; i < n; ++i) {
      E got, have;
      if constexpr (W == 1) std::memcpy(&got, in + i, 1);
      else swap_copy<W>(reinterpret_cast<unsigned char*>(&got), in + i * W, 1);
      std::memcpy(&have, elems + i * W, W);
      if (std::memcmp(&got, &have, W) != 0) {
        Error e = make_error(Errc::invalid_value,
                             fmt::format("{} != {}, the destination's value", +got, +have));
        e.offset = cur_.offset() - n * W + i * W;
        return raise(std::move(e));
      }
    }
    return true;
  }

  template <class E>
  bool scalars(const Op& op, const Field&, Ptr elems, std::uint64_t n) {
    constexpr std::size_t W = sizeof(E);
    const std::size_t bytes = static_cast<std::size_t>(n) * W;
    const std::uint8_t* in = cur_.try_take(bytes);
    if (!in) [[unlikely]] return ok(cur_.read_bytes(bytes));
    if (op.equal) [[unlikely]] return equal<E>(op, in, elems, n);
    if constexpr (std::is_same_v<E, bool>) {
      // QEMU writes 0 or 1 and reads any non-zero byte as true.
      for (std::size_t i = 0; i < n; ++i) {
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

  // Arrays of pointers, as QEMU loads them: the destination's pointer decides.
  // NULL: the input must hold the marker 0x30; else the element is read into
  // the pointee, which is saved first so a failed load can put it back.
  template <class Each>
  bool pointers(const Op& op, const Field&, Ptr slots, std::uint64_t n, Each&& one) {
    for (std::uint64_t k = 0; k < n; ++k) {
      Ptr target;
      std::memcpy(&target, slots + k * op.stride, sizeof target);
      if (!target) {
        if (!op.is_array) return raise(Errc::invalid_value, "the destination's pointer is NULL");
        auto m = cur_.read_u8();
        if (!ok(m)) return false;
        if (*m != kNullPointerMarker) {
          Error e = make_error(Errc::invalid_value,
                               fmt::format("the destination's element is NULL: expected the "
                                           "marker {:#04x}, found {:#04x}",
                                           kNullPointerMarker, *m));
          e.offset = cur_.offset() - 1;
          e.in_field(fmt::format("[{}]", k));
          return raise(std::move(e));
        }
        continue;
      }
      const bool structure = op.kind == ElemKind::structure;
      undo_.save(target, structure ? 0 : op.buf_size, structure ? op.nested.get() : nullptr);
      if (!one(target)) [[unlikely]] {
        if (op.is_array) error().in_field(fmt::format("[{}]", k));
        return false;
      }
    }
    return true;
  }

  // QTAILQ/QLIST: while the marker byte is non-zero (QEMU writes 0x01 and
  // accepts any other non-zero byte), one more element.
  template <class Each>
  bool list(const Op& op, const Field&, Ptr container, Each&& each) {
    if (++depth_ > lp_.limits.max_depth)
      return raise(Errc::limit_exceeded, "descriptions nested too deep");
    op.list->clear(container);
    for (std::uint64_t k = 0;; ++k) {
      auto m = cur_.read_u8();
      if (!ok(m)) return false;
      if (*m == 0) break;
      if (k >= lp_.limits.max_elements)
        return raise(cur_.error_here(Errc::limit_exceeded,
                                     fmt::format("list longer than the limit {}",
                                                 lp_.limits.max_elements)));
      if (!each(op.list->append(container))) [[unlikely]] {
        error().in_field(fmt::format("[{}]", k));
        return false;
      }
    }
    --depth_;
    return true;
  }

  // GTree into a std::map: the node count, then nodes while the marker is
  // non-zero. As QEMU: more or fewer nodes than the count is refused; beyond
  // QEMU: keys must come in ascending order (a saved GTree always does), so a
  // key cannot silently replace another.
  template <class KeyEach, class Each>
  bool map(const Op& op, const Field&, Ptr m, KeyEach&& key, Each&& value) {
    if (++depth_ > lp_.limits.max_depth)
      return raise(Errc::limit_exceeded, "descriptions nested too deep");
    auto n = cur_.read_be32();
    if (!ok(n)) return false;
    op.map->clear(m);
    std::uint64_t count = 0;
    for (;; ++count) {
      auto marker = cur_.read_u8();
      if (!ok(marker)) return false;
      if (*marker == 0) break;
      if (count >= *n)
        return raise(cur_.error_here(
            Errc::invalid_value,
            fmt::format("more nodes than the count {} (QEMU: inconsistent stream)", *n)));
      if (count >= lp_.limits.max_elements)
        return raise(cur_.error_here(Errc::limit_exceeded, "map larger than the element limit"));
      std::shared_ptr<void> node = op.map->make_node();
      const std::uint64_t key_at = cur_.offset();
      bool r = true;
      if (op.key) {
        r = key(op.map->node_key(node.get()));
      } else {
        auto kv = cur_.read_be<std::uint64_t>();
        r = ok(kv);
        if (r && !op.map->set_direct(op.map->node_key(node.get()), *kv)) {
          Error e = make_error(Errc::invalid_value,
                               fmt::format("key {:#x} does not fit the map's key type", *kv));
          e.offset = key_at;
          r = raise(std::move(e));
        }
      }
      if (r) r = value(op.map->node_value(node.get()));
      if (r && !op.map->append(m, node.get())) {
        Error e = make_error(Errc::invalid_value,
                             "key not above the previous one (a GTree is saved in key order)");
        e.offset = key_at;
        r = raise(std::move(e));
      }
      if (!r) [[unlikely]] {
        error().in_field(fmt::format("[{}]", count));
        return false;
      }
    }
    if (count != *n)
      return raise(cur_.error_here(Errc::invalid_value,
                                   fmt::format("the count says {} nodes, {} followed (QEMU: "
                                               "inconsistent stream)",
                                               *n, count)));
    --depth_;
    return true;
  }

  UndoLog& undo() noexcept { return undo_; }

  // A plain body: one bounds check, then every run copied or swapped. Short
  // input goes back to the walk, which names the field that is cut.
  Plain plain(const Program& p, Ptr obj) {
    const std::uint8_t* in = cur_.try_take(p.plain_size);
    if (!in) return Plain::use_walk;
    const std::uint8_t* s = in;
    for (const FusedOp& fo : p.fused) {
      const Op& op = fo.op;
      unsigned char* d = obj + op.offset;
      switch (elem_width(op.kind)) {
        case 1:
          if (op.kind == ElemKind::boolean) {
            // Any non-zero byte is true (QEMU's reading); a bool holds 0/1.
            for (std::uint32_t i = 0; i < op.count; ++i) {
              const bool b = s[i] != 0;
              std::memcpy(d + i, &b, 1);
            }
            break;
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
  UndoLog undo_;
};

}  // namespace

void UndoLog::save(void* target, std::size_t bytes, const Program* prog) {
  Entry e{target, bytes, prog, nullptr, {}};
  if (prog) {
    e.copy = prog->clone(target);
  } else {
    const auto* b = static_cast<const unsigned char*>(target);
    e.raw.assign(b, b + bytes);
  }
  entries_.push_back(std::move(e));
}

void UndoLog::restore() noexcept {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->prog)
      it->prog->assign(it->target, it->copy.get());
    else if (it->bytes)
      std::memcpy(it->target, it->raw.data(), it->bytes);
  }
  entries_.clear();
}

bool load_at_once(const Program& p, void* obj, Cursor& cur, std::uint32_t version, bool whole) {
  if (version != p.version) return false;
  const PlainPlans* plans = plain_plans(p);
  if (!plans) return false;
  const ByteSpan in = cur.rest();
  const std::size_t n = plans->size;
  if (in.size() < n) return false;
  if (whole ? in.size() != n : in.size() > n && in[n] == kSubsectionMarker) return false;
  // A bool byte other than 0/1 is true but must not be copied as is; the
  // walk stores it as `true`.
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
    v.undo().restore();
    v.error().in_section(p.name);
    return fail(std::move(v.error()));
  }
  return success();
}

}  // namespace statewire::detail
