package faketiktok

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/capture"
)

// The control API drives a fake that runs as a separate process (benchmarks, the Node peer).
// 64-bit ids are decimal strings in JSON, as JavaScript numbers cannot hold them.
func (s *Server) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_fake/users/{name}", s.ctlGetUser)
	mux.HandleFunc("PUT /_fake/users/{name}", s.ctlPutUser)
	mux.HandleFunc("POST /_fake/users/{name}/live", s.ctlLive)
	mux.HandleFunc("POST /_fake/users/{name}/faults", s.ctlFault)
	mux.HandleFunc("POST /_fake/users/{name}/inject", s.ctlInject)
	mux.HandleFunc("GET /_fake/users/{name}/record", s.ctlRecord)
	mux.HandleFunc("GET /_fake/users/{name}/emitted", s.ctlEmitted)
}

func ctlError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, obj{"code": code, "message": msg})
}

// decodeBody reads a JSON body strictly: unknown fields and trailing data are errors.
func decodeBody(w http.ResponseWriter, req *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<20))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		ctlError(w, http.StatusBadRequest, "bad_request", "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// flexID accepts an id as a JSON string or number.
type flexID int64

func (f *flexID) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("id %s is not a non-negative integer", b)
	}
	*f = flexID(v)
	return nil
}

type userBody struct {
	Kind        *UserKind      `json:"kind"`
	RoomID      flexID         `json:"roomId"`
	Rate        *float64       `json:"rate"`
	HistorySize *int           `json:"historySize"`
	EndAfter    *int           `json:"endAfter"`
	Seed        *int64         `json:"seed"`
	Loop        *bool          `json:"loop"`
	Capture     []capture.Line `json:"capture"`
}

// ctlPutUser configures a user; absent stream fields take the server's default stream.
func (s *Server) ctlPutUser(w http.ResponseWriter, req *http.Request) {
	var b userBody
	if !decodeBody(w, req, &b) {
		return
	}
	c := UserConfig{Kind: KindLive, RoomID: int64(b.RoomID), Stream: s.dflt}
	if b.Kind != nil {
		c.Kind = *b.Kind
	}
	if b.Rate != nil {
		c.Stream.Rate = *b.Rate
	}
	if b.HistorySize != nil {
		c.Stream.HistorySize = *b.HistorySize
	}
	if b.EndAfter != nil {
		c.Stream.EndAfter = *b.EndAfter
	}
	if b.Seed != nil {
		c.Stream.Seed = *b.Seed
	}
	if b.Loop != nil {
		c.Stream.Loop = *b.Loop
	}
	if b.Capture != nil {
		c.Stream.Capture = b.Capture
	}
	var problem string
	switch {
	case !c.Kind.valid():
		problem = fmt.Sprintf("kind %q is not one of live, offline, notfound, restricted, blocked", c.Kind)
	case c.Stream.Rate < 0 || math.IsNaN(c.Stream.Rate) || math.IsInf(c.Stream.Rate, 0):
		problem = "rate must be a number >= 0"
	case c.Stream.HistorySize < -1:
		problem = "historySize must be >= -1"
	case c.Stream.EndAfter < 0:
		problem = "endAfter must be >= 0"
	}
	if problem != "" {
		ctlError(w, http.StatusBadRequest, "bad_request", problem)
		return
	}
	name := req.PathValue("name")
	s.SetUser(name, c)
	s.ctlGetUser(w, req)
}

func (s *Server) ctlGetUser(w http.ResponseWriter, req *http.Request) {
	sn := s.room(req.PathValue("name")).snapshot()
	writeJSON(w, http.StatusOK, obj{"name": sn.name, "roomId": idStr(sn.id), "kind": sn.kind, "live": sn.live})
}

func (s *Server) ctlLive(w http.ResponseWriter, req *http.Request) {
	var b struct {
		Live *bool `json:"live"`
	}
	if !decodeBody(w, req, &b) {
		return
	}
	if b.Live == nil {
		ctlError(w, http.StatusBadRequest, "bad_request", `"live" (true or false) is required`)
		return
	}
	s.SetLive(req.PathValue("name"), *b.Live)
	s.ctlGetUser(w, req)
}

func (s *Server) ctlFault(w http.ResponseWriter, req *http.Request) {
	var b struct {
		Kind          FaultKind `json:"kind"`
		Times         int       `json:"times"`
		RetryAfterMs  int64     `json:"retryAfterMs"`
		AfterMessages int       `json:"afterMessages"`
		Message       string    `json:"message"`
	}
	if !decodeBody(w, req, &b) {
		return
	}
	var problem string
	switch {
	case !b.Kind.Valid():
		problem = fmt.Sprintf("unknown fault kind %q", b.Kind)
	case b.Times < -1:
		problem = "times must be >= -1"
	case b.RetryAfterMs < 0:
		problem = "retryAfterMs must be >= 0"
	case b.AfterMessages < 0:
		problem = "afterMessages must be >= 0"
	}
	if problem != "" {
		ctlError(w, http.StatusBadRequest, "bad_request", problem)
		return
	}
	s.AddFault(req.PathValue("name"), Fault{
		Kind: b.Kind, Times: b.Times, RetryAfter: time.Duration(b.RetryAfterMs) * time.Millisecond,
		AfterMessages: b.AfterMessages, Message: b.Message,
	})
	writeJSON(w, http.StatusOK, obj{"queued": b.Kind})
}

func (s *Server) ctlInject(w http.ResponseWriter, req *http.Request) {
	var b struct {
		Method  string `json:"method"`
		Payload string `json:"payload"`
		MsgID   flexID `json:"msgId"`
	}
	if !decodeBody(w, req, &b) {
		return
	}
	if b.Method == "" {
		ctlError(w, http.StatusBadRequest, "bad_request", `"method" is required`)
		return
	}
	payload, err := base64.StdEncoding.DecodeString(b.Payload)
	if err != nil {
		payload, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(b.Payload, "="))
	}
	if err != nil {
		ctlError(w, http.StatusBadRequest, "bad_request", `"payload" must be base64: `+err.Error())
		return
	}
	id := s.InjectRaw(req.PathValue("name"), b.Method, payload, int64(b.MsgID))
	writeJSON(w, http.StatusOK, obj{"msgId": idStr(id)})
}

func (s *Server) ctlRecord(w http.ResponseWriter, req *http.Request) {
	writeJSON(w, http.StatusOK, recordJSON(s.Record(req.PathValue("name"))))
}

func (s *Server) ctlEmitted(w http.ResponseWriter, req *http.Request) {
	em := s.Emitted(req.PathValue("name"))
	out := make([]obj, len(em))
	for i, e := range em {
		out[i] = obj{"msgId": idStr(e.MsgID), "method": e.Method}
	}
	writeJSON(w, http.StatusOK, out)
}

func idStrs(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = idStr(id)
	}
	return out
}

// recordJSON is the control API's view of a Record.
func recordJSON(rec Record) obj {
	signs := make([]obj, len(rec.SignCalls))
	for i, c := range rec.SignCalls {
		signs[i] = obj{"path": c.Path, "query": c.Query, "header": c.Header, "status": c.Status}
	}
	socks := make([]obj, len(rec.Sockets))
	for i, sr := range rec.Sockets {
		enter := make([]obj, len(sr.EnterRoom))
		for j, e := range sr.EnterRoom {
			enter[j] = obj{
				"roomId": idStr(e.GetRoomId()), "liveId": e.GetLiveId(), "identity": e.GetIdentity(), "cursor": e.GetCursor(),
				"enterUniqueId": idStr(e.GetEnterUniqueId()), "filterWelcomeMsg": e.GetFilterWelcomeMsg(),
			}
		}
		hbs := make([]obj, len(sr.Heartbeats))
		for j, h := range sr.Heartbeats {
			hbs[j] = obj{"roomId": strconv.FormatUint(h.RoomID, 10), "seqId": h.SeqID, "at": h.At.UTC().Format(time.RFC3339Nano)}
		}
		acks := make([]obj, len(sr.Acks))
		for j, a := range sr.Acks {
			acks[j] = obj{"logId": idStr(a.LogID), "internalExt": a.InternalExt}
		}
		socks[i] = obj{
			"query": sr.Query, "header": sr.Header, "refused": sr.Refused, "enterRoom": enter, "heartbeats": hbs,
			"acks": acks, "sentLogIds": idStrs(sr.SentLogIDs), "sentInternalExt": sr.SentInternalExt, "closed": sr.Closed,
		}
	}
	return obj{"signCalls": signs, "sockets": socks}
}
