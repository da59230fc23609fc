// The statewire command-line tool: thin subcommands over the library.
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"statewire: versioned, compatible state migration"};
  app.require_subcommand(1);
  statewire::cli::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes are 100+; the documented one for wrong arguments is 2.
    return app.exit(e) == 0 ? 0 : statewire::cli::kExitUsage;
  }
  return statewire::cli::exit_code();
}
