//! HTTP Basic auth for the webhook path (`--basic-auth USER:PASS`), the only authenticity check
//! CometChat offers. First check of a webhook request, before its body is read.
//!
//! The decoded `user:pass` is compared with the configured one in constant time (`subtle`), and
//! every way of failing (no header, another scheme, bad base64, wrong credential) answers the same.

use std::fmt;
use std::str::FromStr;

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

/// The longest `user:pass` accepted, in bytes. CometChat allows 50 + 1 + 100; the bound lets a
/// request's credential be decoded on the stack.
pub const MAX_CREDENTIAL: usize = 512;

/// The configured credential.
#[derive(Clone)]
pub struct BasicAuth {
    /// `user:pass`, as the client sends it base64-encoded.
    credential: Box<[u8]>,
    user_len: usize,
}

/// The `WWW-Authenticate` challenge of a `401`.
pub const CHALLENGE: HeaderValue = HeaderValue::from_static(r#"Basic realm="inflight""#);

impl BasicAuth {
    /// A credential of `user` and `password`; refused when the user has a `:` or either is empty.
    pub fn new(user: &str, password: &str) -> Result<BasicAuth, String> {
        if user.is_empty() {
            return Err("the user name is empty".into());
        }
        if user.contains(':') {
            return Err("the user name contains ':' (Basic auth cannot carry it)".into());
        }
        if password.is_empty() {
            return Err("the password is empty".into());
        }
        if user.chars().chain(password.chars()).any(char::is_control) {
            return Err("the credential contains a control character".into());
        }
        let credential = format!("{user}:{password}").into_bytes().into_boxed_slice();
        if credential.len() > MAX_CREDENTIAL {
            return Err(format!("the credential is longer than {MAX_CREDENTIAL} bytes"));
        }
        Ok(BasicAuth { credential, user_len: user.len() })
    }

    /// The user name.
    pub fn user(&self) -> &str {
        // `credential` was built from a `&str` and `user_len` ends at a char boundary.
        std::str::from_utf8(self.credential.get(..self.user_len).unwrap_or_default()).unwrap_or_default()
    }

    /// Whether a request's headers carry this credential (its `Authorization` header): the
    /// one check the webhook, `/readyz` and the console make.
    pub fn allows_request(&self, headers: &HeaderMap) -> bool {
        self.allows(headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes))
    }

    /// Whether an `Authorization` header value carries this credential.
    pub fn allows(&self, header: Option<&[u8]>) -> bool {
        let Some(token) = header.and_then(basic_token) else {
            return false;
        };
        let mut buf = [0u8; MAX_CREDENTIAL];
        // A token that decodes to more than MAX_CREDENTIAL bytes cannot match: decode_slice
        // refuses it, like malformed base64.
        let Ok(len) = STANDARD.decode_slice(token, &mut buf) else {
            return false;
        };
        let Some(decoded) = buf.get(..len) else {
            return false;
        };
        // Lengths are compared first (not secret); the bytes in constant time.
        decoded.ct_eq(&self.credential).into()
    }
}

/// `Basic <token>` → the token. The scheme is case-insensitive (RFC 7617). RFC 7235 puts one or
/// more spaces between scheme and token; tabs are accepted too, since some clients and proxies
/// send them and refusing would only lock out a caller who knows the credential.
fn basic_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at_checked(5)?;
    let token = rest.trim_ascii_start();
    let separated = rest.first().is_some_and(|&b| b == b' ' || b == b'\t');
    (separated && scheme.eq_ignore_ascii_case(b"basic")).then_some(token)
}

impl FromStr for BasicAuth {
    type Err = String;

    /// `USER:PASS`, split at the first `:`.
    fn from_str(s: &str) -> Result<BasicAuth, String> {
        let Some((user, password)) = s.split_once(':') else {
            return Err("expected USER:PASS".into());
        };
        BasicAuth::new(user, password)
    }
}

/// Shows the user, never the password.
impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth").field("user", &self.user()).field("password", &"<redacted>").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(credential: &str) -> String {
        format!("Basic {}", STANDARD.encode(credential))
    }

    #[test]
    fn only_the_exact_credential_is_allowed() {
        let auth: BasicAuth = "cometchat:s3cret".parse().expect("valid");
        let cases: &[(&str, Option<String>, bool)] = &[
            ("right", Some(header("cometchat:s3cret")), true),
            ("scheme in lower case", Some(format!("basic {}", STANDARD.encode("cometchat:s3cret"))), true),
            ("extra spaces", Some(format!("  Basic   {}  ", STANDARD.encode("cometchat:s3cret"))), true),
            ("a tab", Some(format!("Basic\t{}", STANDARD.encode("cometchat:s3cret"))), true),
            ("spaces and tabs", Some(format!("Basic \t {}", STANDARD.encode("cometchat:s3cret"))), true),
            ("no header", None, false),
            ("wrong password", Some(header("cometchat:s3creT")), false),
            ("password prefix", Some(header("cometchat:s3cre")), false),
            ("password longer", Some(header("cometchat:s3cret!")), false),
            ("wrong user", Some(header("cometchaT:s3cret")), false),
            ("empty credential", Some(header("")), false),
            ("no token", Some("Basic".into()), false),
            ("no token after space", Some("Basic ".into()), false),
            ("bearer scheme", Some(format!("Bearer {}", STANDARD.encode("cometchat:s3cret"))), false),
            ("scheme glued to token", Some(format!("Basic{}", STANDARD.encode("cometchat:s3cret"))), false),
            ("malformed base64", Some("Basic !!!notbase64***".into()), false),
            (
                "unpadded base64",
                Some(format!("Basic {}", STANDARD.encode("cometchat:s3cret").trim_end_matches('='))),
                false,
            ),
            ("oversized token", Some(format!("Basic {}", STANDARD.encode("x".repeat(4 * MAX_CREDENTIAL)))), false),
        ];
        for (name, value, allowed) in cases {
            assert_eq!(auth.allows(value.as_deref().map(str::as_bytes)), *allowed, "{name}");
        }
    }

    #[test]
    fn the_password_may_contain_colons() {
        let auth: BasicAuth = "u:pa:ss".parse().expect("valid");
        assert_eq!(auth.user(), "u");
        assert!(auth.allows(Some(header("u:pa:ss").as_bytes())));
    }

    #[test]
    fn bad_configurations_are_refused() {
        for (value, why) in [
            ("nocolon", "expected USER:PASS"),
            (":pass", "user name is empty"),
            ("user:", "password is empty"),
            ("us\ter:pass", "control character"),
        ] {
            let err = value.parse::<BasicAuth>().expect_err(value);
            assert!(err.contains(why), "{value}: {err}");
        }
        let long = format!("u:{}", "p".repeat(MAX_CREDENTIAL));
        assert!(long.parse::<BasicAuth>().is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let auth: BasicAuth = "cometchat:s3cret".parse().expect("valid");
        let shown = format!("{auth:?}");
        assert!(shown.contains("cometchat") && !shown.contains("s3cret"), "{shown}");
    }
}
