// virtio-iommu's GTrees and QLIST against a real QEMU 7.2: statewire writes
// domains, mappings and endpoints into the paused corpus stream's tree
// (through the "virtio" decoder of qemu_virtio.hpp), QEMU loads it (its
// post_load finds each endpoint's device), saves again, and the stream QEMU
// wrote decodes to the same domains. Skips when QEMU or python3 is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_virtio.hpp"
#include "statewire/vmstate_body.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

namespace fs = std::filesystem;
using statewire::testing::read_bytes;
using statewire::testing::run;
using statewire::testing::TempDir;

const fs::path kCorpus = STATEWIRE_CORPUS_DIR;
const fs::path kTools = STATEWIRE_TOOLS_DIR;
const char* const kSection = "0000:00:01.0/virtio-iommu";

Section* find(StateStream& s, const std::string& name) {
  for (auto& sec : s.sections)
    if (sec.name == name) return &sec;
  return nullptr;
}

// Domain 1: one mapping and the endpoint 0x10 (virtio-rng-pci at 00:02.0,
// added after the IOMMU so that it sits behind it); domain 7: bypass, empty.
const Bytes kDomains = {
    0x00, 0x00, 0x00, 0x02,                                  // 2 domains
    0x01, 0, 0, 0, 0, 0, 0, 0, 0x01,                         // key 1
    0x00, 0x00, 0x00, 0x01,                                  //   id
    0x00, 0x00, 0x00, 0x01, 0x01,                            //   mappings: 1 node
    0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0x0f, 0xff,  // [0x10000000, 0x10000fff]
    0, 0, 0, 0, 0x02, 0x34, 0x50, 0x00, 0x00, 0x00, 0x00, 0x03,  // -> 0x2345000, READ|WRITE
    0x00,                                                    //   end of mappings
    0x01, 0x00, 0x00, 0x00, 0x10, 0x00,                      //   endpoints: 0x10
    0x00,                                                    //   bypass
    0x01, 0, 0, 0, 0, 0, 0, 0, 0x07,                         // key 7
    0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,    //   id, no mappings
    0x00, 0x01,                                              //   no endpoints, bypass
    0x00,                                                    // end of domains
    0x00,                                                    // config.bypass
};

// The section's virtio field with its device part replaced, decoded again.
Value with_domains(const Struct& virtio) {
  ByteWriter w;
  for (const auto& m : virtio.members) {
    if (m.name == "device")
      w.put_bytes(kDomains);
    else
      EXPECT_TRUE(encode_value(m.value, w));
  }
  Struct subs;
  subs.subsections = virtio.subsections;
  EXPECT_TRUE(encode_body(subs, w));
  Field f;
  f.name = "virtio";
  f.kind = FieldKind::custom;
  f.info = "virtio";
  Description d;
  d.name = "virtio-iommu";
  d.version_id = d.minimum_version_id = 2;
  d.fields = std::vector<Field>{f};
  BodyDecodeOptions o;
  o.custom = &custom_decoders();
  o.section = kSection;
  Cursor c(w.bytes());
  auto r = decode_body(d, c, 2, o);
  EXPECT_TRUE(r && c.empty()) << (r ? "bytes left" : r.error().to_string());
  return r ? *r->find("virtio") : Value();
}

TEST(QemuVirtioIommu, DomainsMappingsAndEndpointsWrittenByStatewireAreLoadedAndSavedByQemu) {
  if (run("command -v qemu-system-x86_64 && command -v python3").exit_code != 0)
    GTEST_SKIP() << "qemu-system-x86_64 or python3 is not installed";
  TempDir t;
  auto tree = decode_qemu_stream(read_bytes(kCorpus / "q35-7.2-virtio-iommu-paused.mig"));
  ASSERT_TRUE(tree) << tree.error().to_string();
  Section* sec = find(*tree, kSection);
  ASSERT_TRUE(sec);
  Value* virtio = sec->body.find("virtio");
  ASSERT_TRUE(virtio && virtio->get_if<Struct>());
  *virtio = with_domains(*virtio->get_if<Struct>());
  const Value* device = virtio->get_if<Struct>()->find("device");
  ASSERT_TRUE(device);
  const Value injected = *device;
  auto out = encode_qemu_stream(*tree);
  ASSERT_TRUE(out) << out.error().to_string();

  const fs::path in = t.path / "domains.mig", again = t.path / "saved-by-qemu.mig";
  std::ofstream(in, std::ios::binary)
      .write(reinterpret_cast<const char*>(out->data()), static_cast<std::streamsize>(out->size()));
  const std::string args =
      "-machine pc-q35-7.2 -accel tcg -nodefaults -display none -m 32 -vga none "
      "-device virtio-iommu-pci -device virtio-rng-pci -device virtio-balloon-pci";
  auto r = run("'" + (kTools / "qemu-accepts").string() + "' --save '" + again.string() + "' '" +
               in.string() + "' -- " + args);
  ASSERT_NE(r.exit_code, 2) << r.out;
  ASSERT_EQ(r.exit_code, 0) << r.out;

  // What QEMU saved from its own objects: the same domains, node for node.
  auto saved = decode_qemu_stream(read_bytes(again));
  ASSERT_TRUE(saved) << saved.error().to_string();
  Section* s2 = find(*saved, kSection);
  ASSERT_TRUE(s2);
  const Value* v2 = s2->body.find("virtio");
  ASSERT_TRUE(v2 && v2->get_if<Struct>()) << "kept as bytes";
  const Value* d2 = v2->get_if<Struct>()->find("device");
  ASSERT_TRUE(d2);
  EXPECT_EQ(*d2, injected) << to_text(*d2) << "\n" << to_text(injected);
  // The endpoint's device, saved by QEMU too: virtio-rng has no state of its own.
  Section* rng = find(*saved, "0000:00:02.0/virtio-rng");
  ASSERT_TRUE(rng);
  const Value* rv = rng->body.find("virtio");
  ASSERT_TRUE(rv && rv->get_if<Struct>()) << "kept as bytes";
  EXPECT_EQ(rv->get_if<Struct>()->find("device"), nullptr);
  // A device the loaded stream did not have, saved by QEMU: virtio-balloon's
  // counters; its feature subsections only once a driver acknowledged them.
  Section* balloon = find(*saved, "0000:00:03.0/virtio-balloon");
  ASSERT_TRUE(balloon);
  const Value* bv = balloon->body.find("virtio");
  ASSERT_TRUE(bv && bv->get_if<Struct>()) << "kept as bytes";
  const Value* bd = bv->get_if<Struct>()->find("device");
  ASSERT_TRUE(bd && bd->get_if<Struct>());
  EXPECT_NE(bd->get_if<Struct>()->find("num_pages"), nullptr);
  EXPECT_NE(bd->get_if<Struct>()->find("actual"), nullptr);
  EXPECT_TRUE(bd->get_if<Struct>()->subsections.empty());
  {
    // With the page-poison subsection a driver would have caused: decoded too.
    Value poisoned = *bv;
    Struct* dev = poisoned.get_if<Struct>()->find("device")->get_if<Struct>();
    Struct sub;
    sub.members.push_back({"poison_val", Value(std::uint32_t{0xaa})});
    dev->subsections.push_back({"virtio-balloon-device/page-poison", 1, sub});
    ByteWriter w;
    ASSERT_TRUE(encode_value(poisoned, w));
    Field f;
    f.name = "virtio";
    f.kind = FieldKind::custom;
    f.info = "virtio";
    Description d;
    d.name = "virtio-balloon";
    d.version_id = d.minimum_version_id = 1;
    d.fields = std::vector<Field>{f};
    BodyDecodeOptions o;
    o.custom = &custom_decoders();
    o.section = balloon->name;
    Cursor c(w.bytes());
    auto r = decode_body(d, c, 1, o);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_TRUE(c.empty());
    EXPECT_EQ(*r->find("virtio"), poisoned);
  }
  auto again_bytes = encode_qemu_stream(*saved);
  ASSERT_TRUE(again_bytes);
  EXPECT_TRUE(*again_bytes == read_bytes(again));
}

}  // namespace
}  // namespace statewire::qemu
