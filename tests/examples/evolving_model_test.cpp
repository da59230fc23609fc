// The compatibility matrix of the evolving example model: every (source
// release, machine type) saved, planned into every destination release,
// loaded there, saved again and planned back. Each cell either migrates with
// the state preserved both ways (trees equal field by field) or is refused
// with the error the rules below predict; anything else fails the test.
#include "evolving_model/model.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "statewire/planner.hpp"

namespace evolving_model {
namespace {

using namespace statewire;

struct Cell {
  std::string outcome;  // "ok", or "refused: <reasons>"
  std::vector<Error> errors;
  bool failed = false;  // a bug: loaded differently than planned, or lost state
  std::string failure;
};

MigrationPlan plan_to(const StateStream& s, const Build& dst, const TestResolver& tests) {
  PlanOptions opt;
  opt.transforms = &transforms();
  opt.validate.tests = &tests;
  return plan_migration(s, dst.catalog, opt);
}

std::string reasons(const std::vector<Error>& errors) {
  std::vector<std::string> r;
  for (const auto& e : errors) r.push_back(e.to_string());
  return fmt::format("{}", fmt::join(r, "; "));
}

Cell run_cell(std::uint32_t s, const std::string& machine, std::uint32_t d, Workload w) {
  Cell c;
  const Build& src = build(s);
  const Build& dst = build(d);
  auto state = src.save(machine, w);
  if (!state) {
    c.failed = true;
    c.failure = "save: " + state.error().to_string();
    return c;
  }
  if (auto idx = detail::machine_index(dst.machines, machine, d); !idx) {
    c.errors.push_back(idx.error());
    c.outcome = "refused: " + idx.error().message;
    return c;
  }
  TestResolver dst_tests = dst.tests(machine), src_tests = src.tests(machine);
  MigrationPlan fwd = plan_to(*state, dst, dst_tests);
  if (!fwd.ok()) {
    c.errors = fwd.refusals;
    c.outcome = "refused: " + reasons(fwd.refusals);
    return c;
  }
  auto loaded = dst.reload(fwd.result, machine);
  if (!loaded) {
    c.failed = true;
    c.failure = "planned state did not load: " + loaded.error().to_string();
    return c;
  }
  if (StateStream want = at_versions_of(fwd.result, *loaded, dst, dst_tests); !(*loaded == want)) {
    c.failed = true;
    c.failure = "destination holds a different state than planned:\n" + to_text(*loaded) +
                "\nplanned:\n" + to_text(want);
    return c;
  }
  MigrationPlan back = plan_to(*loaded, src, src_tests);
  if (!back.ok()) {
    c.errors = back.refusals;
    c.outcome = "one way: back refused: " + reasons(back.refusals);
    return c;
  }
  auto again = src.reload(back.result, machine);
  if (!again || !(*again == *state)) {
    c.failed = true;
    c.failure = again ? "round trip changed the state:\n" + to_text(*again) + "\nwas:\n" + to_text(*state)
                      : "round trip did not load: " + again.error().to_string();
    return c;
  }
  c.outcome = "ok";
  return c;
}

// The rules the model's history implies for a busy guest (prescaler 4, TSO on).
std::vector<std::string> expected_refusals(std::uint32_t s, const std::string& m, std::uint32_t d) {
  const std::uint32_t machine_version = m == "demo" ? 0 : static_cast<std::uint32_t>(m[5] - '0');
  if (machine_version > d) return {"machine"};
  std::vector<std::string> r;
  const bool offload_sent = s >= 3 && (m == "demo" || machine_version >= 3);
  if (s >= 2 && d == 1) r.push_back("timer/0 prescale");
  if (offload_sent && d <= 2) r.push_back("nic/0 [nic/offload]");
  // Unversioned: the newer release sends scratch only on old machine types.
  if (m == "demo" && s <= 2 && d >= 3) r.push_back("uart/0 scratch");
  return r;
}

std::string short_reason(const Error& e) {
  if (e.code == Errc::not_found && e.section.empty()) return "machine";
  return e.section + " " + e.field_path;
}

TEST(EvolvingModel, MatrixMigratesOrRefusesAsTheHistorySays) {
  std::string table = "| source \\ destination |";
  for (std::uint32_t d = 1; d <= kVersions; ++d) table += fmt::format(" v{} |", d);
  table += "\n|---|";
  for (std::uint32_t d = 1; d <= kVersions; ++d) table += "---|";
  table += "\n";
  int cells = 0, ok = 0;
  for (std::uint32_t s = 1; s <= kVersions; ++s) {
    for (const auto& mt : build(s).machines.machines) {
      table += fmt::format("| v{} {} |", s, mt.name);
      for (std::uint32_t d = 1; d <= kVersions; ++d) {
        Cell c = run_cell(s, mt.name, d, Workload::busy);
        ++cells;
        SCOPED_TRACE(fmt::format("v{} {} -> v{}", s, mt.name, d));
        ASSERT_FALSE(c.failed) << c.failure;
        std::vector<std::string> got;
        for (const auto& e : c.errors) got.push_back(short_reason(e));
        auto want = expected_refusals(s, mt.name, d);
        EXPECT_EQ(got, want) << c.outcome;
        if (c.outcome == "ok") {
          ++ok;
          table += " ok |";
        } else {
          table += fmt::format(" {} |", fmt::join(got, ", "));
        }
      }
      table += "\n";
    }
  }
  std::cout << table;
  EXPECT_EQ(cells, 4 * (2 + 3 + 4 + 5));
  EXPECT_GT(ok, cells / 2);
}

TEST(EvolvingModel, IdleGuestsMigrateToEveryReleaseThatHasTheirMachineType) {
  for (std::uint32_t s = 1; s <= kVersions; ++s)
    for (const auto& mt : build(s).machines.machines) {
      if (!mt.versioned) continue;
      for (std::uint32_t d = 1; d <= kVersions; ++d) {
        if (!detail::machine_index(build(d).machines, mt.name, d)) continue;
        Cell c = run_cell(s, mt.name, d, Workload::idle);
        EXPECT_FALSE(c.failed) << c.failure;
        EXPECT_EQ(c.outcome, "ok") << fmt::format("v{} {} -> v{}", s, mt.name, d);
      }
    }
}

TEST(EvolvingModel, RefusalsNameTheFieldAndSayWhy) {
  Cell c = run_cell(3, "demo", 2, Workload::busy);
  ASSERT_EQ(c.errors.size(), 1u) << c.outcome;
  EXPECT_EQ(c.errors[0].code, Errc::unknown_subsection);
  EXPECT_EQ(c.errors[0].section, "nic/0");
  EXPECT_EQ(c.errors[0].field_path, "[nic/offload]");
  EXPECT_NE(c.errors[0].message.find("subsection 'nic/offload' is needed: the NIC uses TCP segmentation"),
            std::string::npos)
      << c.errors[0].message;
  c = run_cell(2, "demo", 1, Workload::busy);
  ASSERT_EQ(c.errors.size(), 1u) << c.outcome;
  EXPECT_EQ(c.errors[0].code, Errc::invalid_value);
  EXPECT_EQ(c.errors[0].field_path, "prescale");
  c = run_cell(3, "demo-3.0", 2, Workload::busy);
  ASSERT_EQ(c.errors.size(), 1u) << c.outcome;
  EXPECT_EQ(c.errors[0].message, "machine type demo-3.0 is unknown to version 2");
}

TEST(EvolvingModel, NarrowingAValueThatDoesNotFitIsRefusedNotTruncated) {
  auto state = build(4).save("demo-4.0", Workload::idle);
  ASSERT_TRUE(state);
  for (auto& sec : state->sections)
    if (sec.name == "timer") *sec.body.find("count") = Value(std::uint64_t{1} << 40);
  TestResolver t = build(3).tests("demo-4.0");
  auto plan = plan_to(*state, build(3), t);
  ASSERT_FALSE(plan.ok());
  ASSERT_EQ(plan.refusals.size(), 1u);
  EXPECT_EQ(plan.refusals[0].section, "timer/0");
  EXPECT_EQ(plan.refusals[0].field_path, "count");
  EXPECT_NE(plan.refusals[0].message.find("does not fit u32"), std::string::npos);
}

TEST(EvolvingModel, SplitAndMergeMoveTheFilterTableBetweenSections) {
  auto v3 = build(3).save("demo-3.0", Workload::busy);
  ASSERT_TRUE(v3);
  TestResolver t = build(4).tests("demo-3.0");
  auto plan = plan_to(*v3, build(4), t);
  ASSERT_TRUE(plan.ok()) << render_plan_text(plan);
  ASSERT_EQ(plan.result.sections.size(), 4u);
  EXPECT_EQ(plan.result.sections[3].name, "nic-filter");
  EXPECT_EQ(plan.result.sections[2].version_id, 2u);
  EXPECT_EQ(plan.result.sections[2].body.find("filter"), nullptr);
  EXPECT_NE(plan.result.sections[3].body.find("filter"), nullptr);
  EXPECT_EQ(plan.result.sections[2].body.subsections.size(), 1u) << "offload stays with the NIC";
  std::string text = render_plan_text(plan);
  EXPECT_NE(text.find("nic 1->2 (filter table split off)"), std::string::npos) << text;
  EXPECT_NE(text.find("timer 2->3"), std::string::npos) << text;
}

TEST(EvolvingModel, MergeFindsASectionSentBeforeTheOneItJoins) {
  auto v4 = build(4).save("demo-3.0", Workload::busy);
  ASSERT_TRUE(v4);
  // nic-filter first: the merge into nic removes a section before it.
  std::rotate(v4->sections.begin(), v4->sections.begin() + 3, v4->sections.end());
  ASSERT_EQ(v4->sections[0].name, "nic-filter");
  TestResolver t = build(3).tests("demo-3.0");
  auto plan = plan_to(*v4, build(3), t);
  ASSERT_TRUE(plan.ok()) << render_plan_text(plan);
  ASSERT_EQ(plan.result.sections.size(), 3u);
  auto loaded = build(3).reload(plan.result, "demo-3.0");
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  auto direct = build(3).save("demo-3.0", Workload::busy);
  ASSERT_TRUE(direct);
  EXPECT_EQ(*loaded, *direct) << "release 4's state, taken back, is release 3's own";
}

}  // namespace
}  // namespace evolving_model
