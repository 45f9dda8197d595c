package webcast

import (
	"errors"
	"testing"
)

func TestParseLivePage(t *testing.T) {
	const pre = `<html><head></head><body><script id="SIGI_STATE" type="application/json">`
	const post = `</script></body></html>`
	tests := []struct {
		name     string
		page     string
		wantRoom string
		wantLive bool
		wantErr  error
	}{
		{"live, new layout", pre + `{"LiveRoom":{"liveRoomUserInfo":{"user":{"roomId":"7400000000000000001","status":2}}}}` + post, "7400000000000000001", true, nil},
		{"live, 2.0.7 layout", pre + `{"LiveRoom":{"liveRoomUserInfo":{"liveRoom":{"roomId":"7400000000000000002","status":2}}}}` + post, "7400000000000000002", true, nil},
		{"numeric id", pre + `{"LiveRoom":{"liveRoomUserInfo":{"user":{"roomId":7400000000000000003}}}}` + post, "7400000000000000003", true, nil},
		{"offline", pre + `{"LiveRoom":{"liveRoomUserInfo":{"user":{"roomId":"7400000000000000004"},"liveRoom":{"status":4}}}}` + post, "7400000000000000004", false, nil},
		{"no LiveRoom", pre + `{"UserModule":{}}` + post, "", false, ErrUserNotFound},
		{"zero room id", pre + `{"LiveRoom":{"liveRoomUserInfo":{"user":{"roomId":"0"}}}}` + post, "", false, ErrUserNotFound},
		{"captcha page", `<html><body>Please verify you are human</body></html>`, "", false, ErrBlocked},
		{"broken JSON", pre + `{"LiveRoom":` + post, "", false, ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := ParseLivePage("alice", []byte(tt.page))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.RoomID != tt.wantRoom || info.Live != tt.wantLive || info.Source != "html" {
				t.Errorf("got %+v, want room %s live %v", info, tt.wantRoom, tt.wantLive)
			}
		})
	}
}

func FuzzParseLivePage(f *testing.F) {
	f.Add([]byte(`<script id="SIGI_STATE" type="application/json">{"LiveRoom":{"liveRoomUserInfo":{"user":{"roomId":"1","status":2}}}}</script>`))
	f.Add([]byte(`<script id="SIGI_STATE" type="application/json">{"LiveRoom":null}</script>`))
	f.Add([]byte(`<script id="SIGI_STATE" type="application/json">{"LiveRoom":{"liveRoomUserInfo":{"liveRoom":{"roomId":18446744073709551615,"status":4}}}}</script>`))
	f.Add([]byte(`<html>captcha</html>`))
	f.Fuzz(func(t *testing.T, page []byte) {
		info, err := ParseLivePage("fuzz", page)
		if err == nil && info.RoomID == "" {
			t.Fatalf("no error but no room id: %+v", info)
		}
		if err != nil && KindOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
	})
}
