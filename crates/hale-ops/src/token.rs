//! Admin tokens: a name (who acted, for the audit trail) and a secret that
//! requests present as `Authorization: Bearer <secret>`.

use subtle::ConstantTimeEq;

use crate::error::OpsError;

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// One admin token.
///
/// # Examples
///
/// ```
/// use hale_ops::AdminToken;
///
/// let token = AdminToken::new("alice", "0123456789abcdef-long-secret");
/// assert_eq!(token.name(), "alice");
/// // The secret never shows in debug output.
/// assert!(!format!("{token:?}").contains("secret"));
/// ```
#[derive(Clone)]
pub struct AdminToken {
    name: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AdminToken {
    /// A token named `name` (who acts with it) with `secret`. Checked when
    /// the router is built: the secret must be at least
    /// [`MIN_SECRET_LEN`] bytes and the name not empty.
    pub fn new(name: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            secret: secret.into().into_bytes(),
        }
    }

    /// Who acts with this token.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn check(&self) -> Result<(), OpsError> {
        if self.name.trim().is_empty() {
            return Err(OpsError::UnnamedToken);
        }
        if self.secret.len() < MIN_SECRET_LEN {
            return Err(OpsError::WeakToken {
                name: self.name.clone(),
                length: self.secret.len(),
                minimum: MIN_SECRET_LEN,
            });
        }
        Ok(())
    }
}

/// The configured tokens.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tokens(Vec<AdminToken>);

impl Tokens {
    pub(crate) fn new(tokens: Vec<AdminToken>) -> Result<Self, OpsError> {
        for (index, token) in tokens.iter().enumerate() {
            token.check()?;
            let clash = tokens[..index]
                .iter()
                .any(|earlier| earlier.name == token.name || earlier.secret == token.secret);
            if clash {
                return Err(OpsError::DuplicateToken(token.name.clone()));
            }
        }
        Ok(Self(tokens))
    }

    /// Whether any token is configured (mutation is off otherwise).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The name of the token whose secret is `presented`, compared in
    /// constant time against every token (the time taken does not say which
    /// token matched, nor how much of a wrong one did; only a length
    /// mismatch returns early inside `subtle`).
    pub(crate) fn find(&self, presented: &[u8]) -> Option<&str> {
        let mut found = None;
        for token in &self.0 {
            let equal: bool = token.secret.as_slice().ct_eq(presented).into();
            if equal {
                found = Some(token.name.as_str());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_found_by_secret() {
        assert!(matches!(
            Tokens::new(vec![AdminToken::new("a", "short")]),
            Err(OpsError::WeakToken { .. })
        ));
        assert!(matches!(
            Tokens::new(vec![AdminToken::new(" ", "0123456789abcdef")]),
            Err(OpsError::UnnamedToken)
        ));
        assert!(matches!(
            Tokens::new(vec![
                AdminToken::new("a", "0123456789abcdef"),
                AdminToken::new("b", "0123456789abcdef")
            ]),
            Err(OpsError::DuplicateToken(_))
        ));
        let tokens = Tokens::new(vec![
            AdminToken::new("alice", "alice-secret-0123456789"),
            AdminToken::new("bob", "bob-secret-0123456789ab"),
        ])
        .unwrap();
        assert_eq!(tokens.find(b"bob-secret-0123456789ab"), Some("bob"));
        assert_eq!(tokens.find(b"alice-secret-0123456789"), Some("alice"));
        assert_eq!(tokens.find(b"alice-secret-012345678X"), None);
        assert_eq!(tokens.find(b""), None);
    }
}
