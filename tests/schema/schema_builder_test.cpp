// SchemaBuilder: hand-written descriptions that decode QEMU's byte layouts.
#include "statewire/schema_builder.hpp"

#include <gtest/gtest.h>

#include "statewire/vmstate_body.hpp"

namespace statewire {
namespace {

// One option set, without designated initializers (GCC 12 -Wextra warns
// about the members left out).
FieldOptions since_version(std::uint32_t v) {
  FieldOptions o;
  o.since = v;
  return o;
}

TEST(SchemaBuilder, BuildsADescriptionThatDecodesEveryConstruct) {
  auto pair = SchemaBuilder("pair", 1, 1)
                  .scalar("x", FieldKind::u16)
                  .scalar("y", FieldKind::u8)
                  .build();
  ASSERT_TRUE(pair);
  auto extra = SchemaBuilder("dev/extra", 1, 1).scalar("e", FieldKind::u8).build();
  ASSERT_TRUE(extra);
  auto d = SchemaBuilder("dev", 2, 1)
               .scalar("n", FieldKind::u8)
               .varray("v", FieldKind::u16, "n", 4)
               .array("a", FieldKind::i8, 2)
               .buffer("mac", 3)
               .unused(1)
               .structure("s", *pair)
               .list("q", *pair)
               .pointers("p", FieldKind::u32, 2)
               .scalar("late", FieldKind::u8, since_version(2))
               .subsection(*extra, "dev_extra_needed")
               .build();
  ASSERT_TRUE(d) << d.error().to_string();
  const Bytes bytes = {1,    0x01, 0x02,             // n, v
                       0xff, 0x01,                   // a
                       0xa, 0xb, 0xc,                // mac
                       0x00,                         // unused
                       0x00, 0x05, 0x06,             // s
                       0x01, 0x00, 0x07, 0x08, 0x00,  // q
                       0x30, 0x00, 0x00, 0x00, 0x09,  // p: NULL, 9
                       0x0f,                         // late (version 2)
                       0x05, 9, 'd', 'e', 'v', '/', 'e', 'x', 't', 'r', 'a', 0, 0, 0, 1, 0x42};
  const PointerResolver ptrs = {
      {pointer_key("dev", "p"),
       [](const Struct&, std::uint64_t k) -> std::optional<bool> { return k == 0; }}};
  BodyDecodeOptions opt;
  opt.pointers = &ptrs;
  Cursor cur(bytes);
  auto body = decode_body(*d, cur, 2, opt);
  ASSERT_TRUE(body) << body.error().to_string();
  EXPECT_TRUE(cur.empty());
  EXPECT_EQ(body->find("p")->get_if<Array>()->items[0], Value(Null{}));
  EXPECT_EQ(body->find("late")->get_if<std::uint8_t>() != nullptr, true);
  ASSERT_EQ(body->subsections.size(), 1u);
  ByteWriter w;
  ASSERT_TRUE(encode_body(*body, w));
  EXPECT_EQ(std::move(w).take(), bytes);
}

TEST(SchemaBuilder, RefusesWhatNoStreamCouldFollow) {
  auto no_count = SchemaBuilder("d", 1, 1).varray("v", FieldKind::u8, "n", 4).build();
  ASSERT_FALSE(no_count);
  EXPECT_EQ(no_count.error().code, Errc::schema_invalid);
  EXPECT_EQ(no_count.error().field_path, "v");
  auto sub = SchemaBuilder("other/x", 1, 1).build();
  auto bad_sub = SchemaBuilder("d", 1, 1).subsection(*sub, "n").build();
  ASSERT_FALSE(bad_sub);
  auto late = SchemaBuilder("d", 1, 1).scalar("x", FieldKind::u8, since_version(2)).build();
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().field_path, "x");
}

}  // namespace
}  // namespace statewire
