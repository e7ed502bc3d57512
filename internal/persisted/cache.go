package persisted

import (
	"container/list"
	"sync"
)

// Cache remembers the documents clients registered through Automatic
// Persisted Queries, least recently used first out. It is bounded by the
// bytes of text it holds rather than by a count: anyone may register
// documents, and a count of large ones would take the heap the server is
// tuned to stay within. Losing an entry costs the client one round trip (it
// is told PERSISTED_QUERY_NOT_FOUND and sends the text again).
type Cache struct {
	maxBytes, maxDoc int

	mu    sync.Mutex
	bytes int
	order *list.List // of *cached, most recently used in front
	byKey map[string]*list.Element
}

type cached struct{ hash, text string }

// NewCache returns a cache holding up to maxBytes of document text, each
// document at most maxDoc bytes (larger ones are not kept).
func NewCache(maxBytes, maxDoc int) *Cache {
	return &Cache{maxBytes: maxBytes, maxDoc: min(maxDoc, maxBytes), order: list.New(), byKey: map[string]*list.Element{}}
}

// Get returns the document registered under hash.
func (c *Cache) Get(hash string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[hash]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cached).text, true
}

// Add registers text under hash, which the caller has checked is its hash,
// and reports whether it was kept.
func (c *Cache) Add(hash, text string) bool {
	size := len(hash) + len(text)
	if size > c.maxDoc {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[hash]; ok {
		c.order.MoveToFront(el)
		return true
	}
	for c.bytes+size > c.maxBytes {
		oldest := c.order.Back()
		old := c.order.Remove(oldest).(*cached)
		delete(c.byKey, old.hash)
		c.bytes -= len(old.hash) + len(old.text)
	}
	c.byKey[hash] = c.order.PushFront(&cached{hash: hash, text: text})
	c.bytes += size
	return true
}

// Len returns how many documents the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
