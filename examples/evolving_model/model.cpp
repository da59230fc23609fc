#include "evolving_model/model.hpp"

#include <fmt/format.h>

#include "statewire/planner.hpp"

namespace evolving_model {

const Build& build(std::uint32_t version) {
  static const Build builds[kVersions] = {v1::make_build(), v2::make_build(), v3::make_build(),
                                          v4::make_build()};
  return builds[version - 1];
}

statewire::StateStream at_versions_of(const statewire::StateStream& planned,
                                      const statewire::StateStream& saved, const Build& b,
                                      const statewire::TestResolver& tests) {
  using namespace statewire;
  SchemaCatalog pinned;
  for (const auto& sec : saved.sections)
    if (const Description* d = b.catalog.find(sec)) {
      auto copy = std::make_shared<Description>(*d);
      copy->minimum_version_id = sec.version_id;
      copy->version_id = sec.version_id;
      pinned.add(std::move(copy));
    }
  PlanOptions opt;
  opt.transforms = &transforms();
  opt.validate.tests = &tests;
  MigrationPlan p = plan_migration(planned, pinned, opt);
  return p.ok() ? std::move(p.result) : planned;
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

}  // namespace detail
}  // namespace evolving_model
