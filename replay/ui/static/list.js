// The browser page: recordings newest first, paged by cursor, filtered
// on the server.
import { api, el, fmtDuration, fmtSize } from "./common.js";

const tbody = document.querySelector("#recordings tbody");
const more = document.getElementById("more");
const form = document.getElementById("filters");
const errorBox = document.getElementById("error");
let next = "";

function query() {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
  return p;
}

function row(r) {
  const tr = el("tr");
  tr.dataset.name = r.name;
  const m = r.meta || {};
  const link = "play.html?name=" + encodeURIComponent(r.name);
  const thumb = el("td", undefined, "thumb");
  const a = el("a");
  a.href = link;
  const img = el("img");
  img.loading = "lazy";
  img.alt = "";
  img.src = "api/thumb?w=120&name=" + encodeURIComponent(r.name);
  a.append(img);
  thumb.append(a);
  const client = m.client || "";
  const real = m.real_client && m.real_client !== client ? " (" + m.real_client + ")" : "";
  const cells = [
    new Date(r.time).toLocaleString(),
    fmtDuration(r.duration_ns / 1e9),
    m.user || "",
    client + real,
    m.target || "",
    m.token || "",
    fmtSize(r.size),
  ];
  tr.append(thumb);
  for (const c of cells) tr.append(el("td", c));
  const integ = el("td");
  integ.append(el("span", r.integrity, "badge " + r.integrity));
  tr.append(integ);
  const name = el("td");
  const na = el("a", r.name);
  na.href = link;
  name.append(na);
  tr.append(name);
  return tr;
}

async function load(append) {
  const p = query();
  if (append && next) p.set("cursor", next);
  errorBox.hidden = true;
  try {
    const page = await api("recordings?" + p);
    if (!append) tbody.replaceChildren();
    for (const r of page.recordings) tbody.append(row(r));
    next = page.next || "";
    more.hidden = !next;
    document.getElementById("total").textContent = page.total + " recordings";
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  } catch (e) {
    errorBox.textContent = e.message;
    errorBox.hidden = false;
  }
}

form.addEventListener("submit", (e) => { e.preventDefault(); load(false); });
form.addEventListener("reset", () => setTimeout(() => load(false)));
more.addEventListener("click", () => load(true));
// Filters from the page's query string: index.html?user=alice
for (const [k, v] of new URLSearchParams(location.search)) {
  const input = form.elements.namedItem(k);
  if (input) input.value = v;
}
load(false);
