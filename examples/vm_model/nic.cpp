#include "vm_model/nic.hpp"

#include <fmt/format.h>

namespace vm_model {

using statewire::Result;

namespace {

statewire::NativeDescription<NicDesc> make_desc() {
  return statewire::describe<NicDesc>("nic/desc", 1, 1)
      .field("addr", &NicDesc::addr)
      .field("length", &NicDesc::length)
      .field("status", &NicDesc::status);
}

statewire::NativeDescription<Nic> make_offload() {
  return statewire::describe<Nic>("nic/offload", 1, 1)
      .field("tso", &Nic::tso)
      .field("rx_csum", &Nic::rx_csum)
      .field("mss", &Nic::mss);
}

statewire::NativeDescription<Nic> make_nic() {
  using statewire::since;
  using statewire::when;
  return statewire::describe<Nic>("nic", 3, 1)
      .buffer("mac", &Nic::mac)
      .field("ctrl", &Nic::ctrl)
      .field("status", &Nic::status)
      .structure("rx_ring", &Nic::rx_ring, nic_desc_description())
      .field("rx_head", &Nic::rx_head)
      .field("rx_tail", &Nic::rx_tail)
      .field("regs", &Nic::regs)
      .field("filter_count", &Nic::filter_count, since(2))
      .varray("filters", &Nic::filters, &Nic::filter_count, kNicMaxFilters, since(2))
      .field("rx_packets", &Nic::rx_packets, since(2))
      .field("tx_packets", &Nic::tx_packets, since(2))
      .field("rx_bytes", &Nic::rx_bytes, since(2))
      .field("tx_bytes", &Nic::tx_bytes, since(2))
      .field("tx_count", &Nic::tx_count, since(3))
      .struct_varray("tx_ring", &Nic::tx_ring, &Nic::tx_count, kNicMaxTx, nic_desc_description(),
                     since(3))
      .field("vlan_tag", &Nic::vlan_tag,
             when("nic_vlan", [](const Nic& n) { return (n.ctrl & kNicCtrlVlan) != 0; }))
      .subsection(make_offload(), "nic_offload_needed",
                  [](const Nic& n) { return n.tso || n.rx_csum; })
      .post_load([](Nic& n, std::uint32_t) -> Result<void> {
        if (n.rx_head >= kNicRingSize || n.rx_tail >= kNicRingSize)
          return statewire::fail(statewire::Errc::hook_failed,
                                 fmt::format("ring index out of range (head {}, tail {})",
                                             n.rx_head, n.rx_tail));
        return statewire::ok();
      });
}

}  // namespace

const statewire::NativeDescription<NicDesc>& nic_desc_description() {
  static const statewire::NativeDescription<NicDesc> d = make_desc();
  return d;
}

const statewire::NativeDescription<Nic>& nic_description() {
  static const statewire::NativeDescription<Nic> d = make_nic();
  return d;
}

}  // namespace vm_model
