//! `ksim check-history` on small Jepsen histories under `tests/data/jepsen/`: verdicts and
//! exit codes, indeterminate operations, and line-numbered errors for malformed files.

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
    let path = data(file);
    let mut argv = vec!["ksim", "check-history", &path, "--model", model];
    argv.extend_from_slice(extra);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = main_with(argv, &mut out, &mut err);
    Outcome {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
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
