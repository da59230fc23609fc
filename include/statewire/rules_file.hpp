// statewire/rules_file.hpp — transforms written as data, applied without compiling.
//
// A rules file is JSON:
//   {"statewire_rules": 1,
//    "transforms": [
//      {"section": "uart", "from": 1, "to": 1, "note": "why",
//       "when": {"has": ["int_enable"], "lacks": [], "has_untested": []},
//       "ops": [{"op": "rename", "path": "ier", "to": "int_enable"}, ...]}]}
// Operations (paths as in transform.hpp: "state.divider", "[nic/offload].tso"):
//   add {path, value, before?}          drop {path}       rename {path, to}
//   move {path, before}                 width {path, type: "u64"|...}
//   set-version {subsection, version}   add-subsection {name, version, fields?}
//   drop-subsection {name}              refuse-subsection {name, reason}
//   refuse-value {path, value?, reason} (no value: refuse the field if sent)
//   split {into, version, fields}
//   merge {from, before?}
// Beside "transforms" (or instead of it), "stream" rewrites records rather
// than bodies, applied before any transform:
//   {"op": "rename-section", "from": OLD_IDSTR, "to": NEW_IDSTR}  (the same
//       device at another PCI address: "0000:00:05.0/pci-serial")
//   {"op": "machine-type", "to": NAME}  (what the configuration record says)
// A value is one tree-JSON member without its name: {"t": "u16", "v": 12}
// (tree_json.hpp); `fields` lists members as tree JSON does. Compute steps
// need code and exist only in C++. Errors name the JSON path (syntax errors
// the line and column).
#pragma once

#include <string>
#include <string_view>

#include "statewire/result.hpp"
#include "statewire/transform.hpp"

namespace statewire {

[[nodiscard]] Result<TransformSet> parse_rules_json(std::string_view json,
                                                    std::string_view origin = "rules");
[[nodiscard]] Result<TransformSet> load_rules_file(const std::string& path);
// The declarative transforms of a set as a rules file (compute steps are
// written as a "compute" op that parse_rules_json refuses, so a reviewer sees them).
std::string rules_to_json(const TransformSet& set);

}  // namespace statewire
