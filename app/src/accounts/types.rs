//! Account types both halves share: roles, the signed-in user as pages see them, sessions,
//! and the validated inputs of the account forms.

use serde::{Deserialize, Serialize};

/// What a user is to Tabibu. Decides which server functions and pages they may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Patient,
    Doctor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Doctor => "doctor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "patient" => Some(Role::Patient),
            "doctor" => Some(Role::Doctor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Doctors and admins: the roles that see other people's data.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Doctor | Role::Admin)
    }
}

/// The signed-in user, as their own pages show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub mfa_enabled: bool,
    /// Staff who must turn on two-factor sign-in before they can do anything else.
    pub needs_mfa_setup: bool,
}

/// One of the user's sessions, for the "where you are signed in" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// A short public handle (a prefix of the stored hash), enough to tell sessions apart.
    pub handle: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub device: String,
    pub current: bool,
}

/// What happened at sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInOutcome {
    /// Signed in; go to the role's home page.
    SignedIn { role: Role },
    /// The password was right; now the two-factor code is needed.
    MfaRequired,
}

impl SignInOutcome {
    /// Where the browser goes next.
    pub fn next_path(self) -> &'static str {
        match self {
            SignInOutcome::SignedIn { role: Role::Admin } => "/admin/users",
            SignInOutcome::SignedIn { role: Role::Doctor } => "/doctor",
            SignInOutcome::SignedIn { .. } => "/account",
            SignInOutcome::MfaRequired => "/sign-in/code",
        }
    }
}

/// The start of two-factor enrolment: the secret to put in an authenticator app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaEnrollment {
    /// Base32, for typing into the app by hand.
    pub secret: String,
    /// `otpauth://` URI, for apps that take a link.
    pub otpauth_uri: String,
}

/// A user as the admin's list shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub mfa_enabled: bool,
    pub created_at_ms: i64,
}
