//! Golden interaction scripts (etcd `interaction_test.go` style): `raft/testdata/*.txt` hold
//! commands, each followed by `----` and the output it must print, then a blank line. Run
//! with `REWRITE=1` to regenerate the expected output after an intended change.
//!
//! Commands: `add-nodes N [pre-vote=false] [check-quorum=false]`, `campaign ID`,
//! `propose ID DATA`, `read-index ID CTX`, `stabilize`, `tick-all N`, `isolate ID`,
//! `partition A,B C,D`, `heal`, `compact ID DATA`, `status`.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::network::Network;

fn run_command(net: &mut Option<Network>, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let arg = |i: usize| -> u64 {
        words[i]
            .parse()
            .unwrap_or_else(|_| panic!("bad number in {line:?}"))
    };
    if words[0] == "add-nodes" {
        let opts: Vec<String> = words[2..].iter().map(|s| s.to_string()).collect();
        *net = Some(Network::new(arg(1), |c| {
            c.pre_vote = !opts.contains(&"pre-vote=false".to_string());
            c.check_quorum = !opts.contains(&"check-quorum=false".to_string());
        }));
        return "ok\n".into();
    }
    let net = net.as_mut().expect("add-nodes first");
    let mark = net.log.len();
    let mut out = String::new();
    let ids = |s: &str| -> Vec<u64> { s.split(',').map(|x| x.parse().expect("id")).collect() };
    match words[0] {
        "campaign" => net.node(arg(1)).campaign(),
        "propose" => {
            if let Err(e) = net.node(arg(1)).propose(words[2].as_bytes().to_vec()) {
                writeln!(out, "error: {e}").unwrap();
            }
        }
        "read-index" => {
            if let Err(e) = net.node(arg(1)).read_index(words[2].as_bytes().to_vec()) {
                writeln!(out, "error: {e}").unwrap();
            }
        }
        "stabilize" => net.stabilize(),
        "tick-all" => net.tick_all(arg(1)),
        "isolate" => net.isolate(arg(1)),
        "partition" => net.partition(&ids(words[1]), &ids(words[2])),
        "heal" => net.heal(),
        "compact" => {
            let s = net.node(arg(1)).compact(words[2].as_bytes().to_vec());
            writeln!(out, "snapshot {}/{}", s.meta.term, s.meta.index).unwrap();
        }
        "status" => {
            for (id, n) in &net.nodes {
                let s = n.status();
                let leader = s.leader.map_or("none".to_string(), |l| l.to_string());
                writeln!(
                    out,
                    "{id}: {} term={} leader={leader} commit={} applied={} last={}",
                    s.role, s.hard_state.term, s.hard_state.commit, s.applied, s.last_index
                )
                .unwrap();
            }
        }
        other => panic!("unknown command {other:?}"),
    }
    // Commands that only queue work print the Readies when the network next handles them.
    if !matches!(words[0], "status" | "isolate" | "partition" | "heal") {
        net.handle_all_readies();
    }
    for l in &net.log[mark..] {
        writeln!(out, "{l}").unwrap();
    }
    if out.is_empty() {
        out.push_str("ok\n");
    }
    out
}

fn run_file(path: &PathBuf) {
    let text = std::fs::read_to_string(path).expect("read script");
    let mut net = None;
    let mut rewritten = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            rewritten.push_str(line);
            rewritten.push('\n');
            continue;
        }
        assert_eq!(
            lines.next(),
            Some("----"),
            "{}: `----` expected after {line:?}",
            path.display()
        );
        let mut expected = String::new();
        while let Some(l) = lines.next_if(|l| !l.is_empty()) {
            expected.push_str(l);
            expected.push('\n');
        }
        let actual = run_command(&mut net, line);
        if std::env::var_os("REWRITE").is_none() {
            assert_eq!(
                actual,
                expected,
                "{}: output of {line:?} differs (REWRITE=1 regenerates)",
                path.display()
            );
        }
        write!(rewritten, "{line}\n----\n{actual}").unwrap();
    }
    if std::env::var_os("REWRITE").is_some() {
        std::fs::write(path, rewritten).expect("rewrite script");
    }
}

#[test]
fn interaction_scripts() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("raft/testdata")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in &files {
        run_file(f);
    }
}
