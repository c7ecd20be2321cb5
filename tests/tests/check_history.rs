//! `ksim check-history` on small Jepsen histories under `tests/data/jepsen/`: verdicts and
//! exit codes, indeterminate operations, line-numbered errors for malformed files, string
//! values (Porcupine's key-value histories), many files at once, and the time limit.

use std::path::PathBuf;

use scenarios::cli::main_with;

struct Outcome {
    code: i32,
    out: String,
    err: String,
}

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/jepsen")
        .join(name)
        .display()
        .to_string()
}

fn check(file: &str, model: &str, extra: &[&str]) -> Outcome {
    check_many(&[file], model, extra)
}

fn assert_usage_error(o: &Outcome, needle: &str) {
    assert_eq!(o.code, 2, "stdout: {}\nstderr: {}", o.out, o.err);
    let lines: Vec<&str> = o.err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got {:?}", o.err);
    assert!(lines[0].starts_with("error: "), "{:?}", lines[0]);
    assert!(lines[0].contains(needle), "{:?} lacks {needle:?}", lines[0]);
}

#[test]
fn a_late_info_write_and_a_failed_cas_are_linearizable() {
    let o = check("register-ok.edn", "cas-register", &[]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    assert!(o.out.starts_with("linearizable"), "{}", o.out);
}

#[test]
fn a_stale_read_is_not_linearizable_and_names_the_read() {
    let o = check("register-stale.edn", "cas-register", &[]);
    assert_eq!(o.code, 3, "{}{}", o.out, o.err);
    assert!(o.out.starts_with("not linearizable"), "{}", o.out);
    assert!(o.out.contains("could not place: op2"), "{}", o.out);
    assert!(o.out.contains("op2 n3 read null -> ok 1"), "{}", o.out);
}

#[test]
fn a_timed_out_fail_is_indeterminate_but_a_plain_fail_did_not_happen() {
    // The cas [1 4] timed out, then a read sees 4: it took effect.
    let o = check("register-timeout.log", "cas-register", &[]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    // The same history with a plain :fail: the cas did not happen, so 4 is impossible.
    let o = check("register-failed-cas.log", "cas-register", &[]);
    assert_eq!(o.code, 3, "{}{}", o.out, o.err);
}

#[test]
fn keyed_log_tuples_are_split_per_key() {
    let o = check("kv-keyed.log", "kv", &[]);
    assert_eq!(o.code, 3, "{}{}", o.out, o.err);
    assert!(o.out.contains("key: a"), "{}", o.out);
    assert!(o.out.contains("2 partition(s)"), "{}", o.out);
}

#[test]
fn etcd_revisions_are_checked_across_keys() {
    let o = check("kv-etcd-stale.edn", "kv", &[]);
    assert_eq!(o.code, 3, "{}{}", o.out, o.err);
    assert!(o.out.contains("revision 6"), "{}", o.out);
}

#[test]
fn a_tiny_budget_is_unknown() {
    let o = check("register-ok.edn", "cas-register", &["--max-steps", "2"]);
    assert_eq!(o.code, 5, "{}{}", o.out, o.err);
    assert!(o.out.starts_with("unknown"), "{}", o.out);
}

#[test]
fn malformed_files_name_the_line() {
    assert_usage_error(
        &check("malformed.edn", "cas-register", &[]),
        "malformed.edn:3: bad EDN",
    );
    assert_usage_error(
        &check("malformed.log", "cas-register", &[]),
        "malformed.log:4: missing value",
    );
    assert_usage_error(
        &check("bad-op.edn", "cas-register", &[]),
        "bad-op.edn:3: op1: cas needs a [old new] pair",
    );
    assert_usage_error(&check("no-such-file.edn", "kv", &[]), "cannot read");
    assert_usage_error(&check("register-ok.edn", "bank", &[]), "bank");
}

#[test]
fn string_appends_check_under_kv_and_list_map() {
    for model in ["kv", "list-map", "string-kv"] {
        let o = check("kv-strings-ok.edn", model, &[]);
        assert_eq!(o.code, 0, "{model}: {}{}", o.out, o.err);
        assert!(
            o.out
                .starts_with("linearizable (string-kv model; 6 ops, 3 partition(s)"),
            "{}",
            o.out
        );
        let o = check("kv-strings-bad.edn", model, &[]);
        assert_eq!(o.code, 3, "{model}: {}{}", o.out, o.err);
        assert!(o.out.contains("could not place: op3"), "{}", o.out);
        assert!(o.out.contains("get null -> \"x 0 0 y\""), "{}", o.out);
    }
    // A register has no append: that is the user's to fix, with the line.
    assert_usage_error(
        &check("kv-strings-ok.edn", "cas-register", &[]),
        "kv-strings-ok.edn:1: op0: the register has no function `append`",
    );
}

/// `ksim check-history` with several files.
fn check_many(files: &[&str], model: &str, extra: &[&str]) -> Outcome {
    let paths: Vec<String> = files.iter().map(|f| data(f)).collect();
    let mut argv = vec!["ksim", "check-history"];
    argv.extend(paths.iter().map(String::as_str));
    argv.extend_from_slice(&["--model", model]);
    argv.extend_from_slice(extra);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = main_with(argv, &mut out, &mut err);
    Outcome {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

/// The line of `out` about `file`.
fn line_of<'a>(out: &'a str, file: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(&format!("{file} ")))
        .unwrap_or_else(|| panic!("no line for {file} in\n{out}"))
}

#[test]
fn many_files_get_a_line_each_a_summary_and_the_worst_exit_code() {
    let all = ["kv-strings-ok.edn", "kv-strings-bad.edn", "malformed.edn"];
    let o = check_many(&all, "kv", &[]);
    assert_eq!(o.code, 3, "a violation is the worst: {}{}", o.out, o.err);
    assert!(o.err.is_empty(), "{}", o.err);
    assert_eq!(o.out.lines().count(), 4, "{}", o.out);
    let ok = line_of(&o.out, "kv-strings-ok.edn");
    assert!(
        ok.contains("  linearizable  ") && ok.contains("string-kv"),
        "{ok}"
    );
    assert!(
        ok.contains("6 ops") && ok.contains("3 partition(s)"),
        "{ok}"
    );
    let bad = line_of(&o.out, "kv-strings-bad.edn");
    assert!(
        bad.contains("not linearizable") && bad.ends_with("key 1"),
        "{bad}"
    );
    let unreadable = line_of(&o.out, "malformed.edn");
    assert!(
        unreadable.contains("unreadable") && unreadable.contains("malformed.edn:1: "),
        "{unreadable}"
    );
    let summary = o.out.lines().last().unwrap();
    assert!(
        summary.starts_with(
            "3 files: 1 linearizable, 1 not linearizable, 0 unknown, 1 unreadable; 12 ops in"
        ),
        "{summary}"
    );
    // Without the violation, the unreadable file is the worst; without it, a pass.
    let o = check_many(&all[..1], "kv", &[]);
    assert_eq!(o.code, 0, "{}", o.out);
    let o = check_many(&[all[0], all[2]], "kv", &[]);
    assert_eq!(o.code, 2, "{}", o.out);
    // Undecided is worse than a pass, better than an unreadable file.
    let o = check_many(&[all[0], all[0]], "kv", &["--max-steps", "1"]);
    assert_eq!(o.code, 5, "{}", o.out);
    let o = check_many(&[all[0], all[2]], "kv", &["--max-steps", "1"]);
    assert_eq!(o.code, 2, "{}", o.out);
}

#[test]
fn a_time_limit_makes_the_answer_unknown_and_says_so() {
    // A limit of 0 ms has passed by the first time the search asks.
    let o = check("kv-strings-ok.edn", "kv", &["--timeout-ms", "0"]);
    assert_eq!(o.code, 5, "{}{}", o.out, o.err);
    assert!(
        o.out
            .starts_with("unknown: time limit of 0 ms reached on key"),
        "{}",
        o.out
    );
    let o = check("kv-strings-ok.edn", "kv", &["--timeout-ms", "60000"]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
}
