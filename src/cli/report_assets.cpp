// The report page's inline CSS and scripts (report_assets.hpp).
#include "cli/report_assets.hpp"

namespace statewire::cli {

const char* const kReportStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#111827;background:#f9fafb}
header{background:#111827;color:#f9fafb;padding:14px 24px}
header h1{margin:0;font-size:20px}
header p{margin:2px 0 0;color:#9ca3af}
main{padding:8px 24px 40px;max-width:1200px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:16px 0;padding:12px 16px}
h2{font-size:16px;margin:4px 0 10px}
h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}
table.runs{width:auto;min-width:420px}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #f3f4f6;vertical-align:top}
th{background:#f9fafb;position:sticky;top:0;cursor:pointer;user-select:none}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,monospace;font-size:12px}
.facts td:first-child{color:#6b7280;width:180px}
.cols{display:flex;gap:16px;flex-wrap:wrap}.cols>div{flex:1;min-width:320px}
.warn{background:#fffbeb;border-color:#fcd34d}.bad{background:#fef2f2;border-color:#fca5a5}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px;border:1px solid #d1d5db}
input[type=search]{padding:4px 8px;width:280px;margin-bottom:6px;border:1px solid #d1d5db;border-radius:4px}
.scroll{max-height:480px;overflow:auto}
.muted{color:#6b7280}
.src-opaque{color:#b91c1c}.src-trailer{color:#047857}.src-dump{color:#1d4ed8}.src-registered{color:#7c3aed}
#sw-errors{color:#b91c1c;white-space:pre-wrap}
svg{max-width:100%;height:auto;display:block}
svg text{font:12px system-ui,sans-serif}
)css";

// Runs first, before anything can fail: a script error anywhere lands in the
// page (#sw-errors, data-sw-error), where a reader and the browser test see it.
const char* const kReportErrorHook = R"js(
window.swErrors=[];
function swRecord(t){window.swErrors.push(String(t));document.documentElement.setAttribute('data-sw-error','1');
var e=document.getElementById('sw-errors');if(e){e.textContent+=String(t)+'\n';e.hidden=false;}}
window.addEventListener('error',function(ev){swRecord('error: '+ev.message+' (line '+ev.lineno+')');});
window.addEventListener('unhandledrejection',function(ev){swRecord('rejection: '+ev.reason);});
document.addEventListener('securitypolicyviolation',function(ev){swRecord('blocked: '+ev.violatedDirective+' '+ev.blockedURI);});
(function(){var ce=console.error;console.error=function(){swRecord('console.error: '+Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();
)js";

// Table filters and column sorting; at the end, the marker the browser test
// waits for (data-sw-rendered on <body>).
const char* const kReportScript = R"js(
(function(){
function cellValue(td){var v=td.getAttribute('data-v');return v!==null?parseFloat(v):td.textContent.toLowerCase();}
document.querySelectorAll('input[data-filter]').forEach(function(inp){
  var table=document.getElementById(inp.getAttribute('data-filter'));
  inp.addEventListener('input',function(){var q=inp.value.toLowerCase();var shown=0;
    table.querySelectorAll('tbody tr').forEach(function(tr){var ok=tr.textContent.toLowerCase().indexOf(q)>=0;tr.hidden=!ok;if(ok)shown++;});
    var c=document.getElementById(inp.getAttribute('data-filter')+'-count');if(c)c.textContent=shown+' shown';});
});
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
    var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);var asc=th.getAttribute('data-asc')!=='1';
    table.querySelectorAll('th').forEach(function(h){h.removeAttribute('data-asc');});if(asc)th.setAttribute('data-asc','1');
    rows.sort(function(a,b){var x=cellValue(a.cells[i]),y=cellValue(b.cells[i]);return (x<y?-1:x>y?1:0)*(asc?1:-1);});
    rows.forEach(function(r){body.appendChild(r);});});});
});
var n=document.querySelectorAll('svg').length;
document.getElementById('sw-status').textContent='rendered: '+n+' charts';
document.body.setAttribute('data-sw-rendered',window.swErrors.length?'with-errors':'ok');
})();
)js";

}  // namespace statewire::cli
