// Drives a ksim report.html in headless Chromium and checks the step-through viewer against
// what the Rust replay computed.
//
//   node tests/browser/step_through.mjs <report.html> <expected.json> [screenshot.png]
//
// expected.json (written by tests/tests/report_browser.rs):
//   rows_start      state-panel rows at the first event: [[node, liveness, role, term,
//                   leader, last index, commit], ...]
//   steps           how many times to step forward
//   rows_before_last, rows_after_steps
//                   the rows after steps - 1 and after steps forward
//   expect_text     strings the panel must contain after the steps (a role, a term)
//   jump_ms, jump_id, rows_at_jump
//                   a time to jump to, the event id the viewer must land on, its rows
//   fork_kind, fork_node, fork_at_ms, rerun
//                   the fork to ask for and what its command must say
//   fork_out        where to write the fork command's text, for the Rust side to parse
//
// Exits 0 when every check passes; otherwise prints what failed and exits 1. Any console
// error or uncaught page error fails the run.

import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
// Without the background-networking flags Chromium reaches for Google's services on
// start, and this closed network refuses the connections (noise at best, a hang at worst).
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const [reportPath, expectedPath, screenshotPath] = process.argv.slice(2);
if (!reportPath || !expectedPath) {
  console.error("usage: node step_through.mjs <report.html> <expected.json> [screenshot.png]");
  process.exit(2);
}
const expected = JSON.parse(readFileSync(expectedPath, "utf8"));

const failures = [];
function check(condition, message) {
  if (!condition) failures.push(message);
  return condition;
}
function same(actual, wanted, what) {
  const a = JSON.stringify(actual);
  const w = JSON.stringify(wanted);
  return check(a === w, `${what}:\n  expected ${w}\n  got      ${a}`);
}

const profile = mkdtempSync(join(tmpdir(), "ksim-chromium-"));
let browser;
try {
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const problems = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // The report must not fetch anything: every request other than the file itself fails
  // the test.
  const fileUrl = pathToFileURL(resolve(reportPath)).href;
  page.on("request", (request) => {
    if (request.url() !== fileUrl && !request.url().startsWith("data:")) {
      problems.push(`the page requested ${request.url()}`);
    }
  });

  await page.goto(fileUrl, { waitUntil: "load" });

  const rows = () =>
    page.$$eval("#state-panel tbody tr", (trs) =>
      trs.map((tr) => Array.from(tr.children, (cell) => cell.textContent)),
    );
  const panelText = () => page.$eval("#state-panel", (el) => el.innerText);
  const position = () => page.$eval("#position", (el) => el.textContent);
  const positionId = async () => {
    const match = /\(e(\d+)\)/.exec(await position());
    return match ? Number(match[1]) : -1;
  };

  // At the start.
  same(await rows(), expected.rows_start, "state panel at the first event");
  check(/^event 1 of /.test(await position()), `position line at the start: ${await position()}`);
  const startText = await panelText();

  // Forward, checking the last step changes the panel and stepping back undoes it exactly.
  for (let i = 0; i < expected.steps - 1; i += 1) await page.click("#step-forward");
  same(await rows(), expected.rows_before_last, `state panel after ${expected.steps - 1} steps`);
  const beforeLast = await panelText();
  const changedCount = await page.$$eval("#state-panel td.changed", (tds) => tds.length);
  await page.click("#step-forward");
  const afterSteps = await panelText();
  same(await rows(), expected.rows_after_steps, `state panel after ${expected.steps} steps`);
  check(afterSteps !== beforeLast, "the last step forward did not change the state panel");
  check(afterSteps !== startText, "stepping forward never changed the state panel");
  for (const text of expected.expect_text) {
    check(afterSteps.includes(text), `state panel lacks "${text}" after the steps:\n${afterSteps}`);
  }
  check(
    (await page.$$eval("#state-panel td.changed", (tds) => tds.length)) > 0,
    "no cell is highlighted as changed after a changing step",
  );
  await page.click("#step-back");
  check(
    (await panelText()) === beforeLast,
    `stepping back did not restore the panel exactly:\n--- before\n${beforeLast}\n--- after back\n${await panelText()}`,
  );
  check(
    (await page.$$eval("#state-panel td.changed", (tds) => tds.length)) === changedCount,
    "stepping back did not restore the highlighted cells",
  );

  // The keyboard steps too.
  await page.focus("body");
  await page.keyboard.press("ArrowRight");
  check((await panelText()) === afterSteps, "ArrowRight did not step forward");
  await page.keyboard.press("ArrowLeft");
  check((await panelText()) === beforeLast, "ArrowLeft did not step back");

  // Jump to a time.
  await page.fill("#jump-time", String(expected.jump_ms));
  await page.click("#jump");
  check((await positionId()) === expected.jump_id, `jump to ${expected.jump_ms} ms landed on ${await position()}, expected e${expected.jump_id}`);
  same(await rows(), expected.rows_at_jump, `state panel after jumping to ${expected.jump_ms} ms`);
  const cursor = await page.$("#timeline-cursor");
  if (check(cursor !== null, "the timeline has no cursor line")) {
    const t = await cursor.getAttribute("data-t-us");
    const x = Number(await cursor.getAttribute("x1"));
    check(Number.isFinite(x) && x > 0, `cursor x is ${x}`);
    check(t !== null && Math.floor(Number(t) / 1000) <= expected.jump_ms, `cursor time ${t} is after the jump`);
  }
  const activeFaults = await page.$eval("#active-faults", (el) => el.innerText);
  if (expected.faults_at_jump.length === 0) {
    check(activeFaults.trim() === "none", `active faults at the jump: ${activeFaults}`);
  } else {
    for (const label of expected.faults_at_jump) {
      check(activeFaults.includes(label), `active faults at the jump lack "${label}": ${activeFaults}`);
    }
  }

  // Evidence links jump to their event.
  const links = await page.$$(".evidence-link[data-event]");
  check(links.length === expected.evidence_links, `${links.length} evidence links, expected ${expected.evidence_links}`);
  if (links.length > 0) {
    const id = Number(await links[0].getAttribute("data-event"));
    await links[0].click();
    check((await positionId()) === id, `evidence link e${id} landed on ${await position()}`);
    await page.click("#step-forward");
    await page.click("#step-back");
    check((await positionId()) === id, "stepping around the evidence event moved the viewer");
  }

  // Fork here, at the jump's event.
  await page.fill("#jump-time", String(expected.jump_ms));
  await page.click("#jump");
  await page.selectOption("#fork-kind", expected.fork_kind);
  await page.selectOption("#fork-node", expected.fork_node);
  await page.click("#fork");
  const fork = await page.$eval("#fork-command", (el) => el.textContent);
  check(fork.startsWith("cat > fork-faults.toml <<'EOF'\n"), `fork command does not start with the heredoc:\n${fork}`);
  check(fork.includes(`\nat_ms = ${expected.fork_at_ms}\nop = "${expected.fork_kind}"\nnode = "${expected.fork_node}"\n`),
    `fork command lacks the new fault at ${expected.fork_at_ms} ms:\n${fork}`);
  check(fork.endsWith(`\nEOF\n${expected.rerun} --faults fork-faults.toml\n`), `fork command does not end with the rerun:\n${fork}`);
  writeFileSync(expected.fork_out, fork);

  if (screenshotPath) {
    await page.click("#step-forward");
    await page.screenshot({ path: screenshotPath, fullPage: true });
  }

  for (const problem of problems) failures.push(problem);
} catch (error) {
  failures.push(`the browser run failed: ${error.stack ?? error}`);
} finally {
  if (browser) await browser.close();
  rmSync(profile, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`report viewer check FAILED (${failures.length}):`);
  for (const failure of failures) console.error(`- ${failure}`);
  process.exit(1);
}
console.log("report viewer check passed");
