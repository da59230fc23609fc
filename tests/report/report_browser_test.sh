#!/usr/bin/env bash
# `statewire report` pages in a real browser (headless Chromium): each page
# renders (its own script sets data-sw-rendered="ok" on <body>), nothing went
# wrong on the way (no script error, rejected promise, console.error or
# blocked fetch: the page's error hook marks <html data-sw-error> and fills
# #sw-errors; Chromium's console log is scanned too), and a screenshot is
# taken. Two broken copies of a page (a script error, a fetch) must be caught,
# so the checks themselves are known to fail when they should.
#
# Usage: report_browser_test.sh STATEWIRE_CLI CORPUS_DIR [SCREENSHOT_COPY]
# Exit 77 (CTest: skipped) when Chromium is not installed.
set -euo pipefail
cli=$1 corpus=$2 keep=${3:-}
chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $chromium ]]; then
  echo "SKIPPED: chromium is not installed (scripts/install-deps.sh --with-tests installs it)"
  exit 77
fi
work=$(mktemp -d /tmp/statewire-browser-XXXXXX)
trap 'rm -rf "$work"' EXIT

# Every run is bounded; --user-data-dir keeps it off the user's profile.
browse() {
  timeout -k 5 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --disable-extensions --user-data-dir="$work/profile" \
    --enable-logging=stderr --v=0 "$@"
}

# page FILE: 0 when it rendered with no error, else 1 with the reason.
check_page() {
  local page=$1 dom log
  dom="$work/$(basename "$page").dom" log="$work/$(basename "$page").log"
  if ! browse --dump-dom "file://$page" >"$dom" 2>"$log"; then
    echo "chromium failed on $page:"; tail -5 "$log"; return 1
  fi
  if ! grep -q 'data-sw-rendered="ok"' "$dom"; then
    echo "$page: the page's script did not finish rendering"; grep -o '<pre id="sw-errors"[^<]*' "$dom" || true
    return 1
  fi
  if grep -q 'data-sw-error="1"' "$dom"; then
    echo "$page: errors in the page:"; grep -o '<pre id="sw-errors"[^<]*' "$dom"; return 1
  fi
  if grep -q ':CONSOLE' "$log"; then
    echo "$page: console messages:"; grep ':CONSOLE' "$log"; return 1
  fi
  # Only the page's own two scripts: nothing from a stream became a tag.
  local scripts
  scripts=$(grep -o '<script' "$dom" | wc -l)
  if [[ $scripts -ne 2 ]]; then echo "$page: $scripts <script> elements, expected 2"; return 1; fi
  echo "ok: $page ($(grep -o 'rendered: [0-9]* charts' "$dom"))"
}

one="$work/one.html" two="$work/two.html" hostile="$work/hostile.html"
"$cli" report "$corpus/q35-5.2-ahci-hda-running2s.mig" -o "$one"
"$cli" report "$corpus/i440fx-7.2-random-ram-4m-paused.mig" "$corpus/i440fx-4.2-virtio-running2s.mig" -o "$two"

# A stream whose names are markup.
"$cli" convert "$corpus/isapc-ne2k-paused.mig" "$work/s.json" --to json
python3 - "$work/s.json" "$work/h.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for s in j["sections"]:
    if s["name"] == "serial":
        s["name"] = "<script>document.title='pwned';alert(1)</script>"
    if s["name"] == "ram":
        for f in s["fields"]:
            for rec in f.get("items", []):
                for m in rec["fields"]:
                    if m["n"] == "block" and m["v"] == "pc.ram":
                        m["v"] = "\"><img src=x onerror=alert(2)>"
json.dump(j, open(sys.argv[2], "w"))
PY
"$cli" report "$work/h.json" -o "$hostile"

fail=0
for p in "$one" "$two" "$hostile"; do check_page "$p" || fail=1; done
if grep -q '<title>pwned' "$work/hostile.html.dom"; then echo "hostile name ran as script"; fail=1; fi

# The checks must catch a broken page and a page that fetches something.
sed 's|document.getElementById(.sw-status.)|no_such_function()|' "$one" >"$work/broken.html"
sed 's|<footer|<img src="http://example.invalid/x.png"><footer|' "$one" >"$work/fetching.html"
for p in "$work/broken.html" "$work/fetching.html"; do
  if check_page "$p" >/dev/null; then echo "not caught: $p"; fail=1; else echo "caught, as it should be: $p"; fi
done

# A screenshot: a PNG of the window's size with real content.
shot="$work/report.png"
browse --screenshot="$shot" --window-size=1280,1800 --hide-scrollbars "file://$two" >/dev/null 2>&1 || true
if [[ ! -s $shot ]]; then echo "no screenshot"; exit 1; fi
python3 - "$shot" <<'PY' || fail=1
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (1280, 1800), f"size {w}x{h}"
# A blank page compresses to almost nothing; a rendered report does not.
assert len(data) > 40000, f"only {len(data)} bytes: blank?"
print(f"ok: screenshot {w}x{h}, {len(data)} bytes")
PY
[[ -n $keep ]] && cp "$shot" "$keep"
exit $fail
