//! Bearer-token authentication, checked on every call before it reaches the service.

use tonic::{Request, Status};

/// Compares two byte strings in time that depends only on their lengths, not on where they
/// first differ (a timing side channel would let a client guess the token byte by byte).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    // Lengths differ: still walk the longer one, so the time does not tell which byte differs.
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(x ^ y);
    }
    diff == 0
}

/// A tonic interceptor accepting `authorization: Bearer TOKEN`; without a token, every call.
#[derive(Clone)]
pub struct BearerAuth {
    token: Option<std::sync::Arc<str>>,
}

impl BearerAuth {
    /// Checks calls against `token` (`None`: no authentication).
    pub fn new(token: Option<&str>) -> Self {
        BearerAuth {
            token: token.map(Into::into),
        }
    }

    /// Whether `header` (the `authorization` value) carries the token.
    pub fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let Some(h) = header else {
            return false;
        };
        // The scheme is case-insensitive (RFC 9110); the token is not.
        match h.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => {
                constant_time_eq(h[7..].trim_ascii(), token.as_bytes())
            }
            _ => false,
        }
    }
}

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let header = req.metadata().get("authorization").map(|v| v.as_bytes());
        if self.accepts(header) {
            Ok(req)
        } else if header.is_none() {
            Err(Status::unauthenticated(
                "slate serve: this server needs a bearer token (authorization: Bearer TOKEN)",
            ))
        } else {
            Err(Status::unauthenticated(
                "slate serve: the bearer token is wrong",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_strings() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer_header() {
        let a = BearerAuth::new(Some("s3cret"));
        assert!(a.accepts(Some(b"Bearer s3cret")));
        assert!(a.accepts(Some(b"bearer s3cret ")));
        assert!(!a.accepts(Some(b"Bearer s3cre")));
        assert!(!a.accepts(Some(b"Basic s3cret")));
        assert!(!a.accepts(Some(b"Bearer")));
        assert!(!a.accepts(None));
        assert!(BearerAuth::new(None).accepts(None));
    }
}
