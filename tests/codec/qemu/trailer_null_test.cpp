// A stream's own description trailer saying which elements of an array of
// pointers were NULL: QEMU 7.2 describes each element of a non-compressible
// array separately, a NULL one with the field's type, an empty "struct" and
// size 1; newer QEMUs write type "nullptr". decode_body then needs no resolver.
#include <gtest/gtest.h>

#include "codec/qemu/trailer.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire::qemu::detail {
namespace {

constexpr std::string_view kTrailer = R"({"page_size": 4096, "devices": [
  {"name": "dev", "instance_id": 0, "vmsd_name": "dev", "version": 1, "fields": [
    {"name": "p", "index": 0, "type": "struct",
     "struct": {"vmsd_name": "elem", "version": 1,
                "fields": [{"name": "v", "type": "uint16", "size": 2}]}, "size": 2},
    {"name": "p", "index": 1, "type": "struct", "struct": {}, "size": 1},
    {"name": "q", "array_len": 2, "type": "nullptr", "size": 1}]}]})";

TEST(TrailerNull, NullElementsDecodeFromTheStreamsOwnDescription) {
  auto t = parse_trailer(kTrailer, 0);
  ASSERT_TRUE(t) << t.error().to_string();
  const Description& d = *t->devices[0].description;
  ASSERT_EQ(d.field_list().size(), 3u);
  EXPECT_TRUE(d.field_list()[1].nullable);
  EXPECT_EQ(d.field_list()[1].null_elements, std::vector<bool>{true});
  EXPECT_EQ(d.field_list()[2].null_elements, (std::vector<bool>{true, true}));
  // p[0] = 0x3031 (starts like the marker), p[1] NULL, q = two NULLs.
  const Bytes bytes = {0x30, 0x31, 0x30, 0x30, 0x30};
  Cursor cur(bytes);
  auto body = decode_body(d, cur, 1);
  ASSERT_TRUE(body) << body.error().to_string();
  EXPECT_TRUE(cur.empty());
  EXPECT_EQ(body->members[1].value, Value(Null{}));
  const Array* q = body->members[2].value.get_if<Array>();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->items, (std::vector<Value>{Null{}, Null{}}));
  ByteWriter w;
  ASSERT_TRUE(encode_body(*body, w));
  EXPECT_EQ(std::move(w).take(), bytes);
  // A NULL element whose byte is not the marker: refused, as QEMU refuses it.
  const Bytes bad = {0x30, 0x31, 0x00, 0x30, 0x30};
  Cursor c2(bad);
  auto r = decode_body(d, c2, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().offset, 2u);
}

}  // namespace
}  // namespace statewire::qemu::detail
