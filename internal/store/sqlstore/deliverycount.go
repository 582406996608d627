package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CountDeliveries counts the deliveries of kind queued at or after since:
// in all, those of listID, and those to rcpt (on any list). It is what
// rate limits count, so it reads only the deliveries queued since then:
// its cost follows the recent traffic, not the size of the table (which
// has no index on kind or time).
func (s *DB) CountDeliveries(ctx context.Context, kind string, listID int64, rcpt string, since time.Time) (total, onList, toRcpt int, err error) {
	first, err := s.firstDeliverySince(ctx, since)
	if err != nil {
		return 0, 0, 0, err
	}
	// kind, list_id and rcpt precede data in the row, so rows of other
	// kinds are skipped without reading their messages.
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN list_id = $3 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN rcpt = $4 THEN 1 ELSE 0 END), 0)
		FROM deliveries WHERE id >= $1 AND kind = $2 AND created_at >= $5`,
		first, kind, listID, rcpt, millis(since)).Scan(&total, &onList, &toRcpt)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("sqlstore: count deliveries: %w", err)
	}
	return total, onList, toRcpt, nil
}

// firstDeliverySince returns the lowest id of a delivery queued at or
// after t (past the last id when there is none), by binary search over
// the ids: deliveries get growing ids as they are committed, with the
// committing process's clock, so created_at grows with id up to the skew
// between clocks. Each step reads one row.
func (s *DB) firstDeliverySince(ctx context.Context, t time.Time) (int64, error) {
	var lo, hi int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) + 1 FROM deliveries`).Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("sqlstore: count deliveries: %w", err)
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		var id, at int64
		err := s.db.QueryRowContext(ctx, `SELECT id, created_at FROM deliveries WHERE id >= $1 ORDER BY id LIMIT 1`, mid).Scan(&id, &at)
		switch {
		case errors.Is(err, sql.ErrNoRows): // removed meanwhile
			hi = mid
		case err != nil:
			return 0, fmt.Errorf("sqlstore: count deliveries: %w", err)
		case at >= millis(t):
			hi = mid // no id lies between mid and id
		default:
			lo = id + 1
		}
	}
	return lo, nil
}
