//! The `kube-system/aws-auth` ConfigMap of the CONFIG_MAP authentication modes: `mapRoles`
//! and `mapUsers` (YAML lists of `rolearn`/`userarn`, `username`, `groups`) map IAM
//! principals to Kubernetes users, as aws-iam-authenticator reads them.

use std::collections::BTreeMap;

use serde::Deserialize;
use wharf_aws::{Caller, PrincipalKind};

#[derive(Debug, Deserialize)]
struct RoleMapping {
    rolearn: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct UserMapping {
    userarn: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

/// A principal's mapping (user name still holding `{{SessionName}}`-style placeholders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The Kubernetes user name.
    pub username: String,
    /// Its groups.
    pub groups: Vec<String>,
}

/// Finds the caller in `aws-auth` data. Role sessions match `mapRoles` by the role's ARN
/// (`principal`), users match `mapUsers` by ARN. Unparsable sections map nobody.
pub fn lookup(data: &BTreeMap<String, String>, caller: &Caller, principal: &str) -> Option<Mapping> {
    match caller.kind {
        PrincipalKind::AssumedRole { .. } => {
            let roles: Vec<RoleMapping> = serde_yaml::from_str(data.get("mapRoles")?).ok()?;
            let r = roles.into_iter().find(|r| r.rolearn == principal)?;
            Some(Mapping { username: r.username.unwrap_or_else(|| principal.to_string()), groups: r.groups })
        }
        PrincipalKind::User { .. } | PrincipalKind::UserSession { .. } | PrincipalKind::Root => {
            let users: Vec<UserMapping> = serde_yaml::from_str(data.get("mapUsers")?).ok()?;
            let u = users.into_iter().find(|u| u.userarn == principal)?;
            Some(Mapping { username: u.username.unwrap_or_else(|| principal.to_string()), groups: u.groups })
        }
        PrincipalKind::Anonymous => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(kind: PrincipalKind, arn: &str) -> Caller {
        Caller { account: "123456789012".into(), arn: arn.into(), user_id: String::new(), access_key_id: None, kind }
    }

    #[test]
    fn roles_and_users_map_by_arn() {
        let mut data = BTreeMap::new();
        data.insert(
            "mapRoles".to_string(),
            "- rolearn: arn:aws:iam::123456789012:role/nodes\n  username: system:node:{{SessionName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n".to_string(),
        );
        data.insert("mapUsers".to_string(), "- userarn: arn:aws:iam::123456789012:user/ops\n  username: ops\n  groups: [admins]\n".to_string());
        let role = caller(PrincipalKind::AssumedRole { role_name: "nodes".into(), session_name: "i-1".into() }, "arn:aws:sts::123456789012:assumed-role/nodes/i-1");
        let m = lookup(&data, &role, "arn:aws:iam::123456789012:role/nodes").unwrap();
        assert_eq!(m.username, "system:node:{{SessionName}}");
        assert_eq!(m.groups, vec!["system:bootstrappers", "system:nodes"]);
        let user = caller(PrincipalKind::User { name: "ops".into() }, "arn:aws:iam::123456789012:user/ops");
        assert_eq!(lookup(&data, &user, "arn:aws:iam::123456789012:user/ops").unwrap().groups, vec!["admins"]);
        let other = caller(PrincipalKind::User { name: "x".into() }, "arn:aws:iam::123456789012:user/x");
        assert!(lookup(&data, &other, "arn:aws:iam::123456789012:user/x").is_none());
        data.insert("mapUsers".to_string(), "not: [valid".to_string());
        assert!(lookup(&data, &user, "arn:aws:iam::123456789012:user/ops").is_none());
    }
}
