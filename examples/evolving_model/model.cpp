#include "evolving_model/model.hpp"

#include <fmt/format.h>

namespace evolving_model {

const Build& build(std::uint32_t version) {
  static const Build builds[kVersions] = {v1::make_build(), v2::make_build(), v3::make_build(),
                                          v4::make_build()};
  return builds[version - 1];
}

namespace detail {

statewire::Result<std::size_t> machine_index(const statewire::MachineSet& m, std::string_view name,
                                             std::uint32_t build) {
  for (std::size_t i = 0; i < m.machines.size(); ++i)
    if (m.machines[i].name == name) return i;
  return statewire::fail(statewire::Errc::not_found,
                         fmt::format("machine type {} is unknown to version {}", name, build));
}

bool property_on(const statewire::MachineSet& m, std::size_t machine, std::string_view driver,
                 std::string_view property, bool def) {
  auto v = m.property_value(machine, driver, property);
  if (!v) return def;
  return *v == "on" || *v == "true" || *v == "yes";
}

statewire::Result<void> all_used(const statewire::StateStream& s, std::size_t used,
                                 const statewire::SchemaCatalog& catalog) {
  if (used == s.sections.size()) return {};
  for (const auto& sec : s.sections)
    if (!catalog.find(sec)) {
      statewire::Error e = statewire::make_error(statewire::Errc::unknown_section,
                                                 "section '" + sec.name + "' is unknown to this build");
      e.section = sec.label();
      return statewire::Unexpected(std::move(e));
    }
  return statewire::fail(statewire::Errc::mismatch, "a section was sent twice");
}

}  // namespace detail
}  // namespace evolving_model
