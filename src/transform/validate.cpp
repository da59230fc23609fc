// The destination's loader, replayed on a tree (rules in
// include/statewire/validate.hpp). Members are matched to fields by position,
// as bytes are: a name that differs is a field missing (when the destination
// reads that name later) or a member the destination does not know.
#include "statewire/validate.hpp"

#include <fmt/format.h>

#include "statewire/qemu_stream.hpp"

namespace statewire {

namespace {

std::string join(const std::string& path, std::string_view name) {
  if (path.empty()) return std::string(name);
  if (!name.empty() && name.front() == '[') return path + std::string(name);
  return path + "." + std::string(name);
}

std::string describe_value(const Value& v) {
  if (std::size_t w = v.scalar_width(); w && v.kind() != ValueKind::boolean)
    return fmt::format("{} ({} bytes)", kind_name(v.kind()), w);
  if (const Blob* b = v.get_if<Blob>()) return fmt::format("{} bytes", b->bytes.size());
  if (const Array* a = v.get_if<Array>()) return fmt::format("an array of {}", a->items.size());
  return std::string(kind_name(v.kind()));
}

// QEMU's trailer names array elements "name[i]"; the loader reads "name".
std::string_view base_name(std::string_view n) {
  if (n.size() > 3 && n.back() == ']')
    if (std::size_t b = n.rfind('['); b != std::string_view::npos && b > 0) return n.substr(0, b);
  return n;
}

// Names are not on QEMU's wire, and its trailer and dumps spell some
// differently ("ifs[0]" vs "port.ifs[0]"): compare the last component.
bool same_name(std::string_view member, std::string_view field) {
  member = base_name(member);
  field = base_name(field);
  if (member == field) return true;
  // Only a bare name matches a dotted one by its last component.
  if (member.find('.') != std::string_view::npos && field.find('.') != std::string_view::npos)
    return false;
  auto last = [](std::string_view n) {
    std::size_t dot = n.rfind('.');
    return dot == std::string_view::npos ? n : n.substr(dot + 1);
  };
  return last(member) == last(field);
}

class Validator {
 public:
  Validator(std::string_view section, const ValidateOptions& opt, std::vector<Error>& out)
      : section_(section), opt_(opt), out_(out) {}

  void body(const Struct& s, const Description& d, std::uint32_t version, const std::string& path,
            std::size_t depth) {
    if (depth > 64) return problem(Errc::limit_exceeded, path, "nested deeper than 64");
    const auto& fields = d.field_list();
    std::size_t i = 0;
    for (std::size_t fi = 0; fi < fields.size() && !full(); ++fi) {
      const Field& f = fields[fi];
      const Member* m = i < s.members.size() ? &s.members[i] : nullptr;
      const bool named_here = m && same_name(m->name, f.name);
      std::optional<bool> decided;
      if (f.test && opt_.tests) {
        if (auto it = opt_.tests->find(*f.test); it != opt_.tests->end()) {
          Struct partial;
          partial.members.assign(s.members.begin(), s.members.begin() + static_cast<long>(i));
          decided = it->second(partial, version);
        }
      }
      if (f.test && !decided && named_here) {
        // Undecided test, but a later field of the same name is read at this
        // version anyway (QEMU's `_TEST(x, is_version_1)` then `_V(x, 2)`):
        // the member is that one's.
        bool later_takes = false;
        for (std::size_t fj = fi + 1; fj < fields.size(); ++fj)
          if (fields[fj].name == f.name && !fields[fj].test && fields[fj].version_id <= version)
            later_takes = true;
        if (later_takes) continue;
      }
      if (f.test && !decided && named_here && !f.nested && f.size &&
          vmstate_wire_size(m->value) != f.size) {
        // Alternatives of one name and different sizes, each behind a test
        // (PCI config space: 256 bytes, or 4096 for PCI Express): the member
        // is the one whose size it has.
        bool other_fits = false;
        for (std::size_t fj = fi + 1; fj < fields.size(); ++fj)
          if (fields[fj].test && same_name(fields[fj].name, f.name) &&
              fields[fj].size == vmstate_wire_size(m->value))
            other_fits = true;
        if (other_fits) continue;
      }
      const bool present = f.test ? decided.value_or(named_here) : f.version_id <= version;
      if (!present) {
        if (f.must_exist)
          problem(Errc::invalid_value, join(path, f.name),
                  fmt::format("must exist, but version {} does not send it", version));
        if (named_here) {
          problem(Errc::mismatch, join(path, f.name),
                  f.test ? fmt::format("present, but the destination's test '{}' says it is not sent",
                                       *f.test)
                         : fmt::format("present, but the destination reads it only from version {} "
                                       "on (this body is version {})",
                                       f.version_id, version));
          ++i;
        }
        continue;
      }
      if (opt_.dump_schema && f.nested && (!m || !named_here)) {
        // A dump cannot tell an array of structs with zero elements from none.
        continue;
      }
      if (!m) {
        problem(Errc::not_found, join(path, f.name),
                fmt::format("missing: the destination reads it after {} (size {})",
                            i ? "the last member" : "nothing else", f.size));
        continue;
      }
      if (!named_here) {
        bool read_later = false;
        for (std::size_t fj = fi + 1; fj < fields.size(); ++fj)
          if (same_name(m->name, fields[fj].name)) read_later = true;
        if (read_later) {
          problem(Errc::not_found, join(path, f.name),
                  fmt::format("missing: the destination reads it before '{}'", m->name));
        } else {
          problem(Errc::mismatch, join(path, m->name),
                  fmt::format("not a field of '{}' here: the destination would read its bytes "
                              "as '{}'",
                              d.name, f.name));
          ++i;
          --fi;  // the same field again, against the next member
        }
        continue;
      }
      // Arrays of structs in a QEMU trailer are one member per element with
      // the same name; a description that reads the field once takes them all.
      std::size_t take = 1;
      const bool next_same =
          fi + 1 < fields.size() && base_name(fields[fi + 1].name) == base_name(f.name);
      const std::size_t most =
          f.count.mode == Count::Mode::fixed ? std::max<std::size_t>(f.count.n, 1) : s.members.size();
      if (!next_same && !m->value.get_if<Array>())
        while (i + take < s.members.size() && take < most &&
               same_name(s.members[i + take].name, f.name))
          ++take;
      field(f, s, i, take, join(path, f.name), depth);
      i += take;
    }
    for (; i < s.members.size() && !full(); ++i)
      problem(Errc::mismatch, join(path, s.members[i].name),
              fmt::format("not a field of '{}': the destination stops reading before it", d.name));
    for (const auto& sub : s.subsections) {
      if (full()) return;
      std::string spath = join(path, "[" + sub.name + "]");
      const Subsection* known = d.find_subsection(sub.name);
      if (!known) {
        problem(Errc::unknown_subsection, spath,
                fmt::format("subsection '{}' is unknown to the destination's '{}', which refuses "
                            "the section",
                            sub.name, d.name));
        continue;
      }
      if (!version_in_range(known->description, sub.version_id, spath)) continue;
      body(sub.body, known->description, sub.version_id, spath, depth + 1);
    }
  }

  bool version_in_range(const Description& d, std::uint32_t v, const std::string& path) {
    if (auto r = check_version(d, v); !r) {
      problem(r.error().code, path,
              fmt::format("version {}: the destination's '{}' accepts {}..{}", v, d.name,
                          d.minimum_version_id, d.version_id));
      return false;
    }
    return true;
  }

 private:
  bool full() const { return out_.size() >= opt_.max_problems; }

  void problem(Errc code, const std::string& path, std::string message) {
    if (full()) return;
    Error e = make_error(code, std::move(message));
    e.section = section_;
    e.field_path = path;
    out_.push_back(std::move(e));
  }

  std::optional<std::uint64_t> expected_count(const Field& f, const Struct& s, std::size_t i,
                                              const std::string& path) {
    switch (f.count.mode) {
      case Count::Mode::single: return 1;
      case Count::Mode::fixed: return f.count.n;
      case Count::Mode::from_field: break;
    }
    std::uint64_t n = 0;
    const Value* src = nullptr;
    for (std::size_t k = 0; k < i; ++k)
      if (s.members[k].name == f.count.field) src = &s.members[k].value;
    if (!src || !src->as_u64(n)) {
      problem(Errc::not_found, path,
              fmt::format("its length field '{}' is not before it", f.count.field));
      return std::nullopt;
    }
    if (f.count.max && n > f.count.max)
      problem(Errc::limit_exceeded, path,
              fmt::format("{} = {} elements, above the destination's maximum {}", f.count.field, n,
                          f.count.max));
    return n;
  }

  void field(const Field& f, const Struct& s, std::size_t i, std::size_t take,
             const std::string& path, std::size_t depth) {
    const Value& v = s.members[i].value;
    // A dump's opaque leaf knows only its size per element: arrays pass when
    // each element has that size, a byte buffer when it is whole elements.
    const bool dump_leaf = f.kind == FieldKind::opaque && !f.nested;
    if (f.list) {
      const Array* a = v.get_if<Array>();
      if (!a || a->layout != ArrayLayout::marker_list)
        return problem(Errc::mismatch, path,
                       fmt::format("is {}, the destination reads a marker-delimited list",
                                   describe_value(v)));
      for (std::size_t k = 0; k < a->items.size() && !full(); ++k)
        element(f, a->items[k], fmt::format("{}[{}]", path, k), depth);
      return;
    }
    auto want = expected_count(f, s, i, path);
    if (!want) return;
    const bool any_count = opt_.dump_schema && f.count.mode == Count::Mode::single;
    std::vector<const Value*> items;
    if (take > 1) {
      for (std::size_t k = 0; k < take; ++k) items.push_back(&s.members[i + k].value);
    } else if (const Array* a = v.get_if<Array>(); a && f.count.mode != Count::Mode::single) {
      for (const auto& x : a->items) items.push_back(&x);
    } else if (const Array* a2 = v.get_if<Array>(); a2 && (dump_leaf || any_count)) {
      for (const auto& x : a2->items) items.push_back(&x);
      want = items.size();  // the dump does not say how many
    } else if (dump_leaf && v.get_if<Blob>() && f.size &&
               (f.count.mode == Count::Mode::fixed || f.size == 1)) {
      // A byte array kept as one buffer.
      std::uint64_t n = v.get_if<Blob>()->bytes.size();
      std::uint64_t need = f.size * (f.count.mode == Count::Mode::fixed ? f.count.n : 1);
      if (f.count.mode == Count::Mode::fixed ? n != need : n % f.size != 0)
        problem(Errc::mismatch, path,
                fmt::format("is {} bytes, the destination reads {}", n,
                            f.count.mode == Count::Mode::fixed ? fmt::format("{}", need)
                                                               : fmt::format("a multiple of {}", f.size)));
      return;
    } else if (f.count.mode == Count::Mode::single) {
      items.push_back(&v);
    } else if (f.kind == FieldKind::buffer || dump_leaf) {
      items.push_back(&v);  // checked below against the whole size
      want = 1;
    } else {
      return problem(Errc::mismatch, path,
                     fmt::format("is {}, the destination reads an array of {}", describe_value(v),
                                 *want));
    }
    if (any_count) want = items.size();
    if (items.size() != *want)
      return problem(Errc::mismatch, path,
                     fmt::format("has {} elements, the destination reads {}", items.size(), *want));
    if (items.size() == 1 && f.count.mode == Count::Mode::single)
      return element(f, *items[0], path, depth);
    for (std::size_t k = 0; k < items.size() && !full(); ++k)
      element(f, *items[k], fmt::format("{}[{}]", path, k), depth);
  }

  void element(const Field& f, const Value& v, const std::string& path, std::size_t depth) {
    if (v.get_if<Null>()) {
      if (!f.nullable)
        problem(Errc::mismatch, path, "is a NULL pointer marker, the destination reads a value");
      return;
    }
    auto mismatch = [&](std::string_view want) {
      problem(Errc::mismatch, path,
              fmt::format("is {}, the destination reads {}", describe_value(v), want));
    };
    switch (f.kind) {
      case FieldKind::u8: case FieldKind::u16: case FieldKind::u32: case FieldKind::u64:
      case FieldKind::i8: case FieldKind::i16: case FieldKind::i32: case FieldKind::i64: {
        // Signedness is not on the wire; width is.
        const std::size_t w = scalar_width(f.kind);
        if (!v.is_integer() || v.kind() == ValueKind::boolean || v.scalar_width() != w)
          mismatch(fmt::format("{} ({} bytes)", field_kind_name(f.kind), w));
        return;
      }
      case FieldKind::boolean:
        if (v.kind() != ValueKind::boolean) mismatch("bool (1 byte)");
        return;
      case FieldKind::f64:
        if (v.kind() != ValueKind::f64) mismatch("f64 (8 bytes)");
        return;
      case FieldKind::string:
        if (v.kind() != ValueKind::string) mismatch("a string");
        return;
      case FieldKind::structure: {
        const Struct* st = v.get_if<Struct>();
        if (!st || !f.nested) return mismatch("a struct");
        body(*st, *f.nested, f.nested->version_id, path, depth + 1);
        return;
      }
      case FieldKind::buffer:
      case FieldKind::unused:
        if (!v.get_if<Blob>()) return mismatch(fmt::format("{} bytes", f.size));
        [[fallthrough]];
      case FieldKind::opaque:
      case FieldKind::custom: {
        if (f.kind == FieldKind::opaque && f.nested) {  // a dump struct without a type
          const Struct* st = v.get_if<Struct>();
          if (!st) return mismatch("a struct");
          body(*st, *f.nested, f.nested->version_id, path, depth + 1);
          return;
        }
        // Size 0: a run-time length (VBUFFER, custom encodings) the schema cannot tell.
        if (f.size && vmstate_wire_size(v) != f.size)
          problem(Errc::mismatch, path,
                  fmt::format("takes {} bytes, the destination reads {}", vmstate_wire_size(v),
                              f.size));
        return;
      }
    }
  }

  std::string section_;
  const ValidateOptions& opt_;
  std::vector<Error>& out_;
};

bool opaque_body(const Struct& b) {
  return b.subsections.empty() && b.members.size() == 1 &&
         b.members[0].name == qemu::keys::kOpaque && b.members[0].value.get_if<Blob>();
}

}  // namespace

std::uint64_t vmstate_wire_size(const Value& v) noexcept {
  return std::visit(
      [](const auto& x) -> std::uint64_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Null> || std::is_same_v<T, bool>) {
          return 1;
        } else if constexpr (std::is_arithmetic_v<T>) {
          return sizeof(T);
        } else if constexpr (std::is_same_v<T, Blob>) {
          return x.bytes.size();
        } else if constexpr (std::is_same_v<T, std::string>) {
          return 4 + x.size();
        } else if constexpr (std::is_same_v<T, Array>) {
          // Lists: a marker per item and the end marker; GTrees also a be32 count.
          std::uint64_t n = x.layout == ArrayLayout::marker_list ? 1 + x.items.size()
                            : x.layout == ArrayLayout::gtree    ? 5 + x.items.size()
                                                                : 0;
          for (const auto& i : x.items) n += vmstate_wire_size(i);
          return n;
        } else {
          std::uint64_t n = 0;
          for (const auto& m : x.members) n += vmstate_wire_size(m.value);
          for (const auto& s : x.subsections) {
            n += 6 + s.name.size();
            n += vmstate_wire_size(Value(s.body));
          }
          return n;
        }
      },
      v.v);
}

std::vector<Error> validate_body(const Struct& body, const Description& d, std::uint32_t version,
                                 std::string_view section, const ValidateOptions& opt) {
  std::vector<Error> out;
  Validator val(section, opt, out);
  if (!val.version_in_range(d, version, "")) return out;
  val.body(body, d, version, "", 0);
  return out;
}

void validate_section(const Section& s, const DescriptionLookup& lookup, const ValidateOptions& opt,
                      StreamValidation& out) {
  if (s.kind != SectionKind::full) {
    if (s.kind == SectionKind::start)
      out.unchecked.push_back(fmt::format("{}: sent in several records (bulk data)", s.label()));
    return;
  }
  if (opaque_body(s.body)) {
    out.unchecked.push_back(fmt::format("{}: kept as bytes (no schema explained it)", s.label()));
    return;
  }
  auto candidates = lookup(s);
  if (candidates.empty() && opt.dump_schema) {
    out.unchecked.push_back(fmt::format("{}: not in the schema dump", s.label()));
    return;
  }
  if (candidates.empty()) {
    Error e = make_error(Errc::unknown_section,
                         fmt::format("the destination has no description of section '{}'", s.name));
    e.section = s.label();
    out.problems.push_back(std::move(e));
    return;
  }
  ValidateOptions o = opt;
  o.max_problems = opt.max_problems > out.problems.size() ? opt.max_problems - out.problems.size() : 0;
  if (!o.max_problems) return;
  std::vector<Error> best;
  for (std::size_t c = 0; c < candidates.size(); ++c) {
    auto p = validate_body(s.body, *candidates[c], s.version_id, s.label(), o);
    if (c == 0 || p.size() < best.size()) best = std::move(p);
    if (best.empty()) break;
  }
  for (auto& e : best) out.problems.push_back(std::move(e));
}

StreamValidation validate_stream(const StateStream& stream, const DescriptionLookup& lookup,
                                 const ValidateOptions& opt) {
  StreamValidation out;
  for (const auto& s : stream.sections) {
    if (out.problems.size() >= opt.max_problems) break;
    validate_section(s, lookup, opt, out);
  }
  return out;
}

}  // namespace statewire
