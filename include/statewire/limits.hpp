// statewire/limits.hpp — the bounds every decoder applies to untrusted input.
//
// One `Limits` value travels with every decode (QEMU stream, framed, JSON
// trees, schema dumps, description trailers, VMState bodies) and one `Budget`
// per decode charges what the decoded result will occupy in memory. The rule
// behind every bound: memory and time follow the bytes actually read, never a
// length or count the input claims. The contract, with the defaults and what
// the CLI uses, is docs/limits.md. Nothing here allocates or reads input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "statewire/result.hpp"

namespace statewire {

struct Limits {
  // Nesting of structs and arrays in a tree or description. QEMU's own
  // descriptions nest 5 deep; recursion stays far from the stack's end.
  std::size_t max_depth = 32;
  // Nesting of brackets in a JSON document, checked before it is parsed (the
  // parser and the tree walkers recurse). A tree of max_depth levels needs at
  // most 3 per level plus 4, so every tree we write reads back.
  std::size_t max_json_depth = 128;
  // Elements of one array or list; far above any device's (a 16 GiB guest
  // sends 4M pages, in records of their own).
  std::uint64_t max_elements = 1u << 24;
  // One buffer or string, and one decompressed framed record: 1 GiB.
  std::uint64_t max_blob = 1ull << 30;
  // Per-decode memory: the tree a decode builds may occupy at most
  // memory_floor + memory_per_input_byte * (bytes read so far), and never
  // more than memory_cap (0: no cap besides the proportional rule). A real
  // tree takes 2-35x its wire bytes (35x: a stream of nothing but zero pages).
  std::uint64_t memory_floor = 64ull << 20;
  std::uint64_t memory_per_input_byte = 64;
  std::uint64_t memory_cap = 0;
};

// Kept for callers written before the limits moved out of the body codec.
using DecodeLimits = Limits;

// What a tree node costs the budget besides its payload bytes: the value
// itself plus, for a member, its name's string (charged per copy, so a long
// name shared by many members costs each time; see docs/limits.md).
std::uint64_t value_cost() noexcept;
std::uint64_t member_cost(std::size_t name_size) noexcept;

// The memory budget of one decode. A whole-buffer decoder grants the input's
// size at the start; a reader that sees its input piece by piece grants
// each piece as it reads it. Every allocation a decoder makes for its result
// is charged before it is made, so a claim the input cannot back fails at
// once with `limit_exceeded` instead of allocating.
class Budget {
 public:
  explicit Budget(const Limits& limits, std::uint64_t input_bytes = 0) noexcept
      : limits_(limits), input_(input_bytes) {}

  void grant_input(std::uint64_t bytes) noexcept { input_ += bytes; }

  // Charges `bytes`; `offset` and `what` name the place in the error.
  [[nodiscard]] Result<void> charge(std::uint64_t bytes, std::uint64_t offset,
                                    std::string_view what);
  // Returns bytes a decoder charged for something it has freed again.
  void refund(std::uint64_t bytes) noexcept { used_ = bytes > used_ ? 0 : used_ - bytes; }

  std::uint64_t used() const noexcept { return used_; }
  std::uint64_t allowance() const noexcept;
  const Limits& limits() const noexcept { return limits_; }

 private:
  Limits limits_;
  std::uint64_t input_ = 0;
  std::uint64_t used_ = 0;
};

}  // namespace statewire
