"""The step-through page's HTML, CSS and JavaScript: one template, no network.

The script reads the steps from the JSON in ``<script id="steps">``; each step names
the nodes and edges to highlight, the label lines it reveals (``data-row``), what it
adds to the "known so far" list, and for a backward step the chain-rule numbers.
The URL's hash picks a step (``page.html#step=5``) and, on a quiz page, can carry
answers to check (``#step=6&local=1&product=3``), so a headless browser sees any step.
"""

from string import Template

__all__ = ["page"]

_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }
main { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
#graph svg { max-width: 100%; height: auto; }
#graph { flex: 1 1 28em; }
aside { flex: 0 1 30em; }
.hidden { visibility: hidden; }
.fresh { fill: #c0392b; font-weight: bold; }
g.active > ellipse, g.active > path, g.active > polygon { stroke: #c0392b; stroke-width: 3; }
g.edge.active > path { stroke: #c0392b; stroke-width: 3; }
g.edge.active > polygon { fill: #c0392b; stroke: #c0392b; }
#rule { font-size: 1.1em; margin: .5em 0; }
#chain td { padding: .2em .6em; text-align: center; }
#chain .op { font-size: 1.3em; }
#chain .head td { font-size: .8em; color: #666; }
#chain input { width: 6em; }
#verdict.right { color: #1e8449; } #verdict.wrong { color: #c0392b; }
button { font-size: 1em; margin-right: .5em; }
#known li { font-family: monospace; }
.nograph { color: #a04000; }
"""

_JS = r"""
const data = JSON.parse(document.getElementById("steps").textContent);
const steps = data.steps;
let current = 0;
const solved = new Set();
const $ = (id) => document.getElementById(id);

function numbers(text) {
  return (text.match(/[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?/gi) || []).map(Number);
}

function close(got, want) {
  return got.length === want.length &&
    got.every((g, i) => Math.abs(g - want[i]) <= data.rtol * Math.abs(want[i]) + data.atol);
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function answerCell(row, key, shown) {
  const step = steps[current];
  if (!data.quiz || solved.has(current) || step.answers[key] === null) return cell(row, shown);
  const td = cell(row, "");
  const input = document.createElement("input");
  input.id = "answer-" + key;
  input.placeholder = "?";
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") check(); });
  td.appendChild(input);
  return td;
}

function showChain(step) {
  const chain = $("chain");
  chain.replaceChildren();
  $("quiz").hidden = !(data.quiz && step.chain && !solved.has(current));
  $("verdict").textContent = "";
  $("verdict").className = "";
  if (!step.chain) return;
  const c = step.chain;
  const head = chain.insertRow();
  head.className = "head";
  [c.local_label, "", c.upstream_label, "", c.product_label].forEach((t) => cell(head, t));
  const row = chain.insertRow();
  answerCell(row, "local", c.local);
  cell(row, "×", "op");
  cell(row, c.upstream);
  cell(row, "=", "op");
  answerCell(row, "product", c.product);
}

function check() {
  const answers = steps[current].answers;
  let right = true;
  for (const key of ["local", "product"]) {
    const input = $("answer-" + key);
    if (input && !close(numbers(input.value), answers[key])) right = false;
  }
  const verdict = $("verdict");
  verdict.textContent = right ? "✓ right: that is what the engine computed" : "✗ not yet: try again";
  verdict.className = right ? "right" : "wrong";
  if (right) reveal();
}

function reveal() {
  const verdict = $("verdict").textContent;
  solved.add(current);
  render();
  $("verdict").textContent = verdict;
}

function render() {
  const step = steps[current];
  const shown = new Set(), known = [];
  for (let i = 0; i <= current; i++) {
    steps[i].show.forEach((r) => shown.add(r));
    known.push(...steps[i].known);
  }
  document.querySelectorAll("[data-row]").forEach((el) => {
    el.classList.toggle("hidden", !shown.has(el.dataset.row));
    el.classList.toggle("fresh", step.show.includes(el.dataset.row));
  });
  document.querySelectorAll("[data-node]").forEach((el) => el.classList.toggle("active", step.nodes.includes(el.dataset.node)));
  document.querySelectorAll("[data-edge]").forEach((el) => el.classList.toggle("active", step.edges.includes(el.dataset.edge)));
  $("counter").textContent = `step ${current} of ${steps.length - 1}`;
  $("title").textContent = step.title;
  $("text").textContent = step.text;
  $("rule").textContent = step.chain ? step.chain.rule : "";
  showChain(step);
  const list = $("known");
  list.replaceChildren(...known.map((k) => { const li = document.createElement("li"); li.textContent = k; return li; }));
  $("prev").disabled = current === 0;
  $("next").disabled = current === steps.length - 1;
}

function go(i) {
  current = Math.max(0, Math.min(steps.length - 1, i));
  try { history.replaceState(null, "", "#step=" + current); } catch (e) { /* some file:// pages refuse */ }
  render();
}

$("prev").addEventListener("click", () => go(current - 1));
$("next").addEventListener("click", () => go(current + 1));
$("check").addEventListener("click", check);
$("show").addEventListener("click", () => { reveal(); $("verdict").textContent = ""; });
document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT") return;
  if (e.key === "ArrowRight" || e.key === " ") { go(current + 1); e.preventDefault(); }
  if (e.key === "ArrowLeft") { go(current - 1); e.preventDefault(); }
});

const params = new URLSearchParams(location.hash.slice(1));
go(Number(params.get("step")) || 0);
if (data.quiz && (params.has("local") || params.has("product"))) {
  for (const key of ["local", "product"]) {
    const input = $("answer-" + key);
    if (input && params.has(key)) input.value = params.get(key);
  }
  check();
}
"""

_SKELETON = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>$css</style>
</head>
<body>
<h1>$title</h1>
<p>$intro Use the buttons or the arrow keys ← →.</p>
<main>
<div id="graph">
$svg
</div>
<aside>
<p id="counter"></p>
<h2 id="title"></h2>
<p id="text"></p>
<div id="rule"></div>
<table id="chain"></table>
<div id="quiz" hidden>
<button id="check">check</button><button id="show">show the answer</button>
</div>
<p id="verdict"></p>
<p><button id="prev">← previous</button><button id="next">next →</button></p>
<h3>Known so far</h3>
<ul id="known"></ul>
</aside>
</main>
<script id="steps" type="application/json">$data</script>
<script>$js</script>
</body>
</html>
""")


def page(*, title: str, intro: str, svg: str, data: str) -> str:
    """The whole page; ``data`` is the steps' JSON, already safe inside ``<script>``."""
    return _SKELETON.substitute(title=title, intro=intro, svg=svg, data=data, css=_CSS, js=_JS)
