// Package workflow is gatepass's core: access requests, approvals, grants
// and their lifecycle, and the policy that rules them.
//
// A request is born pending (or, for break-glass, already active). Approvers
// decide; when a level's number of distinct approvals is reached the request
// becomes an active grant with an expiry, and its token is minted and sent to
// the requester. Grants end by expiry or revocation; pending requests end by
// denial, withdrawal or timeout.
//
// Every state change is one atomic Store.Update that also appends audit
// events and queues notices (an outbox). Notices are handed to a Notifier
// after the change commits, with retries, so a chat outage never blocks or
// loses a state change, and a restart resumes where the last run stopped.
//
// The package knows neither Slack nor the database: it declares the small
// interfaces it needs (Store, Notifier, Directory, Clock) and adapters
// implement them. Time comes only from the Clock.
package workflow
