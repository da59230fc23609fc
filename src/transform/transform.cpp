// Tree operations of a Transform (include/statewire/transform.hpp). Each
// transform runs on a copy of the stream's sections, so a failing operation
// leaves the caller's tree as it was.
#include "statewire/transform.hpp"

#include <fmt/format.h>

#include <limits>

#include "statewire/schema_catalog.hpp"

namespace statewire {

namespace {

struct Token {
  std::string name;
  bool subsection = false;
};

// "state.divider" -> state, divider; "[nic/offload].tso" -> [nic/offload], tso.
std::vector<Token> split_path(std::string_view path) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      std::size_t close = path.find(']', i);
      if (close == std::string_view::npos) close = path.size();
      out.push_back({std::string(path.substr(i + 1, close - i - 1)), true});
      i = close + 1;
      continue;
    }
    std::size_t end = path.find_first_of(".[", i);
    if (end == std::string_view::npos) end = path.size();
    out.push_back({std::string(path.substr(i, end - i)), false});
    i = end;
  }
  return out;
}

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

std::vector<Member>::iterator find_member(Struct& s, std::string_view name) {
  for (auto it = s.members.begin(); it != s.members.end(); ++it)
    if (it->name == name) return it;
  return s.members.end();
}

// The struct holding the last token of `path`; nullptr when an enclosing
// struct or subsection is not in the tree (it was not sent).
Result<Struct*> parent_of(Struct& body, const std::vector<Token>& toks, const Section& s,
                          std::string_view path) {
  Struct* cur = &body;
  for (std::size_t i = 0; i + 1 < toks.size(); ++i) {
    if (toks[i].subsection) {
      SubsectionState* sub = find_sub(*cur, toks[i].name);
      if (!sub) return static_cast<Struct*>(nullptr);
      cur = &sub->body;
    } else {
      auto it = find_member(*cur, toks[i].name);
      if (it == cur->members.end()) return static_cast<Struct*>(nullptr);
      Struct* next = it->value.get_if<Struct>();
      if (!next)
        return fail(op_error(Errc::mismatch, s, path,
                             fmt::format("'{}' is {}, not a struct", toks[i].name,
                                         kind_name(it->value.kind()))));
      cur = next;
    }
  }
  return cur;
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

std::string prefix_of(std::string_view idstr) {
  std::size_t slash = idstr.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(idstr.substr(0, slash + 1));
}

Result<void> apply_op(const TransformOp& op, StateStream& stream, std::size_t index) {
  Section& s = stream.sections[index];
  const auto toks = split_path(op.path);
  switch (op.kind) {
    case OpKind::add_field:
    case OpKind::drop_field:
    case OpKind::rename_field:
    case OpKind::move_field:
    case OpKind::change_width:
    case OpKind::refuse_value:
    case OpKind::compute_field: {
      if (toks.empty() || toks.back().subsection)
        return fail(op_error(Errc::schema_invalid, s, op.path, "expected a field path"));
      SW_TRY(parent, parent_of(s.body, toks, s, op.path));
      if (!parent) return {};  // its struct or subsection was not sent
      auto it = find_member(*parent, toks.back().name);
      const bool present = it != parent->members.end();
      switch (op.kind) {
        case OpKind::add_field:
          if (!present) insert_before(*parent, {toks.back().name, op.value}, op.before);
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
          if (present && !(it->value == op.value))
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
            insert_before(*parent, {toks.back().name, std::move(*v)}, op.before);
          return {};
        }
        default:
          return {};
      }
    }
    case OpKind::set_version: {
      if (op.path.empty()) return {};  // the section's own version is the transform's `to`
      SubsectionState* sub = find_sub(s.body, op.path);
      if (sub) sub->version_id = op.version;
      return {};
    }
    case OpKind::add_subsection:
      if (!find_sub(s.body, op.path)) {
        const Struct* body = op.value.get_if<Struct>();
        s.body.subsections.push_back({op.path, op.version, body ? *body : Struct{}});
      }
      return {};
    case OpKind::drop_subsection:
      std::erase_if(s.body.subsections, [&](const SubsectionState& x) { return x.name == op.path; });
      return {};
    case OpKind::refuse_subsection:
      if (find_sub(s.body, op.path))
        return fail(op_error(Errc::unknown_subsection, s, "[" + op.path + "]",
                             fmt::format("subsection '{}' is needed: {}", op.path, op.reason)));
      return {};
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
        auto ft = split_path(f);
        if (ft.size() == 1 && ft[0].subsection) {
          auto it = std::find_if(s.body.subsections.begin(), s.body.subsections.end(),
                                 [&](const SubsectionState& x) { return x.name == ft[0].name; });
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

std::string_view op_kind_name(OpKind k) noexcept {
  switch (k) {
    case OpKind::add_field: return "add";
    case OpKind::drop_field: return "drop";
    case OpKind::rename_field: return "rename";
    case OpKind::move_field: return "move";
    case OpKind::change_width: return "width";
    case OpKind::set_version: return "set-version";
    case OpKind::add_subsection: return "add-subsection";
    case OpKind::drop_subsection: return "drop-subsection";
    case OpKind::refuse_subsection: return "refuse-subsection";
    case OpKind::refuse_value: return "refuse-value";
    case OpKind::split_section: return "split";
    case OpKind::merge_section: return "merge";
    case OpKind::compute_field: return "compute";
  }
  return "?";
}

std::string TransformOp::to_string() const {
  switch (kind) {
    case OpKind::add_field: return fmt::format("add {} = {}", path, to_text(value));
    case OpKind::rename_field: return fmt::format("rename {} -> {}", path, name);
    case OpKind::move_field: return fmt::format("move {} before {}", path, before.empty() ? "the end" : before);
    case OpKind::change_width: return fmt::format("width {} -> {}", path, kind_name(width));
    case OpKind::set_version: return fmt::format("set-version [{}] {}", path, version);
    case OpKind::add_subsection: return fmt::format("add-subsection [{}] v{}", path, version);
    case OpKind::split_section:
      return fmt::format("split {} into {} v{}", fmt::join(fields, ","), name, version);
    case OpKind::merge_section: return fmt::format("merge {}", name);
    case OpKind::refuse_subsection: return fmt::format("refuse-subsection [{}]", path);
    default: return fmt::format("{} {}", op_kind_name(kind), path);
  }
}

std::string Transform::label() const {
  std::string out = fmt::format("{} {}->{}", section, from, to);
  if (!note.empty()) out += " (" + note + ")";
  return out;
}

void TransformSet::add_all(const TransformSet& other) {
  for (const auto& t : other.all_) all_.push_back(t);
}

namespace {
// Walks a path; returns the description the last token lives in and that token.
const Description* walk(const Description& d, const std::vector<Token>& toks) {
  const Description* cur = &d;
  for (std::size_t i = 0; i + 1 < toks.size(); ++i) {
    if (toks[i].subsection) {
      const Subsection* sub = cur->find_subsection(toks[i].name);
      if (!sub) return nullptr;
      cur = &sub->description;
      continue;
    }
    const Field* f = cur->find_field(toks[i].name);
    if (!f || !f->nested) return nullptr;
    cur = f->nested.get();
  }
  return cur;
}
}  // namespace

const Field* description_field(const Description& d, std::string_view path) {
  auto toks = split_path(path);
  if (toks.empty() || toks.back().subsection) return nullptr;
  const Description* at = walk(d, toks);
  return at ? at->find_field(toks.back().name) : nullptr;
}

bool description_has(const Description& d, std::string_view path) {
  auto toks = split_path(path);
  if (toks.empty()) return true;
  const Description* at = walk(d, toks);
  if (!at) return false;
  return toks.back().subsection ? at->find_subsection(toks.back().name) != nullptr
                                : at->find_field(toks.back().name) != nullptr;
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
  // Work on a copy of the sections: all or nothing.
  std::vector<Section> saved = stream.sections;
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
      stream.sections = std::move(saved);
      Error e = std::move(r.error());
      e.message += fmt::format(" (transform {})", t.label());
      return fail(std::move(e));
    }
  }
  for (auto& sec : stream.sections)
    if (sec.name == name && sec.instance_id == instance) sec.version_id = t.to;
  return {};
}

namespace ops {
TransformOp add(std::string path, Value def, std::string before) {
  TransformOp o;
  o.kind = OpKind::add_field;
  o.path = std::move(path);
  o.value = std::move(def);
  o.before = std::move(before);
  return o;
}
TransformOp drop(std::string path) {
  TransformOp o;
  o.kind = OpKind::drop_field;
  o.path = std::move(path);
  return o;
}
TransformOp rename(std::string path, std::string to) {
  TransformOp o;
  o.kind = OpKind::rename_field;
  o.path = std::move(path);
  o.name = std::move(to);
  return o;
}
TransformOp move(std::string path, std::string before) {
  TransformOp o;
  o.kind = OpKind::move_field;
  o.path = std::move(path);
  o.before = std::move(before);
  return o;
}
TransformOp change_width(std::string path, ValueKind width) {
  TransformOp o;
  o.kind = OpKind::change_width;
  o.path = std::move(path);
  o.width = width;
  return o;
}
TransformOp set_version(std::string subsection, std::uint32_t version) {
  TransformOp o;
  o.kind = OpKind::set_version;
  o.path = std::move(subsection);
  o.version = version;
  return o;
}
TransformOp add_subsection(std::string name, std::uint32_t version, Struct body) {
  TransformOp o;
  o.kind = OpKind::add_subsection;
  o.path = std::move(name);
  o.version = version;
  o.value = Value(std::move(body));
  return o;
}
TransformOp drop_subsection(std::string name) {
  TransformOp o;
  o.kind = OpKind::drop_subsection;
  o.path = std::move(name);
  return o;
}
TransformOp refuse_subsection(std::string name, std::string reason) {
  TransformOp o;
  o.kind = OpKind::refuse_subsection;
  o.path = std::move(name);
  o.reason = std::move(reason);
  return o;
}
TransformOp refuse_value(std::string path, Value allowed, std::string reason) {
  TransformOp o;
  o.kind = OpKind::refuse_value;
  o.path = std::move(path);
  o.value = std::move(allowed);
  o.reason = std::move(reason);
  return o;
}
TransformOp split(std::string new_section, std::uint32_t version, std::vector<std::string> fields) {
  TransformOp o;
  o.kind = OpKind::split_section;
  o.name = std::move(new_section);
  o.version = version;
  o.fields = std::move(fields);
  return o;
}
TransformOp merge(std::string other_section, std::string before) {
  TransformOp o;
  o.kind = OpKind::merge_section;
  o.name = std::move(other_section);
  o.before = std::move(before);
  return o;
}
TransformOp compute(std::string path, std::function<Result<Value>(const Struct&)> f,
                    std::string before) {
  TransformOp o;
  o.kind = OpKind::compute_field;
  o.path = std::move(path);
  o.compute = std::move(f);
  o.before = std::move(before);
  return o;
}
}  // namespace ops

}  // namespace statewire
