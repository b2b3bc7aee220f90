package limits

// BucketCount is the number of call buckets l keeps.
func BucketCount(l *Limiter) int { return l.calls.cache.Len() }
