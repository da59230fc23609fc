// Fuzz target: the "virtio" VMStateInfo decoder (qemu_virtio.hpp). The first
// byte picks the device (virtio-iommu, -net, -blk, -rng, -balloon) and the transport (PCI or
// virtio-mmio, as the section name would say); the rest is the field, whose
// size is given as a stream's trailer gives it. Whatever decodes must
// re-encode to exactly the bytes consumed; everything else is an error.
#include <algorithm>
#include <cstdlib>

#include "statewire/qemu_virtio.hpp"
#include "statewire/vmstate_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace statewire;
  if (size < 1) return 0;
  static const char* const kDevices[] = {"virtio-iommu", "virtio-net", "virtio-blk",
                                         "virtio-rng", "virtio-balloon"};
  const char* device = kDevices[(data[0] & 0x0f) % 5];
  const bool mmio = (data[0] & 0x10) != 0;
  const std::string section =
      std::string(mmio ? "virtio-mmio@00000000feb02e00/" : "0000:00:03.0/") + device;
  Field f;
  f.name = "virtio";
  f.kind = FieldKind::custom;
  f.info = "virtio";
  f.size = size - 1;
  Description d;
  d.name = device;
  const std::string_view dev(device);
  d.version_id = dev == "virtio-net" ? 11 : dev == "virtio-iommu" || dev == "virtio-blk" ? 2 : 1;
  d.minimum_version_id = d.version_id;
  d.fields = std::vector<Field>{f};
  BodyDecodeOptions opt;  // the CLI's limits (the defaults)
  opt.custom = &qemu::custom_decoders();
  opt.section = section;
  Cursor cur(ByteSpan(data + 1, size - 1));
  auto r = decode_body(d, cur, d.version_id, opt);
  if (!r) return 0;
  ByteWriter w;
  if (!encode_body(*r, w)) std::abort();
  const std::size_t used = size - 1 - cur.remaining();
  if (w.size() != used || !std::equal(w.bytes().begin(), w.bytes().end(), data + 1)) std::abort();
  return 0;
}
