#include "vm_model/vm_model.hpp"

#include <string>
#include <utility>

namespace vm_model {

using statewire::Result;

Vm make_sample_vm() {
  Vm vm;
  Uart& u = vm.uart;
  u.divider = 1;  // 115200 baud
  u.rbr = 0x41;
  u.ier = 0x05;
  u.iir = 0xc4;
  u.lcr = 0x03;
  u.mcr = 0x0b | kUartMcrLoopback;
  u.lsr = 0x61;
  u.msr = 0xb0;
  u.scr = 0x5a;
  u.fcr = 0xc7;
  u.rx_count = 5;
  for (std::uint8_t i = 0; i < u.rx_count; ++i) u.rx_fifo[i] = static_cast<std::uint8_t>('h' + i);
  u.thr_ipending = true;
  u.loopback_data = 0x7e;
  u.timeout_deadline_ns = 4000000123;
  u.timeout_chars = 4;
  uart_update_baud(u);

  Timer& t = vm.timer;
  t.enabled = true;
  t.period_ns = 1000000;
  t.next_deadline_ns = 5000000000;
  t.counter = 0x123456789abcull;
  t.mode = TimerMode::one_shot;
  t.drift_ppm = -12.625;
  t.irq_count = 4242;
  t.comparators = {10, 20, 0xffffffffffffffffull, 40};
  t.label = "hpet-like timer 0";
  t.oneshot_remaining_ns = 250000;
  t.calibrated = true;
  t.scale = 1.000123;
  t.offset_ns = -750;

  Nic& n = vm.nic;
  n.mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  n.ctrl = 0x0000'0013 | kNicCtrlVlan;
  n.status = 0x80080783;
  for (std::size_t i = 0; i < kNicRingSize; ++i)
    n.rx_ring[i] = {0x10000000ull + i * 0x800, static_cast<std::uint16_t>(60 + i),
                    static_cast<std::uint16_t>(i % 2 ? 0x3 : 0x0)};
  n.rx_head = 3;
  n.rx_tail = 7;
  for (std::size_t i = 0; i < n.regs.size(); ++i)
    n.regs[i] = static_cast<std::uint32_t>(0x01000193u * (i + 1));
  n.filter_count = 3;
  n.filters[0] = n.mac;
  n.filters[1] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  n.filters[2] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
  n.rx_packets = 1000;
  n.tx_packets = 900;
  n.rx_bytes = 1500000;
  n.tx_bytes = 1200000;
  n.tx_count = 2;
  n.tx_ring = {{0x20000000, 1514, 1}, {0x20000800, 60, 0}};
  n.vlan_tag = 100;
  n.tso = true;
  n.rx_csum = true;
  n.mss = 1448;
  return vm;
}

Result<statewire::Registry> vm_registry(Vm& vm) {
  // Not `{.type = ...}`: GCC 12's -Wextra warns about every member a
  // designated initializer leaves to its default.
  auto typed = [](std::string type) {
    statewire::RegisterOptions o;
    o.type = std::move(type);
    return o;
  };
  statewire::Registry reg;
  SW_CHECK(reg.add(uart_description(), vm.uart, typed("vm-uart")));
  SW_CHECK(reg.add(timer_description(), vm.timer, typed("vm-timer")));
  SW_CHECK(reg.add(nic_description(), vm.nic, typed("vm-nic")));
  return reg;
}

statewire::SchemaSet vm_schemas() {
  Vm vm;  // the registry only lends its descriptions here
  auto reg = vm_registry(vm);
  statewire::SchemaSet set = reg ? reg->schemas() : statewire::SchemaSet{};
  set.machine = "statewire-example-vm";
  return set;
}

}  // namespace vm_model
