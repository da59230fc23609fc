// A fixed-layout body (scalars, fixed arrays, nested structs of the same)
// compiled to one byte permutation.
//
// Saving a plain body moves every byte of the described members to a fixed
// wire position (reversed within each element: VMState is big-endian), and
// loading moves them back; which member, width or order does not matter any
// more once the mapping is known. A BytePlan stores that mapping as 64-byte
// steps for AVX-512 VBMI's two-register byte permute: one step reads up to
// 128 source bytes and writes up to 64 destination bytes, whatever the field
// layout, so a register file of many small mixed-width fields costs about as
// many steps as a memcpy of the same size. Runs of identical steps (large
// arrays) collapse into one repeated step.
//
// The plans exist only where the CPU has AVX-512 VBMI (checked once at run
// time); elsewhere plain_plans() returns nullptr and the visitors' fused-run
// path does the work.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "statewire/detail/describe_program.hpp"

namespace statewire::detail {

class BytePlan {
 public:
  // map[i]: the source offset of destination byte i, or -1 to leave it alone.
  // `may_overrun`: every byte is mapped and run() may write up to
  // kOverrun garbage bytes past the end (a buffer with slack), which lets
  // steps be shorter than 64 bytes and stay on one source window.
  // `src_size`: how many source bytes exist (0: unknown); windows are kept
  // inside them where they fit.
  static BytePlan build(std::span<const std::int32_t> map, bool may_overrun = false,
                        std::size_t src_size = 0);
  static constexpr std::size_t kOverrun = 64;

  // Writes the mapped destination bytes; only mapped source bytes are read.
  // run() needs byte_plans_supported(); run_reference() works anywhere.
  void run(const unsigned char* src, unsigned char* dst) const;
  void run_reference(const unsigned char* src, unsigned char* dst) const;

  std::size_t steps() const noexcept { return steps_.size(); }

  struct Step {
    std::uint8_t index[64];       // per destination lane: source byte 0..127
    std::uint64_t store_mask = 0;  // lanes written
    std::uint64_t lo_mask = 0;     // source bytes read in [src, src + 64)
    std::uint64_t hi_mask = 0;     // and in [src + 64, src + 128)
    std::uint32_t dst = 0;
    std::uint32_t src = 0;
    std::uint32_t repeat = 1;      // also at dst + 64k, src + 64k for k < repeat
    // How run() executes the step, decided when the plan is built: every
    // lane reads within its own 16-byte lane from a full 64-byte window (one
    // in-lane shuffle, the cheapest), from one window (one permute), or from
    // two (a two-register permute).
    enum Kind : std::uint8_t { in_lane, one_window, general } kind = general;
  };

 private:
  std::vector<Step> steps_;
  bool overrun_ = false;
};

struct PlainPlans {
  std::uint32_t size = 0;            // body bytes
  BytePlan save;                     // object -> wire bytes [0, size)
  BytePlan load;                     // wire -> object bytes from load_base
  std::uint32_t load_base = 0;       // first object byte a field covers
  std::vector<std::uint32_t> bools;  // wire offsets checked (0 or 1) before loading
};

// True where BytePlan::run can execute (x86-64 with AVX-512 F, BW and VBMI).
bool byte_plans_supported() noexcept;

// The plans of `p` at its own version, built on first use; nullptr when the
// body is not a fixed layout of scalars (nested structs of such included),
// runs hooks or subsections, or the CPU lacks the instructions.
const PlainPlans* build_plain_plans(const Program& p);
inline const PlainPlans* plain_plans(const Program& p) {
  if (const PlainPlans* r = p.plans.ready.load(std::memory_order_acquire)) [[likely]] return r;
  return build_plain_plans(p);
}

}  // namespace statewire::detail
