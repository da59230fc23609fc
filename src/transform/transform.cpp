// Tree operations of a Transform (include/statewire/transform.hpp). Each
// transform keeps a copy of what it may change (the section, or every section
// when it splits or merges), so a failing operation leaves the tree as it was.
#include "statewire/transform.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "statewire/schema_catalog.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire {

namespace {

Error op_error(Errc code, const Section& s, std::string_view path, std::string message) {
  Error e = make_error(code, std::move(message));
  e.section = s.label();
  e.field_path = std::string(path);
  return e;
}

SubsectionState* find_sub(Struct& s, std::string_view name) {
  for (auto& sub : s.subsections)
    if (sub.name == name) return &sub;
  return nullptr;
}

// QEMU's trailer tells fields of one name apart as "unused[0]", "unused[1]":
// a name without an index also finds the first of those.
bool indexed_name_of(std::string_view member, std::string_view name) {
  return member.size() > name.size() + 2 && member.starts_with(name) && member[name.size()] == '[' &&
         member.back() == ']' &&
         member.substr(name.size() + 1, member.size() - name.size() - 2).find_first_not_of("0123456789") ==
             std::string_view::npos;
}

std::vector<Member>::iterator find_member(Struct& s, std::string_view name) {
  for (auto it = s.members.begin(); it != s.members.end(); ++it)
    if (it->name == name) return it;
  for (auto it = s.members.begin(); it != s.members.end(); ++it)
    if (indexed_name_of(it->name, name)) return it;
  return s.members.end();
}

// QEMU's flattened names carry dots themselves ("core.timadj",
// "esp.mig_version_id" beside a struct "esp"), so a path component is the
// longest run of the path, up to a '.' or its end, that names something at
// that level; npos when nothing does.
template <class Has>
std::size_t component_end(std::string_view rest, const Has& has) {
  std::size_t best = std::string_view::npos;
  for (std::size_t p = 0;;) {
    const std::size_t dot = rest.find('.', p);
    const std::size_t end = dot == std::string_view::npos ? rest.size() : dot;
    if (has(rest.substr(0, end))) best = end;
    if (dot == std::string_view::npos) return best;
    p = dot + 1;
  }
}

// "[name]" at the front of `rest`: the name and what follows its '.'.
bool take_subsection(std::string_view& rest, std::string_view& name) {
  if (rest.empty() || rest.front() != '[') return false;
  std::size_t close = rest.find(']');
  if (close == std::string_view::npos) close = rest.size();
  name = rest.substr(1, close - 1);
  rest = close < rest.size() ? rest.substr(close + 1) : std::string_view();
  if (!rest.empty() && rest.front() == '.') rest.remove_prefix(1);
  return true;
}

// Where a field path ends: the struct holding its last component and that
// component's name. parent is nullptr when an enclosing subsection, or a
// struct holding a deeper subsection, is not in the tree (it was not sent).
struct Target {
  Struct* parent = nullptr;
  std::string leaf;
};

Result<Target> resolve(Struct& body, std::string_view path, const Section& s) {
  Struct* cur = &body;
  std::string_view rest = path;
  while (true) {
    std::string_view sub;
    if (take_subsection(rest, sub)) {
      if (rest.empty())
        return fail(op_error(Errc::schema_invalid, s, path, "expected a field path, not a subsection"));
      SubsectionState* st = find_sub(*cur, sub);
      if (!st) return Target{};
      cur = &st->body;
      continue;
    }
    if (rest.empty()) return fail(op_error(Errc::schema_invalid, s, path, "expected a field path"));
    const std::size_t end =
        component_end(rest, [&](std::string_view n) { return find_member(*cur, n) != cur->members.end(); });
    if (end == rest.size()) return Target{cur, std::string(rest)};
    if (end == std::string_view::npos) {
      // Absent here: a deeper subsection was not sent; else the whole rest
      // names one member (possibly dotted) that the source did not send.
      if (rest.find(".[") != std::string_view::npos) return Target{};
      return Target{cur, std::string(rest)};
    }
    auto it = find_member(*cur, rest.substr(0, end));
    Struct* next = it->value.get_if<Struct>();
    if (!next)
      return fail(op_error(Errc::mismatch, s, path,
                           fmt::format("'{}' is {}, not a struct", it->name, kind_name(it->value.kind()))));
    cur = next;
    rest.remove_prefix(end + 1);
  }
}

// The struct whose subsection list a subsection path ("nic/offload",
// "[nic/offload]", "esp.[esp/pdma]") names, and the subsection's name;
// parent nullptr when the enclosing struct was not sent.
Result<Target> resolve_subsection(Struct& body, std::string_view path, const Section& s) {
  const std::size_t open = path.rfind('[');
  if (open == std::string_view::npos) return Target{&body, std::string(path)};
  std::string_view name = path.substr(open + 1);
  if (!name.empty() && name.back() == ']') name.remove_suffix(1);
  if (open == 0) return Target{&body, std::string(name)};
  std::string_view outer = path.substr(0, open);
  if (outer.back() == '.') outer.remove_suffix(1);
  SW_TRY(t, resolve(body, outer, s));
  if (!t.parent) return Target{};
  auto it = find_member(*t.parent, t.leaf);
  Struct* st = it == t.parent->members.end() ? nullptr : it->value.get_if<Struct>();
  return Target{st, std::string(name)};
}

void insert_before(Struct& parent, Member m, std::string_view before) {
  auto at = before.empty() ? parent.members.end() : find_member(parent, before);
  parent.members.insert(at, std::move(m));
}

template <class T>
bool fits(std::uint64_t mag, bool negative) {
  if (negative) {
    if constexpr (std::is_signed_v<T>)
      return mag <= static_cast<std::uint64_t>(std::numeric_limits<T>::max()) + 1;
    return false;
  }
  return mag <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
}

template <class T>
Value make_int(std::uint64_t mag, bool negative) {
  if (negative) return Value(static_cast<T>(-static_cast<std::int64_t>(mag - 1) - 1));
  return Value(static_cast<T>(mag));
}

// The integer as sign and magnitude, so every width converts without overflow.
bool int_parts(const Value& v, std::uint64_t& mag, bool& negative) {
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_signed_v<T>) {
            negative = x < 0;
            mag = negative ? static_cast<std::uint64_t>(-(x + 1)) + 1 : static_cast<std::uint64_t>(x);
          } else {
            negative = false;
            mag = x;
          }
          return true;
        }
        return false;
      },
      v.v);
}

Result<Value> convert_width(const Value& v, ValueKind width, const Section& s, std::string_view path) {
  std::uint64_t mag = 0;
  bool neg = false;
  if (!int_parts(v, mag, neg))
    return fail(op_error(Errc::mismatch, s, path,
                         fmt::format("is {}, not an integer", kind_name(v.kind()))));
  bool ok = false;
  Value out;
  switch (width) {
#define SW_WIDTH(K, T)          \
  case ValueKind::K:            \
    ok = fits<T>(mag, neg);     \
    if (ok) out = make_int<T>(mag, neg); \
    break;
    SW_WIDTH(u8, std::uint8_t) SW_WIDTH(u16, std::uint16_t) SW_WIDTH(u32, std::uint32_t)
    SW_WIDTH(u64, std::uint64_t) SW_WIDTH(i8, std::int8_t) SW_WIDTH(i16, std::int16_t)
    SW_WIDTH(i32, std::int32_t) SW_WIDTH(i64, std::int64_t)
#undef SW_WIDTH
    default:
      return fail(op_error(Errc::schema_invalid, s, path,
                           fmt::format("cannot change width to {}", kind_name(width))));
  }
  if (!ok)
    return fail(op_error(Errc::invalid_value, s, path,
                         fmt::format("value {}{} does not fit {}: not truncated", neg ? "-" : "",
                                     mag, kind_name(width))));
  return out;
}

// Equal as the destination reads them: a dump-decoded stream keeps an
// integer as its bytes, a trailer-decoded one as a typed value.
bool same_on_wire(const Value& a, const Value& b) {
  if (a == b) return true;
  ByteWriter x, y;
  if (!encode_value(a, x) || !encode_value(b, y)) return false;
  return x.size() == y.size() && std::equal(x.bytes().begin(), x.bytes().end(), y.bytes().begin());
}

std::string prefix_of(std::string_view idstr) {
  std::size_t slash = idstr.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(idstr.substr(0, slash + 1));
}

Result<void> apply_op(const TransformOp& op, StateStream& stream, std::size_t index) {
  Section& s = stream.sections[index];
  switch (op.kind) {
    case OpKind::add_field:
    case OpKind::drop_field:
    case OpKind::rename_field:
    case OpKind::move_field:
    case OpKind::change_width:
    case OpKind::refuse_value:
    case OpKind::compute_field: {
      SW_TRY(target, resolve(s.body, op.path, s));
      Struct* parent = target.parent;
      if (!parent) return {};  // its struct or subsection was not sent
      auto it = find_member(*parent, target.leaf);
      const bool present = it != parent->members.end();
      switch (op.kind) {
        case OpKind::add_field:
          if (!present) insert_before(*parent, {target.leaf, op.value}, op.before);
          return {};
        case OpKind::drop_field:
          if (present) parent->members.erase(it);
          return {};
        case OpKind::rename_field:
          if (present) it->name = op.name;
          return {};
        case OpKind::move_field: {
          if (!present) return {};
          Member m = std::move(*it);
          parent->members.erase(it);
          insert_before(*parent, std::move(m), op.before);
          return {};
        }
        case OpKind::change_width: {
          if (!present) return {};
          if (const Array* a = it->value.get_if<Array>()) {
            Array out = *a;  // keeps the layout and QEMU's marker bytes
            out.items.clear();
            for (std::size_t i = 0; i < a->items.size(); ++i) {
              SW_TRY(x, convert_width(a->items[i], op.width, s, fmt::format("{}[{}]", op.path, i)));
              out.items.push_back(std::move(x));
            }
            it->value = Value(std::move(out));
            return {};
          }
          SW_TRY(x, convert_width(it->value, op.width, s, op.path));
          it->value = std::move(x);
          return {};
        }
        case OpKind::refuse_value:
          // No value: the field must not be sent at all.
          if (present && op.value.get_if<Null>())
            return fail(op_error(Errc::invalid_value, s, op.path, fmt::format("is sent: {}", op.reason)));
          if (present && !same_on_wire(it->value, op.value))
            return fail(op_error(Errc::invalid_value, s, op.path,
                                 fmt::format("is {}: {}", to_text(it->value), op.reason)));
          return {};
        case OpKind::compute_field: {
          if (!op.compute)
            return fail(op_error(Errc::schema_invalid, s, op.path, "compute step without a function"));
          auto v = op.compute(s.body);
          if (!v) {
            Error e = std::move(v.error());
            e.in_section(s.label());
            if (e.field_path.empty()) e.field_path = op.path;
            return fail(std::move(e));
          }
          if (present)
            it->value = std::move(*v);
          else
            insert_before(*parent, {target.leaf, std::move(*v)}, op.before);
          return {};
        }
        default:
          return {};
      }
    }
    case OpKind::set_version:
    case OpKind::add_subsection:
    case OpKind::drop_subsection:
    case OpKind::refuse_subsection: {
      if (op.kind == OpKind::set_version && op.path.empty())
        return {};  // the section's own version is the transform's `to`
      SW_TRY(target, resolve_subsection(s.body, op.path, s));
      if (!target.parent) return {};  // the struct holding it was not sent
      Struct& at = *target.parent;
      SubsectionState* sub = find_sub(at, target.leaf);
      switch (op.kind) {
        case OpKind::set_version:
          if (sub) sub->version_id = op.version;
          return {};
        case OpKind::add_subsection:
          if (!sub) {
            const Struct* body = op.value.get_if<Struct>();
            at.subsections.push_back({target.leaf, op.version, body ? *body : Struct{}});
          }
          return {};
        case OpKind::drop_subsection:
          std::erase_if(at.subsections, [&](const SubsectionState& x) { return x.name == target.leaf; });
          return {};
        default:
          if (sub)
            return fail(op_error(Errc::unknown_subsection, s,
                                 op.path.find('[') == std::string::npos ? "[" + op.path + "]" : op.path,
                                 fmt::format("subsection '{}' is needed: {}", target.leaf, op.reason)));
          return {};
      }
    }
    case OpKind::split_section: {
      Section out;
      out.kind = s.kind;
      out.name = prefix_of(s.name) + op.name;
      out.instance_id = s.instance_id;
      out.version_id = op.version;
      std::uint32_t max_id = 0;
      for (const auto& x : stream.sections) max_id = std::max(max_id, x.section_id);
      out.section_id = max_id + 1;
      for (const auto& f : op.fields) {
        if (f.size() > 2 && f.front() == '[' && f.back() == ']') {
          const std::string_view sub_name = std::string_view(f).substr(1, f.size() - 2);
          auto it = std::find_if(s.body.subsections.begin(), s.body.subsections.end(),
                                 [&](const SubsectionState& x) { return x.name == sub_name; });
          if (it == s.body.subsections.end()) continue;
          out.body.subsections.push_back(std::move(*it));
          s.body.subsections.erase(it);
          continue;
        }
        auto it = find_member(s.body, f);
        if (it == s.body.members.end())
          return fail(op_error(Errc::not_found, s, f,
                               fmt::format("split into '{}': the field is not in the section", op.name)));
        out.body.members.push_back(std::move(*it));
        s.body.members.erase(it);
      }
      stream.sections.insert(stream.sections.begin() + static_cast<long>(index) + 1, std::move(out));
      return {};
    }
    case OpKind::merge_section: {
      std::size_t other = stream.sections.size();
      for (std::size_t i = 0; i < stream.sections.size(); ++i)
        if (i != index && SchemaCatalog::vmsd_name(stream.sections[i].name) == op.name &&
            stream.sections[i].instance_id == s.instance_id)
          other = i;
      if (other == stream.sections.size())
        return fail(op_error(Errc::not_found, s, "",
                             fmt::format("merge: section '{}' (instance {}) is not in the stream",
                                         op.name, s.instance_id)));
      Section taken = std::move(stream.sections[other]);
      stream.sections.erase(stream.sections.begin() + static_cast<long>(other));
      Section& into = stream.sections[other < index ? index - 1 : index];
      auto at = op.before.empty() ? into.body.members.end() : find_member(into.body, op.before);
      into.body.members.insert(at, std::make_move_iterator(taken.body.members.begin()),
                               std::make_move_iterator(taken.body.members.end()));
      for (auto& sub : taken.body.subsections) into.body.subsections.push_back(std::move(sub));
      return {};
    }
  }
  return {};
}

}  // namespace

namespace {
// The description holding a path's last component and that component
// ("" when the path ends in a subsection, whose name is then in `sub`).
struct DescTarget {
  const Description* at = nullptr;
  std::string_view field, sub;
};

DescTarget walk(const Description& d, std::string_view path) {
  const Description* cur = &d;
  std::string_view rest = path;
  while (true) {
    std::string_view sub;
    if (take_subsection(rest, sub)) {
      if (rest.empty()) return {cur, {}, sub};
      const Subsection* s = cur->find_subsection(sub);
      if (!s) return {};
      cur = &s->description;
      continue;
    }
    if (rest.empty()) return {};
    const std::size_t end =
        component_end(rest, [&](std::string_view n) { return cur->find_field(n) != nullptr; });
    if (end == rest.size() || end == std::string_view::npos) return {cur, rest, {}};
    const Field* f = cur->find_field(rest.substr(0, end));
    if (!f->nested) return {};
    cur = f->nested.get();
    rest.remove_prefix(end + 1);
  }
}
}  // namespace

const Field* description_field(const Description& d, std::string_view path) {
  DescTarget t = walk(d, path);
  return t.at && !t.field.empty() ? t.at->find_field(t.field) : nullptr;
}

bool description_has(const Description& d, std::string_view path) {
  if (path.empty()) return true;
  DescTarget t = walk(d, path);
  if (!t.at) return false;
  return t.field.empty() ? t.at->find_subsection(t.sub) != nullptr : t.at->find_field(t.field) != nullptr;
}

bool TransformCondition::holds(const Description& destination) const {
  for (const auto& p : has)
    if (!description_has(destination, p)) return false;
  for (const auto& p : lacks)
    if (description_has(destination, p)) return false;
  for (const auto& p : has_untested) {
    const Field* f = description_field(destination, p);
    if (!f || f->has_test()) return false;
  }
  return true;
}

Result<void> apply_transform(const Transform& t, StateStream& stream, std::size_t index) {
  if (index >= stream.sections.size())
    return fail(Errc::not_found, "transform: no such section");
  // All or nothing: keep a copy of what the transform may change, only this
  // section unless it splits or merges (a stream's RAM is not copied per step).
  const bool neighbours = std::any_of(t.ops.begin(), t.ops.end(), [](const TransformOp& op) {
    return op.kind == OpKind::split_section || op.kind == OpKind::merge_section;
  });
  std::vector<Section> saved;
  if (neighbours)
    saved = stream.sections;
  else
    saved.push_back(stream.sections[index]);
  const std::size_t first_index = index;
  const std::string name = stream.sections[index].name;
  const std::uint32_t instance = stream.sections[index].instance_id;
  for (const auto& op : t.ops) {
    // A merge may have removed a section before this one: find it again.
    if (index >= stream.sections.size() || stream.sections[index].name != name ||
        stream.sections[index].instance_id != instance)
      for (std::size_t k = 0; k < stream.sections.size(); ++k)
        if (stream.sections[k].name == name && stream.sections[k].instance_id == instance) index = k;
    auto r = apply_op(op, stream, index);
    if (!r) {
      if (neighbours)
        stream.sections = std::move(saved);
      else
        stream.sections[first_index] = std::move(saved.front());
      Error e = std::move(r.error());
      e.message += fmt::format(" (transform {})", t.label());
      return fail(std::move(e));
    }
  }
  for (auto& sec : stream.sections)
    if (sec.name == name && sec.instance_id == instance) sec.version_id = t.to;
  return {};
}

}  // namespace statewire
