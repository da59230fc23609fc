// statewire/transform.hpp — compatibility as data: functions on state trees.
//
// A Transform turns one section's body from one version into another (or, for
// from == to, adapts it to a destination whose layout differs at the same
// version, as between two QEMU releases). It is a list of operations on the
// tree: add a field with a default, drop, rename, move (reorder), change an
// integer's width with a range check (a value that does not fit is an error,
// never truncated), set a subsection's version, add, drop or refuse a
// subsection, split the section into two or merge another into it, and
// compute a field from the others (a C++ function). Rules files
// (rules_file.hpp) hold the declarative operations; C++ code may add compute
// steps. Transforms are registered per direction; the planner (planner.hpp)
// chains them. Nothing here knows a wire format: codecs carry no version logic.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "statewire/result.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"

namespace statewire {

enum class OpKind : std::uint8_t {
  add_field,          // path, value (default), before ("" = last); no-op when present
  drop_field,         // path; no-op when absent (the source did not send it)
  rename_field,       // path -> name
  move_field,         // path, before ("" = last)
  change_width,       // path -> width (an integer kind), range-checked
  set_version,        // subsection `path` ("" = the section itself) -> version
  add_subsection,     // path = subsection name, version, value (its body Struct)
  drop_subsection,    // path = subsection name
  refuse_subsection,  // path = subsection name: present is an error saying `reason`
  refuse_value,       // path must hold `value` as the wire has it (or be absent), else an
                      // error saying `reason`; `value` null: the field must be absent
  split_section,      // fields (and "[sub]" names) move to new section `name` at `version`
  merge_section,      // section `name` (same instance) merges in before `before`, then goes
  compute_field,      // path = compute(body), inserted before `before` when absent
};

std::string_view op_kind_name(OpKind k) noexcept;

struct TransformOp {
  OpKind kind = OpKind::add_field;
  // A field path in the section body: "divider", "state.divider",
  // "[nic/offload].tso". QEMU's flattened names carry dots ("core.timadj"):
  // each component is the longest run that names a member there. For
  // subsection operations the subsection name, or a path to one inside a
  // struct ("esp.[esp/pdma]").
  std::string path;
  std::string name;    // rename: the new name; split/merge: the other section's vmsd name
  std::string before;  // add/move/merge/compute: the member to insert before
  Value value;         // add_field / refuse_value: the value; add_subsection: its body
  ValueKind width = ValueKind::null;  // change_width
  std::uint32_t version = 0;          // set_version, add_subsection, split_section
  std::vector<std::string> fields;    // split_section
  std::string reason;                 // refuse_*: why the destination cannot take it
  std::function<Result<Value>(const Struct& body)> compute;  // compute_field

  std::string to_string() const;  // "rename ier -> int_enable"
};

// When a transform applies, judged on the destination's description of the
// section (so one registry can serve several destinations at the same
// version): every path in `has` exists there and none in `lacks` does.
// Paths as in TransformOp ("core.timadj", "[nic/offload]"); `has_untested`
// fields must exist and be read always (no test gate), e.g. a field an older
// release reads unconditionally and a newer one sends only on old machine types.
struct TransformCondition {
  std::vector<std::string> has, lacks, has_untested;
  bool holds(const Description& destination) const;
  bool empty() const noexcept { return has.empty() && lacks.empty() && has_untested.empty(); }
};

struct Transform {
  std::string section;  // vmsd name (a stream idstr's part after its last '/')
  std::uint32_t from = 0, to = 0;
  TransformCondition when;
  std::vector<TransformOp> ops;
  std::string note;    // why, one line, shown by `plan`
  std::string origin;  // "built-in", a rules file, "check"

  std::string label() const;  // "uart 2->3 (note)"
};

// Rewrites of a stream's records rather than of a section's body (a rules
// file's "stream" list; `convert --rules` and `proxy` apply them): section
// ids renamed (the same device at another PCI address) and the machine type
// the configuration record announces.
struct StreamRewrites {
  std::vector<std::pair<std::string, std::string>> renames;  // old idstr, new idstr
  std::optional<std::string> machine_type;
  bool empty() const noexcept { return renames.empty() && !machine_type; }
};

// The transforms one program (or one rules file) knows, in registration order.
class TransformSet {
 public:
  void add(Transform t) { all_.push_back(std::move(t)); }
  // Appends the other set's transforms and stream rewrites (its machine type,
  // when it names one, replaces this set's).
  void add_all(const TransformSet& other);
  const std::vector<Transform>& all() const noexcept { return all_; }
  // Only about section bodies: stream rewrites are not transforms.
  bool empty() const noexcept { return all_.empty(); }
  StreamRewrites& stream() noexcept { return stream_; }
  const StreamRewrites& stream() const noexcept { return stream_; }

 private:
  std::vector<Transform> all_;
  StreamRewrites stream_;
};

// Applies `t` to stream.sections[index] and sets its version to `t.to`; split
// and merge also add or remove a neighbour section. All or nothing: on error
// the stream is unchanged. Errors name the section and field path.
[[nodiscard]] Result<void> apply_transform(const Transform& t, StateStream& stream,
                                           std::size_t index);

// The field at a path of a description, nullptr when absent.
const Field* description_field(const Description& d, std::string_view path);
// Whether a description has a field path or "[subsection]".
bool description_has(const Description& d, std::string_view path);

// Builders for registering transforms in C++.
namespace ops {
TransformOp add(std::string path, Value def, std::string before = {});
TransformOp drop(std::string path);
TransformOp rename(std::string path, std::string to);
TransformOp move(std::string path, std::string before);
TransformOp change_width(std::string path, ValueKind width);
TransformOp set_version(std::string subsection, std::uint32_t version);
TransformOp add_subsection(std::string name, std::uint32_t version, Struct body);
TransformOp drop_subsection(std::string name);
TransformOp refuse_subsection(std::string name, std::string reason);
TransformOp refuse_value(std::string path, Value allowed, std::string reason);
// The field must not be sent at all (refuse_value with no value).
TransformOp refuse_field(std::string path, std::string reason);
TransformOp split(std::string new_section, std::uint32_t version, std::vector<std::string> fields);
TransformOp merge(std::string other_section, std::string before = {});
TransformOp compute(std::string path, std::function<Result<Value>(const Struct&)> f,
                    std::string before = {});
}  // namespace ops

}  // namespace statewire
