// The statewire command-line tool: thin subcommands over the library.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"statewire: versioned, compatible state migration"};
  app.require_subcommand(1);
  statewire::cli::register_commands(app);
  CLI11_PARSE(app, argc, argv);
  return statewire::cli::exit_code();
}
