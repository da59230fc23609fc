// A program outside the statewire tree: builds a tree, writes it as JSON, reads
// it back; then describes a struct of its own, registers it, and saves and
// loads it through a codec (the templates of the installed headers compile).
#include <cstdio>

#include <statewire/registry.hpp>
#include <statewire/tree_json.hpp>
#include <statewire/value.hpp>

namespace {

struct Counter {
  std::uint32_t ticks = 0;
  std::string name;
};

bool registry_round_trip() {
  const auto d = statewire::describe<Counter>("counter", 1, 1)
                     .field("ticks", &Counter::ticks)
                     .field("name", &Counter::name);
  Counter src{7, "seven"}, dst;
  statewire::Registry out, in;
  if (!out.add(d, src) || !in.add(d, dst)) return false;
  auto codec = statewire::make_codec("framed");
  auto bytes = out.save(*codec);
  return bytes && in.load(*bytes, *codec) && dst.ticks == 7 && dst.name == "seven";
}

}  // namespace

int main() {
  statewire::StateStream s;
  statewire::Section sec;
  sec.name = "consumer";
  sec.version_id = 1;
  sec.body.members.push_back({"answer", std::uint32_t{42}});
  s.sections.push_back(sec);
  auto back = statewire::stream_from_json(statewire::to_json(s));
  if (!back || !(*back == s)) {
    std::puts("round trip failed");
    return 1;
  }
  if (!registry_round_trip()) {
    std::puts("registry round trip failed");
    return 1;
  }
  std::puts("ok");
  return 0;
}
