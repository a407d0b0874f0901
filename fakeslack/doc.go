// Package fakeslack is an in-process stand-in for Slack, used by gatepass's
// end-to-end tests and by the local playground.
//
// A [Server] plays both sides of Slack:
//
//   - Towards the bot it serves the Slack Web API under /api/{method}
//     (chat.postMessage, chat.update, chat.postEphemeral, chat.delete,
//     conversations.open, usergroups.users.list, users.info, views.open,
//     views.push, views.update, views.publish, auth.test and
//     apps.connections.open), keeps the resulting channel and view state in
//     memory and records every call. Point slack-go at it with
//     slack.OptionAPIURL(base + "/api/").
//   - Towards the app it acts as the Slack platform: it sends signed slash
//     commands, interactions (block_actions, view_submission, view_closed)
//     and Events API bodies to the app's HTTP endpoints (/slack/commands,
//     /slack/interactions, /slack/events under the URL given to
//     [Server.SetAppURL]) or, with [TransportSocket], delivers the same
//     payloads as Socket Mode envelopes over the WebSocket served at /socket,
//     and waits for the app's acknowledgement.
//
// Response URLs handed to the app (response_url in commands and
// interactions) point at /response/{id} on the same server; what the app posts
// there becomes ephemeral or in-channel messages, or replaces or deletes the
// message a button was clicked on (or the answer shown for a slash command),
// as Slack would do. As in Slack, a response_url works 5 times within 30
// minutes (Options.ResponseURLMaxUses, Options.ResponseURLTTL); then it
// answers 404 used_url or expired_url.
//
// # Driving the app
//
// [Server.SlashCommand], [Server.Click] and [Server.ClickButton] act on
// messages; [Server.SubmitView], [Server.SelectInView], [Server.ClickInView]
// and [Server.CloseView] act on views; [Server.SendEvent],
// [Server.SendEventRetry], [Server.EventCallback], [Server.AppHomeOpened]
// and [Server.URLVerification] deliver Events API bodies. Each returns the
// app's [Reply]. [Server.LastSigned] and [Server.Replay] resend a signed
// HTTP request byte for byte, to test that the app ignores replays.
//
// # Messages and threads
//
// [Server.Messages] (and [Server.DM]) list a conversation's top-level
// messages as Slack's channel history does; replies posted with thread_ts
// are listed by [Server.Thread] instead, unless posted with reply_broadcast.
// Message metadata sent with chat.postMessage or chat.update is kept in
// [Message].Metadata.
//
// # Views
//
// Every slash command and interaction the driver sends carries a trigger_id
// (in [Reply].TriggerID; [Server.NewTriggerID] hands one out directly).
// views.open and views.push accept a trigger_id once and within
// Options.TriggerTTL (30 seconds; Slack allows 3), answering
// exchanged_trigger_id or expired_trigger_id otherwise; trigger IDs the
// server never handed out are accepted unless Options.StrictTriggers is
// set. A modal opens for the user the trigger_id was handed to. The
// server keeps each user's modal stack (up to [MaxViewStack] views) and Home
// tab: [Server.OpenViews], [Server.View] and [Server.HomeView] return them
// as [View] values that reflect views.update, views.publish and the app's
// response_action answers to submissions. [ViewButtons] and [ViewText] read
// a view's blocks like [Buttons] and [PlainText] read a message's.
//
// # Rate limits and failures
//
// [Server.SetChannelRateLimit] and [Server.SetMethodRateLimit] make the Web
// API answer 429 with Retry-After like Slack; [Server.FailNext] fails
// chosen calls and [Server.SetLatency] slows all of them. Every call is
// recorded with its HTTP status ([Server.Calls]).
//
// # Mounting
//
// Server implements [http.Handler] and never hard-codes its own address. URLs
// it hands out (the Socket Mode WebSocket URL, response URLs) are built from
// [Options.PublicURL] or [Server.SetPublicURL] when set, otherwise from the
// scheme and Host of incoming Web API requests. When the server is mounted
// under a path prefix, for example with http.StripPrefix("/slack", s), the
// prefix is invisible to it, so a public URL that includes the prefix must be
// configured:
//
//	s := fakeslack.New(fakeslack.Options{PublicURL: "http://127.0.0.1:8080/slack"})
//	mux.Handle("/slack/", http.StripPrefix("/slack", s))
//
// With httptest, call SetPublicURL once the listener's URL is known:
//
//	s := fakeslack.New(fakeslack.Options{})
//	srv := httptest.NewServer(s)
//	s.SetPublicURL(srv.URL)
//
// # Concurrency
//
// All methods are safe for concurrent use. Values returned by query methods
// are copies; modifying them does not affect the server.
package fakeslack
