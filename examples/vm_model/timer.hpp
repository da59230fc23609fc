// A periodic/one-shot timer device and its statewire description.
//
// Version history of the "timer" section:
//   v1: enabled, period_ns, next_deadline_ns (-1: not armed), counter.
//   v2: added drift_ppm (double) and irq_count.
//   v3: added the four comparators and the timer's label (a string).
// Minimum version 2: v1 bodies are refused (its counter had another unit).
// Test-gated: oneshot_remaining_ns is sent only in one-shot mode.
// Subsection "timer/calibration": sent only once the timer was calibrated.
// Hooks: pre_save refuses an enabled timer with a zero period.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "statewire/describe.hpp"

namespace vm_model {

enum class TimerMode : std::uint8_t { periodic = 0, one_shot = 1 };

struct Timer {
  bool enabled = false;
  std::uint64_t period_ns = 1000000;
  std::int64_t next_deadline_ns = -1;
  std::uint64_t counter = 0;
  TimerMode mode = TimerMode::periodic;
  double drift_ppm = 0.0;                      // v2
  std::uint32_t irq_count = 0;                 // v2
  std::array<std::uint64_t, 4> comparators{};  // v3
  std::string label = "timer";                 // v3
  std::uint64_t oneshot_remaining_ns = 0;      // test: one-shot mode
  bool calibrated = false;                     // subsection timer/calibration
  double scale = 1.0;                          // subsection timer/calibration
  std::int32_t offset_ns = 0;                  // subsection timer/calibration

  friend bool operator==(const Timer&, const Timer&) = default;
};

const statewire::NativeDescription<Timer>& timer_description();

}  // namespace vm_model
