// Tree visitors: object -> state tree and state tree -> object, plus the
// TestResolver that lets decode_body() decide a native description's
// test-gated fields from a partial tree.
//
// The tree has the shape decode_body() gives the same bytes: a scalar field is
// its scalar, an array field (fixed or variable count) an Array, a buffer a
// Blob, padding a Blob of zeros, a struct a Struct, and each subsection that
// was sent a SubsectionState. from_tree matches members by position and name
// (names may repeat), checks kinds and counts, and never guesses.
#include "statewire/describe.hpp"

#include <cstring>

#include "describe/walk.hpp"

namespace statewire::detail {

namespace {

template <class E>
Value scalar_value(const unsigned char* p) {
  E x;
  std::memcpy(&x, p, sizeof x);
  return Value(x);
}

class ToTreeVisitor : public VisitorBase {
 public:
  static constexpr bool kLoading = false;
  static constexpr bool kFused = false;

  explicit ToTreeVisitor(Struct* root) : cur_(root) {}

  bool run_hooks() const { return true; }
  bool stopped() const { return false; }
  void locate(Error&) const {}
  bool prepare(const Op&, std::uint64_t) { return true; }

  template <class E>
  bool scalars(const Op& op, const Field& f, Ptr elems, std::uint64_t n) {
    return emit(op, f, n, [elems](std::uint64_t i) { return scalar_value<E>(elems + i * sizeof(E)); });
  }

  bool buffers(const Op& op, const Field& f, Ptr elems, std::uint64_t n) {
    return emit(op, f, n, [&op, elems](std::uint64_t i) {
      const unsigned char* b = elems + i * op.stride;
      return Value(Blob{std::vector<std::uint8_t>(b, b + op.buf_size)});
    });
  }

  bool strings(const Op& op, const Field& f, Ptr elems, std::uint64_t n) {
    return emit(op, f, n, [&op, elems](std::uint64_t i) {
      return Value(*reinterpret_cast<const std::string*>(elems + i * op.stride));
    });
  }

  bool unused(const Op& op, const Field& f) {
    cur_->members.push_back({f.name, Value(Blob{std::vector<std::uint8_t>(op.buf_size, 0)})});
    return true;
  }

  template <class Each>
  bool structs(const Op& op, const Field& f, Ptr elems, std::uint64_t n, Each&& each) {
    Struct* parent = cur_;
    Array arr;
    arr.items.reserve(static_cast<std::size_t>(n));
    Struct child;
    auto one = [&](Ptr e) -> bool {
      child = Struct{};
      cur_ = &child;
      bool r = each(e);
      cur_ = parent;
      if (r) arr.items.emplace_back(std::move(child));
      return r;
    };
    if (!for_each_struct(*this, op, elems, n, one)) return false;
    if (op.is_array)
      parent->members.push_back({f.name, Value(std::move(arr))});
    else
      parent->members.push_back({f.name, std::move(arr.items.front())});
    return true;
  }

  bool subsections(const Program& p, Ptr obj) {
    for (const SubProgram& s : p.subs) {
      if (!s.needed(obj)) continue;
      const Program& sp = *s.program;
      SubsectionState st{sp.name, sp.version, {}};
      Struct* parent = cur_;
      cur_ = &st.body;
      bool r = walk_body(sp, obj, sp.version, *this);
      cur_ = parent;
      if (!r) {
        error().in_field(sp.name);
        return false;
      }
      parent->subsections.push_back(std::move(st));
    }
    return true;
  }

 private:
  template <class Make>
  bool emit(const Op& op, const Field& f, std::uint64_t n, Make&& make) {
    if (!op.is_array) {
      cur_->members.push_back({f.name, make(0)});
      return true;
    }
    Array arr;
    arr.items.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) arr.items.push_back(make(i));
    cur_->members.push_back({f.name, Value(std::move(arr))});
    return true;
  }

  Struct* cur_;
};

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
    return take(op, f, n, [elems](const Value& v, std::uint64_t i) -> Result<void> {
      const E* x = v.get_if<E>();
      if (!x)
        return fail(Errc::mismatch,
                    fmt::format("expected {}, found {}", kind_name(Value(E{}).kind()),
                                kind_text(v)));
      std::memcpy(elems + i * sizeof(E), x, sizeof(E));
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
  std::size_t depth_ = 0;
};

void collect_tests(const std::shared_ptr<const Program>& p, TestResolver& out, std::size_t depth) {
  if (depth > 64) return;
  const auto& fields = *p->schema.fields;
  for (std::size_t i = 0; i < p->ops.size(); ++i) {
    const Op& op = p->ops[i];
    if (op.test >= 0 && fields[i].test && !fields[i].test->empty()) {
      std::size_t ti = static_cast<std::size_t>(op.test);
      out.emplace(*fields[i].test,
                  [prog = p, ti](const Struct& partial, std::uint32_t version) -> std::optional<bool> {
                    if (!prog->make_default) return std::nullopt;
                    std::shared_ptr<void> obj = prog->make_default();
                    LoadParams lp;
                    lp.run_hooks = false;
                    FromTreeVisitor v(&partial, lp);
                    v.set_partial(true);
                    if (!walk_body(*prog, static_cast<Ptr>(obj.get()), version, v))
                      return std::nullopt;
                    return prog->tests[ti](obj.get(), version);
                  });
    }
    if (op.nested) collect_tests(op.nested, out, depth + 1);
  }
  for (const SubProgram& s : p->subs) collect_tests(s.program, out, depth + 1);
}

}  // namespace

Result<Struct> to_tree(const Program& p, const void* obj, const SaveParams& sp) {
  if (p.misuse) return fail(*p.misuse);
  if (auto r = check_range(p, sp.version, "target"); !r) {
    r.error().in_section(p.name);
    return fail(std::move(r.error()));
  }
  Struct root;
  ToTreeVisitor v(&root);
  if (!walk_body(p, const_cast<Ptr>(static_cast<const unsigned char*>(obj)), sp.version, v)) {
    v.error().in_section(p.name);
    return fail(std::move(v.error()));
  }
  return root;
}

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
    v.error().in_section(p.name);
    return fail(std::move(v.error()));
  }
  return success();
}

TestResolver make_test_resolver(const std::shared_ptr<const Program>& p) {
  TestResolver out;
  collect_tests(p, out, 0);
  return out;
}

}  // namespace statewire::detail
