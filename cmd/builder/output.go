package main

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/buildcrew/builder/pkg/push"
)

// applyOutputs puts buildx's --output specs in the push options:
// type=image|registry,name=REF[,push=true], type=oci|docker|tar,dest=FILE
// (- for stdout), type=local,dest=DIR; a bare PATH is type=local and a
// bare - a tar on stdout, as buildx reads them. It tells whether any
// output pushes.
func (f *buildFlags) applyOutputs(po *push.Options) (pushes bool, err error) {
	for _, spec := range f.outputs {
		attrs, err := parseOutput(spec)
		if err != nil {
			return false, fmt.Errorf("--output %s: %w", spec, err)
		}
		typ, dest := attrs["type"], attrs["dest"]
		delete(attrs, "type")
		delete(attrs, "dest")
		set := func(field *string) error {
			if dest == "" {
				return fmt.Errorf("--output %s: type=%s needs dest=", spec, typ)
			}
			if *field != "" && *field != dest {
				return fmt.Errorf("--output %s: a second %s output (the first writes %s)", spec, typ, *field)
			}
			*field = dest
			return nil
		}
		switch typ {
		case "image", "registry":
			names := attrs["name"]
			delete(attrs, "name")
			p := typ == "registry"
			if v, ok := attrs["push"]; ok {
				if p, err = strconv.ParseBool(v); err != nil {
					return false, fmt.Errorf("--output %s: push=%s: want true or false", spec, v)
				}
				delete(attrs, "push")
			}
			if names == "" {
				return false, fmt.Errorf("--output %s: type=%s needs name=", spec, typ)
			}
			if !p {
				return false, fmt.Errorf("--output %s: an image that is not pushed goes nowhere here (there is no image store): add push=true, or write it with type=oci or type=docker", spec)
			}
			f.destinations = append(f.destinations, strings.Split(names, ",")...)
			pushes = true
		case "oci":
			err = set(&po.OCIArchivePath)
		case "docker":
			err = set(&po.TarPath)
		case "tar":
			err = set(&po.FilesystemTarPath)
		case "local":
			if dest == "-" {
				return false, fmt.Errorf("--output %s: type=local writes a directory, not stdout (type=tar does)", spec)
			}
			err = set(&po.FilesystemDir)
		default:
			return false, fmt.Errorf("--output %s: unknown type %q: use image, registry, oci, docker, tar or local", spec, typ)
		}
		if err != nil {
			return false, err
		}
		for k := range attrs {
			return false, fmt.Errorf("--output %s: %s= is not supported for type=%s", spec, k, typ)
		}
	}
	return pushes, nil
}

// parseOutput reads one --output value into its attributes.
func parseOutput(spec string) (map[string]string, error) {
	if !strings.Contains(spec, "=") {
		if spec == "-" {
			return map[string]string{"type": "tar", "dest": "-"}, nil
		}
		return map[string]string{"type": "local", "dest": spec}, nil
	}
	fields, err := csv.NewReader(strings.NewReader(spec)).Read()
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{}
	for _, field := range fields {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not KEY=VALUE", field)
		}
		attrs[strings.ToLower(strings.TrimSpace(k))] = v
	}
	if attrs["type"] == "" {
		return nil, fmt.Errorf("no type= given")
	}
	return attrs, nil
}
