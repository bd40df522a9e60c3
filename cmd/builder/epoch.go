package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// sourceDateEpoch reads SOURCE_DATE_EPOCH as buildx does: the build arg,
// else the environment (then passed on as the build arg, so that an ARG
// SOURCE_DATE_EPOCH sees it). nil when neither is set.
func sourceDateEpoch(args map[string]string) (*time.Time, error) {
	v, ok := args["SOURCE_DATE_EPOCH"]
	if !ok {
		if v = os.Getenv("SOURCE_DATE_EPOCH"); v == "" {
			return nil, nil
		}
		args["SOURCE_DATE_EPOCH"] = v
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970-01-01", v)
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}
