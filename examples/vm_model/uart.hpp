// A 16550-style UART as a program would hold it, and its statewire description.
//
// Version history of the "uart" section (each older body still loads):
//   v1: the register file (rbr, ier, iir, lcr, mcr, lsr, msr, scr) and divider.
//   v2: added fcr (FIFO control) and the receive FIFO: rx_fifo[rx_count], at most 16.
//   v3: added thr_ipending (a transmit interrupt latched while masked).
// Test-gated: loopback_data (the byte looping back) is sent only when the MCR
// loopback bit is set and the body is v2 or later.
// Subsection "uart/timeout" (since the FIFO timeout was modelled, no version
// bump, as QEMU does): sent only while a character timeout is pending.
// Hooks: post_load refuses a zero divider and recomputes the derived baud rate.
#pragma once

#include <array>
#include <cstdint>

#include "statewire/describe.hpp"

namespace vm_model {

struct Uart {
  std::uint16_t divider = 12;  // 9600 baud at 1.8432 MHz
  std::uint8_t rbr = 0, ier = 0, iir = 1, lcr = 0, mcr = 0, lsr = 0x60, msr = 0, scr = 0;
  std::uint8_t fcr = 0;                        // v2
  std::uint8_t rx_count = 0;                   // v2
  std::array<std::uint8_t, 16> rx_fifo{};      // v2, rx_fifo[rx_count]
  bool thr_ipending = false;                   // v3
  std::uint8_t loopback_data = 0;              // test: loopback on
  std::int64_t timeout_deadline_ns = -1;       // subsection uart/timeout
  std::uint8_t timeout_chars = 0;              // subsection uart/timeout
  std::uint32_t baud = 9600;                   // derived, not migrated

  friend bool operator==(const Uart&, const Uart&) = default;
};

inline constexpr std::uint8_t kUartMcrLoopback = 0x10;
inline constexpr std::uint32_t kUartClockHz = 1843200;

// Sets `baud` from `divider` (what the device model does after a write).
void uart_update_baud(Uart& u);

const statewire::NativeDescription<Uart>& uart_description();

}  // namespace vm_model
