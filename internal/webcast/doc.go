// Package webcast speaks TikTok's LIVE ("webcast") protocol, the leftmost step of the data flow:
//
//	Resolve   user → room id and live status (the /@user/live page's SIGI_STATE, then api-live, then room info)
//	Signer    room → signed push-socket URL, cookies and a first batch of recent messages (EulerSigner)
//	Connect   open the socket, enter the room, heartbeat, ack every frame that asks for it
//	Run       decode every frame and deliver each message once, typed (*pb.ChatMessage, ...) or raw
//	ToEvent   message → its contract event (internal/event); DecodeLine does the same for a capture line
//
// Every error is an *Error whose Kind the caller branches on (errors.Is(err, webcast.ErrOffline)).
// Errors never carry the sign API key or cookies. Every base URL is configurable, so the same code
// runs against TikTok and against internal/faketiktok.
package webcast
