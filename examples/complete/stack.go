// A stack with a hole to fill: `moecoder complete examples/complete/stack.go --line 17 --column 2`.
package stack

// Stack is a last-in, first-out list of ints.
type Stack struct {
	items []int
}

// Push puts v on top.
func (s *Stack) Push(v int) {
	s.items = append(s.items, v)
}

// Pop takes the top value off; ok is false when the stack is empty.
func (s *Stack) Pop() (v int, ok bool) {
	if len(s.items) == 0 {
	
	}
	v = s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	return v, true
}
