// Fuzz target: rules files (rules_file.hpp). A file that parses is written
// back and must parse again to the same transforms; each of its transforms is
// then judged against a small description (its condition) and applied to a
// small stream with QEMU's shapes (dotted flattened names, a nested struct
// with a subsection, trailer-style "name[0]", an array, a neighbour section),
// which must change nothing when it fails.
#include <cstdlib>
#include <string_view>

#include "statewire/rules_file.hpp"
#include "statewire/schema_json.hpp"
#include "statewire/transform.hpp"

namespace {

using namespace statewire;

StateStream sample() {
  Struct pdma;
  pdma.members.push_back({"pdma_cb", Value(std::uint8_t{4})});
  Struct esp;
  esp.members.push_back({"rregs", Value(Blob{std::vector<std::uint8_t>(16, 0)})});
  esp.members.push_back({"data_in_ready", Value(false)});
  esp.members.push_back({"lun", Value(std::uint8_t{0})});
  esp.subsections.push_back({"esp/pdma", 0, pdma});
  Array timers;
  timers.items.assign(3, Value(std::uint32_t{7}));
  Section dev;
  dev.name = "0000:00:02.0/dev";
  dev.version_id = 2;
  dev.body.members.push_back({"esp.mig_version_id", Value(std::uint8_t{6})});
  dev.body.members.push_back({"esp", Value(std::move(esp))});
  dev.body.members.push_back({"unused[0]", Value(Blob{std::vector<std::uint8_t>(1, 0)})});
  dev.body.members.push_back({"core.timers", Value(std::move(timers))});
  dev.body.members.push_back({"unused[1]", Value(Blob{std::vector<std::uint8_t>(5, 0)})});
  Struct offload;
  offload.members.push_back({"tso", Value(true)});
  dev.body.subsections.push_back({"dev/offload", 1, offload});
  Section other;
  other.name = "other";
  other.version_id = 1;
  other.section_id = 1;
  other.body.members.push_back({"filter", Value(Blob{std::vector<std::uint8_t>(4, 1)})});
  StateStream s;
  s.sections.push_back(std::move(dev));
  s.sections.push_back(std::move(other));
  return s;
}

const char* kDump = R"({"dev": {"Name": "dev", "version_id": 2, "minimum_version_id": 1,
  "Description": {"name": "dev", "version_id": 2, "minimum_version_id": 1, "Fields": [
    {"field": "esp.mig_version_id", "version_id": 2, "field_exists": false, "size": 1},
    {"field": "esp", "version_id": 0, "field_exists": false, "size": 24,
     "Description": {"name": "esp", "version_id": 8, "minimum_version_id": 3, "Fields": [
       {"field": "data_ready", "version_id": 0, "field_exists": true, "size": 1},
       {"field": "drq_state", "version_id": 0, "field_exists": false, "size": 1}]}},
    {"field": "unused", "version_id": 0, "field_exists": false, "size": 1}],
  "Subsections": [{"name": "dev/offload", "version_id": 1, "minimum_version_id": 1,
    "Fields": [{"field": "tso", "version_id": 0, "field_exists": false, "size": 1}]}]}}})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto set = parse_rules_json(text, "fuzz");
  if (!set) return 0;
  // What was read is written back as it was understood.
  const std::string again = rules_to_json(*set);
  auto reread = parse_rules_json(again, "fuzz");
  if (!reread || rules_to_json(*reread) != again) std::abort();

  static const SchemaSet dump = [] {
    auto d = parse_schema_json(kDump);
    if (!d) std::abort();
    return std::move(*d);
  }();
  const Description& dest = dump.devices.at(0).description;
  const StateStream base = sample();
  for (const Transform& t : set->all()) {
    (void)t.when.holds(dest);
    for (const TransformOp& op : t.ops) {
      (void)description_has(dest, op.path);
      (void)description_field(dest, op.path);
      (void)op.to_string();
    }
    for (std::size_t i = 0; i < base.sections.size(); ++i) {
      StateStream s = base;
      if (!apply_transform(t, s, i) && !(s == base)) std::abort();  // all or nothing
    }
  }
  return 0;
}
