// What `statewire report` inlines into every page besides its content: the
// style sheet, the error hook that runs first (script errors, rejected
// promises, console.error and blocked fetches are written into the page, for
// a reader and for the browser test), and the script that runs last (table
// filters and sorting, then the data-sw-rendered marker).
#pragma once

namespace statewire::cli {

extern const char* const kReportStyle;
extern const char* const kReportErrorHook;
extern const char* const kReportScript;

}  // namespace statewire::cli
