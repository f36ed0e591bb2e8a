// Helpers shared by the pages: formatting of times and sizes.

// fmtDuration formats seconds as 1:02:03 or 2:03.
export function fmtDuration(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
}

// fmtSize formats a byte count.
export function fmtSize(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

// parseTime reads a deep link's time: 12m30s, 1h2m, 90, 90.5s.
export function parseTime(v) {
  if (!v) return 0;
  if (/^\d+(\.\d+)?$/.test(v)) return parseFloat(v);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(v);
  if (!m || !v) return 0;
  return (+m[1] || 0) * 3600 + (+m[2] || 0) * 60 + (parseFloat(m[3]) || 0);
}

// fmtLink formats seconds for a deep link: 12m30s.
export function fmtLink(s) {
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  return (h ? h + "h" : "") + (h || m ? m + "m" : "") + sec + "s";
}

// el creates an element with text.
export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// api fetches JSON from the API, throwing its error message.
export async function api(path) {
  const resp = await fetch("api/" + path, { credentials: "same-origin" });
  const body = await resp.json().catch(() => ({ error: resp.statusText }));
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}
