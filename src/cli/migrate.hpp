// `statewire migrate`'s arguments and its two entry points: one side of a
// migration (run_migrate), or both sides from one command (run_migrate_demo).
#pragma once

#include <cstdint>
#include <string>

namespace statewire::cli {

struct MigrateArgs {
  std::string listen, to;
  bool demo = false;     // both sides: the destination as a child process
  unsigned version = 0;  // 0: examples/vm_model; 1..4: the evolving model's release
  std::string machine;
  std::uint64_t memory_mib = 256;
  double dirty_rate = 0;  // MB/s
  unsigned downtime_ms = 300;
  unsigned max_rounds = 30;
  unsigned channels = 1;
  std::string compress = "none";
  double bandwidth = 0;  // MB/s
  std::string format = "text";
  unsigned timeout_ms = 30000;
  bool quiet = false;
  bool page_crc = false;
};

int run_migrate(const MigrateArgs& a);
// Starts `statewire migrate --listen unix:…` as a child process, migrates
// into it with `a` as the source, and prints both sides' verdicts. The child
// is waited for within a bound and killed if it overstays.
int run_migrate_demo(const MigrateArgs& a);

}  // namespace statewire::cli
