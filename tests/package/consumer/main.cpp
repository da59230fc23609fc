// A program outside the statewire tree: builds a tree, writes it as JSON, reads it back.
#include <cstdio>

#include <statewire/tree_json.hpp>
#include <statewire/value.hpp>

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
  std::puts("ok");
  return 0;
}
