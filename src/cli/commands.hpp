// Registration of every CLI subcommand. Each subcommand lives in its own file
// (schema_cmd.cpp, demo_cmd.cpp, ...) and adds itself through a register_* call.
#pragma once

#include <CLI/CLI.hpp>

#include "statewire/error.hpp"

namespace statewire::cli {

// Exit codes shared by all subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // the input is bad or a check failed
inline constexpr int kExitUsage = 2;     // wrong arguments (CLI11's own)

void register_commands(CLI::App& app);
void register_schema(CLI::App& app);
void register_check(CLI::App& app);
void register_demo(CLI::App& app);
void register_caps(CLI::App& app);
void register_analyze(CLI::App& app);
void register_convert(CLI::App& app);
void register_show(CLI::App& app);  // show and set
void register_diff(CLI::App& app);
void register_report(CLI::App& app);
void register_plan(CLI::App& app);
void register_migrate(CLI::App& app);
void register_proxy(CLI::App& app);

// An existing file, or "-" for standard input (streams: see MappedFile::open).
inline const CLI::Validator kInputFile =
    CLI::Validator([](std::string& s) { return s == "-" ? std::string() : CLI::ExistingFile(s); },
                   "FILE or -");

// Subcommands run inside CLI11's callbacks; they record their exit code here.
void set_exit_code(int code);
int exit_code();
// Prints "statewire: error: <message>" to stderr and sets kExitFailure.
void report(const Error& e);

}  // namespace statewire::cli
