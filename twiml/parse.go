package twiml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Node is a parsed TwiML element, for tests and the `pager` client command.
type Node struct {
	Name  string
	Attr  map[string]string
	Text  string
	Child []Node
}

// Parse reads a TwiML document back into nodes (the children of <Response>).
func Parse(doc string) ([]Node, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	var stack []*Node
	root := &Node{}
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("twiml: parse: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := Node{Name: t.Name.Local, Attr: map[string]string{}}
			for _, a := range t.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			stack = append(stack, &n)
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			}
		case xml.EndElement:
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n.Text = strings.TrimSpace(n.Text)
			if len(stack) == 0 {
				root.Child = append(root.Child, *n)
			} else {
				p := stack[len(stack)-1]
				p.Child = append(p.Child, *n)
			}
		}
	}
	if len(root.Child) != 1 || root.Child[0].Name != "Response" {
		return nil, fmt.Errorf("twiml: parse: document has no <Response> root")
	}
	return root.Child[0].Child, nil
}

// Messages returns the bodies of the <Message> verbs of a messaging reply.
func Messages(doc string) ([]string, error) {
	nodes, err := Parse(doc)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nodes {
		if n.Name == "Message" {
			body := n.Text
			for _, c := range n.Child {
				if c.Name == "Body" {
					body = c.Text
				}
			}
			out = append(out, body)
		}
	}
	return out, nil
}

// Find returns the first node with the given name at any depth.
func Find(nodes []Node, name string) (Node, bool) {
	for _, n := range nodes {
		if n.Name == name {
			return n, true
		}
		if c, ok := Find(n.Child, name); ok {
			return c, true
		}
	}
	return Node{}, false
}
