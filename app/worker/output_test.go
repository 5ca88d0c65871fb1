package worker

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestOutputKeepsTheTail(t *testing.T) {
	o := newOutput(10)
	fmt.Fprint(o, "hello ")
	require.Equal(t, "hello ", o.take())
	require.Empty(t, o.take(), "take empties the buffer")

	for i := range 100 {
		fmt.Fprintf(o, "%d,", i)
	}
	require.Equal(t, ",97,98,99,", o.take())

	n, err := o.Write([]byte(strings.Repeat("x", 100) + "0123456789"))
	require.NoError(t, err)
	require.Equal(t, 110, n)
	require.Equal(t, "0123456789", o.take())
}

func TestOutputCutsAtACharacterBoundary(t *testing.T) {
	o := newOutput(10)
	fmt.Fprint(o, strings.Repeat("€", 20)) // 3 bytes each
	s := o.take()
	require.True(t, utf8.ValidString(s), "%q", s)
	require.Equal(t, "€€€", s)
}

func TestOutputUnreadAndClose(t *testing.T) {
	o := newOutput(8)
	fmt.Fprint(o, "abcd")
	chunk := o.take()
	fmt.Fprint(o, "efgh")
	o.unread(chunk) // the flush failed: it goes back before the newer output
	require.Equal(t, "abcdefgh", o.take())

	fmt.Fprint(o, "1234")
	o.unread("zzzzzzzz")
	require.Equal(t, "zzzz1234", o.take(), "still bounded")

	fmt.Fprint(o, "last")
	require.Equal(t, "last", o.close())
	n, err := fmt.Fprint(o, "dropped")
	require.NoError(t, err, "writes after close never fail")
	require.Equal(t, 7, n)
	require.Empty(t, o.take())
}

func TestOutputConcurrentWrites(t *testing.T) {
	o := newOutput(1 << 10)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 1000 {
				fmt.Fprintf(o, "%d", i)
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			o.take()
		}
	})
	wg.Wait()
	require.LessOrEqual(t, len(o.take()), 1<<10)
}

func TestShortStack(t *testing.T) {
	stack := "goroutine 7 [running]:\nruntime/debug.Stack()\n\t/x/stack.go:26\npanic({0x1, 0x2})\n\t/x/panic.go:860\nmain.handler()\n\t/x/main.go:10\n"
	require.Equal(t, "goroutine 7 [running]:\nmain.handler()\n\t/x/main.go:10\n", shortStack([]byte(stack)))
	long := "goroutine 1 [running]:\n" + strings.Repeat("f()\n", 5000)
	require.Len(t, shortStack([]byte(long)), maxStack+len("\n..."))
}
