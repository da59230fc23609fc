// Tree visitor, object -> state tree: to_tree() of a native description.
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

  // An array of pointers: Null where the pointer is NULL (QEMU's marker).
  template <class Each>
  bool pointers(const Op& op, const Field& f, Ptr slots, std::uint64_t n, Each&& one) {
    Array arr;
    Struct scratch;
    Struct* parent = cur_;
    for (std::uint64_t k = 0; k < n; ++k) {
      Ptr target;
      std::memcpy(&target, slots + k * op.stride, sizeof target);
      if (!target) {
        if (!op.is_array) return raise(Errc::invalid_value, "pointer is NULL");
        arr.items.emplace_back(Null{});
        continue;
      }
      scratch.members.clear();
      cur_ = &scratch;
      const bool r = one(target);
      cur_ = parent;
      if (!r) {
        if (op.is_array) error().in_field(fmt::format("[{}]", k));
        return false;
      }
      arr.items.push_back(std::move(scratch.members.front().value));
    }
    if (op.is_array)
      parent->members.push_back({f.name, Value(std::move(arr))});
    else
      parent->members.push_back({f.name, std::move(arr.items.front())});
    return true;
  }

  template <class Each>
  bool list(const Op& op, const Field& f, Ptr container, Each&& each) {
    std::vector<unsigned char*> elems;
    op.list->elements(container, elems);
    Struct* parent = cur_;
    Array arr;
    arr.layout = ArrayLayout::marker_list;
    for (std::size_t k = 0; k < elems.size(); ++k) {
      Struct child;
      cur_ = &child;
      const bool r = each(elems[k]);
      cur_ = parent;
      if (!r) {
        error().in_field(fmt::format("[{}]", k));
        return false;
      }
      arr.items.emplace_back(std::move(child));
    }
    parent->members.push_back({f.name, Value(std::move(arr))});
    return true;
  }

  // A GTree: Array `gtree` of {key, value} structs, in key order.
  template <class KeyEach, class Each>
  bool map(const Op& op, const Field& f, Ptr m, KeyEach&& key, Each&& value) {
    std::vector<std::pair<unsigned char*, unsigned char*>> nodes;
    op.map->entries(m, nodes);
    Struct* parent = cur_;
    Array arr;
    arr.layout = ArrayLayout::gtree;
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      Struct node;
      bool r = true;
      if (op.key) {
        Struct ks;
        cur_ = &ks;
        r = key(nodes[k].first);
        node.members.push_back({"key", std::move(ks)});
      } else {
        node.members.push_back({"key", op.map->get_direct(nodes[k].first)});
      }
      Struct vs;
      cur_ = &vs;
      if (r) r = value(nodes[k].second);
      cur_ = parent;
      if (!r) {
        error().in_field(fmt::format("[{}]", k));
        return false;
      }
      node.members.push_back({"value", std::move(vs)});
      arr.items.emplace_back(std::move(node));
    }
    parent->members.push_back({f.name, Value(std::move(arr))});
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

}  // namespace statewire::detail
