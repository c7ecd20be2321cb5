//! Line-by-line readers of Jepsen's two formats, sharing one builder that pairs
//! invocations with completions per process.

use std::collections::BTreeMap;

use serde_json::Value;

use super::edn::{read_one, Edn};
use super::error::{ImportError, ImportErrorKind};
use super::{Format, Imported};
use crate::history::{EntryType, History, HistoryEntry};
use crate::ids::{NodeId, OpId};
use crate::time::SimTime;

/// What marks a `jepsen.util` log line.
pub(super) const LOG_MARKER: &str = "jepsen.util - ";

/// One operation line, read.
struct Line {
    process: i64,
    entry_type: EntryType,
    f: String,
    key: Option<Edn>,
    value: Edn,
    time_ns: Option<i64>,
}

/// Builds the history, one line at a time.
struct Builder {
    keyed: bool,
    entries: Vec<HistoryEntry>,
    lines: Vec<usize>,
    /// Per process, its open operation and that operation's key.
    open: BTreeMap<i64, (OpId, Option<String>)>,
    next_op: u64,
}

fn err(line: usize, kind: ImportErrorKind) -> ImportError {
    ImportError { line, kind }
}

fn edn_text(e: &Edn) -> String {
    e.to_json().to_string()
}

impl Builder {
    fn new(keyed: bool) -> Self {
        Builder {
            keyed,
            entries: Vec::new(),
            lines: Vec::new(),
            open: BTreeMap::new(),
            next_op: 0,
        }
    }

    fn add(&mut self, n: usize, l: Line) -> Result<(), ImportError> {
        let client = u32::try_from(l.process)
            .ok()
            .and_then(|p| p.checked_add(1))
            .map(NodeId)
            .ok_or_else(|| {
                err(
                    n,
                    ImportErrorKind::BadField {
                        field: "process",
                        found: l.process.to_string(),
                    },
                )
            })?;
        // The key: explicit, else (keyed models) the first of a [key value] pair.
        let (key, value) = match (l.key, self.keyed) {
            (Some(k), _) => (Some(k.as_key()), l.value.to_json()),
            (None, false) => (None, l.value.to_json()),
            (None, true) => match l.value {
                Edn::Seq(pair) if pair.len() == 2 => (Some(pair[0].as_key()), pair[1].to_json()),
                // An indeterminate completion's value is not needed.
                other if l.entry_type == EntryType::Info => {
                    let _ = other;
                    (None, Value::Null)
                }
                other => return Err(err(n, ImportErrorKind::NotAPair(edn_text(&other)))),
            },
        };
        let op = if l.entry_type == EntryType::Invoke {
            if self.open.contains_key(&l.process) {
                return Err(err(n, ImportErrorKind::AlreadyOpen(l.process.to_string())));
            }
            let op = OpId(self.next_op);
            self.next_op += 1;
            self.open.insert(l.process, (op, key.clone()));
            (op, key)
        } else {
            let (op, open_key) = self.open.remove(&l.process).ok_or_else(|| {
                err(
                    n,
                    ImportErrorKind::CompletionWithoutInvoke(l.process.to_string()),
                )
            })?;
            (op, key.or(open_key))
        };
        let t_us = l
            .time_ns
            .map_or(self.entries.len() as u64, |ns| ns.max(0) as u64 / 1000);
        self.entries.push(HistoryEntry {
            op: op.0,
            client,
            entry_type: l.entry_type,
            t_us: SimTime(t_us),
            f: l.f,
            key: op.1,
            value,
        });
        self.lines.push(n);
        Ok(())
    }

    fn finish(self, format: Format) -> Result<Imported, ImportError> {
        if self.entries.is_empty() {
            return Err(err(1, ImportErrorKind::Empty));
        }
        Ok(Imported {
            format,
            history: History {
                entries: self.entries,
            },
            lines: self.lines,
        })
    }
}

fn entry_type(e: &Edn, value: &Edn, error: Option<&Edn>) -> Option<EntryType> {
    let timed_out = |v: Option<&Edn>| matches!(v, Some(Edn::Keyword(k)) if k == "timed-out");
    match e {
        Edn::Keyword(k) => match k.as_str() {
            "invoke" => Some(EntryType::Invoke),
            "ok" => Some(EntryType::Ok),
            "info" => Some(EntryType::Info),
            "fail" if timed_out(Some(value)) || timed_out(error) => Some(EntryType::Info),
            "fail" => Some(EntryType::Fail),
            _ => None,
        },
        _ => None,
    }
}

fn bad(n: usize, field: &'static str, found: &Edn) -> ImportError {
    err(
        n,
        ImportErrorKind::BadField {
            field,
            found: edn_text(found),
        },
    )
}

fn function(n: usize, f: &Edn) -> Result<String, ImportError> {
    match f {
        Edn::Keyword(s) | Edn::Symbol(s) | Edn::Str(s) => Ok(s.clone()),
        other => Err(bad(n, "f", other)),
    }
}

/// One EDN map per line.
pub(super) fn edn_lines(text: &str, keyed: bool) -> Result<Imported, ImportError> {
    let mut b = Builder::new(keyed);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let (map, used) = read_one(line).map_err(|e| err(n, ImportErrorKind::Edn(e)))?;
        let rest = line[used..].trim_matches(|c: char| c.is_whitespace() || c == ',');
        if !rest.is_empty() {
            return Err(err(
                n,
                ImportErrorKind::Edn(format!("unexpected text after the map: `{rest}`")),
            ));
        }
        if !matches!(map, Edn::Map(_)) {
            return Err(err(n, ImportErrorKind::NotAMap(edn_text(&map))));
        }
        let process = match map.get("process") {
            Some(Edn::Int(p)) => *p,
            Some(Edn::Keyword(k)) if k == "nemesis" => continue,
            Some(other) => return Err(bad(n, "process", other)),
            None => return Err(err(n, ImportErrorKind::Missing(":process"))),
        };
        let value = map.get("value").cloned().unwrap_or(Edn::Nil);
        let ty = map
            .get("type")
            .ok_or_else(|| err(n, ImportErrorKind::Missing(":type")))?;
        let entry_type =
            entry_type(ty, &value, map.get("error")).ok_or_else(|| bad(n, "type", ty))?;
        let f = function(
            n,
            map.get("f")
                .ok_or_else(|| err(n, ImportErrorKind::Missing(":f")))?,
        )?;
        let time_ns = match map.get("time") {
            None => None,
            Some(Edn::Int(t)) => Some(*t),
            Some(other) => return Err(bad(n, "time", other)),
        };
        b.add(
            n,
            Line {
                process,
                entry_type,
                f,
                key: map.get("key").cloned(),
                value,
                time_ns,
            },
        )?;
    }
    b.finish(Format::EdnLines)
}

/// Splits off the first whitespace-separated token.
fn token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// `jepsen.util` log lines; other log output is skipped.
pub(super) fn log_lines(text: &str, keyed: bool) -> Result<Imported, ImportError> {
    let mut b = Builder::new(keyed);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let Some(at) = raw.find(LOG_MARKER) else {
            continue;
        };
        let (process, rest) = token(&raw[at + LOG_MARKER.len()..]);
        // Only a process (a number or :nemesis) makes it an operation line.
        let process = match process {
            ":nemesis" => continue,
            p => match p.parse::<i64>() {
                Ok(p) => p,
                Err(_) => continue,
            },
        };
        let (ty, rest) = token(rest);
        let (f, rest) = token(rest);
        if ty.is_empty() {
            return Err(err(n, ImportErrorKind::Missing("type")));
        }
        if f.is_empty() {
            return Err(err(n, ImportErrorKind::Missing("f")));
        }
        let ty = read_one(ty).map_err(|e| err(n, ImportErrorKind::Edn(e)))?.0;
        let f = function(
            n,
            &read_one(f).map_err(|e| err(n, ImportErrorKind::Edn(e)))?.0,
        )?;
        if rest.trim().is_empty() {
            return Err(err(n, ImportErrorKind::Missing("value")));
        }
        let (value, used) = read_one(rest).map_err(|e| err(n, ImportErrorKind::Edn(e)))?;
        let trailing = rest[used..].trim();
        let error = if trailing.is_empty() {
            None
        } else {
            read_one(trailing).ok().map(|(e, _)| e)
        };
        let entry_type =
            entry_type(&ty, &value, error.as_ref()).ok_or_else(|| bad(n, "type", &ty))?;
        b.add(
            n,
            Line {
                process,
                entry_type,
                f,
                key: None,
                value,
                time_ns: None,
            },
        )?;
    }
    b.finish(Format::JepsenLog)
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use serde_json::json;

    #[test]
    fn edn_lines_pair_by_process() {
        let text = "{:process 0, :type :invoke, :f :write, :value 3, :time 5000}\n\
                    {:type :invoke, :process 1, :f :read, :value nil}\n\
                    {:process 0, :type :ok, :f :write, :value 3}\n\
                    {:process :nemesis, :type :info, :f :start, :value nil}\n\
                    {:process 1, :type :fail, :f :read, :value :timed-out}\n";
        let imp = parse(text, false).unwrap();
        assert_eq!(imp.format, Format::EdnLines);
        let e = &imp.history.entries;
        assert_eq!(e.len(), 4);
        assert_eq!(imp.lines, vec![1, 2, 3, 5]);
        assert_eq!(
            (e[0].op, e[2].op, e[1].op, e[3].op),
            (OpId(0), OpId(0), OpId(1), OpId(1))
        );
        assert_eq!(e[0].t_us, SimTime(5));
        assert_eq!(e[0].client, NodeId(1));
        assert_eq!(e[3].entry_type, EntryType::Info);
        assert_eq!(e[0].value, json!(3));
    }

    #[test]
    fn log_lines_with_keys_and_noise() {
        let text = "INFO  jepsen.core - Running test\n\
                    INFO  jepsen.util - 3\t:invoke\t:cas\t[1 [2 3]]\n\
                    INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
                    INFO  jepsen.util - Frobbing\n\
                    INFO  jepsen.util - 3   :fail   :cas   [1 [2 3]]  :timed-out\n\
                    INFO  jepsen.util - 4\t:invoke\t:read\t[1 nil]\n\
                    INFO  jepsen.util - 4\t:ok\t:read\t[1 3]\n";
        let imp = parse(text, true).unwrap();
        assert_eq!(imp.format, Format::JepsenLog);
        let e = &imp.history.entries;
        assert_eq!(imp.lines, vec![2, 5, 6, 7]);
        assert_eq!(e[0].key.as_deref(), Some("1"));
        assert_eq!(e[0].value, json!([2, 3]));
        assert_eq!(e[1].entry_type, EntryType::Info);
        assert_eq!(e[3].value, json!(3));
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let line_of = |text: &str, keyed| parse(text, keyed).unwrap_err().line;
        let log =
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\t[1 2\n";
        assert_eq!(line_of(log, false), 2);
        let log =
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:done\t:read\t1\n";
        assert_eq!(line_of(log, false), 2);
        let edn = "{:process 0, :type :invoke, :f :read, :value nil}\n\n{:process 0 :f :read}\n";
        assert_eq!(
            parse(edn, false).unwrap_err().kind,
            ImportErrorKind::Missing(":type")
        );
        assert_eq!(line_of(edn, false), 3);
        assert_eq!(
            line_of("{:process 0, :type :ok, :f :read, :value 1}\n", false),
            1
        );
        assert_eq!(
            line_of("{:process 0, :type :invoke, :f :read, :value 1}\n", true),
            1
        );
        assert_eq!(
            parse("hello\n", false).unwrap_err().kind,
            ImportErrorKind::UnknownFormat
        );
        assert_eq!(
            parse("\n\n", false).unwrap_err().kind,
            ImportErrorKind::Empty
        );
    }
}
