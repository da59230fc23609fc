// statewire/planner.hpp — from what the source sent to what the destination reads.
//
// plan_migration() takes a source's state (a StateStream as decoded or saved)
// and the destination's schemas (a SchemaCatalog: a dump, a trailer, C++
// descriptions), finds for every section the chain of registered transforms
// from the version the source sent to a version the destination accepts
// (shortest first; then the same-version transforms whose condition holds on
// the destination's description), applies it to the actual state, and
// validates the result against the destination (validate.hpp) before
// anything is written. It judges the state, not only the schemas: a
// subsection the source did not send is no obstacle, a value that does not
// fit is. Every refusal names section, field or subsection and why. The
// source decides what is sent (`needed`, tests); an unknown subsection is
// refused, never skipped.
#pragma once

#include <string>
#include <vector>

#include "statewire/error.hpp"
#include "statewire/schema_catalog.hpp"
#include "statewire/transform.hpp"
#include "statewire/validate.hpp"
#include "statewire/value.hpp"

namespace statewire {

struct PlanOptions {
  const TransformSet* transforms = nullptr;
  ValidateOptions validate;
};

struct SectionPlan {
  std::string section;  // label as the source sent it ("nic/0")
  std::uint32_t from = 0, to = 0;
  std::vector<const Transform*> chain;  // points into PlanOptions::transforms
};

struct MigrationPlan {
  std::vector<SectionPlan> sections;  // every checked section, chain possibly empty
  std::vector<Error> refusals;        // what the destination would refuse, and why
  std::vector<std::string> unchecked; // sections no description explains (RAM, opaque)
  StateStream result;                 // the transformed state; write it only when ok()
  bool ok() const noexcept { return refusals.empty(); }
};

[[nodiscard]] MigrationPlan plan_migration(StateStream source, const SchemaCatalog& destination,
                                           const PlanOptions& opt = {});

std::string render_plan_text(const MigrationPlan& plan);
std::string render_plan_json(const MigrationPlan& plan);

}  // namespace statewire
