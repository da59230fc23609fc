#include "vm_model/timer.hpp"

namespace vm_model {

using statewire::Result;

namespace {

statewire::NativeDescription<Timer> make_calibration() {
  return statewire::describe<Timer>("timer/calibration", 1, 1)
      .field("scale", &Timer::scale)
      .field("offset_ns", &Timer::offset_ns)
      .post_load([](Timer& t, std::uint32_t) -> Result<void> {
        t.calibrated = true;  // only calibrated timers send this subsection
        return statewire::ok();
      });
}

statewire::NativeDescription<Timer> make_timer() {
  using statewire::since;
  using statewire::when;
  return statewire::describe<Timer>("timer", 3, 2)
      .field("enabled", &Timer::enabled)
      .field("period_ns", &Timer::period_ns)
      .field("next_deadline_ns", &Timer::next_deadline_ns)
      .field("counter", &Timer::counter)
      .field("mode", &Timer::mode)
      .field("drift_ppm", &Timer::drift_ppm, since(2))
      .field("irq_count", &Timer::irq_count, since(2))
      .field("comparators", &Timer::comparators, since(3))
      .field("label", &Timer::label, since(3))
      .field("oneshot_remaining_ns", &Timer::oneshot_remaining_ns,
             when("timer_one_shot", [](const Timer& t) { return t.mode == TimerMode::one_shot; }))
      .subsection(make_calibration(), "timer_calibrated", [](const Timer& t) { return t.calibrated; })
      .pre_save([](const Timer& t) -> Result<void> {
        if (t.enabled && t.period_ns == 0)
          return statewire::fail(statewire::Errc::hook_failed, "enabled with a zero period");
        return statewire::ok();
      });
}

}  // namespace

const statewire::NativeDescription<Timer>& timer_description() {
  static const statewire::NativeDescription<Timer> d = make_timer();
  return d;
}

}  // namespace vm_model
