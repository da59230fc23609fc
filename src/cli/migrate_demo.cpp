// `statewire migrate --demo`: a live migration from one command. The
// destination is this same program, started as a child process listening on
// a unix socket in a fresh temporary directory; this process is the source.
// The user sees the source's states, its progress bar and both verdicts.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "cli/migrate.hpp"

extern char** environ;

namespace statewire::cli {

namespace {

// Waits for the child until `bound`; then asks it to stop (SIGTERM: it
// cancels and applies nothing) and, 2 s later, kills it. Returns its exit
// status, or -1 when it had to be killed.
int reap(pid_t pid, std::chrono::milliseconds bound) {
  using Clock = std::chrono::steady_clock;
  auto wait_until = [pid](Clock::time_point end) -> std::optional<int> {
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      if (r < 0) return -1;
      if (Clock::now() >= end) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  if (auto code = wait_until(Clock::now() + bound)) return *code;
  ::kill(pid, SIGTERM);
  if (auto code = wait_until(Clock::now() + std::chrono::seconds(2))) return *code;
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return -1;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return out;
  }
}

}  // namespace

int run_migrate_demo(const MigrateArgs& a) {
  if (a.format != "text") {
    report(make_error(Errc::invalid_value, "--demo prints text; run --listen and --to for JSON summaries"));
    return kExitUsage;
  }
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    report(make_error(Errc::io_error, "--demo: cannot find this program (/proc/self/exe)"));
    return kExitFailure;
  }
  self[n] = '\0';
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "statewire-demo-XXXXXX").string();
  if (!::mkdtemp(dir_template.data())) {
    report(make_error(Errc::io_error, fmt::format("--demo: cannot make a directory in {}: {}",
                                                  std::filesystem::temp_directory_path().string(),
                                                  std::strerror(errno))));
    return kExitFailure;
  }
  const std::filesystem::path dir = dir_template;
  const std::string addr = "unix:" + (dir / "migrate.sock").string();

  // The destination: the same release; its machine type comes from our hello.
  std::vector<std::string> args = {self, "migrate", "--listen", addr, "--memory",
                                   std::to_string(a.memory_mib), "--timeout-ms",
                                   std::to_string(a.timeout_ms), "--format", "json", "--quiet"};
  if (a.version) args.insert(args.end(), {"--version", std::to_string(a.version)});
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    report(make_error(Errc::io_error, fmt::format("--demo: pipe: {}", std::strerror(errno))));
    std::filesystem::remove_all(dir);
    return kExitFailure;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, self, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    report(make_error(Errc::io_error, fmt::format("--demo: cannot start the destination: {}",
                                                  std::strerror(rc))));
    std::filesystem::remove_all(dir);
    return kExitFailure;
  }
  if (!a.quiet)
    fmt::print(stderr, "statewire migrate --demo: destination started as process {} on {}\n", pid, addr);

  MigrateArgs src = a;
  src.demo = false;
  src.to = addr;
  if (src.dirty_rate == 0) src.dirty_rate = 50;  // a guest that keeps writing, so rounds repeat
  const int source_exit = run_migrate(src);
  std::fflush(stdout);

  // The destination ends on its own once it answered (or failed): bounded.
  const auto bound = std::chrono::milliseconds(source_exit == kExitOk ? a.timeout_ms + 5000 : 3000);
  // Reaped first: its summary (a few hundred bytes) waits in the pipe, and
  // reading until EOF from a child that hangs would never end.
  const int dest_exit = reap(pid, bound);
  const std::string dest_json = read_all(out[0]);
  ::close(out[0]);
  std::filesystem::remove_all(dir);

  const auto j = nlohmann::json::parse(dest_json, nullptr, false);
  if (!j.is_object()) {
    fmt::print("destination (process {}): no summary (exit {})\n", pid, dest_exit);
    return kExitFailure;
  }
  fmt::print("destination (process {}): {} on machine type {}{}\n", pid, j.value("state", "?"),
             j.value("machine_type", "?"),
             j.contains("error") ? ": " + j.value("error", "") : "");
  fmt::print("destination verified: {}\n",
             j.value("verified", false) ? "memory and device state equal the source's" : "NO");
  return source_exit == kExitOk && dest_exit == 0 ? kExitOk : kExitFailure;
}

}  // namespace statewire::cli
