package enricher

import (
	"errors"

	"github.com/socialsync/socialsync/pkg/relations/revision"
)

// maxWriteAttempts bounds the read-modify-write rounds on one key that
// lose the race to other replicas.
const maxWriteAttempts = 8

func isConflict(err error) bool { return errors.Is(err, revision.ErrConflict) }
