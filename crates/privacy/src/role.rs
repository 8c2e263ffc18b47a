//! 角色 — the roles of the API.

use std::fmt;
use std::str::FromStr;

use crate::PrivacyError;

/// A user's role. What each may call is the permission matrix of `docs/security.md`, kept in
/// the server's route table; what each sees of personal data is [`crate::mask::rule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 管理员 — every data route, personal data unmasked; not the audit log.
    Admin,
    /// 分析师 — every read, personal data masked.
    Analyst,
    /// 营销人员 — overview, segments, tags, audiences (save and export), masked customer views.
    Marketer,
    /// 审计员 — the audit log only.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Analyst, Role::Marketer, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Marketer => "marketer",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = PrivacyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                PrivacyError::BadInput(format!(
                    "unknown role `{s}`; roles: admin, analyst, marketer, auditor"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_display() {
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>().unwrap(), r);
        }
        assert_eq!("Marketer".parse::<Role>().unwrap(), Role::Marketer);
        let e = "boss".parse::<Role>().unwrap_err().to_string();
        assert!(e.contains("unknown role `boss`"), "{e}");
    }
}
