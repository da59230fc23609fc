// statewire/describe_options.hpp — the options of a native description's fields
// (since, when, must_equal, struct_version, direct_key) and of its visitors
// (SaveOptions, LoadOptions). Included by describe.hpp, which uses them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "statewire/limits.hpp"

namespace statewire {

// Field options, in any order after the member pointer.
struct Since {
  std::uint32_t version;
};
// The field exists from this version of its description on (QEMU's `_V`).
constexpr Since since(std::uint32_t version) { return {version}; }

// The field is sent iff `pred(obj, version)` (or `pred(obj)`) holds; the test
// replaces the version rule (QEMU's `_TEST`). `name` is exported in the schema
// and keys the TestResolver, so keep it unique within a description tree.
template <class F>
struct When {
  std::string name;
  F pred;
};
template <class F>
When<std::decay_t<F>> when(std::string name, F&& pred) {
  return {std::move(name), std::forward<F>(pred)};
}

// An integer field whose incoming value must equal the destination's (QEMU's
// `_EQUAL`): load checks it and stores nothing; save writes it as usual.
struct MustEqual {};
constexpr MustEqual must_equal() { return {}; }

// A nested struct sent and read at this fixed version of its description
// instead of the description's own (QEMU's VMSTATE_VSTRUCT).
struct StructVersion {
  std::uint32_t version;
};
constexpr StructVersion struct_version(std::uint32_t version) { return {version}; }

// The key of a map() is an integer written as be64 (QEMU's GTREE_DIRECT_KEY).
struct DirectKey {};
constexpr DirectKey direct_key() { return {}; }

struct SaveOptions {
  // Target version of the top-level body (default: the description's own).
  // Fields newer than it are omitted, reproducing what an older build wrote.
  std::optional<std::uint32_t> version;
};

struct LoadOptions {
  DecodeLimits limits;
};

}  // namespace statewire
