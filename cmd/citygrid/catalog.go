package main

import (
	"flag"
	"fmt"
	"os"

	"citygrid/registry"
)

const envClasses = "CITYGRID_CLASSES"

// catalogFlag is -classes FILE: the city's local extension classes (a JSON array, see
// registry.LoadLocalClasses), added to the national tables at start, without a rebuild.
type catalogFlag struct{ Path string }

func (c *catalogFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Path, "classes", os.Getenv(envClasses),
		"JSON file of the city's local extension classes, added to the national catalogue ($"+envClasses+")")
}

// load returns the national catalogue plus the local classes of c.Path, if any.
func (c *catalogFlag) load() (*registry.Catalog, error) {
	cat := registry.DefaultCatalog()
	if c.Path == "" {
		return cat, nil
	}
	f, err := os.Open(c.Path)
	if err != nil {
		return nil, fmt.Errorf("local classes: %w", err)
	}
	defer f.Close()
	classes, err := registry.LoadLocalClasses(f)
	if err != nil {
		return nil, fmt.Errorf("local classes %s: %w", c.Path, err)
	}
	for _, cl := range classes {
		if err := cat.AddLocal(cl); err != nil {
			return nil, fmt.Errorf("local classes %s: class %s: %w", c.Path, cl.Code, err)
		}
	}
	return cat, nil
}
