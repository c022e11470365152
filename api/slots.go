package api

// slots is a counting semaphore that refuses rather than waits: the census queue's places and
// the exports running on a node. Its capacity is the number of places.
type slots chan struct{}

// tryTake takes a place and returns the function that gives it back, or busy when every
// place is taken.
func (s slots) tryTake(busy error) (release func(), err error) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	default:
		return nil, busy
	}
}
