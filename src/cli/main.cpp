// The statewire command-line tool: thin subcommands over the library.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.hpp"

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

// "statewire analyse x" -> did you mean "analyze"? (a typo within 2 edits,
// or a prefix of exactly one command).
std::string suggestion(const CLI::App& app, std::string_view word) {
  std::string best;
  std::size_t best_d = 3;
  std::vector<std::string> prefixed;
  for (const CLI::App* sub : app.get_subcommands({})) {
    const std::string& name = sub->get_name();
    const std::size_t d = edit_distance(word, name);
    if (d < best_d) best_d = d, best = name;
    if (!word.empty() && name.rfind(word, 0) == 0) prefixed.push_back(name);
  }
  if (best.empty() && prefixed.size() == 1) best = prefixed.front();
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"statewire: versioned, compatible state migration"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("statewire ") + STATEWIRE_VERSION);
  app.option_defaults()->always_capture_default();
  app.footer(
      "Exit codes: 0 success; 1 bad input, a failed check, or (diff) differences found; 2 wrong "
      "arguments (check: also unreadable input). Run 'statewire COMMAND --help' for a command.");
  statewire::cli::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // An unknown first word is a mistyped command more often than not.
    if (argc > 1 && argv[1][0] != '-') {
      bool known = false;
      for (const CLI::App* sub : app.get_subcommands({})) known = known || sub->get_name() == argv[1];
      if (!known) {
        const std::string s = suggestion(app, argv[1]);
        fmt::print(stderr, "statewire: unknown command \"{}\"{}\n", argv[1],
                   s.empty() ? std::string() : fmt::format("; did you mean \"{}\"?", s));
        return statewire::cli::kExitUsage;
      }
    }
    // CLI11's own codes are 100+; the documented one for wrong arguments is 2.
    return app.exit(e) == 0 ? 0 : statewire::cli::kExitUsage;
  }
  return statewire::cli::exit_code();
}
