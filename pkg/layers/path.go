package layers

import "path"

// cleanAbs cleans p as if it were rooted, so ".." can never climb above "/".
func cleanAbs(p string) string {
	return path.Clean("/" + p)
}
