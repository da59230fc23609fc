// The machine-readable report of `statewire check` (shape in docs/check.md).
#include <nlohmann/json.hpp>

#include "statewire/check.hpp"

namespace statewire {

namespace {

std::string_view target_name(GateTarget t) {
  switch (t) {
    case GateTarget::section: return "section";
    case GateTarget::subsection: return "subsection";
    case GateTarget::field: return "field";
  }
  return "?";
}

}  // namespace

std::string render_check_json(const CheckReport& r) {
  using Json = nlohmann::ordered_json;
  Json root;
  root["old_machine"] = r.old_machine ? Json(*r.old_machine) : Json(nullptr);
  root["new_machine"] = r.new_machine ? Json(*r.new_machine) : Json(nullptr);
  root["direction"] = direction_name(r.direction);
  root["summary"] = Json{{"devices_compared", r.devices_compared},
                         {"errors", r.count(Severity::error)},
                         {"warnings", r.count(Severity::warning)},
                         {"info", r.count(Severity::info)},
                         {"breaking", r.breaking()},
                         {"merged", r.merged},
                         {"filtered", r.filtered}};
  Json devices = Json::array();
  for (const auto& d : r.devices)
    devices.push_back(Json{{"device", d.device},
                           {"section", d.section},
                           {"forward", verdict_name(d.forward)},
                           {"backward", verdict_name(d.backward)}});
  root["devices"] = std::move(devices);
  Json findings = Json::array();
  for (const auto& f : r.findings) {
    Json j;
    j["device"] = f.device;
    j["section"] = f.section;
    j["path"] = f.path;
    j["rule"] = f.rule;
    j["severity"] = severity_name(f.severity);
    j["forward"] = verdict_name(f.forward);
    j["backward"] = verdict_name(f.backward);
    j["explanation"] = f.explanation;
    if (!f.repair.empty()) j["repair"] = f.repair;
    if (!f.transform.empty()) j["transform"] = f.transform;
    for (const auto& k : f.known_repairs) {
      Json known = {{"direction", direction_name(k.direction)}, {"transform", k.transform},
                    {"origin", k.origin}, {"op", k.op}};
      if (!k.refuses.empty()) known["refuses"] = k.refuses;
      j["statewire_repairs"].push_back(std::move(known));
    }
    if (!f.same_in.empty()) j["same_in"] = f.same_in;
    if (!f.conditions.empty()) {
      Json cs = Json::array();
      for (const auto& c : f.conditions)
        cs.push_back(Json{{"target", target_name(c.target)},
                          {"name", c.name},
                          {"breaks_when_sent", c.breaks_when_sent}});
      j["conditions"] = std::move(cs);
    }
    findings.push_back(std::move(j));
  }
  root["findings"] = std::move(findings);
  Json machines = Json::array();
  for (const auto& p : r.machines)
    machines.push_back(Json{{"machine", p.machine},
                            {"direction", direction_name(p.direction)},
                            {"verdict", verdict_name(p.verdict)},
                            {"reasons", p.reasons}});
  root["machines"] = std::move(machines);
  return root.dump(2) + "\n";
}

}  // namespace statewire
