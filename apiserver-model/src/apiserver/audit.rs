//! The audit log: one record for every request, whatever became of it (kube-apiserver's
//! audit at the Metadata level: who, what, the decision, the code).

use serde::{Deserialize, Serialize};

use crate::verb::Verb;

/// What authorization decided, or why it was never asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthzDecision {
    /// The token mapped to no one: refused before authorization.
    Unauthenticated,
    /// Allowed, with the binding that allowed it.
    Allow(String),
    /// No rule allows it.
    Deny,
}

/// One audited request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The user (`system:anonymous` without credentials; empty for a bad token).
    pub user: String,
    /// The verb.
    pub verb: Verb,
    /// `pods`, `deployments.apps`, with `/binding` for a subresource.
    pub resource: String,
    /// The namespace.
    pub namespace: Option<String>,
    /// The object's name (for a create, the name in the body).
    pub name: Option<String>,
    /// What authorization decided.
    pub decision: AuthzDecision,
    /// The HTTP code of the answer.
    pub code: u16,
}
