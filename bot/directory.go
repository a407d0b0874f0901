package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// Directory resolves Slack user groups to their members, caching each
// group for a while so approval clicks stay fast. If Slack fails, a group
// seen in the last hour is answered from the cache.
type Directory struct {
	api *slack.Client
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	groups map[string]cachedGroup
}

// maxStale bounds how old a cached group may be when Slack cannot answer.
const maxStale = time.Hour

type cachedGroup struct {
	members []string
	at      time.Time
}

// NewDirectory returns a Directory that refreshes a group after ttl.
func NewDirectory(api *slack.Client, ttl time.Duration, now func() time.Time) *Directory {
	if now == nil {
		now = time.Now
	}
	return &Directory{api: api, ttl: ttl, now: now, groups: map[string]cachedGroup{}}
}

// GroupMembers returns the user IDs in a user group.
func (d *Directory) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	d.mu.Lock()
	c, ok := d.groups[groupID]
	d.mu.Unlock()
	if ok && d.now().Sub(c.at) < d.ttl {
		return c.members, nil
	}
	members, err := d.api.GetUserGroupMembersContext(ctx, groupID)
	if err != nil {
		if ok && d.now().Sub(c.at) < maxStale {
			return c.members, nil
		}
		return nil, fmt.Errorf("members of user group %s: %w", groupID, err)
	}
	d.mu.Lock()
	d.groups[groupID] = cachedGroup{members: members, at: d.now()}
	d.mu.Unlock()
	return members, nil
}
