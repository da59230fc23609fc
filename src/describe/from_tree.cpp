// Tree visitor, state tree -> object: from_tree() of a native description, and
// the TestResolver that lets decode_body() decide a native description's
// test-gated fields from a partial tree (it loads that tree over an object).
//
// The tree has the shape decode_body() gives the same bytes: a scalar field is
// its scalar, an array field (fixed or variable count) an Array, a buffer a
// Blob, padding a Blob of zeros, a struct a Struct, and each subsection that
// was sent a SubsectionState. from_tree matches members by position and name
// (names may repeat), checks kinds and counts, and never guesses.
#include "statewire/describe.hpp"

#include <algorithm>
#include <cstring>

#include "describe/walk.hpp"

namespace statewire::detail {

namespace {

std::string kind_text(const Value& v) { return std::string(kind_name(v.kind())); }

class FromTreeVisitor : public VisitorBase {
 public:
  static constexpr bool kLoading = true;
  static constexpr bool kFused = false;

  FromTreeVisitor(const Struct* root, const LoadParams& lp) : cur_(root), lp_(lp) {}

  bool run_hooks() const { return lp_.run_hooks; }
  bool stopped() const { return stopped_; }
  void locate(Error&) const {}
  std::size_t consumed() const { return idx_; }

  bool prepare(const Op&, std::uint64_t n) {
    if (n > lp_.limits.max_elements)
      return raise(Errc::limit_exceeded,
                   fmt::format("{} elements above the limit {}", n, lp_.limits.max_elements));
    return true;
  }

  template <class E>
  bool scalars(const Op& op, const Field& f, Ptr elems, std::uint64_t n) {
    return take(op, f, n, [&op, elems](const Value& v, std::uint64_t i) -> Result<void> {
      E x{};
      if (const E* p = v.get_if<E>()) {
        x = *p;
      } else if (const std::uint8_t* b = v.get_if<std::uint8_t>();
                 b && std::is_same_v<E, bool>) {
        x = static_cast<E>(*b != 0);  // a bool byte QEMU reads as true (decode_body keeps it)
      } else {
        return fail(Errc::mismatch,
                    fmt::format("expected {}, found {}", kind_name(Value(E{}).kind()),
                                kind_text(v)));
      }
      if (op.equal) {
        E have;
        std::memcpy(&have, elems + i * sizeof(E), sizeof(E));
        if (std::memcmp(&have, &x, sizeof(E)) != 0)
          return fail(Errc::invalid_value,
                      fmt::format("{} != {}, the destination's value", +x, +have));
        return success();
      }
      std::memcpy(elems + i * sizeof(E), &x, sizeof(E));
      return success();
    });
  }

  bool buffers(const Op& op, const Field& f, Ptr elems, std::uint64_t n) {
    return take(op, f, n, [&op, elems](const Value& v, std::uint64_t i) -> Result<void> {
      const Blob* b = v.get_if<Blob>();
      if (!b) return fail(Errc::mismatch, fmt::format("expected blob, found {}", kind_text(v)));
      if (b->bytes.size() != op.buf_size)
        return fail(Errc::mismatch, fmt::format("expected {} bytes, found {}", op.buf_size,
                                                b->bytes.size()));
      if (op.buf_size) std::memcpy(elems + i * op.stride, b->bytes.data(), op.buf_size);
      return success();
    });
  }

  bool strings(const Op& op, const Field& f, Ptr elems, std::uint64_t n) {
    return take(op, f, n, [&op, elems](const Value& v, std::uint64_t i) -> Result<void> {
      const std::string* s = v.get_if<std::string>();
      if (!s) return fail(Errc::mismatch, fmt::format("expected string, found {}", kind_text(v)));
      *reinterpret_cast<std::string*>(elems + i * op.stride) = *s;
      return success();
    });
  }

  bool unused(const Op& op, const Field& f) {
    return take(op, f, 1, [&op](const Value& v, std::uint64_t) -> Result<void> {
      const Blob* b = v.get_if<Blob>();
      if (!b || b->bytes.size() != op.buf_size)
        return fail(Errc::mismatch, fmt::format("expected {} bytes of padding", op.buf_size));
      return success();
    });
  }

  template <class Each>
  bool structs(const Op& op, const Field& f, Ptr elems, std::uint64_t n, Each&& each) {
    if (++depth_ > lp_.limits.max_depth)
      return raise(Errc::limit_exceeded, "descriptions nested too deep");
    const Struct* parent = cur_;
    auto r = take(op, f, n, [&](const Value& v, std::uint64_t i) -> Result<void> {
      const Struct* s = v.get_if<Struct>();
      if (!s) return fail(Errc::mismatch, fmt::format("expected struct, found {}", kind_text(v)));
      // Only the outermost body of a resolver's tree is partial.
      const bool partial = partial_;
      partial_ = false;
      cur_ = s;
      idx_ = 0;
      const bool er = each(elems + i * op.stride);
      const std::size_t used = idx_;
      cur_ = parent;
      partial_ = partial;
      if (!er) {
        Error e = std::move(error());
        if (op.is_array) e.in_field(fmt::format("[{}]", i));
        return fail(std::move(e));
      }
      if (used != s->members.size())
        return fail(Errc::mismatch, fmt::format("{} members more than the description has",
                                                s->members.size() - used));
      return success();
    });
    --depth_;
    return r;
  }

  // The destination's pointers decide: NULL wants Null in the tree, any
  // other pointer a value, loaded into the pointee (saved first for undo).
  template <class Each>
  bool pointers(const Op& op, const Field& f, Ptr slots, std::uint64_t n, Each&& one) {
    return take(op, f, n, [&](const Value& v, std::uint64_t k) -> Result<void> {
      Ptr target;
      std::memcpy(&target, slots + k * op.stride, sizeof target);
      const bool null = v.get_if<Null>() != nullptr;
      if (!target) {
        if (!op.is_array) return fail(Errc::invalid_value, "the destination's pointer is NULL");
        if (!null)
          return fail(Errc::mismatch, "the destination's element is NULL, the tree has a value");
        return success();
      }
      if (null)
        return fail(Errc::mismatch, "the tree has NULL, the destination's element is not");
      if (!pointees_) return success();
      const bool structure = op.kind == ElemKind::structure;
      undo_.save(target, structure ? 0 : op.buf_size, structure ? op.nested.get() : nullptr);
      Struct scratch;
      scratch.members.push_back({f.name, v});
      const Struct* parent = cur_;
      const std::size_t parent_idx = idx_;
      cur_ = &scratch;
      idx_ = 0;
      const bool r = one(target);
      cur_ = parent;
      idx_ = parent_idx;
      if (!r) return fail(std::move(error()));
      return success();
    });
  }

  // A list member: an Array of structs; the container is cleared and refilled.
  template <class Each>
  bool list(const Op& op, const Field& f, Ptr container, Each&& each) {
    const Array* a = container_member(f, "elements");
    if (!a) return stopped_;
    op.list->clear(container);
    const Struct* parent = cur_;
    const std::size_t next = idx_ + 1;
    const bool partial = partial_;
    partial_ = false;
    for (std::size_t k = 0; k < a->items.size(); ++k) {
      const Struct* s = a->items[k].get_if<Struct>();
      bool r = s != nullptr;
      if (!s) raise(Errc::mismatch, fmt::format("expected struct, found {}", kind_text(a->items[k])));
      if (r) {
        cur_ = s;
        idx_ = 0;
        r = each(op.list->append(container));
        if (r && idx_ != s->members.size())
          r = raise(Errc::mismatch, fmt::format("{} members more than the description has",
                                                s->members.size() - idx_));
      }
      cur_ = parent;
      if (!r) {
        partial_ = partial;
        error().in_field(fmt::format("[{}]", k));
        return false;
      }
    }
    partial_ = partial;
    idx_ = next;
    return true;
  }

  // A GTree member: Array of {key, value} structs; the map is cleared and
  // refilled, keys in ascending order (as a saved GTree always is).
  template <class KeyEach, class Each>
  bool map(const Op& op, const Field& f, Ptr m, KeyEach&& key, Each&& value) {
    const Array* a = container_member(f, "nodes");
    if (!a) return stopped_;
    op.map->clear(m);
    const Struct* parent = cur_;
    const std::size_t next = idx_ + 1;
    const bool partial = partial_;
    partial_ = false;
    // One part of a node (key or value) from a Struct, wholly consumed.
    auto part = [&](const Value& v, auto&& each, Ptr at) -> bool {
      const Struct* s = v.get_if<Struct>();
      if (!s) return raise(Errc::mismatch, fmt::format("expected struct, found {}", kind_text(v)));
      cur_ = s;
      idx_ = 0;
      bool r = each(at);
      if (r && idx_ != s->members.size())
        r = raise(Errc::mismatch, fmt::format("{} members more than the description has",
                                              s->members.size() - idx_));
      cur_ = parent;
      return r;
    };
    for (std::size_t k = 0; k < a->items.size(); ++k) {
      const Struct* node = a->items[k].get_if<Struct>();
      const Value* kv = node ? node->find("key") : nullptr;
      const Value* vv = node ? node->find("value") : nullptr;
      bool r = node && kv && vv && node->members.size() == 2;
      if (!r) raise(Errc::mismatch, "expected a struct of key and value");
      std::shared_ptr<void> n = op.map->make_node();
      if (r) {
        if (op.key) {
          r = part(*kv, key, op.map->node_key(n.get()));
        } else {
          const std::uint64_t* d = kv->get_if<std::uint64_t>();
          r = d && op.map->set_direct(op.map->node_key(n.get()), *d);
          if (!r) raise(Errc::mismatch, "expected a u64 key that fits the map's key type");
        }
      }
      if (r) r = part(*vv, value, op.map->node_value(n.get()));
      if (r && !op.map->append(m, n.get()))
        r = raise(Errc::invalid_value, "key not above the previous one");
      if (!r) {
        partial_ = partial;
        error().in_field(fmt::format("[{}]", k));
        return false;
      }
    }
    partial_ = partial;
    idx_ = next;
    return true;
  }

  UndoLog& undo() noexcept { return undo_; }
  void set_pointees(bool on) { pointees_ = on; }

  bool subsections(const Program& p, Ptr obj) {
    for (const SubsectionState& st : cur_->subsections) {
      const SubProgram* sub = nullptr;
      for (const SubProgram& s : p.subs)
        if (s.program->name == st.name) sub = &s;
      if (!sub)
        return raise(Errc::unknown_subsection,
                     fmt::format("subsection {} is not known to {}", st.name, p.name));
      if (!ok(check_range(*sub->program, st.version_id))) return false;
      const Struct* parent = cur_;
      const std::size_t parent_idx = idx_;
      cur_ = &st.body;
      idx_ = 0;
      bool r = walk_body(*sub->program, obj, st.version_id, *this);
      const std::size_t used = idx_;
      cur_ = parent;
      idx_ = parent_idx;
      if (r && used != st.body.members.size())
        r = raise(Errc::mismatch, fmt::format("{} members more than the description has",
                                              st.body.members.size() - used));
      if (!r) {
        error().in_field(st.name);
        return false;
      }
    }
    return true;
  }

  void set_partial(bool on) { partial_ = on; }

 private:
  // The Array member a list or map field reads. nullptr: the end of a
  // partial tree (stopped_ is set) or an error, already raised.
  const Array* container_member(const Field& f, const char* items) {
    if (idx_ >= cur_->members.size()) {
      if (partial_)
        stopped_ = true;
      else
        raise(Errc::mismatch, "the tree has no member for this field");
      return nullptr;
    }
    const Member& m = cur_->members[idx_];
    if (m.name != f.name) {
      raise(Errc::mismatch, fmt::format("expected member {}, found {}", f.name, m.name));
      return nullptr;
    }
    const Array* a = m.value.get_if<Array>();
    if (!a) {
      raise(Errc::mismatch, fmt::format("expected array, found {}", kind_text(m.value)));
      return nullptr;
    }
    if (a->items.size() > lp_.limits.max_elements) {
      raise(Errc::limit_exceeded, fmt::format("{} {} above the limit {}", a->items.size(), items,
                                              lp_.limits.max_elements));
      return nullptr;
    }
    return a;
  }

  // Takes the next member (which must be named f.name) and hands each of its
  // n elements to `put`. An array field needs an Array of exactly n items.
  template <class Put>
  bool take(const Op& op, const Field& f, std::uint64_t n, Put&& put) {
    if (idx_ >= cur_->members.size()) {
      if (partial_) {
        stopped_ = true;
        return true;
      }
      return raise(Errc::mismatch, "the tree has no member for this field");
    }
    const Member& m = cur_->members[idx_];
    if (m.name != f.name)
      return raise(Errc::mismatch, fmt::format("expected member {}, found {}", f.name, m.name));
    const std::size_t next = idx_ + 1;
    Result<void> r;
    if (!op.is_array) {
      r = put(m.value, 0);
    } else {
      const Array* a = m.value.get_if<Array>();
      if (!a)
        return raise(Errc::mismatch, fmt::format("expected array, found {}", kind_text(m.value)));
      if (a->items.size() != n)
        return raise(Errc::mismatch,
                     fmt::format("expected {} elements, found {}", n, a->items.size()));
      for (std::uint64_t i = 0; i < n && r; ++i) {
        r = put(a->items[i], i);
        if (!r && op.kind != ElemKind::structure) r.error().in_field(fmt::format("[{}]", i));
      }
    }
    idx_ = next;
    return ok(r);
  }

  const Struct* cur_;
  std::size_t idx_ = 0;
  const LoadParams& lp_;
  bool stopped_ = false;
  bool partial_ = false;
  bool pointees_ = true;
  std::size_t depth_ = 0;
  UndoLog undo_;
};

// The destination a resolver reads: a copy of the caller's (or a default-
// constructed object), with the partial tree loaded over it, as QEMU's loader
// evaluates a test on its object holding what was loaded so far. Nested
// descriptions (struct elements) start from their default object.
std::shared_ptr<void> starting_object(const Program& p, const std::shared_ptr<const void>& dest) {
  if (dest && p.clone) return p.clone(dest.get());
  if (p.make_default) return p.make_default();
  return nullptr;
}

void collect_tests(const std::shared_ptr<const Program>& p, const std::shared_ptr<const void>& dest,
                   TestResolver& out, std::size_t depth) {
  if (depth > 64) return;
  const auto& fields = *p->schema.fields;
  for (std::size_t i = 0; i < p->ops.size(); ++i) {
    const Op& op = p->ops[i];
    if (op.test >= 0 && fields[i].test && !fields[i].test->empty()) {
      std::size_t ti = static_cast<std::size_t>(op.test);
      out.emplace(*fields[i].test,
                  [prog = p, dest, ti](const Struct& partial,
                                       std::uint32_t version) -> std::optional<bool> {
                    std::shared_ptr<void> obj = starting_object(*prog, dest);
                    if (!obj) return std::nullopt;
                    LoadParams lp;
                    lp.run_hooks = false;
                    FromTreeVisitor v(&partial, lp);
                    v.set_partial(true);
                    v.set_pointees(false);  // never write through the destination's pointers
                    if (!walk_body(*prog, static_cast<Ptr>(obj.get()), version, v))
                      return std::nullopt;
                    return prog->tests[ti](obj.get(), version);
                  });
    }
    // A struct element is not the destination object: its own default.
    if (op.nested) collect_tests(op.nested, nullptr, out, depth + 1);
    if (op.key) collect_tests(op.key, nullptr, out, depth + 1);
  }
  for (const SubProgram& s : p->subs) collect_tests(s.program, dest, out, depth + 1);
}

}  // namespace

Result<void> from_tree(const Program& p, void* obj, const Struct& body, std::uint32_t version,
                       const LoadParams& lp) {
  if (p.misuse) return fail(*p.misuse);
  if (auto r = check_range(p, version); !r) {
    r.error().in_section(p.name);
    return r;
  }
  FromTreeVisitor v(&body, lp);
  bool r = walk_body(p, static_cast<Ptr>(obj), version, v);
  if (r && v.consumed() != body.members.size())
    r = v.raise(Errc::mismatch, fmt::format("{} members more than the description has",
                                            body.members.size() - v.consumed()));
  if (!r) {
    v.undo().restore();
    v.error().in_section(p.name);
    return fail(std::move(v.error()));
  }
  return success();
}

TestResolver make_test_resolver(const std::shared_ptr<const Program>& p,
                                std::shared_ptr<const void> destination) {
  TestResolver out;
  collect_tests(p, destination, out, 0);
  return out;
}

}  // namespace statewire::detail
