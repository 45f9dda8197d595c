package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/event"
	"github.com/tiktok-live-server/tiktok-live-server/internal/room"
)

// errorBody is every error answer: the original server's {success:false, code, error} plus message.
type errorBody struct {
	Success  bool   `json:"success"`
	Code     string `json:"code"`
	Error    string `json:"error"`
	Message  string `json:"message"`
	Username string `json:"username,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"success":false,"code":"internal","error":"cannot encode the answer","message":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Code: code, Error: msg, Message: msg})
}

func writeUserError(w http.ResponseWriter, status int, code, msg, username string) {
	writeJSON(w, status, errorBody{Code: code, Error: msg, Message: msg, Username: username})
}

// jsTime is a time as the original server wrote it (JavaScript's toISOString: UTC, milliseconds),
// null when zero.
type jsTime time.Time

func (t jsTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + tt.UTC().Format(event.TimeLayout) + `"`), nil
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type errorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func lastError(st room.Status) *errorInfo {
	if st.LastError == nil {
		return nil
	}
	return &errorInfo{Code: st.LastError.Code, Message: st.LastError.Message}
}

// username reads and normalises the {username} path value ("@name" and profile URLs work); on a bad
// one it answers 400 bad_username and returns false.
func username(w http.ResponseWriter, r *http.Request) (string, bool) {
	name, err := parseUsername(r.PathValue("username"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_username",
			"not a TikTok username: 2 to 24 letters, digits, '_' or '.', as name, @name or a profile URL")
		return "", false
	}
	return name, true
}

// parseUsername applies TikTok's rules to a username from a path (name, @name or a profile URL)
// and returns the room key: the manager's own (room.Key), so a route and the manager agree.
func parseUsername(raw string) (string, error) { return room.Key(raw) }
