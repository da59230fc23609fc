// statewire/qemu_virtio.hpp — QEMU VMStateInfos with code-defined encodings
// that statewire decodes into trees: today "virtio" (VMSTATE_VIRTIO_DEVICE).
//
// A virtio device's section holds one field of info "virtio" whose bytes
// QEMU's virtio_save() writes by hand (hw/virtio/virtio.c, 7.2):
//   transport config   PCI: the PCIDevice body (be32 version, config space of
//                      256 bytes, or 4096 with a PCI Express capability, 4 x
//                      be32 irq state), with MSI-X the vector table (16 bytes
//                      per vector) and pending bits, and be16 config vector;
//                      MMIO: be32 host/guest feature select, be32 page shift
//   u8 status, u8 isr, be16 queue_sel, be32 guest features (low 32 bits),
//   be32 config_len + config bytes, be32 queue count, per queue be32 num
//   (MMIO: be32 align), be64 desc, be16 last_avail_idx (PCI with MSI-X: be16
//   vector), then the device's own save (virtio-blk: its in-flight request
//   list), the device's own VMState body at the section's version, and the
//   "virtio" description's subsections (ring addresses, ring sizes, the
//   transport's extra state, features, broken/started/disabled flags).
// The decoded value is a Struct whose members re-encode to exactly those
// bytes. What cannot be decided from the stream is refused with
// Errc::unsupported naming the field and the reason (an unknown device or
// transport, in-flight requests); a QEMU stream reader then keeps that field
// as bytes and says why (docs/qemu-stream.md lists what is covered).
#pragma once

#include <span>
#include <string_view>

#include "statewire/vmstate_body.hpp"

namespace statewire::qemu {

// The decoders, keyed by Field::info ("virtio"). The QEMU stream readers use
// them unless QemuDecodeOptions::custom_infos is off.
const CustomDecoders& custom_decoders();

// The virtio devices (QEMU vmsd names) whose own state is described.
std::span<const std::string_view> virtio_devices() noexcept;

}  // namespace statewire::qemu
