// The parts of transform.hpp that only describe operations: names, text for
// `plan` and rules files, and the ops:: builders for C++ registrations.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "statewire/transform.hpp"

namespace statewire {

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
  for (const auto& r : other.stream_.renames) stream_.renames.push_back(r);
  if (other.stream_.machine_type) stream_.machine_type = other.stream_.machine_type;
}

namespace ops {
namespace {
// Every builder starts from the kind and the path it acts on.
TransformOp op_at(OpKind kind, std::string path) {
  TransformOp o;
  o.kind = kind;
  o.path = std::move(path);
  return o;
}
}  // namespace

TransformOp add(std::string path, Value def, std::string before) {
  TransformOp o = op_at(OpKind::add_field, std::move(path));
  o.value = std::move(def);
  o.before = std::move(before);
  return o;
}
TransformOp drop(std::string path) { return op_at(OpKind::drop_field, std::move(path)); }
TransformOp rename(std::string path, std::string to) {
  TransformOp o = op_at(OpKind::rename_field, std::move(path));
  o.name = std::move(to);
  return o;
}
TransformOp move(std::string path, std::string before) {
  TransformOp o = op_at(OpKind::move_field, std::move(path));
  o.before = std::move(before);
  return o;
}
TransformOp change_width(std::string path, ValueKind width) {
  TransformOp o = op_at(OpKind::change_width, std::move(path));
  o.width = width;
  return o;
}
TransformOp set_version(std::string subsection, std::uint32_t version) {
  TransformOp o = op_at(OpKind::set_version, std::move(subsection));
  o.version = version;
  return o;
}
TransformOp add_subsection(std::string name, std::uint32_t version, Struct body) {
  TransformOp o = op_at(OpKind::add_subsection, std::move(name));
  o.version = version;
  o.value = Value(std::move(body));
  return o;
}
TransformOp drop_subsection(std::string name) {
  return op_at(OpKind::drop_subsection, std::move(name));
}
TransformOp refuse_subsection(std::string name, std::string reason) {
  TransformOp o = op_at(OpKind::refuse_subsection, std::move(name));
  o.reason = std::move(reason);
  return o;
}
TransformOp refuse_value(std::string path, Value allowed, std::string reason) {
  TransformOp o = op_at(OpKind::refuse_value, std::move(path));
  o.value = std::move(allowed);
  o.reason = std::move(reason);
  return o;
}
TransformOp refuse_field(std::string path, std::string reason) {
  return refuse_value(std::move(path), Value(), std::move(reason));
}
TransformOp split(std::string new_section, std::uint32_t version, std::vector<std::string> fields) {
  TransformOp o = op_at(OpKind::split_section, {});
  o.name = std::move(new_section);
  o.version = version;
  o.fields = std::move(fields);
  return o;
}
TransformOp merge(std::string other_section, std::string before) {
  TransformOp o = op_at(OpKind::merge_section, {});
  o.name = std::move(other_section);
  o.before = std::move(before);
  return o;
}
TransformOp compute(std::string path, std::function<Result<Value>(const Struct&)> f,
                    std::string before) {
  TransformOp o = op_at(OpKind::compute_field, std::move(path));
  o.compute = std::move(f);
  o.before = std::move(before);
  return o;
}
}  // namespace ops

}  // namespace statewire
