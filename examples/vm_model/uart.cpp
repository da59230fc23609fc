#include "vm_model/uart.hpp"

#include <string>

namespace vm_model {

using statewire::Result;

void uart_update_baud(Uart& u) { u.baud = u.divider ? kUartClockHz / (16u * u.divider) : 0; }

namespace {

statewire::NativeDescription<Uart> make_timeout() {
  return statewire::describe<Uart>("uart/timeout", 1, 1)
      .field("deadline_ns", &Uart::timeout_deadline_ns)
      .field("chars", &Uart::timeout_chars);
}

statewire::NativeDescription<Uart> make_uart() {
  using statewire::since;
  using statewire::when;
  return statewire::describe<Uart>("uart", 3, 1)
      .field("divider", &Uart::divider)
      .field("rbr", &Uart::rbr)
      .field("ier", &Uart::ier)
      .field("iir", &Uart::iir)
      .field("lcr", &Uart::lcr)
      .field("mcr", &Uart::mcr)
      .field("lsr", &Uart::lsr)
      .field("msr", &Uart::msr)
      .field("scr", &Uart::scr)
      .field("fcr", &Uart::fcr, since(2))
      .field("rx_count", &Uart::rx_count, since(2))
      .varray("rx_fifo", &Uart::rx_fifo, &Uart::rx_count, 16, since(2))
      .field("thr_ipending", &Uart::thr_ipending, since(3))
      .field("loopback_data", &Uart::loopback_data,
             when("uart_loopback", [](const Uart& u, std::uint32_t version) {
               return version >= 2 && (u.mcr & kUartMcrLoopback) != 0;
             }))
      .subsection(make_timeout(), "uart_timeout_needed",
                  [](const Uart& u) { return u.timeout_deadline_ns >= 0; })
      .post_load([](Uart& u, std::uint32_t) -> Result<void> {
        if (u.divider == 0) return statewire::fail(statewire::Errc::hook_failed, "divider is 0");
        uart_update_baud(u);
        return statewire::ok();
      });
}

}  // namespace

const statewire::NativeDescription<Uart>& uart_description() {
  static const statewire::NativeDescription<Uart> d = make_uart();
  return d;
}

}  // namespace vm_model
