//! RBAC authorization, as kube-apiserver's RBAC authorizer decides: a request is allowed
//! when some binding that names the user (or one of its groups, or its service account)
//! refers to a role with a rule that covers the verb, API group, resource (or
//! `resource/subresource`) and, if the rule lists names, the object's name. A RoleBinding
//! grants in its own namespace (its role may be a Role there or a ClusterRole); a
//! ClusterRoleBinding grants everywhere. Nothing is denied explicitly: no rule, no access.
//! `system:masters` is always allowed, as kube-apiserver's privileged-group authorizer
//! does before RBAC.

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use crate::authn::{UserInfo, MASTERS};
use crate::verb::Verb;

/// What a request asks to do (kube-apiserver's authorizer attributes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// The verb.
    pub verb: Verb,
    /// The API group (`""` for core).
    pub group: &'a str,
    /// The resource, plural (`pods`).
    pub resource: &'a str,
    /// The subresource (`binding`, `status`), if any.
    pub subresource: Option<&'a str>,
    /// The namespace, `None` for a cluster-scoped resource or an all-namespaces request.
    pub namespace: Option<&'a str>,
    /// The object's name, when the request names one.
    pub name: Option<&'a str>,
}

/// Why a request was allowed (for the audit record), or that it was not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, by this binding (`RoleBinding default/read-pods`) or group.
    Allow(String),
    /// No rule allows it.
    Deny,
}

/// The RBAC objects in force: what the API server's informers hold.
#[derive(Clone, Debug, Default)]
pub struct Rbac {
    /// Roles, each in its namespace.
    pub roles: Vec<Role>,
    /// ClusterRoles.
    pub cluster_roles: Vec<ClusterRole>,
    /// RoleBindings.
    pub role_bindings: Vec<RoleBinding>,
    /// ClusterRoleBindings.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
}

fn covers(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == "*" || v == value)
}

/// Whether `rule` allows `a`.
fn rule_allows(rule: &PolicyRule, a: &Attributes<'_>) -> bool {
    let resource = match a.subresource {
        Some(sub) => format!("{}/{sub}", a.resource),
        None => a.resource.to_string(),
    };
    let resources = rule.resources.as_deref().unwrap_or_default();
    let resource_ok = resources.iter().any(|r| {
        r == "*"
            || *r == resource
            // `pods/*` covers every subresource of pods, not pods itself.
            || (a.subresource.is_some() && r.strip_suffix("/*") == Some(a.resource))
    });
    let names = rule.resource_names.as_deref().unwrap_or_default();
    let name_ok = names.is_empty() || a.name.is_some_and(|n| names.iter().any(|x| x == n));
    covers(&rule.verbs, a.verb.as_str())
        && covers(rule.api_groups.as_deref().unwrap_or_default(), a.group)
        && resource_ok
        && name_ok
}

/// Whether `subject` is `user` (binding in `namespace`, for a service account's default).
fn names(subject: &Subject, user: &UserInfo, binding_ns: Option<&str>) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = subject.namespace.as_deref().or(binding_ns).unwrap_or("");
            user.name == format!("system:serviceaccount:{ns}:{}", subject.name)
        }
        _ => false,
    }
}

impl Rbac {
    /// The rules of the role a binding refers to, looked up where that binding may see it.
    fn rules_of(&self, kind: &str, name: &str, namespace: Option<&str>) -> &[PolicyRule] {
        let found = match kind {
            "ClusterRole" => self
                .cluster_roles
                .iter()
                .find(|r| r.metadata.name.as_deref() == Some(name))
                .and_then(|r| r.rules.as_deref()),
            "Role" => self
                .roles
                .iter()
                .find(|r| {
                    r.metadata.name.as_deref() == Some(name)
                        && r.metadata.namespace.as_deref() == namespace
                })
                .and_then(|r| r.rules.as_deref()),
            _ => None,
        };
        found.unwrap_or_default()
    }

    /// Whether a binding in `binding_ns` (`None`: a ClusterRoleBinding) of `subjects` to
    /// `role` grants `a` to `user`. A RoleBinding's Role is looked up in its namespace.
    fn grants(
        &self,
        subjects: Option<&[Subject]>,
        role: &RoleRef,
        binding_ns: Option<&str>,
        user: &UserInfo,
        a: &Attributes<'_>,
    ) -> bool {
        let role_ns = binding_ns.filter(|_| role.kind == "Role");
        subjects
            .unwrap_or_default()
            .iter()
            .any(|s| names(s, user, binding_ns))
            && self
                .rules_of(&role.kind, &role.name, role_ns)
                .iter()
                .any(|r| rule_allows(r, a))
    }

    /// Decides `a` for `user`.
    pub fn authorize(&self, user: &UserInfo, a: &Attributes<'_>) -> Decision {
        if user.groups.iter().any(|g| g == MASTERS) {
            return Decision::Allow(format!("group {MASTERS}"));
        }
        for b in &self.cluster_role_bindings {
            if self.grants(b.subjects.as_deref(), &b.role_ref, None, user, a) {
                let name = b.metadata.name.as_deref().unwrap_or("");
                return Decision::Allow(format!("ClusterRoleBinding {name}"));
            }
        }
        let Some(ns) = a.namespace else {
            return Decision::Deny;
        };
        for b in &self.role_bindings {
            let binding_ns = b.metadata.namespace.as_deref();
            if binding_ns != Some(ns) {
                continue;
            }
            if self.grants(b.subjects.as_deref(), &b.role_ref, binding_ns, user, a) {
                let name = b.metadata.name.as_deref().unwrap_or("");
                return Decision::Allow(format!("RoleBinding {ns}/{name}"));
            }
        }
        Decision::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rbac() -> Rbac {
        let role: Role = serde_json::from_value(json!({
            "metadata": {"name": "pod-reader", "namespace": "default"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
        }))
        .unwrap();
        let binder: ClusterRole = serde_json::from_value(json!({
            "metadata": {"name": "binder"},
            "rules": [{"apiGroups": [""], "resources": ["pods/binding"], "verbs": ["create"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                    "resourceNames": ["kube-scheduler"], "verbs": ["get", "update"]}]
        }))
        .unwrap();
        let rb: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "read-pods", "namespace": "default"},
            "subjects": [{"kind": "User", "name": "reader"}, {"kind": "Group", "name": "viewers"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"}
        }))
        .unwrap();
        let crb: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "scheduler"},
            "subjects": [{"kind": "User", "name": "system:kube-scheduler"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "binder"}
        }))
        .unwrap();
        Rbac {
            roles: vec![role],
            cluster_roles: vec![binder],
            role_bindings: vec![rb],
            cluster_role_bindings: vec![crb],
        }
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| (*g).to_string()).collect(),
        }
    }

    fn ask<'a>(
        verb: Verb,
        group: &'a str,
        resource: &'a str,
        sub: Option<&'a str>,
        ns: Option<&'a str>,
        name: Option<&'a str>,
    ) -> Attributes<'a> {
        Attributes {
            verb,
            group,
            resource,
            subresource: sub,
            namespace: ns,
            name,
        }
    }

    #[test]
    fn the_decision_table() {
        let r = rbac();
        let reader = user("reader", &["system:authenticated"]);
        let viewer = user("vera", &["viewers", "system:authenticated"]);
        let sched = user("system:kube-scheduler", &["system:authenticated"]);
        let admin = user("root", &[MASTERS]);
        let anon = UserInfo::anonymous();
        let d = Some("default");
        let rows: [(&UserInfo, Attributes<'_>, bool); 12] = [
            (
                &reader,
                ask(Verb::Get, "", "pods", None, d, Some("web")),
                true,
            ),
            (&reader, ask(Verb::List, "", "pods", None, d, None), true),
            (
                &reader,
                ask(Verb::Delete, "", "pods", None, d, Some("web")),
                false,
            ),
            (
                &reader,
                ask(Verb::Get, "", "pods", None, Some("kube-system"), Some("x")),
                false,
            ),
            (
                &reader,
                ask(Verb::Get, "apps", "pods", None, d, Some("web")),
                false,
            ),
            (&viewer, ask(Verb::Watch, "", "pods", None, d, None), true),
            (
                &anon,
                ask(Verb::Get, "", "pods", None, d, Some("web")),
                false,
            ),
            (
                &sched,
                ask(Verb::Create, "", "pods", Some("binding"), d, Some("web")),
                true,
            ),
            (
                &sched,
                ask(Verb::Create, "", "pods", None, d, Some("web")),
                false,
            ),
            (
                &sched,
                ask(
                    Verb::Update,
                    "coordination.k8s.io",
                    "leases",
                    None,
                    Some("kube-system"),
                    Some("kube-scheduler"),
                ),
                true,
            ),
            (
                &sched,
                ask(
                    Verb::Update,
                    "coordination.k8s.io",
                    "leases",
                    None,
                    Some("kube-system"),
                    Some("kube-controller-manager"),
                ),
                false,
            ),
            (
                &admin,
                ask(Verb::Delete, "", "nodes", None, None, Some("worker-a")),
                true,
            ),
        ];
        for (i, (u, a, allowed)) in rows.iter().enumerate() {
            let got = r.authorize(u, a);
            assert_eq!(
                matches!(got, Decision::Allow(_)),
                *allowed,
                "row {i}: {} {a:?} -> {got:?}",
                u.name
            );
        }
        assert_eq!(
            r.authorize(&reader, &rows[0].1),
            Decision::Allow("RoleBinding default/read-pods".into())
        );
    }
}
