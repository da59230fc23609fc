#include "cli/commands.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace statewire::cli {

namespace {
int g_exit_code = kExitOk;
}

void set_exit_code(int code) { g_exit_code = code; }
int exit_code() { return g_exit_code; }

void report(const Error& e) {
  fmt::print(stderr, "statewire: error: {} [{}]\n", e.to_string(), errc_name(e.code));
  set_exit_code(kExitFailure);
}

void register_commands(CLI::App& app) {
  register_schema(app);
  register_caps(app);
  register_check(app);
  register_analyze(app);
  register_convert(app);
  register_show(app);
  register_diff(app);
  register_report(app);
  register_plan(app);
  register_migrate(app);
  register_proxy(app);
  register_demo(app);
}

}  // namespace statewire::cli
