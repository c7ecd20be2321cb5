// ksim report.html: the step-through viewer.
//
// Everything shown comes from the JSON the Rust side embedded (reports/src/viewer.rs): each
// event carries the state cells it changed, with the old and the new text. Stepping
// forward writes the new texts, stepping back writes the old ones, so the page never
// re-derives Raft state and going back restores the previous panel exactly.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("ksim-data").textContent);
  const events = data.events; // [id, t_us, node index or -1, text, changes?]
  const ID = 0, T_US = 1, NODE = 2, TEXT = 3, CHANGES = 4;
  const LIVENESS = 0, ROLE = 1;
  const NNBSP = "\u202f";
  const $ = (id) => document.getElementById(id);

  // The cells of every node at the current position, and the position: the index in
  // `events` of the last event applied.
  const cells = data.initial.map((row) => row.slice());
  let position = -1;

  function changesOf(index) {
    return events[index][CHANGES] || [];
  }
  function applyForward() {
    position += 1;
    for (const [node, field, , now] of changesOf(position)) cells[node][field] = now;
  }
  function applyBackward() {
    const changes = changesOf(position);
    for (let i = changes.length - 1; i >= 0; i -= 1) {
      const [node, field, before] = changes[i];
      cells[node][field] = before;
    }
    position -= 1;
  }
  function goTo(index) {
    if (events.length === 0) return;
    const target = Math.max(0, Math.min(events.length - 1, index));
    while (position < target) applyForward();
    while (position > target) applyBackward();
    render();
  }

  // The last event at or before `tUs` (the first event if `tUs` is before it).
  function indexAtTime(tUs) {
    let lo = 0, hi = events.length - 1, found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (events[mid][T_US] <= tUs) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }
  function indexOfId(id) {
    let lo = 0, hi = events.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const here = events[mid][ID];
      if (here === id) return mid;
      if (here < id) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  function grouped(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, NNBSP);
  }
  function msText(tUs) {
    const ms = Math.floor(tUs / 1000);
    const frac = String(tUs % 1000).padStart(3, "0");
    return grouped(ms) + "." + frac + NNBSP + "ms";
  }

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  const tbody = document.querySelector("#state-panel tbody");
  const rows = data.servers.map((node) => {
    const tr = element("tr");
    tr.dataset.node = data.nodes[node];
    tr.appendChild(element("th", "", data.nodes[node]));
    const tds = data.fields.map(() => tr.appendChild(element("td")));
    tbody.appendChild(tr);
    return { node, tr, tds };
  });

  function render() {
    const here = events[position];
    const changed = new Set(changesOf(position).map(([node, field]) => node + ":" + field));
    for (const { node, tr, tds } of rows) {
      tds.forEach((td, field) => {
        td.textContent = cells[node][field];
        td.className = changed.has(node + ":" + field) ? "changed" : "";
        if (field === ROLE) td.classList.add("role-" + cells[node][field]);
      });
      tr.className = cells[node][LIVENESS];
      if (here[NODE] === node) tr.classList.add("current");
    }
    $("clients").textContent = data.clients.length === 0 ? "" :
      "clients: " + data.clients.map((n) => data.nodes[n] + " " + cells[n][LIVENESS]).join(", ");

    $("position").textContent =
      "event " + grouped(here[ID] + 1) + " of " + grouped(data.total_events) +
      " (e" + here[ID] + ") · t = " + msText(here[T_US]);
    $("current-event").textContent = here[TEXT];

    const faults = $("active-faults");
    faults.replaceChildren();
    for (const fault of data.faults) {
      if (fault.from_event <= here[ID] && here[ID] < fault.to_event) {
        faults.appendChild(element("li", "", fault.label));
      }
    }
    if (!faults.firstChild) faults.appendChild(element("li", "none", "none"));

    const list = $("changes");
    list.replaceChildren();
    for (const [node, field, before, now] of changesOf(position)) {
      list.appendChild(element("li", "", data.nodes[node] + " " + data.fields[field] + ": " + before + " → " + now));
    }
    if (!list.firstChild) list.appendChild(element("li", "none", "no change to the state panel"));

    $("step-back").disabled = position <= 0;
    $("step-start").disabled = position <= 0;
    $("prev-change").disabled = position <= 0;
    $("step-forward").disabled = position >= events.length - 1;
    $("step-end").disabled = position >= events.length - 1;
    $("next-change").disabled = position >= events.length - 1;
    const timeInput = $("jump-time");
    if (document.activeElement !== timeInput) timeInput.value = String(here[T_US] / 1000);
    moveCursor(here[T_US]);
  }

  // The timeline's cursor: a line over the picture, placed with the picture's own time axis.
  const wrap = $("timeline-wrap");
  let cursor = null;
  if (wrap && data.axis) {
    const a = data.axis;
    const ns = "http://www.w3.org/2000/svg";
    const overlay = document.createElementNS(ns, "svg");
    overlay.setAttribute("class", "cursor-overlay");
    overlay.setAttribute("viewBox", "0 0 " + a.width_px + " " + a.height_px);
    overlay.setAttribute("preserveAspectRatio", "none");
    overlay.setAttribute("aria-hidden", "true");
    cursor = document.createElementNS(ns, "line");
    cursor.setAttribute("id", "timeline-cursor");
    cursor.setAttribute("y1", String(a.top_px));
    cursor.setAttribute("y2", String(a.bottom_px));
    cursor.setAttribute("stroke", "#d62728");
    cursor.setAttribute("stroke-width", "2");
    cursor.setAttribute("vector-effect", "non-scaling-stroke");
    overlay.appendChild(cursor);
    wrap.appendChild(overlay);
    wrap.addEventListener("click", (event) => {
      const box = wrap.getBoundingClientRect();
      const x = (event.clientX - box.left) / box.width * a.width_px;
      const share = (x - a.left_px) / Math.max(1e-9, a.right_px - a.left_px);
      const tUs = a.start_us + Math.max(0, Math.min(1, share)) * (a.end_us - a.start_us);
      goTo(indexAtTime(Math.round(tUs)));
    });
  }
  function moveCursor(tUs) {
    if (!cursor) return;
    const a = data.axis;
    const span = Math.max(1, a.end_us - a.start_us);
    const t = Math.max(a.start_us, Math.min(Math.max(a.start_us, a.end_us), tUs));
    const x = a.left_px + (t - a.start_us) / span * (a.right_px - a.left_px);
    cursor.setAttribute("x1", String(x));
    cursor.setAttribute("x2", String(x));
    cursor.dataset.tUs = String(tUs);
  }

  function stepToChange(direction) {
    let i = position + direction;
    while (i > 0 && i < events.length - 1 && changesOf(i).length === 0) i += direction;
    goTo(i);
  }
  function jumpToTime() {
    const ms = Number($("jump-time").value);
    if ($("jump-time").value.trim() === "" || !Number.isFinite(ms)) return;
    goTo(indexAtTime(Math.round(ms * 1000)));
  }

  $("step-forward").addEventListener("click", () => goTo(position + 1));
  $("step-back").addEventListener("click", () => goTo(position - 1));
  $("step-start").addEventListener("click", () => goTo(0));
  $("step-end").addEventListener("click", () => goTo(events.length - 1));
  $("next-change").addEventListener("click", () => stepToChange(1));
  $("prev-change").addEventListener("click", () => stepToChange(-1));
  $("jump").addEventListener("click", jumpToTime);
  $("jump-time").addEventListener("keydown", (event) => {
    if (event.key === "Enter") jumpToTime();
  });
  document.addEventListener("keydown", (event) => {
    const tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowRight") {
      if (event.shiftKey) stepToChange(1); else goTo(position + 1);
      event.preventDefault();
    } else if (event.key === "ArrowLeft") {
      if (event.shiftKey) stepToChange(-1); else goTo(position - 1);
      event.preventDefault();
    }
  });

  for (const link of document.querySelectorAll(".evidence-link")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      if (link.dataset.event !== undefined) {
        const index = indexOfId(Number(link.dataset.event));
        if (index >= 0) goTo(index);
      } else if (link.dataset.tUs !== undefined) {
        goTo(indexAtTime(Number(link.dataset.tUs)));
      }
      $("viewer").scrollIntoView({ block: "start" });
    });
  }

  // Fork here: this run's schedule plus one fault at the current time, as a file and the
  // command that runs it.
  function forkFault(atMs) {
    const kind = $("fork-kind").value;
    const node = $("fork-node").value;
    const lines = ["# added by \"fork here\" at e" + events[position][ID], "[[faults]]", "at_ms = " + atMs, 'op = "' + kind + '"'];
    if (kind !== "heal") lines.push('node = "' + node + '"');
    if (kind === "disk-stall") {
      const duration = Math.max(1, Math.floor(Number($("fork-duration").value) || 1000));
      lines.push("duration_ms = " + duration);
    }
    return lines.join("\n") + "\n";
  }
  function forkCommand() {
    const atMs = Math.floor(events[position][T_US] / 1000);
    const blocks = data.fork.schedule.map((f) => f.toml);
    // After every scheduled fault at or before the new one's time: ops at the same
    // millisecond apply in file order, and the new fault is the one added "here".
    let insertAt = 0;
    data.fork.schedule.forEach((f, i) => { if (f.at_ms <= atMs) insertAt = i + 1; });
    blocks.splice(insertAt, 0, forkFault(atMs));
    return "cat > fork-faults.toml <<'EOF'\n" + blocks.join("\n") + "EOF\n" +
      data.fork.rerun + " --faults fork-faults.toml\n";
  }
  function updateFork() {
    $("fork-duration").disabled = $("fork-kind").value !== "disk-stall";
    $("fork-node").disabled = $("fork-kind").value === "heal";
  }
  $("fork").addEventListener("click", () => {
    $("fork-command").textContent = forkCommand();
  });
  $("fork-kind").addEventListener("change", updateFork);
  updateFork();

  goTo(0);
})();
