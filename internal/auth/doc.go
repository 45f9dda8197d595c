// Package auth holds the building blocks of the server's access control (GitHub issue 6, "safe by
// default and hard to break"): scoped read tokens (Mint, Verify), the access Policy (admin token,
// read token, scoped tokens), how a request presents a token (FromRequest), per-client rate limits
// (Limiter) and connection caps (ConnCap), the client's address behind a proxy (ClientIP) and the
// WebSocket/SSE Origin check (OriginAllowed).
//
// Nothing here logs, and no error message ever contains a presented token or a secret.
package auth
