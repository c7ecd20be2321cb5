//! The scenario charts, read back from their SVG: the fault-tolerance heat map has one
//! cell per (N, f) coloured by the measured availability, the election CDF has one line
//! per timeout range reaching 1.0, and a malformed data file is an error naming it.

use std::collections::BTreeMap;

use reports::charts::{
    election_cdf, render, Chart, AVAILABLE_FILL, SERIES_PALETTE, UNAVAILABLE_FILL, UNMEASURED_FILL,
};
use reports::timeline::svg_hex;
use reports::{ReportError, RunFolder};
use scenarios::output::verdict_file;
use scenarios::runner::{execute, file_for, prepare};
use scenarios::ScenarioRun;

/// A run and the run folder the report would read for it (built in memory).
fn folder(scenario: &str, seed: u64, config: &str) -> (ScenarioRun, RunFolder) {
    let file = file_for(scenario, seed, config, &[]).expect("test configs parse");
    let prepared = prepare(&file).expect("valid");
    let run = execute(&prepared).expect("runs");
    let scenario_toml = prepared.file.to_toml();
    let folder = RunFolder {
        scenario: toml::from_str(&scenario_toml).expect("scenario.toml parses"),
        scenario_toml,
        verdict: verdict_file(&prepared, &run),
        trace: run.trace.clone(),
        history: run.history.clone(),
        data: run.data.iter().cloned().collect(),
    };
    (run, folder)
}

fn chart<'a>(charts: &'a [Chart], name: &str) -> &'a Chart {
    charts
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no chart {name}"))
}

/// The attributes of every `<tag ...>` (plotters writes double-quoted values).
fn elements(svg: &str, tag: &str) -> Vec<BTreeMap<String, String>> {
    let open = format!("<{tag} ");
    svg.match_indices(&open)
        .map(|(start, _)| {
            let after = &svg[start + open.len()..];
            let mut list = after[..after.find('>').expect("closed tag")].trim_end_matches('/');
            let mut attrs = BTreeMap::new();
            while let Some(eq) = list.find("=\"") {
                let end = list[eq + 2..].find('"').expect("quoted value");
                attrs.insert(
                    list[..eq].trim().to_string(),
                    list[eq + 2..eq + 2 + end].to_string(),
                );
                list = &list[eq + 2 + end + 1..];
            }
            attrs
        })
        .collect()
}

fn int(attrs: &BTreeMap<String, String>, name: &str) -> i64 {
    attrs[name].parse().expect("integer attribute")
}

const TOLERANCE: &str = "nodes_min = 2\nkills = [0, 1, 2, 3]\n[cluster]\nnodes = 5\n";

#[test]
fn the_heat_map_has_one_cell_per_n_and_f_coloured_by_measured_availability() {
    let (run, folder) = folder("fault-tolerance-table", 1, TOLERANCE);
    let charts = render(&folder, true).unwrap();
    let heat = chart(&charts, "fault-tolerance");
    assert!(heat.png.is_some());
    // The measured rows, from the scenario's own JSON (not the chart's CSV reader).
    let report = run
        .data_json("fault_tolerance.json")
        .expect("the table's JSON");
    let mut measured: Vec<(u64, u64, bool)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["n"].as_u64().unwrap(),
                r["f"].as_u64().unwrap(),
                r["available"].as_bool().unwrap(),
            )
        })
        .collect();
    measured.sort_unstable();
    assert!(measured.iter().any(|m| m.2) && measured.iter().any(|m| !m.2));
    // Cells are drawn row by row (N ascending), f ascending, for f <= min(N, max f).
    let max_f = measured.iter().map(|m| m.1).max().unwrap();
    let mut ns: Vec<u64> = measured.iter().map(|m| m.0).collect();
    ns.dedup();
    let grid: Vec<(u64, u64)> = ns
        .iter()
        .flat_map(|n| (0..=(*n).min(max_f)).map(move |f| (*n, f)))
        .collect();
    let cells: Vec<BTreeMap<String, String>> = elements(&heat.svg, "rect")
        .into_iter()
        .filter(|r| {
            [AVAILABLE_FILL, UNAVAILABLE_FILL, UNMEASURED_FILL].contains(&r["fill"].as_str())
        })
        .collect();
    assert_eq!(cells.len(), grid.len(), "one cell per (N, f)");
    for ((n, f), cell) in grid.iter().zip(&cells) {
        let expected = match measured.iter().find(|m| m.0 == *n && m.1 == *f) {
            Some((.., true)) => AVAILABLE_FILL,
            Some((.., false)) => UNAVAILABLE_FILL,
            None => UNMEASURED_FILL,
        };
        assert_eq!(cell["fill"], expected, "cell N={n} f={f}");
    }
    // The grid's geometry: f grows to the right, N downwards.
    for (i, a) in grid.iter().enumerate() {
        for (j, b) in grid.iter().enumerate() {
            let (ca, cb) = (&cells[i], &cells[j]);
            if a.0 == b.0 && a.1 < b.1 {
                assert!(int(ca, "x") < int(cb, "x") && int(ca, "y") == int(cb, "y"));
            }
            if a.1 == b.1 && a.0 < b.0 {
                assert!(int(ca, "y") < int(cb, "y") && int(ca, "x") == int(cb, "x"));
            }
        }
    }
    for n in &ns {
        assert!(
            heat.svg.contains(&format!("quorum {}", n / 2 + 1)),
            "row N={n} names its quorum"
        );
    }
}

const TIMING: &str =
    "trials = 6\nranges = [{ min_ms = 150, max_ms = 300 }, { min_ms = 12, max_ms = 24 }]\n";

#[test]
fn the_election_cdf_has_one_line_per_range_each_reaching_one() {
    let (run, folder) = folder("election-timing", 3, TIMING);
    let lines = election_cdf(run.data_file("election_times.csv").unwrap()).unwrap();
    assert_eq!(lines.len(), 2, "one line per timeout range");
    for line in &lines {
        let steps = line.steps();
        assert!(!steps.is_empty());
        assert_eq!(steps.last().unwrap().1, 1.0);
        assert!(steps
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
    }
    let charts = render(&folder, false).unwrap();
    let cdf = chart(&charts, "election-cdf");
    let curves: Vec<Vec<(i64, i64)>> = elements(&cdf.svg, "polyline")
        .into_iter()
        .filter(|l| {
            SERIES_PALETTE[..lines.len()]
                .iter()
                .any(|c| svg_hex(*c) == l["stroke"])
        })
        .map(|l| {
            l["points"]
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect();
    assert_eq!(curves.len(), lines.len(), "line count = ranges");
    // Every curve starts at the bottom (0) and ends at the top of the plot (1.0): the
    // same y for all, which is where the 1.0 tick is.
    let bottom = curves[0][0].1;
    let top = curves[0].last().unwrap().1;
    assert!(top < bottom);
    for curve in &curves {
        assert_eq!(curve[0].1, bottom);
        assert_eq!(curve.last().unwrap().1, top);
        assert!(curve.iter().all(|p| (top..=bottom).contains(&p.1)));
    }
    for line in &lines {
        let label = format!("{}\u{2013}{} ms", line.timeout_min_ms, line.timeout_max_ms);
        assert!(cdf.svg.contains(&label), "legend names {label}");
    }
}

#[test]
fn malformed_data_files_are_errors_naming_the_file_and_absent_ones_give_no_chart() {
    let (_, mut folder) = folder("leader-crash", 1, "");
    folder.data.clear();
    assert!(render(&folder, false).unwrap().is_empty());
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "election_times.csv",
            b"timeout_min_ms,timeout_max_ms,trial,election_ms\n150,300,0,fast\n",
            "fast",
        ),
        ("election_times.csv", b"", "empty"),
        (
            "fault_tolerance.csv",
            b"N,f,quorum,tolerated,writes_ok,writes_attempted,available\n3,1,2,1,5\n",
            "fields",
        ),
        ("capacity.csv", b"rtt_ms,fsync_ms\n1,1\n", "writes_per_s"),
        ("latency.csv", &[0xff, 0xfe, 0x00], "utf-8"),
    ];
    for (name, bytes, problem) in cases {
        folder.data.clear();
        folder.data.insert(name.to_string(), bytes.to_vec());
        match render(&folder, false) {
            Err(ReportError::Draw { picture, message }) => {
                assert_eq!(picture, name);
                assert!(
                    message.to_lowercase().contains(problem),
                    "{name}: `{message}` should mention {problem}"
                );
            }
            other => panic!("{name}: expected a draw error, got {other:?}"),
        }
    }
}
