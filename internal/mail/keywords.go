package mail

import (
	"strings"
)

// Keyword is one command line of a request mail, in Schleuder's form
// "X-NAME: ARG ARG": Name is upper case without the "X-".
type Keyword struct {
	Name string
	Args []string
}

// maxKeywords bounds the keywords read from one message.
const maxKeywords = 100

// ParseKeywords reads the keyword lines at the top of a request's text:
// "X-NAME: arguments" or "X-NAME:" (the name in any case), with blank
// lines between them skipped. Reading stops at the first other line;
// rest is the text from there on. A line that looks like a keyword past
// the limit ends the keywords too.
func ParseKeywords(text string) (kws []Keyword, rest string) {
	text = strings.TrimPrefix(text, "\ufeff")
	for len(text) > 0 {
		line, after, _ := strings.Cut(text, "\n")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			text = after
			continue
		}
		name, args, ok := strings.Cut(trimmed, ":")
		if !ok || len(name) < 3 || !strings.EqualFold(name[:2], "X-") || strings.ContainsAny(name, " \t") || len(kws) == maxKeywords {
			break
		}
		kws = append(kws, Keyword{Name: strings.ToUpper(name[2:]), Args: strings.Fields(args)})
		text = after
	}
	return kws, text
}
