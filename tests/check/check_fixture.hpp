// Small builders for `check` tests: one-device dumps from inline JSON and a
// compact "rule path forward/backward" view of a report's findings.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "statewire/check.hpp"
#include "statewire/schema_json.hpp"

namespace statewire::check_test {

inline std::string fld(const std::string& name, int size, int version = 0, bool test = false,
                       const std::string& extra = "") {
  return fmt::format(R"({{"field": "{}", "version_id": {}, "field_exists": {}, "size": {}{}}})",
                     name, version, test ? "true" : "false", size, extra);
}

inline std::string desc(const std::string& name, int version, int min, const std::string& fields,
                        const std::string& subs = "") {
  std::string out = fmt::format(R"({{"name": "{}", "version_id": {}, "minimum_version_id": {})",
                                name, version, min);
  if (!fields.empty()) out += fmt::format(R"(, "Fields": [{}])", fields);
  if (!subs.empty()) out += fmt::format(R"(, "Subsections": [{}])", subs);
  return out + "}";
}

inline std::string st(const std::string& name, int size, const std::string& nested, int version = 0,
                      bool test = false) {
  return fld(name, size, version, test, R"(, "Description": )" + nested);
}

// A dump with one device "dev" whose top-level description is `d`.
inline std::string dev(const std::string& d, const std::string& key = "dev") {
  auto start = d.find(R"("version_id": )") + 14;
  int v = std::stoi(d.substr(start));
  auto ms = d.find(R"("minimum_version_id": )") + 22;
  int m = std::stoi(d.substr(ms));
  return fmt::format(R"("{}": {{"Name": "{}", "version_id": {}, "minimum_version_id": {}, "Description": {}}})",
                     key, key, v, m, d);
}

inline SchemaSet dump(const std::string& devices) {
  auto s = parse_schema_json("{" + devices + "}");
  EXPECT_TRUE(s) << s.error().to_string();
  return s ? *s : SchemaSet{};
}

// "rule path forward/backward" for every finding, in report order.
inline std::vector<std::string> summary(const CheckReport& r) {
  std::vector<std::string> out;
  for (const auto& f : r.findings)
    out.push_back(fmt::format("{} {} {}/{}", f.rule, f.path, verdict_name(f.forward),
                              verdict_name(f.backward)));
  return out;
}

inline std::vector<std::string> check(const std::string& old_devices, const std::string& new_devices,
                                      const CheckOptions& opt = {}) {
  return summary(check_compat(dump(old_devices), dump(new_devices), opt));
}

}  // namespace statewire::check_test
