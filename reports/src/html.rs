//! `report.html`: one self-contained page per run: the verdict with its evidence, every
//! picture inline, and a step-through viewer of the trace.
//!
//! The page is a single file with no network access (inline CSS, SVG and script, system
//! fonts), so it can be mailed, attached to an issue or opened in a classroom without a
//! server. The viewer's data is computed in Rust ([`crate::viewer`]) and embedded as JSON;
//! the script (`report.js`) only moves through it. The same run renders to the same bytes:
//! nothing here reads a clock or iterates a hash map.

use std::fmt::Write;

use sim_core::{CheckKind, Outcome, Status, TimedFault};

use crate::input::RunFolder;
use crate::model::RunModel;
use crate::svg::escape;
use crate::viewer::{ViewerData, ViewerLimits};
use crate::TimeAxis;

/// The id of the `<script type="application/json">` element that holds the viewer's data.
pub const DATA_ELEMENT_ID: &str = "ksim-data";

/// The name the fork command gives the fault file it writes.
pub const FORK_FAULTS_FILE: &str = "fork-faults.toml";

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// The pictures other renderers drew, to be placed inline. Any of them may be missing (a
/// scenario without partitions has no storyboard); the page leaves its section out.
#[derive(Clone, Debug, Default)]
pub struct Pictures<'a> {
    /// The timeline SVG and how it maps time to x (the viewer draws its cursor with it).
    pub timeline: Option<(&'a str, TimeAxis)>,
    /// The sequence diagram SVG and a note on what window it shows.
    pub sequence: Option<(&'a str, &'a str)>,
    /// The storyboard SVG.
    pub storyboard: Option<&'a str>,
    /// The scenario's charts: title, caption, SVG.
    pub charts: Vec<(&'a str, &'a str, &'a str)>,
}

/// Renders the report with the viewer holding the whole run (up to
/// [`crate::viewer::MAX_VIEWER_EVENTS`] events).
///
/// `run_dir` is the run folder as the reader should type it in the replay and rerun
/// commands (usually the `--out` path `ksim run` was given).
pub fn render(run: &RunFolder, model: &RunModel, pictures: &Pictures<'_>, run_dir: &str) -> String {
    render_with(run, model, pictures, run_dir, ViewerLimits::default())
}

/// Renders the report with the viewer holding the events `limits` allows.
pub fn render_with(
    run: &RunFolder,
    model: &RunModel,
    pictures: &Pictures<'_>,
    run_dir: &str,
    limits: ViewerLimits,
) -> String {
    let rerun = rerun_command(run, run_dir);
    let data = ViewerData::build(
        &run.trace,
        model,
        limits,
        pictures.timeline.map(|(_, axis)| axis),
        rerun.clone(),
        schedule_of(run),
    );
    let mut page = String::with_capacity(1 << 20);
    let title = format!(
        "ksim · {} · seed {} · {}",
        run.scenario_name(),
        run.seed(),
        status_text(run.verdict.status)
    );
    let _ = write!(
        page,
        concat!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
            "<title>{title}</title>\n<style>\n{style}</style>\n</head>\n<body>\n"
        ),
        title = escape(&title),
        style = STYLE
    );
    header(&mut page, run, model, run_dir, &rerun);
    contents(&mut page, pictures);
    page.push_str("<main>\n");
    verdict(&mut page, run, &data);
    if let Some((svg, _)) = pictures.timeline {
        timeline(&mut page, svg);
    }
    viewer(&mut page, &data, model);
    if let Some((svg, note)) = pictures.sequence {
        figure(&mut page, "sequence", "Sequence diagram", svg, note);
    }
    if let Some(svg) = pictures.storyboard {
        figure(
            &mut page,
            "storyboard",
            "Storyboard",
            svg,
            "What every node believed before, during and after the run's first partition.",
        );
    }
    if !pictures.charts.is_empty() {
        page.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
        for (title, caption, svg) in &pictures.charts {
            let _ = write!(
                page,
                "<figure class=\"picture chart\">\n<h3>{}</h3>\n<div class=\"svg-wrap\">\n{}</div>\n<figcaption>{}</figcaption>\n</figure>\n",
                escape(title),
                inline_svg(svg),
                escape(caption)
            );
        }
        page.push_str("</section>\n");
    }
    let _ = write!(
        page,
        concat!(
            "<section id=\"scenario\">\n<h2>Scenario file</h2>\n",
            "<p>The exact configuration and fault schedule this run used ",
            "(<code>{dir}/scenario.toml</code>).</p>\n",
            "<details><summary>scenario.toml</summary>\n<pre>{toml}</pre>\n</details>\n</section>\n"
        ),
        dir = escape(run_dir),
        toml = escape(&run.scenario_toml)
    );
    page.push_str("</main>\n");
    let _ = write!(
        page,
        "<script type=\"application/json\" id=\"{DATA_ELEMENT_ID}\">{}</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        data.to_json()
    );
    page
}

/// `ksim replay <run_dir>`: reruns the folder's scenario file and compares trace hashes.
pub fn replay_command(run_dir: &str) -> String {
    format!("ksim replay {}", shell_quote(run_dir))
}

/// `ksim run <scenario> --seed <seed> [--mutant m ...] --config <run_dir>/scenario.toml`:
/// the command that runs this run again (and the base the fork command adds faults to).
pub fn rerun_command(run: &RunFolder, run_dir: &str) -> String {
    let mut command = format!(
        "ksim run {} --seed {}",
        shell_quote(run.scenario_name()),
        run.seed()
    );
    for mutant in run.mutants() {
        let _ = write!(command, " --mutant {}", shell_quote(&mutant));
    }
    let config = format!("{}/scenario.toml", run_dir.trim_end_matches('/'));
    let _ = write!(command, " --config {}", shell_quote(&config));
    command
}

/// The run's fault schedule, from `scenario.toml`'s `faults` array (empty if it has none).
/// Its nodes may be named (`etcd-1`, `servers`): the trace's directory says who they are.
///
/// # Errors
///
/// A `faults` entry that is not a fault op (the message says which).
pub fn schedule_of(run: &RunFolder) -> Result<Vec<TimedFault>, String> {
    let Some(faults) = run.scenario.get("faults") else {
        return Ok(Vec::new());
    };
    let directory = run.trace.directory();
    let text = toml::to_string(&toml::Table::from_iter([(
        "faults".to_string(),
        faults.clone(),
    )]))
    .map_err(|e| format!("scenario.toml's faults cannot be read: {e}"))?;
    let schedule = if directory.is_empty() {
        sim_core::FaultSchedule::from_toml(&text, "scenario.toml [faults]")
    } else {
        sim_core::FaultSchedule::from_toml_in(&text, "scenario.toml [faults]", &directory)
    };
    schedule
        .map(|s| s.faults)
        .map_err(|e| format!("scenario.toml's faults cannot be read: {e}"))
}

/// Quotes a word for a POSIX shell if it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `PASS (exit 0)`, `SAFETY VIOLATION (exit 3)`, ...
pub fn status_text(status: Status) -> String {
    let name = match status {
        Status::Pass => "PASS",
        Status::SafetyViolation => "SAFETY VIOLATION",
        Status::LivenessViolation => "LIVENESS VIOLATION",
        Status::Undecided => "UNDECIDED",
    };
    format!("{name} (exit {})", status.exit_code())
}

fn status_class(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::SafetyViolation | Status::LivenessViolation => "violation",
        Status::Undecided => "unknown",
    }
}

/// Milliseconds with three decimals and thin-space thousands groups: `2 001.500 ms`, as the
/// viewer's script writes them.
pub fn ms_text(t_us: u64) -> String {
    format!(
        "{}.{:03}\u{202f}ms",
        group_thousands(t_us / 1000),
        t_us % 1000
    )
}

/// `20986` → `20 986` (narrow no-break spaces, so a number never wraps).
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

fn header(page: &mut String, run: &RunFolder, model: &RunModel, run_dir: &str, rerun: &str) {
    let verdict = &run.verdict;
    let mutants = run.mutants();
    let mutants = if mutants.is_empty() {
        "none".to_string()
    } else {
        mutants.join(", ")
    };
    let nodes = |list: &[sim_core::NodeId]| {
        if list.is_empty() {
            "none".to_string()
        } else {
            list.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = write!(
        page,
        concat!(
            "<header>\n<h1><span class=\"scenario\">{scenario}</span> <span class=\"seed\">seed {seed}</span> ",
            "<span class=\"status {class}\" id=\"status\">{status}</span></h1>\n",
            "<dl class=\"facts\">\n",
            "<div><dt>mutants</dt><dd>{mutants}</dd></div>\n",
            "<div><dt>servers</dt><dd>{servers}</dd></div>\n",
            "<div><dt>clients</dt><dd>{clients}</dd></div>\n",
            "<div><dt>events</dt><dd>{events}</dd></div>\n",
            "<div><dt>virtual time</dt><dd>{end}</dd></div>\n",
            "<div><dt>trace hash</dt><dd><code>{hash}</code></dd></div>\n",
            "</dl>\n",
            "<dl class=\"commands\">\n",
            "<div><dt>replay (same trace, compared by hash)</dt><dd><code id=\"replay-command\">{replay}</code></dd></div>\n",
            "<div><dt>rerun</dt><dd><code id=\"rerun-command\">{rerun}</code></dd></div>\n",
            "</dl>\n</header>\n"
        ),
        scenario = escape(&verdict.scenario),
        seed = verdict.seed,
        class = status_class(verdict.status),
        status = escape(&status_text(verdict.status)),
        mutants = escape(&mutants),
        servers = escape(&nodes(&model.servers)),
        clients = escape(&nodes(&model.clients)),
        events = group_thousands(verdict.events as u64),
        end = ms_text(model.end_us),
        hash = escape(&verdict.trace_hash.0),
        replay = escape(&replay_command(run_dir)),
        rerun = escape(rerun),
    );
}

fn contents(page: &mut String, pictures: &Pictures<'_>) {
    page.push_str("<nav>\n<a href=\"#verdict\">Verdict</a>\n");
    if pictures.timeline.is_some() {
        page.push_str("<a href=\"#timeline\">Timeline</a>\n");
    }
    page.push_str(
        "<a href=\"#viewer\">Step through</a>\n<a href=\"#fork-section\">Fork here</a>\n",
    );
    if pictures.sequence.is_some() {
        page.push_str("<a href=\"#sequence\">Sequence diagram</a>\n");
    }
    if pictures.storyboard.is_some() {
        page.push_str("<a href=\"#storyboard\">Storyboard</a>\n");
    }
    if !pictures.charts.is_empty() {
        page.push_str("<a href=\"#charts\">Charts</a>\n");
    }
    page.push_str("<a href=\"#scenario\">Scenario file</a>\n</nav>\n");
}

fn verdict(page: &mut String, run: &RunFolder, data: &ViewerData) {
    let held = |id: u64| data.events.binary_search_by_key(&id, |e| e.id).is_ok();
    page.push_str(concat!(
        "<section id=\"verdict\">\n<h2>Verdict</h2>\n",
        "<table class=\"checks\">\n<thead><tr><th>check</th><th>kind</th><th>outcome</th>",
        "<th>what it found</th></tr></thead>\n<tbody>\n"
    ));
    for check in &run.verdict.checks {
        let kind = check.kind.label();
        let outcome = check.outcome.label();
        let class = match &check.outcome {
            Outcome::NotApplicable { .. } | Outcome::NotReached { .. } => "story-missing",
            other => other.label(),
        };
        let _ = write!(
            page,
            "<tr class=\"check {class}\"><td class=\"check-name\">{}</td><td>{kind}</td><td><span class=\"badge {class}\">{outcome}</span></td><td>",
            escape(&check.name)
        );
        match &check.outcome {
            Outcome::Pass if check.kind == CheckKind::Sometimes => {
                page.push_str("the story happened")
            }
            Outcome::Pass => page.push_str("held throughout the run"),
            Outcome::Unknown { reason } | Outcome::NotApplicable { reason } => {
                let _ = write!(page, "<p>{}</p>", escape(reason));
            }
            Outcome::NotReached { message } => {
                let _ = write!(page, "<p>{}</p>", escape(message));
            }
            Outcome::Violation { message, evidence } => {
                let _ = write!(page, "<p class=\"message\">{}</p>", escape(message));
                if !evidence.is_empty() {
                    page.push_str("<ul class=\"evidence\">");
                    for item in evidence {
                        page.push_str("<li>");
                        let place = match (item.t_us, item.node) {
                            (Some(t), Some(n)) => format!(" at {} on {n}", ms_text(t.0)),
                            (Some(t), None) => format!(" at {}", ms_text(t.0)),
                            (None, Some(n)) => format!(" on {n}"),
                            (None, None) => String::new(),
                        };
                        match (item.event, item.t_us) {
                            (Some(event), _) if held(event.0) => {
                                let _ = write!(
                                    page,
                                    "<a class=\"evidence-link\" href=\"#viewer\" data-event=\"{}\">{event}{place}</a>: ",
                                    event.0
                                );
                            }
                            (Some(event), _) => {
                                let _ = write!(
                                    page,
                                    "<span class=\"outside\" title=\"not among the events the viewer holds\">{event}{place}</span>: "
                                );
                            }
                            (None, Some(t)) => {
                                let _ = write!(
                                    page,
                                    "<a class=\"evidence-link\" href=\"#viewer\" data-t-us=\"{}\">{}</a>: ",
                                    t.0,
                                    place.trim_start()
                                );
                            }
                            (None, None) => {}
                        }
                        let _ = write!(page, "{}</li>", escape(&item.note));
                    }
                    page.push_str("</ul>");
                }
            }
        }
        page.push_str("</td></tr>\n");
    }
    page.push_str("</tbody>\n</table>\n</section>\n");
}

fn timeline(page: &mut String, svg: &str) {
    page.push_str(concat!(
        "<section id=\"timeline\">\n<h2>Timeline</h2>\n",
        "<figure class=\"picture\">\n<div class=\"svg-wrap\" id=\"timeline-wrap\">\n"
    ));
    page.push_str(&inline_svg(svg));
    page.push_str(concat!(
        "</div>\n<figcaption>Each server's role over time, coloured by term, with the faults ",
        "and the clients' operations. The red line is the step-through viewer's current ",
        "time; click the timeline to move the viewer there.</figcaption>\n</figure>\n</section>\n"
    ));
}

fn figure(page: &mut String, id: &str, title: &str, svg: &str, note: &str) {
    let _ = write!(
        page,
        "<section id=\"{id}\">\n<h2>{}</h2>\n<figure class=\"picture\">\n<div class=\"svg-wrap\">\n{}</div>\n<figcaption>{}</figcaption>\n</figure>\n</section>\n",
        escape(title),
        inline_svg(svg),
        escape(note)
    );
}

fn viewer(page: &mut String, data: &ViewerData, model: &RunModel) {
    page.push_str("<section id=\"viewer\">\n<h2>Step through the run</h2>\n");
    let held = data.events.len();
    if data.skipped_before > 0 || data.skipped_after > 0 {
        let (first, last) = match (data.events.first(), data.events.last()) {
            (Some(first), Some(last)) => (
                format!("e{} at {}", first.id, ms_text(first.t_us)),
                format!("e{} at {}", last.id, ms_text(last.t_us)),
            ),
            _ => ("none".to_string(), "none".to_string()),
        };
        let start = if data.skipped_before == 0 {
            "It starts at the beginning of the run.".to_string()
        } else {
            format!(
                "It starts from the state that the {} earlier events left.",
                group_thousands(data.skipped_before as u64)
            )
        };
        let _ = writeln!(
            page,
            "<p class=\"note\" id=\"window-note\">This run has {} events; the viewer holds {} of \
             them, from {first} to {last}. {start}</p>",
            group_thousands(data.total_events as u64),
            group_thousands(held as u64),
        );
    }
    page.push_str(concat!(
        "<p class=\"hint\">Each step is one trace event. The state panel shows what every server ",
        "believed after it, as replayed from the trace. Keys: ← → step, Shift+← → jump to the ",
        "previous or next state change.</p>\n",
        "<div class=\"controls\">\n",
        "<button id=\"step-start\" title=\"first event\">|◀ start</button>\n",
        "<button id=\"prev-change\" title=\"previous event that changed the state (Shift+←)\">◀◀ change</button>\n",
        "<button id=\"step-back\" title=\"previous event (←)\">◀ back</button>\n",
        "<button id=\"step-forward\" title=\"next event (→)\">forward ▶</button>\n",
        "<button id=\"next-change\" title=\"next event that changes the state (Shift+→)\">change ▶▶</button>\n",
        "<button id=\"step-end\" title=\"last event\">end ▶|</button>\n",
        "<span class=\"jump\"><label for=\"jump-time\">time (ms)</label>",
        "<input id=\"jump-time\" type=\"number\" min=\"0\" step=\"any\" inputmode=\"decimal\">",
        "<button id=\"jump\">jump</button></span>\n",
        "</div>\n",
        "<div id=\"position\" aria-live=\"polite\"></div>\n",
        "<div id=\"current-event\"></div>\n",
        "<div class=\"panels\">\n<div class=\"panel\">\n<h3>State after this event</h3>\n",
        "<table id=\"state-panel\">\n<thead><tr><th>node</th>"
    ));
    for field in &data.fields {
        let _ = write!(page, "<th>{}</th>", escape(field));
    }
    page.push_str(concat!(
        "</tr></thead>\n<tbody></tbody>\n</table>\n<p id=\"clients\"></p>\n</div>\n",
        "<div class=\"panel\">\n<h3>Active faults</h3>\n<ul id=\"active-faults\"></ul>\n",
        "<h3>What this event changed</h3>\n<ul id=\"changes\"></ul>\n</div>\n</div>\n"
    ));
    fork(page, data, model);
    page.push_str("</section>\n");
}

fn fork(page: &mut String, data: &ViewerData, model: &RunModel) {
    page.push_str(concat!(
        "<div id=\"fork-section\" class=\"fork\">\n<h3>Fork here</h3>\n",
        "<p>Run the same seed again with one more fault at the current time: the schedule below ",
        "is this run's, plus the fault you choose. Everything before that moment happens ",
        "exactly as in this run.</p>\n<div class=\"controls\">\n",
        "<label for=\"fork-kind\">fault</label><select id=\"fork-kind\">",
        "<option value=\"kill\">kill</option>",
        "<option value=\"pause\">pause</option>",
        "<option value=\"isolate\">isolate</option>",
        "<option value=\"restart\">restart</option>",
        "<option value=\"disk-stall\">disk-stall</option>",
        "<option value=\"heal\">heal</option></select>\n",
        "<label for=\"fork-node\">node</label><select id=\"fork-node\">"
    ));
    let nodes = if model.servers.is_empty() {
        &model.nodes
    } else {
        &model.servers
    };
    for node in nodes {
        // The fork's fault file names the node as people do; `ksim run --faults` resolves it.
        let name = model.name(*node);
        let _ = write!(page, "<option value=\"{name}\">{name}</option>");
    }
    page.push_str(concat!(
        "</select>\n",
        "<label for=\"fork-duration\">stall (ms)</label>",
        "<input id=\"fork-duration\" type=\"number\" min=\"1\" step=\"1\" value=\"1000\">\n",
        "<button id=\"fork\">fork here</button>\n</div>\n"
    ));
    if let Some(problem) = &data.fork.schedule_problem {
        let _ = writeln!(
            page,
            "<p class=\"note\">{}; the fork file below holds only the new fault.</p>",
            escape(problem)
        );
    }
    page.push_str(
        "<pre id=\"fork-command\" class=\"command\">Choose a fault and press “fork here”.</pre>\n</div>\n",
    );
}

/// An SVG ready to sit inside HTML: no XML prolog or doctype (they are not HTML), and a
/// `viewBox` when it has a numeric width and height but none, so CSS can scale it to the
/// page's width instead of clipping it.
pub fn inline_svg(svg: &str) -> String {
    let mut text = svg.trim_start();
    loop {
        if text.starts_with("<?") {
            text = text
                .find("?>")
                .map_or("", |end| &text[end + 2..])
                .trim_start();
        } else if text.starts_with("<!DOCTYPE") || text.starts_with("<!doctype") {
            text = text
                .find('>')
                .map_or("", |end| &text[end + 1..])
                .trim_start();
        } else if text.starts_with("<!--") {
            text = text
                .find("-->")
                .map_or("", |end| &text[end + 3..])
                .trim_start();
        } else {
            break;
        }
    }
    let mut out = String::with_capacity(text.len() + 64);
    if let Some(start) = text.find("<svg") {
        let tag_end = text[start..].find('>').map_or(text.len(), |e| start + e);
        let tag = &text[start..tag_end];
        if !tag.contains("viewBox") {
            if let (Some(w), Some(h)) = (attribute_px(tag, "width"), attribute_px(tag, "height")) {
                out.push_str(&text[..start + 4]);
                let _ = write!(out, " viewBox=\"0 0 {w} {h}\"");
                out.push_str(&text[start + 4..]);
                if !out.ends_with('\n') {
                    out.push('\n');
                }
                return out;
            }
        }
    }
    out.push_str(text);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A numeric attribute of a tag (`width="800"` or `width="800px"`), as written.
fn attribute_px<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + name.len()..];
        rest = after;
        if !matches!(before, Some(c) if c.is_whitespace()) {
            continue;
        }
        let after = after.trim_start().strip_prefix('=')?.trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value = &after[1..];
        let value = &value[..value.find(quote)?];
        let number = value.strip_suffix("px").unwrap_or(value);
        return (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .then_some(number);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svgs_lose_their_prolog_and_gain_a_view_box() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"800\" height=\"600px\" xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>";
        assert_eq!(
            inline_svg(svg),
            "<svg viewBox=\"0 0 800 600\" width=\"800\" height=\"600px\" xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>\n"
        );
        let with_box = "<svg viewBox=\"0 0 10 10\" width=\"10\" height=\"10\"></svg>\n";
        assert_eq!(inline_svg(with_box), with_box);
        let relative = "<svg width=\"100%\" height=\"100%\"></svg>\n";
        assert_eq!(inline_svg(relative), relative);
    }

    #[test]
    fn words_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(
            shell_quote("out/quorum-write/seed-1"),
            "out/quorum-write/seed-1"
        );
        assert_eq!(shell_quote("my runs/it's"), "'my runs/it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn times_read_as_grouped_milliseconds() {
        assert_eq!(ms_text(2_001_500), "2\u{202f}001.500\u{202f}ms");
        assert_eq!(ms_text(999), "0.999\u{202f}ms");
        assert_eq!(group_thousands(20_986), "20\u{202f}986");
        assert_eq!(group_thousands(123), "123");
        assert_eq!(group_thousands(1_234_567), "1\u{202f}234\u{202f}567");
    }
}
