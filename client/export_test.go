package client

// Waiters is how many calls wait for the request in flight for token.
func (c *Client) Waiters(token string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flights[hashToken(token)]; f != nil {
		return f.waiters
	}
	return 0
}

// CacheLen is how many answers the cache holds.
func (c *Client) CacheLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	c.entries.Range(func(any, any) bool { n++; return true })
	if n != len(c.order) {
		panic("the cache and its order disagree")
	}
	return n
}

// Holds reports whether the cache holds an answer for token, fresh or not.
func (c *Client) Holds(token string) bool {
	_, ok := c.entries.Load(hashToken(token))
	return ok
}
