//! Reading a fault file: node names, groups and roles resolved to ids, and errors that
//! point at the offending line and column of the text the user wrote.

use serde::Deserialize;

use super::{FaultError, TimedFault};
use crate::directory::Directory;
use crate::fault_roles::role_of;
use crate::ids::NodeId;

/// The keys of a fault table that hold one node, a list of nodes, and groups of them.
const ONE_NODE_KEYS: [&str; 3] = ["node", "from", "to"];
const NODE_LIST_KEY: &str = "nodes";
const NODE_GROUPS_KEY: &str = "groups";

/// How one node reference is rewritten: `(reference, one)` to what it stands for, where
/// `one` says the key takes a single node.
type Expand<'a> = dyn FnMut(&str, bool) -> Result<Vec<String>, String> + 'a;

/// Rewrites every node reference of a fault table with `expand`; an error carries its key.
/// Role targets (`role:leader`) are left as they are: they resolve when the op applies.
pub(super) fn resolve_nodes(
    table: &mut toml::Table,
    expand: &mut Expand<'_>,
) -> Result<(), (String, String)> {
    for (key, value) in table.iter_mut() {
        let failed = |e: String| (key.clone(), e);
        match (key.as_str(), value) {
            (_, toml::Value::String(reference)) if role_of(reference).is_some() => {}
            (k, toml::Value::String(reference)) if ONE_NODE_KEYS.contains(&k) => {
                if let [one] = expand(reference, true).map_err(failed)?.as_slice() {
                    *reference = one.clone();
                }
            }
            (NODE_LIST_KEY, toml::Value::Array(values)) => {
                resolve_list(values, expand).map_err(failed)?;
            }
            (NODE_GROUPS_KEY, toml::Value::Array(groups)) => {
                for group in groups {
                    if let toml::Value::Array(values) = group {
                        resolve_list(values, expand).map_err(failed)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Rewrites a list of node references, expanding groups in place.
fn resolve_list(values: &mut Vec<toml::Value>, expand: &mut Expand<'_>) -> Result<(), String> {
    let mut out = Vec::with_capacity(values.len());
    for value in values.drain(..) {
        match value {
            toml::Value::String(reference) if role_of(&reference).is_some() => {
                out.push(toml::Value::String(reference));
            }
            toml::Value::String(reference) => {
                out.extend(
                    expand(&reference, false)?
                        .into_iter()
                        .map(toml::Value::String),
                );
            }
            // Not a name: left for the schema to refuse with its own message.
            other => out.push(other),
        }
    }
    *values = out;
    Ok(())
}

/// Turns a TOML error into one line with the file, line and column.
pub fn toml_error(text: &str, origin: &str, err: &toml::de::Error) -> FaultError {
    let (line, column) = err
        .span()
        .map(|span| line_column(text, span.start))
        .unwrap_or((1, 1));
    FaultError::Toml {
        origin: origin.to_string(),
        line,
        column,
        message: err.message().trim().replace('\n', " "),
    }
}

/// Reads `[[faults]]` tables that were parsed with their spans.
///
/// Each entry is checked on its own so that an error names the entry and, where the
/// message lets us find it, the line of the offending key (serde loses spans inside
/// internally tagged enums, so the key is looked up in the entry's text).
///
/// With a `directory`, node references may be names and groups (see
/// [`FaultSchedule::from_toml_in`]); they are turned into ids before the schema reads them.
pub fn parse_fault_entries(
    text: &str,
    origin: &str,
    entries: Vec<toml::Spanned<toml::Table>>,
    directory: Option<&Directory>,
) -> Result<Vec<TimedFault>, FaultError> {
    let mut faults = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let span = entry.span();
        let mut table = entry.into_inner();
        if let Some(directory) = directory {
            let resolved = resolve_nodes(&mut table, &mut |reference, one| {
                let ids = if one {
                    directory.resolve_one(reference).map(|id| vec![id])
                } else {
                    directory.resolve(reference)
                };
                ids.map(|ids| ids.iter().map(NodeId::to_string).collect())
                    .map_err(|e| e.to_string())
            });
            if let Err((key, message)) = resolved {
                let offset = find_key(text, span.clone(), &key).unwrap_or(span.start);
                let (line, column) = line_column(text, offset);
                return Err(FaultError::Toml {
                    origin: origin.to_string(),
                    line,
                    column,
                    message: format!("fault {}: {key}: {message}", i + 1),
                });
            }
        }
        match TimedFault::deserialize(toml::Value::Table(table.clone())) {
            Ok(fault) => faults.push(fault),
            Err(e) => {
                let message = e.message().trim().replace('\n', " ");
                let offset = offending_key(&message, &table)
                    .and_then(|key| find_key(text, span.clone(), &key))
                    .unwrap_or(span.start);
                let (line, column) = line_column(text, offset);
                return Err(FaultError::Toml {
                    origin: origin.to_string(),
                    line,
                    column,
                    message: format!("fault {}: {message}", i + 1),
                });
            }
        }
    }
    Ok(faults)
}

/// The key an error message is about: named in it, or whose value it quotes.
fn offending_key(message: &str, table: &toml::Table) -> Option<String> {
    if let Some(rest) = message.split("unknown field `").nth(1) {
        return rest.split('`').next().map(str::to_string);
    }
    table.iter().find_map(|(key, value)| {
        let quoted = match value {
            toml::Value::String(s) => format!("`{s}`"),
            other => format!("`{other}`"),
        };
        message.contains(&quoted).then(|| key.clone())
    })
}

/// Byte offset of the line assigning `key` inside `span` of `text`.
fn find_key(text: &str, span: std::ops::Range<usize>, key: &str) -> Option<usize> {
    let body = text.get(span.clone())?;
    let mut offset = span.start;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                return Some(offset + (line.len() - trimmed.len()));
            }
        }
        offset += line.len();
    }
    None
}

/// One-based line and column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
