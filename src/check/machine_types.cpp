// Machine types with inherited compat properties, and property gates, read
// from the small JSON file `statewire check --machines` takes (docs/check.md).
// Inheritance follows QEMU (spec/compatibility-rules.md §4): a machine type
// applies the compat entries of every newer type first and its own last, so
// the oldest entry wins.
#include "statewire/machine_types.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/json_document.hpp"
#include <sstream>

namespace statewire {

namespace {

using Json = nlohmann::json;

Unexpected bad(const std::string& path, const std::string& what) {
  Error e = make_error(Errc::schema_invalid, what);
  e.field_path = path;
  return Unexpected(std::move(e));
}

Result<std::string> str(const Json& obj, const char* key, const std::string& path,
                        bool required = true) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return bad(path, fmt::format("missing key \"{}\"", key));
    return std::string();
  }
  // Property values may be written as JSON booleans or numbers; compare as text.
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return std::string(it->get<bool>() ? "on" : "off");
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  return bad(path + "." + key, "expected a string");
}

// QEMU accepts on/off, true/false, yes/no for booleans; compare them alike.
std::string canonical(std::string_view v) {
  if (v == "true" || v == "yes" || v == "on") return "on";
  if (v == "false" || v == "no" || v == "off") return "off";
  return std::string(v);
}

}  // namespace

std::optional<std::string> MachineSet::property_value(std::size_t machine,
                                                      std::string_view driver,
                                                      std::string_view property) const {
  std::optional<std::string> value;
  for (std::size_t m = 0; m <= machine && m < machines.size(); ++m)
    for (const auto& c : machines[m].compat)
      if (c.driver == driver && c.property == property) value = c.value;
  return value;
}

bool MachineSet::gate_active(std::size_t machine, const PropertyGate& gate) const {
  const std::string& driver = gate.driver.empty() ? gate.device : gate.driver;
  std::string value = property_value(machine, driver, gate.property).value_or(gate.default_value);
  return canonical(value) == canonical(gate.active_when);
}

const PropertyGate* MachineSet::find_gate(std::string_view device, GateTarget target,
                                          std::string_view name) const {
  for (const auto& g : gates)
    if (g.device == device && g.target == target && g.name == name) return &g;
  return nullptr;
}

Result<MachineSet> parse_machine_set_json(std::string_view text) {
  SW_TRY(root, detail::parse_json_document<Json>(text, Limits{}, "machine types"));
  if (!root.is_object()) return bad("$", "expected an object with \"machines\" and \"gates\"");
  for (auto it = root.begin(); it != root.end(); ++it)
    if (it.key() != "machines" && it.key() != "gates")
      return bad("$", fmt::format("unknown key \"{}\" (expected \"machines\" and \"gates\")", it.key()));
  MachineSet set;
  if (auto it = root.find("machines"); it != root.end()) {
    if (!it->is_array()) return bad("$.machines", "expected an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const Json& mj = (*it)[i];
      std::string path = fmt::format("$.machines[{}]", i);
      if (!mj.is_object()) return bad(path, "expected a machine object");
      MachineType m;
      SW_TRY(name, str(mj, "name", path));
      m.name = std::move(name);
      if (auto on = mj.find("only_new"); on != mj.end()) {
        if (!on->is_boolean()) return bad(path + ".only_new", "expected true or false");
        m.only_new = on->get<bool>();
      }
      if (auto vj = mj.find("versioned"); vj != mj.end()) {
        if (!vj->is_boolean()) return bad(path + ".versioned", "expected true or false");
        m.versioned = vj->get<bool>();
      }
      if (auto cj = mj.find("compat"); cj != mj.end()) {
        if (!cj->is_array()) return bad(path + ".compat", "expected an array");
        for (std::size_t k = 0; k < cj->size(); ++k) {
          const Json& pj = (*cj)[k];
          std::string pp = fmt::format("{}.compat[{}]", path, k);
          if (!pj.is_object()) return bad(pp, "expected {\"driver\", \"property\", \"value\"}");
          SW_TRY(driver, str(pj, "driver", pp));
          SW_TRY(property, str(pj, "property", pp));
          SW_TRY(value, str(pj, "value", pp));
          m.compat.push_back({std::move(driver), std::move(property), std::move(value)});
        }
      }
      set.machines.push_back(std::move(m));
    }
  }
  if (auto it = root.find("gates"); it != root.end()) {
    if (!it->is_array()) return bad("$.gates", "expected an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const Json& gj = (*it)[i];
      std::string path = fmt::format("$.gates[{}]", i);
      if (!gj.is_object()) return bad(path, "expected a gate object");
      PropertyGate g;
      SW_TRY(device, str(gj, "device", path));
      g.device = std::move(device);
      int targets = 0;
      if (gj.contains("subsection")) {
        SW_TRY(n, str(gj, "subsection", path));
        g.target = GateTarget::subsection, g.name = std::move(n), ++targets;
      }
      if (gj.contains("field")) {
        SW_TRY(n, str(gj, "field", path));
        g.target = GateTarget::field, g.name = std::move(n), ++targets;
      }
      if (gj.contains("section")) {
        if (!gj["section"].is_boolean() || !gj["section"].get<bool>())
          return bad(path + ".section", "expected true");
        g.target = GateTarget::section, ++targets;
      }
      if (targets != 1)
        return bad(path, "name exactly one of \"subsection\", \"field\" or \"section\": true");
      SW_TRY(driver, str(gj, "driver", path, /*required=*/false));
      g.driver = std::move(driver);
      SW_TRY(property, str(gj, "property", path));
      g.property = std::move(property);
      SW_TRY(def, str(gj, "default", path));
      g.default_value = std::move(def);
      SW_TRY(when, str(gj, "active_when", path));
      g.active_when = std::move(when);
      set.gates.push_back(std::move(g));
    }
  }
  return set;
}

Result<MachineSet> load_machine_set_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::io_error, fmt::format("cannot open machine types file {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  auto r = parse_machine_set_json(ss.str());
  if (!r) r.error().section = path;
  return r;
}

}  // namespace statewire
