//! Authentication: who is asking. Bearer tokens map to users and groups, as
//! kube-apiserver's static token file does (`--token-auth-file`: token, user, uid, groups).
//!
//! A request with no credentials is `system:anonymous` in `system:unauthenticated`
//! (anonymous auth is on by default) and RBAC decides what it may do; a token that maps to
//! no one is 401, with no further look. Every authenticated user is also in
//! `system:authenticated`.

use std::collections::BTreeMap;

use crate::status::ApiError;

/// The user of anonymous requests.
pub const ANONYMOUS: &str = "system:anonymous";
/// The group of anonymous requests.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The group every authenticated user is in.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group RBAC never refuses (kube-apiserver's privileged group, bound to
/// cluster-admin by default).
pub const MASTERS: &str = "system:masters";

/// Who a request is from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UserInfo {
    /// The user name (`alice`, `system:kube-scheduler`, `system:node:worker-a`).
    pub name: String,
    /// Its groups, `system:authenticated` or `system:unauthenticated` included.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The anonymous user.
    pub fn anonymous() -> Self {
        UserInfo {
            name: ANONYMOUS.to_string(),
            groups: vec![UNAUTHENTICATED.to_string()],
        }
    }
}

/// The token table.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    tokens: BTreeMap<String, UserInfo>,
}

impl Authenticator {
    /// No tokens: every request is anonymous or refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token for `user` in `groups` (`system:authenticated` is added).
    pub fn with_token(mut self, token: &str, user: &str, groups: &[&str]) -> Self {
        let mut groups: Vec<String> = groups.iter().map(|g| (*g).to_string()).collect();
        groups.push(AUTHENTICATED.to_string());
        self.tokens.insert(
            token.to_string(),
            UserInfo {
                name: user.to_string(),
                groups,
            },
        );
        self
    }

    /// Who presents `bearer` (`None`: no `Authorization` header).
    ///
    /// # Errors
    ///
    /// [`ApiError::Unauthorized`] for a token that maps to no one.
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<UserInfo, ApiError> {
        match bearer {
            None => Ok(UserInfo::anonymous()),
            Some(token) => self
                .tokens
                .get(token)
                .cloned()
                .ok_or(ApiError::Unauthorized),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_users_none_is_anonymous_and_a_bad_one_is_401() {
        let a = Authenticator::new().with_token("t-alice", "alice", &["dev"]);
        let alice = a.authenticate(Some("t-alice")).unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, vec!["dev", AUTHENTICATED]);
        assert_eq!(a.authenticate(None).unwrap(), UserInfo::anonymous());
        let e = a.authenticate(Some("forged")).unwrap_err();
        assert_eq!((e.code(), e.to_string().as_str()), (401, "Unauthorized"));
    }
}
