// A network card with a receive descriptor ring and a MAC filter table, and
// its statewire description.
//
// Version history of the "nic" section:
//   v1: mac, ctrl, status, the 8-entry receive ring (array of structs), head
//       and tail, and the 32 device registers.
//   v2: added the MAC filter table: filters[filter_count] of 6-byte entries,
//       at most 16, and the statistics counters.
//   v3: added the transmit queue: tx_ring[tx_count] descriptors, at most 64,
//       held in a std::vector.
// Test-gated: vlan_tag is sent only while VLAN filtering is on (ctrl bit 4).
// Subsection "nic/offload": sent only when an offload is enabled.
// Hooks: post_load refuses ring indices outside the ring.
// Descriptors ("nic/desc") have their own description, nested in the NIC's.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "statewire/describe.hpp"

namespace vm_model {

struct NicDesc {
  std::uint64_t addr = 0;
  std::uint16_t length = 0;
  std::uint16_t status = 0;
  friend bool operator==(const NicDesc&, const NicDesc&) = default;
};

inline constexpr std::size_t kNicRingSize = 8;
inline constexpr std::size_t kNicMaxFilters = 16;
inline constexpr std::uint32_t kNicMaxTx = 64;
inline constexpr std::uint32_t kNicCtrlVlan = 0x10;

using MacAddress = std::array<std::uint8_t, 6>;

struct Nic {
  MacAddress mac{};
  std::uint32_t ctrl = 0;
  std::uint32_t status = 0;
  std::array<NicDesc, kNicRingSize> rx_ring{};
  std::uint16_t rx_head = 0;
  std::uint16_t rx_tail = 0;
  std::array<std::uint32_t, 32> regs{};
  std::uint8_t filter_count = 0;                          // v2
  std::array<MacAddress, kNicMaxFilters> filters{};       // v2, filters[filter_count]
  std::uint64_t rx_packets = 0, tx_packets = 0;           // v2
  std::uint64_t rx_bytes = 0, tx_bytes = 0;               // v2
  std::uint32_t tx_count = 0;                             // v3
  std::vector<NicDesc> tx_ring;                           // v3, tx_ring[tx_count]
  std::uint16_t vlan_tag = 0;                             // test: VLAN on
  bool tso = false, rx_csum = false;                      // subsection nic/offload
  std::uint16_t mss = 1460;                               // subsection nic/offload

  friend bool operator==(const Nic&, const Nic&) = default;
};

const statewire::NativeDescription<NicDesc>& nic_desc_description();
const statewire::NativeDescription<Nic>& nic_description();

}  // namespace vm_model
