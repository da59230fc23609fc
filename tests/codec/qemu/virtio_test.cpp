// The "virtio" VMStateInfo (qemu_virtio.hpp) on real QEMU 7.2 streams: every
// virtio section of the corpus (virtio-iommu on Q35/PCI, virtio-net on PCI
// and virtio-mmio, virtio-blk on PCI) decodes into a tree, field by field,
// and re-encodes byte for byte; virtio-iommu's GTrees and QLIST with content
// through byte vectors written from QEMU's encoding rules; what is not
// covered is refused naming the field, and a stream reader keeps it as bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "statewire/qemu_analyze.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_virtio.hpp"
#include "statewire/validate.hpp"
#include "statewire/vmstate_body.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

using statewire::testing::corpus_dir;
using statewire::testing::corpus_files;
using statewire::testing::read_bytes;

const Section* section(const StateStream& s, std::string_view name) {
  for (const auto& sec : s.sections)
    if (sec.name == name) return &sec;
  return nullptr;
}

// The member at a dotted path of names ("device.domains"); names may hold
// dots themselves ("config.bypass"), so each step tries the longest match.
const Value* at(const Struct& s, std::string_view path) {
  for (std::size_t cut = path.size(); cut > 0; --cut) {
    if (cut < path.size() && path[cut] != '.') continue;
    const Value* v = s.find(path.substr(0, cut));
    if (!v) continue;
    if (cut == path.size()) return v;
    if (const Struct* inner = v->get_if<Struct>()) return at(*inner, path.substr(cut + 1));
    return nullptr;
  }
  return nullptr;
}

std::uint64_t u64_at(const Struct& s, std::string_view path) {
  const Value* v = at(s, path);
  std::uint64_t x = ~0ull;
  EXPECT_TRUE(v && v->as_u64(x)) << path;
  return x;
}

const Struct& virtio_of(const Section& sec) {
  static const Struct none;
  const Value* v = sec.body.find("virtio");
  EXPECT_TRUE(v && v->get_if<Struct>()) << sec.name;
  return v && v->get_if<Struct>() ? *v->get_if<Struct>() : none;
}

std::vector<std::string> subsection_names(const Struct& s) {
  std::vector<std::string> out;
  for (const auto& sub : s.subsections) out.push_back(sub.name);
  return out;
}

Bytes encoded(const Value& v) {
  ByteWriter w;
  EXPECT_TRUE(encode_value(v, w));
  return std::move(w).take();
}

const char* const kIommuStream = "q35-7.2-virtio-iommu-paused.mig";

TEST(Virtio, EveryVirtioSectionOfTheCorpusIsATreeAndReencodes) {
  std::set<std::string> seen;
  for (const auto& f : corpus_files(".mig")) {
    SCOPED_TRACE(f.filename().string());
    const Bytes in = read_bytes(f);
    auto tree = decode_qemu_stream(in);
    ASSERT_TRUE(tree) << tree.error().to_string();
    for (const auto& sec : tree->sections) {
      const Value* v = sec.body.find("virtio");
      if (!v) continue;
      EXPECT_TRUE(v->get_if<Struct>()) << sec.name << " kept as " << kind_name(v->kind());
      // What validation (convert --to qemu) counts is what is written.
      EXPECT_EQ(vmstate_wire_size(*v), encoded(*v).size()) << sec.name;
      seen.insert(f.filename().string() + " " + sec.name);
    }
    auto out = encode_qemu_stream(*tree);
    ASSERT_TRUE(out) << out.error().to_string();
    EXPECT_TRUE(*out == in);
    // Without the decoder the same field is bytes, and the stream the same.
    QemuDecodeOptions plain;
    plain.custom_infos = false;
    auto raw = decode_qemu_stream(in, plain);
    ASSERT_TRUE(raw) << raw.error().to_string();
    for (const auto& sec : raw->sections)
      if (const Value* v = sec.body.find("virtio")) {
        EXPECT_TRUE(v->get_if<Blob>());
        const Section* decoded = section(*tree, sec.name);
        ASSERT_TRUE(decoded);
        EXPECT_EQ(encoded(*decoded->body.find("virtio")), v->get_if<Blob>()->bytes) << sec.name;
      }
  }
  EXPECT_EQ(seen, (std::set<std::string>{
                      "i440fx-4.2-virtio-running2s.mig 0000:00:03.0/virtio-net",
                      "i440fx-4.2-virtio-running2s.mig 0000:00:04.0/virtio-blk",
                      "microvm-virtio-paused.mig virtio-mmio@00000000feb02e00/virtio-net",
                      "q35-7.2-virtio-iommu-paused.mig 0000:00:01.0/virtio-iommu",
                  }));
}

TEST(Virtio, IommuOnQ35FieldByField) {
  auto tree = decode_qemu_stream(read_bytes(corpus_dir() / kIommuStream));
  ASSERT_TRUE(tree) << tree.error().to_string();
  const Section* sec = section(*tree, "0000:00:01.0/virtio-iommu");
  ASSERT_TRUE(sec);
  EXPECT_EQ(sec->version_id, 2u);
  const Struct& v = virtio_of(*sec);
  // The PCI transport: PCIDevice v2 (conventional: 256 bytes of config
  // space; virtio-iommu-pci has no MSI-X vectors here, so no table).
  EXPECT_EQ(u64_at(v, "pci.PCIDevice.version_id"), 2u);
  const Blob* config = at(v, "pci.PCIDevice.config")->get_if<Blob>();
  ASSERT_TRUE(config);
  ASSERT_EQ(config->bytes.size(), 256u);
  EXPECT_EQ(config->bytes[0] | config->bytes[1] << 8, 0x1af4);  // Red Hat / virtio
  EXPECT_EQ(config->bytes[2] | config->bytes[3] << 8, 0x1057);  // virtio-iommu (modern)
  EXPECT_EQ(at(v, "pci.PCIDevice.irq_state")->get_if<Array>()->items.size(), 4u);
  EXPECT_EQ(at(v, "pci.msix_table"), nullptr);
  // virtio_save()'s own part.
  EXPECT_EQ(u64_at(v, "status"), 0u);
  EXPECT_EQ(u64_at(v, "config_len"), 40u);  // struct virtio_iommu_config
  EXPECT_EQ(at(v, "config")->get_if<Blob>()->bytes.size(), 40u);
  EXPECT_EQ(u64_at(v, "num_queues"), 2u);  // request and event queues
  const Array* queues = at(v, "queues")->get_if<Array>();
  ASSERT_TRUE(queues && queues->items.size() == 2);
  for (const auto& q : queues->items) {
    EXPECT_EQ(u64_at(*q.get_if<Struct>(), "num"), 256u);
    EXPECT_EQ(at(*q.get_if<Struct>(), "align"), nullptr);  // PCI: fixed alignment
  }
  // The device's own description: the domains GTree (direct keys), empty
  // before a guest attached anything, and the bypass default.
  const Array* domains = at(v, "device.domains")->get_if<Array>();
  ASSERT_TRUE(domains);
  EXPECT_EQ(domains->layout, ArrayLayout::gtree);
  EXPECT_TRUE(domains->items.empty());
  EXPECT_EQ(*at(v, "device.config.bypass"), Value(std::uint8_t{1}));
  // vmstate_virtio's subsections as sent (modern device: ring addresses of
  // all 1024 queues, the transport's extra state).
  EXPECT_EQ(subsection_names(v),
            (std::vector<std::string>{"virtio/64bit_features", "virtio/virtqueues",
                                      "virtio/extra_state"}));
  const Struct& vqs = v.subsections[1].body;
  EXPECT_EQ(at(vqs, "vq")->get_if<Array>()->items.size(), 1024u);
  const Struct& extra = v.subsections[2].body;
  const Struct* pci_extra = at(extra, "extra_state")->get_if<Struct>();
  ASSERT_TRUE(pci_extra);
  ASSERT_EQ(subsection_names(*pci_extra), std::vector<std::string>{"virtio_pci/modern_state"});
  EXPECT_EQ(at(pci_extra->subsections[0].body, "vqs")->get_if<Array>()->items.size(), 1024u);
  // The whole field is the trailer's size.
  EXPECT_EQ(encoded(*sec->body.find("virtio")).size(), 45549u);
}

TEST(Virtio, NetAndBlkOnPciAndMmio) {
  auto pc = decode_qemu_stream(read_bytes(corpus_dir() / "i440fx-4.2-virtio-running2s.mig"));
  ASSERT_TRUE(pc) << pc.error().to_string();
  const Struct& net = virtio_of(*section(*pc, "0000:00:03.0/virtio-net"));
  // MSI-X: 3 vectors (48 bytes of table, one byte of pending bits), a vector per queue.
  EXPECT_EQ(at(net, "pci.msix_table")->get_if<Blob>()->bytes.size(), 48u);
  EXPECT_EQ(at(net, "pci.msix_pba")->get_if<Blob>()->bytes.size(), 1u);
  EXPECT_EQ(u64_at(net, "num_queues"), 3u);
  EXPECT_EQ(u64_at(*at(net, "queues")->get_if<Array>()->items[2].get_if<Struct>(), "num"), 64u);
  EXPECT_EQ(at(net, "device.mac")->get_if<Blob>()->bytes,
            (std::vector<std::uint8_t>{0x52, 0x54, 0x00, 0xab, 0xcd, 0x02}));
  EXPECT_EQ(at(net, "device.vlans")->get_if<Blob>()->bytes.size(), 512u);
  // One queue pair: neither max_queue_pairs nor curr_queue_pairs is sent.
  EXPECT_EQ(at(net, "device.max_queue_pairs"), nullptr);
  EXPECT_TRUE(at(net, "device.tmp.vqs_1") == nullptr ||
              at(net, "device.tmp.vqs_1")->get_if<Array>()->items.empty());

  const Struct& blk = virtio_of(*section(*pc, "0000:00:04.0/virtio-blk"));
  // SeaBIOS drove it: features acknowledged, one queue set up and used.
  EXPECT_EQ(u64_at(blk, "status"), 15u);
  EXPECT_EQ(u64_at(blk, "num_queues"), 1u);
  const Struct& q0 = *at(blk, "queues")->get_if<Array>()->items[0].get_if<Struct>();
  EXPECT_NE(u64_at(q0, "desc"), 0u);
  EXPECT_EQ(at(blk, "requests")->get_if<Array>()->layout, ArrayLayout::marker_list);
  EXPECT_EQ(at(blk, "device"), nullptr);  // virtio-blk has no description of its own
  EXPECT_EQ(subsection_names(blk),
            (std::vector<std::string>{"virtio/64bit_features", "virtio/virtqueues",
                                      "virtio/extra_state", "virtio/started"}));

  auto mmio = decode_qemu_stream(read_bytes(corpus_dir() / "microvm-virtio-paused.mig"));
  ASSERT_TRUE(mmio) << mmio.error().to_string();
  const Struct& mnet = virtio_of(*section(*mmio, "virtio-mmio@00000000feb02e00/virtio-net"));
  EXPECT_EQ(at(mnet, "pci"), nullptr);
  EXPECT_EQ(u64_at(mnet, "mmio.guest_page_shift"), 0u);
  const Struct& mq0 = *at(mnet, "queues")->get_if<Array>()->items[0].get_if<Struct>();
  EXPECT_EQ(u64_at(mq0, "align"), 4096u);  // virtio-mmio: per-queue alignment
  EXPECT_EQ(at(mnet, "device.mac")->get_if<Blob>()->bytes,
            (std::vector<std::uint8_t>{0x52, 0x54, 0x00, 0xab, 0xcd, 0x05}));
}

// The real virtio-iommu field with its device part replaced by `device`
// bytes; returns the field's bytes.
Bytes iommu_field_with(const Bytes& device) {
  auto tree = decode_qemu_stream(read_bytes(corpus_dir() / kIommuStream));
  EXPECT_TRUE(tree);
  const Struct& v = virtio_of(*section(*tree, "0000:00:01.0/virtio-iommu"));
  ByteWriter w;
  for (const auto& m : v.members) {
    if (m.name == "device") {
      w.put_bytes(device);
      continue;
    }
    EXPECT_TRUE(encode_value(m.value, w));
  }
  Struct subs;
  subs.subsections = v.subsections;
  EXPECT_TRUE(encode_body(subs, w));
  return std::move(w).take();
}

Result<Struct> decode_iommu_field(const Bytes& field) {
  Field f;
  f.name = "virtio";
  f.kind = FieldKind::custom;
  f.info = "virtio";
  f.size = field.size();
  Description d;
  d.name = "virtio-iommu";
  d.version_id = 2;
  d.minimum_version_id = 2;
  d.fields = std::vector<Field>{f};
  BodyDecodeOptions o;
  o.custom = &custom_decoders();
  o.section = "0000:00:01.0/virtio-iommu";
  Cursor c(field);
  auto r = decode_body(d, c, 2, o);
  if (r && !c.empty()) return fail(Errc::mismatch, "bytes left after the field");
  return r;
}

// Two domains: 1 with one mapping and two endpoints, 7 empty and bypassing.
// Written from QEMU's rules (vmstate-types.c put_gtree/put_qlist): be32 node
// count, per node 01 + key + value, then 00; a QLIST element is 01 + body,
// then 00.
const Bytes kDomains = {
    0x00, 0x00, 0x00, 0x02,                          // domains: 2 nodes
    0x01, 0, 0, 0, 0, 0, 0, 0, 0x01,                 // key 1 (direct, be64)
    0x00, 0x00, 0x00, 0x01,                          //   id
    0x00, 0x00, 0x00, 0x01,                          //   mappings: 1 node
    0x01,                                            //
    0, 0, 0, 0, 0x10, 0, 0, 0,                       //     key.low  0x10000000
    0, 0, 0, 0, 0x10, 0, 0x0f, 0xff,                 //     key.high 0x10000fff
    0, 0, 0, 0, 0x02, 0x34, 0x50, 0x00,              //     value.phys_addr 0x2345000
    0x00, 0x00, 0x00, 0x03,                          //     value.flags READ|WRITE
    0x00,                                            //   end of mappings
    0x01, 0x00, 0x00, 0x00, 0x08,                    //   endpoint 8 (00:01.0)
    0x01, 0x00, 0x00, 0x00, 0xf8,                    //   endpoint 0xf8 (00:1f.0)
    0x00,                                            //   end of endpoint_list
    0x00,                                            //   bypass
    0x01, 0, 0, 0, 0, 0, 0, 0, 0x07,                 // key 7
    0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,  //   id, no mappings
    0x00,                                            //   end of mappings
    0x00,                                            //   no endpoints
    0x01,                                            //   bypass
    0x00,                                            // end of domains
    0x00,                                            // config.bypass
};

TEST(Virtio, IommuDomainsMappingsAndEndpointsByteVector) {
  const Bytes field = iommu_field_with(kDomains);
  auto r = decode_iommu_field(field);
  ASSERT_TRUE(r) << r.error().to_string();
  const Struct& v = *r->find("virtio")->get_if<Struct>();
  const Array* domains = at(v, "device.domains")->get_if<Array>();
  ASSERT_TRUE(domains);
  ASSERT_EQ(domains->items.size(), 2u);
  const Struct& d1 = *domains->items[0].get_if<Struct>();
  EXPECT_EQ(*d1.find("key"), Value(std::uint64_t{1}));
  const Struct& d1v = *d1.find("value")->get_if<Struct>();
  EXPECT_EQ(u64_at(d1v, "id"), 1u);
  const Array* mappings = d1v.find("mappings")->get_if<Array>();
  ASSERT_TRUE(mappings && mappings->layout == ArrayLayout::gtree);
  ASSERT_EQ(mappings->items.size(), 1u);
  const Struct& m = *mappings->items[0].get_if<Struct>();
  EXPECT_EQ(u64_at(m, "key.low"), 0x10000000u);
  EXPECT_EQ(u64_at(m, "key.high"), 0x10000fffu);
  EXPECT_EQ(u64_at(m, "value.phys_addr"), 0x2345000u);
  EXPECT_EQ(u64_at(m, "value.flags"), 3u);
  const Array* eps = d1v.find("endpoint_list")->get_if<Array>();
  ASSERT_TRUE(eps && eps->layout == ArrayLayout::marker_list);
  ASSERT_EQ(eps->items.size(), 2u);
  EXPECT_EQ(u64_at(*eps->items[0].get_if<Struct>(), "id"), 8u);
  EXPECT_EQ(u64_at(*eps->items[1].get_if<Struct>(), "id"), 0xf8u);
  EXPECT_EQ(*d1v.find("bypass"), Value(false));
  const Struct& d7v = *domains->items[1].get_if<Struct>()->find("value")->get_if<Struct>();
  EXPECT_TRUE(d7v.find("mappings")->get_if<Array>()->items.empty());
  EXPECT_EQ(*d7v.find("bypass"), Value(true));
  EXPECT_EQ(*at(v, "device.config.bypass"), Value(std::uint8_t{0}));
  EXPECT_EQ(encoded(*r->find("virtio")), field);
  EXPECT_EQ(vmstate_wire_size(*r->find("virtio")), field.size());
}

// Every proper prefix of a virtio field is refused, naming where, or leaves
// bytes unexplained, except one that ends where a subsection starts: that is
// a shorter field whose last subsections were not sent.
void expect_prefixes_refused(const Bytes& field, const std::string& device,
                             const std::string& section, std::uint32_t version,
                             std::size_t step) {
  Field f;
  f.name = "virtio";
  f.kind = FieldKind::custom;
  f.info = "virtio";
  Description d;
  d.name = device;
  d.version_id = d.minimum_version_id = version;
  BodyDecodeOptions o;
  o.custom = &custom_decoders();
  o.section = section;
  std::size_t accepted = 0;
  for (std::size_t n = 0; n < field.size(); n += (n < 2048 ? 1 : step)) {
    f.size = n;
    d.fields = std::vector<Field>{f};
    const Bytes prefix(field.begin(), field.begin() + static_cast<std::ptrdiff_t>(n));
    Cursor c(prefix);
    auto r = decode_body(d, c, version, o);
    if (r && !c.empty()) {
      // It stops before a subsection header cut short (QEMU peeks the whole
      // name): bytes are left, which a stream reader refuses.
      EXPECT_EQ(prefix[c.offset()], kSubsectionMarker) << "prefix " << n;
    } else if (r) {
      ++accepted;
      EXPECT_EQ(field[n], kSubsectionMarker) << "prefix " << n;
      EXPECT_EQ(encoded(*r->find("virtio")), prefix);
    } else {
      EXPECT_TRUE(r.error().offset.has_value()) << n;
      EXPECT_EQ(r.error().field_path.rfind("virtio", 0), 0u) << r.error().to_string();
    }
  }
  EXPECT_LE(accepted, 9u);  // at most one per subsection of vmstate_virtio
}

TEST(Virtio, EveryProperPrefixIsAnErrorOrEndsBeforeASubsection) {
  auto mmio = decode_qemu_stream(read_bytes(corpus_dir() / "microvm-virtio-paused.mig"));
  ASSERT_TRUE(mmio);
  const Section* net = section(*mmio, "virtio-mmio@00000000feb02e00/virtio-net");
  ASSERT_TRUE(net);
  expect_prefixes_refused(encoded(*net->body.find("virtio")), "virtio-net", net->name, 11, 1);
  expect_prefixes_refused(iommu_field_with(kDomains), "virtio-iommu",
                          "0000:00:01.0/virtio-iommu", 2, 61);
}

TEST(Virtio, IommuInconsistentTreesAreRefusedNamingThePath) {
  // One node announced, two follow: QEMU's get_gtree fails the load.
  Bytes more = kDomains;
  more[3] = 0x01;
  auto r = decode_iommu_field(iommu_field_with(more));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_NE(r.error().field_path.find("device.domains"), std::string::npos)
      << r.error().to_string();
  // The mappings' end marker missing: the next byte is read as a marker, the
  // tree runs into the endpoints and fails; never a partial tree.
  Bytes cut(kDomains.begin(), kDomains.begin() + 20);
  auto r2 = decode_iommu_field(iommu_field_with(cut));
  ASSERT_FALSE(r2);
}

TEST(Virtio, UncoveredDevicesTransportsAndRequestsAreRefusedWithTheReason) {
  const Bytes field = iommu_field_with(kDomains);
  Field f;
  f.name = "virtio";
  f.kind = FieldKind::custom;
  f.info = "virtio";
  Description d;
  d.name = "virtio-gpu";
  d.version_id = 2;
  d.fields = std::vector<Field>{f};
  BodyDecodeOptions o;
  o.custom = &custom_decoders();
  o.section = "0000:00:02.0/virtio-gpu";
  Cursor c(field);
  auto gpu = decode_body(d, c, 2, o);
  ASSERT_FALSE(gpu);
  EXPECT_EQ(gpu.error().code, Errc::unsupported);
  EXPECT_EQ(gpu.error().field_path, "virtio");
  EXPECT_NE(gpu.error().message.find("'virtio-gpu' is not described"), std::string::npos);

  d.name = "virtio-iommu";
  o.section = "virtio-iommu";  // no device path: transport unknown
  Cursor c2(field);
  auto bare = decode_body(d, c2, 2, o);
  ASSERT_FALSE(bare);
  EXPECT_EQ(bare.error().code, Errc::unsupported);
  EXPECT_NE(bare.error().message.find("transport"), std::string::npos);

  // virtio-blk with an in-flight request (marker 01 where SeaBIOS left 00).
  auto pc = decode_qemu_stream(read_bytes(corpus_dir() / "i440fx-4.2-virtio-running2s.mig"));
  ASSERT_TRUE(pc);
  const Struct& blk = virtio_of(*section(*pc, "0000:00:04.0/virtio-blk"));
  ByteWriter w;
  std::size_t at_requests = 0;
  for (const auto& m : blk.members) {
    if (m.name == "requests") at_requests = w.size();
    ASSERT_TRUE(encode_value(m.value, w));
  }
  Bytes bytes = std::move(w).take();
  bytes[at_requests] = 0x01;
  d.name = "virtio-blk";
  o.section = "0000:00:04.0/virtio-blk";
  Cursor c3(bytes);
  auto inflight = decode_body(d, c3, 2, o);
  ASSERT_FALSE(inflight);
  EXPECT_EQ(inflight.error().code, Errc::unsupported);
  EXPECT_EQ(inflight.error().offset, at_requests);
  EXPECT_NE(inflight.error().field_path.find("requests"), std::string::npos);
}

TEST(Virtio, AStreamReaderKeepsARefusedFieldAsBytesAndSaysWhy) {
  // The same stream with the device renamed (same length, in the section
  // header and the trailer): no description of "virtio-iommX".
  Bytes in = read_bytes(corpus_dir() / kIommuStream);
  const std::string from = "virtio-iommu", to = "virtio-iommX";
  int renamed = 0;
  for (auto it = in.begin();
       (it = std::search(it, in.end(), from.begin(), from.end())) != in.end(); ++renamed)
    it = std::copy(to.begin(), to.end(), it);
  ASSERT_GE(renamed, 3);  // idstr, trailer name and vmsd_name
  auto tree = decode_qemu_stream(in);
  ASSERT_TRUE(tree) << tree.error().to_string();
  const Section* sec = section(*tree, "0000:00:01.0/virtio-iommX");
  ASSERT_TRUE(sec);
  ASSERT_TRUE(sec->body.find("virtio") && sec->body.find("virtio")->get_if<Blob>());
  auto out = encode_qemu_stream(*tree);
  ASSERT_TRUE(out);
  EXPECT_TRUE(*out == in);
  auto report = analyze_qemu_stream(in);
  ASSERT_TRUE(report) << report.error().to_string();
  bool said = false;
  for (const auto& s : report->report.sections)
    if (s.summary.header.idstr == "0000:00:01.0/virtio-iommX") {
      EXPECT_EQ(s.summary.source, SchemaSource::trailer);
      EXPECT_NE(s.summary.kept_as_bytes.find("'virtio-iommX' is not described"), std::string::npos)
          << s.summary.kept_as_bytes;
      said = true;
    }
  EXPECT_TRUE(said);
  EXPECT_NE(report_text(report->report).find("custom field kept as bytes"), std::string::npos);
}

}  // namespace
}  // namespace statewire::qemu
