// Shared by the QEMU release tests: decode a corpus stream, and plan into a
// destination given as a -dump-vmstate file with the built-in repairs.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>

#include "statewire/planner.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/schema_json.hpp"
#include "test_util.hpp"

namespace statewire::testing {

inline StateStream decode_stream(const std::filesystem::path& p) {
  auto bytes = read_bytes(p);
  auto s = qemu::decode_qemu_stream(ByteSpan(bytes.data(), bytes.size()));
  EXPECT_TRUE(s) << p << ": " << s.error().to_string();
  return s ? std::move(*s) : StateStream{};
}

struct DumpDestination {
  SchemaCatalog catalog;
  TransformSet transforms = qemu_builtin_transforms();
  PlanOptions opt;
  explicit DumpDestination(const std::filesystem::path& dump) {
    auto set = load_schema_file(dump.string());
    EXPECT_TRUE(set) << set.error().to_string();
    if (set) catalog = SchemaCatalog::from_dump(*set);
    for (auto& d : qemu::builtin_qemu_descriptions()) catalog.add(std::move(d));
    opt.transforms = &transforms;
    opt.validate.dump_schema = true;
  }
  MigrationPlan plan(StateStream s) const { return plan_migration(std::move(s), catalog, opt); }
};

}  // namespace statewire::testing
