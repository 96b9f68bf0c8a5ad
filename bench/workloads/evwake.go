// 6c. for Go (GOMAXPROCS=1): N goroutines blocked on one channel; close(ch)
// wakes them all; time until the WaitGroup of wake-ups reaches zero.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	runtime.GOMAXPROCS(1)
	N := 100000
	if len(os.Args) > 1 {
		N, _ = strconv.Atoi(os.Args[1])
	}
	ch := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(N)
	done.Add(N)
	for i := 0; i < N; i++ {
		go func() { started.Done(); <-ch; done.Done() }()
	}
	started.Wait()
	runtime.Gosched()
	t0 := time.Now()
	close(ch)
	done.Wait()
	t := time.Since(t0)
	fmt.Printf("RESULT ns_per_wakeup %.6g ns\n", float64(t.Nanoseconds())/float64(N))
	fmt.Printf("RESULT total_ms %.6g ms\n", float64(t.Nanoseconds())/1e6)
}
