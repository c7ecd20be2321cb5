//! Golden interaction scripts (etcd `interaction_test.go` style): `raft/testdata/*.txt` hold
//! commands, each followed by `----` and the output it must print, then a blank line. Run
//! with `KSIM_UPDATE_GOLDEN=1` (the repository's one rewrite switch for golden files) to
//! regenerate the expected output after an intended change, then read the diff.
//!
//! Commands: `add-nodes N [pre-vote=false] [check-quorum=false]`, `campaign ID`,
//! `propose ID DATA`, `read-index ID CTX`, `tick ID [N]` (one node, nothing delivered),
//! `tick-all N` (every node, then stabilize, N times), `stabilize` (deliver until nothing
//! is in flight), `msgs` (list what is in flight), `deliver-msgs TO [--from ID] [--type
//! MsgApp]` (deliver what is in flight to TO, optionally only from one sender or of one
//! type; the rest stays in flight), `drop-msgs [--from ID] [--to ID] [--type MsgApp]` (lose
//! what is in flight that matches), `isolate ID`, `partition A,B C,D`, `heal`,
//! `compact ID DATA`, `status`.
//!
//! Output reads as etcd raft's testdata: `> 1 handling Ready` with `INFO` lines for what
//! happened, then the state, hard state, entries, messages (`1->2 MsgApp Term:2 Log:1/1
//! Commit:1 Entries:[2/2 EntryNoop]`) and committed entries; `> 2 receiving ...` for each
//! message delivered; `dropped ...` for each message lost.
//!
//! Nodes are bare numbers here (`1`, `1->2`, `Vote:1`, `add-learner 4`), as etcd raft's
//! scripts and the commands above name them, though the core's ids are sim-core's
//! `NodeId`, which the trace writes `n1`: the renderer (`network.rs`) prints the number
//! itself, so a script reads as etcd's and a change of the trace's form leaves it alone.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::network::{describe_message, message_name, Network};
use super::Message;
use sim_core::NodeId;

/// The repository's rewrite switch for golden files (`tests/src/golden.rs` reads the same
/// one; this crate cannot depend on that one).
const UPDATE_VAR: &str = "KSIM_UPDATE_GOLDEN";

/// Whether to rewrite the scripts' expected output instead of comparing it.
fn updating() -> bool {
    // Test code, never simulated: the switch is the person running the tests.
    #[allow(clippy::disallowed_methods)]
    let value = std::env::var(UPDATE_VAR);
    value.is_ok_and(|v| v == "1")
}

/// Which messages in flight a `deliver-msgs` or `drop-msgs` means.
#[derive(Debug, Default)]
struct Selector {
    from: Option<NodeId>,
    to: Option<NodeId>,
    kind: Option<String>,
}

impl Selector {
    /// Reads `--from ID`, `--to ID` and `--type NAME` from `words`.
    fn parse(words: &[&str], line: &str) -> Selector {
        let mut sel = Selector::default();
        let mut it = words.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .unwrap_or_else(|| panic!("{flag} needs a value in {line:?}"));
            let id = || {
                NodeId(
                    value
                        .parse()
                        .unwrap_or_else(|_| panic!("bad id in {line:?}")),
                )
            };
            match *flag {
                "--from" => sel.from = Some(id()),
                "--to" => sel.to = Some(id()),
                "--type" => sel.kind = Some(value.to_string()),
                other => panic!("unknown option {other:?} in {line:?}"),
            }
        }
        sel
    }

    fn matches(&self, m: &Message) -> bool {
        self.from.is_none_or(|f| m.from == f)
            && self.to.is_none_or(|t| m.to == t)
            && self
                .kind
                .as_deref()
                .is_none_or(|k| message_name(&m.kind) == k)
    }
}

/// Takes the messages in flight that `sel` matches out of the queue, keeping the others
/// in order.
fn take(net: &mut Network, sel: &Selector) -> Vec<Message> {
    let (picked, kept): (VecDeque<Message>, VecDeque<Message>) =
        net.queue.drain(..).partition(|m| sel.matches(m));
    net.queue = kept;
    picked.into()
}

fn run_command(net: &mut Option<Network>, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let arg = |i: usize| -> u32 {
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
    let ids = |s: &str| -> Vec<u32> { s.split(',').map(|x| x.parse().expect("id")).collect() };
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
        "tick" => {
            let n = if words.len() > 2 { arg(2) } else { 1 };
            for _ in 0..n {
                net.tick(arg(1));
            }
        }
        "msgs" => {
            for m in &net.queue {
                writeln!(out, "{}", describe_message(m)).unwrap();
            }
            if net.queue.is_empty() {
                writeln!(out, "no messages in flight").unwrap();
            }
        }
        "deliver-msgs" => {
            let mut sel = Selector::parse(&words[2..], line);
            sel.to = Some(NodeId(arg(1)));
            let picked = take(net, &sel);
            if picked.is_empty() {
                writeln!(out, "no messages to deliver").unwrap();
            }
            for m in picked {
                if net.cut.contains(&(m.from, m.to)) {
                    net.log
                        .push(format!("  dropped {} (link cut)", describe_message(&m)));
                } else {
                    net.step(m);
                }
            }
        }
        "drop-msgs" => {
            let sel = Selector::parse(&words[1..], line);
            let picked = take(net, &sel);
            if picked.is_empty() {
                writeln!(out, "no messages to drop").unwrap();
            }
            for m in picked {
                writeln!(out, "dropped {}", describe_message(&m)).unwrap();
            }
        }
        "tick-all" => net.tick_all(arg(1).into()),
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
                let leader = s.leader.map_or("none".to_string(), |l| l.0.to_string());
                writeln!(
                    out,
                    "{}: {} term={} leader={leader} commit={} applied={} last={}",
                    id.0, s.role, s.hard_state.term, s.hard_state.commit, s.applied, s.last_index
                )
                .unwrap();
            }
        }
        other => panic!("unknown command {other:?}"),
    }
    // Commands that only queue work print the Readies when the network next handles them.
    if !matches!(
        words[0],
        "status" | "isolate" | "partition" | "heal" | "msgs" | "drop-msgs"
    ) {
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
        if !updating() {
            assert_eq!(
                actual,
                expected,
                "{}: output of {line:?} differs ({UPDATE_VAR}=1 regenerates)",
                path.display()
            );
        }
        write!(rewritten, "{line}\n----\n{actual}").unwrap();
    }
    if updating() {
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
