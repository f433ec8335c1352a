-- wrk script of messages-accept: every request is one text message,
-- POST {"to","text"} (the URL and X-API-Key come from the command line)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"to":"+15550001234","text":"bench message: accepted, stored pending, answered 202"}'
