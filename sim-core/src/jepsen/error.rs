//! Why a file is not a history we can read, and on which line.

/// An import error at a 1-based line of the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ImportError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub kind: ImportErrorKind,
}

/// What was wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportErrorKind {
    /// The text is not valid EDN.
    #[error("bad EDN: {0}")]
    Edn(String),
    /// An EDN line that is not a map.
    #[error("expected an operation map, found `{0}`")]
    NotAMap(String),
    /// A required field is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A field has a value of the wrong kind.
    #[error("bad {field}: `{found}`")]
    BadField {
        /// The field.
        field: &'static str,
        /// What it held.
        found: String,
    },
    /// A keyed model needs `[key value]` values when no `:key` is given.
    #[error("a keyed model needs a [key value] pair, found `{0}`")]
    NotAPair(String),
    /// A completion for a process with no open operation.
    #[error("process {0} completed an operation it never invoked")]
    CompletionWithoutInvoke(String),
    /// An invocation while the process's previous operation is still open.
    #[error("process {0} invoked an operation while its previous one was still open")]
    AlreadyOpen(String),
    /// A ksim `history.json` that does not parse.
    #[error("bad ksim history JSON: {0}")]
    Json(String),
    /// Neither EDN maps, nor jepsen.util log lines, nor a ksim history.
    #[error(
        "not a history: expected EDN operation maps, jepsen.util log lines or a ksim history.json"
    )]
    UnknownFormat,
    /// The file holds no operation.
    #[error("no operations found")]
    Empty,
}
