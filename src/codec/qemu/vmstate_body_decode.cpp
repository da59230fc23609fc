// Schema-driven VMState body decoding (layout in
// include/statewire/vmstate_body.hpp); encoding is vmstate_body_encode.cpp.
#include "statewire/vmstate_body.hpp"

#include <fmt/format.h>

#include <bit>
#include <string>
#include <vector>

namespace statewire {

namespace {

class BodyDecoder {
 public:
  BodyDecoder(Cursor& cur, const BodyDecodeOptions& opt)
      : cur_(cur), opt_(opt), own_(opt.limits, cur.remaining()),
        budget_(opt.budget ? *opt.budget : own_) {}

  Result<Struct> body(const Description& d, std::uint32_t version, std::size_t depth) {
    if (depth > opt_.limits.max_depth)
      return fail(cur_.error_here(Errc::limit_exceeded,
                                  fmt::format("descriptions nested deeper than {}",
                                              opt_.limits.max_depth)));
    Struct out;
    Scope scope(*this, d, version, out);
    SW_CHECK(charge(d.field_list().size() * member_cost(0), "a body's fields"));
    out.members.reserve(d.field_list().size());
    for (const Field& f : d.field_list()) {
      SW_TRY(present, is_present(f, out, version));
      if (!present) {
        if (f.must_exist) {
          Error e = cur_.error_here(Errc::invalid_value,
                                    fmt::format("{} must exist at version {}", f.name, version));
          return fail(std::move(e.in_field(f.name)));
        }
        continue;
      }
      auto v = field(d, f, out, depth);
      if (!v) return fail(std::move(v.error().in_field(f.name)));
      out.members.push_back({f.name, std::move(*v)});
    }
    SW_CHECK(subsections(d, out, depth));
    return out;
  }

 private:
  Result<bool> is_present(const Field& f, const Struct& partial, std::uint32_t version) {
    if (!f.test) return f.version_id <= version;
    if (opt_.tests) {
      if (auto it = opt_.tests->find(*f.test); it != opt_.tests->end()) {
        if (auto decided = it->second(partial, version)) return *decided;
      }
    }
    Error e = cur_.error_here(
        Errc::unsupported,
        fmt::format("field is sent only when test '{}' holds, and no predicate decides it",
                    f.test->empty() ? std::string("(unnamed)") : *f.test));
    return fail(std::move(e.in_field(f.name)));
  }

  Result<std::uint64_t> element_count(const Field& f, const Struct& partial) {
    switch (f.count.mode) {
      case Count::Mode::single: return 1;
      case Count::Mode::fixed: return f.count.n;
      case Count::Mode::from_field: break;
    }
    const Value* src = partial.find(f.count.field);
    std::uint64_t n = 0;
    if (!src || !src->as_u64(n))
      return fail(cur_.error_here(
          Errc::schema_invalid,
          fmt::format("length field '{}' was not decoded before it", f.count.field)));
    if (f.count.max && n > f.count.max)
      return fail(cur_.error_here(
          Errc::limit_exceeded,
          fmt::format("{} = {} elements, above the declared maximum {}", f.count.field, n,
                      f.count.max)));
    return n;
  }

  // Whether element `i` of an array of pointers is NULL: the writer's own
  // description if it says, else the destination (resolver); never the bytes.
  Result<bool> is_null(const Description& d, const Field& f, const Struct& partial,
                       std::uint64_t i) {
    if (i < f.null_elements.size()) return bool(f.null_elements[i]);
    if (opt_.pointers) {
      // The instance's own path first (it tells nested instances apart), then
      // the description-wide key.
      const std::string at = path_key(f);
      if (auto it = opt_.pointers->find(at); it != opt_.pointers->end())
        if (auto decided = it->second(partial, i)) return *decided;
      if (const std::string key = pointer_key(d.name, f.name); key != at)
        if (auto it = opt_.pointers->find(key); it != opt_.pointers->end())
          if (auto decided = it->second(partial, i)) return *decided;
    }
    return fail(cur_.error_here(
        Errc::unsupported,
        fmt::format("element {} of an array of pointers: QEMU reads the NULL marker only where "
                    "the destination's pointer is NULL, and no resolver decides it",
                    i)));
  }

  Result<Value> pointer_element(const Description& d, const Field& f, const Struct& partial,
                                std::uint64_t i, std::size_t depth) {
    SW_TRY(null, is_null(d, f, partial, i));
    if (!null) return element(f, depth);
    SW_TRY(marker, cur_.read_u8());
    if (marker != kNullPointerMarker) {
      Error e = cur_.error_here(Errc::invalid_value,
                                fmt::format("NULL element: expected the marker {:#04x}, found {:#04x}",
                                            kNullPointerMarker, marker));
      e.offset = *e.offset - 1;
      return fail(std::move(e));
    }
    return Value(Null{});
  }

  Result<Value> field(const Description& d, const Field& f, const Struct& partial,
                      std::size_t depth) {
    if (f.list) return list(f, depth);
    if (f.gtree) return gtree(f, depth);
    SW_TRY(n, element_count(f, partial));
    if (f.count.mode == Count::Mode::single) {
      index_ = -1;
      return f.nullable ? pointer_element(d, f, partial, 0, depth) : element(f, depth);
    }
    if (n > opt_.limits.max_elements)
      return fail(cur_.error_here(Errc::limit_exceeded,
                                  fmt::format("array of {} elements, limit {}", n,
                                              opt_.limits.max_elements)));
    // Refuse before allocating when the bytes cannot possibly be there.
    if (auto w = f.element_wire_size(); w && *w && n > cur_.remaining() / *w)
      return fail(cur_.error_here(Errc::truncated,
                                  fmt::format("need {} elements of {} bytes, {} bytes left", n,
                                              *w, cur_.remaining())));
    // Elements of zero wire bytes pass the check above at any count: the
    // budget pays for each element's node, so the count is bounded by memory.
    SW_CHECK(charge(n * value_cost(), "an array's elements"));
    Array a;
    a.items.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, cur_.remaining() + 1)));
    for (std::uint64_t i = 0; i < n; ++i) {
      index_ = static_cast<std::int64_t>(i);
      auto v = f.nullable ? pointer_element(d, f, partial, i, depth) : element(f, depth);
      if (!v) return fail(std::move(v.error().in_field(fmt::format("[{}]", i))));
      a.items.push_back(std::move(*v));
    }
    return Value(std::move(a));
  }

  // QTAILQ/QLIST: a marker before each element, 0x00 after the last. QEMU
  // writes 0x01 and reads any non-zero byte as "one more"; other bytes are
  // kept in Array::markers so the list re-encodes to the same bytes.
  Result<Value> list(const Field& f, std::size_t depth) {
    Array a;
    a.layout = ArrayLayout::marker_list;
    std::vector<std::uint8_t> markers;
    bool odd = false;
    for (std::uint64_t i = 0;; ++i) {
      SW_TRY(marker, cur_.read_u8());
      if (marker == 0) break;
      if (i >= opt_.limits.max_elements)
        return fail(cur_.error_here(Errc::limit_exceeded, "list longer than the element limit"));
      SW_CHECK(charge(value_cost(), "a list element"));
      markers.push_back(marker);
      odd |= marker != 1;
      index_ = static_cast<std::int64_t>(i);
      auto v = element(f, depth);
      if (!v) return fail(std::move(v.error().in_field(fmt::format("[{}]", i))));
      a.items.push_back(std::move(*v));
    }
    if (odd) a.markers = std::move(markers);
    return Value(std::move(a));
  }

  // GTree: be32 node count; per node a marker (QEMU continues on any non-zero
  // byte), the key (be64, or the key description's body) and the value; 0x00.
  // QEMU refuses a stream whose nodes do not match the count, so do we.
  Result<Value> gtree(const Field& f, std::size_t depth) {
    if (!f.nested)
      return fail(cur_.error_here(Errc::schema_invalid, "gtree field without a value description"));
    SW_TRY(nnodes, cur_.read_be32());
    Array a;
    a.layout = ArrayLayout::gtree;
    std::vector<std::uint8_t> markers;
    bool odd = false;
    for (std::uint64_t i = 0;; ++i) {
      SW_TRY(marker, cur_.read_u8());
      if (marker == 0) break;
      if (i >= nnodes)
        return fail(cur_.error_here(
            Errc::invalid_value,
            fmt::format("more nodes than the count {} (QEMU: inconsistent stream)", nnodes)));
      if (i >= opt_.limits.max_elements)
        return fail(cur_.error_here(Errc::limit_exceeded, "tree larger than the element limit"));
      SW_CHECK(charge(value_cost() + member_cost(3) + member_cost(5), "a tree node"));
      markers.push_back(marker);
      odd |= marker != 1;
      Struct node;
      if (f.key) {
        Enter in(*this, f.name, static_cast<std::int64_t>(i), "key");
        auto k = body(*f.key, f.key->version_id, depth + 1);
        if (!k) return fail(std::move(k.error().in_field("key").in_field(fmt::format("[{}]", i))));
        node.members.push_back({"key", std::move(*k)});
      } else {
        auto k = cur_.read_be<std::uint64_t>();
        if (!k) return fail(std::move(k.error().in_field("key").in_field(fmt::format("[{}]", i))));
        node.members.push_back({"key", *k});
      }
      Enter in(*this, f.name, static_cast<std::int64_t>(i), "value");
      auto v = body(*f.nested, f.nested->version_id, depth + 1);
      if (!v) return fail(std::move(v.error().in_field("value").in_field(fmt::format("[{}]", i))));
      node.members.push_back({"value", std::move(*v)});
      a.items.emplace_back(std::move(node));
    }
    if (a.items.size() != nnodes)
      return fail(cur_.error_here(Errc::invalid_value,
                                  fmt::format("the count says {} nodes, {} followed (QEMU: "
                                              "inconsistent stream)",
                                              nnodes, a.items.size())));
    if (odd) a.markers = std::move(markers);
    return Value(std::move(a));
  }

  Result<Value> blob(std::uint64_t n) {
    if (n > opt_.limits.max_blob)
      return fail(cur_.error_here(Errc::limit_exceeded,
                                  fmt::format("buffer of {} bytes, limit {}", n,
                                              opt_.limits.max_blob)));
    SW_TRY(span, cur_.read_bytes(static_cast<std::size_t>(n)));
    SW_CHECK(charge(n, "a buffer"));
    return Value(Blob{std::vector<std::uint8_t>(span.begin(), span.end())});
  }

  Result<Value> element(const Field& f, std::size_t depth) {
    switch (f.kind) {
      case FieldKind::u8: { SW_TRY(x, cur_.read_be<std::uint8_t>()); return Value(x); }
      case FieldKind::u16: { SW_TRY(x, cur_.read_be<std::uint16_t>()); return Value(x); }
      case FieldKind::u32: { SW_TRY(x, cur_.read_be<std::uint32_t>()); return Value(x); }
      case FieldKind::u64: { SW_TRY(x, cur_.read_be<std::uint64_t>()); return Value(x); }
      case FieldKind::i8: { SW_TRY(x, cur_.read_be<std::int8_t>()); return Value(x); }
      case FieldKind::i16: { SW_TRY(x, cur_.read_be<std::int16_t>()); return Value(x); }
      case FieldKind::i32: { SW_TRY(x, cur_.read_be<std::int32_t>()); return Value(x); }
      case FieldKind::i64: { SW_TRY(x, cur_.read_be<std::int64_t>()); return Value(x); }
      case FieldKind::boolean: {
        SW_TRY(x, cur_.read_u8());
        // QEMU writes 0 or 1 and reads any non-zero byte as true; such a byte
        // stays its u8 in the tree, so re-encoding gives it back.
        if (x > 1) return Value(x);
        return Value(x == 1);
      }
      case FieldKind::f64: {
        SW_TRY(x, cur_.read_be<std::uint64_t>());
        return Value(std::bit_cast<double>(x));
      }
      case FieldKind::buffer:
      case FieldKind::unused:
      case FieldKind::opaque:
        return blob(f.size);
      case FieldKind::string: {
        SW_TRY(len, cur_.read_be32());
        if (len > opt_.limits.max_blob)
          return fail(cur_.error_here(Errc::limit_exceeded,
                                      fmt::format("string of {} bytes", len)));
        SW_TRY(span, cur_.read_bytes(len));
        SW_CHECK(charge(len, "a string"));
        return Value(std::string(reinterpret_cast<const char*>(span.data()), span.size()));
      }
      case FieldKind::structure: {
        if (!f.nested)
          return fail(cur_.error_here(Errc::schema_invalid, "struct field without a description"));
        // The nested version is not on the wire: the local description's is
        // used, or the field's fixed one (VSTRUCT).
        Enter in(*this, f.name, index_);
        SW_TRY(s, body(*f.nested, f.struct_version.value_or(f.nested->version_id), depth + 1));
        return Value(std::move(s));
      }
      case FieldKind::custom: {
        if (opt_.custom) {
          if (auto it = opt_.custom->find(f.info); it != opt_.custom->end())
            return it->second(f, cur_, CustomContext{*desc_, version_, *partial_, opt_.section,
                                                     opt_.limits, budget_});
        }
        // Without a decoder, the size a stream's own description gives is exact.
        return blob(f.size);
      }
    }
    return fail(cur_.error_here(Errc::schema_invalid, "unknown field kind"));
  }

  // After the fields: while the next byte is 0x05 and the name that follows
  // starts with this description's name, it is one of our subsections. Any
  // other byte, or a foreign name, ends the list (QEMU peeks the same way).
  Result<void> subsections(const Description& d, Struct& out, std::size_t depth) {
    while (true) {
      auto marker = cur_.peek(0);
      if (!marker || *marker != kSubsectionMarker) return {};
      auto len = cur_.peek(1);
      if (!len || *len < d.name.size() + 1) return {};
      if (cur_.remaining() < 2u + *len) return {};
      Cursor probe = cur_;
      SW_CHECK(probe.skip(1));
      SW_TRY(name, probe.read_counted_string());
      if (name.compare(0, d.name.size(), d.name) != 0) return {};
      const Subsection* sub = d.find_subsection(name);
      if (!sub) {
        Error e = cur_.error_here(
            Errc::unknown_subsection,
            fmt::format("subsection '{}' is not known to this description of '{}'", name, d.name));
        return fail(std::move(e));
      }
      cur_ = probe;
      SW_TRY(version, cur_.read_be32());
      auto checked = check_version(sub->description, version);
      if (!checked) return fail(std::move(checked.error().at(cur_.offset() - 4)));
      Root root(*this, sub->description.name);
      auto b = body(sub->description, version, depth + 1);
      if (!b) return fail(std::move(b.error().in_field(name)));
      out.subsections.push_back({std::move(name), version, std::move(*b)});
    }
  }

  Result<void> charge(std::uint64_t bytes, const char* what) {
    return budget_.charge(bytes, cur_.offset(), what);
  }

 public:
  // Where the decoder is, as a path from the body it started at (or the
  // subsection it is in): kept as segments, formatted only when a pointer
  // resolver is asked (path_key()).
  struct Segment {
    std::string_view field;
    std::int64_t index;      // -1: not an element of an array or list
    const char* part;        // a GTree node's "key" or "value", else null
  };
  std::string_view root_;
  std::vector<Segment> path_;
  std::int64_t index_ = -1;  // the element field() is decoding

  // "<root>.<field>[i].<field>...<f>": the key of a nested instance.
  std::string path_key(const Field& f) const {
    std::string out(root_);
    for (const Segment& s : path_) {
      out += '.';
      out += s.field;
      if (s.index >= 0) fmt::format_to(std::back_inserter(out), "[{}]", s.index);
      if (s.part) {
        out += '.';
        out += s.part;
      }
    }
    out += '.';
    out += f.name;
    return out;
  }

  struct Enter {
    Enter(BodyDecoder& d, std::string_view field, std::int64_t index, const char* part = nullptr)
        : d_(d), saved_(d.index_) {
      d.path_.push_back({field, index, part});
    }
    ~Enter() {
      d_.path_.pop_back();
      d_.index_ = saved_;
    }
    BodyDecoder& d_;
    std::int64_t saved_;
  };
  // The body being decoded, for custom decoders.
  const Description* desc_ = nullptr;
  std::uint32_t version_ = 0;
  const Struct* partial_ = nullptr;
  struct Scope {
    Scope(BodyDecoder& d, const Description& desc, std::uint32_t version, const Struct& partial)
        : d_(d), desc_(d.desc_), version_(d.version_), partial_(d.partial_) {
      d.desc_ = &desc;
      d.version_ = version;
      d.partial_ = &partial;
    }
    ~Scope() {
      d_.desc_ = desc_;
      d_.version_ = version_;
      d_.partial_ = partial_;
    }
    BodyDecoder& d_;
    const Description* desc_;
    std::uint32_t version_;
    const Struct* partial_;
  };
  struct Root {
    Root(BodyDecoder& d, std::string_view name) : d_(d), root_(d.root_), path_(std::move(d.path_)) {
      d.root_ = name;
      d.path_.clear();
    }
    ~Root() {
      d_.root_ = root_;
      d_.path_ = std::move(path_);
    }
    BodyDecoder& d_;
    std::string_view root_;
    std::vector<Segment> path_;
  };

 private:
  Cursor& cur_;
  const BodyDecodeOptions& opt_;
  Budget own_;
  Budget& budget_;
};

}  // namespace

std::string pointer_key(std::string_view description, std::string_view field) {
  return fmt::format("{}.{}", description, field);
}

Result<void> check_version(const Description& d, std::uint32_t incoming) {
  if (incoming > d.version_id) {
    Error e = make_error(Errc::version_too_new,
                         fmt::format("incoming version {} is newer than local version {}",
                                     incoming, d.version_id));
    e.section = d.name;
    return fail(std::move(e));
  }
  if (incoming < d.minimum_version_id) {
    Error e = make_error(Errc::version_too_old,
                         fmt::format("incoming version {} is older than local minimum version {}",
                                     incoming, d.minimum_version_id));
    e.section = d.name;
    return fail(std::move(e));
  }
  return {};
}

Result<Struct> decode_body(const Description& d, Cursor& cur, std::uint32_t version,
                           const BodyDecodeOptions& opt) {
  auto checked = check_version(d, version);
  if (!checked) return fail(std::move(checked.error().at(cur.offset())));
  BodyDecoder dec(cur, opt);
  dec.root_ = d.name;
  return dec.body(d, version, 0);
}

}  // namespace statewire
