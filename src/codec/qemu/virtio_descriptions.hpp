// Internal to the "virtio" decoder (src/codec/qemu/virtio.cpp): the
// VMState descriptions inside a virtio field (PCIDevice, the transports'
// extra state, vmstate_virtio's subsections, the devices' own descriptions),
// written with SchemaBuilder from QEMU 7.2's hw/virtio, hw/pci and hw/net
// sources, and what the stream itself tells about the device (transport,
// PCI capabilities).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "statewire/vmstate_body.hpp"

namespace statewire::qemu::virtio {

constexpr std::uint32_t kQueueMax = 1024;     // VIRTIO_QUEUE_MAX
constexpr std::uint32_t kMsixEntrySize = 16;  // PCI_MSIX_ENTRY_SIZE
constexpr std::uint32_t kMacTableEntries = 64;
constexpr std::uint32_t kNetCtrlGuestOffloads = 1u << 2;  // VIRTIO_NET_F_CTRL_GUEST_OFFLOADS
constexpr std::uint32_t kNetMq = 1u << 22;                // VIRTIO_NET_F_MQ

enum class Transport { pci, mmio };

// From the section's name: "<qdev path>/<vmsd>"; nullopt: neither PCI nor
// virtio-mmio.
std::optional<Transport> transport_of(std::string_view idstr);

// What the PCI config space's capability list says: a PCI Express capability
// (then QEMU migrates 4096 bytes of config space, else 256), and MSI-X with
// its table size (QEMU's msix_save() writes that many vectors). virtio-pci
// drops the express flag exactly when it adds no express capability.
struct PciCaps {
  bool express = false;
  std::uint32_t msix_vectors = 0;  // 0: no MSI-X
};
PciCaps pci_caps(ByteSpan config_space);  // the first 256 bytes

const Description& pci_device(bool express);    // QEMU's vmstate_pci_device
const Description& virtio_description(Transport t);  // vmstate_virtio

// What one device adds: its own save (before its description) and its
// description, with the predicates the stream decides.
struct Device {
  std::string_view name;  // the section's vmsd name
  std::shared_ptr<const Description> vmsd;
  bool request_list = false;  // virtio-blk's in-flight requests (vdc->save)
};
std::span<const Device> devices();

// Decoders of the `custom` fields the device descriptions hold (a WITH_TMP
// array whose count is computed); never in a stream's trailer.
const CustomDecoders& private_decoders();

}  // namespace statewire::qemu::virtio
