// Package fakeslack is an in-process stand-in for Slack, used by gatepass's
// end-to-end tests and by the local playground.
//
// A [Server] plays both sides of Slack:
//
//   - Towards the bot it serves the Slack Web API under /api/{method}
//     (chat.postMessage, chat.update, chat.postEphemeral, chat.delete,
//     conversations.open, usergroups.users.list, users.info, views.open,
//     auth.test and apps.connections.open), keeps the resulting channel state
//     in memory and records every call. Point slack-go at it with
//     slack.OptionAPIURL(base + "/api/").
//   - Towards the app it acts as the Slack platform: it sends signed slash
//     commands, block_actions interactions and Events API bodies to the app's
//     HTTP endpoints (/slack/commands, /slack/interactions, /slack/events
//     under the URL given to [Server.SetAppURL]) or, with [TransportSocket],
//     delivers the same payloads as Socket Mode envelopes over the WebSocket
//     served at /socket, and waits for the app's acknowledgement.
//
// Response URLs handed to the app (response_url in commands and
// interactions) point at /response/{id} on the same server; what the app posts
// there becomes ephemeral or in-channel messages, or replaces or deletes the
// message a button was clicked on, as Slack would do.
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
