package registry

import (
	"unicode"
	"unicode/utf8"
)

// MaxActorRunes bounds an actor name (who makes a change: the API's X-Actor header, the
// CLI's -actor flag), in characters.
const MaxActorRunes = 100

// errInvalidActor is CheckActor's error.
var errInvalidActor = Errorf(Invalid, CodeInvalidActor,
	"an actor name must be at most %d characters of UTF-8 text without control characters", MaxActorRunes)

// CheckActor accepts an actor name of at most MaxActorRunes characters of UTF-8 text without
// control characters; "" is accepted. The Service's writes apply it; the API applies it to
// the X-Actor header of every request. Errors are Invalid, code invalid_actor.
func CheckActor(a string) error {
	if !utf8.ValidString(a) || utf8.RuneCountInString(a) > MaxActorRunes {
		return errInvalidActor
	}
	for _, r := range a {
		if unicode.IsControl(r) {
			return errInvalidActor
		}
	}
	return nil
}
