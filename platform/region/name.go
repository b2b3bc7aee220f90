package region

// Name returns the name of the region with code, or "" when the tree has none.
func (t *Tree) Name(code string) string {
	n, _ := t.Get(code)
	return n.Name
}
